//! The embedded deployment's store: a redb file in the data directory, so refresh
//! tokens, codes, sign-in sessions and lockout counters survive a restart as they
//! survive a restart of Redis with persistence on.
//!
//! Each entry is stored as its deadline (wall-clock milliseconds, big-endian, so that it
//! means the same after a restart) followed by the value. Expiry is checked on every
//! read; entries nobody reads again are dropped by a sweep of the whole table once every
//! [`SWEEP_EVERY`] writes, and when the file is opened. Every write is durable (fsynced)
//! before it is answered: a code that was acknowledged as sent, or a session that was
//! consumed, stays so after a crash. Writes go to one writer thread that commits the
//! writes waiting at once in one transaction (group commit, the embedded event log's
//! `writer`), one after another, which is what makes `take` and `incr` atomic. A read
//! of one key runs on the calling thread: it never waits for a writer or the disk's
//! flush.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use portcullis_eventlog::embedded::writer::{WriteError, Writer};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use crate::{EphemeralStore, MAX_TTL, StoreError};

const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("ephemeral");
/// Writes between two sweeps of expired entries.
const SWEEP_EVERY: u64 = 4096;

/// A file-backed [`EphemeralStore`].
pub struct FileStore {
    db: Arc<Database>,
    writer: Writer,
    writes: AtomicU64,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore").finish_non_exhaustive()
    }
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn deadline(now: u64, ttl: Duration) -> u64 {
    let ttl = u64::try_from(ttl.min(MAX_TTL).as_millis()).unwrap_or(u64::MAX);
    // Redis rounds a TTL to whole milliseconds; a sub-millisecond TTL still lives 1 ms.
    now.saturating_add(ttl.max(1))
}

fn encode(expires_at: u64, value: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + value.len());
    bytes.extend_from_slice(&expires_at.to_be_bytes());
    bytes.extend_from_slice(value);
    bytes
}

/// The deadline and value of a stored entry (a short record reads as expired).
fn decode(bytes: &[u8]) -> (u64, &[u8]) {
    match bytes.split_first_chunk::<8>() {
        Some((deadline, value)) => (u64::from_be_bytes(*deadline), value),
        None => (0, &[]),
    }
}

/// Creates the file 0600 unless it exists: sessions and codes are secrets.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

fn begin_write(db: &Database) -> Result<WriteTransaction, StoreError> {
    let mut txn = db.begin_write().map_err(unavailable)?;
    txn.set_durability(Durability::Immediate)
        .map_err(unavailable)?;
    Ok(txn)
}

impl FileStore {
    /// Opens (or creates) the store at `path`, dropping what expired while it was closed.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            create_private_file(&path).map_err(unavailable)?;
            let db = Arc::new(Database::create(&path).map_err(unavailable)?);
            sweep(&db)?;
            Ok(Self {
                writer: Writer::start(db.clone()).map_err(unavailable)?,
                db,
                writes: AtomicU64::new(0),
            })
        })
        .await
        .map_err(unavailable)?
    }

    /// Runs `f` in the writer's next transaction, sweeping now and then; answers once
    /// the transaction committed.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut redb::Table<&str, &[u8]>, u64) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let sweep = self.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1;
        let write = move |txn: &WriteTransaction| {
            let now = now_ms();
            let mut table = txn.open_table(ENTRIES).map_err(failed)?;
            if sweep {
                table
                    .retain(|_, bytes| decode(bytes).0 > now)
                    .map_err(failed)?;
            }
            f(&mut table, now).map_err(Failed)
        };
        self.writer
            .write(write, |_| {})
            .await
            .map_err(|Failed(err)| err)
    }
}

fn sweep(db: &Database) -> Result<(), StoreError> {
    let now = now_ms();
    let txn = begin_write(db)?;
    txn.open_table(ENTRIES)
        .map_err(unavailable)?
        .retain(|_, bytes| decode(bytes).0 > now)
        .map_err(unavailable)?;
    txn.commit().map_err(unavailable)
}

/// A write's failure as the writer sees it: every failure of this store may have
/// left part of the write in the transaction, so it abandons the batch.
struct Failed(StoreError);

fn failed(err: impl std::fmt::Display) -> Failed {
    Failed(unavailable(err))
}

impl WriteError for Failed {
    fn is_failure(&self) -> bool {
        true
    }

    fn abandoned(reason: &str) -> Self {
        failed(reason)
    }
}

/// The live value at `key`, if any.
fn live(
    table: &redb::Table<&str, &[u8]>,
    key: &str,
    now: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(table.get(key).map_err(unavailable)?.and_then(|guard| {
        let (expires_at, value) = decode(guard.value());
        (expires_at > now).then(|| value.to_vec())
    }))
}

#[async_trait]
impl EphemeralStore for FileStore {
    async fn put(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.write(move |table, now| {
            table
                .insert(key.as_str(), encode(deadline(now, ttl), &value).as_slice())
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.write(move |table, now| {
            if live(table, &key, now)?.is_some() {
                return Ok(false);
            }
            table
                .insert(key.as_str(), encode(deadline(now, ttl), &value).as_slice())
                .map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        // One key: read on the calling thread (see the module's documentation).
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = match txn.open_table(ENTRIES) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(err) => return Err(unavailable(err)),
        };
        let now = now_ms();
        Ok(table.get(key).map_err(unavailable)?.and_then(|guard| {
            let (expires_at, value) = decode(guard.value());
            (expires_at > now).then(|| Bytes::copy_from_slice(value))
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let key = key.to_owned();
        self.write(move |table, now| {
            let removed = table.remove(key.as_str()).map_err(unavailable)?;
            Ok(removed.and_then(|guard| {
                let (expires_at, value) = decode(guard.value());
                (expires_at > now).then(|| Bytes::copy_from_slice(value))
            }))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.write(move |table, now| {
            let removed = table.remove(key.as_str()).map_err(unavailable)?;
            Ok(removed.is_some_and(|guard| decode(guard.value()).0 > now))
        })
        .await
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, StoreError> {
        let key = key.to_owned();
        self.write(move |table, now| {
            let existing = table
                .get(key.as_str())
                .map_err(unavailable)?
                .and_then(|guard| {
                    let (expires_at, value) = decode(guard.value());
                    (expires_at > now).then(|| (expires_at, value.to_vec()))
                });
            let (expires_at, next) = match existing {
                Some((expires_at, value)) => (expires_at, crate::memory::next_count(&value)?),
                None => (deadline(now, ttl), 1),
            };
            // Decimal text, as Redis stores counters, so `get` reads the same everywhere.
            let text = next.to_string();
            table
                .insert(key.as_str(), encode(expires_at, text.as_bytes()).as_slice())
                .map_err(unavailable)?;
            Ok(next)
        })
        .await
    }
}
