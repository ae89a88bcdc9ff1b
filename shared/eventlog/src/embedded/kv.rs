//! [`KeyValue`] for [`EmbeddedStore`]: entries of all buckets share one table keyed by
//! (bucket, key), and revisions come from one counter in the same write transaction.

use async_trait::async_trait;
use bytes::Bytes;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::{COUNTERS, EmbeddedStore, Inner, KV, KV_REVISION};
use crate::{Entry, KeyValue, KvError};

pub(super) struct EmbeddedBucket {
    store: EmbeddedStore,
    name: String,
}

impl EmbeddedBucket {
    pub(super) fn new(store: EmbeddedStore, name: &str) -> Self {
        Self {
            store,
            name: name.to_owned(),
        }
    }

    /// Writes (`Some`) or removes (`None`) the value if `pre` holds; returns the new
    /// revision.
    async fn write(
        &self,
        key: &str,
        pre: Precondition,
        value: Option<Bytes>,
    ) -> Result<u64, KvError> {
        let (bucket, key) = (self.name.clone(), key.to_owned());
        let write =
            move |txn: &WriteTransaction| kv_write(txn, &bucket, &key, pre, value.as_deref());
        self.store.inner.writer.write(write, |_| {}).await
    }
}

fn unavailable(err: impl std::fmt::Display) -> KvError {
    KvError::Unavailable(err.to_string())
}

/// What a conditional write requires of the key's current state.
#[derive(Clone, Copy)]
enum Precondition {
    Absent,
    Revision(u64),
}

impl Inner {
    fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<Entry>, KvError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(KV).map_err(unavailable)?;
        let entry = table.get((bucket, key)).map_err(unavailable)?;
        Ok(entry.map(|e| {
            let (revision, value) = e.value();
            Entry {
                value: Bytes::copy_from_slice(value),
                revision,
            }
        }))
    }
}

/// Writes (`Some`) or removes (`None`) the value in the writer's transaction `txn` if
/// `pre` holds (else nothing is written); returns the new revision.
fn kv_write(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    pre: Precondition,
    value: Option<&[u8]>,
) -> Result<u64, KvError> {
    let mut table = txn.open_table(KV).map_err(unavailable)?;
    let current = table
        .get((bucket, key))
        .map_err(unavailable)?
        .map(|e| e.value().0);
    let holds = match pre {
        Precondition::Absent => current.is_none(),
        Precondition::Revision(expected) => current == Some(expected),
    };
    if !holds {
        return Err(KvError::Conflict);
    }
    let revision = next_revision(txn)?;
    match value {
        Some(value) => table.insert((bucket, key), (revision, value)).map(drop),
        None => table.remove((bucket, key)).map(drop),
    }
    .map_err(unavailable)?;
    Ok(revision)
}

fn next_revision(txn: &WriteTransaction) -> Result<u64, KvError> {
    let mut counters = txn.open_table(COUNTERS).map_err(unavailable)?;
    let last = counters
        .get(KV_REVISION)
        .map_err(unavailable)?
        .map_or(0, |v| v.value());
    let revision = last + 1;
    counters
        .insert(KV_REVISION, revision)
        .map_err(unavailable)?;
    Ok(revision)
}

#[async_trait]
impl KeyValue for EmbeddedBucket {
    async fn get(&self, key: &str) -> Result<Option<Entry>, KvError> {
        self.store.read_now(|inner| inner.kv_get(&self.name, key))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.write(key, Precondition::Absent, Some(value)).await
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        self.write(key, Precondition::Revision(revision), Some(value))
            .await
    }

    async fn delete(&self, key: &str, revision: u64) -> Result<(), KvError> {
        self.write(key, Precondition::Revision(revision), None)
            .await
            .map(drop)
    }
}
