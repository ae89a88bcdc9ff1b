//! The in-process store used by the embedded (single-process) deployment.
//!
//! Expiry is enforced on every read, so an expired key is absent the instant its deadline
//! passes. Expired entries that are never read again are removed by an amortised sweep:
//! whenever the map has doubled since the last sweep, one pass drops everything expired.
//! That keeps memory within about twice the live set at O(1) amortised cost per write,
//! with no background task to start, stop or leak.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{EphemeralStore, MAX_TTL, StoreError};

/// Below this many entries a sweep is not worth its cost.
const MIN_SWEEP_LEN: usize = 1024;

/// Elapsed time for expiry (not wall time, unlike `portcullis_types::Clock`), injectable
/// so tests can move time without sleeping.
pub trait MonotonicClock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemMonotonicClock;

impl MonotonicClock for SystemMonotonicClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// In-process [`EphemeralStore`] with expiry.
pub struct MemoryStore {
    // A std (not tokio) mutex on purpose: every critical section is a few map operations
    // with no `.await` while the guard is held, so it is never held across a suspension
    // point, and a std mutex is cheaper than an async one (the reasoning of mini-redis's
    // `db.rs`). Holding the one lock for a whole operation is also what makes `take` and
    // `incr` atomic.
    state: Mutex<State>,
    clock: Arc<dyn MonotonicClock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Sweep when the map grows past this; reset to twice the survivors after a sweep.
    sweep_at_len: usize,
}

struct Entry {
    value: Bytes,
    expires_at: Instant,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemMonotonicClock))
    }

    /// An empty store reading time from `clock`, for tests that move time by hand.
    pub fn with_clock(clock: Arc<dyn MonotonicClock>) -> Self {
        let state = State {
            entries: HashMap::new(),
            sweep_at_len: MIN_SWEEP_LEN,
        };
        Self {
            state: Mutex::new(state),
            clock,
        }
    }

    /// Locks the state. A poisoned lock is recovered rather than propagated: each critical
    /// section is a single map operation that leaves the map valid even if it unwinds, and
    /// a store that refused all further requests would take the whole process down with it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deadline(&self, now: Instant, ttl: Duration) -> Instant {
        // `checked_add` cannot fail for a TTL capped at MAX_TTL on any real clock; if it
        // ever did, expiring at once fails closed.
        now.checked_add(ttl.min(MAX_TTL)).unwrap_or(now)
    }
}

impl State {
    /// The live entry at `key`, removing it first if it has expired.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| e.expires_at <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    /// Inserts, sweeping first if the map has outgrown its threshold.
    fn insert(&mut self, key: &str, entry: Entry, now: Instant) {
        if self.entries.len() >= self.sweep_at_len {
            self.sweep(now);
        }
        self.entries.insert(key.to_owned(), entry);
    }

    fn sweep(&mut self, now: Instant) {
        self.entries.retain(|_, e| e.expires_at > now);
        self.sweep_at_len = (self.entries.len() * 2).max(MIN_SWEEP_LEN);
    }
}

#[async_trait]
impl EphemeralStore for MemoryStore {
    async fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let now = self.clock.now();
        let expires_at = self.deadline(now, ttl);
        self.lock().insert(key, Entry { value, expires_at }, now);
        Ok(())
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut state = self.lock();
        if state.live(key, now).is_some() {
            return Ok(false);
        }
        let expires_at = self.deadline(now, ttl);
        state.insert(key, Entry { value, expires_at }, now);
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let now = self.clock.now();
        Ok(self.lock().live(key, now).map(|e| e.value.clone()))
    }

    async fn take(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let now = self.clock.now();
        let mut state = self.lock();
        let entry = state.entries.remove(key);
        Ok(entry.filter(|e| e.expires_at > now).map(|e| e.value))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let entry = self.lock().entries.remove(key);
        Ok(entry.is_some_and(|e| e.expires_at > now))
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
        let now = self.clock.now();
        let mut state = self.lock();
        let Some(entry) = state.live(key, now) else {
            let expires_at = self.deadline(now, ttl);
            let value = Bytes::from_static(b"1");
            state.insert(key, Entry { value, expires_at }, now);
            return Ok(1);
        };
        let next = next_count(&entry.value)?;
        // Stored as decimal text, as Redis does, so `get` reads the same in both stores.
        entry.value = Bytes::from(next.to_string());
        Ok(next)
    }
}

/// The counter after `current`, failing as Redis's INCR does on a non-integer or overflow.
pub(crate) fn next_count(current: &[u8]) -> Result<i64, StoreError> {
    std::str::from_utf8(current)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| StoreError::Unavailable("value is not an integer".into()))?
        .checked_add(1)
        .ok_or_else(|| StoreError::Unavailable("increment would overflow".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that moves only when told to.
    struct ManualClock {
        start: Instant,
        offset: Mutex<Duration>,
    }

    impl ManualClock {
        fn new() -> Arc<Self> {
            let offset = Mutex::new(Duration::ZERO);
            Arc::new(Self {
                start: Instant::now(),
                offset,
            })
        }

        fn advance(&self, by: Duration) {
            *self.offset.lock().unwrap() += by;
        }
    }

    impl MonotonicClock for ManualClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock().unwrap()
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn key_is_present_until_its_deadline_and_absent_from_it() {
        let clock = ManualClock::new();
        let store = MemoryStore::with_clock(clock.clone());
        store
            .put("k", Bytes::from_static(b"v"), SECOND)
            .await
            .unwrap();

        clock.advance(SECOND - Duration::from_nanos(1));
        assert_eq!(store.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        clock.advance(Duration::from_nanos(1));
        assert_eq!(store.get("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn expired_keys_that_are_never_read_are_swept() {
        let clock = ManualClock::new();
        let store = MemoryStore::with_clock(clock.clone());
        for i in 0..MIN_SWEEP_LEN {
            store
                .put(&format!("old{i}"), Bytes::new(), SECOND)
                .await
                .unwrap();
        }
        clock.advance(2 * SECOND);
        store.put("fresh", Bytes::new(), SECOND).await.unwrap();

        assert_eq!(store.lock().entries.len(), 1, "only the fresh key survives");
        assert_eq!(store.lock().sweep_at_len, MIN_SWEEP_LEN);
    }

    #[tokio::test]
    async fn a_large_live_set_raises_the_sweep_threshold() {
        let store = MemoryStore::new();
        for i in 0..=MIN_SWEEP_LEN {
            store
                .put(&format!("k{i}"), Bytes::new(), SECOND * 60)
                .await
                .unwrap();
        }
        // Everything was live at the sweep, so the next one waits for twice as many keys.
        assert_eq!(store.lock().sweep_at_len, 2 * MIN_SWEEP_LEN);
        assert_eq!(store.lock().entries.len(), MIN_SWEEP_LEN + 1);
    }

    #[tokio::test]
    async fn incr_on_a_non_integer_fails_and_leaves_the_value() {
        let store = MemoryStore::new();
        store
            .put("k", Bytes::from_static(b"\xff"), SECOND)
            .await
            .unwrap();
        assert!(store.incr("k", SECOND).await.is_err());
        assert_eq!(store.get("k").await.unwrap().as_deref(), Some(&b"\xff"[..]));
    }

    #[tokio::test]
    async fn incr_at_i64_max_fails_rather_than_wrapping() {
        let store = MemoryStore::new();
        let max = Bytes::from(i64::MAX.to_string());
        store.put("k", max, SECOND).await.unwrap();
        assert!(store.incr("k", SECOND).await.is_err());
    }

    #[tokio::test]
    async fn a_huge_ttl_is_capped_instead_of_overflowing() {
        let store = MemoryStore::new();
        store.put("k", Bytes::new(), Duration::MAX).await.unwrap();
        assert!(store.get("k").await.unwrap().is_some());
    }
}
