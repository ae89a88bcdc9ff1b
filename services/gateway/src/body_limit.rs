//! How large a body each route may send: what its largest legal request needs, and no
//! more. A body whose `Content-Length` is over the limit is refused before a byte of it
//! is read; one sent without a length stops being read at the limit (axum's
//! `DefaultBodyLimit`, set per request). The limits that only an administrator's
//! request needs (managed login assets, SAML metadata) apply when the request names a
//! configured administrator's access key; everyone else gets the ordinary ones, so an
//! anonymous caller never makes the gateway buffer more than 1 MiB (or read any of an
//! import file before the job's token is checked).
//!
//! | route | limit | largest legal request |
//! |---|---|---|
//! | `PUT /import/<pool>/<job>` | 100 MiB, streamed | Cognito's CSV limit |
//! | `POST /` user-pool or identity JSON | 1 MiB | `SetUICustomization`: a 131,072-byte image (base64) and 131,072 characters of CSS |
//! | `Create`/`UpdateManagedLoginBranding` (admin) | 2 MiB | 512 KiB of assets (Portcullis's cap, base64) and the settings |
//! | `POST /` IAM/STS query, anonymous | 512 KiB | `AssumeRoleWithSAML`: a 100,000-character assertion, form-encoded |
//! | `POST /` IAM/STS query (admin) | 32 MiB | `CreateSAMLProvider`: 10,000,000 characters of metadata, form-encoded |
//! | `/oauth2/token`, `/oauth2/revoke`, `/oauth2/introspect` | 64 KiB | a code, a verifier, a refresh token |
//! | other hosted-UI forms (sign-in, sign-up, SAML response) | 512 KiB | a 100,000-character SAML response, form-encoded |
//! | `POST /authorize` | 64 KiB | an action, a resource and a context |
//! | everything else | 64 KiB | (reads no body) |

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::{Layer, ServiceExt};

use crate::AppState;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

pub(crate) const IMPORT_FILE: usize = 100 * MIB;
const JSON_API: usize = MIB;
const MANAGED_LOGIN_BRANDING: usize = 2 * MIB;
const QUERY_ANONYMOUS: usize = 512 * KIB;
const QUERY_ADMIN: usize = 32 * MIB;
const OAUTH_ENDPOINT: usize = 64 * KIB;
const HOSTED_FORM: usize = 512 * KIB;
const DECISION: usize = 64 * KIB;
const OTHER: usize = 64 * KIB;

/// The access key id of a SigV4 `Authorization` header (`Credential=<id>/...`).
fn access_key_id(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let credential = value.split("Credential=").nth(1)?;
    credential.split('/').next()
}

/// The body limit of a request, from its method, path and headers alone; `is_admin`
/// says whether an access key id is a configured administrator's.
pub(crate) fn limit_for(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    is_admin: impl Fn(&str) -> bool,
) -> usize {
    if method == Method::PUT && path.starts_with("/import/") {
        return IMPORT_FILE;
    }
    // Hosted pages are served at the root and under `/domain/<domain>`.
    let path = match path.strip_prefix("/domain/") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    };
    if method != Method::POST {
        return OTHER;
    }
    let admin = || access_key_id(headers).is_some_and(&is_admin);
    match path {
        "/" => {
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
            match target.and_then(|t| t.split_once('.')) {
                Some((crate::cognito::TARGET_PREFIX, operation)) => match operation {
                    "CreateManagedLoginBranding" | "UpdateManagedLoginBranding" if admin() => {
                        MANAGED_LOGIN_BRANDING
                    }
                    _ => JSON_API,
                },
                Some(_) => JSON_API,
                None if admin() => QUERY_ADMIN,
                None => QUERY_ANONYMOUS,
            }
        }
        "/authorize" => DECISION,
        "/oauth2/token" | "/oauth2/revoke" | "/oauth2/introspect" => OAUTH_ENDPOINT,
        _ => HOSTED_FORM,
    }
}

/// Refuses a declared length over the route's limit unread, and bounds what the
/// handler's extractor reads of a body sent without one.
pub(crate) async fn limit_body(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = limit_for(
        request.method(),
        request.uri().path(),
        request.headers(),
        |key| state.admin_secret(key).is_some(),
    );
    if crate::declared_length(request.headers()).is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    match DefaultBodyLimit::max(limit)
        .layer(next)
        .oneshot(request)
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// 413 with an error body in the JSON APIs' shape.
fn too_large(limit: usize) -> Response {
    let body = serde_json::json!({
        "__type": "RequestEntityTooLargeException",
        "message": format!("The request body is larger than this operation accepts ({limit} bytes)."),
    });
    let mut response = (StatusCode::PAYLOAD_TOO_LARGE, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    headers.insert(
        "x-amzn-ErrorType",
        HeaderValue::from_static("RequestEntityTooLargeException"),
    );
    // The body was not read: the connection cannot carry another request.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=ADMIN/20260101/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=00";
    const OTHER_KEY: &str = "AWS4-HMAC-SHA256 Credential=NOBODY/20260101/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=00";

    fn limit(method: Method, path: &str, pairs: &[(&'static str, &str)]) -> usize {
        limit_for(&method, path, &headers(pairs), |key| key == "ADMIN")
    }

    #[test]
    fn each_route_gets_what_its_largest_legal_request_needs() {
        let branding = "AWSCognitoIdentityProviderService.CreateManagedLoginBranding";
        let sign_up = "AWSCognitoIdentityProviderService.SignUp";
        let get_id = "AWSCognitoIdentityService.GetId";
        let cases = [
            (Method::PUT, "/import/p/j", vec![], IMPORT_FILE),
            (Method::POST, "/", vec![("x-amz-target", sign_up)], JSON_API),
            (Method::POST, "/", vec![("x-amz-target", get_id)], JSON_API),
            (
                Method::POST,
                "/",
                vec![("x-amz-target", branding), ("authorization", SIGNED)],
                MANAGED_LOGIN_BRANDING,
            ),
            (Method::POST, "/", vec![], QUERY_ANONYMOUS),
            (
                Method::POST,
                "/",
                vec![("authorization", SIGNED)],
                QUERY_ADMIN,
            ),
            (Method::POST, "/oauth2/token", vec![], OAUTH_ENDPOINT),
            (
                Method::POST,
                "/domain/d.example/oauth2/token",
                vec![],
                OAUTH_ENDPOINT,
            ),
            (Method::POST, "/login", vec![], HOSTED_FORM),
            (
                Method::POST,
                "/domain/d/saml2/idpresponse",
                vec![],
                HOSTED_FORM,
            ),
            (Method::POST, "/authorize", vec![], DECISION),
            (Method::GET, "/oauth2/authorize", vec![], OTHER),
            (Method::GET, "/authorize/forward", vec![], OTHER),
        ];
        for (method, path, pairs, expected) in cases {
            assert_eq!(
                limit(method.clone(), path, &pairs),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_large_limits_need_an_administrators_key() {
        let branding = "AWSCognitoIdentityProviderService.UpdateManagedLoginBranding";
        for auth in [vec![], vec![("authorization", OTHER_KEY)]] {
            let mut with_target = auth.clone();
            with_target.push(("x-amz-target", branding));
            assert_eq!(limit(Method::POST, "/", &with_target), JSON_API);
            assert_eq!(limit(Method::POST, "/", &auth), QUERY_ANONYMOUS);
        }
        // An import upload to a path that is not PUT reads nothing.
        assert_eq!(limit(Method::POST, "/import/p/j", &[]), HOSTED_FORM);
    }
}
