//! One-time codes (sign-up confirmation today): six digits, stored only as a hash in the
//! ephemeral store with an expiry, consumed atomically on success, and limited in
//! attempts. A code the store lost is simply expired: losing state fails closed.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use bytes::Bytes;
use portcullis_ephemeral::EphemeralStore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Wrong guesses allowed per code before it is withdrawn.
pub const MAX_ATTEMPTS: i64 = 5;
/// Cognito's sign-up codes are valid for 24 hours.
pub const SIGN_UP_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// Cognito's password-reset codes are valid for one hour.
pub const RESET_VALIDITY: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodeError {
    #[error("code mismatch")]
    Mismatch,
    #[error("code expired or never issued")]
    Expired,
    #[error("too many attempts")]
    TooManyAttempts,
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

#[derive(Serialize, Deserialize)]
struct Stored {
    hash: String,
    /// The attribute the code was sent to, which a correct code verifies.
    attribute: String,
}

#[derive(Clone)]
pub struct Codes {
    store: Arc<dyn EphemeralStore>,
}

/// A uniformly random six-digit code.
pub fn generate() -> Result<String, CodeError> {
    loop {
        let mut bytes = [0u8; 4];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| CodeError::Unavailable("no randomness".into()))?;
        let n = u32::from_le_bytes(bytes);
        // Reject the top sliver so every code is equally likely.
        if n < u32::MAX - u32::MAX % 1_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

fn hash(key: &str, code: &str) -> String {
    hex::encode(digest::digest(
        &digest::SHA256,
        format!("{key}|{code}").as_bytes(),
    ))
}

fn unavailable(err: impl std::fmt::Display) -> CodeError {
    CodeError::Unavailable(err.to_string())
}

impl Codes {
    pub fn new(store: Arc<dyn EphemeralStore>) -> Self {
        Self { store }
    }

    /// Issues a new code for `key` (replacing any earlier one) and returns it.
    pub async fn issue(
        &self,
        key: &str,
        attribute: &str,
        validity: Duration,
    ) -> Result<String, CodeError> {
        let code = generate()?;
        let stored = Stored {
            hash: hash(key, &code),
            attribute: attribute.to_owned(),
        };
        let value = Bytes::from(serde_json::to_vec(&stored).map_err(unavailable)?);
        self.store
            .delete(&attempts_key(key))
            .await
            .map_err(unavailable)?;
        self.store
            .put(&code_key(key), value, validity)
            .await
            .map_err(unavailable)?;
        Ok(code)
    }

    /// Checks and consumes a code; returns the attribute it was sent to.
    pub async fn redeem(
        &self,
        key: &str,
        given: &str,
        validity: Duration,
    ) -> Result<String, CodeError> {
        let attempts = self
            .store
            .incr(&attempts_key(key), validity)
            .await
            .map_err(unavailable)?;
        if attempts > MAX_ATTEMPTS {
            self.store
                .delete(&code_key(key))
                .await
                .map_err(unavailable)?;
            return Err(CodeError::TooManyAttempts);
        }
        let raw = self
            .store
            .get(&code_key(key))
            .await
            .map_err(unavailable)?
            .ok_or(CodeError::Expired)?;
        let stored: Stored = serde_json::from_slice(&raw).map_err(unavailable)?;
        let matches: bool = hash(key, given)
            .as_bytes()
            .ct_eq(stored.hash.as_bytes())
            .into();
        if !matches {
            return Err(CodeError::Mismatch);
        }
        // Of two concurrent correct redemptions, only the one that takes the code wins.
        self.store
            .take(&code_key(key))
            .await
            .map_err(unavailable)?
            .ok_or(CodeError::Expired)?;
        self.store
            .delete(&attempts_key(key))
            .await
            .map_err(unavailable)?;
        Ok(stored.attribute)
    }
}

fn code_key(key: &str) -> String {
    format!("code/{key}")
}

fn attempts_key(key: &str) -> String {
    format!("code-attempts/{key}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_ephemeral::memory::MemoryStore;

    fn codes() -> Codes {
        Codes::new(Arc::new(MemoryStore::new()))
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = generate().unwrap();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[tokio::test]
    async fn a_code_is_single_use() {
        let codes = codes();
        let code = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        assert_eq!(
            codes.redeem("p/u", &code, SIGN_UP_VALIDITY).await.unwrap(),
            "email"
        );
        assert_eq!(
            codes.redeem("p/u", &code, SIGN_UP_VALIDITY).await,
            Err(CodeError::Expired)
        );
    }

    #[tokio::test]
    async fn wrong_codes_are_limited_and_a_new_code_replaces_the_old() {
        let codes = codes();
        let old = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        let wrong = if old == "000000" { "111111" } else { "000000" };
        for _ in 0..MAX_ATTEMPTS {
            assert_eq!(
                codes.redeem("p/u", wrong, SIGN_UP_VALIDITY).await,
                Err(CodeError::Mismatch)
            );
        }
        assert_eq!(
            codes.redeem("p/u", &old, SIGN_UP_VALIDITY).await,
            Err(CodeError::TooManyAttempts)
        );
        let new = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        if new != old {
            assert_eq!(
                codes.redeem("p/u", &old, SIGN_UP_VALIDITY).await,
                Err(CodeError::Mismatch)
            );
        }
        assert!(codes.redeem("p/u", &new, SIGN_UP_VALIDITY).await.is_ok());
    }

    #[tokio::test]
    async fn an_unknown_key_has_no_code() {
        assert_eq!(
            codes().redeem("p/nobody", "123456", SIGN_UP_VALIDITY).await,
            Err(CodeError::Expired)
        );
    }
}
