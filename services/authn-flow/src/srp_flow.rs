//! `USER_SRP_AUTH`: `InitiateAuth` answers a `PASSWORD_VERIFIER` challenge (salt, B and
//! a secret block) and `RespondToAuthChallenge` checks the client's signature over it.
//!
//! The ceremony's state (b, A, B, the user) is kept server-side under the hash of the
//! random `SECRET_BLOCK`, which the client signs and sends back; so the state is found
//! even when a client does not echo `Session`, it is taken on use (one answer per
//! block) and expires with the client's `AuthSessionValidity`. A `Session` that is
//! echoed must be the one issued with the block.

use std::collections::HashMap;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_proto::authn::v1 as pb;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth_session::{invalid_session, store_error};
use crate::context::{ClientInfo, Flows, Named, incorrect_credentials, kv_error};
use crate::credential::Credential;
use crate::lockout::Proof;
use crate::passwords::credential_key;
use crate::srp::{self, Verifier};
use crypto_bigint::U3072;

pub const PASSWORD_VERIFIER: &str = "PASSWORD_VERIFIER";

/// Where the key for decoy salts (users who do not exist) is kept, shared by replicas
/// and restarts so that a decoy salt never changes.
const DECOY_KEY: &str = "server/srp-decoy-key";

#[derive(Serialize, Deserialize)]
struct State {
    pool_id: String,
    client_id: String,
    /// Empty for a decoy ceremony (no such user, or no verifier): it always fails.
    sub: String,
    /// `USER_ID_FOR_SRP`.
    username: String,
    #[serde(flatten)]
    exchange: Exchange,
    /// SHA-256 of the `Session` issued with the block.
    session: String,
    /// The challenges so far of the `CUSTOM_AUTH` sign-in this password step is part
    /// of (JSON); a proven password goes back to its define auth challenge function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    custom: Option<String>,
}

/// The server's half of one SRP exchange (its secret b, the client's A, and B), kept
/// with a challenge until the answer. User SRP and device SRP share it.
#[derive(Serialize, Deserialize)]
pub(crate) struct Exchange {
    b: String,
    a: String,
    pub(crate) big_b: String,
}

/// The client's `SRP_A`, refused when it is not a number or A ≡ 0 (mod N).
pub(crate) fn client_public(srp_a: &str) -> Result<U3072, ApiError> {
    srp::parse_hex(srp_a)
        .filter(|a| !srp::is_zero_mod_n(a))
        .ok_or_else(|| ApiError::not_authorized("Invalid SRP_A value."))
}

impl Exchange {
    /// Picks b and computes B = k·v + g^b for the client's A.
    pub(crate) async fn begin(a: &U3072, verifier: Verifier) -> Result<Self, ApiError> {
        let (b, big_b) = blocking(move || {
            let b = srp::random_secret()?;
            let big_b = srp::server_public(&verifier, &b)?;
            Some((b, big_b))
        })
        .await?
        .ok_or_else(ApiError::internal)?;
        Ok(Self {
            b: srp::secret_to_hex(&b),
            a: srp::to_hex(a),
            big_b: srp::to_hex(&big_b),
        })
    }

    /// Whether `signature` (base64) is the claim of a client that knows the password
    /// behind `verifier`; `sign` makes the expected claim from the session key.
    pub(crate) async fn proves(
        &self,
        verifier: Verifier,
        signature: &str,
        sign: impl FnOnce(&[u8; 16]) -> [u8; 32],
    ) -> Result<bool, ApiError> {
        let (a, big_b, b) = (
            srp::parse_hex(&self.a),
            srp::parse_hex(&self.big_b),
            srp::secret_from_hex(&self.b),
        );
        let (Some(a), Some(big_b), Some(b)) = (a, big_b, b) else {
            return Err(invalid_session());
        };
        let key = blocking(move || srp::session_key(&a, &big_b, &b, &verifier))
            .await?
            .map_err(|_| incorrect_credentials())?;
        let given = STANDARD.decode(signature).unwrap_or_default();
        Ok(srp::signature_matches(&sign(&key), &given))
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

fn state_key(secret_block: &[u8]) -> String {
    format!("srp/{}", sha256_hex(secret_block))
}

pub(crate) fn random(len: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::internal())?;
    Ok(bytes)
}

/// Runs SRP arithmetic (milliseconds of it) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::internal())
}

impl Flows {
    /// Keeps an SRP ceremony's server state under `key` (from its secret block) for the
    /// client's session validity.
    pub(crate) async fn put_srp_state<T: Serialize>(
        &self,
        client: &ClientInfo,
        key: &str,
        state: &T,
    ) -> Result<(), ApiError> {
        let value = Bytes::from(serde_json::to_vec(state).map_err(|_| ApiError::internal())?);
        self.sessions
            .put(key, value, client.session_validity())
            .await
            .map_err(store_error)
    }

    /// Takes (spends) the SRP state under `key`.
    pub(crate) async fn take_srp_state<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<T, ApiError> {
        let raw = self
            .sessions
            .take(key)
            .await
            .map_err(store_error)?
            .ok_or_else(invalid_session)?;
        serde_json::from_slice(&raw).map_err(|_| invalid_session())
    }

    /// The key decoy salts and verifiers derive from, created on first use.
    async fn decoy_key(&self) -> Result<Bytes, ApiError> {
        if let Some(entry) = self.credentials.get(DECOY_KEY).await.map_err(kv_error)? {
            return Ok(entry.value);
        }
        let key = Bytes::from(random(32)?);
        match self.credentials.create(DECOY_KEY, key.clone()).await {
            Ok(_) => Ok(key),
            // Another replica created it first: use theirs.
            Err(portcullis_eventlog::KvError::Conflict) => self
                .credentials
                .get(DECOY_KEY)
                .await
                .map_err(kv_error)?
                .map(|e| e.value)
                .ok_or_else(ApiError::internal),
            Err(err) => Err(kv_error(err)),
        }
    }

    async fn decoy(&self, pool_id: &str, username: &str) -> Result<Verifier, ApiError> {
        let key = self.decoy_key().await?;
        Ok(srp::decoy_verifier(&key, pool_id, username))
    }

    /// The user's stored verifier, if any.
    async fn stored_verifier(
        &self,
        pool_id: &str,
        sub: &str,
    ) -> Result<Option<Verifier>, ApiError> {
        let stored = self
            .credentials
            .get(&credential_key(pool_id, sub))
            .await
            .map_err(kv_error)?;
        Ok(stored
            .and_then(|e| Credential::decode(&e.value))
            .and_then(|c| c.srp))
    }

    pub(crate) async fn srp_auth(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        if !client.allows("ALLOW_USER_SRP_AUTH") {
            return Err(ApiError::invalid_parameter(
                "USER_SRP_AUTH flow not enabled for this client",
            ));
        }
        self.srp_start(client, req).await
    }

    /// The first half of SRP: the `PASSWORD_VERIFIER` challenge for `USERNAME` and
    /// `SRP_A`, once the caller has checked that the client allows the flow.
    pub(crate) async fn srp_start(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        self.srp_start_within(client, req, None).await
    }

    /// [`Flows::srp_start`] as a step of a `CUSTOM_AUTH` sign-in whose challenges so far
    /// are `custom` (which ran pre authentication already).
    pub(crate) async fn srp_start_within(
        &self,
        client: &ClientInfo,
        req: &pb::InitiateAuthRequest,
        custom: Option<String>,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let param = |name: &str| req.auth_parameters.get(name).map(String::as_str);
        let (Some(username), Some(srp_a)) = (param("USERNAME"), param("SRP_A")) else {
            return Err(ApiError::invalid_parameter(
                "Missing required parameter USERNAME or SRP_A",
            ));
        };
        let a = client_public(srp_a)?;
        let user = self.user_by_name(client.pool_id(), username).await?;
        let internal = user.as_ref().map_or(username, |u| u.username.as_str());
        client.check_secret_hash(&[username, internal], param("SECRET_HASH"))?;
        if custom.is_none() {
            self.before_first_factor(client, user.as_ref()).await?;
        }

        let (sub, verifier) = match &user {
            None if !client.hides_user_existence() => {
                return Err(ApiError::new(
                    ErrorCode::UserNotFoundException,
                    "User does not exist.",
                ));
            }
            None => {
                if custom.is_none() {
                    self.before_unknown_first_factor(client, username).await?;
                }
                (String::new(), self.decoy(client.pool_id(), username).await?)
            }
            Some(user) => match self.stored_verifier(&user.pool_id, &user.sub).await? {
                Some(verifier) => (user.sub.clone(), verifier),
                None if user.status == "RESET_REQUIRED" => {
                    return Err(ApiError::new(
                        ErrorCode::PasswordResetRequiredException,
                        "Password reset required for the user",
                    ));
                }
                // Created before SRP and not signed in with a password since: the
                // ceremony runs and fails, as for a wrong password.
                None => {
                    tracing::info!("srp sign-in of a user without a verifier");
                    (
                        String::new(),
                        self.decoy(&user.pool_id, &user.username).await?,
                    )
                }
            },
        };
        let salt = verifier.salt.clone();
        let exchange = Exchange::begin(&a, verifier).await?;
        let secret_block = random(256)?;
        let session = STANDARD.encode(random(96)?);
        let state = State {
            pool_id: client.pool_id().to_owned(),
            client_id: client.client.client_id.clone(),
            sub,
            username: internal.to_owned(),
            exchange,
            session: sha256_hex(session.as_bytes()),
            custom,
        };
        self.put_srp_state(client, &state_key(&secret_block), &state)
            .await?;
        let parameters = HashMap::from([
            ("SALT".to_owned(), salt),
            ("SRP_B".to_owned(), state.exchange.big_b),
            ("SECRET_BLOCK".to_owned(), STANDARD.encode(&secret_block)),
            ("USER_ID_FOR_SRP".to_owned(), internal.to_owned()),
            ("USERNAME".to_owned(), internal.to_owned()),
        ]);
        Ok(pb::InitiateAuthResponse {
            challenge_name: PASSWORD_VERIFIER.to_owned(),
            session,
            challenge_parameters: parameters,
            ..Default::default()
        })
    }

    pub(crate) async fn password_verifier(
        &self,
        client: &ClientInfo,
        req: &pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let responses = &req.challenge_responses;
        let required = |name: &str| crate::context::required_param(responses, name);
        let username = required("USERNAME")?;
        let block = required("PASSWORD_CLAIM_SECRET_BLOCK")?;
        let signature = required("PASSWORD_CLAIM_SIGNATURE")?;
        let timestamp = required("TIMESTAMP")?;
        let block = STANDARD.decode(block).map_err(|_| invalid_session())?;
        // The block is spent by this answer, right or wrong.
        let state: State = self.take_srp_state(&state_key(&block)).await?;
        let session_matches =
            req.session.is_empty() || sha256_hex(req.session.as_bytes()) == state.session;
        if state.client_id != client.client.client_id || !session_matches {
            return Err(invalid_session());
        }
        client.check_secret_hash(
            &[username, &state.username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        let device_key = responses.get("DEVICE_KEY").map(String::as_str);
        // The user and what the steps after the password need, in one read.
        let (user, known) = if state.sub.is_empty() {
            (None, None)
        } else {
            let read = self
                .read_sign_in(
                    &client.client.client_id,
                    client.hosted,
                    Some(Named::Sub(&state.sub)),
                    device_key,
                )
                .await?;
            let user = read
                .user
                .filter(|u| u.pool_id == state.pool_id && u.username == state.username);
            (user, Some(read.known))
        };
        let verifier = match &user {
            Some(user) => self.stored_verifier(&user.pool_id, &user.sub).await?,
            None => None,
        };
        let verifier = match verifier {
            Some(verifier) => verifier,
            None => self.decoy(&state.pool_id, &state.username).await?,
        };
        let check = state.exchange.proves(verifier, signature, |key| {
            srp::claim_signature(key, &state.pool_id, &state.username, &block, timestamp)
        });
        // Unknown users are guarded like users (see `unknown_subject`); their check
        // always fails.
        let Some(user) = user else {
            let subject = crate::lockout::unknown_subject(&state.username);
            self.guarded(
                &client.attempt,
                &state.pool_id,
                &subject,
                Proof::Password,
                check,
            )
            .await?;
            return Err(incorrect_credentials());
        };
        if !self
            .guarded(
                &client.attempt,
                &user.pool_id,
                &user.sub,
                Proof::Password,
                check,
            )
            .await?
        {
            return Err(incorrect_credentials());
        }
        if let Some(rounds) = state.custom {
            return Box::pin(self.custom_password_proven(client, &user, &rounds)).await;
        }
        let factor = crate::machine::FirstFactor::Srp;
        match known {
            Some(known) => {
                self.signed_in_knowing(client, &user, factor, device_key, known)
                    .await
            }
            None => self.signed_in(client, &user, factor, device_key).await,
        }
    }
}
