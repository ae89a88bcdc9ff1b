//! One-time codes (sign-up confirmation, password reset, attribute verification, sign-in
//! codes): six digits, stored only as a hash in the ephemeral store with an expiry,
//! consumed atomically on success, and limited twice over. A code the store lost is
//! simply expired: losing state fails closed.
//!
//! The limits belong to the user and the code's purpose (its key), not to one code, so
//! asking again buys nothing: at most [`MAX_ISSUES`] codes are sent per key in an
//! [`ISSUE_WINDOW`], and at most [`MAX_ATTEMPTS`] wrong guesses are counted per key in an
//! [`ATTEMPT_WINDOW`] whatever was re-issued in between. Callers that name an app client
//! also count against that client ([`MAX_CLIENT_ISSUES`] per [`CLIENT_WINDOW`]). Every
//! count is one atomic `incr` in the ephemeral store (Redis in a cluster), so the limits
//! hold across replicas with no read-then-write race.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use bytes::Bytes;
use portcullis_ephemeral::EphemeralStore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Wrong guesses allowed per key (user and purpose) in one [`ATTEMPT_WINDOW`].
pub const MAX_ATTEMPTS: i64 = 5;
/// How long wrong guesses are remembered, from the first one. A new code does not
/// restart it: "ask again, guess five times" gets five guesses per window, not per code.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(3600);
/// Codes sent per key (user and purpose) in one [`ISSUE_WINDOW`]: Cognito publishes no
/// number for these operations, so this follows its per-user quota for `ChangePassword`
/// (five an hour).
pub const MAX_ISSUES: i64 = 5;
/// The window of [`MAX_ISSUES`], from the first code sent in it.
pub const ISSUE_WINDOW: Duration = Duration::from_secs(3600);
/// Codes one app client may have sent (to all its users together) per [`CLIENT_WINDOW`],
/// a bound on mail and SMS bombing across many names.
pub const MAX_CLIENT_ISSUES: i64 = 600;
/// The window of [`MAX_CLIENT_ISSUES`].
pub const CLIENT_WINDOW: Duration = Duration::from_secs(60);
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
    #[error("too many codes sent")]
    TooManyIssued,
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

    /// Issues a new code for `key` (replacing any earlier one) and returns it, if fewer
    /// than [`MAX_ISSUES`] were issued for `key` in this window. The wrong guesses
    /// counted so far stay counted.
    pub async fn issue(
        &self,
        key: &str,
        attribute: &str,
        validity: Duration,
    ) -> Result<String, CodeError> {
        self.admit(key).await?;
        let code = generate()?;
        let stored = Stored {
            hash: hash(key, &code),
            attribute: attribute.to_owned(),
        };
        let value = Bytes::from(serde_json::to_vec(&stored).map_err(unavailable)?);
        self.store
            .put(&code_key(key), value, validity)
            .await
            .map_err(unavailable)?;
        Ok(code)
    }

    /// Counts one code sent under `key` without issuing one: what a decoy answer for a
    /// name that matches no user does, so that the limit is the same for every name and
    /// tells nothing about which exist.
    pub async fn admit(&self, key: &str) -> Result<(), CodeError> {
        self.count(&issues_key(key), ISSUE_WINDOW, MAX_ISSUES).await
    }

    /// Counts one code sent through the app client `client_id`.
    pub async fn admit_client(&self, client_id: &str) -> Result<(), CodeError> {
        self.count(&client_key(client_id), CLIENT_WINDOW, MAX_CLIENT_ISSUES)
            .await
    }

    async fn count(&self, key: &str, window: Duration, max: i64) -> Result<(), CodeError> {
        let sent = self.store.incr(key, window).await.map_err(unavailable)?;
        if sent > max {
            return Err(CodeError::TooManyIssued);
        }
        Ok(())
    }

    /// Checks and consumes a code; returns the attribute it was sent to.
    pub async fn redeem(&self, key: &str, given: &str) -> Result<String, CodeError> {
        let attempts = self
            .store
            .incr(&attempts_key(key), ATTEMPT_WINDOW)
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
        // The user proved they receive the codes: their counts start again (a user who
        // signs in with an emailed code many times an hour is not a mail bomb).
        for counter in [attempts_key(key), issues_key(key)] {
            self.store.delete(&counter).await.map_err(unavailable)?;
        }
        Ok(stored.attribute)
    }
}

fn code_key(key: &str) -> String {
    format!("code/{key}")
}

fn attempts_key(key: &str) -> String {
    format!("code-attempts/{key}")
}

fn issues_key(key: &str) -> String {
    format!("code-issues/{key}")
}

fn client_key(client_id: &str) -> String {
    format!("code-issues-client/{client_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_ephemeral::memory::{MemoryStore, MonotonicClock};
    use std::sync::Mutex;
    use std::time::Instant;

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
        assert_eq!(codes.redeem("p/u", &code).await.unwrap(), "email");
        assert_eq!(codes.redeem("p/u", &code).await, Err(CodeError::Expired));
    }

    #[tokio::test]
    async fn wrong_codes_are_limited_and_a_new_code_replaces_the_old() {
        let codes = codes();
        let old = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        let new = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        if new != old {
            assert_eq!(codes.redeem("p/u", &old).await, Err(CodeError::Mismatch));
        }
        assert!(codes.redeem("p/u", &new).await.is_ok());
        let code = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        for _ in 0..MAX_ATTEMPTS {
            assert_eq!(
                codes.redeem("p/u", wrong(&code)).await,
                Err(CodeError::Mismatch)
            );
        }
        assert_eq!(
            codes.redeem("p/u", &code).await,
            Err(CodeError::TooManyAttempts)
        );
    }

    fn wrong(code: &str) -> &'static str {
        if code == "000000" { "111111" } else { "000000" }
    }

    /// Monotonic time the test moves by hand.
    struct ManualClock {
        start: Instant,
        offset: Mutex<Duration>,
    }

    impl ManualClock {
        fn advance(&self, by: Duration) {
            *self.offset.lock().unwrap() += by;
        }
    }

    impl MonotonicClock for ManualClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock().unwrap()
        }
    }

    fn codes_on_a_clock() -> (Codes, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        });
        let store = MemoryStore::with_clock(clock.clone());
        (Codes::new(Arc::new(store)), clock)
    }

    #[tokio::test]
    async fn a_new_code_does_not_restart_the_count_of_wrong_guesses() {
        let (codes, clock) = codes_on_a_clock();
        let first = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        for _ in 0..MAX_ATTEMPTS {
            assert_eq!(
                codes.redeem("p/u", wrong(&first)).await,
                Err(CodeError::Mismatch)
            );
        }
        // Asking again buys no guesses, not even for the right code.
        let second = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        assert_eq!(
            codes.redeem("p/u", &second).await,
            Err(CodeError::TooManyAttempts)
        );
        clock.advance(ATTEMPT_WINDOW - Duration::from_secs(1));
        let third = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        assert_eq!(
            codes.redeem("p/u", &third).await,
            Err(CodeError::TooManyAttempts)
        );
        // After the window, five guesses again.
        clock.advance(Duration::from_secs(1));
        let fourth = codes.issue("p/u", "email", SIGN_UP_VALIDITY).await.unwrap();
        assert_eq!(
            codes.redeem("p/u", wrong(&fourth)).await,
            Err(CodeError::Mismatch)
        );
        assert_eq!(codes.redeem("p/u", &fourth).await.unwrap(), "email");
    }

    #[tokio::test]
    async fn codes_sent_per_user_and_purpose_are_limited_per_window() {
        let (codes, clock) = codes_on_a_clock();
        for _ in 0..MAX_ISSUES {
            codes.issue("p/u", "email", RESET_VALIDITY).await.unwrap();
        }
        assert_eq!(
            codes.issue("p/u", "email", RESET_VALIDITY).await,
            Err(CodeError::TooManyIssued)
        );
        // A decoy for an unknown name counts the same way.
        for _ in 0..MAX_ISSUES {
            codes.admit("p/nobody").await.unwrap();
        }
        assert_eq!(codes.admit("p/nobody").await, Err(CodeError::TooManyIssued));
        // Another user, or another purpose of the same user, has its own count.
        codes.issue("p/v", "email", RESET_VALIDITY).await.unwrap();
        codes.issue("q/u", "email", RESET_VALIDITY).await.unwrap();
        clock.advance(ISSUE_WINDOW - Duration::from_secs(1));
        assert_eq!(
            codes.issue("p/u", "email", RESET_VALIDITY).await,
            Err(CodeError::TooManyIssued)
        );
        clock.advance(Duration::from_secs(1));
        let code = codes.issue("p/u", "email", RESET_VALIDITY).await.unwrap();
        // A user who redeems a code proves they receive them: their count starts again.
        codes.redeem("p/u", &code).await.unwrap();
        for _ in 0..MAX_ISSUES {
            codes.issue("p/u", "email", RESET_VALIDITY).await.unwrap();
        }
    }

    #[tokio::test]
    async fn codes_sent_through_one_client_are_limited_per_window() {
        let (codes, clock) = codes_on_a_clock();
        for _ in 0..MAX_CLIENT_ISSUES {
            codes.admit_client("app").await.unwrap();
        }
        assert_eq!(
            codes.admit_client("app").await,
            Err(CodeError::TooManyIssued)
        );
        codes.admit_client("other").await.unwrap();
        clock.advance(CLIENT_WINDOW);
        codes.admit_client("app").await.unwrap();
    }

    #[tokio::test]
    async fn parallel_requests_get_no_more_codes_than_the_limit() {
        let codes = codes();
        let asks = (0..40).map(|_| codes.issue("p/u", "email", RESET_VALIDITY));
        let sent = futures::future::join_all(asks).await;
        let issued = sent.iter().filter(|s| s.is_ok()).count();
        assert_eq!(issued, usize::try_from(MAX_ISSUES).unwrap());
        assert!(
            sent.iter()
                .all(|s| s.is_ok() || *s == Err(CodeError::TooManyIssued))
        );
    }

    #[tokio::test]
    async fn an_unknown_key_has_no_code() {
        assert_eq!(
            codes().redeem("p/nobody", "123456").await,
            Err(CodeError::Expired)
        );
    }
}
