//! The append-only event log and the create-if-absent key/value store that every
//! event-sourced service writes through.
//!
//! Two backends implement both traits and pass one conformance suite
//! ([`conformance`]): [`embedded`] (a redb file in the data directory, fsync on every
//! commit) for the single-process default, and [`jetstream`] (NATS JetStream with file
//! storage) for a cluster.
//!
//! The log stores opaque records (the services put one protobuf `Batch` of events per
//! command in each). A record belongs to one *stream*: the events of one aggregate.
//! Concurrency is optimistic: an append names the position of the last record it saw on
//! its stream, and fails with [`LogError::Conflict`] if another record got there first.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub mod cache;
pub mod conformance;
pub mod embedded;
pub mod jetstream;
pub mod projection;
pub mod publish;
pub mod resume;
pub mod sealed;

/// Identifies the stream of one aggregate: `<pool>/<kind>/<id>`.
///
/// Every part is restricted to characters that are safe in a NATS subject token
/// (`[A-Za-z0-9_-]`), so a stream maps one-to-one onto a subject.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    scope: String,
    kind: String,
    id: String,
}

/// A stream id part had a character outside `[A-Za-z0-9_-]` or was empty.
#[derive(Debug, thiserror::Error)]
#[error("invalid stream id part {0:?}")]
pub struct InvalidStreamId(pub String);

fn valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl StreamId {
    /// `scope` is usually a pool id, `kind` the aggregate type (`pool`, `client`, `user`).
    pub fn new(scope: &str, kind: &str, id: &str) -> Result<Self, InvalidStreamId> {
        for part in [scope, kind, id] {
            if !valid_token(part) {
                return Err(InvalidStreamId(part.to_owned()));
            }
        }
        Ok(Self {
            scope: scope.to_owned(),
            kind: kind.to_owned(),
            id: id.to_owned(),
        })
    }

    /// Parses the `<scope>/<kind>/<id>` form produced by `Display`.
    pub fn parse(s: &str) -> Result<Self, InvalidStreamId> {
        let mut parts = s.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(scope), Some(kind), Some(id), None) => Self::new(scope, kind, id),
            _ => Err(InvalidStreamId(s.to_owned())),
        }
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }
    pub fn kind(&self) -> &str {
        &self.kind
    }
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.scope, self.kind, self.id)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({self})")
    }
}

/// What the writer believes about the stream before its append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The stream must have no records yet.
    NoStream,
    /// The stream's last record must be at this log position.
    At(u64),
}

/// A record to append.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Idempotency key: appending a record with a command id that the log already holds
    /// returns the original position and writes nothing (within the backend's dedupe
    /// window; the embedded backend keeps them forever, JetStream for its window).
    pub command_id: String,
    pub data: Bytes,
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Position in the whole log, starting at 1, strictly increasing.
    pub position: u64,
    pub stream: StreamId,
    pub data: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The stream moved on since the writer read it; `current` is its last position
    /// (`None` if it has no records).
    #[error("concurrent write to stream (current position {current:?})")]
    Conflict { current: Option<u64> },
    /// The backend could not be reached or failed; the append may or may not have
    /// happened, so retry with the same command id.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("event log corrupt: {0}")]
    Corrupt(String),
}

/// The append-only log.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends one record to `stream` if the stream is where `expected` says; returns
    /// the record's position. Durable when it returns.
    async fn append(
        &self,
        stream: &StreamId,
        expected: Expected,
        record: NewRecord,
    ) -> Result<u64, LogError>;

    /// Every record of one stream, in order.
    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredRecord>, LogError>;

    /// Up to `max` records of the whole log with `position >= from`, in order.
    async fn read_from(&self, from: u64, max: usize) -> Result<Vec<StoredRecord>, LogError>;

    /// Position of the last record in the log (0 when empty).
    async fn last_position(&self) -> Result<u64, LogError>;

    /// Every record with `position >= from`, then every record appended after, for as
    /// long as the stream is polled. The stream ends only on an error.
    fn follow(&self, from: u64) -> BoxStream<'static, Result<StoredRecord, LogError>>;
}

/// A value read from a [`KeyValue`] bucket with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Bytes,
    pub revision: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// `create` found the key present, or `update`/`delete` found another revision.
    #[error("key/value revision conflict")]
    Conflict,
    #[error("key/value store unavailable: {0}")]
    Unavailable(String),
}

/// A bucket of keys with create-if-absent and compare-and-set, used for unique claims
/// (user names, aliases) and other small durable values. Keys are arbitrary UTF-8;
/// backends encode them as needed.
#[async_trait]
pub trait KeyValue: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Entry>, KvError>;
    /// Writes `value` only if `key` is absent; returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError>;
    /// Writes `value` only if the key's current revision is `revision`.
    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError>;
    /// Removes the key only if its current revision is `revision`. Removing an absent
    /// key is a conflict.
    async fn delete(&self, key: &str, revision: u64) -> Result<(), KvError>;
}

/// How long followers wait between polls when a backend has no push notification.
pub const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// Creates `path` empty, readable and writable by its owner only (0600), unless it
/// exists, so a database opened on it never exists with the default mode: the stores
/// hold password hashes, verifiers and sealed secrets.
///
/// # Errors
/// When the file cannot be created.
pub fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}
