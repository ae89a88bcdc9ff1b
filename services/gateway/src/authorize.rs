//! The policy decision point over HTTP, for resource servers and reverse proxies.
//!
//! * `POST /authorize` with a JSON body `{"Action", "Resource", "Context"}`, signed with
//!   SigV4 by the temporary credentials themselves: 200 when allowed, 403 when denied,
//!   401 for bad, expired, tampered or wrong-region credentials. The body names the
//!   decision and the statement that made it.
//! * `/authorize/forward` (any method), the forward-auth form: a reverse proxy passes
//!   the original request's headers with `X-Forwarded-Method`, `X-Forwarded-Uri` and
//!   `X-Forwarded-Host`. The action is `http:<METHOD>` and the resource
//!   `<host><path>`, both as the upstream will read them (see [`crate::forwarded`]:
//!   dot segments and `//` resolved, ambiguous encodings refused with 400, the query
//!   left out, the host lower-cased); the body stays with the proxy, so the signed
//!   `X-Amz-Content-Sha256` stands for it. On success the answer carries
//!   `X-Portcullis-Identity-Id` and `X-Portcullis-Role-Arn` for the upstream.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::credentials::v1 as cred;
use serde::Deserialize;
use serde_json::json;

use crate::{AppState, forwarded};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Question {
    action: Option<String>,
    resource: Option<String>,
    context: Option<HashMap<String, ContextValue>>,
}

/// A context key's value: one string or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum ContextValue {
    One(String),
    Many(Vec<String>),
}

fn headers_of(headers: &HeaderMap, host: Option<&str>) -> Vec<cred::HttpHeader> {
    let mut out: Vec<cred::HttpHeader> = headers
        .iter()
        .filter(|(name, _)| host.is_none() || name.as_str() != "host")
        .filter_map(|(name, value)| {
            Some(cred::HttpHeader {
                name: name.as_str().to_owned(),
                value: value.to_str().ok()?.to_owned(),
            })
        })
        .collect();
    if let Some(host) = host {
        out.push(cred::HttpHeader {
            name: "host".to_owned(),
            value: host.to_owned(),
        });
    }
    out
}

fn answer(result: Result<cred::AuthorizeResponse, ApiError>) -> Response {
    match result {
        Ok(decided) => {
            let status = if decided.allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            let body = json!({
                "Decision": decided.decision,
                "Policy": decided.policy,
                "Statement": decided.statement,
                "IdentityId": decided.identity_id,
                "IdentityPoolId": decided.identity_pool_id,
                "RoleArn": decided.role_arn,
            });
            let mut response = (status, Json(body)).into_response();
            if decided.allowed {
                let headers = response.headers_mut();
                for (name, value) in [
                    ("x-portcullis-identity-id", &decided.identity_id),
                    ("x-portcullis-role-arn", &decided.role_arn),
                ] {
                    if let Ok(value) = HeaderValue::from_str(value) {
                        headers.insert(name, value);
                    }
                }
            }
            response
        }
        Err(err) => {
            let status = match err.code {
                ErrorCode::NotAuthorizedException => StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidParameterException => StatusCode::BAD_REQUEST,
                ErrorCode::InternalErrorException => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            let decision = if status == StatusCode::UNAUTHORIZED {
                "Unauthenticated"
            } else {
                "Error"
            };
            (
                status,
                Json(json!({ "Decision": decision, "message": err.message })),
            )
                .into_response()
        }
    }
}

async fn ask(
    state: &AppState,
    request: cred::AuthorizeRequest,
) -> Result<cred::AuthorizeResponse, ApiError> {
    Ok(state
        .credentials
        .clone()
        .authorize(request)
        .await?
        .into_inner())
}

/// `POST /authorize`.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let question: Question = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(_) => {
            return answer(Err(ApiError::invalid_parameter(
                "The body must be a JSON object with Action, Resource and optional Context.",
            )));
        }
    };
    let context = question
        .context
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| {
            let values = match value {
                ContextValue::One(v) => vec![v],
                ContextValue::Many(v) => v,
            };
            (key, cred::ContextValues { values })
        })
        .collect();
    let request = cred::AuthorizeRequest {
        proof: Some(cred::authorize_request::Proof::Signed(
            cred::SignedHttpRequest {
                method: method.as_str().to_owned(),
                path: uri.path().to_owned(),
                query: uri.query().unwrap_or_default().to_owned(),
                headers: headers_of(&headers, None),
                body: body.to_vec(),
                body_absent: false,
            },
        )),
        action: question.action.unwrap_or_default(),
        resource: question.resource.unwrap_or_default(),
        context,
    };
    answer(ask(&state, request).await)
}

/// `/authorize/forward`: a reverse proxy's subrequest for the request it holds.
pub async fn forward(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(method), Some(forwarded_uri)) =
        (header("x-forwarded-method"), header("x-forwarded-uri"))
    else {
        return answer(Err(ApiError::invalid_parameter(
            "X-Forwarded-Method and X-Forwarded-Uri are required.",
        )));
    };
    let Ok(uri) = forwarded_uri.parse::<Uri>() else {
        return answer(Err(ApiError::invalid_parameter(
            "X-Forwarded-Uri is not a request target.",
        )));
    };
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or_default();
    // Decide on what the upstream will serve, not on the text as sent; the signature is
    // still checked over the request as the client signed it.
    let resource = match (forwarded::host(host), forwarded::path(uri.path())) {
        (Ok(host), Ok(path)) => format!("{host}{path}"),
        (Err(err), _) | (_, Err(err)) => {
            return answer(Err(ApiError::invalid_parameter(err.to_string())));
        }
    };
    if method.is_empty() || !method.bytes().all(is_token_char) {
        return answer(Err(ApiError::invalid_parameter(
            "X-Forwarded-Method must be an HTTP method.",
        )));
    }
    let request = cred::AuthorizeRequest {
        proof: Some(cred::authorize_request::Proof::Signed(
            cred::SignedHttpRequest {
                method: method.to_ascii_uppercase(),
                path: uri.path().to_owned(),
                query: uri.query().unwrap_or_default().to_owned(),
                headers: headers_of(&headers, Some(host)),
                body: Vec::new(),
                body_absent: true,
            },
        )),
        action: format!("http:{}", method.to_ascii_uppercase()),
        resource,
        context: HashMap::new(),
    };
    answer(ask(&state, request).await)
}

/// RFC 9110's `tchar`, the characters of a method name.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
