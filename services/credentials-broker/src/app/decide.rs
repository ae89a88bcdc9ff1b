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
