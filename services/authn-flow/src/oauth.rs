//! OAuth 2.0 and OpenID Connect for the hosted UI: browser sessions, the authorization
//! endpoint's decisions and the token endpoint's grants (RFC 6749, RFC 7636, OIDC Core).
//!
//! A hosted sign-in ends in a browser session: a random token (the cookie), stored under
//! its hash with the user and the time they authenticated. `authorize` turns a valid
//! session into an authorization code bound to the client, the redirect URI, the scopes,
//! the nonce and the PKCE challenge; the token service keeps codes, single use. Tokens
//! from these grants carry the granted scopes instead of the API's
//! `aws.cognito.signin.user.admin`, and an ID token only under `openid`.

use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Actor, actor::Kind};
use portcullis_proto::federation::v1 as fed;
use portcullis_proto::token::v1 as tok;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::auth_session::store_error;
use crate::context::{ClientInfo, Flows};
use crate::triggers::TokenSource;

/// How long a hosted-UI sign-in is remembered by the browser (Cognito: one hour).
pub const BROWSER_SESSION_TTL: Duration = Duration::from_secs(3_600);

/// The scopes that are not a resource server's.
const STANDARD_SCOPES: &[&str] = &[
    "openid",
    "email",
    "phone",
    "profile",
    "aws.cognito.signin.user.admin",
];

#[derive(Serialize, Deserialize)]
struct BrowserSession {
    pool_id: String,
    sub: String,
    /// Seconds since the epoch of the sign-in.
    auth_time: i64,
    /// Milliseconds since the epoch of the sign-in: a sign-out or disable earlier in
    /// the same second must not end it (0 in sessions stored before it was kept).
    #[serde(default)]
    started_ms: i64,
    /// The identity provider the user signed in through; empty for the pool itself.
    #[serde(default)]
    provider: String,
    /// A SAML provider's `NameID` and `SessionIndex`, for its single logout.
    #[serde(default)]
    name_id: String,
    #[serde(default)]
    session_index: String,
}

impl BrowserSession {
    fn started_ms(&self) -> i64 {
        if self.started_ms > 0 {
            self.started_ms
        } else {
            self.auth_time.saturating_mul(1_000)
        }
    }
}

fn browser_key(token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    format!("browser/{}", hex::encode(digest))
}

/// A trigger's refusal or failure, which ends a federated sign-in at the client.
fn trigger_refusal(err: &ApiError) -> bool {
    matches!(
        err.code,
        ErrorCode::UserLambdaValidationException
            | ErrorCode::UnexpectedLambdaException
            | ErrorCode::InvalidLambdaResponseException
    )
}

/// An RFC 6749 error answer of the token endpoint.
fn token_error(error: &str, description: &str) -> pb::OAuthTokenResponse {
    pb::OAuthTokenResponse {
        error: error.to_owned(),
        error_description: description.to_owned(),
        ..Default::default()
    }
}

/// An error to send back to the client's redirect URI.
fn redirect_error(error: &str, description: &str) -> pb::AuthorizeResponse {
    pb::AuthorizeResponse {
        error: error.to_owned(),
        error_description: description.to_owned(),
        ..Default::default()
    }
}

/// An error shown to the user: the request cannot be sent back to its client.
fn fatal(text: &str) -> pb::AuthorizeResponse {
    pb::AuthorizeResponse {
        fatal: text.to_owned(),
        ..Default::default()
    }
}

/// The PKCE S256 transform of a verifier (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A PKCE check: the verifier must match the challenge the code was issued for, and a
/// verifier for a code issued without a challenge is refused (a downgrade attempt).
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    match (challenge.is_empty(), verifier.is_empty()) {
        (true, true) => true,
        (false, false) => {
            valid_verifier(verifier)
                && bool::from(s256(verifier).as_bytes().ct_eq(challenge.as_bytes()))
        }
        _ => false,
    }
}

/// The scopes a request gets: those asked for, each allowed to the client, or all the
/// client's scopes when none were asked for. `None` when one is not allowed.
pub fn granted_scopes(requested: &str, allowed: &[String]) -> Option<Vec<String>> {
    let asked: Vec<&str> = requested.split_whitespace().collect();
    if asked.is_empty() {
        return Some(allowed.to_vec());
    }
    let mut granted: Vec<String> = Vec::new();
    for scope in asked {
        if !allowed.iter().any(|a| a == scope) {
            return None;
        }
        if !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_owned());
        }
    }
    Some(granted)
}

impl ClientInfo {
    fn oauth_enabled(&self) -> bool {
        self.settings.allowed_oauth_flows_user_pool_client
    }

    fn allows_oauth_flow(&self, flow: &str) -> bool {
        self.settings.allowed_oauth_flows.iter().any(|f| f == flow)
    }

    /// Client authentication at the token endpoint: a confidential client proves its
    /// secret (any current one, in constant time); a public client sends none.
    fn authenticates(&self, given: &str) -> bool {
        let secrets = self.secrets();
        if secrets.is_empty() {
            return given.is_empty();
        }
        secrets.iter().fold(false, |found, secret| {
            found | bool::from(secret.as_bytes().ct_eq(given.as_bytes()))
        })
    }
}

impl Flows {
    /// Ends a hosted sign-in with a browser session instead of tokens.
    pub(crate) async fn open_browser_session(
        &self,
        user: &dir::User,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        self.open_session_through(user, "", "", "").await
    }

    /// A browser session of a user who signed in through `provider` (empty: the pool).
    async fn open_session_through(
        &self,
        user: &dir::User,
        provider: &str,
        name_id: &str,
        session_index: &str,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let mut random = [0u8; 48];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| ApiError::internal())?;
        let token = URL_SAFE_NO_PAD.encode(random);
        let now_ms = self.clock.now_ms();
        let session = BrowserSession {
            pool_id: user.pool_id.clone(),
            sub: user.sub.clone(),
            auth_time: now_ms / 1_000,
            started_ms: now_ms,
            provider: provider.to_owned(),
            name_id: name_id.to_owned(),
            session_index: session_index.to_owned(),
        };
        let value = Bytes::from(serde_json::to_vec(&session).map_err(|_| ApiError::internal())?);
        self.sessions
            .put(&browser_key(&token), value, BROWSER_SESSION_TTL)
            .await
            .map_err(store_error)?;
        Ok(pb::InitiateAuthResponse {
            browser_session: token,
            ..Default::default()
        })
    }

    async fn browser_session(&self, token: &str) -> Result<Option<BrowserSession>, ApiError> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let raw = self
            .sessions
            .get(&browser_key(token))
            .await
            .map_err(store_error)?;
        Ok(raw.and_then(|raw| serde_json::from_slice(&raw).ok()))
    }

    pub async fn end_browser_session(
        &self,
        req: pb::EndBrowserSessionRequest,
    ) -> Result<pb::EndBrowserSessionResponse, ApiError> {
        if req.browser_session.is_empty() || req.browser_session.len() > 256 {
            return Ok(pb::EndBrowserSessionResponse::default());
        }
        if !req.only_provider.is_empty() {
            let current = self.browser_session(&req.browser_session).await?;
            let theirs = current.is_some_and(|s| {
                s.provider == req.only_provider
                    && bool::from(s.name_id.as_bytes().ct_eq(req.only_name_id.as_bytes()))
            });
            if !theirs {
                return Ok(pb::EndBrowserSessionResponse::default());
            }
        }
        let raw = self
            .sessions
            .take(&browser_key(&req.browser_session))
            .await
            .map_err(store_error)?;
        let session: Option<BrowserSession> = raw.and_then(|raw| serde_json::from_slice(&raw).ok());
        Ok(
            session.map_or_else(Default::default, |s| pb::EndBrowserSessionResponse {
                pool_id: s.pool_id,
                sub: s.sub,
                provider: s.provider,
                name_id: s.name_id,
                session_index: s.session_index,
            }),
        )
    }

    /// The user a session or code names, if they may still have tokens: they exist, are
    /// enabled, and have not signed out (or had the session revoked) since.
    async fn active_user(
        &self,
        pool_id: &str,
        sub: &str,
        origin_jti: &str,
        started_ms: i64,
    ) -> Result<Option<dir::User>, ApiError> {
        let request = dir::GetUserRequest {
            pool_id: pool_id.to_owned(),
            key: Some(dir::get_user_request::Key::Sub(sub.to_owned())),
            client_id: String::new(),
        };
        let user = match self.directory.clone().get_user(request).await {
            Ok(user) => user.into_inner(),
            Err(status) => {
                let err = ApiError::from(status);
                if err.code == ErrorCode::UserNotFoundException {
                    return Ok(None);
                }
                return Err(err);
            }
        };
        let revoked = portcullis_types::session_revoked(
            user.signed_out_ms,
            &user.revoked_sessions,
            origin_jti,
            started_ms,
        );
        let signs_in = matches!(user.status.as_str(), "CONFIRMED" | "EXTERNAL_PROVIDER");
        Ok((user.enabled && !revoked && signs_in).then_some(user))
    }

    /// The authorization endpoint's decision. The gateway shows `fatal`, redirects
    /// `error` or the grant, or shows the sign-in page when `login_required`.
    pub async fn authorize(
        &self,
        req: pb::AuthorizeRequest,
    ) -> Result<pb::AuthorizeResponse, ApiError> {
        let client = match self.client(&req.client_id).await {
            Ok(client) if client.pool_id() == req.pool_id => client,
            Ok(_) => return Ok(fatal("invalid_request: the client does not exist.")),
            Err(err)
                if matches!(
                    err.code,
                    ErrorCode::ResourceNotFoundException | ErrorCode::InvalidParameterException
                ) =>
            {
                return Ok(fatal("invalid_request: the client does not exist."));
            }
            Err(err) => return Err(err),
        };
        if req.redirect_uri.is_empty() {
            return Ok(fatal("invalid_request: redirect_uri is required."));
        }
        // Exact string comparison: no prefix, case, encoding or userinfo leeway.
        if !client.settings.callback_urls.contains(&req.redirect_uri) {
            return Ok(fatal(
                "redirect_mismatch: the redirect URI is not registered for this client.",
            ));
        }
        if !client.oauth_enabled() {
            return Ok(redirect_error(
                "unauthorized_client",
                "Client is not enabled for OAuth2.0 flows.",
            ));
        }
        let implicit = match req.response_type.as_str() {
            "code" => false,
            "token" => true,
            "" => {
                return Ok(redirect_error(
                    "invalid_request",
                    "response_type is required",
                ));
            }
            _ => {
                return Ok(redirect_error(
                    "unsupported_response_type",
                    "response_type must be code or token",
                ));
            }
        };
        if req.request_object {
            return Ok(redirect_error("request_not_supported", ""));
        }
        if req.request_uri {
            return Ok(redirect_error("request_uri_not_supported", ""));
        }
        // Tokens never go in a query string; a code may go in either part.
        let fragment = match (req.response_mode.as_str(), implicit) {
            ("", _) => implicit,
            ("fragment", _) => true,
            ("query", false) => false,
            _ => {
                return Ok(redirect_error(
                    "invalid_request",
                    "response_mode is not supported",
                ));
            }
        };
        if !client.allows_oauth_flow(if implicit { "implicit" } else { "code" }) {
            return Ok(redirect_error(
                "unauthorized_client",
                "The client may not use this response_type.",
            ));
        }
        let Some(scopes) = granted_scopes(&req.scope, &client.settings.allowed_oauth_scopes) else {
            return Ok(redirect_error(
                "invalid_scope",
                "A requested scope is not allowed.",
            ));
        };
        let supported = &client.settings.supported_identity_providers;
        let supports = |provider: &str| {
            let name = if provider.is_empty() {
                "COGNITO"
            } else {
                provider
            };
            supported.iter().any(|p| p == name)
        };
        // The provider asked for; `COGNITO` is the pool itself (written empty here).
        let requested = match req.identity_provider.as_str() {
            "COGNITO" => "",
            other => other,
        };
        if !req.identity_provider.is_empty() && !supports(requested) {
            return Ok(if requested.is_empty() {
                redirect_error(
                    "unauthorized_client",
                    "The client does not allow sign-in with the user pool.",
                )
            } else {
                redirect_error(
                    "invalid_request",
                    "The identity provider is not configured for this client.",
                )
            });
        }
        match (
            req.code_challenge.as_str(),
            req.code_challenge_method.as_str(),
        ) {
            ("", "") => {}
            (challenge, "S256")
                if challenge.len() == 43
                    && challenge
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {}
            (_, "S256") => {
                return Ok(redirect_error("invalid_request", "Invalid code_challenge"));
            }
            _ => {
                return Ok(redirect_error(
                    "invalid_request",
                    "code_challenge_method must be S256",
                ));
            }
        }
        if req.max_age < -1 {
            return Ok(redirect_error("invalid_request", "Invalid max_age"));
        }
        let prompts: Vec<&str> = req.prompt.split_whitespace().collect();
        if prompts
            .iter()
            .any(|p| !matches!(*p, "none" | "login" | "consent" | "select_account"))
            || (prompts.contains(&"none") && prompts.len() > 1)
        {
            return Ok(redirect_error("invalid_request", "Invalid prompt"));
        }
        let silent_only = prompts.contains(&"none");

        let now = self.clock.now_ms() / 1_000;
        let session = self
            .browser_session(&req.browser_session)
            .await?
            .filter(|s| s.pool_id == req.pool_id)
            .filter(|s| req.max_age < 0 || now.saturating_sub(s.auth_time) <= req.max_age);
        // A session serves a request for its own provider (or for none in particular),
        // when the client allows that provider.
        let session = session.filter(|s| {
            supports(&s.provider) && (req.identity_provider.is_empty() || s.provider == requested)
        });
        let user = match session {
            Some(session) => self
                .active_user(&session.pool_id, &session.sub, "", session.started_ms())
                .await?
                .map(|user| (user, session.auth_time)),
            None => None,
        };
        let Some((user, auth_time)) = user else {
            if silent_only {
                return Ok(redirect_error("login_required", "The user must sign in."));
            }
            // Straight to a provider: the one asked for, or the client's only one when
            // it does not allow the pool's own sign-in.
            let external: Vec<&String> = supported.iter().filter(|p| *p != "COGNITO").collect();
            let provider = if !requested.is_empty() {
                Some(requested.to_owned())
            } else if !supports("") && external.len() == 1 {
                external.first().map(|p| (*p).clone())
            } else {
                None
            };
            if let Some(provider) = provider {
                return self.federate(&req, &provider).await;
            }
            if !supports("") && external.is_empty() {
                return Ok(redirect_error(
                    "unauthorized_client",
                    "The client does not allow sign-in with the user pool.",
                ));
            }
            // The sign-in page: the pool's form, the providers' buttons, or both.
            return Ok(pb::AuthorizeResponse {
                login_required: true,
                ..Default::default()
            });
        };
        if implicit {
            let mut request = self
                .issue_request(&client, &user, auth_time, String::new(), false)
                .await?;
            request.oauth = true;
            request.scopes = scopes;
            request.nonce = req.nonce;
            self.pre_token_generation(&client, &user, TokenSource::HostedAuth, &mut request)
                .await?;
            let tokens = self.token.clone().issue_tokens(request).await?.into_inner();
            return Ok(pb::AuthorizeResponse {
                access_token: tokens.access_token,
                id_token: tokens.id_token,
                expires_in: i64::try_from(tokens.expires_in).unwrap_or(i64::MAX),
                response_mode: "fragment".into(),
                ..Default::default()
            });
        }
        let grant = tok::AuthorizationCodeGrant {
            pool_id: req.pool_id,
            client_id: req.client_id,
            sub: user.sub,
            redirect_uri: req.redirect_uri,
            scopes,
            nonce: req.nonce,
            code_challenge: req.code_challenge,
            auth_time,
            origin_jti: String::new(),
        };
        let code = self
            .token
            .clone()
            .create_authorization_code(grant)
            .await?
            .into_inner()
            .code;
        Ok(pb::AuthorizeResponse {
            code,
            response_mode: if fragment { "fragment" } else { "query" }.into(),
            ..Default::default()
        })
    }

    /// Sends the browser to `provider` to sign in; it comes back to the callback.
    async fn federate(
        &self,
        req: &pb::AuthorizeRequest,
        provider: &str,
    ) -> Result<pb::AuthorizeResponse, ApiError> {
        let started = self
            .federation
            .clone()
            .start_sign_in(fed::StartSignInRequest {
                user_pool_id: req.pool_id.clone(),
                provider_name: provider.to_owned(),
                callback_url: req.idp_response_url.clone(),
                carried: req.carried.clone(),
                client_id: req.client_id.clone(),
            })
            .await
            .map_err(ApiError::from);
        match started {
            Ok(started) => Ok(pb::AuthorizeResponse {
                federated_redirect: started.into_inner().redirect_url,
                ..Default::default()
            }),
            Err(err) if err.code == ErrorCode::NotAuthorizedException => {
                Ok(redirect_error("invalid_request", &err.message))
            }
            Err(err) => Err(err),
        }
    }

    /// The identity provider's answer: who it names becomes (or is) a user of the
    /// pool, with a browser session the authorization request then continues with.
    pub async fn federated_callback(
        &self,
        req: pb::FederatedCallbackRequest,
    ) -> Result<pb::FederatedCallbackResponse, ApiError> {
        let done = self
            .federation
            .clone()
            .complete_sign_in(fed::CompleteSignInRequest {
                state: req.state,
                code: req.code,
                error: req.error,
                error_description: req.error_description,
                callback_url: req.callback_url,
                user_pool_id: req.pool_id,
                provider_name: req.provider_name,
                client_id: req.client_id,
                carried: req.carried,
            })
            .await?
            .into_inner();
        let refused = |error: &str, description: &str| pb::FederatedCallbackResponse {
            carried: done.carried.clone(),
            error: error.to_owned(),
            error_description: description.to_owned(),
            ..Default::default()
        };
        if !done.error.is_empty() {
            // The provider's own words stay with the provider.
            tracing::info!(
                provider = done.provider_name,
                error = done.error,
                "identity provider refused the sign-in"
            );
            return Ok(refused(
                "access_denied",
                "The identity provider refused the sign-in.",
            ));
        }
        let mut attributes: Vec<portcullis_proto::events::v1::Attribute> = done
            .attributes
            .iter()
            .map(|(name, value)| portcullis_proto::events::v1::Attribute {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        let provision = |attributes: Vec<portcullis_proto::events::v1::Attribute>,
                         existing_only: bool| {
            let request = dir::ProvisionFederatedUserRequest {
                caller: Some(dir::Caller {
                    region: String::new(),
                    actor: Some(portcullis_proto::events::v1::Actor {
                        kind: portcullis_proto::events::v1::actor::Kind::System as i32,
                        id: String::new(),
                    }),
                    correlation_id: req.correlation_id.clone(),
                }),
                pool_id: done.user_pool_id.clone(),
                provider_name: done.provider_name.clone(),
                provider_type: done.provider_type.clone(),
                issuer: done.issuer.clone(),
                subject: done.subject.clone(),
                attributes,
                existing_only,
            };
            let mut directory = self.directory.clone();
            async move {
                directory
                    .provision_federated_user(request)
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(ApiError::from)
            }
        };
        let config = self
            .pool(&done.user_pool_id)
            .await?
            .settings
            .and_then(|s| s.lambda_config)
            .unwrap_or_default();
        // Inbound federation runs at every sign-in and may replace the mapped attributes.
        let sources: Value = serde_json::from_str(&done.sources_json).unwrap_or(Value::Null);
        let federated_name = format!("{}_{}", done.provider_name, done.subject);
        let replaced = self
            .inbound_federation(
                &config,
                &done.user_pool_id,
                &federated_name,
                &done.client_id,
                &done.provider_name,
                &done.provider_type,
                sources,
            )
            .await;
        match replaced {
            Ok(Some(replaced)) => attributes = replaced,
            Ok(None) => {}
            Err(err) if trigger_refusal(&err) => {
                return Ok(refused("invalid_request", &err.message));
            }
            Err(err) => return Err(err),
        }
        // Pre sign-up runs before a provider's user is created (not on later sign-ins,
        // nor for a linked user).
        let mut provisioned = None;
        if !config.pre_sign_up.is_empty() {
            match provision(attributes.clone(), true).await {
                Ok(user) => provisioned = Some(Ok(user)),
                Err(err) if err.code == ErrorCode::UserNotFoundException => {
                    let user_name = format!("{}_{}", done.provider_name, done.subject);
                    let caller = crate::triggers::Caller {
                        client_id: &done.client_id,
                        context: None,
                    };
                    let answer = self
                        .pre_sign_up(
                            &config,
                            "PreSignUp_ExternalProvider",
                            &done.user_pool_id,
                            &user_name,
                            &caller,
                            &attributes,
                            &[],
                        )
                        .await;
                    match answer {
                        Ok(answer) => answer.verify(&mut attributes),
                        Err(err) if trigger_refusal(&err) => {
                            return Ok(refused("invalid_request", &err.message));
                        }
                        Err(err) => return Err(err),
                    }
                }
                Err(err) => provisioned = Some(Err(err)),
            }
        }
        let provisioned = match provisioned {
            Some(done) => done,
            None => provision(attributes, false).await,
        };
        let user = match provisioned {
            Ok(user) => user,
            Err(err)
                if matches!(
                    err.code,
                    ErrorCode::InvalidParameterException
                        | ErrorCode::NotAuthorizedException
                        | ErrorCode::AliasExistsException
                        | ErrorCode::UsernameExistsException
                ) =>
            {
                return Ok(refused("invalid_request", &err.message));
            }
            Err(err) => return Err(err),
        };
        let session = self
            .open_session_through(
                &user,
                &done.provider_name,
                if done.provider_type == "SAML" {
                    &done.subject
                } else {
                    ""
                },
                &done.session_index,
            )
            .await?;
        Ok(pb::FederatedCallbackResponse {
            carried: done.carried,
            browser_session: session.browser_session,
            ..Default::default()
        })
    }

    /// The token endpoint: `authorization_code` (with PKCE), `refresh_token` and
    /// `client_credentials`. OAuth errors are answers, not failures.
    pub async fn oauth_token(
        &self,
        req: pb::OAuthTokenRequest,
    ) -> Result<pb::OAuthTokenResponse, ApiError> {
        let client = match self.client(&req.client_id).await {
            Ok(client) if client.pool_id() == req.pool_id => client,
            Ok(_) => {
                return Ok(token_error(
                    "invalid_client",
                    "Client authentication failed",
                ));
            }
            Err(err)
                if matches!(
                    err.code,
                    ErrorCode::ResourceNotFoundException | ErrorCode::InvalidParameterException
                ) =>
            {
                return Ok(token_error(
                    "invalid_client",
                    "Client authentication failed",
                ));
            }
            Err(err) => return Err(err),
        };
        if !client.authenticates(&req.client_secret) {
            return Ok(token_error(
                "invalid_client",
                "Client authentication failed",
            ));
        }
        if !client.oauth_enabled() {
            return Ok(token_error(
                "unauthorized_client",
                "Client is not enabled for OAuth2.0 flows.",
            ));
        }
        match req.grant_type.as_str() {
            "authorization_code" => self.code_grant(&client, &req).await,
            "refresh_token" => self.refresh_grant(&client, &req).await,
            "client_credentials" => self.client_credentials_grant(&client, &req).await,
            "" => Ok(token_error("invalid_request", "grant_type is required")),
            _ => Ok(token_error("unsupported_grant_type", "")),
        }
    }

    async fn code_grant(
        &self,
        client: &ClientInfo,
        req: &pb::OAuthTokenRequest,
    ) -> Result<pb::OAuthTokenResponse, ApiError> {
        if req.code.is_empty() {
            return Ok(token_error("invalid_request", "code is required"));
        }
        if !client.allows_oauth_flow("code") {
            return Ok(token_error("unauthorized_client", ""));
        }
        let request = tok::RedeemAuthorizationCodeRequest {
            code: req.code.clone(),
            client_id: req.client_id.clone(),
        };
        let redeemed = match self.token.clone().redeem_authorization_code(request).await {
            Ok(redeemed) => redeemed.into_inner(),
            Err(status)
                if ApiError::from(status.clone()).code == ErrorCode::NotAuthorizedException =>
            {
                return Ok(token_error("invalid_grant", ""));
            }
            Err(status) => return Err(status.into()),
        };
        if let Some(replayed) = redeemed.replayed {
            // A code used twice: whoever holds it may not be its owner, so what it issued
            // is revoked (RFC 6749 §4.1.2).
            self.revoke_code_session(client, &replayed, &req.region, &req.correlation_id)
                .await?;
            return Ok(token_error("invalid_grant", ""));
        }
        let Some(grant) = redeemed.grant else {
            return Ok(token_error("invalid_grant", ""));
        };
        if grant.redirect_uri != req.redirect_uri
            || !pkce_matches(&grant.code_challenge, &req.code_verifier)
        {
            return Ok(token_error("invalid_grant", ""));
        }
        let Some(user) = self
            .active_user(
                &grant.pool_id,
                &grant.sub,
                &grant.origin_jti,
                grant.auth_time.saturating_mul(1_000),
            )
            .await?
        else {
            return Ok(token_error("invalid_grant", ""));
        };
        let mut request = self
            .issue_request(client, &user, grant.auth_time, grant.origin_jti, true)
            .await?;
        request.oauth = true;
        request.scopes = grant.scopes;
        request.nonce = grant.nonce;
        self.pre_token_generation(client, &user, TokenSource::HostedAuth, &mut request)
            .await?;
        let tokens = self.token.clone().issue_tokens(request).await?.into_inner();
        Ok(pb::OAuthTokenResponse {
            access_token: tokens.access_token,
            id_token: tokens.id_token,
            refresh_token: tokens.refresh_token,
            expires_in: i64::try_from(tokens.expires_in).unwrap_or(i64::MAX),
            ..Default::default()
        })
    }

    async fn revoke_code_session(
        &self,
        client: &ClientInfo,
        grant: &tok::AuthorizationCodeGrant,
        region: &str,
        correlation_id: &str,
    ) -> Result<(), ApiError> {
        let refresh_ms = i64::try_from(client.validity().refresh_seconds.saturating_mul(1_000))
            .unwrap_or(i64::MAX);
        let request = dir::RevokeSessionsRequest {
            caller: Some(dir::Caller {
                region: region.to_owned(),
                actor: Some(Actor {
                    kind: Kind::User as i32,
                    id: grant.sub.clone(),
                }),
                correlation_id: correlation_id.to_owned(),
            }),
            user: Some(dir::UserRef {
                pool_id: grant.pool_id.clone(),
                username: String::new(),
                sub: grant.sub.clone(),
            }),
            origin_jti: grant.origin_jti.clone(),
            expires_ms: self.clock.now_ms().saturating_add(refresh_ms),
            reason: "AUTHORIZATION_CODE_REUSE".into(),
        };
        match self.directory.clone().revoke_sessions(request).await {
            Ok(_) => Ok(()),
            Err(status)
                if ApiError::from(status.clone()).code == ErrorCode::UserNotFoundException =>
            {
                Ok(())
            }
            Err(status) => Err(status.into()),
        }
    }

    async fn refresh_grant(
        &self,
        client: &ClientInfo,
        req: &pb::OAuthTokenRequest,
    ) -> Result<pb::OAuthTokenResponse, ApiError> {
        if req.refresh_token.is_empty() {
            return Ok(token_error("invalid_request", "refresh_token is required"));
        }
        let refresh = crate::sessions::RefreshRequest {
            refresh_token: &req.refresh_token,
            device_key: "",
            region: &req.region,
            correlation_id: &req.correlation_id,
        };
        match self.refresh_session(client, refresh, |_| Ok(())).await {
            Ok(response) => {
                let result = response.authentication_result.unwrap_or_default();
                Ok(pb::OAuthTokenResponse {
                    access_token: result.access_token,
                    id_token: result.id_token,
                    refresh_token: result.refresh_token,
                    expires_in: result.expires_in,
                    ..Default::default()
                })
            }
            Err(err)
                if matches!(
                    err.code,
                    ErrorCode::NotAuthorizedException | ErrorCode::RefreshTokenReuseException
                ) =>
            {
                Ok(token_error("invalid_grant", ""))
            }
            Err(err) => Err(err),
        }
    }

    async fn client_credentials_grant(
        &self,
        client: &ClientInfo,
        req: &pb::OAuthTokenRequest,
    ) -> Result<pb::OAuthTokenResponse, ApiError> {
        if client.secrets().is_empty() || !client.allows_oauth_flow("client_credentials") {
            return Ok(token_error("unauthorized_client", ""));
        }
        let custom: Vec<String> = client
            .settings
            .allowed_oauth_scopes
            .iter()
            .filter(|s| !STANDARD_SCOPES.contains(&s.as_str()))
            .cloned()
            .collect();
        let Some(scopes) = granted_scopes(&req.scope, &custom) else {
            return Ok(token_error("invalid_scope", ""));
        };
        let mut request = tok::IssueTokensRequest {
            pool_id: client.pool_id().to_owned(),
            client_id: client.client.client_id.clone(),
            validity: Some(client.validity()),
            client_credentials: true,
            scopes,
            ..Default::default()
        };
        self.pre_token_generation_for_client(client, &mut request)
            .await?;
        let tokens = self.token.clone().issue_tokens(request).await?.into_inner();
        Ok(pb::OAuthTokenResponse {
            access_token: tokens.access_token,
            expires_in: i64::try_from(tokens.expires_in).unwrap_or(i64::MAX),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(pkce_matches(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            verifier
        ));
    }

    #[test]
    fn pkce_refuses_wrong_missing_and_unasked_verifiers() {
        let challenge = s256(&"a".repeat(43));
        assert!(!pkce_matches(&challenge, &"b".repeat(43)));
        assert!(!pkce_matches(&challenge, ""));
        // A verifier for a code issued without a challenge: a downgrade, refused.
        assert!(!pkce_matches("", &"a".repeat(43)));
        assert!(pkce_matches("", ""));
        // Too short, or outside the unreserved characters.
        let short = "a".repeat(42);
        assert!(!pkce_matches(&s256(&short), &short));
        let odd = format!("{}+", "a".repeat(43));
        assert!(!pkce_matches(&s256(&odd), &odd));
    }

    #[test]
    fn scopes_default_to_the_clients_and_must_each_be_allowed() {
        let allowed = vec![
            "openid".to_owned(),
            "email".to_owned(),
            "api/read".to_owned(),
        ];
        assert_eq!(granted_scopes("", &allowed), Some(allowed.clone()));
        assert_eq!(
            granted_scopes("email  openid email", &allowed),
            Some(vec!["email".to_owned(), "openid".to_owned()])
        );
        assert_eq!(granted_scopes("openid api/write", &allowed), None);
        assert_eq!(granted_scopes("OPENID", &allowed), None);
    }
}
