//! The single-process backend: one redb file in the data directory.
//!
//! Every write transaction commits with `Durability::Immediate`, so an append or a
//! key/value write is on disk (fsynced) before it returns. Writes go to one writer
//! thread that commits the writes waiting at once in one transaction (group commit,
//! `writer`); in it, "check the expected position, then write" is one atomic step, as
//! every write of the store runs there one after another. Long reads run on tokio's
//! blocking pool, short ones on the calling thread.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, Durability, ReadableTable, TableDefinition, WriteTransaction};
use tokio::sync::watch;

use crate::{KeyValue, KvError, LogError};

mod kv;
mod log;
pub mod writer;

/// position -> (stream id, data)
const RECORDS: TableDefinition<u64, (&str, &[u8])> = TableDefinition::new("log_records");
/// (stream id, position) -> (); ordered, so one stream's records are one key range.
const STREAM_INDEX: TableDefinition<(&str, u64), ()> = TableDefinition::new("log_stream_index");
/// command id -> position, for idempotent appends. Kept forever.
const COMMANDS: TableDefinition<&str, u64> = TableDefinition::new("log_commands");
/// (bucket, key) -> (revision, value)
const KV: TableDefinition<(&str, &str), (u64, &[u8])> = TableDefinition::new("kv_entries");
/// Named counters; [`KV_REVISION`] is the last key/value revision handed out.
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// One revision counter for all buckets, so a revision is never reused, even after a
/// key is deleted and created again.
const KV_REVISION: &str = "kv_revision";

/// The embedded event log and key/value store. Cheap to clone; clones share the
/// database and the follower notifications.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    /// Last committed log position, updated after each commit, so followers wake on
    /// appends instead of polling.
    last: Arc<watch::Sender<u64>>,
    writer: writer::Writer,
}

impl EmbeddedStore {
    /// Opens (or creates) the database file at `path`, creating missing tables.
    pub async fn open(path: &Path) -> Result<Self, LogError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || open_blocking(&path)).await?
    }

    /// A key/value bucket stored in the same database. Buckets need no creation.
    pub fn bucket(&self, name: &str) -> Arc<dyn KeyValue> {
        Arc::new(kv::EmbeddedBucket::new(self.clone(), name))
    }

    /// Runs a short read `f` on the calling thread. A redb read takes no lock that a
    /// writer holds and never fsyncs: it is served from redb's page cache, or one file
    /// read on a miss, in microseconds, less than the two thread hand-offs a trip
    /// through the blocking pool costs (the request profiles in docs/benchmarks.md).
    /// Writes (which fsync) and long scans stay on the pool.
    fn read_now<T, E>(&self, f: impl FnOnce(&Inner) -> Result<T, E>) -> Result<T, E> {
        f(&self.inner)
    }

    /// Runs `f` on the blocking pool, because redb calls block on disk I/O and fsync.
    async fn blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static + From<tokio::task::JoinError>,
        F: FnOnce(&Inner) -> Result<T, E> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner)).await?
    }
}

fn open_blocking(path: &Path) -> Result<EmbeddedStore, LogError> {
    crate::create_private_file(path).map_err(unavailable)?;
    let db = Arc::new(Database::create(path).map_err(unavailable)?);
    let txn = begin_write(&db).map_err(unavailable)?;
    let last = {
        // Creating every table up front means readers never meet a missing table.
        let records = txn.open_table(RECORDS).map_err(unavailable)?;
        txn.open_table(STREAM_INDEX).map_err(unavailable)?;
        txn.open_table(COMMANDS).map_err(unavailable)?;
        txn.open_table(KV).map_err(unavailable)?;
        txn.open_table(COUNTERS).map_err(unavailable)?;
        records
            .last()
            .map_err(unavailable)?
            .map_or(0, |(k, _)| k.value())
    };
    txn.commit().map_err(unavailable)?;
    let (last, _) = watch::channel(last);
    let writer = writer::Writer::start(db.clone()).map_err(unavailable)?;
    Ok(EmbeddedStore {
        inner: Arc::new(Inner {
            db,
            last: Arc::new(last),
            writer,
        }),
    })
}

/// A write transaction that fsyncs on commit. `Immediate` is redb's default; naming it
/// keeps the durability promise visible and immune to a changed default.
fn begin_write(db: &Database) -> Result<WriteTransaction, redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    Ok(txn)
}

fn unavailable(err: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(err.to_string())
}

impl writer::WriteError for LogError {
    fn is_failure(&self) -> bool {
        !matches!(self, LogError::Conflict { .. })
    }
    fn abandoned(reason: &str) -> Self {
        unavailable(reason)
    }
}

impl writer::WriteError for KvError {
    fn is_failure(&self) -> bool {
        !matches!(self, KvError::Conflict)
    }
    fn abandoned(reason: &str) -> Self {
        KvError::Unavailable(reason.to_owned())
    }
}

impl From<tokio::task::JoinError> for LogError {
    fn from(err: tokio::task::JoinError) -> Self {
        unavailable(err)
    }
}

impl From<tokio::task::JoinError> for KvError {
    fn from(err: tokio::task::JoinError) -> Self {
        KvError::Unavailable(err.to_string())
    }
}
