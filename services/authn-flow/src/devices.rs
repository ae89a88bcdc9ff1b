//! Remembered devices (Cognito's device tracking), when the pool has a
//! `DeviceConfiguration`.
//!
//! A sign-in without a known `DEVICE_KEY` is issued a new device (`NewDeviceMetadata`,
//! and the key in the access token's `device_key`), held here until the user confirms it
//! with `ConfirmDevice` (the client's SRP verifier of a random device password); the
//! directory then tracks it. A sign-in with a tracked device's key proves the device
//! after the first factor: `DEVICE_SRP_AUTH` (the client's A) answered with
//! `DEVICE_PASSWORD_VERIFIER` (salt, B, secret block) and the client's signature, SRP
//! with the device group key as the pool name and the device key as the user. A
//! remembered device skips MFA; a not-remembered one does MFA first.
//!
//! Where devices enter a sign-in is the core's to decide ([`crate::machine`]): its
//! device step judges the named device, a remembered one skips MFA, a tracked one
//! proves itself with [`Flows::open_device_challenge`], and tokens come with a new
//! device from [`Flows::issue_with_new_device`].

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use portcullis_proto::events::v1::{Actor, actor::Kind};
use serde::{Deserialize, Serialize};

use crate::auth_session::{invalid_session, store_error};
use crate::context::{ClientInfo, Flows, authenticated, incorrect_credentials};
use crate::lockout::Proof;
use crate::machine::{Step, TokenDevice};
use crate::srp;
use crate::srp_flow::{Exchange, client_public, random, sha256_hex};

pub const DEVICE_SRP_AUTH: &str = "DEVICE_SRP_AUTH";
pub const DEVICE_PASSWORD_VERIFIER: &str = "DEVICE_PASSWORD_VERIFIER";
const REMEMBERED: &str = "remembered";
const NOT_REMEMBERED: &str = "not_remembered";

/// A device issued at a sign-in and not confirmed yet.
#[derive(Serialize, Deserialize)]
struct Pending {
    pool_id: String,
    sub: String,
    device_group_key: String,
}

fn pending_key(pool_id: &str, device_key: &str) -> String {
    format!("device/{pool_id}/{device_key}")
}

/// The server side of a device ceremony, under the hash of its secret block.
#[derive(Serialize, Deserialize)]
struct SrpState {
    pool_id: String,
    client_id: String,
    sub: String,
    username: String,
    device_key: String,
    device_group_key: String,
    #[serde(flatten)]
    exchange: Exchange,
    session: String,
}

fn state_key(secret_block: &[u8]) -> String {
    format!("device-srp/{}", sha256_hex(secret_block))
}

/// The session of the `DEVICE_SRP_AUTH` challenge open for a user's device.
fn pending_challenge_key(pool_id: &str, sub: &str, device_key: &str) -> String {
    format!("device-challenge/{pool_id}/{sub}/{device_key}")
}

/// Whether a tracked device is remembered (and so skips MFA).
pub(crate) fn is_remembered(device: &dir::Device) -> bool {
    device.remembered_status == REMEMBERED
}

fn device_not_found() -> ApiError {
    ApiError::not_found("Device does not exist.")
}

/// `<region>_<uuid>`, as Cognito names devices.
fn new_device_key(pool_id: &str) -> String {
    let region = pool_id.split_once('_').map_or(pool_id, |(r, _)| r);
    format!("{region}_{}", uuid::Uuid::new_v4())
}

/// `-` and nine letters or digits, the shape of Cognito's device group keys.
fn new_group_key() -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = random(9)?;
    let mut key = String::from("-");
    for b in bytes {
        key.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
    }
    Ok(key)
}

fn user_ref(user: &dir::User) -> dir::UserRef {
    dir::UserRef {
        pool_id: user.pool_id.clone(),
        username: String::new(),
        sub: user.sub.clone(),
    }
}

fn user_caller(region: &str, sub: &str, correlation_id: &str) -> dir::Caller {
    dir::Caller {
        region: region.to_owned(),
        actor: Some(Actor {
            kind: Kind::User as i32,
            id: sub.to_owned(),
        }),
        correlation_id: correlation_id.to_owned(),
    }
}

impl Flows {
    /// The user's tracked device named `device_key`, if there is one.
    pub(crate) async fn tracked_device(
        &self,
        user: &dir::User,
        device_key: &str,
    ) -> Result<Option<dir::Device>, ApiError> {
        let request = dir::DeviceRequest {
            caller: None,
            user: Some(user_ref(user)),
            device_key: device_key.to_owned(),
        };
        match self.directory.clone().get_device(request).await {
            Ok(device) => Ok(Some(device.into_inner())),
            Err(status) => {
                let err = ApiError::from(status);
                if err.code == ErrorCode::ResourceNotFoundException {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The `DEVICE_SRP_AUTH` challenge for a tracked device the client named.
    pub(crate) async fn open_device_challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        device_key: String,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        // Bound to the device the core judged: the answer cannot switch to another
        // device (which might not be remembered, and so not skip MFA).
        let response = self
            .device_challenge(
                client,
                user,
                DEVICE_SRP_AUTH,
                HashMap::new(),
                device_key.clone(),
            )
            .await?;
        // Clients that do not echo `Session` (pycognito) find the challenge by user
        // and device: only a sign-in that passed the steps before opens one.
        let value = Bytes::from(response.session.clone());
        self.sessions
            .put(
                &pending_challenge_key(&user.pool_id, &user.sub, &device_key),
                value,
                client.session_validity(),
            )
            .await
            .map_err(store_error)?;
        Ok(response)
    }

    /// Tokens with a new device, which the user may confirm with `ConfirmDevice`.
    pub(crate) async fn issue_with_new_device(
        &self,
        client: &ClientInfo,
        user: &dir::User,
        auth_time: i64,
        groups: Option<Vec<dir::Group>>,
        source: crate::triggers::TokenSource,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let device_key = new_device_key(&user.pool_id);
        let device_group_key = new_group_key()?;
        let pending = Pending {
            pool_id: user.pool_id.clone(),
            sub: user.sub.clone(),
            device_group_key: device_group_key.clone(),
        };
        let value = Bytes::from(serde_json::to_vec(&pending).map_err(|_| ApiError::internal())?);
        // Confirmable while the sign-in's refresh token lasts.
        let ttl = Duration::from_secs(client.validity().refresh_seconds.max(3_600));
        self.sessions
            .put(&pending_key(&user.pool_id, &device_key), value, ttl)
            .await
            .map_err(store_error)?;
        let tokens = self
            .issue(
                client,
                user,
                auth_time,
                String::new(),
                true,
                &device_key,
                groups,
                source,
            )
            .await?;
        let mut response = authenticated(tokens);
        if let Some(result) = response.authentication_result.as_mut() {
            result.new_device_metadata = Some(pb::NewDeviceMetadata {
                device_key,
                device_group_key,
            });
        }
        Ok(response)
    }

    /// `ConfirmDevice` for the user of a verified access token.
    pub async fn confirm_device(
        &self,
        req: pb::ConfirmDeviceRequest,
    ) -> Result<pb::ConfirmDeviceResponse, ApiError> {
        let decode = |value: &str, name: &str| {
            STANDARD
                .decode(value)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    ApiError::invalid_parameter(format!(
                        "DeviceSecretVerifierConfig {name} is not valid base64."
                    ))
                })
        };
        let verifier = decode(&req.password_verifier, "PasswordVerifier")?;
        let salt = decode(&req.salt, "Salt")?;
        if srp::device_verifier(&verifier, &salt).is_none() {
            return Err(ApiError::invalid_parameter(
                "DeviceSecretVerifierConfig is not a valid SRP verifier.",
            ));
        }
        let key = pending_key(&req.pool_id, &req.device_key);
        let pending: Pending = self
            .sessions
            .get(&key)
            .await
            .map_err(store_error)?
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .ok_or_else(device_not_found)?;
        if pending.pool_id != req.pool_id || pending.sub != req.sub {
            return Err(device_not_found());
        }
        let on_prompt = self
            .pool(&req.pool_id)
            .await?
            .settings
            .and_then(|s| s.device_configuration)
            .is_some_and(|c| c.device_only_remembered_on_user_prompt);
        let request = dir::ConfirmDeviceRequest {
            caller: req.caller,
            user: Some(dir::UserRef {
                pool_id: req.pool_id.clone(),
                username: String::new(),
                sub: req.sub.clone(),
            }),
            device_key: req.device_key.clone(),
            device_group_key: pending.device_group_key,
            device_name: req.device_name,
            password_verifier: verifier,
            salt,
            remembered_status: if on_prompt {
                NOT_REMEMBERED
            } else {
                REMEMBERED
            }
            .to_owned(),
        };
        self.directory.clone().confirm_device(request).await?;
        // Confirmed once: the pending device is spent.
        self.sessions.take(&key).await.map_err(store_error)?;
        Ok(pb::ConfirmDeviceResponse {
            user_confirmation_necessary: on_prompt,
        })
    }

    /// The session token of the device challenge a sign-in of `username` opened for
    /// `device_key`, taken (it answers once).
    async fn pending_device_challenge(
        &self,
        client: &ClientInfo,
        username: &str,
        device_key: &str,
    ) -> Result<String, ApiError> {
        let user = self
            .user_by_name(client.pool_id(), username)
            .await?
            .ok_or_else(invalid_session)?;
        let token = self
            .sessions
            .take(&pending_challenge_key(&user.pool_id, &user.sub, device_key))
            .await
            .map_err(store_error)?
            .ok_or_else(invalid_session)?;
        String::from_utf8(token.to_vec()).map_err(|_| invalid_session())
    }

    /// `DEVICE_SRP_AUTH`: the client's A for the device; answered with the device's
    /// salt, B and a secret block to sign.
    pub(crate) async fn device_srp_auth(
        &self,
        client: &ClientInfo,
        req: &pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let responses = &req.challenge_responses;
        let required = |name: &str| crate::context::required_param(responses, name);
        let username = required("USERNAME")?;
        let device_key = required("DEVICE_KEY")?;
        let srp_a = required("SRP_A")?;
        let token = if req.session.is_empty() {
            self.pending_device_challenge(client, username, device_key)
                .await?
        } else {
            req.session.clone()
        };
        let session = self.take_session(&token, DEVICE_SRP_AUTH, client).await?;
        if session.device_key != device_key {
            return Err(invalid_session());
        }
        let user = self
            .user_by_name(&session.pool_id, &session.username)
            .await?
            .filter(|u| u.sub == session.sub)
            .ok_or_else(invalid_session)?;
        client.check_secret_hash(
            &[username, &user.username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        let a = client_public(srp_a)?;
        let device = self
            .tracked_device(&user, device_key)
            .await?
            .ok_or_else(device_not_found)?;
        let verifier = srp::device_verifier(&device.password_verifier, &device.salt)
            .ok_or_else(ApiError::internal)?;
        let salt = verifier.salt.clone();
        let exchange = Exchange::begin(&a, verifier).await?;
        let secret_block = random(256)?;
        let token = STANDARD.encode(random(96)?);
        let state = SrpState {
            pool_id: user.pool_id.clone(),
            client_id: client.client.client_id.clone(),
            sub: user.sub.clone(),
            username: user.username.clone(),
            device_key: device.device_key.clone(),
            device_group_key: device.device_group_key.clone(),
            exchange,
            session: sha256_hex(token.as_bytes()),
        };
        self.put_srp_state(client, &state_key(&secret_block), &state)
            .await?;
        let parameters = HashMap::from([
            ("SALT".to_owned(), salt),
            ("SRP_B".to_owned(), state.exchange.big_b),
            ("SECRET_BLOCK".to_owned(), STANDARD.encode(&secret_block)),
            ("USERNAME".to_owned(), user.username.clone()),
            ("DEVICE_KEY".to_owned(), device.device_key),
        ]);
        Ok(pb::InitiateAuthResponse {
            challenge_name: DEVICE_PASSWORD_VERIFIER.to_owned(),
            session: token,
            challenge_parameters: parameters,
            ..Default::default()
        })
    }

    /// `DEVICE_PASSWORD_VERIFIER`: the device's signature over the secret block; tokens
    /// for the device when it is right.
    pub(crate) async fn device_password_verifier(
        &self,
        client: &ClientInfo,
        req: &pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let responses = &req.challenge_responses;
        let required = |name: &str| crate::context::required_param(responses, name);
        let username = required("USERNAME")?;
        let device_key = required("DEVICE_KEY")?;
        let block = required("PASSWORD_CLAIM_SECRET_BLOCK")?;
        let signature = required("PASSWORD_CLAIM_SIGNATURE")?;
        let timestamp = required("TIMESTAMP")?;
        let block = STANDARD.decode(block).map_err(|_| invalid_session())?;
        // The block is spent by this answer, right or wrong.
        let state: SrpState = self.take_srp_state(&state_key(&block)).await?;
        let session_matches =
            req.session.is_empty() || sha256_hex(req.session.as_bytes()) == state.session;
        if state.client_id != client.client.client_id
            || !session_matches
            || state.device_key != device_key
        {
            return Err(invalid_session());
        }
        client.check_secret_hash(
            &[username, &state.username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        let user = self
            .user_by_name(&state.pool_id, &state.username)
            .await?
            .filter(|u| u.sub == state.sub)
            .ok_or_else(invalid_session)?;
        // Forgotten since the challenge: it can no longer sign in.
        let device = self
            .tracked_device(&user, device_key)
            .await?
            .ok_or_else(device_not_found)?;
        let verifier = srp::device_verifier(&device.password_verifier, &device.salt)
            .ok_or_else(ApiError::internal)?;
        let check = state.exchange.proves(verifier, signature, |key| {
            srp::device_claim_signature(
                key,
                &state.device_group_key,
                &state.device_key,
                &block,
                timestamp,
            )
        });
        if !self
            .guarded(
                &client.attempt,
                &user.pool_id,
                &user.sub,
                Proof::Device,
                check,
            )
            .await?
        {
            return Err(incorrect_credentials());
        }
        if !user.enabled {
            return Err(ApiError::not_authorized("User is disabled."));
        }
        let request = dir::DeviceRequest {
            caller: Some(user_caller(&req.region, &user.sub, &req.correlation_id)),
            user: Some(user_ref(&user)),
            device_key: device.device_key.clone(),
        };
        self.directory
            .clone()
            .record_device_sign_in(request)
            .await?;
        let tokens = Step::Tokens(TokenDevice::Proven(device.device_key));
        self.advance(client, &user, tokens, None, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_keys_and_group_keys_have_cognitos_shape() {
        let key = new_device_key("eu-west-1_AbC123");
        let (region, id) = key.split_once('_').unwrap();
        assert_eq!(region, "eu-west-1");
        assert!(uuid::Uuid::parse_str(id).is_ok());
        let group = new_group_key().unwrap();
        assert_eq!(group.len(), 10);
        assert!(group.starts_with('-'));
        assert!(group[1..].chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
