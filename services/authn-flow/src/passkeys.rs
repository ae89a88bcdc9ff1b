//! Passkeys of a user pool: registration (`StartWebAuthnRegistration`,
//! `CompleteWebAuthnRegistration`), listing and deletion, and the `WEB_AUTHN` first
//! factor of `USER_AUTH`. The relying party is the pool's
//! `WebAuthnConfiguration.RelyingPartyId`; passkeys must be an allowed first factor.
//!
//! A user's passkeys are kept with the password hashes (`credentials`, by
//! `passkeys/<pool>/<sub>`, updated by revision so concurrent sign-ins cannot lose a
//! counter). Ceremony challenges live in the session store, single use, for three
//! minutes.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::KvError;
use portcullis_proto::authn::v1 as pb;
use portcullis_proto::directory::v1 as dir;
use serde::{Deserialize, Serialize};

use crate::auth_session::{Session, store_error};
use crate::context::{ClientInfo, Flows, kv_error};
use crate::lockout::Proof;
use crate::webauthn::{self, B64URL, Expected, Passkey, UserEntity, WebAuthnError};

pub const WEB_AUTHN: &str = "WEB_AUTHN";
/// Passkeys one user may register.
const MAX_PASSKEYS: usize = 20;
const CEREMONY: Duration = Duration::from_millis(webauthn::CEREMONY_TIMEOUT_MS);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Registered {
    passkey: Passkey,
    name: String,
    created_ms: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Registry {
    passkeys: Vec<Registered>,
}

/// A registration under way.
#[derive(Serialize, Deserialize)]
struct Pending {
    challenge: String,
    client_id: String,
}

/// The pool's relying party and how it wants users verified.
pub(crate) struct RelyingParty {
    pub id: String,
    pub name: String,
    pub user_verification: String,
}

impl RelyingParty {
    fn expect<'a>(&'a self, challenge: &'a [u8]) -> Expected<'a> {
        Expected {
            challenge,
            relying_party_id: &self.id,
            user_verification_required: self.user_verification == "required",
        }
    }
}

fn registry_key(pool_id: &str, sub: &str) -> String {
    format!("passkeys/{pool_id}/{sub}")
}

fn pending_key(pool_id: &str, sub: &str) -> String {
    format!("webauthn-registration/{pool_id}/{sub}")
}

fn random_challenge() -> Result<[u8; 32], ApiError> {
    let mut challenge = [0u8; 32];
    aws_lc_rs::rand::fill(&mut challenge).map_err(|_| ApiError::internal())?;
    Ok(challenge)
}

/// Whether the pool offers passkeys, and as which relying party.
/// The relying party is `WebAuthnConfiguration.RelyingPartyId`, else the pool's custom
/// domain (as in Cognito).
pub(crate) fn relying_party(full: &dir::UserPool) -> Result<RelyingParty, ApiError> {
    let pool = full.settings.clone().unwrap_or_default();
    let allowed = pool
        .sign_in_policy
        .as_ref()
        .is_some_and(|p| p.allowed_first_auth_factors.iter().any(|f| f == WEB_AUTHN));
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::WebAuthnNotEnabledException,
            "Passkeys are not enabled for this user pool.",
        ));
    }
    let mut config = pool.web_authn_configuration.clone().unwrap_or_default();
    if config.relying_party_id.is_empty() {
        config.relying_party_id.clone_from(&full.custom_domain);
    }
    if config.relying_party_id.is_empty() {
        return Err(ApiError::new(
            ErrorCode::WebAuthnConfigurationMissingException,
            "The user pool has no relying party id and no domain.",
        ));
    }
    Ok(RelyingParty {
        id: config.relying_party_id,
        name: pool.pool_name.clone(),
        user_verification: if config.user_verification.is_empty() {
            "preferred".to_owned()
        } else {
            config.user_verification
        },
    })
}

fn registration_error(err: WebAuthnError) -> ApiError {
    let code = match err {
        WebAuthnError::ChallengeMismatch => ErrorCode::WebAuthnChallengeNotFoundException,
        WebAuthnError::OriginNotAllowed(_) => ErrorCode::WebAuthnOriginNotAllowedException,
        WebAuthnError::RelyingPartyMismatch => ErrorCode::WebAuthnRelyingPartyMismatchException,
        WebAuthnError::UnsupportedKey => ErrorCode::WebAuthnCredentialNotSupportedException,
        _ => ErrorCode::InvalidParameterException,
    };
    ApiError::new(code, format!("The passkey credential was refused: {err}."))
}

fn token_user(user: Option<pb::TokenUser>) -> Result<pb::TokenUser, ApiError> {
    user.ok_or_else(|| ApiError::invalid_parameter("Missing the user"))
}

impl Flows {
    async fn registry(
        &self,
        pool_id: &str,
        sub: &str,
    ) -> Result<(Registry, Option<u64>), ApiError> {
        let entry = self
            .credentials
            .get(&registry_key(pool_id, sub))
            .await
            .map_err(kv_error)?;
        Ok(match entry {
            Some(e) => (
                serde_json::from_slice(&e.value).map_err(|_| ApiError::internal())?,
                Some(e.revision),
            ),
            None => (Registry::default(), None),
        })
    }

    /// Writes `registry` if nothing changed it since `revision`; `Ok(false)` if
    /// something did.
    async fn put_registry(
        &self,
        pool_id: &str,
        sub: &str,
        registry: &Registry,
        revision: Option<u64>,
    ) -> Result<bool, ApiError> {
        let key = registry_key(pool_id, sub);
        let value = Bytes::from(serde_json::to_vec(registry).map_err(|_| ApiError::internal())?);
        let written = match revision {
            Some(revision) => self.credentials.update(&key, value, revision).await,
            None => self.credentials.create(&key, value).await,
        };
        match written {
            Ok(_) => Ok(true),
            Err(KvError::Conflict) => Ok(false),
            Err(err) => Err(kv_error(err)),
        }
    }

    /// Whether the user has a passkey for the pool's relying party.
    pub(crate) async fn has_passkeys(
        &self,
        user: &dir::User,
        rp_id: &str,
    ) -> Result<bool, ApiError> {
        let (registry, _) = self.registry(&user.pool_id, &user.sub).await?;
        Ok(registry
            .passkeys
            .iter()
            .any(|r| r.passkey.relying_party_id == rp_id))
    }

    async fn token_user_record(&self, user: &pb::TokenUser) -> Result<dir::User, ApiError> {
        let request = dir::GetUserRequest {
            pool_id: user.pool_id.clone(),
            key: Some(dir::get_user_request::Key::Sub(user.sub.clone())),
            client_id: String::new(),
        };
        Ok(self.directory.clone().get_user(request).await?.into_inner())
    }

    pub async fn start_web_authn_registration(
        &self,
        req: pb::StartWebAuthnRegistrationRequest,
    ) -> Result<pb::StartWebAuthnRegistrationResponse, ApiError> {
        let who = token_user(req.user)?;
        let pool = self.pool(&who.pool_id).await?;
        let rp = relying_party(&pool)?;
        let user = self.token_user_record(&who).await?;
        let (registry, _) = self.registry(&who.pool_id, &who.sub).await?;
        if registry.passkeys.len() >= MAX_PASSKEYS {
            return Err(ApiError::new(
                ErrorCode::LimitExceededException,
                "The user has the most passkeys allowed.",
            ));
        }
        let challenge = random_challenge()?;
        let pending = Pending {
            challenge: hex::encode(challenge),
            client_id: who.client_id.clone(),
        };
        let value = Bytes::from(serde_json::to_vec(&pending).map_err(|_| ApiError::internal())?);
        self.sessions
            .put(&pending_key(&who.pool_id, &who.sub), value, CEREMONY)
            .await
            .map_err(store_error)?;
        let display_name = user
            .attributes
            .iter()
            .find(|a| a.name == "name")
            .map_or(user.username.as_str(), |a| a.value.as_str());
        let existing: Vec<Passkey> = registry.passkeys.into_iter().map(|r| r.passkey).collect();
        let options = webauthn::creation_options(
            &rp.id,
            &rp.name,
            UserEntity {
                handle: user.sub.as_bytes(),
                name: &user.username,
                display_name,
            },
            &challenge,
            &existing,
            &rp.user_verification,
        );
        Ok(pb::StartWebAuthnRegistrationResponse {
            credential_creation_options_json: options.to_string(),
        })
    }

    pub async fn complete_web_authn_registration(
        &self,
        req: pb::CompleteWebAuthnRegistrationRequest,
    ) -> Result<pb::CompleteWebAuthnRegistrationResponse, ApiError> {
        let who = token_user(req.user)?;
        let pool = self.pool(&who.pool_id).await?;
        let rp = relying_party(&pool)?;
        let credential: serde_json::Value = serde_json::from_str(&req.credential_json)
            .map_err(|_| ApiError::invalid_parameter("Credential is not a JSON object"))?;
        // The challenge is spent by this answer, right or wrong.
        let pending: Pending = self
            .sessions
            .take(&pending_key(&who.pool_id, &who.sub))
            .await
            .map_err(store_error)?
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::WebAuthnChallengeNotFoundException,
                    "The registration challenge was not found or has expired.",
                )
            })?;
        if pending.client_id != who.client_id {
            return Err(ApiError::new(
                ErrorCode::WebAuthnClientMismatchException,
                "The access token is for another app client than the registration began with.",
            ));
        }
        let challenge = hex::decode(&pending.challenge).map_err(|_| ApiError::internal())?;
        let passkey = webauthn::verify_registration(&credential, &rp.expect(&challenge))
            .map_err(registration_error)?;
        loop {
            let (mut registry, revision) = self.registry(&who.pool_id, &who.sub).await?;
            if registry
                .passkeys
                .iter()
                .any(|r| r.passkey.credential_id == passkey.credential_id)
            {
                return Err(ApiError::invalid_parameter(
                    "This passkey is already registered.",
                ));
            }
            if registry.passkeys.len() >= MAX_PASSKEYS {
                return Err(ApiError::new(
                    ErrorCode::LimitExceededException,
                    "The user has the most passkeys allowed.",
                ));
            }
            registry.passkeys.push(Registered {
                name: friendly_name(&passkey),
                passkey: passkey.clone(),
                created_ms: self.clock.now_ms(),
            });
            if self
                .put_registry(&who.pool_id, &who.sub, &registry, revision)
                .await?
            {
                return Ok(pb::CompleteWebAuthnRegistrationResponse {});
            }
        }
    }

    pub async fn list_web_authn_credentials(
        &self,
        req: pb::ListWebAuthnCredentialsRequest,
    ) -> Result<pb::ListWebAuthnCredentialsResponse, ApiError> {
        let who = token_user(req.user)?;
        let (registry, _) = self.registry(&who.pool_id, &who.sub).await?;
        let start = if req.next_token.is_empty() {
            0
        } else {
            B64URL
                .decode(&req.next_token)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|s| s.strip_prefix("passkeys:").and_then(|n| n.parse().ok()))
                .filter(|n: &usize| *n <= registry.passkeys.len())
                .ok_or_else(|| ApiError::invalid_parameter("Invalid NextToken"))?
        };
        let limit = match req.max_results {
            0 => MAX_PASSKEYS,
            n => usize::try_from(n).unwrap_or(MAX_PASSKEYS),
        };
        let end = (start + limit).min(registry.passkeys.len());
        let credentials = registry.passkeys[start..end]
            .iter()
            .map(|r| pb::WebAuthnCredential {
                credential_id: r.passkey.credential_id.clone(),
                friendly_credential_name: r.name.clone(),
                relying_party_id: r.passkey.relying_party_id.clone(),
                authenticator_attachment: r.passkey.attachment.clone().unwrap_or_default(),
                authenticator_transports: r.passkey.transports.clone(),
                created_at_ms: r.created_ms,
            })
            .collect();
        let next_token = if end < registry.passkeys.len() {
            B64URL.encode(format!("passkeys:{end}"))
        } else {
            String::new()
        };
        Ok(pb::ListWebAuthnCredentialsResponse {
            credentials,
            next_token,
        })
    }

    pub async fn delete_web_authn_credential(
        &self,
        req: pb::DeleteWebAuthnCredentialRequest,
    ) -> Result<pb::DeleteWebAuthnCredentialResponse, ApiError> {
        let who = token_user(req.user)?;
        loop {
            let (mut registry, revision) = self.registry(&who.pool_id, &who.sub).await?;
            let before = registry.passkeys.len();
            registry
                .passkeys
                .retain(|r| r.passkey.credential_id != req.credential_id);
            if registry.passkeys.len() == before {
                return Err(ApiError::new(
                    ErrorCode::ResourceNotFoundException,
                    "Credential not found.",
                ));
            }
            if self
                .put_registry(&who.pool_id, &who.sub, &registry, revision)
                .await?
            {
                return Ok(pb::DeleteWebAuthnCredentialResponse {});
            }
        }
    }

    /// The `WEB_AUTHN` challenge: request options for the user's passkeys.
    pub(crate) async fn web_authn_challenge(
        &self,
        client: &ClientInfo,
        user: &dir::User,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let pool = self.pool(&user.pool_id).await?;
        let rp = relying_party(&pool)?;
        let (registry, _) = self.registry(&user.pool_id, &user.sub).await?;
        let allowed: Vec<Passkey> = registry
            .passkeys
            .into_iter()
            .map(|r| r.passkey)
            .filter(|p| p.relying_party_id == rp.id)
            .collect();
        let challenge = random_challenge()?;
        let options =
            webauthn::request_options(&rp.id, &challenge, &allowed, &rp.user_verification);
        let session = Session {
            data: hex::encode(challenge),
            ..Session::new(client, user, WEB_AUTHN)
        };
        let token = self.open_session(client, &session).await?;
        Ok(pb::InitiateAuthResponse {
            challenge_name: WEB_AUTHN.to_owned(),
            session: token,
            challenge_parameters: HashMap::from([
                ("USERNAME".to_owned(), user.username.clone()),
                ("CREDENTIAL_REQUEST_OPTIONS".to_owned(), options.to_string()),
            ]),
            ..Default::default()
        })
    }

    /// The answer to `WEB_AUTHN`: `CREDENTIAL`, an `AuthenticationResponseJSON`.
    pub(crate) async fn web_authn_answer(
        &self,
        client: &ClientInfo,
        req: &pb::RespondToAuthChallengeRequest,
    ) -> Result<pb::InitiateAuthResponse, ApiError> {
        let responses = &req.challenge_responses;
        let required = |name: &str| crate::context::required_param(responses, name);
        let username = required("USERNAME")?;
        let credential: serde_json::Value = serde_json::from_str(required("CREDENTIAL")?)
            .map_err(|_| ApiError::invalid_parameter("CREDENTIAL is not a JSON object"))?;
        let session = self.take_session(&req.session, WEB_AUTHN, client).await?;
        let user = self
            .user_by_name(&session.pool_id, username)
            .await?
            .filter(|u| u.sub == session.sub)
            .ok_or_else(crate::auth_session::invalid_session)?;
        client.check_secret_hash(
            &[username, &user.username],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        let pool = self.pool(&user.pool_id).await?;
        let rp = relying_party(&pool)?;
        let challenge = hex::decode(&session.data).map_err(|_| ApiError::internal())?;
        let check =
            async {
                let Ok(id) = webauthn::assertion_credential_id(&credential) else {
                    return Ok(false);
                };
                loop {
                    let (mut registry, revision) = self.registry(&user.pool_id, &user.sub).await?;
                    let Some(entry) = registry.passkeys.iter_mut().find(|r| {
                        r.passkey.credential_id == id && r.passkey.relying_party_id == rp.id
                    }) else {
                        return Ok(false);
                    };
                    match webauthn::verify_assertion(
                        &credential,
                        &entry.passkey,
                        &rp.expect(&challenge),
                    ) {
                        Ok(count) => entry.passkey.sign_count = count,
                        Err(err) => {
                            tracing::info!(error = %err, "a passkey assertion was refused");
                            return Ok(false);
                        }
                    }
                    if self
                        .put_registry(&user.pool_id, &user.sub, &registry, revision)
                        .await?
                    {
                        return Ok(true);
                    }
                }
            };
        if !self
            .guarded(
                &client.attempt,
                &user.pool_id,
                &user.sub,
                Proof::Passkey,
                check,
            )
            .await?
        {
            return Err(ApiError::not_authorized(
                "The passkey credential could not be verified.",
            ));
        }
        self.signed_in(
            client,
            &user,
            crate::machine::FirstFactor::Passkey,
            responses.get("DEVICE_KEY").map(String::as_str),
        )
        .await
    }
}

/// A name for the list, from how the authenticator connects.
fn friendly_name(passkey: &Passkey) -> String {
    match passkey.attachment.as_deref() {
        Some("platform") => "Passkey on this device".to_owned(),
        Some("cross-platform") => "Security key".to_owned(),
        _ => "Passkey".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_proto::events::v1::{SignInPolicy, UserPoolSettings, WebAuthnConfiguration};

    fn pool(rp_id: &str, custom_domain: &str) -> dir::UserPool {
        dir::UserPool {
            settings: Some(UserPoolSettings {
                sign_in_policy: Some(SignInPolicy {
                    allowed_first_auth_factors: vec!["PASSWORD".into(), WEB_AUTHN.into()],
                }),
                web_authn_configuration: Some(WebAuthnConfiguration {
                    relying_party_id: rp_id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            custom_domain: custom_domain.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_relying_party_is_the_configured_id_else_the_custom_domain() {
        assert_eq!(
            relying_party(&pool("example.com", "auth.example.com"))
                .unwrap()
                .id,
            "example.com"
        );
        assert_eq!(
            relying_party(&pool("", "auth.example.com")).unwrap().id,
            "auth.example.com"
        );
        let missing = relying_party(&pool("", "")).err().unwrap();
        assert_eq!(
            missing.code,
            ErrorCode::WebAuthnConfigurationMissingException
        );
    }
}
