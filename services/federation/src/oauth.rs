//! Signing in through an OpenID Connect or social provider: the request sent to the
//! provider (state, nonce, PKCE), and the callback's code exchanged, the identity
//! proven (an ID token verified against the provider's keys, or an access token used
//! at the provider's user endpoint) and the provider's attributes read.
//!
//! What a sign-in in progress needs is kept in the ephemeral store under a digest of
//! its `state`, for ten minutes, and taken (single use) by the callback.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use portcullis_config::SocialEndpoints;
use portcullis_ephemeral::EphemeralStore;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_outbound::{Body, Fetcher};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keys::{KeyCache, KeysError};

/// How long a sign-in may stay at the provider.
pub const STATE_TTL: Duration = Duration::from_secs(600);
/// A token naming a key the cache lacks refetches, at most this often.
const REFETCH_PAUSE: Duration = Duration::from_secs(30);
/// Clock skew allowed on `exp` and `iat`.
const LEEWAY_SECONDS: u64 = 60;

/// A sign-in at a provider, as the callback finds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pending {
    pub pool_id: String,
    pub provider_name: String,
    pub nonce: String,
    /// The PKCE verifier; empty when the provider was not sent a challenge.
    pub verifier: String,
    /// Where the provider was told to send the browser back.
    pub callback_url: String,
    /// The caller's own context, handed back unread.
    pub carried: String,
    /// The app client the sign-in is for.
    #[serde(default)]
    pub client_id: String,
    /// The `ID` of a SAML `AuthnRequest`, which the response must answer.
    #[serde(default)]
    pub request_id: String,
}

impl Pending {
    /// A sign-in (or logout) about to leave for `provider_name`; its secrets (nonce,
    /// verifier, request id) are set where it starts.
    pub fn new(
        pool_id: &str,
        provider_name: &str,
        callback_url: &str,
        carried: &str,
        client_id: &str,
    ) -> Self {
        Self {
            pool_id: pool_id.to_owned(),
            provider_name: provider_name.to_owned(),
            nonce: String::new(),
            verifier: String::new(),
            callback_url: callback_url.to_owned(),
            carried: carried.to_owned(),
            client_id: client_id.to_owned(),
            request_id: String::new(),
        }
    }
}

/// Signs a pool's SAML requests with the key of its signing certificate.
#[async_trait::async_trait]
pub trait RequestSigner: Send + Sync {
    async fn sign(&self, pool_id: &str, data: &[u8]) -> Result<Vec<u8>, ApiError>;
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The provider's user id: `sub`, Facebook's `id`, Amazon's `user_id`.
    pub subject: String,
    /// The issuer of the ID token, empty for providers without one.
    pub issuer: String,
    /// Every attribute the provider gave (ID token claims and user endpoint members).
    pub claims: serde_json::Map<String, Value>,
    /// What the provider answered, by part, as the inbound federation trigger is told:
    /// `tokenResponse`, `idToken`, `userInfo` (OAuth providers) or `samlResponse`.
    pub sources: serde_json::Map<String, Value>,
    /// A SAML assertion's `SessionIndex`; empty otherwise.
    pub session_index: String,
}

/// A JSON object's members as strings (a `StringMap` of a trigger's event).
pub fn string_map(object: &serde_json::Map<String, Value>) -> Value {
    Value::Object(
        object
            .keys()
            .filter_map(|k| Some((k.clone(), Value::String(text_claim(object, k)?))))
            .collect(),
    )
}

pub(crate) fn random_token(bytes: usize) -> Result<String, ApiError> {
    let mut random = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| ApiError::internal())?;
    Ok(URL_SAFE_NO_PAD.encode(random))
}

fn state_key(state: &str) -> String {
    let hashed = digest::digest(&digest::SHA256, state.as_bytes());
    format!("federation/state/{}", hex::encode(hashed))
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

fn store_error(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "federated sign-in state unavailable");
    ApiError::unavailable()
}

/// A provider refused or failed the sign-in; the text is safe to show.
pub fn refused(text: &str) -> ApiError {
    ApiError::new(ErrorCode::NotAuthorizedException, text)
}

/// What a provider answered that Portcullis could not use.
fn bad_answer(provider: &str, what: &str) -> ApiError {
    tracing::info!(provider, what, "identity provider answer refused");
    refused(&format!(
        "The identity provider {provider} returned an invalid answer."
    ))
}

pub struct OAuth {
    pub fetcher: Fetcher,
    pub ephemeral: Arc<dyn EphemeralStore>,
    pub social: SocialEndpoints,
    keys: KeyCache,
}

impl OAuth {
    pub fn new(
        fetcher: Fetcher,
        ephemeral: Arc<dyn EphemeralStore>,
        social: SocialEndpoints,
    ) -> Self {
        Self {
            fetcher,
            ephemeral,
            social,
            keys: KeyCache::new(REFETCH_PAUSE),
        }
    }

    /// Keeps the pending sign-in and returns the provider's authorization URL.
    pub async fn start(
        &self,
        provider_type: &str,
        details: &HashMap<String, String>,
        pending: Pending,
        signer: Option<&dyn RequestSigner>,
    ) -> Result<String, ApiError> {
        let state = random_token(32)?;
        let mut pending = pending;
        if provider_type == "SAML" {
            pending.request_id = format!("_{}", hex::encode(random_token(16)?));
            let sso = details
                .get("SSORedirectBindingURI")
                .map(String::as_str)
                .unwrap_or_default();
            let signed = details
                .get("RequestSigningAlgorithm")
                .is_some_and(|a| a == "rsa-sha256");
            let mut query = crate::saml::authn_request_query(
                &pending.pool_id,
                sso,
                &crate::saml::acs_url(&pending.callback_url),
                &pending.request_id,
                &state,
                time::OffsetDateTime::now_utc(),
                signed,
            )?;
            if signed {
                let signature = signer
                    .ok_or_else(ApiError::internal)?
                    .sign(&pending.pool_id, query.as_bytes())
                    .await?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(signature);
                let pair = serde_urlencoded::to_string([("Signature", encoded.as_str())])
                    .map_err(|_| ApiError::internal())?;
                query = format!("{query}&{pair}");
            }
            self.keep(&state, &pending).await?;
            return Ok(crate::saml::with_query(sso, &query));
        }
        pending.nonce = random_token(24)?;
        let pkce = matches!(provider_type, "OIDC" | "Google");
        pending.verifier = if pkce {
            random_token(48)?
        } else {
            String::new()
        };
        let detail = |key: &str| details.get(key).map(String::as_str).unwrap_or_default();
        let scope = match provider_type {
            // Facebook separates scopes with commas.
            "Facebook" => detail("authorize_scopes")
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(","),
            _ => detail("authorize_scopes").to_owned(),
        };
        let mut query: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", detail("client_id").into()),
            ("redirect_uri", pending.callback_url.clone()),
            ("scope", scope),
            ("state", state.clone()),
        ];
        if matches!(provider_type, "OIDC" | "Google" | "SignInWithApple") {
            query.push(("nonce", pending.nonce.clone()));
        }
        if pkce {
            query.push(("code_challenge", s256(&pending.verifier)));
            query.push(("code_challenge_method", "S256".into()));
        }
        if provider_type == "SignInWithApple" {
            // Apple posts the answer when names or addresses are asked for.
            query.push(("response_mode", "form_post".into()));
        }
        self.keep(&state, &pending).await?;
        let base = detail("authorize_url");
        let separator = if base.contains('?') { '&' } else { '?' };
        let encoded = serde_urlencoded::to_string(&query).map_err(|_| ApiError::internal())?;
        Ok(format!("{base}{separator}{encoded}"))
    }

    pub(crate) async fn keep(&self, state: &str, pending: &Pending) -> Result<(), ApiError> {
        let value = serde_json::to_vec(pending).map_err(|_| ApiError::internal())?;
        self.ephemeral
            .put(&state_key(state), Bytes::from(value), STATE_TTL)
            .await
            .map_err(store_error)
    }

    /// Takes the pending sign-in `state` names: once only.
    pub async fn take(&self, state: &str) -> Result<Pending, ApiError> {
        let expired =
            || refused("The sign-in expired or was already completed. Please sign in again.");
        if state.is_empty() || state.len() > 256 {
            return Err(expired());
        }
        let raw = self
            .ephemeral
            .take(&state_key(state))
            .await
            .map_err(store_error)?
            .ok_or_else(expired)?;
        serde_json::from_slice(&raw).map_err(|_| expired())
    }

    /// Exchanges the callback's `code` and proves who signed in.
    pub async fn finish(
        &self,
        provider_name: &str,
        provider_type: &str,
        details: &HashMap<String, String>,
        mapping: &HashMap<String, String>,
        pending: &Pending,
        code: &str,
    ) -> Result<Identity, ApiError> {
        let tokens = self
            .exchange(provider_name, provider_type, details, pending, code)
            .await?;
        let detail = |key: &str| details.get(key).map(String::as_str).unwrap_or_default();
        match provider_type {
            "Facebook" | "LoginWithAmazon" => {
                let access = tokens["access_token"]
                    .as_str()
                    .ok_or_else(|| bad_answer(provider_name, "no access token"))?;
                let claims = self
                    .user_endpoint(provider_name, provider_type, details, mapping, access)
                    .await?;
                let subject_key = if provider_type == "Facebook" {
                    "id"
                } else {
                    "user_id"
                };
                let subject = text_claim(&claims, subject_key)
                    .ok_or_else(|| bad_answer(provider_name, "no user id"))?;
                let mut sources = serde_json::Map::new();
                if let Value::Object(answer) = &tokens {
                    sources.insert("tokenResponse".into(), string_map(answer));
                }
                sources.insert("userInfo".into(), string_map(&claims));
                Ok(Identity {
                    subject,
                    issuer: String::new(),
                    claims,
                    sources,
                    session_index: String::new(),
                })
            }
            _ => {
                let id_token = tokens["id_token"]
                    .as_str()
                    .ok_or_else(|| bad_answer(provider_name, "no ID token"))?;
                let issuer = detail("oidc_issuer").trim_end_matches('/').to_owned();
                let jwks_url = match provider_type {
                    "Google" => self.social.google_jwks_url.clone(),
                    "SignInWithApple" => self.social.apple_jwks_url.clone(),
                    _ => detail("jwks_uri").to_owned(),
                };
                let mut issuers = vec![issuer.clone()];
                if provider_type == "Google" {
                    issuers.push("accounts.google.com".into());
                }
                let mut claims = self
                    .verify_id_token(
                        provider_name,
                        &jwks_url,
                        &issuers,
                        detail("client_id"),
                        &pending.nonce,
                        id_token,
                    )
                    .await?;
                let subject = text_claim(&claims, "sub")
                    .ok_or_else(|| bad_answer(provider_name, "no sub"))?;
                let mut sources = serde_json::Map::new();
                if let Value::Object(answer) = &tokens {
                    sources.insert("tokenResponse".into(), string_map(answer));
                }
                sources.insert("idToken".into(), string_map(&claims));
                if provider_type == "OIDC"
                    && !detail("attributes_url").is_empty()
                    && let Some(access) = tokens["access_token"].as_str()
                {
                    let more = self
                        .user_endpoint(provider_name, provider_type, details, mapping, access)
                        .await?;
                    // The user endpoint must describe the same user (OIDC Core 5.3.2).
                    if text_claim(&more, "sub").as_deref() != Some(subject.as_str()) {
                        return Err(bad_answer(provider_name, "userinfo names another subject"));
                    }
                    sources.insert("userInfo".into(), string_map(&more));
                    for (key, value) in more {
                        claims.entry(key).or_insert(value);
                    }
                }
                let issuer = text_claim(&claims, "iss").unwrap_or(issuer);
                Ok(Identity {
                    subject,
                    issuer,
                    claims,
                    sources,
                    session_index: String::new(),
                })
            }
        }
    }

    async fn exchange(
        &self,
        provider_name: &str,
        provider_type: &str,
        details: &HashMap<String, String>,
        pending: &Pending,
        code: &str,
    ) -> Result<Value, ApiError> {
        let detail = |key: &str| details.get(key).map(String::as_str).unwrap_or_default();
        let client_secret = match provider_type {
            "SignInWithApple" => apple_client_secret(details)?,
            _ => detail("client_secret").to_owned(),
        };
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &pending.callback_url),
            ("client_id", detail("client_id")),
        ];
        if !client_secret.is_empty() {
            form.push(("client_secret", &client_secret));
        }
        if !pending.verifier.is_empty() {
            form.push(("code_verifier", &pending.verifier));
        }
        let token_url = detail("token_url");
        let answer = if detail("token_request_method") == "GET" {
            let encoded = serde_urlencoded::to_string(&form).map_err(|_| ApiError::internal())?;
            let separator = if token_url.contains('?') { '&' } else { '?' };
            self.fetcher
                .fetch(
                    &format!("{token_url}{separator}{encoded}"),
                    Body::Get,
                    &[("accept", "application/json")],
                )
                .await
        } else {
            self.fetcher
                .fetch(
                    token_url,
                    Body::Form(&form),
                    &[("accept", "application/json")],
                )
                .await
        };
        let answer = answer.map_err(|err| {
            tracing::info!(provider = provider_name, error = %err, "token endpoint unreachable");
            refused(&format!(
                "The identity provider {provider_name} could not be reached."
            ))
        })?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status != 200 {
            tracing::info!(provider = provider_name, status = answer.status, error = %body["error"], "code exchange refused");
            return Err(refused(&format!(
                "The identity provider {provider_name} did not accept the sign-in."
            )));
        }
        Ok(body)
    }

    async fn user_endpoint(
        &self,
        provider_name: &str,
        provider_type: &str,
        details: &HashMap<String, String>,
        mapping: &HashMap<String, String>,
        access_token: &str,
    ) -> Result<serde_json::Map<String, Value>, ApiError> {
        let detail = |key: &str| details.get(key).map(String::as_str).unwrap_or_default();
        let mut url = detail("attributes_url").to_owned();
        if provider_type == "Facebook" {
            // `attributes_url_add_attributes`: the mapped fields, and the user's id, are
            // appended to the Graph API's `fields=`.
            let mut fields: Vec<&str> = vec!["id"];
            for field in mapping.values() {
                if !fields.contains(&field.as_str()) {
                    fields.push(field);
                }
            }
            fields.sort_unstable();
            url.push_str(&urlencode(&fields.join(",")));
            let separator = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{separator}access_token={}", urlencode(access_token));
        }
        let bearer = format!("Bearer {access_token}");
        let headers = [
            ("authorization", bearer.as_str()),
            ("accept", "application/json"),
        ];
        let answer = if provider_type == "OIDC" && detail("attributes_request_method") == "POST" {
            self.fetcher.fetch(&url, Body::Form(&[]), &headers).await
        } else {
            self.fetcher.fetch(&url, Body::Get, &headers).await
        };
        let answer = answer.map_err(|err| {
            tracing::info!(provider = provider_name, error = %err, "user endpoint unreachable");
            refused(&format!(
                "The identity provider {provider_name} could not be reached."
            ))
        })?;
        if answer.status != 200 {
            return Err(bad_answer(
                provider_name,
                "user endpoint refused the access token",
            ));
        }
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(bad_answer(
                provider_name,
                "user endpoint answer is not an object",
            )),
        }
    }

    /// The provider's keys.
    async fn key_set(&self, provider: &str, url: &str, kid: &str) -> Result<JwkSet, ApiError> {
        self.keys
            .get(&self.fetcher, url, kid)
            .await
            .map_err(|err| match err {
                KeysError::Unreachable => refused(&format!(
                    "The identity provider {provider} could not be reached."
                )),
                KeysError::Unreadable => bad_answer(provider, "keys unreadable"),
            })
    }

    async fn verify_id_token(
        &self,
        provider: &str,
        jwks_url: &str,
        issuers: &[String],
        audience: &str,
        nonce: &str,
        token: &str,
    ) -> Result<serde_json::Map<String, Value>, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| bad_answer(provider, "ID token unreadable"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(bad_answer(provider, "ID token algorithm not allowed"));
        }
        let kid = header.kid.unwrap_or_default();
        let set = self.key_set(provider, jwks_url, &kid).await?;
        let jwk = if kid.is_empty() && set.keys.len() == 1 {
            set.keys.first()
        } else {
            set.find(&kid)
        }
        .ok_or_else(|| bad_answer(provider, "ID token signed by an unknown key"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| bad_answer(provider, "key unusable"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(issuers);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|err| bad_answer(provider, &format!("ID token refused: {:?}", err.kind())))?;
        let Value::Object(claims) = data.claims else {
            return Err(bad_answer(provider, "ID token claims are not an object"));
        };
        // The nonce binds the token to this sign-in: a token from another one replays.
        let given = claims
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !bool::from(subtle_eq(given.as_bytes(), nonce.as_bytes())) {
            return Err(bad_answer(provider, "ID token nonce does not match"));
        }
        Ok(claims)
    }
}

fn subtle_eq(a: &[u8], b: &[u8]) -> subtle::Choice {
    use subtle::ConstantTimeEq;
    if a.len() != b.len() {
        return subtle::Choice::from(0);
    }
    a.ct_eq(b)
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .to_owned()
}

/// A claim as a string: strings as they are, numbers and booleans written out.
pub fn text_claim(claims: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::String(_) => None,
        other => Some(other.to_string()),
    }
}

/// The user-pool attributes `mapping` takes from the provider's claims (the `username`
/// mapping names the subject and is left out).
pub fn mapped_attributes(
    mapping: &HashMap<String, String>,
    claims: &serde_json::Map<String, Value>,
) -> BTreeMap<String, String> {
    mapping
        .iter()
        .filter(|(attribute, _)| attribute.as_str() != "username")
        .filter_map(|(attribute, claim)| Some((attribute.clone(), text_claim(claims, claim)?)))
        .collect()
}

/// Sign in with Apple's client secret: a short-lived ES256 JWT of the team, signed with
/// the key Apple issued.
fn apple_client_secret(details: &HashMap<String, String>) -> Result<String, ApiError> {
    let detail = |key: &str| details.get(key).map(String::as_str).unwrap_or_default();
    let key = EncodingKey::from_ec_pem(detail("private_key").as_bytes()).map_err(|_| {
        tracing::error!("Sign in with Apple private key unusable");
        ApiError::internal()
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(detail("key_id").to_owned());
    let claims = serde_json::json!({
        "iss": detail("team_id"),
        "iat": now,
        "exp": now + 300,
        "aud": detail("oidc_issuer").trim_end_matches('/'),
        "sub": detail("client_id"),
    });
    jsonwebtoken::encode(&header, &claims, &key).map_err(|_| ApiError::internal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_reads_claims_as_text_and_skips_the_user_name() {
        let claims = serde_json::json!({
            "sub": "abc", "email": "a@example.com", "email_verified": true, "age": 42,
            "empty": "",
        });
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        let mapping: HashMap<String, String> = [
            ("username", "sub"),
            ("email", "email"),
            ("email_verified", "email_verified"),
            ("custom:age", "age"),
            ("name", "missing"),
            ("nickname", "empty"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let mapped = mapped_attributes(&mapping, &claims);
        assert_eq!(mapped.len(), 3);
        assert_eq!(mapped["email_verified"], "true");
        assert_eq!(mapped["custom:age"], "42");
    }

    #[test]
    fn apple_client_secrets_are_es256_jwts_of_the_team() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\nOF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G\n-----END PRIVATE KEY-----";
        let details: HashMap<String, String> = [
            ("private_key", pem),
            ("key_id", "KEY1"),
            ("team_id", "TEAM1"),
            ("client_id", "com.example"),
            ("oidc_issuer", "https://appleid.apple.com"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let secret = apple_client_secret(&details).unwrap();
        let header = jsonwebtoken::decode_header(&secret).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("KEY1"));
        let payload = secret.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["iss"], "TEAM1");
        assert_eq!(claims["sub"], "com.example");
        assert_eq!(claims["aud"], "https://appleid.apple.com");
    }
}
