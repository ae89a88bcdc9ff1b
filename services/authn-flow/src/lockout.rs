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
use portcullis_ephemeral::EphemeralStore;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_types::Clock;
use serde::{Deserialize, Serialize};

use crate::auth_session::store_error;
use crate::context::Flows;

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

    /// Whether the failures are old enough to be forgotten at `now_ms`.
    pub fn forgotten_at(&self, now_ms: i64) -> bool {
        now_ms - self.last_ms >= i64::try_from(RESET_AFTER.as_millis()).unwrap_or(i64::MAX)
    }
}

fn failures_key(pool_id: &str, sub: &str) -> String {
    format!("lockout/{pool_id}/{sub}")
}

fn gate_key(pool_id: &str, sub: &str) -> String {
    format!("lockout-gate/{pool_id}/{sub}")
}

/// The lockout subject of a user name that matches no user. A client that hides which
/// users exist guards wrong passwords for such names like a user's: the same store work,
/// and the same lock after five failures, so neither timing nor "Password attempts
/// exceeded" tells the two apart.
const UNKNOWN_PREFIX: &str = "unknown-";

pub(crate) fn unknown_subject(username: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        username.to_lowercase().as_bytes(),
    );
    format!("{UNKNOWN_PREFIX}{}", hex::encode(&digest.as_ref()[..16]))
}

pub fn attempts_exceeded() -> ApiError {
    ApiError::not_authorized("Password attempts exceeded")
}

/// `sub`, unless it is the lockout subject of a name that matches no user.
fn known(sub: &str) -> Option<&str> {
    (!sub.starts_with(UNKNOWN_PREFIX)).then_some(sub)
}

/// What a guarded check proves, as its auth event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    Password,
    Mfa,
    Passkey,
    Device,
    /// The current password, given to `ChangePassword`.
    PasswordChange,
}

impl Proof {
    pub(crate) fn challenge_name(self) -> &'static str {
        match self {
            Proof::Password | Proof::PasswordChange => "Password",
            Proof::Mfa => "Mfa",
            Proof::Passkey => "Passkey",
            Proof::Device => "Device",
        }
    }
}

impl Flows {
    /// Runs `check` (does the secret match?) under the user's lockout: refused without
    /// running while the user is locked, and counted. Each outcome of a real user is
    /// noted on the sign-in's `attempt`, which records it as part of an auth event (no
    /// secret in it).
    pub(crate) async fn guarded<F>(
        &self,
        attempt: &crate::attempt::Attempt,
        pool_id: &str,
        sub: &str,
        proof: Proof,
        check: F,
    ) -> Result<bool, ApiError>
    where
        F: Future<Output = Result<bool, ApiError>>,
    {
        let now_ms = self.clock.now_ms();
        let outcome = counted(&*self.sessions, &*self.clock, pool_id, sub, check).await;
        match outcome {
            Ok((matched, prior)) => {
                attempt.checked(known(sub), proof.challenge_name(), matched, prior, now_ms);
                Ok(matched)
            }
            Err(err) if err == attempts_exceeded() => {
                attempt.checked(
                    known(sub),
                    proof.challenge_name(),
                    false,
                    FREE_FAILURES,
                    now_ms,
                );
                Err(err)
            }
            Err(err) => Err(err),
        }
    }
}

/// [`Flows::guarded`] with its two dependencies spelled out, so that tests can drive the
/// clock.
#[cfg(test)]
pub(crate) async fn guarded<F>(
    store: &dyn EphemeralStore,
    clock: &dyn Clock,
    pool_id: &str,
    sub: &str,
    check: F,
) -> Result<bool, ApiError>
where
    F: Future<Output = Result<bool, ApiError>>,
{
    counted(store, clock, pool_id, sub, check)
        .await
        .map(|(matched, _)| matched)
}

/// [`guarded`], also answering how many failures preceded the check.
async fn counted<F>(
    store: &dyn EphemeralStore,
    clock: &dyn Clock,
    pool_id: &str,
    sub: &str,
    check: F,
) -> Result<(bool, u32), ApiError>
where
    F: Future<Output = Result<bool, ApiError>>,
{
    let gate = gate_key(pool_id, sub);
    let waited = std::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    while !store
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
    let outcome = checked(store, clock, pool_id, sub, check).await;
    if let Err(err) = store.delete(&gate).await {
        tracing::warn!(error = %err, "could not open a lockout gate; it expires by itself");
    }
    outcome
}

async fn checked<F>(
    store: &dyn EphemeralStore,
    clock: &dyn Clock,
    pool_id: &str,
    sub: &str,
    check: F,
) -> Result<(bool, u32), ApiError>
where
    F: Future<Output = Result<bool, ApiError>>,
{
    let key = failures_key(pool_id, sub);
    let now = clock.now_ms();
    let failures: Failures = store
        .get(&key)
        .await
        .map_err(store_error)?
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .filter(|f: &Failures| !f.forgotten_at(now))
        .unwrap_or_default();
    if failures.locked_until_ms().is_some_and(|until| now < until) {
        return Err(attempts_exceeded());
    }
    let matched = check.await?;
    if matched {
        if failures.count > 0 {
            store.delete(&key).await.map_err(store_error)?;
        }
    } else {
        let next = Failures {
            count: failures.count.saturating_add(1),
            last_ms: now,
        };
        let value = Bytes::from(serde_json::to_vec(&next).map_err(|_| ApiError::internal())?);
        // The store forgets the record after the quiet time too; the check above makes
        // the domain clock the authority.
        store
            .put(&key, value, RESET_AFTER)
            .await
            .map_err(store_error)?;
    }
    Ok((matched, failures.count))
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

    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

    use portcullis_ephemeral::MemoryStore;

    /// A clock the test moves by hand.
    #[derive(Default)]
    struct ManualClock(AtomicI64);

    impl ManualClock {
        fn advance(&self, by: Duration) {
            let ms = i64::try_from(by.as_millis()).unwrap();
            self.0.fetch_add(ms, Ordering::SeqCst);
        }
    }

    impl Clock for ManualClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// A password check that counts its evaluations.
    struct Attempts {
        store: MemoryStore,
        clock: ManualClock,
        evaluated: AtomicU32,
    }

    impl Attempts {
        fn new() -> Self {
            let clock = ManualClock::default();
            clock.advance(Duration::from_secs(1_800_000_000));
            Self {
                store: MemoryStore::new(),
                clock,
                evaluated: AtomicU32::new(0),
            }
        }

        /// One attempt with the right (`true`) or a wrong password: `Ok(matched)`, or
        /// the error when it was refused unevaluated.
        async fn attempt(&self, right: bool) -> Result<bool, ApiError> {
            let check = async {
                self.evaluated.fetch_add(1, Ordering::SeqCst);
                Ok(right)
            };
            guarded(&self.store, &self.clock, "us-east-1_Lock", "sub-1", check).await
        }

        fn evaluated(&self) -> u32 {
            self.evaluated.load(Ordering::SeqCst)
        }
    }

    fn is_locked(outcome: &Result<bool, ApiError>) -> bool {
        matches!(outcome, Err(e) if e.message == "Password attempts exceeded")
    }

    #[tokio::test]
    async fn the_lock_starts_after_five_failures_and_doubles_with_the_clock() {
        let t = Attempts::new();
        for _ in 0..5 {
            assert!(!t.attempt(false).await.unwrap());
        }
        // Locked for 1 s: not evaluated, even with the right password.
        assert!(is_locked(&t.attempt(true).await));
        assert_eq!(t.evaluated(), 5);
        t.clock.advance(Duration::from_millis(999));
        assert!(is_locked(&t.attempt(false).await));
        t.clock.advance(Duration::from_millis(1));
        assert!(!t.attempt(false).await.unwrap());
        // The sixth failure locks for 2 s.
        t.clock.advance(Duration::from_millis(1_999));
        assert!(is_locked(&t.attempt(false).await));
        t.clock.advance(Duration::from_millis(1));
        assert!(!t.attempt(false).await.unwrap());
        // Then 4 s.
        t.clock.advance(Duration::from_millis(3_999));
        assert!(is_locked(&t.attempt(false).await));
        assert_eq!(t.evaluated(), 7);
        t.clock.advance(Duration::from_millis(1));
        // A success after the lock resets the count: five free failures again.
        assert!(t.attempt(true).await.unwrap());
        for _ in 0..5 {
            assert!(!t.attempt(false).await.unwrap());
        }
        assert!(is_locked(&t.attempt(false).await));
        assert_eq!(t.evaluated(), 13);
    }

    #[tokio::test]
    async fn the_lock_stops_at_fifteen_minutes_and_quiet_time_forgets_failures() {
        let t = Attempts::new();
        for n in 0..15 {
            if let Some(until) = (Failures {
                count: n,
                last_ms: t.clock.now_ms(),
            })
            .locked_until_ms()
            {
                t.clock.advance(Duration::from_millis(
                    u64::try_from(until - t.clock.now_ms()).unwrap(),
                ));
            }
            assert!(!t.attempt(false).await.unwrap(), "attempt {n}");
        }
        // Fifteen failures would mean 2^10 s; the lock stops at fifteen minutes.
        let stop = Failures {
            count: 15,
            last_ms: 0,
        };
        assert_eq!(stop.locked_until_ms(), Some(900_000));
        assert!(is_locked(&t.attempt(false).await));
        t.clock.advance(Duration::from_secs(14 * 60 + 59));
        assert!(is_locked(&t.attempt(true).await));
        // Fifteen quiet minutes after the last failure: forgotten, five free again.
        t.clock.advance(Duration::from_secs(1));
        for _ in 0..5 {
            assert!(!t.attempt(false).await.unwrap());
        }
        assert!(is_locked(&t.attempt(false).await));
    }

    #[tokio::test]
    async fn parallel_wrong_passwords_get_five_evaluations_in_all() {
        let t = Arc::new(Attempts::new());
        let attempts = (0..40).map(|_| {
            let t = t.clone();
            async move {
                let check = async {
                    t.evaluated.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Ok(false)
                };
                guarded(&t.store, &t.clock, "us-east-1_Lock", "sub-1", check).await
            }
        });
        let outcomes = futures::future::join_all(attempts).await;
        assert_eq!(t.evaluated(), 5);
        let refused = outcomes.iter().filter(|o| o.is_err()).count();
        assert_eq!(refused, 35);
    }
}
