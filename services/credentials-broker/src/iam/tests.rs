//! The IAM store against a real (embedded) log: what identity pools and the listings
//! read back after writes.

use std::sync::Arc;

use portcullis_aggregate::{AggregateStore, CommandMeta};
use portcullis_errors::ErrorCode;
use portcullis_eventlog::embedded::EmbeddedStore;
use portcullis_types::SystemClock;

use super::{RoleInput, Roles};
use crate::app::RoleDirectory;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

async fn roles(dir: &tempfile::TempDir) -> Roles {
    let log = EmbeddedStore::open(&dir.path().join("log.redb"))
        .await
        .unwrap();
    Roles::new(AggregateStore::new(Arc::new(log), Arc::new(SystemClock)))
}

/// A fresh command id each time: the log takes a repeated one for a retry.
fn meta() -> CommandMeta {
    CommandMeta::new(portcullis_proto::events::v1::Actor::default(), "test")
}

fn input(name: &str, path: &str) -> RoleInput {
    RoleInput {
        name: name.into(),
        path: Some(path.into()),
        trust_policy: TRUST.into(),
        ..RoleInput::default()
    }
}

#[tokio::test]
async fn roles_are_found_by_exact_arn_with_their_policies() {
    let dir = tempfile::tempdir().unwrap();
    let roles = roles(&dir).await;
    let role = roles
        .create_role(input("Reader", "/app/"), &meta())
        .await
        .unwrap();
    roles
        .put_role_policy("reader", "read", READ.into(), &meta())
        .await
        .unwrap();
    let def = roles.get_by_arn(&role.arn).await.unwrap().unwrap();
    assert_eq!(def.name, "Reader");
    assert_eq!(def.policies, [("read".to_owned(), READ.to_owned())]);
    assert_eq!(def.max_session_duration, 3600);
    let info = RoleDirectory::role(&roles, &role.arn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.policies, [("read".to_owned(), READ.to_owned())]);
    assert_eq!(info.role_id, role.role_id);
    // Another path, another case, or another account is another role.
    for arn in [
        "arn:aws:iam::000000000000:role/Reader",
        "arn:aws:iam::000000000000:role/app/reader",
        "arn:aws:iam::111111111111:role/app/Reader",
        "not an arn",
    ] {
        assert!(roles.get_by_arn(arn).await.unwrap().is_none(), "{arn}");
    }
}

#[tokio::test]
async fn listings_see_every_write_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let roles = roles(&dir).await;
    for name in ["b", "A", "c"] {
        roles.create_role(input(name, "/"), &meta()).await.unwrap();
        let listed = roles.list_roles(None, None, None).await.unwrap();
        assert!(listed.items.iter().any(|r| r.name == name));
    }
    let first = roles.list_roles(Some("/"), None, Some(2)).await.unwrap();
    let names: Vec<_> = first.items.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["A", "b"]);
    roles.delete_role("b", &meta()).await.unwrap();
    let rest = roles
        .list_roles(None, first.marker.as_deref(), None)
        .await
        .unwrap();
    let names: Vec<_> = rest.items.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["c"]);
    let err = roles
        .create_role(input("C", "/"), &meta())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::EntityAlreadyExists);
}

#[tokio::test]
async fn providers_are_found_by_arn() {
    let dir = tempfile::tempdir().unwrap();
    let roles = roles(&dir).await;
    let oidc = roles.oidc_providers();
    let arn = oidc
        .create(
            "https://issuer.example.com",
            vec!["app".into()],
            vec![],
            Default::default(),
            &meta(),
        )
        .await
        .unwrap();
    let found = oidc.get_by_arn(&arn).await.unwrap().unwrap();
    assert_eq!(found.url, "https://issuer.example.com");
    assert_eq!(found.client_ids, ["app"]);
    assert_eq!(oidc.list().await.unwrap().len(), 1);
    let saml = roles.saml_providers();
    let metadata = include_str!("../../../../shared/saml/testdata/metadata.xml").to_owned();
    let arn = saml
        .create("corp", metadata.clone(), Default::default(), &meta())
        .await
        .unwrap();
    let found = saml.get_by_arn(&arn).await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), found.metadata_document),
        ("corp", metadata)
    );
    assert!(
        saml.get_by_arn("arn:aws:iam::000000000000:saml-provider/other")
            .await
            .unwrap()
            .is_none()
    );
}
