//! The loop every read model runs: follow the log from its cursor, apply records in
//! chunks, publish how far it got, and let queries wait for a position.
//!
//! The read model stores the cursor in the same transaction as its change, so a restart
//! resumes exactly where it left off; a chunk that fails to apply is retried, so the
//! cursor never skips a record.
//!
//! A read model in a redb file ([`spawn_redb`]) commits its chunks without waiting for
//! the disk, and makes them durable once it has had nothing to apply for a moment, or
//! once a second while it is busy. Queries see a chunk as soon as it is committed
//! either way. A crash loses at most the undurable chunks, and with them the cursor
//! that counted them: the read model starts again from its last durable cursor and
//! folds them again from the log, which holds them durably. What this buys is a
//! rebuild or a burst of writes that pays one fsync per second instead of one per
//! chunk, and a write that is visible to its writer's next read without waiting for
//! an fsync of the read model.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::watch;

use crate::resume::follow_resiliently;
use crate::{EventLog, StoredRecord};

/// Records applied per chunk at most.
const CHUNK: usize = 4096;
/// Pause before retrying a chunk the read model failed to store.
const RETRY: Duration = Duration::from_secs(1);
/// A redb read model with undurable chunks makes them durable after this long with
/// nothing to apply...
const SYNC_WHEN_IDLE: Duration = Duration::from_millis(50);
/// ...or with its next chunk once its oldest undurable chunk is this old.
const SYNC_AT_LEAST_EVERY: Duration = Duration::from_secs(1);

/// How far a read model has applied the log.
#[derive(Clone)]
pub struct Applied {
    rx: watch::Receiver<u64>,
}

/// The read model did not reach the position in time.
#[derive(Debug, thiserror::Error)]
#[error("read model behind position {0}")]
pub struct Behind(pub u64);

impl Applied {
    pub(crate) fn new(rx: watch::Receiver<u64>) -> Self {
        Self { rx }
    }

    /// Waits up to `timeout` until every record up to `position` is applied.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> Result<(), Behind> {
        let mut rx = self.rx.clone();
        match tokio::time::timeout(timeout, rx.wait_for(|applied| *applied >= position)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Behind(position)),
        }
    }

    pub fn position(&self) -> u64 {
        *self.rx.borrow()
    }
}

/// Starts applying the log after `cursor` with `apply`, which stores a chunk (on a
/// blocking thread) and returns the position of its last record.
pub fn spawn<F, E>(log: Arc<dyn EventLog>, cursor: u64, apply: F) -> Applied
where
    F: Fn(&[StoredRecord]) -> Result<u64, E> + Send + Sync + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let (tx, rx) = watch::channel(cursor);
    let apply = Arc::new(apply);
    tokio::spawn(async move {
        let mut records = follow_resiliently(log, cursor + 1).ready_chunks(CHUNK);
        while let Some(chunk) = records.next().await {
            let chunk = Arc::new(chunk);
            let apply = apply.clone();
            let position = retrying("read model chunk", move || apply(&chunk)).await;
            tx.send_replace(position);
        }
    });
    Applied { rx }
}

/// Starts folding the log after `cursor` into the redb read model `db`: each chunk in
/// one write transaction, where `apply` stores its records and this loop then stores
/// the position of the chunk's last record under `cursor_key` of [`CURSOR_TABLE`].
/// Commits are durable as the module's documentation says.
pub fn spawn_redb<F>(
    log: Arc<dyn EventLog>,
    db: Arc<redb::Database>,
    cursor_key: &'static str,
    cursor: u64,
    apply: F,
) -> Applied
where
    F: Fn(&redb::WriteTransaction, &[StoredRecord]) -> Result<(), redb::Error>
        + Send
        + Sync
        + 'static,
{
    let (tx, rx) = watch::channel(cursor);
    let apply = Arc::new(apply);
    tokio::spawn(async move {
        let mut records = follow_resiliently(log, cursor + 1).ready_chunks(CHUNK);
        // When the oldest chunk not yet durable was committed.
        let mut undurable: Option<Instant> = None;
        loop {
            let next = if undurable.is_some() {
                match tokio::time::timeout(SYNC_WHEN_IDLE, records.next()).await {
                    Ok(next) => next,
                    Err(_idle) => {
                        let db = db.clone();
                        retrying("read model sync", move || sync(&db)).await;
                        undurable = None;
                        continue;
                    }
                }
            } else {
                records.next().await
            };
            let Some(chunk) = next else { break };
            let Some(position) = chunk.last().map(|r| r.position) else {
                continue;
            };
            let durable = undurable.is_some_and(|since| since.elapsed() >= SYNC_AT_LEAST_EVERY);
            let chunk = Arc::new(chunk);
            let (db, apply) = (db.clone(), apply.clone());
            retrying("read model chunk", move || {
                commit(&db, cursor_key, position, durable, &chunk, apply.as_ref())
            })
            .await;
            tx.send_replace(position);
            undurable = if durable {
                None
            } else {
                undurable.or_else(|| Some(Instant::now()))
            };
        }
    });
    Applied { rx }
}

/// One chunk and its cursor in one transaction.
fn commit<F>(
    db: &redb::Database,
    cursor_key: &str,
    position: u64,
    durable: bool,
    chunk: &[StoredRecord],
    apply: &F,
) -> Result<(), redb::Error>
where
    F: Fn(&redb::WriteTransaction, &[StoredRecord]) -> Result<(), redb::Error>,
{
    let mut txn = db.begin_write()?;
    if !durable {
        txn.set_durability(redb::Durability::None)?;
    }
    apply(&txn, chunk)?;
    txn.open_table(CURSOR_TABLE)?.insert(cursor_key, position)?;
    txn.commit()?;
    Ok(())
}

/// Makes every commit so far durable: an empty durable commit does.
fn sync(db: &redb::Database) -> Result<(), redb::Error> {
    db.begin_write()?.commit()?;
    Ok(())
}

/// Runs `work` on a blocking thread until it succeeds, pausing between tries; what it
/// answered then.
async fn retrying<T, E, F>(what: &'static str, work: F) -> T
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
{
    let work = Arc::new(work);
    loop {
        let work = work.clone();
        match tokio::task::spawn_blocking(move || work()).await {
            Ok(Ok(answer)) => return answer,
            Ok(Err(err)) => tracing::error!(error = %err, "{what} failed; retrying"),
            Err(err) => tracing::error!(error = %err, "{what} task failed; retrying"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// A read model's JSON rows keyed `<prefix><rest>`, in key order, after the row keyed
/// `<prefix><after>` (exclusive) when given, at most `limit` of them.
///
/// # Errors
/// The storage or decoding failure, as text for the caller's log.
pub fn page<T: serde::de::DeserializeOwned>(
    db: &redb::Database,
    table: redb::TableDefinition<'static, &'static str, &'static [u8]>,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<T>, String> {
    use redb::ReadableDatabase;
    let text = |err: &dyn std::fmt::Display| err.to_string();
    let table = db
        .begin_read()
        .map_err(|e| text(&e))?
        .open_table(table)
        .map_err(|e| text(&e))?;
    let start = after.map_or_else(|| prefix.to_owned(), |a| format!("{prefix}{a}"));
    let mut out = Vec::new();
    for item in table.range(start.as_str()..).map_err(|e| text(&e))? {
        let (key, value) = item.map_err(|e| text(&e))?;
        if !key.value().starts_with(prefix) || out.len() >= limit {
            break;
        }
        if after.is_some() && key.value() == start {
            continue;
        }
        out.push(serde_json::from_slice(value.value()).map_err(|e| text(&e))?);
    }
    Ok(out)
}

/// The table every read model keeps its cursor (and its layout version) in.
pub const CURSOR_TABLE: redb::TableDefinition<'static, &'static str, u64> =
    redb::TableDefinition::new("cursor");
const VERSION_KEY: &str = "version";

/// Opens (or creates) a read model's redb file. A file of another layout `version` (or
/// a new one) is emptied, so the log is folded into it again from the start; `create`
/// then opens every table queries read. Returns the database and the position of the
/// last record applied under `cursor_key`.
///
/// # Errors
/// A storage failure.
pub fn open_read_model(
    path: &std::path::Path,
    cursor_key: &str,
    version: u64,
    create: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
) -> Result<(Arc<redb::Database>, u64), redb::Error> {
    use redb::{ReadableDatabase, ReadableTable};
    crate::create_private_file(path).map_err(redb::StorageError::from)?;
    let db = Arc::new(redb::Database::create(path)?);
    let txn = db.begin_write()?;
    {
        let stored = txn
            .open_table(CURSOR_TABLE)?
            .get(VERSION_KEY)?
            .map(|v| v.value());
        if stored != Some(version) {
            let tables: Vec<_> = txn.list_tables()?.collect();
            for table in tables {
                txn.delete_table(table)?;
            }
            txn.open_table(CURSOR_TABLE)?.insert(VERSION_KEY, version)?;
        }
        create(&txn)?;
    }
    txn.commit()?;
    let cursor = db
        .begin_read()?
        .open_table(CURSOR_TABLE)?
        .get(cursor_key)?
        .map_or(0, |v| v.value());
    Ok((db, cursor))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};

    use super::*;
    use crate::embedded::EmbeddedStore;
    use crate::{Expected, NewRecord, StreamId};

    /// How many times the read model applied each position.
    const SEEN: TableDefinition<u64, u64> = TableDefinition::new("seen");
    const KEY: &str = "test";

    fn count(txn: &redb::WriteTransaction, records: &[StoredRecord]) -> Result<(), redb::Error> {
        let mut seen = txn.open_table(SEEN)?;
        for record in records {
            let times = seen.get(record.position)?.map_or(0, |v| v.value());
            seen.insert(record.position, times + 1)?;
        }
        Ok(())
    }

    async fn append(log: &EmbeddedStore, n: u64) -> u64 {
        let stream = StreamId::new("pool", "user", &format!("u{n}")).unwrap();
        let record = NewRecord {
            command_id: format!("c{n}"),
            data: Bytes::from(n.to_string()),
        };
        log.append(&stream, Expected::NoStream, record)
            .await
            .unwrap()
    }

    /// Opens the read model, follows the log until `last` is applied, waits past the
    /// idle sync, and returns what it saw; then the runtime stops, dropping the file.
    fn run(
        log_path: &std::path::Path,
        model: &std::path::Path,
        appends: std::ops::Range<u64>,
    ) -> Vec<(u64, u64)> {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let log = EmbeddedStore::open(log_path).await.unwrap();
            let (db, cursor) = open_read_model(model, KEY, 1, |txn| {
                txn.open_table(SEEN)?;
                Ok(())
            })
            .unwrap();
            let applied = spawn_redb(Arc::new(log.clone()), db.clone(), KEY, cursor, count);
            let mut last = 0;
            for n in appends {
                last = append(&log, n).await;
            }
            applied
                .wait_for(last, Duration::from_secs(30))
                .await
                .unwrap();
            assert_eq!(applied.position(), last);
            // Applied chunks are read at once, durable or not.
            let seen: Vec<(u64, u64)> = db
                .begin_read()
                .unwrap()
                .open_table(SEEN)
                .unwrap()
                .iter()
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    (k.value(), v.value())
                })
                .collect();
            // Past the idle sync, which must not disturb anything.
            tokio::time::sleep(SYNC_WHEN_IDLE * 3).await;
            seen
        })
    }

    #[test]
    fn a_redb_read_model_applies_every_record_once_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (log, model) = (dir.path().join("log.redb"), dir.path().join("model.redb"));
        let first = run(&log, &model, 0..5000);
        assert_eq!(first.len(), 5000);
        assert!(first.iter().all(|&(_, times)| times == 1));
        // Opened again, the model resumes after its cursor: the old records are not
        // applied again and the new ones are applied once.
        let second = run(&log, &model, 5000..5100);
        assert_eq!(second.len(), 5100);
        assert!(second.iter().all(|&(_, times)| times == 1), "{second:?}");
        let positions: Vec<u64> = second.iter().map(|&(p, _)| p).collect();
        assert_eq!(positions, (1..=5100).collect::<Vec<_>>());
    }
}
