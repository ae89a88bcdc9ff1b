//! Issuing and verifying a pool's tokens.
//!
//! Each pool has an RSA signing key, generated on first use, stored in a key/value
//! bucket sealed under the master key, and cached parsed in memory (signing with a kept
//! key is 2.5x cheaper than re-parsing it per token). Every replica converges on the same
//! key: the first to create it wins and the others read it.
//!
//! Refresh tokens are opaque random strings; the ephemeral store keeps the grant they
//! continue under the SHA-256 of the token, never the token itself. A session (the
//! refresh tokens of one sign-in and every token issued from them) is named by its
//! `origin_jti`, a UUIDv7 whose timestamp is when the session started: a global sign-out
//! revokes the sessions that started before it. Revocation itself is user state in the
//! directory's event log; this service only issues, rotates and forgets tokens.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use portcullis_ephemeral::EphemeralStore;
use portcullis_errors::ApiError;
use portcullis_eventlog::{KeyValue, KvError};
use portcullis_proto::token::v1 as pb;
use portcullis_types::{ADMIN_SCOPE, Clock, PoolId};
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::jwt::{JwtError, Verifier};
use crate::keys::{MasterKey, SigningKey};

struct PoolKeys {
    signing: SigningKey,
    verifier: Verifier,
    jwks: String,
}

/// The name of the identity pools' signing key in the key bucket and in issuer URLs
/// (no user pool id looks like it: those are `<region>_<id>`).
pub const IDENTITY_KEYS: &str = "identity";

pub struct Issuer {
    keys: Arc<dyn KeyValue>,
    master: MasterKey,
    cache: RwLock<HashMap<String, Arc<PoolKeys>>>,
    refresh: Arc<dyn EphemeralStore>,
    issuer_base: String,
    clock: Arc<dyn Clock>,
    /// Held while a pool's first key is made, so that the requests racing for a new
    /// pool's first token wait for one RSA key instead of each generating its own.
    creating: tokio::sync::Mutex<()>,
}

#[derive(Serialize, Deserialize)]
struct RefreshRecord {
    pool_id: String,
    client_id: String,
    sub: String,
    auth_time: i64,
    origin_jti: String,
    /// When the token expires (0 in records written before rotation existed).
    #[serde(default)]
    expires_ms: i64,
    /// Set once the token has been rotated out: it is honoured until then, and any use
    /// after is reuse.
    #[serde(default)]
    rotated_until_ms: Option<i64>,
    /// The device of the sign-in, carried by every refresh.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    device_key: String,
    /// An OAuth 2.0 session keeps its scopes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    oauth: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
}

/// How long an authorization code can be redeemed (Cognito: 5 minutes).
const CODE_TTL: Duration = Duration::from_secs(300);
/// How long a spent code is remembered, so that a replay revokes what it issued.
const SPENT_CODE_TTL: Duration = Duration::from_secs(3_600);

fn code_key(prefix: &str, code: &str) -> String {
    format!(
        "{prefix}/{}",
        hex::encode(digest::digest(&digest::SHA256, code.as_bytes()))
    )
}

/// OIDC `at_hash`: the left half of the SHA-256 of the access token, base64url.
fn at_hash(access_token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "token service failure");
    ApiError::internal()
}

/// Records written before expiries were kept are taken to live Cognito's default 30 days.
const DEFAULT_REFRESH_MS: i64 = 30 * 24 * 3600 * 1_000;

/// A new session id: a UUIDv7 stamped with the session's start.
fn session_id(now_ms: i64) -> String {
    let ms = u64::try_from(now_ms).unwrap_or_default();
    let ts =
        uuid::Timestamp::from_unix(uuid::NoContext, ms / 1_000, (ms % 1_000) as u32 * 1_000_000);
    uuid::Uuid::new_v7(ts).to_string()
}

fn random_token(len: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::internal())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The mark of a refresh token rotated out, holding until when it is honoured.
fn rotation_key(token: &str) -> String {
    format!(
        "rtr/{}",
        hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
    )
}

fn refresh_key(token: &str) -> String {
    format!(
        "rt/{}",
        hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
    )
}

/// An ID token goes with every API sign-in, with OAuth 2.0 tokens only under `openid`,
/// and never with a client_credentials token.
fn wants_id_token(req: &pb::IssueTokensRequest) -> bool {
    !req.client_credentials && (!req.oauth || req.scopes.iter().any(|s| s == "openid"))
}

/// ID-token claim values typed as Cognito types them.
fn claim_value(name: &str, value: &str) -> Value {
    match name {
        "email_verified" | "phone_number_verified" => Value::Bool(value == "true"),
        "updated_at" => value
            .parse::<i64>()
            .map_or_else(|_| Value::String(value.into()), Value::from),
        "identities" => identities_claim(value),
        _ => Value::String(value.into()),
    }
}

/// A federated user's `identities` attribute (a JSON array) as the ID token carries it:
/// an array whose `primary` and `dateCreated` members are strings, as Cognito's are.
fn identities_claim(value: &str) -> Value {
    let Ok(Value::Array(mut identities)) = serde_json::from_str::<Value>(value) else {
        return Value::String(value.into());
    };
    for identity in &mut identities {
        if let Value::Object(members) = identity {
            for key in ["primary", "dateCreated"] {
                if let Some(member) = members.get_mut(key)
                    && !member.is_string()
                    && !member.is_null()
                {
                    *member = Value::String(member.to_string());
                }
            }
        }
    }
    Value::Array(identities)
}

impl Issuer {
    pub fn new(
        keys: Arc<dyn KeyValue>,
        master: MasterKey,
        refresh: Arc<dyn EphemeralStore>,
        issuer_base: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            master,
            cache: RwLock::new(HashMap::new()),
            refresh,
            issuer_base: issuer_base.trim_end_matches('/').to_owned(),
            clock,
            creating: tokio::sync::Mutex::new(()),
        }
    }

    fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}", self.issuer_base)
    }

    fn cached(&self, pool_id: &str) -> Option<Arc<PoolKeys>> {
        self.cache.read().ok()?.get(pool_id).cloned()
    }

    /// The pool's keys, created if `create` and none exist yet.
    async fn pool_keys(
        &self,
        pool_id: &str,
        create: bool,
    ) -> Result<Option<Arc<PoolKeys>>, ApiError> {
        if let Some(keys) = self.cached(pool_id) {
            return Ok(Some(keys));
        }
        let signing = match self.keys.get(pool_id).await.map_err(internal)? {
            Some(entry) => self.unseal(pool_id, &entry.value)?,
            None if create => {
                let _creating = self.creating.lock().await;
                // Made by another request of this replica while this one waited?
                if let Some(keys) = self.cached(pool_id) {
                    return Ok(Some(keys));
                }
                match self.keys.get(pool_id).await.map_err(internal)? {
                    Some(entry) => self.unseal(pool_id, &entry.value)?,
                    None => self.create_key(pool_id).await?,
                }
            }
            None => return Ok(None),
        };
        let mut verifier = Verifier::new(self.issuer(pool_id));
        verifier.add_signing_key(&signing).map_err(internal)?;
        let jwks = json!({ "keys": [signing.jwk()] }).to_string();
        let keys = Arc::new(PoolKeys {
            signing,
            verifier,
            jwks,
        });
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(pool_id.to_owned(), keys.clone());
        }
        Ok(Some(keys))
    }

    fn unseal(&self, pool_id: &str, sealed: &[u8]) -> Result<SigningKey, ApiError> {
        let der = self
            .master
            .open(sealed, pool_id.as_bytes())
            .map_err(internal)?;
        SigningKey::from_pkcs8_der(&der).map_err(internal)
    }

    async fn create_key(&self, pool_id: &str) -> Result<SigningKey, ApiError> {
        let key = tokio::task::spawn_blocking(SigningKey::generate)
            .await
            .map_err(internal)?
            .map_err(internal)?;
        let sealed = self
            .master
            .seal(&key.to_pkcs8_der().map_err(internal)?, pool_id.as_bytes())
            .map_err(internal)?;
        match self.keys.create(pool_id, Bytes::from(sealed)).await {
            Ok(_) => Ok(key),
            // Another replica created it first: use theirs.
            Err(KvError::Conflict) => {
                let entry = self
                    .keys
                    .get(pool_id)
                    .await
                    .map_err(internal)?
                    .ok_or_else(ApiError::internal)?;
                self.unseal(pool_id, &entry.value)
            }
            Err(err) => Err(internal(err)),
        }
    }

    pub async fn issue(&self, req: pb::IssueTokensRequest) -> Result<pb::TokenSet, ApiError> {
        PoolId::parse(&req.pool_id).map_err(|e| ApiError::invalid_parameter(e.0))?;
        let keys = self
            .pool_keys(&req.pool_id, true)
            .await?
            .ok_or_else(ApiError::internal)?;
        let validity = req.validity.unwrap_or_default();
        let now = self.clock.now_ms() / 1_000;
        let origin_jti = if req.origin_jti.is_empty() {
            session_id(self.clock.now_ms())
        } else {
            req.origin_jti.clone()
        };
        let event_id = uuid::Uuid::new_v4().to_string();
        let mut access =
            self.access_claims(&req, &origin_jti, &event_id, now, validity.access_seconds);
        let mut id = wants_id_token(&req)
            .then(|| self.id_claims(&req, &origin_jti, &event_id, now, validity.id_seconds));
        if let Some(overrides) = &req.overrides {
            crate::overrides::apply(overrides, &mut access, id.as_mut())?;
        }
        let oauth = req.oauth;
        let signer = keys.clone();
        let (access_token, id_token) = tokio::task::spawn_blocking(move || {
            let access_token = signer.signing.sign_rs256(&access)?;
            let id_token = match id {
                Some(mut id) => {
                    if oauth {
                        id["at_hash"] = json!(at_hash(&access_token));
                    }
                    signer.signing.sign_rs256(&id)?
                }
                None => String::new(),
            };
            Ok::<_, crate::keys::KeyError>((access_token, id_token))
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        let refresh_token = if req.issue_refresh_token && !req.client_credentials {
            let expires_ms = if req.refresh_expires_ms > 0 {
                req.refresh_expires_ms
            } else {
                let ttl_ms = i64::try_from(validity.refresh_seconds.saturating_mul(1_000))
                    .unwrap_or(i64::MAX);
                self.clock.now_ms().saturating_add(ttl_ms)
            };
            self.new_refresh_token(&req, &origin_jti, expires_ms)
                .await?
        } else {
            String::new()
        };
        Ok(pb::TokenSet {
            access_token,
            id_token,
            refresh_token,
            expires_in: validity.access_seconds,
        })
    }

    fn access_claims(
        &self,
        req: &pb::IssueTokensRequest,
        origin_jti: &str,
        event_id: &str,
        now: i64,
        ttl: u64,
    ) -> Value {
        let scope = if req.oauth || req.client_credentials {
            req.scopes.join(" ")
        } else {
            ADMIN_SCOPE.to_owned()
        };
        let exp = now + i64::try_from(ttl).unwrap_or(0);
        if req.client_credentials {
            // A machine's token: the client is the subject, and there is no user.
            return json!({
                "sub": req.client_id,
                "token_use": "access",
                "scope": scope,
                "auth_time": now,
                "iss": self.issuer(&req.pool_id),
                "exp": exp,
                "iat": now,
                "version": 2,
                "jti": uuid::Uuid::new_v4().to_string(),
                "client_id": req.client_id,
            });
        }
        let mut claims = json!({
            "sub": req.sub,
            "iss": self.issuer(&req.pool_id),
            "client_id": req.client_id,
            "origin_jti": origin_jti,
            "event_id": event_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": req.auth_time,
            "exp": exp,
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
            "username": req.username,
        });
        if req.oauth {
            claims["version"] = json!(2);
        }
        if !req.groups.is_empty() {
            claims["cognito:groups"] = json!(req.groups);
        }
        if !req.device_key.is_empty() {
            claims["device_key"] = json!(req.device_key);
        }
        claims
    }

    fn id_claims(
        &self,
        req: &pb::IssueTokensRequest,
        origin_jti: &str,
        event_id: &str,
        now: i64,
        ttl: u64,
    ) -> Value {
        let mut claims = Map::new();
        for (name, value) in &req.attributes {
            if name != "sub" {
                claims.insert(name.clone(), claim_value(name, value));
            }
        }
        let fixed = json!({
            "sub": req.sub,
            "iss": self.issuer(&req.pool_id),
            "cognito:username": req.username,
            "origin_jti": origin_jti,
            "aud": req.client_id,
            "event_id": event_id,
            "token_use": "id",
            "auth_time": req.auth_time,
            "exp": now + i64::try_from(ttl).unwrap_or(0),
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Value::Object(fixed) = fixed {
            claims.extend(fixed);
        }
        if !req.groups.is_empty() {
            claims.insert("cognito:groups".into(), json!(req.groups));
        }
        if !req.roles.is_empty() {
            claims.insert("cognito:roles".into(), json!(req.roles));
        }
        if !req.preferred_role.is_empty() {
            claims.insert("cognito:preferred_role".into(), json!(req.preferred_role));
        }
        if !req.nonce.is_empty() {
            claims.insert("nonce".into(), json!(req.nonce));
        }
        Value::Object(claims)
    }

    async fn new_refresh_token(
        &self,
        req: &pb::IssueTokensRequest,
        origin_jti: &str,
        expires_ms: i64,
    ) -> Result<String, ApiError> {
        let token = random_token(96)?;
        let record = RefreshRecord {
            pool_id: req.pool_id.clone(),
            client_id: req.client_id.clone(),
            sub: req.sub.clone(),
            auth_time: req.auth_time,
            origin_jti: origin_jti.to_owned(),
            expires_ms,
            rotated_until_ms: None,
            device_key: req.device_key.clone(),
            oauth: req.oauth,
            scopes: if req.oauth {
                req.scopes.clone()
            } else {
                Vec::new()
            },
        };
        self.store_refresh(&token, &record).await?;
        Ok(token)
    }

    async fn store_refresh(&self, token: &str, record: &RefreshRecord) -> Result<(), ApiError> {
        let ttl_ms = record.expires_ms.saturating_sub(self.clock.now_ms()).max(1);
        let value = Bytes::from(serde_json::to_vec(record).map_err(internal)?);
        self.refresh
            .put(
                &refresh_key(token),
                value,
                Duration::from_millis(ttl_ms.unsigned_abs()),
            )
            .await
            .map_err(internal)
    }

    /// The record of a refresh token issued to `client_id`.
    async fn refresh_record(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<RefreshRecord, ApiError> {
        let invalid = || ApiError::not_authorized("Invalid Refresh Token");
        if token.is_empty() || token.len() > 4096 {
            return Err(invalid());
        }
        let value = self
            .refresh
            .get(&refresh_key(token))
            .await
            .map_err(internal)?
            .ok_or_else(invalid)?;
        let record: RefreshRecord = serde_json::from_slice(&value).map_err(internal)?;
        if record.client_id != client_id {
            return Err(invalid());
        }
        Ok(record)
    }

    /// Until when a rotated-out token is honoured, or `None` while it has not been
    /// rotated out. With `rotate`, this use rotates it unless another did first: the
    /// mark is created once (create-if-absent), so of concurrent rotations exactly one
    /// is the rotation, the others are later uses, and the grace window never restarts.
    async fn rotated_until(
        &self,
        token: &str,
        record: &RefreshRecord,
        rotate: bool,
        grace_seconds: u32,
    ) -> Result<Option<i64>, ApiError> {
        // Rotated by an earlier version, which kept the mark in the record.
        if record.rotated_until_ms.is_some() {
            return Ok(record.rotated_until_ms);
        }
        let key = rotation_key(token);
        if rotate {
            let now = self.clock.now_ms();
            let until = now + i64::from(grace_seconds) * 1_000;
            let expires_ms = if record.expires_ms == 0 {
                now + DEFAULT_REFRESH_MS
            } else {
                record.expires_ms
            };
            let ttl = Duration::from_millis(expires_ms.saturating_sub(now).max(1).unsigned_abs());
            let mark = Bytes::from(until.to_string().into_bytes());
            if self
                .refresh
                .put_if_absent(&key, mark, ttl)
                .await
                .map_err(internal)?
            {
                return Ok(None);
            }
        }
        let mark = self.refresh.get(&key).await.map_err(internal)?;
        Ok(mark.and_then(|m| std::str::from_utf8(&m).ok()?.parse().ok()))
    }

    /// The sign-in a refresh token continues. With `rotate`, the token is rotated out:
    /// it stays usable for `grace_seconds`, and a use after that comes back as `reused`
    /// (the caller revokes the session). Of concurrent rotations of one token, exactly
    /// one is the rotation; the others are uses of a rotated-out token.
    pub async fn resolve_refresh(
        &self,
        req: &pb::ResolveRefreshTokenRequest,
    ) -> Result<pb::RefreshGrant, ApiError> {
        let record = self
            .refresh_record(&req.refresh_token, &req.client_id)
            .await?;
        let rotated_until = self
            .rotated_until(&req.refresh_token, &record, req.rotate, req.grace_seconds)
            .await?;
        let now = self.clock.now_ms();
        let reused = rotated_until.is_some_and(|until| now >= until);
        Ok(pb::RefreshGrant {
            pool_id: record.pool_id,
            client_id: record.client_id,
            sub: record.sub,
            auth_time: record.auth_time,
            origin_jti: record.origin_jti,
            expires_ms: if record.expires_ms == 0 {
                now + DEFAULT_REFRESH_MS
            } else {
                record.expires_ms
            },
            reused,
            device_key: record.device_key,
            oauth: record.oauth,
            scopes: record.scopes,
        })
    }

    pub async fn verify_access(&self, token: &str) -> Result<pb::VerifiedAccessToken, ApiError> {
        let invalid = || ApiError::not_authorized("Invalid Access Token");
        let pool_id = self.pool_of(token).ok_or_else(invalid)?;
        let keys = self.pool_keys(&pool_id, false).await?.ok_or_else(invalid)?;
        let claims = keys.verifier.verify(token).map_err(|err| match err {
            JwtError::Expired => ApiError::not_authorized("Access Token has expired"),
            _ => invalid(),
        })?;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if text("token_use") != "access" {
            return Err(invalid());
        }
        Ok(pb::VerifiedAccessToken {
            pool_id,
            sub: text("sub"),
            username: text("username"),
            client_id: text("client_id"),
            scope: text("scope"),
            jti: text("jti"),
            origin_jti: text("origin_jti"),
            exp: claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            iat: claims
                .get("iat")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            device_key: text("device_key"),
        })
    }

    /// Verifies a user pool's ID token; the claims come back as JSON.
    pub async fn verify_id(&self, token: &str) -> Result<pb::VerifiedToken, ApiError> {
        let invalid = || ApiError::not_authorized("Invalid ID Token");
        let pool_id = self.pool_of(token).ok_or_else(invalid)?;
        let keys = self.pool_keys(&pool_id, false).await?.ok_or_else(invalid)?;
        let claims = keys.verifier.verify(token).map_err(|err| match err {
            JwtError::Expired => ApiError::not_authorized("ID Token has expired"),
            _ => invalid(),
        })?;
        if claims.get("token_use").and_then(Value::as_str) != Some("id") {
            return Err(invalid());
        }
        Ok(pb::VerifiedToken {
            pool_id,
            claims_json: claims.to_string(),
        })
    }

    /// Signs an identity pool's OpenID token with the identity key (made on first use).
    pub async fn sign_identity(
        &self,
        req: &pb::SignIdentityTokenRequest,
    ) -> Result<pb::SignedIdentityToken, ApiError> {
        let mut claims: Value = serde_json::from_str(&req.claims_json)
            .map_err(|_| ApiError::invalid_parameter("claims must be a JSON object"))?;
        let issuer = self.issuer(IDENTITY_KEYS);
        let Some(object) = claims.as_object_mut() else {
            return Err(ApiError::invalid_parameter("claims must be a JSON object"));
        };
        object.insert("iss".to_owned(), Value::String(issuer.clone()));
        let keys = self
            .pool_keys(IDENTITY_KEYS, true)
            .await?
            .ok_or_else(ApiError::internal)?;
        let token = keys.signing.sign_rs256(&claims).map_err(internal)?;
        Ok(pb::SignedIdentityToken { token, issuer })
    }

    /// Verifies an OpenID token signed by [`Issuer::sign_identity`].
    pub async fn verify_identity(&self, token: &str) -> Result<pb::VerifiedToken, ApiError> {
        let invalid = || ApiError::not_authorized("Invalid login token.");
        let keys = self
            .pool_keys(IDENTITY_KEYS, false)
            .await?
            .ok_or_else(invalid)?;
        let claims = keys.verifier.verify(token).map_err(|err| match err {
            JwtError::Expired => ApiError::not_authorized("Invalid login token. Token is expired."),
            _ => invalid(),
        })?;
        Ok(pb::VerifiedToken {
            pool_id: String::new(),
            claims_json: claims.to_string(),
        })
    }

    /// The pool a token claims to come from (unverified: it only picks which keys to
    /// verify with; the verifier then checks `iss` exactly).
    fn pool_of(&self, token: &str) -> Option<String> {
        if token.len() > crate::jwt::MAX_TOKEN_LEN {
            return None;
        }
        let payload = token.split('.').nth(1)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let claims: Value = serde_json::from_slice(&bytes).ok()?;
        let iss = claims.get("iss")?.as_str()?;
        let pool_id = iss.strip_prefix(&self.issuer_base)?.strip_prefix('/')?;
        PoolId::parse(pool_id).ok().map(|p| p.to_string())
    }

    /// A new authorization code for `grant`, redeemable once within [`CODE_TTL`]. The
    /// session its tokens will start is named now, so a replay can revoke it.
    pub async fn create_code(
        &self,
        mut grant: pb::AuthorizationCodeGrant,
    ) -> Result<pb::AuthorizationCode, ApiError> {
        PoolId::parse(&grant.pool_id).map_err(|e| ApiError::invalid_parameter(e.0))?;
        let code = random_token(32)?;
        grant.origin_jti = session_id(self.clock.now_ms());
        self.refresh
            .put(
                &code_key("ac", &code),
                Bytes::from(grant.encode_to_vec()),
                CODE_TTL,
            )
            .await
            .map_err(internal)?;
        Ok(pb::AuthorizationCode { code })
    }

    /// Spends a code issued to `client_id`. A code seen before comes back as `replayed`
    /// (its tokens' session is to be revoked); an unknown, expired or other client's code
    /// is invalid. Of concurrent redemptions exactly one gets the grant.
    pub async fn redeem_code(
        &self,
        req: &pb::RedeemAuthorizationCodeRequest,
    ) -> Result<pb::RedeemedCode, ApiError> {
        let invalid = || ApiError::not_authorized("invalid_grant");
        if req.code.is_empty() || req.code.len() > 512 {
            return Err(invalid());
        }
        let decode = |raw: Bytes| pb::AuthorizationCodeGrant::decode(raw).map_err(internal);
        let spent_key = code_key("acu", &req.code);
        if let Some(raw) = self
            .refresh
            .take(&code_key("ac", &req.code))
            .await
            .map_err(internal)?
        {
            let grant = decode(raw.clone())?;
            self.refresh
                .put(&spent_key, raw, SPENT_CODE_TTL)
                .await
                .map_err(internal)?;
            if grant.client_id != req.client_id {
                return Err(invalid());
            }
            return Ok(pb::RedeemedCode {
                grant: Some(grant),
                replayed: None,
            });
        }
        match self.refresh.get(&spent_key).await.map_err(internal)? {
            Some(raw) => {
                let grant = decode(raw)?;
                if grant.client_id != req.client_id {
                    return Err(invalid());
                }
                Ok(pb::RedeemedCode {
                    grant: None,
                    replayed: Some(grant),
                })
            }
            None => Err(invalid()),
        }
    }

    pub async fn jwks(&self, pool_id: &str) -> Result<String, ApiError> {
        if pool_id != IDENTITY_KEYS {
            PoolId::parse(pool_id).map_err(|e| ApiError::invalid_parameter(e.0))?;
        }
        let keys = self
            .pool_keys(pool_id, true)
            .await?
            .ok_or_else(ApiError::internal)?;
        Ok(keys.jwks.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {

    #[test]
    fn identities_are_an_array_with_text_members() {
        let attribute = r#"[{"userId":"1","providerName":"Google","providerType":"Google","issuer":null,"primary":true,"dateCreated":1700000000000}]"#;
        let claim = claim_value("identities", attribute);
        assert_eq!(claim[0]["primary"], "true");
        assert_eq!(claim[0]["dateCreated"], "1700000000000");
        assert_eq!(claim[0]["issuer"], Value::Null);
        assert_eq!(
            claim_value("identities", "not json"),
            Value::String("not json".into())
        );
    }

    use super::*;
    use portcullis_ephemeral::StoreError;
    use portcullis_ephemeral::memory::MemoryStore;
    use portcullis_eventlog::embedded::EmbeddedStore;
    use portcullis_types::SystemClock;

    const POOL: &str = "us-east-1_abcdefghi";

    async fn issuer(dir: &tempfile::TempDir) -> Issuer {
        issuer_with(dir, Arc::new(MemoryStore::new()), Arc::new(SystemClock)).await
    }

    async fn issuer_with(
        dir: &tempfile::TempDir,
        store: Arc<dyn EphemeralStore>,
        clock: Arc<dyn Clock>,
    ) -> Issuer {
        let log = EmbeddedStore::open(&dir.path().join("log.redb"))
            .await
            .unwrap();
        Issuer::new(
            log.bucket("keys"),
            MasterKey::from_bytes(&[7u8; MasterKey::LEN]).unwrap(),
            store,
            "http://issuer.test",
            clock,
        )
    }

    /// A clock the test moves.
    #[derive(Default)]
    struct ManualClock(std::sync::atomic::AtomicI64);

    impl Clock for ManualClock {
        fn now_ms(&self) -> i64 {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    /// A memory store whose first two reads of a refresh token wait for each other, so
    /// two uses of one token both read it before either goes on: the interleaving in
    /// which a read-then-write rotation lets both succeed.
    struct BothRead {
        inner: MemoryStore,
        barrier: tokio::sync::Barrier,
        reads: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl EphemeralStore for BothRead {
        async fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
            self.inner.put(key, value, ttl).await
        }
        async fn put_if_absent(
            &self,
            key: &str,
            value: Bytes,
            ttl: Duration,
        ) -> Result<bool, StoreError> {
            self.inner.put_if_absent(key, value, ttl).await
        }
        async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
            let value = self.inner.get(key).await;
            if key.starts_with("rt/")
                && self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2
            {
                self.barrier.wait().await;
            }
            value
        }
        async fn take(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
            self.inner.take(key).await
        }
        async fn delete(&self, key: &str) -> Result<bool, StoreError> {
            self.inner.delete(key).await
        }
        async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
            self.inner.incr(key, ttl).await
        }
    }

    fn rotate(token: &str, grace_seconds: u32) -> pb::ResolveRefreshTokenRequest {
        pb::ResolveRefreshTokenRequest {
            refresh_token: token.into(),
            client_id: "client".into(),
            rotate: true,
            grace_seconds,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_two_concurrent_rotations_without_grace_one_is_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(BothRead {
            inner: MemoryStore::new(),
            barrier: tokio::sync::Barrier::new(2),
            reads: Default::default(),
        });
        let issuer = Arc::new(issuer_with(&dir, store, Arc::new(SystemClock)).await);
        let token = issuer
            .issue(request(&["openid"]))
            .await
            .unwrap()
            .refresh_token;
        let uses: Vec<_> = (0..2)
            .map(|_| {
                let (issuer, token) = (Arc::clone(&issuer), token.clone());
                tokio::spawn(async move { issuer.resolve_refresh(&rotate(&token, 0)).await })
            })
            .collect();
        let mut reused = Vec::new();
        for used in uses {
            reused.push(used.await.unwrap().unwrap().reused);
        }
        reused.sort();
        assert_eq!(reused, [false, true], "exactly one use is the rotation");
    }

    #[tokio::test]
    async fn the_grace_window_of_a_rotated_token_never_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::default());
        clock
            .0
            .store(1_700_000_000_000, std::sync::atomic::Ordering::SeqCst);
        let issuer = issuer_with(&dir, Arc::new(MemoryStore::new()), clock.clone()).await;
        let token = issuer
            .issue(request(&["openid"]))
            .await
            .unwrap()
            .refresh_token;
        let advance = |ms: i64| {
            clock.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
        };
        assert!(
            !issuer
                .resolve_refresh(&rotate(&token, 10))
                .await
                .unwrap()
                .reused
        );
        advance(6_000);
        assert!(
            !issuer
                .resolve_refresh(&rotate(&token, 10))
                .await
                .unwrap()
                .reused,
            "a retry within the grace period"
        );
        advance(6_000);
        assert!(
            issuer
                .resolve_refresh(&rotate(&token, 10))
                .await
                .unwrap()
                .reused,
            "ten seconds after the first rotation, not after the retry"
        );
        let plain = pb::ResolveRefreshTokenRequest {
            rotate: false,
            ..rotate(&token, 10)
        };
        assert!(issuer.resolve_refresh(&plain).await.unwrap().reused);
    }

    fn payload(token: &str) -> Value {
        let part = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn request(scopes: &[&str]) -> pb::IssueTokensRequest {
        pb::IssueTokensRequest {
            pool_id: POOL.into(),
            client_id: "client".into(),
            sub: "sub-1".into(),
            username: "ada".into(),
            auth_time: 1_700_000_000,
            validity: Some(pb::Validity {
                access_seconds: 3_600,
                id_seconds: 3_600,
                refresh_seconds: 86_400,
            }),
            issue_refresh_token: true,
            oauth: true,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            nonce: "n-1".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn oauth_tokens_carry_scopes_nonce_and_at_hash() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = issuer(&dir).await;
        let tokens = issuer.issue(request(&["openid", "email"])).await.unwrap();
        let access = payload(&tokens.access_token);
        let id = payload(&tokens.id_token);
        assert_eq!(access["scope"], "openid email");
        assert_eq!(access["version"], 2);
        assert_eq!(id["nonce"], "n-1");
        assert_eq!(id["at_hash"], at_hash(&tokens.access_token));
        // RFC OIDC Core 3.1.3.6: the left half of SHA-256, base64url.
        let digest = digest::digest(&digest::SHA256, tokens.access_token.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(id["at_hash"].as_str().unwrap())
                .unwrap(),
            &digest.as_ref()[..16]
        );
        // The refresh token keeps the session's scopes.
        let grant = issuer
            .resolve_refresh(&pb::ResolveRefreshTokenRequest {
                refresh_token: tokens.refresh_token,
                client_id: "client".into(),
                rotate: false,
                grace_seconds: 0,
            })
            .await
            .unwrap();
        assert!(grant.oauth);
        assert_eq!(grant.scopes, ["openid", "email"]);
    }

    /// Counts the keys created in the bucket it wraps.
    struct CountingCreates(Arc<dyn KeyValue>, std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl KeyValue for CountingCreates {
        async fn get(&self, key: &str) -> Result<Option<portcullis_eventlog::Entry>, KvError> {
            self.0.get(key).await
        }
        async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.create(key, value).await
        }
        async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
            self.0.update(key, value, revision).await
        }
        async fn delete(&self, key: &str, revision: u64) -> Result<(), KvError> {
            self.0.delete(key, revision).await
        }
    }

    /// The requests racing for a new pool's first token wait for one key: before, each
    /// generated an RSA key of its own (a second of CPU for 32 of them on two cores).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_first_tokens_of_a_pool_make_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedStore::open(&dir.path().join("log.redb"))
            .await
            .unwrap();
        let keys = Arc::new(CountingCreates(log.bucket("keys"), Default::default()));
        let issuer = Issuer::new(
            keys.clone(),
            MasterKey::from_bytes(&[7u8; MasterKey::LEN]).unwrap(),
            Arc::new(MemoryStore::new()),
            "http://issuer.test",
            Arc::new(SystemClock),
        );
        let racing = (0..16).map(|_| issuer.issue(request(&["openid"])));
        for tokens in futures::future::join_all(racing).await {
            tokens.unwrap();
        }
        assert_eq!(keys.1.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn no_id_token_without_openid_or_for_a_machine() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = issuer(&dir).await;
        let tokens = issuer
            .issue(request(&["aws.cognito.signin.user.admin"]))
            .await
            .unwrap();
        assert!(tokens.id_token.is_empty());
        let machine = pb::IssueTokensRequest {
            client_credentials: true,
            scopes: vec!["api/read".into()],
            ..request(&[])
        };
        let tokens = issuer.issue(machine).await.unwrap();
        assert!(tokens.id_token.is_empty() && tokens.refresh_token.is_empty());
        let access = payload(&tokens.access_token);
        assert_eq!(access["sub"], "client");
        assert_eq!(access["scope"], "api/read");
        assert!(access.get("username").is_none() && access.get("origin_jti").is_none());
        let verified = issuer.verify_access(&tokens.access_token).await.unwrap();
        assert_eq!(verified.sub, "client");
        assert!(verified.username.is_empty());
    }

    #[tokio::test]
    async fn api_tokens_keep_the_admin_scope_and_no_oauth_claims() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = issuer(&dir).await;
        let api = pb::IssueTokensRequest {
            oauth: false,
            nonce: String::new(),
            ..request(&[])
        };
        let tokens = issuer.issue(api).await.unwrap();
        assert_eq!(payload(&tokens.access_token)["scope"], ADMIN_SCOPE);
        let id = payload(&tokens.id_token);
        assert!(id.get("at_hash").is_none() && id.get("nonce").is_none());
    }

    fn grant() -> pb::AuthorizationCodeGrant {
        pb::AuthorizationCodeGrant {
            pool_id: POOL.into(),
            client_id: "client".into(),
            sub: "sub-1".into(),
            redirect_uri: "https://app.example/cb".into(),
            scopes: vec!["openid".into()],
            nonce: "n".into(),
            code_challenge: String::new(),
            auth_time: 1_700_000_000,
            origin_jti: String::new(),
        }
    }

    fn redeem(code: &str, client_id: &str) -> pb::RedeemAuthorizationCodeRequest {
        pb::RedeemAuthorizationCodeRequest {
            code: code.into(),
            client_id: client_id.into(),
        }
    }

    #[tokio::test]
    async fn a_code_is_redeemed_once_and_a_replay_names_its_session() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = issuer(&dir).await;
        let code = issuer.create_code(grant()).await.unwrap().code;
        let first = issuer.redeem_code(&redeem(&code, "client")).await.unwrap();
        let granted = first.grant.unwrap();
        assert!(first.replayed.is_none());
        assert_eq!(granted.redirect_uri, "https://app.example/cb");
        assert!(
            !granted.origin_jti.is_empty(),
            "the session is named at issue"
        );
        let second = issuer.redeem_code(&redeem(&code, "client")).await.unwrap();
        assert!(second.grant.is_none());
        assert_eq!(second.replayed.unwrap().origin_jti, granted.origin_jti);
    }

    #[tokio::test]
    async fn a_code_is_bound_to_its_client_and_spent_by_any_try() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = issuer(&dir).await;
        let code = issuer.create_code(grant()).await.unwrap().code;
        assert!(issuer.redeem_code(&redeem(&code, "other")).await.is_err());
        // Spent by the wrong client's try: the owner now sees a replay.
        let owner = issuer.redeem_code(&redeem(&code, "client")).await.unwrap();
        assert!(owner.grant.is_none() && owner.replayed.is_some());
        assert!(
            issuer
                .redeem_code(&redeem("unknown", "client"))
                .await
                .is_err()
        );
        assert!(issuer.redeem_code(&redeem("", "client")).await.is_err());
    }

    #[tokio::test]
    async fn concurrent_redemptions_grant_once() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = Arc::new(issuer(&dir).await);
        let code = issuer.create_code(grant()).await.unwrap().code;
        let tries: Vec<_> = (0..16)
            .map(|_| {
                let issuer = Arc::clone(&issuer);
                let code = code.clone();
                tokio::spawn(async move { issuer.redeem_code(&redeem(&code, "client")).await })
            })
            .collect();
        let mut granted = 0;
        for attempt in tries {
            if let Ok(Ok(answer)) = attempt.await
                && answer.grant.is_some()
            {
                granted += 1;
            }
        }
        assert_eq!(granted, 1);
    }
}
