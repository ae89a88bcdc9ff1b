//! Lockout after failed password checks, as Cognito documents it: after five failures
//! in a row a user is locked for 1 s, doubling with each further failure up to 15
//! minutes; attempts while locked are not evaluated ("Password attempts exceeded"); a
//! success resets the count, and so do 15 quiet minutes.
//!
//! Parallel requests cannot get more evaluations than that: a per-user gate in the
//! ephemeral store (create-if-absent, so across replicas) lets one check run at a time,
//! and each check reads the failure count its predecessors left.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use portcullis_errors::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

use crate::challenges::store_error;
use crate::flows::Flows;

/// Failures tolerated before the first lock.
pub const FREE_FAILURES: u32 = 5;
/// The longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Quiet time after which the failures are forgotten.
const RESET_AFTER: Duration = Duration::from_secs(15 * 60);
/// How long a check may hold the gate (longer only if its process died).
const GATE_TTL: Duration = Duration::from_secs(10);
/// How long a request waits for the gate before it is turned away.
const GATE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    pub count: u32,
    pub last_ms: i64,
}

impl Failures {
    /// Until when the user is locked, if at all.
    pub fn locked_until_ms(&self) -> Option<i64> {
        let over = self.count.checked_sub(FREE_FAILURES)?;
        let lock = Duration::from_secs(1u64.checked_shl(over).unwrap_or(u64::MAX)).min(MAX_LOCK);
        Some(self.last_ms + i64::try_from(lock.as_millis()).unwrap_or(i64::MAX))
    }
}

fn failures_key(pool_id: &str, sub: &str) -> String {
    format!("lockout/{pool_id}/{sub}")
}

fn gate_key(pool_id: &str, sub: &str) -> String {
    format!("lockout-gate/{pool_id}/{sub}")
}

pub fn attempts_exceeded() -> ApiError {
    ApiError::not_authorized("Password attempts exceeded")
}

impl Flows {
    /// Runs `check` (does the secret match?) under the user's lockout: refused without
    /// running while the user is locked, and counted.
    pub(crate) async fn guarded<F>(
        &self,
        pool_id: &str,
        sub: &str,
        check: F,
    ) -> Result<bool, ApiError>
    where
        F: Future<Output = Result<bool, ApiError>>,
    {
        let gate = gate_key(pool_id, sub);
        let waited = std::time::Instant::now();
        let mut pause = Duration::from_millis(5);
        while !self
            .sessions
            .put_if_absent(&gate, Bytes::from_static(b"1"), GATE_TTL)
            .await
            .map_err(store_error)?
        {
            if waited.elapsed() > GATE_WAIT {
                return Err(ApiError::new(
                    ErrorCode::TooManyRequestsException,
                    "Too many requests, retry later.",
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        let outcome = self.checked(pool_id, sub, check).await;
        if let Err(err) = self.sessions.delete(&gate).await {
            tracing::warn!(error = %err, "could not open a lockout gate; it expires by itself");
        }
        outcome
    }

    async fn checked<F>(&self, pool_id: &str, sub: &str, check: F) -> Result<bool, ApiError>
    where
        F: Future<Output = Result<bool, ApiError>>,
    {
        let key = failures_key(pool_id, sub);
        let failures: Failures = self
            .sessions
            .get(&key)
            .await
            .map_err(store_error)?
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .unwrap_or_default();
        let now = self.clock.now_ms();
        if failures.locked_until_ms().is_some_and(|until| now < until) {
            return Err(attempts_exceeded());
        }
        let matched = check.await?;
        if matched {
            if failures.count > 0 {
                self.sessions.delete(&key).await.map_err(store_error)?;
            }
        } else {
            let next = Failures {
                count: failures.count.saturating_add(1),
                last_ms: now,
            };
            let value = Bytes::from(serde_json::to_vec(&next).map_err(|_| ApiError::internal())?);
            self.sessions
                .put(&key, value, RESET_AFTER)
                .await
                .map_err(store_error)?;
        }
        Ok(matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_are_free_then_the_lock_doubles_up_to_fifteen_minutes() {
        let at = |count| Failures {
            count,
            last_ms: 1_000,
        };
        assert_eq!(at(4).locked_until_ms(), None);
        assert_eq!(at(5).locked_until_ms(), Some(2_000));
        assert_eq!(at(6).locked_until_ms(), Some(3_000));
        assert_eq!(at(9).locked_until_ms(), Some(17_000));
        assert_eq!(at(15).locked_until_ms(), Some(1_000 + 900_000));
        assert_eq!(at(200).locked_until_ms(), Some(1_000 + 900_000));
    }
}
