//! The Redis store used in a cluster, so that every replica sees the same sessions,
//! codes and counters.
//!
//! Every operation is a single Redis command or transaction, so the atomicity the trait
//! promises (single-use `take`, exact `incr`) comes from Redis itself, across replicas.
//! Errors are never retried here: an operation that fails returns
//! [`StoreError::Unavailable`] and the caller fails closed, while the connection manager
//! reconnects in the background for the next call.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Value};

use crate::{EphemeralStore, MAX_TTL, StoreError};

/// Bounds how long a call can wait while Redis is down: with a few quick retries a
/// request fails within a couple of seconds instead of hanging the auth flow behind it.
const RECONNECT_RETRIES: usize = 3;
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(1);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// Loopback round trips are ~100 µs (PERFORMANCE.md); anything near this is an outage.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// [`EphemeralStore`] on Redis (>= 6.2, for GETDEL).
#[derive(Clone)]
pub struct RedisStore {
    // Cheap to clone: clones share one multiplexed connection, reconnected on failure.
    conn: ConnectionManager,
    key_prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/0`), failing if Redis cannot be
    /// reached now. `key_prefix` is prepended verbatim to every key (include your own
    /// separator, e.g. `"portcullis:"`) so several deployments can share one Redis.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(RECONNECT_MAX_DELAY)
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        tracing::debug!(key_prefix, "connected to redis");
        Ok(Self {
            conn,
            key_prefix: key_prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(unavailable)
    }
}

/// Redis's PX takes whole milliseconds and rejects 0, so round up: a TTL never ends
/// earlier than asked, and a sub-millisecond TTL still expires almost at once.
fn ttl_millis(ttl: Duration) -> u64 {
    let millis = ttl.min(MAX_TTL).as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).unwrap_or(u64::MAX).max(1)
}

fn unavailable(error: RedisError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn into_bytes(value: Option<Vec<u8>>) -> Option<Bytes> {
    value.map(Bytes::from)
}

#[async_trait]
impl EphemeralStore for RedisStore {
    async fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value.as_ref());
        cmd.arg("PX").arg(ttl_millis(ttl));
        self.query(&cmd).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value.as_ref());
        cmd.arg("NX").arg("PX").arg(ttl_millis(ttl));
        // SET NX answers OK when it wrote and nil when the key already existed.
        match self.query(&cmd).await? {
            Value::Okay => Ok(true),
            Value::Nil => Ok(false),
            other => Err(StoreError::Unavailable(format!(
                "unexpected reply to SET NX: {other:?}"
            ))),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        self.query(&cmd).await.map(into_bytes)
    }

    async fn take(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.key(key));
        self.query(&cmd).await.map(into_bytes)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        let removed: u64 = self.query(&cmd).await?;
        Ok(removed > 0)
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
        let key = self.key(key);
        // One MULTI/EXEC: create the counter at 0 with its expiry only if absent, then
        // INCR, which keeps whatever expiry the key already has. No other client can run
        // between the two, so the first expiry always sticks.
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("SET").arg(&key).arg(0).arg("NX");
        pipe.arg("PX").arg(ttl_millis(ttl)).ignore();
        pipe.cmd("INCR").arg(&key);
        let mut conn = self.conn.clone();
        let (count,): (i64,) = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_to_whole_milliseconds_and_never_to_zero() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1_001)), 2);
        assert_eq!(ttl_millis(Duration::from_millis(200)), 200);
        assert_eq!(ttl_millis(Duration::MAX), ttl_millis(MAX_TTL));
    }
}
