//! Challenges between `InitiateAuth` and `RespondToAuthChallenge`. A challenge's
//! session is a random token; only its hash is stored, with the user and client it is
//! bound to, for the client's `AuthSessionValidity`, and it is taken on use (one answer
//! per session). Implemented now: `NEW_PASSWORD_REQUIRED` for temporary passwords,
//! `PASSWORD_VERIFIER` (SRP, in `srp_flow`) and `SELECT_CHALLENGE` (`user_auth`).

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::Attribute;
use serde::{Deserialize, Serialize};

use crate::flows::{ClientInfo, Flows, policy_error};
use crate::password::{self, Policy};

pub const NEW_PASSWORD_REQUIRED: &str = "NEW_PASSWORD_REQUIRED";

/// What a challenge's session is bound to.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) challenge: String,
    pub(crate) pool_id: String,
    pub(crate) client_id: String,
    /// Empty for a name that matches no user (a client that hides which users exist).
    pub(crate) sub: String,
    pub(crate) username: String,
    /// What the challenge needs kept, e.g. a WebAuthn challenge.
    #[serde(default)]
    pub(crate) data: String,
    /// The device a `DEVICE_SRP_AUTH` challenge was opened for: the answer must name it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) device_key: String,
    /// Where a multi-step challenge is (MFA_SETUP: `associated`, `verified`; SELECT_MFA_TYPE:
    /// the factors offered).
    #[serde(default)]
    pub(crate) step: String,
    /// Wrong answers so far (an MFA code may be retried a few times).
    #[serde(default)]
    pub(crate) attempts: u32,
    /// Set when the session is stored.
    #[serde(default)]
    pub(crate) expires_ms: i64,
    /// Opened by a hosted-UI sign-in: only the hosted UI may answer it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) hosted: bool,
}

impl Session {
    /// A session for `challenge`, bound to `user` and `client`, with nothing kept yet.
    pub(crate) fn new(client: &ClientInfo, user: &dir::User, challenge: &str) -> Self {
        Self {
            challenge: challenge.to_owned(),
            pool_id: user.pool_id.clone(),
            client_id: client.client.client_id.clone(),
            sub: user.sub.clone(),
            username: user.username.clone(),
            data: String::new(),
            device_key: String::new(),
            step: String::new(),
            attempts: 0,
            expires_ms: 0,
            hosted: client.hosted,
        }
    }

    /// Whether `client` (as the API or as the hosted UI) may answer this session.
    pub(crate) fn answerable_by(&self, client: &ClientInfo) -> bool {
        self.client_id == client.client.client_id && self.hosted == client.hosted
    }
}

pub(crate) fn session_key(token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    format!("session/{}", hex::encode(digest))
}

pub(crate) fn invalid_session() -> ApiError {
    ApiError::not_authorized("Invalid session for the user, session is expired.")
}

/// A failure of the ephemeral store that holds sessions, lockout state and codes.
pub(crate) fn store_error(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "ephemeral store failure");
    ApiError::unavailable()
}

impl Flows {
    /// Opens a challenge for `user` and answers `InitiateAuth` with it.
    pub(crate) async fn challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        challenge: &str,
        parameters: HashMap<String, String>,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        self.device_challenge(client, user, challenge, parameters, String::new())
            .await
    }

    /// [`Flows::challenge`], bound to one of the user's devices.
    pub(crate) async fn device_challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        challenge: &str,
        parameters: HashMap<String, String>,
        device_key: String,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let session = Session {
            device_key,
            ..Session::new(client, user, challenge)
        };
        let token = self.open_session(client, &session).await?;
        Ok(pb::InitiateAuthResponse {
            challenge_name: challenge.to_owned(),
            session: token,
            challenge_parameters: parameters,
            ..Default::default()
        })
    }

    /// Stores `session` for the client's `AuthSessionValidity` and returns its token.
    pub(crate) async fn open_session(
        &self,
        client: &ClientInfo,
        session: &Session,
    ) -> Result<String, ApiError> {
        let mut random = [0u8; 96];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| ApiError::internal())?;
        let token = STANDARD.encode(random);
        let validity = client.session_validity();
        let session = Session {
            expires_ms: self.clock.now_ms()
                + i64::try_from(validity.as_millis()).unwrap_or(i64::MAX),
            ..session.clone()
        };
        self.store_session(&token, &session, validity).await?;
        Ok(token)
    }

    /// A session for `challenge` at `step` of a multi-step challenge, keeping `data`.
    pub(crate) async fn open_step_session(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        challenge: &str,
        step: String,
        data: String,
    ) -> Result<String, ApiError> {
        let session = Session {
            step,
            data,
            ..Session::new(client, user, challenge)
        };
        self.open_session(client, &session).await
    }

    /// Takes (spends) the session `token` if it was opened for `challenge` by `client`.
    pub(crate) async fn take_session(
        &self,
        token: &str,
        challenge: &str,
        client: &ClientInfo,
    ) -> Result<Session, ApiError> {
        let session = self
            .take_any_session(token)
            .await?
            .ok_or_else(invalid_session)?;
        if session.challenge != challenge || !session.answerable_by(client) {
            return Err(invalid_session());
        }
        Ok(session)
    }

    async fn store_session(
        &self,
        token: &str,
        session: &Session,
        validity: Duration,
    ) -> Result<(), ApiError> {
        let value = Bytes::from(serde_json::to_vec(session).map_err(|_| ApiError::internal())?);
        self.sessions
            .put(&session_key(token), value, validity)
            .await
            .map_err(store_error)
    }

    /// Takes (spends) a session; `None` if it expired, was used, or never existed.
    pub(crate) async fn take_any_session(&self, token: &str) -> Result<Option<Session>, ApiError> {
        if token.is_empty() {
            return Ok(None);
        }
        let raw = self
            .sessions
            .take(&session_key(token))
            .await
            .map_err(store_error)?;
        Ok(raw.and_then(|raw| serde_json::from_slice(&raw).ok()))
    }

    /// Puts a session back after a wrong answer, for the rest of its validity, if it has
    /// retries left; returns whether it did.
    pub(crate) async fn retry_session(
        &self,
        token: &str,
        mut session: Session,
        max_attempts: u32,
    ) -> Result<bool, ApiError> {
        session.attempts += 1;
        let left = session.expires_ms - self.clock.now_ms();
        if session.attempts >= max_attempts || left <= 0 {
            return Ok(false);
        }
        let validity = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        self.store_session(token, &session, validity).await?;
        Ok(true)
    }

    /// The `NEW_PASSWORD_REQUIRED` challenge's parameters: the user's attributes and the
    /// required ones they lack.
    pub(crate) async fn new_password_challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let pool = self.pool(&user.pool_id).await?.settings.unwrap_or_default();
        let attributes: serde_json::Map<String, serde_json::Value> = user
            .attributes
            .iter()
            .filter(|a| a.name != "sub")
            .map(|a| (a.name.clone(), a.value.clone().into()))
            .collect();
        let missing: Vec<String> = pool
            .schema
            .iter()
            .filter(|s| s.required && s.name != "sub")
            .filter(|s| !user.attributes.iter().any(|a| a.name == s.name))
            .map(|s| format!("userAttributes.{}", s.name))
            .collect();
        let parameters = HashMap::from([
            ("USER_ID_FOR_SRP".to_owned(), user.username.clone()),
            (
                "requiredAttributes".to_owned(),
                serde_json::to_string(&missing).unwrap_or_default(),
            ),
            (
                "userAttributes".to_owned(),
                serde_json::Value::Object(attributes).to_string(),
            ),
        ]);
        self.challenge(client, user, NEW_PASSWORD_REQUIRED, parameters)
            .await
    }

    pub async fn respond_to_auth_challenge(
        &self,
        req: pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let client = self.client_for(&req.client_id, req.hosted).await?;
        if !req.admin_pool_id.is_empty() && req.admin_pool_id != client.pool_id() {
            return Err(ApiError::not_found(format!(
                "User pool client {} does not exist.",
                req.client_id
            )));
        }
        match req.challenge_name.as_str() {
            NEW_PASSWORD_REQUIRED => {}
            crate::srp_flow::PASSWORD_VERIFIER => {
                return self.password_verifier(&client, &req).await;
            }
            crate::user_auth::SELECT_CHALLENGE | "PASSWORD" | "PASSWORD_SRP" => {
                return self.select_challenge_answer(&client, &req).await;
            }
            crate::passkeys::WEB_AUTHN => {
                return self.web_authn_answer(&client, &req).await;
            }
            crate::devices::DEVICE_SRP_AUTH => {
                return self.device_srp_auth(&client, &req).await;
            }
            crate::devices::DEVICE_PASSWORD_VERIFIER => {
                return self.device_password_verifier(&client, &req).await;
            }
            crate::mfa::SMS_MFA
            | crate::mfa::EMAIL_OTP
            | crate::mfa::SOFTWARE_TOKEN_MFA
            | crate::mfa::SELECT_MFA_TYPE
            | crate::mfa::MFA_SETUP
            | crate::mfa_flow::SMS_OTP => {
                return self.answer_mfa(&client, &req).await;
            }
            "CUSTOM_CHALLENGE" | "ADMIN_NO_SRP_AUTH" => {
                return Err(ApiError::invalid_parameter(format!(
                    "Unsupported challenge: {}",
                    req.challenge_name
                )));
            }
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "1 validation error detected: Value '{other}' at 'challengeName' failed to satisfy constraint: Member must satisfy enum value set: [SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA, SELECT_MFA_TYPE, MFA_SETUP, PASSWORD_VERIFIER, CUSTOM_CHALLENGE, SELECT_CHALLENGE, DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER, ADMIN_NO_SRP_AUTH, NEW_PASSWORD_REQUIRED, SMS_OTP, PASSWORD, WEB_AUTHN, PASSWORD_SRP]"
                )));
            }
        }
        let responses = &req.challenge_responses;
        let username = responses
            .get("USERNAME")
            .ok_or_else(|| ApiError::invalid_parameter("Missing required parameter USERNAME"))?;
        let new_password = responses.get("NEW_PASSWORD").ok_or_else(|| {
            ApiError::invalid_parameter("Missing required parameter NEW_PASSWORD")
        })?;
        // The session is spent by this answer, right or wrong.
        let session = self
            .take_session(&req.session, NEW_PASSWORD_REQUIRED, &client)
            .await?;
        let user = self
            .user_by_name(&session.pool_id, username)
            .await?
            .filter(|u| u.sub == session.sub)
            .ok_or_else(invalid_session)?;
        client.check_secret_hash(
            &[username, &user.username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        if user.status != "FORCE_CHANGE_PASSWORD" {
            return Err(invalid_session());
        }
        let pool = self.pool(&user.pool_id).await?.settings.unwrap_or_default();
        let policy = pool.password_policy.unwrap_or_default();
        if let Err(violation) = password::check_policy(new_password, &Policy::from(&policy)) {
            // A password the policy refuses proves nothing wrong: the session stays
            // usable for another try, as for a wrong MFA code.
            self.retry_session(&req.session, session, crate::mfa_flow::MAX_WRONG_ANSWERS)
                .await?;
            return Err(policy_error(violation));
        }
        let attributes: Vec<Attribute> = responses
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("userAttributes.").map(|name| Attribute {
                    name: name.to_owned(),
                    value: v.clone(),
                })
            })
            .collect();
        if let Some(missing) = pool.schema.iter().find(|s| {
            s.required
                && s.name != "sub"
                && !user.attributes.iter().any(|a| a.name == s.name)
                && !attributes.iter().any(|a| a.name == s.name)
        }) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid attributes given, {} is missing",
                missing.name
            )));
        }
        let caller = Some(dir::Caller {
            region: req.region.clone(),
            actor: Some(portcullis_proto::events::v1::Actor {
                kind: portcullis_proto::events::v1::actor::Kind::User as i32,
                id: user.sub.clone(),
            }),
            correlation_id: req.correlation_id.clone(),
        });
        if !attributes.is_empty() {
            let request = dir::UpdateUserAttributesRequest {
                caller: caller.clone(),
                user: Some(dir::UserRef {
                    pool_id: user.pool_id.clone(),
                    username: String::new(),
                    sub: user.sub.clone(),
                }),
                attributes,
                by_admin: false,
            };
            self.directory
                .clone()
                .update_user_attributes(request)
                .await?;
        }
        self.replace_password(&user, new_password.clone(), policy.password_history_size)
            .await?;
        let user = self
            .record_password(&caller, &user, "NEW_PASSWORD_CHALLENGE", "CONFIRMED")
            .await?;
        // On to the steps after the first factor, as if the new password had been the
        // one given.
        self.signed_in(
            &client,
            &user,
            responses.get("DEVICE_KEY").map(String::as_str),
        )
        .await
    }
}

/// Whether a temporary password set at `set_ms` is past the pool's validity.
pub(crate) fn temporary_password_expired(set_ms: i64, now_ms: i64, days: u32) -> bool {
    let days = if days == 0 { 7 } else { days };
    now_ms - set_ms > i64::from(days) * 86_400_000
}
