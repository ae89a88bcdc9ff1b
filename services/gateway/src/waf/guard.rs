//! The web ACL in front of a user pool, applied before any other work: a request to a
//! pool's hosted pages (by domain) or an unsigned call of the Cognito API naming a pool
//! or app client (`UserPoolId`, `ClientId`) is judged by the web ACL the pool is
//! associated with, if any; a block answers `ForbiddenException` (403) at once. Signed
//! (administrator) calls are not inspected, as WAF in front of Cognito does not inspect
//! IAM-authorized operations. The association, the web ACL and its IP sets come from the
//! log-following cache; rate-based rules count in the ephemeral store through
//! authn-flow, so every replica shares the counts.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::directory::v1 as dir;
use portcullis_types::cidr::Cidr;
use portcullis_waf::{Action, IpSets, RateCounter, Request as WafRequest, WebAcl};

use crate::AppState;
use crate::client_ip::ClientIp;

/// The most of an unsigned API body read to find the pool it names.
const MAX_INSPECTED_BODY: usize = 256 * 1024;

/// A web ACL ready to evaluate: its rules and the addresses of the IP sets they name.
#[derive(Debug)]
pub struct Compiled {
    id: String,
    acl: WebAcl,
    sets: Vec<(String, Vec<Cidr>)>,
}

impl IpSets for Compiled {
    fn contains(&self, arn: &str, ip: IpAddr) -> bool {
        self.sets
            .iter()
            .any(|(a, ranges)| a == arn && ranges.iter().any(|r| r.contains(ip)))
    }
}

struct Counter<'a>(&'a AppState);

impl RateCounter for Counter<'_> {
    fn hit(&self, key: &str, ttl_secs: u64) -> impl std::future::Future<Output = u64> + Send {
        let mut authn = self.0.authn.clone();
        let request = authn::CountRateRequest {
            key: key.to_owned(),
            ttl_secs,
        };
        async move {
            match authn.count_rate(request).await {
                Ok(answer) => answer.into_inner().count,
                // Counting failed: the rule does not match (fail open on the rate, the
                // other rules still apply).
                Err(status) => {
                    tracing::warn!(error = %status.message(), "a web ACL's rate could not be counted");
                    0
                }
            }
        }
    }
}

fn forbidden() -> Response {
    let body = serde_json::json!({
        "__type": "ForbiddenException",
        "message": "Request not allowed due to WAF block.",
    });
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// Middleware: judges requests to pools that have a web ACL.
pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let unsigned_api = parts.uri.path() == "/"
        && !parts.headers.contains_key(header::AUTHORIZATION)
        && target(&parts.headers)
            .is_some_and(|t| t.starts_with("AWSCognitoIdentityProviderService."));
    // The pool, and the request's path as it reads on the pool's own domain.
    let (found, body) = if unsigned_api {
        let bytes = match axum::body::to_bytes(body, MAX_INSPECTED_BODY).await {
            Ok(bytes) => bytes,
            Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        };
        let pool = api_pool(&state, &bytes).await;
        (pool.map(|p| (p, "/".to_owned())), Body::from(bytes))
    } else {
        (
            hosted_pool(&state, parts.uri.path(), &parts.headers).await,
            body,
        )
    };
    let request = Request::from_parts(parts, body);
    let Some((pool, path)) = found else {
        return next.run(request).await;
    };
    let acl = match web_acl(&state, &pool).await {
        Ok(Some(acl)) => acl,
        Ok(None) => return next.run(request).await,
        Err(err) => {
            tracing::error!(error = %err.message, pool = %pool, "the pool's web ACL could not be read");
            return crate::error_response(&err, "");
        }
    };
    let ip = request.extensions().get::<ClientIp>().and_then(|c| c.0);
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let view = WafRequest {
        ip,
        path: &path,
        now_secs,
    };
    let decision =
        portcullis_waf::evaluate(&acl.acl, &acl.id, &view, &*acl, &Counter(&state)).await;
    if decision.action == Action::Block {
        tracing::info!(pool = %pool, rule = ?decision.rule, "a web ACL blocked a request");
        return forbidden();
    }
    next.run(request).await
}

fn target(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-amz-target").and_then(|v| v.to_str().ok())
}

/// The pool an unsigned Cognito API call names, by `UserPoolId` or `ClientId`.
async fn api_pool(state: &AppState, body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(pool) = value.get("UserPoolId").and_then(|v| v.as_str()) {
        return Some(pool.to_owned());
    }
    let client_id = value.get("ClientId").and_then(|v| v.as_str())?;
    let found = state
        .cache
        .get(&format!("client-pool/{client_id}"), || async {
            let request = dir::DescribeUserPoolClientRequest {
                pool_id: String::new(),
                client_id: client_id.to_owned(),
            };
            let client = state
                .directory
                .clone()
                .describe_user_pool_client(request)
                .await
                .map_err(ApiError::from)?
                .into_inner();
            Ok::<_, ApiError>((client.pool_id.clone(), client.pool_id))
        })
        .await;
    found.ok()
}

/// The pool whose hosted pages a request is for (`/domain/<domain>/...`, or a custom
/// domain or prefix in `Host`), and the page's path on that domain.
async fn hosted_pool(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
) -> Option<(String, String)> {
    let (domain, page) = match path.strip_prefix("/domain/") {
        Some(rest) => {
            let (domain, page) = rest.split_once('/').unwrap_or((rest, ""));
            (domain.to_owned(), format!("/{page}"))
        }
        None => {
            let host = headers.get(header::HOST)?.to_str().ok()?;
            let host = host.split(':').next()?.to_ascii_lowercase();
            (host, path.to_owned())
        }
    };
    // Only the hosted pages and OAuth endpoints are a pool's; other paths (the admin
    // API, the health check, the OIDC documents) never ask for a domain.
    if !is_hosted_page(&page) {
        return None;
    }
    let pool = crate::config::domain_pool(state, &domain)
        .await
        .ok()
        .flatten()?;
    Some((pool, page))
}

/// The paths of the hosted pages and the OAuth 2.0 / SAML endpoints (`hosted::router`).
fn is_hosted_page(path: &str) -> bool {
    const PAGES: &[&str] = &[
        "/login",
        "/logout",
        "/signup",
        "/confirmUser",
        "/resendCode",
        "/forgotPassword",
        "/confirmForgotPassword",
        "/mfa",
    ];
    PAGES.contains(&path) || path.starts_with("/oauth2/") || path.starts_with("/saml2/")
}

/// The web ACL the pool is associated with, compiled; `None` when it has none.
async fn web_acl(state: &AppState, pool: &str) -> Result<Option<Arc<Compiled>>, ApiError> {
    let association = state
        .cache
        .get(&format!("webacl-of/{pool}"), || async {
            let request = dir::GetWebAclAssociationRequest {
                pool_id: pool.to_owned(),
            };
            let answer = state
                .directory
                .clone()
                .get_web_acl_association(request)
                .await?
                .into_inner();
            Ok::<_, ApiError>((pool.to_owned(), answer))
        })
        .await?;
    if association.web_acl_id.is_empty() {
        return Ok(None);
    }
    let region = association.web_acl_region.clone();
    let id = association.web_acl_id.clone();
    let compiled = state
        .cache
        .get(&format!("webacl/{region}/{id}"), || async {
            let compiled = compile(state, &region, &id).await?;
            Ok::<_, ApiError>((region.clone(), Arc::new(compiled)))
        })
        .await?;
    Ok(Some(compiled))
}

async fn compile(state: &AppState, region: &str, id: &str) -> Result<Compiled, ApiError> {
    let mut directory = state.directory.clone();
    let get = |kind: &str, id: &str| dir::WafResourceRef {
        region: region.to_owned(),
        kind: kind.to_owned(),
        id: id.to_owned(),
        name: String::new(),
    };
    let resource = directory
        .get_waf_resource(get("webacl", id))
        .await?
        .into_inner();
    let document: serde_json::Value =
        serde_json::from_str(&resource.document).map_err(|_| ApiError::internal())?;
    let acl = portcullis_waf::parse_web_acl(&document["DefaultAction"], document.get("Rules"))
        .map_err(|err| {
            tracing::error!(error = %err, "a stored web ACL does not parse");
            ApiError::internal()
        })?;
    let mut sets = Vec::new();
    for arn in acl.ip_sets() {
        let Some((_, _, _, set_id)) = super::ops::parse_arn(arn) else {
            continue;
        };
        let set = directory
            .get_waf_resource(get("ipset", set_id))
            .await?
            .into_inner();
        let document: serde_json::Value =
            serde_json::from_str(&set.document).map_err(|_| ApiError::internal())?;
        let version = document["IPAddressVersion"].as_str().unwrap_or("IPV4");
        let addresses: Vec<String> = document["Addresses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let ranges = portcullis_waf::parse_addresses(version, &addresses).unwrap_or_default();
        sets.push((arn.to_owned(), ranges));
    }
    Ok(Compiled {
        id: id.to_owned(),
        acl,
        sets,
    })
}
