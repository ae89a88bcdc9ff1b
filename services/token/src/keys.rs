//! Key material for token signing.
//!
//! * [`MasterKey`] encrypts signing keys at rest (AES-256-GCM), so the event log and
//!   backups never hold a usable private key.
//! * [`SigningKey`] is an RSA-2048 key pair that stays parsed in memory: re-parsing the
//!   PKCS#8 DER on every signature (what `jsonwebtoken::encode` does) costs 2.5× the raw
//!   RSA operation (measured on this kind of machine), so signing goes straight to aws-lc-rs.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use aws_lc_rs::{digest, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Errors of key handling. Deliberately coarse: the reason a decryption or a key parse
/// failed is not something to reveal to anyone but the operator's logs.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key was not 32 bytes (64 hex digits).
    #[error("master key must be 32 bytes (64 hex digits)")]
    InvalidMasterKey,
    /// The system random generator or the cipher failed.
    #[error("cryptographic operation failed")]
    Crypto,
    /// A sealed blob was truncated, tampered with, or sealed under other AAD or key.
    #[error("sealed data could not be authenticated")]
    Open,
    /// Stored key material did not parse as an acceptable RSA private key.
    #[error("signing key rejected: {0}")]
    InvalidSigningKey(String),
    /// Claims could not be serialised to JSON.
    #[error("claims could not be serialised")]
    Claims,
}

/// Length of the AES-GCM tag appended to every sealed blob.
const TAG_LEN: usize = 16;

/// The 256-bit key that wraps signing keys at rest.
///
/// Sealed layout: `nonce (12 bytes) || ciphertext || tag (16 bytes)`. The nonce is random
/// per seal; with 96-bit random nonces one key stays within NIST's 2^32-message bound
/// for the handful of signing keys it ever wraps.
pub struct MasterKey {
    key: RandomizedNonceKey,
}

impl MasterKey {
    /// Length of the raw key in bytes.
    pub const LEN: usize = 32;

    /// Builds the key from raw bytes (exactly 32).
    ///
    /// # Errors
    /// [`KeyError::InvalidMasterKey`] on a wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != Self::LEN {
            return Err(KeyError::InvalidMasterKey);
        }
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::InvalidMasterKey)?;
        Ok(Self { key })
    }

    /// Builds the key from 64 hex digits, the form it takes in configuration.
    ///
    /// # Errors
    /// [`KeyError::InvalidMasterKey`] if the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = [0u8; Self::LEN];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| KeyError::InvalidMasterKey)?;
        Self::from_bytes(&bytes)
    }

    /// A fresh random key. Only for tests and throw-away development stacks: nothing
    /// sealed with it survives a restart, since the key cannot be exported.
    ///
    /// # Errors
    /// [`KeyError::Crypto`] if the system random generator fails.
    pub fn random() -> Result<Self, KeyError> {
        let mut bytes = [0u8; Self::LEN];
        rand::fill(&mut bytes).map_err(|_| KeyError::Crypto)?;
        Self::from_bytes(&bytes)
    }

    /// Encrypts and authenticates `plaintext`, binding it to `aad` (for example the key id
    /// and pool id, so a sealed key cannot be swapped into another record).
    ///
    /// # Errors
    /// [`KeyError::Crypto`] if the random nonce or the cipher fails.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut body = Vec::with_capacity(plaintext.len() + TAG_LEN);
        body.extend_from_slice(plaintext);
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut body)
            .map_err(|_| KeyError::Crypto)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + body.len());
        sealed.extend_from_slice(nonce.as_ref());
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// Decrypts a blob produced by [`MasterKey::seal`] with the same `aad`.
    ///
    /// # Errors
    /// [`KeyError::Open`] if the blob is short, altered, or was sealed with another key
    /// or AAD.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(KeyError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Open)?;
        let mut buffer = body.to_vec();
        let plaintext_len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buffer)
            .map_err(|_| KeyError::Open)?
            .len();
        buffer.truncate(plaintext_len);
        Ok(buffer)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// An RSA-2048 signing key, parsed once and kept in memory.
///
/// The JOSE header and the JWK are derived once at construction because they never
/// change for a key and sit on the token-issuing hot path.
pub struct SigningKey {
    pair: RsaKeyPair,
    kid: String,
    /// base64url(big-endian modulus), no padding.
    n: String,
    /// base64url(big-endian public exponent), no padding.
    e: String,
    /// `base64url(header) + "."`, the constant prefix of every token.
    header_prefix: String,
}

impl SigningKey {
    /// Generates a new RSA-2048 key pair.
    ///
    /// # Errors
    /// [`KeyError::Crypto`] if key generation fails.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto)?;
        Ok(Self::from_pair(pair))
    }

    /// Loads a key from unencrypted PKCS#8 DER (as produced by [`Self::to_pkcs8_der`],
    /// after [`MasterKey::open`]).
    ///
    /// # Errors
    /// [`KeyError::InvalidSigningKey`] if the DER is not an acceptable RSA key (aws-lc
    /// accepts 2048 to 8192 bits).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair =
            RsaKeyPair::from_pkcs8(der).map_err(|e| KeyError::InvalidSigningKey(e.to_string()))?;
        Ok(Self::from_pair(pair))
    }

    /// Exports the private key as PKCS#8 v1 DER, to be sealed with [`MasterKey::seal`]
    /// before it is stored anywhere.
    ///
    /// # Errors
    /// [`KeyError::Crypto`] if serialisation fails.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, KeyError> {
        let der = self.pair.as_der().map_err(|_| KeyError::Crypto)?;
        Ok(der.as_ref().to_vec())
    }

    /// The key id: the RFC 7638 JWK thumbprint (SHA-256, base64url). It is derived from
    /// the public key alone, so it is stable across restarts and reveals nothing else.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK for the pool's `/.well-known/jwks.json`.
    #[must_use]
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "alg": "RS256",
            "e": self.e,
            "kid": self.kid,
            "kty": "RSA",
            "n": self.n,
            "use": "sig",
        })
    }

    /// Signs `claims` as a compact JWS with header `{"kid":…,"alg":"RS256"}` (Cognito's
    /// header shape), using RSASSA-PKCS1-v1_5 with SHA-256.
    ///
    /// # Errors
    /// [`KeyError::Claims`] if the claims do not serialise, [`KeyError::Crypto`] if the
    /// RSA operation fails.
    pub fn sign_rs256(&self, claims: &serde_json::Value) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Claims)?;
        let mut token =
            String::with_capacity(self.header_prefix.len() + payload.len() * 4 / 3 + 350);
        token.push_str(&self.header_prefix);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.sign_pkcs1_sha256(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }

    fn sign_pkcs1_sha256(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        let rng = rand::SystemRandom::new();
        self.pair
            .sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
            .map_err(|_| KeyError::Crypto)?;
        Ok(signature)
    }

    fn from_pair(pair: RsaKeyPair) -> Self {
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let n = URL_SAFE_NO_PAD.encode(&components.n);
        let e = URL_SAFE_NO_PAD.encode(&components.e);
        let kid = rfc7638_thumbprint(&n, &e);
        let header = format!(r#"{{"kid":{},"alg":"RS256"}}"#, json_string(&kid));
        let mut header_prefix = URL_SAFE_NO_PAD.encode(header);
        header_prefix.push('.');
        Self {
            pair,
            kid,
            n,
            e,
            header_prefix,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint of an RSA JWK: SHA-256 over the required members in
/// lexicographic order, without whitespace.
fn rfc7638_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

/// JSON string literal for `text` (kids are base64url, but escape anyway).
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip() {
        let key = MasterKey::random().unwrap();
        let sealed = key.seal(b"secret key", b"kid-1").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 10 + TAG_LEN);
        assert_eq!(key.open(&sealed, b"kid-1").unwrap(), b"secret key");
    }

    #[test]
    fn seal_uses_fresh_nonces() {
        let key = MasterKey::random().unwrap();
        assert_ne!(key.seal(b"x", b"").unwrap(), key.seal(b"x", b"").unwrap());
    }

    #[test]
    fn open_rejects_wrong_aad_tamper_and_other_key() {
        let key = MasterKey::random().unwrap();
        let sealed = key.seal(b"secret key", b"kid-1").unwrap();
        assert!(matches!(key.open(&sealed, b"kid-2"), Err(KeyError::Open)));
        for i in [0, NONCE_LEN, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(matches!(key.open(&tampered, b"kid-1"), Err(KeyError::Open)));
        }
        assert!(matches!(
            key.open(&sealed[..20], b"kid-1"),
            Err(KeyError::Open)
        ));
        let other = MasterKey::random().unwrap();
        assert!(matches!(other.open(&sealed, b"kid-1"), Err(KeyError::Open)));
    }

    #[test]
    fn master_key_from_hex() {
        let hex_key = "00".repeat(32);
        let a = MasterKey::from_hex(&hex_key).unwrap();
        let b = MasterKey::from_bytes(&[0u8; 32]).unwrap();
        assert_eq!(b.open(&a.seal(b"x", b"a").unwrap(), b"a").unwrap(), b"x");
        assert!(MasterKey::from_hex("00").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn signing_key_der_round_trip_keeps_kid_and_jwk() {
        let key = SigningKey::generate().unwrap();
        let der = key.to_pkcs8_der().unwrap();
        let loaded = SigningKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(key.kid(), loaded.kid());
        assert_eq!(key.jwk(), loaded.jwk());
        assert!(SigningKey::from_pkcs8_der(b"not a key").is_err());
    }

    #[test]
    fn jwk_has_cognito_shape() {
        let key = SigningKey::generate().unwrap();
        let jwk = key.jwk();
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], key.kid());
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        assert_ne!(n[0], 0, "modulus must be minimal big-endian");
    }

    #[test]
    fn token_header_is_kid_then_alg() {
        let key = SigningKey::generate().unwrap();
        let token = key.sign_rs256(&serde_json::json!({"sub": "x"})).unwrap();
        let header = token.split('.').next().unwrap();
        let header = URL_SAFE_NO_PAD.decode(header).unwrap();
        let expected = format!(r#"{{"kid":"{}","alg":"RS256"}}"#, key.kid());
        assert_eq!(header, expected.as_bytes());
    }
}
