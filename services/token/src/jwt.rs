//! Verification of the JWTs we issue (the rules of RFC 8725).
//!
//! The algorithm is fixed to RS256 and never read from the token: `alg: none`, HS256
//! signed with our public key, and any other algorithm are refused before a key is
//! touched. The `kid` header only selects among our own keys; `jku`, `x5u` and `jwk`
//! headers are never followed. Signature checks go through `jsonwebtoken` with the
//! aws-lc-rs provider (about 38k verifications/s per core on this kind of machine).
//!
//! What this module does not check, because it depends on the endpoint: `token_use`,
//! `client_id` and `aud`. Callers must check them on the returned claims.

use std::collections::HashMap;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::keys::SigningKey;

/// Largest leeway, in seconds, a verifier accepts for `exp`/`nbf` (RFC 8725: small).
pub const MAX_LEEWAY_SECS: u64 = 5;

/// Tokens longer than this are refused before parsing, so an attacker cannot make us
/// base64-decode and JSON-parse megabytes. Cognito tokens are a few KiB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token was refused. Callers map every variant to Cognito's
/// `NotAuthorizedException`; only [`JwtError::Expired`] changes the message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// The header has no `kid`, or a `kid` that is not one of our keys.
    #[error("token signed by an unknown key")]
    UnknownKey,
    /// `iss` is missing or not exactly our issuer.
    #[error("token has the wrong issuer")]
    WrongIssuer,
    /// Anything else: malformed, wrong algorithm, bad signature, missing `exp`,
    /// not yet valid, unsupported critical header.
    #[error("invalid token")]
    Invalid,
    /// A JWK handed to [`Verifier::add_jwk`] is not an RS256 signing key.
    #[error("unusable JWK: {0}")]
    BadJwk(&'static str),
}

/// Verifies RS256 tokens of one issuer against a set of our public keys.
///
/// Build one per user pool and rebuild (or [`Verifier::add_jwk`]/[`Verifier::remove_key`])
/// on key rotation; verification itself takes `&self` and is cheap to share.
pub struct Verifier {
    issuer: String,
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl Verifier {
    /// An empty verifier for `issuer` (for Cognito:
    /// `https://cognito-idp.<region>.amazonaws.com/<pool-id>`), with no leeway.
    #[must_use]
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        Self {
            validation: validation_for(&issuer, 0),
            issuer,
            keys: HashMap::new(),
        }
    }

    /// Sets the clock-skew leeway for `exp` and `nbf`, capped at [`MAX_LEEWAY_SECS`].
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.validation.leeway = seconds.min(MAX_LEEWAY_SECS);
        self
    }

    /// A verifier trusting every key of a JWKS document (`{"keys":[…]}`).
    ///
    /// # Errors
    /// [`JwtError::BadJwk`] if the document has no `keys` array or any key is unusable.
    pub fn from_jwks(
        issuer: impl Into<String>,
        jwks: &serde_json::Value,
    ) -> Result<Self, JwtError> {
        let keys = jwks
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or(JwtError::BadJwk("missing keys array"))?;
        let mut verifier = Self::new(issuer);
        for jwk in keys {
            verifier.add_jwk(jwk)?;
        }
        Ok(verifier)
    }

    /// Trusts the public half of one of our signing keys.
    ///
    /// # Errors
    /// Never in practice: our own JWKs are well formed. Kept fallible to share
    /// [`Verifier::add_jwk`].
    pub fn add_signing_key(&mut self, key: &SigningKey) -> Result<(), JwtError> {
        self.add_jwk(&key.jwk())
    }

    /// Trusts one RSA public JWK. `kty` must be `RSA`; `alg` and `use`, when present,
    /// must be `RS256` and `sig`, so a key published for another purpose is never used.
    ///
    /// # Errors
    /// [`JwtError::BadJwk`] naming the first unusable member.
    pub fn add_jwk(&mut self, jwk: &serde_json::Value) -> Result<(), JwtError> {
        let member = |name| jwk.get(name).and_then(serde_json::Value::as_str);
        if member("kty") != Some("RSA") {
            return Err(JwtError::BadJwk("kty must be RSA"));
        }
        if member("alg").is_some_and(|alg| alg != "RS256") {
            return Err(JwtError::BadJwk("alg must be RS256"));
        }
        if member("use").is_some_and(|usage| usage != "sig") {
            return Err(JwtError::BadJwk("use must be sig"));
        }
        let kid = member("kid").ok_or(JwtError::BadJwk("kid missing"))?;
        let n = member("n").ok_or(JwtError::BadJwk("n missing"))?;
        let e = member("e").ok_or(JwtError::BadJwk("e missing"))?;
        let key = DecodingKey::from_rsa_components(n, e)
            .map_err(|_| JwtError::BadJwk("n or e is not base64url"))?;
        self.keys.insert(kid.to_owned(), key);
        Ok(())
    }

    /// Stops trusting the key `kid` (after rotation, once its tokens have expired).
    pub fn remove_key(&mut self, kid: &str) {
        self.keys.remove(kid);
    }

    /// The issuer this verifier requires.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Verifies signature, `exp` (required), `nbf` (if present) and `iss` (required,
    /// exact), and returns the claims.
    ///
    /// # Errors
    /// See [`JwtError`]; the order of checks is: size, header (`alg`, `crit`), `kid`,
    /// signature, time, issuer.
    pub fn verify(&self, token: &str) -> Result<serde_json::Value, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Invalid);
        }
        let key = self.key_for(token)?;
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &self.validation)
            .map_err(|e| map_error(e.kind()))?;
        // jsonwebtoken also accepts an `iss` array that merely contains our issuer;
        // we require the single exact string.
        if data.claims.get("iss").and_then(serde_json::Value::as_str) != Some(&self.issuer) {
            return Err(JwtError::WrongIssuer);
        }
        Ok(data.claims)
    }

    /// Picks our key for the token's `kid` after refusing any algorithm but RS256.
    fn key_for(&self, token: &str) -> Result<&DecodingKey, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
        if header.alg != Algorithm::RS256 || header.crit.is_some() {
            return Err(JwtError::Invalid);
        }
        header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(JwtError::UnknownKey)
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("leeway", &self.validation.leeway)
            .finish()
    }
}

/// RS256 only; `exp` and `iss` required; `aud` left to the caller because Cognito
/// access tokens carry `client_id` instead.
fn validation_for(issuer: &str, leeway: u64) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = leeway;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.set_issuer(&[issuer]);
    validation
}

fn map_error(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => JwtError::WrongIssuer,
        _ => JwtError::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::{SystemTime, UNIX_EPOCH};

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    use super::*;

    const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST";

    /// RSA key generation is slow; share one key across tests.
    fn key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate().unwrap())
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn claims(exp_offset: i64) -> Value {
        json!({
            "sub": "user-1",
            "iss": ISS,
            "token_use": "access",
            "client_id": "client-1",
            "exp": now().saturating_add_signed(exp_offset),
        })
    }

    fn verifier() -> Verifier {
        let mut verifier = Verifier::new(ISS).with_leeway(2);
        verifier.add_signing_key(key()).unwrap();
        verifier
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn sign_then_verify_round_trip() {
        let claims = claims(300);
        let token = key().sign_rs256(&claims).unwrap();
        assert_eq!(verifier().verify(&token).unwrap(), claims);
    }

    #[test]
    fn jwk_components_rebuild_the_same_public_key() {
        let jwk = key().jwk();
        let decoding = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        let token = key().sign_rs256(&claims(300)).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some(key().kid()));
        let from_jwks = Verifier::from_jwks(ISS, &json!({ "keys": [jwk] })).unwrap();
        assert!(from_jwks.verify(&token).is_ok());
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let token = key().sign_rs256(&claims(300)).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims(300);
        forged["sub"] = json!("admin");
        let tampered = format!("{}.{}.{}", parts[0], b64(&forged), parts[2]);
        assert_eq!(verifier().verify(&tampered), Err(JwtError::Invalid));
    }

    #[test]
    fn alg_none_is_rejected() {
        let header = json!({"alg": "none", "kid": key().kid()});
        let token = format!("{}.{}.", b64(&header), b64(&claims(300)));
        assert_eq!(verifier().verify(&token), Err(JwtError::Invalid));
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_rejected() {
        let jwk = key().jwk();
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some(key().kid().to_owned());
        for secret in [
            jwk["n"].as_str().unwrap().as_bytes(),
            jwk.to_string().as_bytes(),
        ] {
            let encoding = jsonwebtoken::EncodingKey::from_secret(secret);
            let token = jsonwebtoken::encode(&header, &claims(300), &encoding).unwrap();
            assert_eq!(verifier().verify(&token), Err(JwtError::Invalid));
        }
    }

    #[test]
    fn expired_is_rejected_beyond_leeway() {
        let token = key().sign_rs256(&claims(-60)).unwrap();
        assert_eq!(verifier().verify(&token), Err(JwtError::Expired));
        let within_leeway = key().sign_rs256(&claims(-1)).unwrap();
        assert!(verifier().verify(&within_leeway).is_ok());
    }

    #[test]
    fn missing_exp_is_rejected() {
        let mut no_exp = claims(0);
        no_exp.as_object_mut().unwrap().remove("exp");
        let token = key().sign_rs256(&no_exp).unwrap();
        assert_eq!(verifier().verify(&token), Err(JwtError::Invalid));
    }

    #[test]
    fn wrong_or_missing_issuer_is_rejected() {
        let mut other = claims(300);
        other["iss"] = json!(format!("{ISS}x"));
        let token = key().sign_rs256(&other).unwrap();
        assert_eq!(verifier().verify(&token), Err(JwtError::WrongIssuer));
        other["iss"] = json!([ISS, "https://evil.example"]);
        let token = key().sign_rs256(&other).unwrap();
        assert_eq!(verifier().verify(&token), Err(JwtError::WrongIssuer));
        other.as_object_mut().unwrap().remove("iss");
        let token = key().sign_rs256(&other).unwrap();
        assert_eq!(verifier().verify(&token), Err(JwtError::WrongIssuer));
    }

    #[test]
    fn unknown_or_missing_kid_is_rejected() {
        let token = key().sign_rs256(&claims(300)).unwrap();
        let empty = Verifier::new(ISS);
        assert_eq!(empty.verify(&token), Err(JwtError::UnknownKey));
        let rest = token.split_once('.').unwrap().1;
        let no_kid = format!("{}.{rest}", b64(&json!({"alg": "RS256"})));
        assert_eq!(verifier().verify(&no_kid), Err(JwtError::UnknownKey));
        let mut removed = verifier();
        removed.remove_key(key().kid());
        assert_eq!(removed.verify(&token), Err(JwtError::UnknownKey));
    }

    #[test]
    fn crit_header_and_garbage_are_rejected() {
        let rest = key().sign_rs256(&claims(300)).unwrap();
        let rest = rest.split_once('.').unwrap().1;
        let crit = json!({"kid": key().kid(), "alg": "RS256", "crit": ["exp"]});
        let token = format!("{}.{rest}", b64(&crit));
        assert_eq!(verifier().verify(&token), Err(JwtError::Invalid));
        assert_eq!(verifier().verify("not.a.jwt"), Err(JwtError::Invalid));
        assert_eq!(verifier().verify(""), Err(JwtError::Invalid));
        assert_eq!(
            verifier().verify(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(JwtError::Invalid)
        );
    }

    #[test]
    fn bad_jwks_are_refused() {
        let mut jwk = key().jwk();
        jwk["alg"] = json!("HS256");
        assert!(Verifier::new(ISS).add_jwk(&jwk).is_err());
        assert!(
            Verifier::new(ISS)
                .add_jwk(&json!({"kty": "oct", "k": "AA"}))
                .is_err()
        );
        assert!(Verifier::from_jwks(ISS, &json!({})).is_err());
    }

    #[test]
    fn leeway_is_capped() {
        let verifier = Verifier::new(ISS).with_leeway(3600);
        assert_eq!(verifier.validation.leeway, MAX_LEEWAY_SECS);
    }
}
