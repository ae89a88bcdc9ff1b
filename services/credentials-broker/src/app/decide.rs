//! The policy decision point: a request made with temporary credentials, and whether the
//! role they were issued for allows it.
//!
//! The credentials prove themselves by a SigV4 signature (verified with the secret the
//! session token yields) or, from a trusted resource server, by being presented whole.
//! Then the role's inline policies, narrowed by the session policy, are evaluated with
//! the context the credentials carry: principal tags, the identity and its pool, `amr`.
//! Keys in those namespaces cannot be supplied by the caller.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use portcullis_errors::ApiError;
use portcullis_policy::{Decision, Policy, Request, evaluate_with_session};
use portcullis_sigv4::{self as sigv4, SignedRequest};
use subtle::ConstantTimeEq;

use super::Broker;
use crate::credentials::{CredentialError, Grant};

/// How the credentials are proven.
pub enum Proof<'a> {
    /// A SigV4-signed HTTP request; `body` is `None` when it did not come along.
    Signed {
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a [(String, String)],
        body: Option<&'a [u8]>,
    },
    /// The three values, and the region they are used in.
    Presented {
        access_key_id: &'a str,
        secret_access_key: &'a str,
        session_token: &'a str,
        region: &'a str,
    },
}

pub struct Decided {
    pub decision: Decision,
    /// The name of the policy that decided (`session` for the session policy).
    pub policy: String,
    pub grant: Grant,
}

fn unauthenticated(message: impl Into<String>) -> ApiError {
    ApiError::not_authorized(message)
}

fn credential_error(err: CredentialError) -> ApiError {
    unauthenticated(err.to_string())
}

/// Context keys only the broker sets.
fn reserved(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("aws:") || key.starts_with("cognito-identity.amazonaws.com:")
}

impl Broker {
    /// Opens and checks the credentials; the grant they carry.
    fn prove(&self, proof: &Proof<'_>) -> Result<Grant, ApiError> {
        let now_ms = self.now_ms();
        match proof {
            Proof::Presented {
                access_key_id,
                secret_access_key,
                session_token,
                region,
            } => {
                let (grant, secret) = self
                    .minter
                    .open(session_token, access_key_id, now_ms)
                    .map_err(credential_error)?;
                if !bool::from(secret.as_bytes().ct_eq(secret_access_key.as_bytes())) {
                    return Err(unauthenticated(
                        "The security token included in the request is invalid.",
                    ));
                }
                if !region.is_empty() && *region != grant.region {
                    return Err(wrong_region(&grant.region));
                }
                Ok(grant)
            }
            Proof::Signed {
                method,
                path,
                query,
                headers,
                body,
            } => {
                let mut map = HeaderMap::new();
                for (name, value) in headers.iter() {
                    let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_str(value),
                    ) else {
                        return Err(unauthenticated("A request header is not valid."));
                    };
                    map.append(name, value);
                }
                let token = map
                    .get("x-amz-security-token")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        unauthenticated(
                            "The request is not signed with temporary credentials (no X-Amz-Security-Token).",
                        )
                    })?
                    .to_owned();
                let request = SignedRequest {
                    method,
                    path,
                    query,
                    headers: &map,
                    body: body.unwrap_or_default(),
                };
                let opened = std::cell::RefCell::new(None);
                let secret_for =
                    |access_key_id: &str| match self.minter.open(&token, access_key_id, now_ms) {
                        Ok((grant, secret)) => {
                            *opened.borrow_mut() = Some(Ok(grant));
                            Some(secret)
                        }
                        Err(err) => {
                            *opened.borrow_mut() = Some(Err(err));
                            None
                        }
                    };
                let now =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
                        .map_err(|_| ApiError::internal())?;
                let verified = if body.is_some() {
                    sigv4::verify(&request, secret_for, now)
                } else {
                    sigv4::verify_forwarded(&request, secret_for, now)
                };
                match (verified, opened.into_inner()) {
                    (_, Some(Err(err))) => Err(credential_error(err)),
                    (Ok(verified), Some(Ok(grant))) => {
                        if verified.region == grant.region {
                            Ok(grant)
                        } else {
                            Err(wrong_region(&grant.region))
                        }
                    }
                    (Ok(_), None) => Err(ApiError::internal()),
                    (Err(err), _) => Err(unauthenticated(err.message())),
                }
            }
        }
    }

    /// Decides `action` on `resource` for the proven credentials.
    pub async fn authorize(
        &self,
        proof: &Proof<'_>,
        action: &str,
        resource: &str,
        context: &HashMap<String, Vec<String>>,
    ) -> Result<Decided, ApiError> {
        if action.is_empty() || action.len() > 128 || resource.len() > 2048 {
            return Err(ApiError::invalid_parameter(
                "Action (1 to 128 characters) and Resource (up to 2048) are required.",
            ));
        }
        let grant = self.prove(proof)?;
        let role =
            self.roles.role(&grant.role_arn).await?.ok_or_else(|| {
                unauthenticated("The role of these credentials no longer exists.")
            })?;
        let mut request = Request::new(action, resource);
        for (key, values) in context {
            if !reserved(key) {
                request = request.with_values(key, values.clone());
            }
        }
        for (key, value) in &grant.principal_tags {
            request = request.with(&format!("aws:PrincipalTag/{key}"), value.clone());
        }
        let now_s = self.now_ms() / 1_000;
        request = request
            .with("aws:RequestedRegion", grant.region.clone())
            .with("aws:EpochTime", now_s.to_string())
            .with(
                "cognito-identity.amazonaws.com:sub",
                grant.identity_id.clone(),
            )
            .with(
                "cognito-identity.amazonaws.com:aud",
                grant.identity_pool_id.clone(),
            )
            .with_values("cognito-identity.amazonaws.com:amr", grant.amr.clone());
        if let Ok(time) = time::OffsetDateTime::from_unix_timestamp(now_s)
            && let Ok(text) = time.format(&time::format_description::well_known::Rfc3339)
        {
            request = request.with("aws:CurrentTime", text);
        }
        // A stored policy that no longer parses allows nothing (it cannot deny either:
        // the store refuses malformed documents, so this is only a later parser change).
        let parsed: Vec<(String, Policy)> = role
            .policies
            .iter()
            .filter_map(|(name, doc)| Policy::parse(doc).ok().map(|p| (name.clone(), p)))
            .collect();
        let session = match &grant.session_policy {
            Some(doc) => Some(Policy::parse(doc).map_err(|_| ApiError::internal())?),
            None => None,
        };
        let policies: Vec<&Policy> = parsed.iter().map(|(_, p)| p).collect();
        let decision = evaluate_with_session(&policies, session.as_ref(), &request);
        let policy = match &decision {
            Decision::Allow { policy, .. } | Decision::ExplicitDeny { policy, .. } => parsed
                .get(*policy)
                .map_or_else(|| "session".to_owned(), |(name, _)| name.clone()),
            Decision::ImplicitDeny => String::new(),
        };
        Ok(Decided {
            decision,
            policy,
            grant,
        })
    }
}

fn wrong_region(region: &str) -> ApiError {
    unauthenticated(format!(
        "The credentials are for region {region} and cannot be used in another."
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use portcullis_aggregate::AggregateStore;
    use portcullis_eventlog::cache::LogCache;
    use portcullis_eventlog::embedded::EmbeddedStore;
    use portcullis_proto::directory::v1::DirectoryLink;
    use portcullis_proto::token::v1::TokenLink;
    use portcullis_sigv4::sign::{Request as SignRequest, Signer};
    use portcullis_types::SystemClock;

    use super::*;
    use crate::app::{Parts, RoleDirectory, RoleInfo};
    use crate::credentials::{Credentials, Minter};

    const ROLE: &str = "arn:aws:iam::000000000000:role/reader";

    struct OneRole;

    #[async_trait]
    impl RoleDirectory for OneRole {
        async fn role(&self, arn: &str) -> Result<Option<RoleInfo>, ApiError> {
            let policy = r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"Own","Effect":"Allow","Action":"demo:*",
                 "Resource":"arn:demo:::dept/${aws:PrincipalTag/department}/*"},
                {"Sid":"NoDeletes","Effect":"Deny","Action":"demo:Delete","Resource":"*"}]}"#;
            Ok((arn == ROLE).then(|| RoleInfo {
                arn: ROLE.to_owned(),
                role_id: "AROAEXAMPLE".to_owned(),
                trust_policy: String::new(),
                policies: vec![("own".to_owned(), policy.to_owned())],
                max_session_duration: 3600,
            }))
        }
    }

    async fn broker(dir: &tempfile::TempDir) -> Broker {
        let log = EmbeddedStore::open(&dir.path().join("log.redb"))
            .await
            .unwrap();
        let links = log.bucket("links");
        let log: Arc<dyn portcullis_eventlog::EventLog> = Arc::new(log);
        let projection =
            crate::projection::Projection::start(&dir.path().join("read.redb"), log.clone())
                .unwrap();
        // Nothing serves there, in this process or on the network.
        const NOWHERE: &str = "127.0.0.1:1";
        let nowhere =
            portcullis_runtime::channel(NOWHERE, &portcullis_runtime::PeerKey::random().unwrap())
                .unwrap();
        let roles: Arc<dyn RoleDirectory> = Arc::new(OneRole);
        let cache = LogCache::start(log.clone(), super::super::WATCH)
            .await
            .unwrap();
        Broker::new(Parts {
            cache: cache.clone(),
            store: AggregateStore::new(log, Arc::new(SystemClock)),
            links,
            projection,
            verifier: crate::logins::Verifier {
                token: TokenLink::connect(nowhere.clone(), NOWHERE),
                directory: DirectoryLink::connect(nowhere.clone(), NOWHERE),
                federation: portcullis_proto::federation::v1::FederationLink::connect(
                    nowhere, NOWHERE,
                ),
                providers: roles.clone(),
                spent: Arc::new(portcullis_ephemeral::memory::MemoryStore::new()),
                cache: cache.clone(),
            },
            minter: Arc::new(Minter::new(&[7; 32]).unwrap()),
            roles,
        })
    }

    fn mint(broker: &Broker, expires_ms: i64) -> Credentials {
        let grant = Grant {
            access_key_id: Minter::new_access_key_id().unwrap(),
            identity_id: "us-east-1:1".into(),
            identity_pool_id: "us-east-1:2".into(),
            role_arn: ROLE.into(),
            region: "us-east-1".into(),
            principal_tags: vec![("department".into(), "b".into())],
            session_policy: None,
            amr: vec!["authenticated".into()],
            expires_ms,
        };
        broker.minter.mint(&grant).unwrap()
    }

    fn presented<'a>(c: &'a Credentials, secret: &'a str, region: &'a str) -> Proof<'a> {
        Proof::Presented {
            access_key_id: &c.access_key_id,
            secret_access_key: secret,
            session_token: &c.session_token,
            region,
        }
    }

    async fn decide(
        broker: &Broker,
        proof: &Proof<'_>,
        action: &str,
        resource: &str,
    ) -> Result<Decision, ApiError> {
        let context = HashMap::new();
        Ok(broker
            .authorize(proof, action, resource, &context)
            .await?
            .decision)
    }

    #[tokio::test]
    async fn presented_credentials_are_decided_by_the_role_and_the_tags() {
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&dir).await;
        let c = mint(&broker, broker.now_ms() + 60_000);
        let proof = presented(&c, &c.secret_access_key, "us-east-1");
        let own = decide(&broker, &proof, "demo:Read", "arn:demo:::dept/b/x")
            .await
            .unwrap();
        assert!(matches!(own, Decision::Allow { ref sid, .. } if sid == "Own"));
        let other = decide(&broker, &proof, "demo:Read", "arn:demo:::dept/a/x")
            .await
            .unwrap();
        assert_eq!(other, Decision::ImplicitDeny);
        let delete = decide(&broker, &proof, "demo:Delete", "arn:demo:::dept/b/x")
            .await
            .unwrap();
        assert!(matches!(delete, Decision::ExplicitDeny { ref sid, .. } if sid == "NoDeletes"));
    }

    #[tokio::test]
    async fn expired_wrong_secret_and_wrong_region_credentials_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&dir).await;
        let expired = mint(&broker, broker.now_ms() - 1);
        let proof = presented(&expired, &expired.secret_access_key, "us-east-1");
        let err = decide(&broker, &proof, "demo:Read", "x").await.unwrap_err();
        assert_eq!(
            err.code,
            portcullis_errors::ErrorCode::NotAuthorizedException
        );
        assert!(err.message.contains("expired"), "{}", err.message);
        let c = mint(&broker, broker.now_ms() + 60_000);
        let wrong = "x".repeat(40);
        let err = decide(
            &broker,
            &presented(&c, &wrong, "us-east-1"),
            "demo:Read",
            "x",
        )
        .await
        .unwrap_err();
        assert!(err.message.contains("invalid"), "{}", err.message);
        let err = decide(
            &broker,
            &presented(&c, &c.secret_access_key, "eu-west-1"),
            "demo:Read",
            "x",
        )
        .await
        .unwrap_err();
        assert!(err.message.contains("region"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_signed_request_proves_the_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let broker = broker(&dir).await;
        let c = mint(&broker, broker.now_ms() + 60_000);
        let body = br#"{"Action":"demo:Read"}"#;
        let sign = |region: &str, token: &str| {
            let signer = Signer::new(
                &c.access_key_id,
                &c.secret_access_key,
                region,
                "execute-api",
            );
            let request = SignRequest {
                host: "pdp.internal",
                content_type: "application/json",
                target: "",
                body,
                path: "/authorize",
                security_token: Some(token),
            };
            let signature = signer.sign(&request, time::OffsetDateTime::now_utc());
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("host".to_owned(), "pdp.internal".to_owned()),
                ("x-amz-date".to_owned(), signature.amz_date),
                ("x-amz-security-token".to_owned(), token.to_owned()),
                ("authorization".to_owned(), signature.authorization),
            ]
        };
        fn signed<'a>(headers: &'a [(String, String)], body: Option<&'a [u8]>) -> Proof<'a> {
            Proof::Signed {
                method: "POST",
                path: "/authorize",
                query: "",
                headers,
                body,
            }
        }
        let good = sign("us-east-1", &c.session_token);
        let allowed = decide(
            &broker,
            &signed(&good, Some(body)),
            "demo:Read",
            "arn:demo:::dept/b/1",
        )
        .await
        .unwrap();
        assert!(allowed.allowed());
        // The body is what was signed.
        let err = decide(
            &broker,
            &signed(&good, Some(b"{}")),
            "demo:Read",
            "arn:demo:::dept/b/1",
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.code,
            portcullis_errors::ErrorCode::NotAuthorizedException
        );
        // Another region's signature.
        let other = sign("eu-west-1", &c.session_token);
        let err = decide(&broker, &signed(&other, Some(body)), "demo:Read", "x")
            .await
            .unwrap_err();
        assert!(err.message.contains("region"), "{}", err.message);
        // A session token altered after signing.
        let mut tampered = c.session_token.clone();
        tampered.replace_range(10..11, if &tampered[10..11] == "A" { "B" } else { "A" });
        let forged = sign("us-east-1", &tampered);
        let err = decide(&broker, &signed(&forged, Some(body)), "demo:Read", "x")
            .await
            .unwrap_err();
        assert!(err.message.contains("invalid"), "{}", err.message);
    }
}
