//! The back-channel endpoints of a domain: `/oauth2/token` (RFC 6749 with RFC 7636),
//! `/oauth2/userInfo` (OIDC Core §5.3), `/oauth2/revoke` (RFC 7009) and
//! `/oauth2/introspect` (RFC 7662, which Cognito lacks: it makes revocation visible to
//! resource servers).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::token::v1 as tok;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Hosted;
use crate::AppState;
use crate::cognito::ops::token_user;
use crate::cognito::user_ops::token_client_user;

/// A JSON answer that no cache keeps (RFC 6749 §5.1).
fn json_no_store(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(error: &str, description: &str) -> Response {
    let mut body = json!({ "error": error });
    if !description.is_empty() {
        body["error_description"] = json!(description);
    }
    if error == "invalid_client" {
        let mut response = json_no_store(StatusCode::UNAUTHORIZED, &body);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"portcullis\""),
        );
        return response;
    }
    json_no_store(StatusCode::BAD_REQUEST, &body)
}

/// An OAuth error found before any service was asked.
pub struct Refusal {
    error: &'static str,
    description: &'static str,
}

impl Refusal {
    const fn new(error: &'static str, description: &'static str) -> Self {
        Self { error, description }
    }

    fn response(&self) -> Response {
        oauth_error(self.error, self.description)
    }
}

fn server_error(err: &ApiError) -> Response {
    tracing::warn!(code = err.code.type_name(), "oauth endpoint failed");
    let status = if err.code == ErrorCode::ServiceUnavailableException {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    json_no_store(status, &json!({ "error": "server_error" }))
}

fn percent_decode(text: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={text}"))
        .ok()?
        .pop()
        .map(|(_, v)| v)
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: each part form-urlencoded first).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ())?;
    let Some(encoded) = text
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return Err(());
    };
    let decoded = STANDARD.decode(encoded).map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = decoded.split_once(':').ok_or(())?;
    Ok(Some((
        percent_decode(id).ok_or(())?,
        percent_decode(secret).ok_or(())?,
    )))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenForm {
    grant_type: String,
    client_id: String,
    client_secret: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
    refresh_token: String,
    scope: String,
    token: String,
    access_token: String,
}

/// The client a back-channel request authenticates as: HTTP Basic or the form's
/// `client_id` / `client_secret`, not both.
fn client_credentials(headers: &HeaderMap, form: &TokenForm) -> Result<(String, String), Refusal> {
    match basic_credentials(headers) {
        Err(()) => Err(Refusal::new("invalid_client", "")),
        Ok(Some((id, secret))) => {
            if !form.client_secret.is_empty()
                || (!form.client_id.is_empty() && form.client_id != id)
            {
                return Err(Refusal::new(
                    "invalid_request",
                    "The client authenticated more than one way",
                ));
            }
            Ok((id, secret))
        }
        Ok(None) => {
            if form.client_id.is_empty() {
                return Err(Refusal::new("invalid_client", ""));
            }
            Ok((form.client_id.clone(), form.client_secret.clone()))
        }
    }
}

/// Parses an `application/x-www-form-urlencoded` body; a repeated parameter is invalid
/// (RFC 6749 §3.2).
fn token_form(headers: &HeaderMap, body: &Bytes) -> Result<TokenForm, Refusal> {
    if !crate::is_form_request(headers) {
        return Err(Refusal::new(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| Refusal::new("invalid_request", "The body is not a form"))?;
    let mut names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(Refusal::new("invalid_request", "A parameter is repeated"));
    }
    serde_urlencoded::from_bytes(body).map_err(|_| Refusal::new("invalid_request", ""))
}

/// The form of a back-channel request and the client it authenticates as.
fn client_form(headers: &HeaderMap, body: &Bytes) -> Result<(TokenForm, String, String), Refusal> {
    let form = token_form(headers, body)?;
    let (client_id, client_secret) = client_credentials(headers, &form)?;
    Ok((form, client_id, client_secret))
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, client_id, client_secret) = match client_form(&headers, &body) {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal.response(),
    };
    let request = authn::OAuthTokenRequest {
        region: String::new(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        pool_id: hosted.pool_id.clone(),
        grant_type: form.grant_type,
        client_id,
        client_secret,
        code: form.code,
        redirect_uri: form.redirect_uri,
        code_verifier: form.code_verifier,
        refresh_token: form.refresh_token,
        scope: form.scope,
    };
    let answer = match state.authn.clone().o_auth_token(request).await {
        Ok(answer) => answer.into_inner(),
        Err(status) => return server_error(&status.into()),
    };
    if !answer.error.is_empty() {
        return oauth_error(&answer.error, &answer.error_description);
    }
    let mut body = json!({
        "access_token": answer.access_token,
        "expires_in": answer.expires_in,
        "token_type": "Bearer",
    });
    if !answer.id_token.is_empty() {
        body["id_token"] = json!(answer.id_token);
    }
    if !answer.refresh_token.is_empty() {
        body["refresh_token"] = json!(answer.refresh_token);
    }
    json_no_store(StatusCode::OK, &body)
}

/// A `WWW-Authenticate: Bearer` failure of the userInfo endpoint (RFC 6750 §3).
fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json_no_store(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    let challenge = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The attributes a userInfo answer may carry under `scopes`: everything the client may
/// read under `openid` alone; otherwise the groups the OIDC scopes name (plus custom
/// attributes with `profile`).
fn userinfo_allows(scopes: &[&str], attribute: &str) -> bool {
    const PROFILE: &[&str] = &[
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
        "address",
    ];
    let narrowing = ["profile", "email", "phone"];
    if !scopes.iter().any(|s| narrowing.contains(s)) {
        return true;
    }
    (scopes.contains(&"profile")
        && (PROFILE.contains(&attribute) || attribute.starts_with("custom:")))
        || (scopes.contains(&"email") && matches!(attribute, "email" | "email_verified"))
        || (scopes.contains(&"phone")
            && matches!(attribute, "phone_number" | "phone_number_verified"))
}

/// `GET` or `POST /oauth2/userInfo` with a bearer access token that has `openid`.
pub async fn user_info(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let in_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    // Or in a form body (RFC 6750 §2.2), but not both.
    let in_body = if body.is_empty() {
        None
    } else {
        match token_form(&headers, &body) {
            Ok(form) if !form.access_token.is_empty() => Some(form.access_token),
            Ok(_) => None,
            Err(refusal) => return refusal.response(),
        }
    };
    let token = match (in_header, in_body) {
        (Some(_), Some(_)) => {
            return bearer_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The access token was sent more than one way",
            );
        }
        (header, body) => header.or(body),
    };
    let Some(access_token) = token else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Access token is missing",
        );
    };
    let verified = match state
        .token
        .clone()
        .verify_access_token(tok::VerifyAccessTokenRequest { access_token })
        .await
    {
        Ok(verified) => verified.into_inner(),
        Err(status) => {
            let err = ApiError::from(status);
            if err.code.http_status() >= 500 {
                return server_error(&err);
            }
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Access token is not valid",
            );
        }
    };
    if verified.pool_id != hosted.pool_id {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Access token is not valid",
        );
    }
    let scopes: Vec<&str> = verified.scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "Access token does not contain openid scope",
        );
    }
    // Revoked sessions and disabled users first, as for every access token.
    match token_user(&state, &verified).await {
        Ok(_) => {}
        Err(err) if err.code.http_status() >= 500 => return server_error(&err),
        Err(_) => {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Access token has been revoked",
            );
        }
    };
    // The attributes the token's client may read (the directory applies its rules).
    let user = match token_client_user(&state, &verified).await {
        Ok(user) => user,
        Err(err) if err.code.http_status() >= 500 => return server_error(&err),
        Err(_) => {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Access token has been revoked",
            );
        }
    };
    let mut body = Map::new();
    body.insert("sub".into(), json!(user.sub));
    for attribute in &user.attributes {
        if attribute.name != "sub" && userinfo_allows(&scopes, &attribute.name) {
            body.insert(attribute.name.clone(), json!(attribute.value));
        }
    }
    body.insert("username".into(), json!(user.username));
    json_no_store(StatusCode::OK, &Value::Object(body))
}

/// `POST /oauth2/revoke`: revokes a refresh token's session (RFC 7009).
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    _hosted: Hosted,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, client_id, client_secret) = match client_form(&headers, &body) {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal.response(),
    };
    if form.token.is_empty() {
        return oauth_error("invalid_request", "token is required");
    }
    let request = authn::RevokeTokenRequest {
        region: String::new(),
        token: form.token,
        client_id,
        client_secret,
        correlation_id: uuid::Uuid::new_v4().to_string(),
    };
    match state.authn.clone().revoke_token(request).await {
        Ok(_) => json_no_store(StatusCode::OK, &json!({})),
        Err(status) => {
            let err = ApiError::from(status);
            match err.code {
                ErrorCode::UnauthorizedException | ErrorCode::NotAuthorizedException => {
                    oauth_error("invalid_client", "")
                }
                ErrorCode::UnsupportedTokenTypeException => {
                    oauth_error("unsupported_token_type", "")
                }
                ErrorCode::UnsupportedOperationException => oauth_error("unauthorized_client", ""),
                _ if err.code.http_status() >= 500 => server_error(&err),
                _ => oauth_error("invalid_request", ""),
            }
        }
    }
}

/// `POST /oauth2/introspect` (RFC 7662): is a token active, and what does it say. The
/// caller authenticates as a confidential client of the pool (RFC 7662 section 4: a
/// public client's id is known to anyone, and would let anyone scan for tokens). Access
/// tokens are active while valid
/// and not revoked (a revoked session shows at once); refresh tokens only to their own
/// client. Anything else is `{"active": false}`.
pub async fn introspect(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, client_id, client_secret) = match client_form(&headers, &body) {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal.response(),
    };
    match introspection(&state, &hosted, &client_id, &client_secret, &form.token).await {
        Ok(Some(body)) => json_no_store(StatusCode::OK, &body),
        Ok(None) => oauth_error("invalid_client", ""),
        Err(err) => server_error(&err),
    }
}

/// The introspection answer, or `None` when the caller is not a confidential client of
/// the pool.
async fn introspection(
    state: &AppState,
    hosted: &Hosted,
    client_id: &str,
    client_secret: &str,
    token: &str,
) -> Result<Option<Value>, ApiError> {
    if !crate::domains::confidential_client_authenticates(
        state,
        &hosted.pool_id,
        client_id,
        client_secret,
    )
    .await?
    {
        return Ok(None);
    }
    let inactive = json!({ "active": false });
    if token.split('.').count() == 3 {
        let verified = match state
            .token
            .clone()
            .verify_access_token(tok::VerifyAccessTokenRequest {
                access_token: token.to_owned(),
            })
            .await
        {
            Ok(verified) => verified.into_inner(),
            Err(status) => {
                let err = ApiError::from(status);
                if err.code.http_status() >= 500 {
                    return Err(err);
                }
                return Ok(Some(inactive));
            }
        };
        if verified.pool_id != hosted.pool_id {
            return Ok(Some(inactive));
        }
        // A machine's token has no user to have signed out.
        let machine = verified.username.is_empty() && verified.sub == verified.client_id;
        if !machine {
            match token_user(state, &verified).await {
                Ok(_) => {}
                Err(err) if err.code.http_status() >= 500 => return Err(err),
                Err(_) => return Ok(Some(inactive)),
            }
        }
        let mut body = json!({
            "active": true,
            "token_type": "Bearer",
            "token_use": "access",
            "scope": verified.scope,
            "client_id": verified.client_id,
            "sub": verified.sub,
            "exp": verified.exp,
            "iat": verified.iat,
            "iss": hosted.issuer,
            "jti": verified.jti,
        });
        if !verified.username.is_empty() {
            body["username"] = json!(verified.username);
        }
        return Ok(Some(body));
    }
    let request = tok::ResolveRefreshTokenRequest {
        refresh_token: token.to_owned(),
        client_id: client_id.to_owned(),
        rotate: false,
        grace_seconds: 0,
    };
    let grant = match state.token.clone().resolve_refresh_token(request).await {
        Ok(grant) => grant.into_inner(),
        Err(status) => {
            let err = ApiError::from(status);
            if err.code.http_status() >= 500 {
                return Err(err);
            }
            return Ok(Some(inactive));
        }
    };
    let verified = tok::VerifiedAccessToken {
        pool_id: grant.pool_id.clone(),
        sub: grant.sub.clone(),
        origin_jti: grant.origin_jti.clone(),
        iat: grant.auth_time,
        ..Default::default()
    };
    if grant.reused || grant.pool_id != hosted.pool_id {
        return Ok(Some(inactive));
    }
    match token_user(state, &verified).await {
        Ok(_) => {}
        Err(err) if err.code.http_status() >= 500 => return Err(err),
        Err(_) => return Ok(Some(inactive)),
    }
    let mut body = json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": grant.client_id,
        "sub": grant.sub,
        "exp": grant.expires_ms / 1_000,
        "iss": hosted.issuer,
    });
    if grant.oauth {
        body["scope"] = json!(grant.scopes.join(" "));
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        assert_eq!(basic_credentials(&headers), Ok(None));
        let value = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret+x"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Ok(Some(("my client".to_owned(), "s:cret x".to_owned())))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert_eq!(basic_credentials(&headers), Err(()));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&headers), Err(()));
    }

    #[test]
    fn userinfo_scopes_narrow_the_attributes() {
        assert!(userinfo_allows(&["openid"], "custom:team"));
        assert!(userinfo_allows(
            &["openid", "aws.cognito.signin.user.admin"],
            "phone_number"
        ));
        assert!(userinfo_allows(&["openid", "email"], "email_verified"));
        assert!(!userinfo_allows(&["openid", "email"], "phone_number"));
        assert!(!userinfo_allows(&["openid", "email"], "given_name"));
        assert!(userinfo_allows(&["openid", "profile"], "given_name"));
        assert!(userinfo_allows(&["openid", "profile"], "custom:team"));
        assert!(!userinfo_allows(&["openid", "profile"], "email"));
        assert!(userinfo_allows(
            &["openid", "phone"],
            "phone_number_verified"
        ));
    }

    #[test]
    fn repeated_or_non_form_bodies_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        assert!(token_form(&headers, &Bytes::from_static(b"grant_type=a&code=b")).is_ok());
        assert!(token_form(&headers, &Bytes::from_static(b"code=a&code=b")).is_err());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(token_form(&headers, &Bytes::from_static(b"grant_type=a")).is_err());
    }
}
