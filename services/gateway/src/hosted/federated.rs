//! Federated sign-in at a pool's domain: the redirect to an identity provider, bound
//! to the browser by a cookie holding the sign-in's `state`, and the provider's answer
//! at `/oauth2/idpresponse` (a query, or a form post as Sign in with Apple sends it).

use std::fmt::Write;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use portcullis_errors::ErrorCode;
use portcullis_proto::authn::v1 as authn;
use portcullis_proto::federation::v1 as fed;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::pages::{self, Customization};
use super::signin::{
    BROWSER_SESSION_SECONDS, answers_in_fragment, authorize_request, callback_url, decision,
    unavailable,
};
use super::{AuthParams, Hosted, SESSION_COOKIE, cookie, page_response, redirect};
use crate::AppState;

/// The cookie binding a sign-in at a provider to the browser that started it, so that
/// an answer cannot be replayed into another browser (login CSRF).
const STATE_COOKIE: &str = "portcullis-idp-state";
/// As long as the sign-in may stay at the provider (the federation service's limit).
const STATE_COOKIE_SECONDS: u64 = 600;

/// The redirect to a provider, with the state cookie.
pub(super) fn to_provider(hosted: &Hosted, url: &str, status: StatusCode) -> Response {
    // An OAuth provider gets the sign-in's `state`; a SAML provider its `RelayState`.
    let state = query_value(url, "state")
        .or_else(|| query_value(url, "RelayState"))
        .unwrap_or_default();
    let mut response = redirect(status, url);
    // Sign in with Apple posts its answer from its own site: the cookie must go with a
    // cross-site POST, which browsers allow only for `SameSite=None; Secure` cookies.
    let same_site = if hosted.secure { "None; Secure" } else { "Lax" };
    let text = format!(
        "{STATE_COOKIE}={state}; Path={}; Max-Age={STATE_COOKIE_SECONDS}; HttpOnly; SameSite={same_site}",
        hosted.cookie_path
    );
    if let Ok(value) = HeaderValue::from_str(&text) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// One parameter of a URL's query, decoded.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn error_page(text: &str) -> Response {
    page_response(
        StatusCode::BAD_REQUEST,
        &pages::error_page(&Customization::default(), text),
    )
}

/// Social providers, named after their types, and how their buttons read.
const SOCIAL_LABELS: &[(&str, &str)] = &[
    ("Google", "Continue with Google"),
    ("Facebook", "Continue with Facebook"),
    ("LoginWithAmazon", "Continue with Amazon"),
    ("SignInWithApple", "Continue with Apple"),
];

/// The sign-in page's other ways in: a button per provider the client allows, and,
/// when a SAML or OIDC provider is among them, a corporate email whose domain picks
/// the provider (`idp_identifier`).
pub(super) fn provider_choices(
    hosted: &Hosted,
    custom: &Customization,
    params: &AuthParams,
) -> String {
    if custom.providers.is_empty() {
        return String::new();
    }
    let mut out = String::from(r#"<div class="idpButtons-customizable">"#);
    if custom.pool_sign_in {
        out.push_str(r#"<p class="textDescription-customizable">Or sign in with</p>"#);
    }
    for provider in &custom.providers {
        let label = SOCIAL_LABELS
            .iter()
            .find(|(name, _)| name == provider)
            .map_or_else(
                || format!("Continue with {provider}"),
                |(_, label)| (*label).to_owned(),
            );
        let mut with = params.clone();
        with.identity_provider.clone_from(provider);
        let _ = write!(
            out,
            r#"<p><a class="idpButton-customizable" href="{}">{}</a></p>"#,
            pages::escape(&hosted.url("/oauth2/authorize", &with)),
            pages::escape(&label),
        );
    }
    let corporate = custom
        .providers
        .iter()
        .any(|p| !SOCIAL_LABELS.iter().any(|(name, _)| name == p));
    if corporate {
        let mut without = params.clone();
        without.identity_provider.clear();
        let hidden: String = without
            .pairs()
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(name, value)| {
                format!(
                    r#"<input type="hidden" name="{}" value="{}">"#,
                    pages::escape(name),
                    pages::escape(value)
                )
            })
            .collect();
        let _ = write!(
            out,
            r#"<form method="get" action="{action}" novalidate>{hidden}{field}<button type="submit" class="submitButton-customizable">Sign in with your corporate email</button></form>"#,
            action = pages::escape(&format!("{}/oauth2/authorize", hosted.base)),
            field = pages::input("idp_identifier", "Corporate email", "email", "", "email"),
        );
    }
    out.push_str("</div>");
    out
}

/// The provider whose `IdpIdentifiers` include `identifier`: for an email address, its
/// domain first.
pub(super) async fn provider_of_identifier(
    state: &AppState,
    hosted: &Hosted,
    identifier: &str,
) -> Result<String, Response> {
    let domain = identifier.rsplit_once('@').map(|(_, domain)| domain);
    for candidate in domain.into_iter().chain(std::iter::once(identifier)) {
        let found = state
            .federation
            .clone()
            .get_identity_provider_by_identifier(fed::IdentifierRef {
                user_pool_id: hosted.pool_id.clone(),
                idp_identifier: candidate.to_owned(),
            })
            .await;
        match found {
            Ok(provider) => return Ok(provider.into_inner().provider_name),
            Err(status) => {
                let err = portcullis_errors::ApiError::from(status);
                if !matches!(
                    err.code,
                    ErrorCode::ResourceNotFoundException | ErrorCode::InvalidParameterException
                ) {
                    return Err(unavailable(&err));
                }
            }
        }
    }
    Err(error_page(
        "invalid_request: no identity provider has this identifier.",
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProviderAnswer {
    state: String,
    code: String,
    error: String,
    error_description: String,
}

pub async fn idp_response_query(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Query(answer): Query<ProviderAnswer>,
) -> Response {
    idp_response(&state, &hosted, &headers, answer, StatusCode::FOUND).await
}

pub async fn idp_response_form(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(answer): Form<ProviderAnswer>,
) -> Response {
    idp_response(&state, &hosted, &headers, answer, StatusCode::SEE_OTHER).await
}

/// Single logout at the SAML provider a session came from, where it is on: the URL of
/// the provider's logout with a request whose answer continues to `location`.
pub(super) async fn provider_logout(
    state: &AppState,
    hosted: &Hosted,
    ended: &authn::EndBrowserSessionResponse,
    location: &str,
) -> Result<Option<String>, Response> {
    let started = state
        .federation
        .clone()
        .start_logout(fed::StartLogoutRequest {
            user_pool_id: ended.pool_id.clone(),
            provider_name: ended.provider.clone(),
            name_id: ended.name_id.clone(),
            session_index: ended.session_index.clone(),
            callback_url: format!("{}/saml2/logout", hosted.base),
            carried: location.to_owned(),
        })
        .await;
    match started {
        Ok(started) => {
            let url = started.into_inner().redirect_url;
            Ok((!url.is_empty()).then_some(url))
        }
        Err(status) => Err(unavailable(&status.into())),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogoutAnswer {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "SAMLRequest")]
    saml_request: String,
    #[serde(rename = "RelayState")]
    relay_state: String,
}

/// `GET /saml2/logout`: the provider's answer to a single logout (on to where the app
/// asked to go), or the provider's own logout request (the browser's session of that
/// user ends, and the provider gets its signed answer).
pub async fn saml_logout(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(answer): Query<LogoutAnswer>,
) -> Response {
    if !answer.saml_request.is_empty() {
        return provider_signed_out(&state, &hosted, &headers, uri.query().unwrap_or_default())
            .await;
    }
    if answer.saml_response.is_empty() {
        return error_page("invalid_request: SAMLRequest or SAMLResponse is required.");
    }
    let done = state
        .federation
        .clone()
        .complete_logout(fed::CompleteLogoutRequest {
            state: answer.relay_state,
            saml_response: answer.saml_response,
        })
        .await;
    match done {
        Ok(done) => redirect(StatusCode::FOUND, &done.into_inner().carried),
        Err(status) => {
            let err = portcullis_errors::ApiError::from(status);
            if err.code == ErrorCode::NotAuthorizedException {
                return error_page(&err.message);
            }
            unavailable(&err)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MetadataQuery {
    identity_provider: String,
}

/// `/saml2/metadata`: the pool's service-provider metadata for this domain, to give a
/// SAML identity provider; `?identity_provider=<name>` adds that provider's encryption
/// certificate (while its `EncryptedResponses` is on).
pub async fn saml_metadata(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    Query(query): Query<MetadataQuery>,
) -> Response {
    let answer = state
        .federation
        .clone()
        .service_provider_metadata(fed::ServiceProviderMetadataRequest {
            user_pool_id: hosted.pool_id.clone(),
            base_url: hosted.base.clone(),
            provider_name: query.identity_provider,
        })
        .await;
    match answer {
        Ok(answer) => {
            let mut response = Response::new(answer.into_inner().xml.into());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            response
        }
        Err(status) => {
            let err = portcullis_errors::ApiError::from(status);
            if err.code == ErrorCode::ResourceNotFoundException {
                let mut page = error_page(&err.message);
                *page.status_mut() = StatusCode::NOT_FOUND;
                return page;
            }
            unavailable(&err)
        }
    }
}

/// A provider's `LogoutRequest`: checked by the federation service; this browser's
/// session ends if it is that provider's session of that user.
async fn provider_signed_out(
    state: &AppState,
    hosted: &Hosted,
    headers: &HeaderMap,
    query: &str,
) -> Response {
    let received = state
        .federation
        .clone()
        .receive_logout(fed::ReceiveLogoutRequest {
            user_pool_id: hosted.pool_id.clone(),
            query: query.to_owned(),
        })
        .await;
    let received = match received {
        Ok(received) => received.into_inner(),
        Err(status) => {
            let err = portcullis_errors::ApiError::from(status);
            if err.code == ErrorCode::NotAuthorizedException {
                return error_page(&err.message);
            }
            return unavailable(&err);
        }
    };
    let mut response = redirect(StatusCode::FOUND, &received.redirect_url);
    if let Some(session) = cookie(headers, SESSION_COOKIE) {
        let request = authn::EndBrowserSessionRequest {
            browser_session: session,
            only_provider: received.provider_name,
            only_name_id: received.name_id,
        };
        match state.authn.clone().end_browser_session(request).await {
            Ok(ended) if !ended.get_ref().sub.is_empty() => {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, hosted.set_cookie(SESSION_COOKIE, "", 0));
            }
            Ok(_) => {}
            Err(status) => return unavailable(&status.into()),
        }
    }
    response
}

/// A SAML provider's answer at the assertion consumer service.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SamlAnswer {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: String,
}

/// `POST /saml2/idpresponse`: a SAML provider's response, posted by the browser, with
/// the sign-in's state as `RelayState`.
pub async fn saml_response(
    State(state): State<Arc<AppState>>,
    hosted: Hosted,
    headers: HeaderMap,
    Form(answer): Form<SamlAnswer>,
) -> Response {
    // Started at the provider: `RelayState` is the authorization request's query.
    if answer.relay_state.contains("client_id=") {
        return unsolicited(&state, &hosted, answer).await;
    }
    let answer = ProviderAnswer {
        state: answer.relay_state,
        code: answer.saml_response,
        ..ProviderAnswer::default()
    };
    idp_response(&state, &hosted, &headers, answer, StatusCode::SEE_OTHER).await
}

/// An IdP-initiated SAML sign-in: the response and, in `RelayState`, the authorization
/// request it is for (`client_id`, `redirect_uri`, `response_type`, `scope`, and
/// `identity_provider` or `idp_identifier`).
async fn unsolicited(state: &AppState, hosted: &Hosted, answer: SamlAnswer) -> Response {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Relay {
        #[serde(flatten)]
        params: AuthParams,
        idp_identifier: String,
    }
    let Ok(relay) = serde_urlencoded::from_str::<Relay>(&answer.relay_state) else {
        return error_page("invalid_request: the RelayState is not an authorization request.");
    };
    let mut params = relay.params;
    if params.identity_provider.is_empty() && !relay.idp_identifier.is_empty() {
        match provider_of_identifier(state, hosted, &relay.idp_identifier).await {
            Ok(name) => params.identity_provider = name,
            Err(response) => return response,
        }
    }
    if params.identity_provider.is_empty() || params.client_id.is_empty() {
        return error_page(
            "invalid_request: the RelayState must name the client and the identity provider.",
        );
    }
    let request = authn::FederatedCallbackRequest {
        correlation_id: uuid::Uuid::new_v4().to_string(),
        code: answer.saml_response,
        callback_url: format!("{}/oauth2/idpresponse", hosted.base),
        pool_id: hosted.pool_id.clone(),
        provider_name: params.identity_provider.clone(),
        client_id: params.client_id.clone(),
        carried: params.query(),
        ..Default::default()
    };
    finish(state, hosted, request, StatusCode::SEE_OTHER).await
}

/// `/oauth2/idpresponse`: the provider's answer. The user it names signs in, and the
/// authorization request that sent them to the provider continues.
async fn idp_response(
    state: &AppState,
    hosted: &Hosted,
    headers: &HeaderMap,
    answer: ProviderAnswer,
    status: StatusCode,
) -> Response {
    let bound = cookie(headers, STATE_COOKIE).unwrap_or_default();
    if answer.state.is_empty() || !bool::from(bound.as_bytes().ct_eq(answer.state.as_bytes())) {
        return error_page(
            "invalid_request: this sign-in was not started in this browser. Please sign in again.",
        );
    }
    let request = authn::FederatedCallbackRequest {
        correlation_id: uuid::Uuid::new_v4().to_string(),
        state: answer.state,
        code: answer.code,
        error: answer.error,
        error_description: answer.error_description,
        callback_url: format!("{}/oauth2/idpresponse", hosted.base),
        ..Default::default()
    };
    finish(state, hosted, request, status).await
}

/// The user the provider named signs in; the authorization request goes on.
async fn finish(
    state: &AppState,
    hosted: &Hosted,
    request: authn::FederatedCallbackRequest,
    status: StatusCode,
) -> Response {
    let done = match state.authn.clone().federated_callback(request).await {
        Ok(done) => done.into_inner(),
        Err(status) => {
            let err = portcullis_errors::ApiError::from(status);
            if err.code == ErrorCode::NotAuthorizedException {
                return error_page(&err.message);
            }
            return unavailable(&err);
        }
    };
    let params: AuthParams = serde_urlencoded::from_str(&done.carried).unwrap_or_default();
    let mut response = if done.error.is_empty() {
        let request = authorize_request(
            hosted,
            &params,
            done.browser_session.clone(),
            String::new(),
            -1,
        );
        let decided = match state.authn.clone().authorize(request).await {
            Ok(decided) => decided.into_inner(),
            Err(status) => return unavailable(&status.into()),
        };
        // The session was refused (a linked user who cannot sign in yet, say): back to
        // the provider would loop.
        if !decided.federated_redirect.is_empty() || decided.login_required {
            return error_page("invalid_request: this user cannot sign in.");
        }
        let mut response = decision(hosted, &params, decided, status)
            .unwrap_or_else(|| redirect(status, &hosted.url("/login", &params)));
        response.headers_mut().append(
            header::SET_COOKIE,
            hosted.set_cookie(
                SESSION_COOKIE,
                &done.browser_session,
                BROWSER_SESSION_SECONDS,
            ),
        );
        response
    } else {
        let url = callback_url(
            &params.redirect_uri,
            answers_in_fragment(&params),
            &[
                ("error", &done.error),
                ("error_description", &done.error_description),
                ("state", &params.state),
                ("iss", &hosted.issuer),
            ],
        );
        redirect(status, &url)
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, hosted.set_cookie(STATE_COOKIE, "", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_read_from_the_provider_url() {
        let url = "https://idp.example/authorize?client_id=a&state=s%2Fx&nonce=n";
        assert_eq!(query_value(url, "state").as_deref(), Some("s/x"));
        assert_eq!(query_value("https://x/y", "state"), None);
    }
}
