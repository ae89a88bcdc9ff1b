//! Black-box: the real directory service on port 0, driven through its gRPC API; every
//! test runs against the embedded store and against a real JetStream server.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use portcullis_directory::relay::Relay;
use portcullis_directory::{Application, Deps};
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::KeyValue;
use portcullis_eventlog::embedded::EmbeddedStore;
use portcullis_eventlog::jetstream::{JetStreamConfig, JetStreamStore};
use portcullis_proto::directory::v1 as pb;
use portcullis_proto::directory::v1::directory_client::DirectoryClient;
use portcullis_proto::events::v1::{
    Attribute, LogConfiguration, SchemaAttribute, Tag, UserPoolClientSettings, UserPoolSettings,
    envelope::Payload,
};
use portcullis_runtime::{GrpcChannel, PeerKey};
use portcullis_testkit::nats::NatsServer;
use portcullis_types::SystemClock;
use tokio::sync::oneshot;

pub struct Running {
    client: DirectoryClient<GrpcChannel>,
    port: u16,
    claims: Arc<dyn KeyValue>,
    nats: Option<NatsServer>,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy)]
pub enum Backend {
    Embedded,
    JetStream,
}

/// The peer key of the deployment under test (one fixed key, as every replica of a
/// cluster shares one).
fn peer() -> PeerKey {
    PeerKey::from_hex(&"5e".repeat(32)).unwrap()
}

async fn deps(backend: Backend, dir: &std::path::Path) -> (Deps, Option<NatsServer>) {
    let projection_path = dir.join("projection.redb");
    match backend {
        Backend::Embedded => {
            let store = EmbeddedStore::open(&dir.join("log.redb")).await.unwrap();
            let deps = Deps {
                log: Arc::new(store.clone()),
                claims: store.bucket("claims"),
                secrets: store.bucket("client-secrets"),
                import_files: store.bucket("import-files"),
                imported_passwords: store.bucket("imported-passwords"),
                clock: Arc::new(SystemClock),
                projection_path,
                relay: None,
                peer: peer(),
            };
            (deps, None)
        }
        Backend::JetStream => {
            let nats = NatsServer::start().await.unwrap();
            let store = JetStreamStore::connect(JetStreamConfig::new(nats.url.clone()))
                .await
                .unwrap();
            let relay = Relay {
                publisher: store.event_publisher().await.unwrap(),
                cursor: store.bucket("relay").await.unwrap(),
            };
            let deps = Deps {
                log: Arc::new(store.clone()),
                claims: store.bucket("claims").await.unwrap(),
                secrets: store.bucket("client-secrets").await.unwrap(),
                import_files: store.bucket("import-files").await.unwrap(),
                imported_passwords: store.bucket("imported-passwords").await.unwrap(),
                clock: Arc::new(SystemClock),
                projection_path,
                relay: Some(relay),
                peer: peer(),
            };
            (deps, Some(nats))
        }
    }
}

async fn spawn_directory(backend: Backend) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let (deps, nats) = deps(backend, dir.path()).await;
    let claims = deps.claims.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = Application::build(listener, deps).await.unwrap();
    let port = app.port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = DirectoryClient::new(
        portcullis_runtime::channel(&format!("127.0.0.1:{port}"), &peer()).unwrap(),
    );
    Running {
        client,
        port,
        claims,
        nats,
        _stop: stop,
        _dir: dir,
    }
}

fn caller() -> Option<pb::Caller> {
    Some(pb::Caller {
        region: "us-east-1".into(),
        ..Default::default()
    })
}

async fn new_pool(client: &mut DirectoryClient<GrpcChannel>) -> String {
    let settings = UserPoolSettings {
        pool_name: "grpc".into(),
        ..Default::default()
    };
    let request = pb::CreateUserPoolRequest {
        caller: caller(),
        settings: Some(settings),
    };
    client
        .create_user_pool(request)
        .await
        .unwrap()
        .into_inner()
        .id
}

fn create_user(pool_id: &str, username: &str) -> pb::CreateUserRequest {
    pb::CreateUserRequest {
        caller: caller(),
        pool_id: pool_id.into(),
        sub: uuid::Uuid::new_v4().to_string(),
        username: username.into(),
        attributes: vec![Attribute {
            name: "email".into(),
            value: format!("{username}@example.com"),
        }],
        confirmed: false,
        temporary_password: false,
        force_alias_creation: false,
    }
}

fn code(status: tonic::Status) -> ErrorCode {
    ApiError::from(status).code
}

async fn pools_clients_and_users_round_trip(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    let described = client
        .describe_user_pool(pb::DescribeUserPoolRequest {
            pool_id: pool_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(described.settings.unwrap().pool_name, "grpc");

    let request = pb::CreateUserPoolClientRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        settings: Some(UserPoolClientSettings {
            client_name: "app".into(),
            ..Default::default()
        }),
        generate_secret: true,
        client_secret: None,
    };
    let created = client
        .create_user_pool_client(request)
        .await
        .unwrap()
        .into_inner();
    // Unauthenticated operations name only the client; the pool is found from it.
    let by_id_only = pb::DescribeUserPoolClientRequest {
        pool_id: String::new(),
        client_id: created.client_id.clone(),
    };
    let found = client
        .describe_user_pool_client(by_id_only)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.pool_id, pool_id);
    assert_eq!(found.client_secret, created.client_secret);
    assert!(found.client_secret.is_some());

    let user = client
        .create_user(create_user(&pool_id, "Dana"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.status, "UNCONFIRMED");
    let by_name = pb::GetUserRequest {
        pool_id: pool_id.clone(),
        key: Some(pb::get_user_request::Key::Username("Dana".into())),
        client_id: String::new(),
    };
    assert_eq!(
        client.get_user(by_name).await.unwrap().into_inner().sub,
        user.sub
    );
    let err = client
        .create_user(create_user(&pool_id, "Dana"))
        .await
        .unwrap_err();
    assert_eq!(code(err), ErrorCode::UsernameExistsException);
    let missing = pb::GetUserRequest {
        pool_id,
        key: Some(pb::get_user_request::Key::Username("nobody".into())),
        client_id: String::new(),
    };
    assert_eq!(
        code(client.get_user(missing).await.unwrap_err()),
        ErrorCode::UserNotFoundException
    );
}

async fn concurrent_sign_ups_of_one_name_create_one_user(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    let attempts = (0..20).map(|_| {
        let mut client = client.clone();
        let request = create_user(&pool_id, "racer");
        tokio::spawn(async move { client.create_user(request).await })
    });
    let results = futures::future::join_all(attempts).await;
    let won = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert_eq!(won, 1);
    for result in results {
        if let Err(status) = result.unwrap() {
            assert_eq!(code(status), ErrorCode::UsernameExistsException);
        }
    }
}

async fn concurrent_confirmations_are_decided_against_fresh_state(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    client
        .create_user(create_user(&pool_id, "erin"))
        .await
        .unwrap();
    let attempts = (0..10).map(|_| {
        let mut client = client.clone();
        let request = pb::ConfirmUserRequest {
            caller: caller(),
            pool_id: pool_id.clone(),
            username: "erin".into(),
            ..Default::default()
        };
        tokio::spawn(async move { client.confirm_user(request).await })
    });
    let results = futures::future::join_all(attempts).await;
    let confirmed = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert_eq!(confirmed, 1, "exactly one confirmation may append");
    for result in results {
        if let Err(status) = result.unwrap() {
            let err = ApiError::from(status);
            assert_eq!(err.code, ErrorCode::NotAuthorizedException);
            assert_eq!(
                err.message,
                "User cannot be confirmed. Current status is CONFIRMED"
            );
        }
    }
}

async fn an_orphaned_name_claim_does_not_block_the_name(running: Running) {
    let (mut client, claims) = (running.client.clone(), running.claims.clone());
    let pool_id = new_pool(&mut client).await;
    // A claim left by a process that died before appending: old, and its owner has no
    // events.
    let orphan = serde_json::json!({"owner": uuid::Uuid::new_v4().to_string(), "at_ms": 0});
    claims
        .create(
            &format!("{pool_id}/name/frank"),
            Bytes::from(orphan.to_string()),
        )
        .await
        .unwrap();
    let user = client
        .create_user(create_user(&pool_id, "frank"))
        .await
        .unwrap()
        .into_inner();
    let by_name = pb::GetUserRequest {
        pool_id,
        key: Some(pb::get_user_request::Key::Username("frank".into())),
        client_id: String::new(),
    };
    assert_eq!(
        client.get_user(by_name).await.unwrap().into_inner().sub,
        user.sub
    );
}

async fn a_deleted_users_name_is_free_even_if_its_claim_was_left_behind(running: Running) {
    let (mut client, claims) = (running.client.clone(), running.claims.clone());
    let pool_id = new_pool(&mut client).await;
    let first = client
        .create_user(create_user(&pool_id, "kai"))
        .await
        .unwrap()
        .into_inner();
    let delete = pb::DeleteUserRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        username: "kai".into(),
    };
    client.delete_user(delete).await.unwrap();
    // As if the process had died between deleting the user and releasing the name.
    let leftover = serde_json::json!({"owner": first.sub, "at_ms": 0});
    claims
        .create(
            &format!("{pool_id}/name/kai"),
            Bytes::from(leftover.to_string()),
        )
        .await
        .unwrap();
    let second = client
        .create_user(create_user(&pool_id, "kai"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(second.sub, first.sub);
    let by_name = pb::GetUserRequest {
        pool_id,
        key: Some(pb::get_user_request::Key::Username("kai".into())),
        client_id: String::new(),
    };
    assert_eq!(
        client.get_user(by_name).await.unwrap().into_inner().sub,
        second.sub
    );
}

async fn subscribe_resumes_exactly_where_a_client_left_off(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    for name in ["u1", "u2", "u3"] {
        client
            .create_user(create_user(&pool_id, name))
            .await
            .unwrap();
    }
    let request = pb::SubscribeRequest {
        from_position: 1,
        pool_ids: vec![pool_id.clone()],
    };
    let mut stream = client.subscribe(request).await.unwrap().into_inner();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        seen.push(stream.next().await.unwrap().unwrap());
    }
    drop(stream);
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position));
    let types: Vec<String> = seen
        .iter()
        .map(|r| r.batch.as_ref().unwrap().events[0].event_type.clone())
        .collect();
    assert_eq!(
        types,
        [
            "UserPoolCreated",
            "UserSignedUp",
            "UserSignedUp",
            "UserSignedUp"
        ]
    );
    // No secrets in events: the sign-up events carry attributes, not credentials.
    for record in &seen[1..] {
        let Some(Payload::UserSignedUp(event)) = &record.batch.as_ref().unwrap().events[0].payload
        else {
            panic!("expected UserSignedUp");
        };
        assert!(event.attributes.iter().all(|a| a.name == "email"));
    }

    // Resume after the second record; a new event appended later also arrives.
    let request = pb::SubscribeRequest {
        from_position: seen[1].position + 1,
        pool_ids: vec![pool_id.clone()],
    };
    let mut resumed = client.subscribe(request).await.unwrap().into_inner();
    assert_eq!(
        resumed.next().await.unwrap().unwrap().position,
        seen[2].position
    );
    assert_eq!(
        resumed.next().await.unwrap().unwrap().position,
        seen[3].position
    );
    client
        .create_user(create_user(&pool_id, "u4"))
        .await
        .unwrap();
    let live = tokio::time::timeout(std::time::Duration::from_secs(5), resumed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(live.position > seen[3].position);

    // A filter on another pool sees none of these.
    let other = pb::SubscribeRequest {
        from_position: 1,
        pool_ids: vec!["us-east-1_other".into()],
    };
    let mut filtered = client.subscribe(other).await.unwrap().into_inner();
    let nothing =
        tokio::time::timeout(std::time::Duration::from_millis(300), filtered.next()).await;
    assert!(
        nothing.is_err(),
        "records of other pools leaked through the filter"
    );
}

async fn auth_events_are_appended_in_streams_of_their_own(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    let user = client
        .create_user(create_user(&pool_id, "ann"))
        .await
        .unwrap()
        .into_inner();
    let event = |response: &str| portcullis_proto::events::v1::UserAuthEventRecorded {
        sub: user.sub.clone(),
        event_type: "SignIn".into(),
        event_response: response.into(),
        challenge_name: "Password".into(),
        challenge_response: if response == "Pass" {
            "Success"
        } else {
            "Failure"
        }
        .into(),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for response in ["Fail", "Pass"] {
        let request = pb::RecordAuthEventRequest {
            caller: caller(),
            pool_id: pool_id.clone(),
            event: Some(event(response)),
        };
        ids.push(
            client
                .record_auth_event(request)
                .await
                .unwrap()
                .into_inner()
                .event_id,
        );
    }
    assert_ne!(ids[0], ids[1]);
    let request = pb::SubscribeRequest {
        from_position: 1,
        pool_ids: vec![pool_id.clone()],
    };
    let mut stream = client.subscribe(request).await.unwrap().into_inner();
    let mut recorded = Vec::new();
    while recorded.len() < 2 {
        let record = stream.next().await.unwrap().unwrap();
        let envelope = record.batch.unwrap().events.remove(0);
        if let Some(Payload::UserAuthEventRecorded(event)) = envelope.payload {
            let id = &ids[recorded.len()];
            assert_eq!(envelope.stream, format!("{pool_id}/authevent/{id}"));
            assert_eq!(&envelope.event_id, id);
            assert_eq!(envelope.stream_version, 1);
            recorded.push(event);
        }
    }
    assert_eq!(recorded, [event("Fail"), event("Pass")]);
    // The user is untouched by them.
    let again = client
        .get_user(pb::GetUserRequest {
            pool_id: pool_id.clone(),
            key: Some(pb::get_user_request::Key::Sub(user.sub.clone())),
            client_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.last_modified_date, user.last_modified_date);
}

async fn list_user_pools_pages_through_the_region(running: Running) {
    let mut client = running.client.clone();
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(new_pool(&mut client).await);
    }
    created.sort();
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::ListUserPoolsRequest {
            region: "us-east-1".into(),
            max_results: 2,
            next_token: token,
        };
        let page = client.list_user_pools(request).await.unwrap().into_inner();
        listed.extend(page.user_pools.into_iter().map(|p| p.id));
        if page.next_token.is_empty() {
            break;
        }
        token = page.next_token;
    }
    assert_eq!(listed, created);
    let other_region = pb::ListUserPoolsRequest {
        region: "eu-west-1".into(),
        max_results: 10,
        next_token: String::new(),
    };
    assert!(
        client
            .list_user_pools(other_region)
            .await
            .unwrap()
            .into_inner()
            .user_pools
            .is_empty()
    );
    let bad = pb::ListUserPoolsRequest {
        region: "us-east-1".into(),
        max_results: 0,
        next_token: String::new(),
    };
    assert_eq!(
        code(client.list_user_pools(bad).await.unwrap_err()),
        ErrorCode::InvalidParameterException
    );
}

async fn pools_are_updated_tagged_extended_and_deleted(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    let update = pb::UpdateUserPoolRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        settings: Some(UserPoolSettings {
            pool_name: "renamed".into(),
            deletion_protection: "ACTIVE".into(),
            ..Default::default()
        }),
        replace_tags: false,
    };
    let updated = client.update_user_pool(update).await.unwrap().into_inner();
    let settings = updated.settings.unwrap();
    assert_eq!(settings.pool_name, "renamed");
    assert_eq!(settings.mfa_configuration, "OFF");
    let listed = client
        .list_user_pools(pb::ListUserPoolsRequest {
            region: "us-east-1".into(),
            max_results: 60,
            next_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.user_pools[0].settings.as_ref().unwrap().pool_name,
        "renamed"
    );

    let added = pb::AddCustomAttributesRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        attributes: vec![SchemaAttribute {
            name: "plan".into(),
            attribute_data_type: "String".into(),
            mutable: true,
            ..Default::default()
        }],
    };
    let pool = client
        .add_custom_attributes(added.clone())
        .await
        .unwrap()
        .into_inner();
    let schema = pool.settings.unwrap().schema;
    assert!(schema.iter().any(|a| a.name == "custom:plan"));
    let err = ApiError::from(client.add_custom_attributes(added).await.unwrap_err());
    assert_eq!(
        err.message,
        "Existing attribute already has name custom:plan."
    );

    let arn = pool.arn;
    let tag = pb::TagResourceRequest {
        caller: caller(),
        resource_arn: arn.clone(),
        tags: vec![Tag {
            key: "team".into(),
            value: "identity".into(),
        }],
    };
    assert_eq!(
        client
            .tag_resource(tag)
            .await
            .unwrap()
            .into_inner()
            .tags
            .len(),
        1
    );
    let untag = pb::UntagResourceRequest {
        caller: caller(),
        resource_arn: arn.clone(),
        tag_keys: vec!["team".into()],
    };
    assert!(
        client
            .untag_resource(untag)
            .await
            .unwrap()
            .into_inner()
            .tags
            .is_empty()
    );

    let log = pb::SetLogDeliveryConfigurationRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        log_configurations: vec![LogConfiguration {
            log_level: "ERROR".into(),
            event_source: "userNotification".into(),
            ..Default::default()
        }],
    };
    client.set_log_delivery_configuration(log).await.unwrap();
    let got = client
        .get_log_delivery_configuration(pb::GetLogDeliveryConfigurationRequest {
            pool_id: pool_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.log_configurations[0].log_level, "ERROR");

    let certificates = client.clone();
    let certificate = |pool_id: String| {
        let mut client = certificates.clone();
        async move {
            client
                .get_signing_certificate(pb::GetSigningCertificateRequest { pool_id })
                .await
                .map(|r| r.into_inner().certificate)
        }
    };
    let first = certificate(pool_id.clone()).await.unwrap();
    assert!(first.starts_with("MII"), "{first}");
    assert_eq!(certificate(pool_id.clone()).await.unwrap(), first);

    let created = client
        .create_user_pool_client(pb::CreateUserPoolClientRequest {
            caller: caller(),
            pool_id: pool_id.clone(),
            settings: Some(UserPoolClientSettings {
                client_name: "app".into(),
                ..Default::default()
            }),
            generate_secret: false,
            client_secret: None,
        })
        .await
        .unwrap()
        .into_inner();
    client
        .create_user(create_user(&pool_id, "dora"))
        .await
        .unwrap();
    let delete = pb::DeleteUserPoolRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
    };
    let err = ApiError::from(client.delete_user_pool(delete.clone()).await.unwrap_err());
    assert_eq!(err.code, ErrorCode::InvalidParameterException);
    let unprotect = pb::UpdateUserPoolRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        settings: Some(UserPoolSettings::default()),
        replace_tags: false,
    };
    client.update_user_pool(unprotect).await.unwrap();
    client.delete_user_pool(delete.clone()).await.unwrap();

    let err = ApiError::from(
        client
            .describe_user_pool(pb::DescribeUserPoolRequest {
                pool_id: pool_id.clone(),
            })
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, ErrorCode::ResourceNotFoundException);
    assert_eq!(err.message, format!("User pool {pool_id} does not exist."));
    let by_client_only = pb::DescribeUserPoolClientRequest {
        pool_id: String::new(),
        client_id: created.client_id,
    };
    assert_eq!(
        code(
            client
                .describe_user_pool_client(by_client_only)
                .await
                .unwrap_err()
        ),
        ErrorCode::ResourceNotFoundException
    );
    let user = pb::GetUserRequest {
        pool_id: pool_id.clone(),
        key: Some(pb::get_user_request::Key::Username("dora".into())),
        client_id: String::new(),
    };
    assert_eq!(
        code(client.get_user(user).await.unwrap_err()),
        ErrorCode::ResourceNotFoundException
    );
    assert_eq!(
        code(client.delete_user_pool(delete).await.unwrap_err()),
        ErrorCode::ResourceNotFoundException
    );
    assert_eq!(
        code(certificate(pool_id.clone()).await.unwrap_err()),
        ErrorCode::ResourceNotFoundException
    );
    let listed = client
        .list_user_pools(pb::ListUserPoolsRequest {
            region: "us-east-1".into(),
            max_results: 60,
            next_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.user_pools.iter().all(|p| p.id != pool_id));
    let tags = pb::ListTagsForResourceRequest { resource_arn: arn };
    assert_eq!(
        code(client.list_tags_for_resource(tags).await.unwrap_err()),
        ErrorCode::ResourceNotFoundException
    );
}

async fn new_client(
    client: &mut DirectoryClient<GrpcChannel>,
    pool_id: &str,
    name: &str,
) -> pb::UserPoolClient {
    let request = pb::CreateUserPoolClientRequest {
        caller: caller(),
        pool_id: pool_id.into(),
        settings: Some(UserPoolClientSettings {
            client_name: name.into(),
            ..Default::default()
        }),
        generate_secret: true,
        client_secret: None,
    };
    client
        .create_user_pool_client(request)
        .await
        .unwrap()
        .into_inner()
}

async fn clients_are_updated_listed_deleted_and_rotate_secrets(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    let created = new_client(&mut client, &pool_id, "first").await;
    let first_secret = created.client_secret.clone().unwrap();
    let update = pb::UpdateUserPoolClientRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        client_id: created.client_id.clone(),
        settings: Some(UserPoolClientSettings {
            client_name: "renamed".into(),
            ..Default::default()
        }),
    };
    let updated = client
        .update_user_pool_client(update)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.settings.unwrap().client_name, "renamed");
    assert_eq!(
        updated.client_secret.as_deref(),
        Some(first_secret.as_str())
    );

    for name in ["second", "third"] {
        new_client(&mut client, &pool_id, name).await;
    }
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::ListUserPoolClientsRequest {
            pool_id: pool_id.clone(),
            max_results: 2,
            next_token: token,
        };
        let page = client
            .list_user_pool_clients(request)
            .await
            .unwrap()
            .into_inner();
        names.extend(page.clients.into_iter().map(|c| c.client_name));
        if page.next_token.is_empty() {
            break;
        }
        token = page.next_token;
    }
    names.sort();
    assert_eq!(names, ["renamed", "second", "third"]);

    let add = pb::AddUserPoolClientSecretRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        client_id: created.client_id.clone(),
        client_secret: None,
    };
    let second = client
        .add_user_pool_client_secret(add.clone())
        .await
        .unwrap()
        .into_inner();
    let second_secret = second.client_secret_value.clone().unwrap();
    let by_id_only = pb::DescribeUserPoolClientRequest {
        pool_id: String::new(),
        client_id: created.client_id.clone(),
    };
    let described = client
        .describe_user_pool_client(by_id_only.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        described.client_secrets,
        [first_secret.clone(), second_secret.clone()]
    );
    assert_eq!(
        described.client_secret.as_deref(),
        Some(first_secret.as_str())
    );
    assert_eq!(
        code(client.add_user_pool_client_secret(add).await.unwrap_err()),
        ErrorCode::LimitExceededException
    );
    let listed = client
        .list_user_pool_client_secrets(pb::ListUserPoolClientSecretsRequest {
            pool_id: pool_id.clone(),
            client_id: created.client_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .client_secrets;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s.client_secret_value.is_none()));
    let delete_first = pb::DeleteUserPoolClientSecretRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        client_id: created.client_id.clone(),
        client_secret_id: listed[0].client_secret_id.clone(),
    };
    client
        .delete_user_pool_client_secret(delete_first)
        .await
        .unwrap();
    let described = client
        .describe_user_pool_client(by_id_only.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(described.client_secrets, [second_secret]);

    let delete = pb::DeleteUserPoolClientRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        client_id: created.client_id.clone(),
    };
    client
        .delete_user_pool_client(delete.clone())
        .await
        .unwrap();
    let err = ApiError::from(
        client
            .describe_user_pool_client(by_id_only)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, ErrorCode::ResourceNotFoundException);
    assert_eq!(
        err.message,
        format!("User pool client {} does not exist.", created.client_id)
    );
    assert_eq!(
        code(client.delete_user_pool_client(delete).await.unwrap_err()),
        ErrorCode::ResourceNotFoundException
    );
    let request = pb::ListUserPoolClientsRequest {
        pool_id,
        max_results: 60,
        next_token: String::new(),
    };
    let left = client
        .list_user_pool_clients(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(left.clients.len(), 2);
}

async fn groups_are_created_updated_listed_and_deleted(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    let create = |name: &str| pb::CreateGroupRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        group_name: name.into(),
        description: format!("{name} group"),
        role_arn: String::new(),
        precedence: Some(3),
    };
    for name in ["b", "a", "ç/unicode", "c"] {
        client.create_group(create(name)).await.unwrap();
    }
    assert_eq!(
        code(client.create_group(create("a")).await.unwrap_err()),
        ErrorCode::GroupExistsException
    );
    let update = pb::UpdateGroupRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        group_name: "ç/unicode".into(),
        description: None,
        role_arn: None,
        precedence: Some(7),
    };
    let updated = client.update_group(update).await.unwrap().into_inner();
    assert_eq!(updated.precedence, Some(7));
    assert_eq!(updated.description, "ç/unicode group");
    let delete = pb::DeleteGroupRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        group_name: "b".into(),
    };
    client.delete_group(delete).await.unwrap();
    let get = pb::GetGroupRequest {
        pool_id: pool_id.clone(),
        group_name: "b".into(),
    };
    let err = ApiError::from(client.get_group(get).await.unwrap_err());
    assert_eq!(err.message, "Group not found.");

    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::ListGroupsRequest {
            pool_id: pool_id.clone(),
            limit: 2,
            next_token: token,
        };
        let page = client.list_groups(request).await.unwrap().into_inner();
        names.extend(
            page.groups
                .into_iter()
                .map(|g| (g.group_name, g.precedence)),
        );
        if page.next_token.is_empty() {
            break;
        }
        token = page.next_token;
    }
    assert_eq!(
        names,
        [
            ("a".to_owned(), Some(3)),
            ("c".to_owned(), Some(3)),
            ("ç/unicode".to_owned(), Some(7))
        ]
    );
}

fn new_domain(
    pool_id: &str,
    domain: &str,
    certificate: Option<&str>,
) -> pb::CreateUserPoolDomainRequest {
    pb::CreateUserPoolDomainRequest {
        caller: caller(),
        pool_id: pool_id.into(),
        domain: domain.into(),
        certificate_arn: certificate.map(str::to_owned),
        security_policy: String::new(),
        managed_login_version: Some(2),
    }
}

async fn resolve(
    client: &mut DirectoryClient<GrpcChannel>,
    host: &str,
) -> pb::ResolveDomainResponse {
    let request = pb::ResolveDomainRequest {
        host_or_prefix: host.into(),
    };
    client.resolve_domain(request).await.unwrap().into_inner()
}

async fn domains_are_unique_across_pools_and_resolve_hosts(running: Running) {
    let (mut client, claims) = (running.client.clone(), running.claims.clone());
    let (pool, other) = (new_pool(&mut client).await, new_pool(&mut client).await);
    let cert = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
    client
        .create_user_pool_domain(new_domain(&pool, "login", None))
        .await
        .unwrap();
    let custom = new_domain(&pool, "Auth.Example.com", Some(cert));
    client.create_user_pool_domain(custom).await.unwrap();
    let err = client
        .create_user_pool_domain(new_domain(&other, "login", None))
        .await
        .unwrap_err();
    assert_eq!(
        ApiError::from(err).message,
        "Domain already associated with another user pool."
    );

    for host in [
        "login",
        "login.auth.us-east-1.localhost",
        "auth.example.com",
    ] {
        let found = resolve(&mut client, host).await;
        assert!(found.found, "{host}");
        assert_eq!(found.pool_id, pool);
        assert_eq!(found.managed_login_version, 2);
    }
    assert!(resolve(&mut client, "auth.example.com").await.custom);
    assert!(!resolve(&mut client, "nobody").await.found);
    assert!(
        !resolve(&mut client, "auth.other.example").await.found,
        "a custom domain is not a prefix"
    );
    let pool_message = client
        .describe_user_pool(pb::DescribeUserPoolRequest {
            pool_id: pool.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            pool_message.domain.as_str(),
            pool_message.custom_domain.as_str()
        ),
        ("login", "Auth.Example.com")
    );

    let delete = pb::DeleteUserPoolDomainRequest {
        caller: caller(),
        pool_id: pool.clone(),
        domain: "login".into(),
    };
    client.delete_user_pool_domain(delete).await.unwrap();
    assert!(!resolve(&mut client, "login").await.found);
    client
        .create_user_pool_domain(new_domain(&other, "login", None))
        .await
        .unwrap();
    assert_eq!(resolve(&mut client, "login").await.pool_id, other);

    // A claim left by a crash, whose pool never recorded the domain, is taken over.
    let orphan = serde_json::json!({"owner": "us-east-1_Gone123", "at_ms": 0});
    claims
        .create("domain/orphaned", Bytes::from(orphan.to_string()))
        .await
        .unwrap();
    client
        .create_user_pool_domain(new_domain(&pool, "orphaned", None))
        .await
        .unwrap();
    assert_eq!(resolve(&mut client, "orphaned").await.pool_id, pool);
}

async fn concurrent_claims_of_one_domain_give_it_to_one_pool(running: Running) {
    let mut client = running.client.clone();
    let (a, b) = (new_pool(&mut client).await, new_pool(&mut client).await);
    let (mut ca, mut cb) = (client.clone(), client.clone());
    let (first, second) = tokio::join!(
        ca.create_user_pool_domain(new_domain(&a, "contested", None)),
        cb.create_user_pool_domain(new_domain(&b, "contested", None)),
    );
    assert!(
        first.is_ok() != second.is_ok(),
        "exactly one pool gets the domain"
    );
    let winner = if first.is_ok() { &a } else { &b };
    assert_eq!(&resolve(&mut client, "contested").await.pool_id, winner);
}

async fn resource_server_scopes_and_ui_customizations_are_served(running: Running) {
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    let scope = |name: &str| portcullis_proto::events::v1::ResourceServerScope {
        scope_name: name.into(),
        scope_description: format!("{name} access"),
    };
    let server = pb::ResourceServerRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        identifier: "api".into(),
        name: "API".into(),
        scopes: vec![scope("read"), scope("write")],
    };
    client.create_resource_server(server).await.unwrap();
    let list = pb::ListResourceServersRequest {
        pool_id: pool_id.clone(),
        max_results: 50,
        next_token: String::new(),
    };
    let listed = client
        .list_resource_servers(list)
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = listed.resource_servers[0]
        .scopes
        .iter()
        .map(|s| s.scope_name.as_str())
        .collect();
    assert_eq!(names, ["read", "write"]);

    let set = |client_id: &str, css: &str, image: &[u8]| pb::SetUiCustomizationRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        client_id: client_id.into(),
        css: css.into(),
        image_file: image.to_vec(),
    };
    let err = client
        .set_ui_customization(set("", "", b""))
        .await
        .unwrap_err();
    assert_eq!(
        ApiError::from(err).message,
        "A domain must be associated with this user pool."
    );
    client
        .create_user_pool_domain(new_domain(&pool_id, "branded", None))
        .await
        .unwrap();
    let logo = b"\x89PNG\r\n\x1a\nlogo";
    let css = ".banner-customizable { background: black }";
    client
        .set_ui_customization(set("ALL", css, logo))
        .await
        .unwrap();
    let get = |client_id: &str, cached: bool| pb::GetUiCustomizationRequest {
        pool_id: pool_id.clone(),
        client_id: client_id.into(),
        without_image: false,
        cached,
    };
    for (client_id, cached) in [("", true), ("someclient", true), ("ALL", false)] {
        let ui = client
            .get_ui_customization(get(client_id, cached))
            .await
            .unwrap()
            .into_inner();
        assert!(ui.found, "{client_id}");
        assert_eq!((ui.client_id.as_str(), ui.css.as_str()), ("ALL", css));
        assert_eq!(
            (ui.image.as_slice(), ui.image_type.as_str()),
            (&logo[..], "image/png")
        );
    }
}

/// Cluster only: the embedded default's subscribers follow the log instead.
#[tokio::test(flavor = "multi_thread")]
async fn events_are_published_to_nats_subjects() {
    let running = spawn_directory(Backend::JetStream).await;
    let nats = running
        .nats
        .as_ref()
        .expect("a JetStream backend has a server");
    let mut client = running.client.clone();
    let pool_id = new_pool(&mut client).await;
    let user = client
        .create_user(create_user(&pool_id, "gina"))
        .await
        .unwrap()
        .into_inner();
    let nats_client = async_nats::connect(nats.url.as_str()).await.unwrap();
    let js = async_nats::jetstream::new(nats_client);
    let stream = js.get_stream("PORTCULLIS_EVENTS").await.unwrap();
    let subject = format!("portcullis.events.{pool_id}.user.UserSignedUp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let message = loop {
        match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => break message,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(err) => panic!("event never published on {subject}: {err}"),
        }
    };
    let envelope = <portcullis_proto::events::v1::Envelope as prost::Message>::decode(
        message.payload.as_ref(),
    )
    .unwrap();
    let Some(Payload::UserSignedUp(event)) = envelope.payload else {
        panic!("not a sign-up event")
    };
    assert_eq!(event.sub, user.sub);
    assert_eq!(event.username, "gina");
}

async fn list_users(
    client: &mut DirectoryClient<GrpcChannel>,
    pool_id: &str,
    filter: &str,
    limit: u32,
    token: &str,
) -> pb::ListUsersResponse {
    let request = pb::ListUsersRequest {
        pool_id: pool_id.into(),
        filter: filter.into(),
        limit,
        pagination_token: token.into(),
    };
    client.list_users(request).await.unwrap().into_inner()
}

fn names(users: &[pb::User]) -> Vec<String> {
    users.iter().map(|u| u.username.clone()).collect()
}

async fn users_are_listed_filtered_and_paged_from_the_read_model(mut running: Running) {
    let client = &mut running.client;
    let pool_id = new_pool(client).await;
    for name in ["dora", "Ann", "carl", "bea", "anton"] {
        client
            .create_user(create_user(&pool_id, name))
            .await
            .unwrap();
    }
    // Pages of two, in user-name order, until no token comes back.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list_users(client, &pool_id, "", 2, &token).await;
        assert!(page.users.len() <= 2);
        seen.extend(names(&page.users));
        if page.pagination_token.is_empty() {
            break;
        }
        token = page.pagination_token;
    }
    assert_eq!(seen, ["Ann", "anton", "bea", "carl", "dora"]);

    // Email filters compare case-insensitively; user names do not.
    let page = list_users(client, &pool_id, r#"email ^= "AN""#, 0, "").await;
    assert_eq!(names(&page.users), ["Ann", "anton"]);
    let page = list_users(client, &pool_id, r#"username = "ann""#, 0, "").await;
    assert!(page.users.is_empty());
    let page = list_users(
        client,
        &pool_id,
        r#"cognito:user_status = "unconfirmed""#,
        0,
        "",
    )
    .await;
    assert_eq!(page.users.len(), 5);

    // The index follows attribute changes, deletions and status changes.
    let bea = pb::UserRef {
        pool_id: pool_id.clone(),
        username: "bea".into(),
        sub: String::new(),
    };
    let update = pb::UpdateUserAttributesRequest {
        caller: caller(),
        user: Some(bea.clone()),
        attributes: vec![Attribute {
            name: "email".into(),
            value: "zed@example.com".into(),
        }],
        by_admin: true,
        client_id: String::new(),
    };
    let updated = client
        .update_user_attributes(update)
        .await
        .unwrap()
        .into_inner();
    let flag = updated
        .attributes
        .iter()
        .find(|a| a.name == "email_verified");
    assert_eq!(flag.map(|a| a.value.as_str()), Some("false"));
    let page = list_users(client, &pool_id, r#"email = "bea@example.com""#, 0, "").await;
    assert!(page.users.is_empty());
    let page = list_users(client, &pool_id, r#"email ^= "zed""#, 0, "").await;
    assert_eq!(names(&page.users), ["bea"]);
    let disable = pb::SetUserEnabledRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        username: "carl".into(),
        enabled: false,
    };
    client.set_user_enabled(disable).await.unwrap();
    let page = list_users(client, &pool_id, r#"status = "Disabled""#, 0, "").await;
    assert_eq!(names(&page.users), ["carl"]);
    let delete = pb::DeleteUserRequest {
        caller: caller(),
        pool_id: pool_id.clone(),
        username: "dora".into(),
    };
    client.delete_user(delete).await.unwrap();
    let page = list_users(client, &pool_id, "", 60, "").await;
    assert_eq!(names(&page.users), ["Ann", "anton", "bea", "carl"]);
    let described = client
        .describe_user_pool(pb::DescribeUserPoolRequest {
            pool_id: pool_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(described.estimated_number_of_users, 4);

    // Bad filters and tokens are the caller's error.
    let bad = pb::ListUsersRequest {
        pool_id: pool_id.clone(),
        filter: r#"custom:tier = "x""#.into(),
        ..Default::default()
    };
    let err = ApiError::from(client.list_users(bad).await.unwrap_err());
    assert_eq!(err.code, ErrorCode::InvalidParameterException);
    let bad = pb::ListUsersRequest {
        pool_id: pool_id.clone(),
        pagination_token: "not a token".into(),
        ..Default::default()
    };
    let err = ApiError::from(client.list_users(bad).await.unwrap_err());
    assert_eq!(err.code, ErrorCode::InvalidParameterException);
}

/// Only peers of the deployment may call the service: a call without the peer key, or
/// with another deployment's, is refused before the service sees it.
#[tokio::test(flavor = "multi_thread")]
async fn calls_without_the_peer_key_are_refused() {
    let mut running = spawn_directory(Backend::Embedded).await;
    let address = format!("http://127.0.0.1:{}", running.port);
    let request = || pb::ListUserPoolsRequest {
        region: "us-east-1".into(),
        max_results: 10,
        ..Default::default()
    };
    let mut stranger = DirectoryClient::connect(address).await.unwrap();
    let status = stranger.list_user_pools(request()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let other = PeerKey::from_hex(&"5f".repeat(32)).unwrap();
    let address = format!("127.0.0.1:{}", running.port);
    let mut impostor = DirectoryClient::new(portcullis_runtime::channel(&address, &other).unwrap());
    let status = impostor.list_user_pools(request()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    running.client.list_user_pools(request()).await.unwrap();
}

/// Runs each listed test once per backend, as `on::embedded::<test>` and
/// `on::jetstream::<test>`.
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod on {
            on_every_backend!(@backend embedded, Embedded, $($test),*);
            on_every_backend!(@backend jetstream, JetStream, $($test),*);
        }
    };
    (@backend $module:ident, $backend:ident, $($test:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    crate::$test(crate::spawn_directory(crate::Backend::$backend).await).await;
                }
            )*
        }
    };
}

on_every_backend!(
    pools_clients_and_users_round_trip,
    concurrent_sign_ups_of_one_name_create_one_user,
    concurrent_confirmations_are_decided_against_fresh_state,
    an_orphaned_name_claim_does_not_block_the_name,
    a_deleted_users_name_is_free_even_if_its_claim_was_left_behind,
    subscribe_resumes_exactly_where_a_client_left_off,
    auth_events_are_appended_in_streams_of_their_own,
    list_user_pools_pages_through_the_region,
    users_are_listed_filtered_and_paged_from_the_read_model,
    pools_are_updated_tagged_extended_and_deleted,
    clients_are_updated_listed_deleted_and_rotate_secrets,
    groups_are_created_updated_listed_and_deleted,
    domains_are_unique_across_pools_and_resolve_hosts,
    concurrent_claims_of_one_domain_give_it_to_one_pool,
    resource_server_scopes_and_ui_customizations_are_served,
);
