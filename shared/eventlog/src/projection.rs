//! The loop every read model runs: follow the log from its cursor, apply records in
//! chunks, publish how far it got, and let queries wait for a position.
//!
//! The read model stores the cursor in the same transaction as its change, so a restart
//! resumes exactly where it left off; a chunk that fails to apply is retried, so the
//! cursor never skips a record.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use crate::resume::follow_resiliently;
use crate::{EventLog, StoredRecord};

/// Records applied per chunk at most.
const CHUNK: usize = 512;
/// Pause before retrying a chunk the read model failed to store.
const RETRY: Duration = Duration::from_secs(1);

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
            loop {
                let (apply, chunk) = (apply.clone(), chunk.clone());
                match tokio::task::spawn_blocking(move || apply(&chunk)).await {
                    Ok(Ok(position)) => {
                        tx.send_replace(position);
                        break;
                    }
                    Ok(Err(err)) => {
                        tracing::error!(error = %err, "read model chunk failed; retrying");
                    }
                    Err(err) => tracing::error!(error = %err, "read model task failed; retrying"),
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    });
    Applied { rx }
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
