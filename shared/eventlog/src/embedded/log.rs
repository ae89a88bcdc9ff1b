//! [`EventLog`] for [`EmbeddedStore`].

use std::collections::VecDeque;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::{COMMANDS, EmbeddedStore, Inner, RECORDS, STREAM_INDEX, unavailable};
use crate::{EventLog, Expected, LogError, NewRecord, StoredRecord, StreamId};

/// How many records one read transaction of `follow` fetches.
const FOLLOW_BATCH: usize = 2048;

/// Appends `record` in the writer's transaction `txn`, unless the command is known or
/// the stream is not where the writer expects it (then nothing is written).
fn append(
    txn: &WriteTransaction,
    stream: &str,
    expected: Expected,
    record: &NewRecord,
) -> Result<u64, LogError> {
    let mut commands = txn.open_table(COMMANDS).map_err(unavailable)?;
    // Dedupe comes before the concurrency check: a retried command carries the
    // expected position it had before its first attempt succeeded.
    if let Some(position) = commands
        .get(record.command_id.as_str())
        .map_err(unavailable)?
    {
        return Ok(position.value());
    }
    check_expected(txn, stream, expected)?;
    let mut records = txn.open_table(RECORDS).map_err(unavailable)?;
    let position = records
        .last()
        .map_err(unavailable)?
        .map_or(0, |(k, _)| k.value())
        + 1;
    records
        .insert(position, (stream, record.data.as_ref()))
        .map_err(unavailable)?;
    let mut index = txn.open_table(STREAM_INDEX).map_err(unavailable)?;
    index.insert((stream, position), ()).map_err(unavailable)?;
    commands
        .insert(record.command_id.as_str(), position)
        .map_err(unavailable)?;
    Ok(position)
}

impl Inner {
    fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredRecord>, LogError> {
        let name = stream.to_string();
        let txn = self.db.begin_read().map_err(unavailable)?;
        let index = txn.open_table(STREAM_INDEX).map_err(unavailable)?;
        let records = txn.open_table(RECORDS).map_err(unavailable)?;
        let range = index
            .range((name.as_str(), 0)..=(name.as_str(), u64::MAX))
            .map_err(unavailable)?;
        let mut out = Vec::new();
        for entry in range {
            let position = entry.map_err(unavailable)?.0.value().1;
            let record = records
                .get(position)
                .map_err(unavailable)?
                .ok_or_else(|| LogError::Corrupt(format!("indexed position {position} missing")))?;
            let data = Bytes::copy_from_slice(record.value().1);
            out.push(StoredRecord {
                position,
                stream: stream.clone(),
                data,
            });
        }
        Ok(out)
    }

    fn read_from(&self, from: u64, max: usize) -> Result<Vec<StoredRecord>, LogError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let records = txn.open_table(RECORDS).map_err(unavailable)?;
        let mut out = Vec::new();
        for entry in records.range(from..).map_err(unavailable)?.take(max) {
            let (position, value) = entry.map_err(unavailable)?;
            let (stream, data) = value.value();
            out.push(StoredRecord {
                position: position.value(),
                stream: StreamId::parse(stream).map_err(|e| LogError::Corrupt(e.to_string()))?,
                data: Bytes::copy_from_slice(data),
            });
        }
        Ok(out)
    }
}

/// Fails with `Conflict` unless the stream's last position is what the writer expects.
fn check_expected(
    txn: &WriteTransaction,
    stream: &str,
    expected: Expected,
) -> Result<(), LogError> {
    let index = txn.open_table(STREAM_INDEX).map_err(unavailable)?;
    let current = index
        .range((stream, 0)..=(stream, u64::MAX))
        .map_err(unavailable)?
        .next_back()
        .transpose()
        .map_err(unavailable)?
        .map(|(key, _)| key.value().1);
    let matches = match expected {
        Expected::NoStream => current.is_none(),
        Expected::At(position) => current == Some(position),
    };
    if matches {
        Ok(())
    } else {
        Err(LogError::Conflict { current })
    }
}

#[async_trait]
impl EventLog for EmbeddedStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: Expected,
        record: NewRecord,
    ) -> Result<u64, LogError> {
        let stream = stream.to_string();
        let last = self.inner.last.clone();
        let published = move |position: &u64| {
            last.send_if_modified(|last| {
                let later = *position > *last;
                *last = (*last).max(*position);
                later
            });
        };
        let write = move |txn: &WriteTransaction| append(txn, &stream, expected, &record);
        self.inner.writer.write(write, published).await
    }

    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredRecord>, LogError> {
        // One aggregate's records: short, read on the spot.
        self.read_now(|inner| inner.read_stream(stream))
    }

    async fn read_from(&self, from: u64, max: usize) -> Result<Vec<StoredRecord>, LogError> {
        self.blocking(move |inner| inner.read_from(from, max)).await
    }

    async fn last_position(&self) -> Result<u64, LogError> {
        // The watch is updated only after a commit, so this is the committed end.
        Ok(*self.inner.last.borrow())
    }

    fn follow(&self, from: u64) -> BoxStream<'static, Result<StoredRecord, LogError>> {
        let follower = Follower {
            store: self.clone(),
            last: self.inner.last.subscribe(),
            next: from.max(1),
            buffer: VecDeque::new(),
            failed: false,
        };
        futures::stream::unfold(follower, |mut f| async move {
            let item = f.next().await?;
            Some((item, f))
        })
        .boxed()
    }
}

/// The state of one `follow` stream: reads batches, and between them sleeps on the
/// last-position watch until an append moves it past `next`.
struct Follower {
    store: EmbeddedStore,
    last: tokio::sync::watch::Receiver<u64>,
    next: u64,
    buffer: VecDeque<StoredRecord>,
    failed: bool,
}

impl Follower {
    /// The next record; `None` only after an error has been yielded.
    async fn next(&mut self) -> Option<Result<StoredRecord, LogError>> {
        if self.failed {
            return None;
        }
        while self.buffer.is_empty() {
            if let Err(err) = self.fill().await {
                self.failed = true;
                return Some(Err(err));
            }
        }
        let record = self.buffer.pop_front()?;
        self.next = record.position + 1;
        Some(Ok(record))
    }

    async fn fill(&mut self) -> Result<(), LogError> {
        // `wait_for` looks at the current value first, so an append committed since the
        // last read is never missed.
        let next = self.next;
        self.last
            .wait_for(|&last| last >= next)
            .await
            .map_err(unavailable)?;
        let batch = self.store.read_from(next, FOLLOW_BATCH).await?;
        self.buffer.extend(batch);
        Ok(())
    }
}
