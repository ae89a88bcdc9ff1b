//! The sessions of challenges between `InitiateAuth` and `RespondToAuthChallenge`. A
//! challenge's session is a random token; only its hash is stored, with the user and
//! client it is bound to, for the client's `AuthSessionValidity`, and it is taken on use
//! (one answer per session).

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use portcullis_errors::ApiError;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use serde::{Deserialize, Serialize};

use crate::context::{ClientInfo, Flows};

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
    /// The sign-in's auth event, and the step of the request that opened the session.
    #[serde(default)]
    pub(crate) event_id: String,
    #[serde(default)]
    pub(crate) event_step: u32,
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
            event_id: String::new(),
            event_step: 0,
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
            event_id: client.attempt.event_id(),
            event_step: client.attempt.step(),
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
        client.attempt.resume(&session.event_id, session.event_step);
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
}
