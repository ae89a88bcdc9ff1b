//! The cluster backend: NATS JetStream.
//!
//! Records live in one stream with file storage; a record of stream
//! `<scope>/<kind>/<id>` is a message on subject `<prefix>.<scope>.<kind>.<id>`, so the
//! log position is the JetStream sequence and per-subject expected sequences give
//! optimistic concurrency per aggregate. `Nats-Msg-Id` carries the command id, so a
//! retried append inside the stream's duplicate window (two minutes by default) returns
//! the original position.
//!
//! Reads use batched direct gets (`allow_direct`). In a replicated stream any replica
//! may answer those, so a read straight after an append on another connection can miss
//! it for a moment; that costs at most a [`LogError::Conflict`] and a retry, never a
//! lost write, because every append is checked by the stream leader.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_nats::jetstream::{self, stream::StorageType};
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::{EventLog, Expected, KeyValue, KvError, LogError, NewRecord, StoredRecord, StreamId};

mod append;
mod direct;
mod follow;
mod kv;

/// Where and how the JetStream backend keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// One server URL, or several separated by commas (`nats://a:4222,nats://b:4222`).
    pub url: String,
    /// Name of the JetStream stream holding the log.
    pub stream_name: String,
    /// Records are published under `<subject_prefix>.<scope>.<kind>.<id>`.
    pub subject_prefix: String,
    /// Copies of the log and of every bucket: 1 for a single server, 3 in a cluster.
    pub replicas: usize,
    /// Key/value bucket `name` is the JetStream bucket `<kv_prefix>_<name>`.
    pub kv_prefix: String,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            stream_name: "PORTCULLIS_LOG".to_owned(),
            subject_prefix: "portcullis.log".to_owned(),
            replicas: 1,
            kv_prefix: "portcullis".to_owned(),
        }
    }
}

impl JetStreamConfig {
    /// The defaults, with `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

/// The JetStream event log. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct JetStreamStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    js: jetstream::Context,
    /// The log stream, for leader reads and stream info.
    stream: jetstream::stream::Stream,
    config: JetStreamConfig,
    /// The highest log position this store has written or seen; reads demand replicas
    /// at least this far along (read-your-writes).
    seen: AtomicU64,
}

fn unavailable(err: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(err.to_string())
}

/// Whether the server refused a write because the subject's last sequence was not the
/// expected one. 10071 is the plain "wrong last sequence"; in a cluster the leader also
/// refuses with 10164 (the same, without the number) or 10163 (another write to the
/// subject is still in flight). All mean the writer's view is stale: re-read and
/// retry. The client library reports only 10071 as its own error kind, so the server's
/// code is looked up in the error's source chain.
fn is_wrong_last_sequence(err: &(dyn std::error::Error + 'static)) -> bool {
    let conflict_codes = [
        jetstream::ErrorCode::STREAM_WRONG_LAST_SEQUENCE,
        jetstream::ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT,
        jetstream::ErrorCode::STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY,
    ];
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(js) = err.downcast_ref::<jetstream::Error>() {
            return conflict_codes.contains(&js.error_code());
        }
        current = err.source();
    }
    false
}

impl JetStreamStore {
    /// Connects and creates the log stream if it does not exist yet. An existing stream
    /// is used as it is (its configuration is not changed).
    pub async fn connect(config: JetStreamConfig) -> Result<Self, LogError> {
        let addrs = config
            .url
            .split(',')
            .map(|url| url.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unavailable(format!("bad NATS url {:?}: {e}", config.url)))?;
        let client = async_nats::connect(addrs).await.map_err(unavailable)?;
        let js = jetstream::new(client.clone());
        let stream = js
            .get_or_create_stream(jetstream::stream::Config {
                name: config.stream_name.clone(),
                subjects: vec![format!("{}.>", config.subject_prefix)],
                storage: StorageType::File,
                num_replicas: config.replicas,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                js,
                stream,
                config,
                seen: AtomicU64::new(0),
            }),
        })
    }

    /// The key/value bucket `name` (`[A-Za-z0-9_-]`), created with the log's replica
    /// count if absent.
    pub async fn bucket(&self, name: &str) -> Result<Arc<dyn KeyValue>, KvError> {
        let bucket = kv::JetStreamBucket::open(&self.inner, name).await?;
        Ok(Arc::new(bucket))
    }

    /// A publisher to the `PORTCULLIS_EVENTS` stream (subjects `portcullis.events.>`),
    /// created with the log's replica count if absent.
    pub async fn event_publisher(
        &self,
    ) -> Result<Arc<dyn crate::publish::EventPublisher>, LogError> {
        self.inner
            .js
            .get_or_create_stream(jetstream::stream::Config {
                name: "PORTCULLIS_EVENTS".into(),
                subjects: vec!["portcullis.events.>".into()],
                storage: StorageType::File,
                num_replicas: self.inner.config.replicas,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        Ok(Arc::new(EventsPublisher {
            js: self.inner.js.clone(),
        }))
    }

    fn subject(&self, stream: &StreamId) -> String {
        let prefix = &self.inner.config.subject_prefix;
        format!(
            "{prefix}.{}.{}.{}",
            stream.scope(),
            stream.kind(),
            stream.id()
        )
    }
}

impl Inner {
    fn saw(&self, position: u64) {
        self.seen.fetch_max(position, Ordering::Relaxed);
    }

    fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Maps a message subject back to its stream id.
    fn stream_id(&self, subject: &str) -> Result<StreamId, LogError> {
        let corrupt = || LogError::Corrupt(format!("unexpected subject {subject:?} in the log"));
        let rest = subject
            .strip_prefix(self.config.subject_prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or_else(corrupt)?;
        let mut parts = rest.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(scope), Some(kind), Some(id), None) => {
                StreamId::new(scope, kind, id).map_err(|_| corrupt())
            }
            _ => Err(corrupt()),
        }
    }

    fn all_subjects(&self) -> String {
        format!("{}.>", self.config.subject_prefix)
    }
}

struct EventsPublisher {
    js: jetstream::Context,
}

#[async_trait]
impl crate::publish::EventPublisher for EventsPublisher {
    async fn publish(
        &self,
        subject: &str,
        msg_id: &str,
        payload: bytes::Bytes,
    ) -> Result<(), LogError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let ack = self
            .js
            .publish_with_headers(subject.to_owned(), headers, payload)
            .await
            .map_err(unavailable)?;
        ack.await.map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl EventLog for JetStreamStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: Expected,
        record: NewRecord,
    ) -> Result<u64, LogError> {
        append::append(&self.inner, &self.subject(stream), expected, record).await
    }

    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredRecord>, LogError> {
        direct::read_all(&self.inner, &self.subject(stream)).await
    }

    async fn read_from(&self, from: u64, max: usize) -> Result<Vec<StoredRecord>, LogError> {
        direct::read_range(&self.inner, from, max).await
    }

    async fn last_position(&self) -> Result<u64, LogError> {
        let mut stream = self
            .inner
            .js
            .get_stream(&self.inner.config.stream_name)
            .await
            .map_err(unavailable)?;
        let info = stream.info().await.map_err(unavailable)?;
        self.inner.saw(info.state.last_sequence);
        Ok(info.state.last_sequence)
    }

    fn follow(&self, from: u64) -> BoxStream<'static, Result<StoredRecord, LogError>> {
        follow::follow(self.inner.clone(), from).boxed()
    }
}
