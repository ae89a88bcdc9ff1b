//! Temporary credentials that any replica can verify without a shared lookup.
//!
//! The session token is the grant itself (identity, role, region, principal tags,
//! session policy, expiry), sealed with AES-256-GCM under a key derived from the master
//! key: it cannot be read or altered without that key. The access key id is random and
//! is inside the sealed grant; the secret access key is an HMAC of the access key id
//! under a second derived key. So a replica holding the master key opens the session
//! token, checks the access key id and the expiry, recomputes the secret, and can then
//! verify a SigV4 signature made with it — nothing is stored.

use aws_lc_rs::aead::{AES_256_GCM, Aad, RandomizedNonceKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// Marks the token format, so a later one can be told apart.
const VERSION: u8 = 1;
/// Associated data of every sealed grant.
const AAD: &[u8] = b"portcullis credentials v1";
/// Characters of access key ids (AWS uses upper-case base32-like ids).
const KEY_ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// Not a token of ours, or altered: the same answer for both.
    #[error("The security token included in the request is invalid.")]
    Invalid,
    #[error("The security token included in the request is expired")]
    Expired,
    #[error("no randomness available")]
    Random,
}

/// What the credentials stand for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub access_key_id: String,
    /// The identity (`<region>:<uuid>`) and its identity pool.
    pub identity_id: String,
    pub identity_pool_id: String,
    pub role_arn: String,
    pub region: String,
    /// `aws:PrincipalTag/<key>` values.
    #[serde(default)]
    pub principal_tags: Vec<(String, String)>,
    /// A session policy that narrows the role's policies, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// `cognito-identity.amazonaws.com:amr` values.
    #[serde(default)]
    pub amr: Vec<String>,
    pub expires_ms: i64,
}

/// The three values a client signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_ms: i64,
}

/// Mints and opens credentials with keys derived from the master key.
pub struct Minter {
    seal: RandomizedNonceKey,
    secrets: hmac::Key,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Minter(..)")
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, master), label)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], CredentialError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CredentialError::Random)?;
    Ok(bytes)
}

impl Minter {
    /// # Errors
    /// Never for a 32-byte key; kept fallible for the AEAD constructor.
    pub fn new(master: &[u8; 32]) -> Result<Self, CredentialError> {
        let seal_key = derive(master, b"credentials/seal");
        let secret_key = derive(master, b"credentials/secret");
        Ok(Self {
            seal: RandomizedNonceKey::new(&AES_256_GCM, seal_key.as_ref())
                .map_err(|_| CredentialError::Invalid)?,
            secrets: hmac::Key::new(hmac::HMAC_SHA256, secret_key.as_ref()),
        })
    }

    /// A new access key id: `ASIA` and 16 characters, as AWS's temporary keys look.
    ///
    /// # Errors
    /// Without randomness.
    pub fn new_access_key_id() -> Result<String, CredentialError> {
        let random: [u8; 16] = random_bytes()?;
        let tail: String = random
            .iter()
            .map(|b| char::from(KEY_ID_CHARS[usize::from(b % 32)]))
            .collect();
        Ok(format!("ASIA{tail}"))
    }

    fn secret_for(&self, access_key_id: &str) -> String {
        let tag = hmac::sign(&self.secrets, access_key_id.as_bytes());
        // 40 characters, as AWS secret keys have.
        STANDARD.encode(tag.as_ref())[..40].to_owned()
    }

    /// Seals `grant` into credentials.
    ///
    /// # Errors
    /// When the grant cannot be sealed.
    pub fn mint(&self, grant: &Grant) -> Result<Credentials, CredentialError> {
        let mut sealed = serde_json::to_vec(grant).map_err(|_| CredentialError::Invalid)?;
        let nonce = self
            .seal
            .seal_in_place_append_tag(Aad::from(AAD), &mut sealed)
            .map_err(|_| CredentialError::Invalid)?;
        let mut token = Vec::with_capacity(1 + 12 + sealed.len());
        token.push(VERSION);
        token.extend_from_slice(nonce.as_ref());
        token.extend_from_slice(&sealed);
        Ok(Credentials {
            access_key_id: grant.access_key_id.clone(),
            secret_access_key: self.secret_for(&grant.access_key_id),
            session_token: URL_SAFE_NO_PAD.encode(token),
            expires_ms: grant.expires_ms,
        })
    }

    /// Opens a session token presented with `access_key_id` at `now_ms`: the grant and
    /// the secret the request must have been signed with.
    ///
    /// # Errors
    /// [`CredentialError::Invalid`] for anything not minted here with that key id
    /// (altered, truncated, another key id), [`CredentialError::Expired`] after expiry.
    pub fn open(
        &self,
        session_token: &str,
        access_key_id: &str,
        now_ms: i64,
    ) -> Result<(Grant, String), CredentialError> {
        if session_token.len() > 16 * 1024 {
            return Err(CredentialError::Invalid);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(session_token)
            .map_err(|_| CredentialError::Invalid)?;
        let Some((&VERSION, rest)) = raw.split_first() else {
            return Err(CredentialError::Invalid);
        };
        if rest.len() < 12 + 16 {
            return Err(CredentialError::Invalid);
        }
        let (nonce, sealed) = rest.split_at(12);
        let nonce = aws_lc_rs::aead::Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| CredentialError::Invalid)?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, Aad::from(AAD), &mut sealed)
            .map_err(|_| CredentialError::Invalid)?;
        let grant: Grant = serde_json::from_slice(plain).map_err(|_| CredentialError::Invalid)?;
        if grant.access_key_id != access_key_id {
            return Err(CredentialError::Invalid);
        }
        if now_ms >= grant.expires_ms {
            return Err(CredentialError::Expired);
        }
        let secret = self.secret_for(&grant.access_key_id);
        Ok((grant, secret))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            access_key_id: Minter::new_access_key_id().unwrap(),
            identity_id: "us-east-1:5f0c2b4e-0000-4000-8000-000000000001".into(),
            identity_pool_id: "us-east-1:5f0c2b4e-0000-4000-8000-0000000000ff".into(),
            role_arn: "arn:aws:iam::000000000000:role/readers".into(),
            region: "us-east-1".into(),
            principal_tags: vec![("department".into(), "a".into())],
            session_policy: None,
            amr: vec!["authenticated".into()],
            expires_ms: 2_000_000,
        }
    }

    #[test]
    fn any_replica_with_the_master_key_opens_what_another_minted() {
        let grant = grant();
        let minted = Minter::new(&[9; 32]).unwrap().mint(&grant).unwrap();
        assert!(minted.access_key_id.starts_with("ASIA") && minted.access_key_id.len() == 20);
        assert_eq!(minted.secret_access_key.len(), 40);
        let other_replica = Minter::new(&[9; 32]).unwrap();
        let (opened, secret) = other_replica
            .open(&minted.session_token, &minted.access_key_id, 1_000_000)
            .unwrap();
        assert_eq!(opened, grant);
        assert_eq!(secret, minted.secret_access_key);
    }

    #[test]
    fn altered_foreign_mismatched_and_expired_tokens_are_refused() {
        let minter = Minter::new(&[9; 32]).unwrap();
        let minted = minter.mint(&grant()).unwrap();
        let key = &minted.access_key_id;
        assert_eq!(
            minter.open(&minted.session_token, key, 2_000_000).err(),
            Some(CredentialError::Expired)
        );
        let mut raw = URL_SAFE_NO_PAD.decode(&minted.session_token).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(
            minter.open(&tampered, key, 0).err(),
            Some(CredentialError::Invalid)
        );
        assert_eq!(
            minter
                .open(&minted.session_token, "ASIAOTHERKEY0000000", 0)
                .err(),
            Some(CredentialError::Invalid)
        );
        let foreign = Minter::new(&[8; 32]).unwrap();
        assert_eq!(
            foreign.open(&minted.session_token, key, 0).err(),
            Some(CredentialError::Invalid)
        );
        for garbage in ["", "!!", "AQ", &"A".repeat(20_000)] {
            assert_eq!(
                minter.open(garbage, key, 0).err(),
                Some(CredentialError::Invalid)
            );
        }
    }

    #[test]
    fn two_mints_of_one_grant_differ() {
        let minter = Minter::new(&[9; 32]).unwrap();
        let grant = grant();
        let a = minter.mint(&grant).unwrap();
        let b = minter.mint(&grant).unwrap();
        assert_ne!(a.session_token, b.session_token, "a fresh nonce each time");
        assert_eq!(a.secret_access_key, b.secret_access_key);
    }
}
