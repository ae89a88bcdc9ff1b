//! Short-lived state with expiry: auth sessions, one-time codes, refresh-token records,
//! counters. A redb file ([`file`]) on the embedded default, Redis ([`redis_store`]) in a
//! cluster, in-process ([`memory`]) for tests; all pass [`conformance`].
//!
//! Nothing here may be the only record of a security decision (a revocation, a lockout,
//! a used code): a lost key must fail closed.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub mod conformance;
pub mod file;
pub mod memory;
pub mod redis_store;

pub use file::FileStore;
pub use memory::MemoryStore;
pub use redis_store::RedisStore;

/// The longest expiry either store honours; longer TTLs are shortened to this. Ephemeral
/// state has no business living longer, and the cap keeps deadline arithmetic from
/// overflowing (`Duration::MAX` is a valid argument).
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ephemeral store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait EphemeralStore: Send + Sync + 'static {
    /// Sets `key` to `value`, replacing any value, expiring after `ttl`.
    async fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError>;
    /// Sets `key` only if absent; returns whether it was set.
    async fn put_if_absent(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;
    /// Returns and removes the value in one atomic step: of many concurrent takers of
    /// one key, exactly one gets the value. This is what makes sessions single-use.
    async fn take(&self, key: &str) -> Result<Option<Bytes>, StoreError>;
    /// Removes `key`; returns whether it existed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Adds one to the counter at `key` (created at 0 with expiry `ttl` if absent) and
    /// returns the new value. The expiry is set only when the counter is created.
    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError>;
}
