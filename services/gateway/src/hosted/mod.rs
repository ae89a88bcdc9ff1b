//! A pool's domain: the OAuth 2.0 / OIDC endpoints (`/oauth2/authorize`, `/oauth2/token`,
//! `/oauth2/userInfo`, `/oauth2/revoke`, `/oauth2/introspect`, `/logout`) and the hosted
//! sign-in pages, at Cognito's paths. A domain is reached by its host name (a custom
//! domain) or, for local use, under `/domain/<prefix>` of this server.
//!
//! The gateway keeps no state: the browser carries the authorization request in the
//! query string of each page (and hidden fields of each form), a CSRF token in a cookie
//! (double submit), a pending challenge's session in a cookie, and the browser session
//! token in the `cognito` cookie; authn-flow decides everything.

mod account;
mod endpoints;
mod federated;
pub mod pages;
mod signin;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::AppState;
use pages::Customization;

/// The routes of a domain, relative to its base.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/oauth2/authorize", get(signin::authorize))
        .route("/login", get(signin::login_page).post(signin::login))
        .route(
            "/mfa",
            get(signin::challenge_page).post(signin::answer_challenge),
        )
        .route("/logout", get(signin::logout))
        .route(
            "/oauth2/idpresponse",
            get(federated::idp_response_query).post(federated::idp_response_form),
        )
        .route("/saml2/idpresponse", post(federated::saml_response))
        .route("/saml2/logout", get(federated::saml_logout))
        .route("/saml2/metadata", get(federated::saml_metadata))
        .route("/signup", get(account::signup_page).post(account::signup))
        .route(
            "/confirmUser",
            get(account::confirm_page).post(account::confirm),
        )
        .route("/resendCode", post(account::resend))
        .route(
            "/forgotPassword",
            get(account::forgot_page).post(account::forgot),
        )
        .route(
            "/confirmForgotPassword",
            get(account::reset_page).post(account::reset),
        )
        .route("/oauth2/token", post(endpoints::token))
        .route(
            "/oauth2/userInfo",
            get(endpoints::user_info).post(endpoints::user_info),
        )
        .route("/oauth2/revoke", post(endpoints::revoke))
        .route("/oauth2/introspect", post(endpoints::introspect))
}

/// The domain a request came to.
pub struct Hosted {
    pub pool_id: String,
    /// Where the domain's paths start, e.g. `http://127.0.0.1:9229/domain/myapp`.
    pub base: String,
    /// The path its cookies are scoped to.
    pub cookie_path: String,
    /// Cookies are `Secure` on an https domain.
    pub secure: bool,
    /// The issuer of the pool's tokens (`iss` of authorization responses, RFC 9207).
    pub issuer: String,
}

impl FromRequestParts<Arc<AppState>> for Hosted {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let path_domain = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(name, _)| *name == "domain")
                    .map(|(_, value)| value.to_owned())
            });
        let secure_base = state.public_base_url.starts_with("https://");
        let (domain, base, cookie_path, secure) = match path_domain {
            Some(domain) => {
                let base = format!("{}/domain/{domain}", state.public_base_url);
                let path = format!(
                    "{}/domain/{domain}",
                    url_path(&state.public_base_url).trim_end_matches('/')
                );
                (domain, base, path, secure_base)
            }
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let scheme = if secure_base { "https" } else { "http" };
                let name = host.split(':').next().unwrap_or_default().to_owned();
                (
                    name,
                    format!("{scheme}://{host}"),
                    "/".to_owned(),
                    secure_base,
                )
            }
        };
        let pool_id = crate::domains::pool_of_domain(state, &domain)
            .await
            .map_err(|status| {
                let message = if status == StatusCode::NOT_FOUND {
                    "This domain does not belong to a user pool."
                } else {
                    "The service is unavailable. Please try again."
                };
                page_response(
                    status,
                    &pages::error_page(&Customization::default(), message),
                )
            })?;
        let issuer = format!("{}/{pool_id}", state.public_base_url);
        Ok(Self {
            pool_id,
            base,
            cookie_path,
            secure,
            issuer,
        })
    }
}

/// The path part of an absolute URL (`/` when it has none).
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// The authorization request, as carried from `/oauth2/authorize` through the pages.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthParams {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_type: String,
    pub scope: String,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub identity_provider: String,
    pub login_hint: String,
    pub response_mode: String,
}

impl AuthParams {
    pub fn pairs(&self) -> [(&'static str, &str); 11] {
        [
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", &self.response_type),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("identity_provider", &self.identity_provider),
            ("login_hint", &self.login_hint),
            ("response_mode", &self.response_mode),
        ]
    }

    /// The non-empty parameters as a query string.
    pub fn query(&self) -> String {
        let pairs: Vec<(&str, &str)> = self
            .pairs()
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// The cookies of a request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

impl Hosted {
    /// A `Set-Cookie` value scoped to this domain; `max_age` 0 deletes the cookie.
    pub fn set_cookie(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.cookie_path
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    pub fn url(&self, path: &str, params: &AuthParams) -> String {
        let query = params.query();
        if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        }
    }
}

pub const CSRF_COOKIE: &str = "XSRF-TOKEN";
pub const SESSION_COOKIE: &str = "cognito";
pub const CHALLENGE_COOKIE: &str = "portcullis-challenge";

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // No randomness: an empty token is refused by every check.
        return String::new();
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Double-submit CSRF check: the form's `_csrf` equals the cookie, which a page of this
/// domain set and another site can neither read nor set.
pub fn csrf_ok(headers: &HeaderMap, submitted: &str) -> bool {
    let Some(expected) = cookie(headers, CSRF_COOKIE) else {
        return false;
    };
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

/// Headers of every hosted page: no framing, no referrer, no caching, no sniffing.
pub fn protect(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

pub fn page_response(status: StatusCode, html: &str) -> Response {
    let mut response = (status, html.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    protect(headers);
    response
}

/// A redirect (302 for a GET, 303 after a POST), with the page headers.
pub fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    protect(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("XSRF-TOKEN-x=1; XSRF-TOKEN=abc; cognito=s"),
        );
        assert_eq!(cookie(&headers, CSRF_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("s"));
        assert_eq!(cookie(&headers, "other"), None);
    }

    #[test]
    fn csrf_needs_the_cookie_and_the_same_value() {
        let mut headers = HeaderMap::new();
        assert!(!csrf_ok(&headers, ""));
        assert!(!csrf_ok(&headers, "abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("XSRF-TOKEN=abc"));
        assert!(csrf_ok(&headers, "abc"));
        assert!(!csrf_ok(&headers, "abd"));
        assert!(!csrf_ok(&headers, ""));
    }

    #[test]
    fn the_authorization_request_round_trips_through_a_query() {
        let params = AuthParams {
            client_id: "c".into(),
            redirect_uri: "https://app.example/cb?x=1&y=2".into(),
            response_type: "code".into(),
            state: "a b&c".into(),
            ..Default::default()
        };
        let query = params.query();
        assert!(!query.contains("nonce"));
        let back: AuthParams = serde_urlencoded::from_str(&query).unwrap();
        assert_eq!(back.redirect_uri, params.redirect_uri);
        assert_eq!(back.state, params.state);
    }

    #[test]
    fn the_path_of_a_base_url() {
        assert_eq!(url_path("http://127.0.0.1:9229"), "/");
        assert_eq!(url_path("https://id.example.com/auth"), "/auth");
    }
}
