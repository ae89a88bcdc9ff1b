//! The cluster backend: NATS JetStream.
//!
//! Records live in one stream with file storage; a record of stream
//! `<scope>/<kind>/<id>` is a message on subject `<prefix>.<scope>.<kind>.<id>`, so the
//! log position is the JetStream sequence and per-subject expected sequences give
//! optimistic concurrency per aggregate. `Nats-Msg-Id` carries the command id, so a
//! retried append inside the stream's duplicate window (two minutes by default) returns
//! the original position.
//!
//! Reads see every write acknowledged before they began, on any connection. Bulk reads
//! use batched direct gets (`allow_direct`), which any replica may answer, lagging ones
//! included (a restarted node catching up, a follower a few writes behind); so each
//! read first learns from the stream leader how far it must reach, and a replica's
//! answer that stops short is asked again. Key/value reads go to the bucket's leader.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{RawMessageErrorKind, StorageType};
use async_nats::jetstream::{self};
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::{EventLog, Expected, KeyValue, KvError, LogError, NewRecord, StoredRecord, StreamId};

mod append;
mod direct;
mod follow;
mod kv;
mod last;

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
    /// `last_position`'s requests, shared between concurrent callers.
    last: last::SharedLast,
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
    server_code(err).is_some_and(|code| conflict_codes.contains(&code))
}

/// Whether the leader refused a write only because another write to the same subject
/// is still being replicated (10163): its outcome is not known yet.
fn is_write_in_flight(err: &(dyn std::error::Error + 'static)) -> bool {
    server_code(err) == Some(jetstream::ErrorCode::STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY)
}

/// How long `connect` keeps asking a cluster that does not answer to create the log's
/// stream.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);

/// First pause before offering a write again while another to its subject is in
/// flight; doubled each time, given up (the refusal returned) once it reaches
/// [`IN_FLIGHT_GIVE_UP`], about five seconds in all.
const IN_FLIGHT_PAUSE: Duration = Duration::from_millis(10);
const IN_FLIGHT_GIVE_UP: Duration = Duration::from_millis(5_000);

/// Runs `write` again while the leader refuses it because another write to its subject
/// is still in flight (perhaps an earlier attempt of this very write whose answer was
/// lost), or while no stream answers at all. Until the other write settles neither
/// "conflict" nor "stored" can be told; a refused or unheard write was not stored, so
/// offering it again is safe.
pub(super) async fn settled<T, E, F, Fut>(mut write: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::error::Error + 'static,
{
    let mut pause = IN_FLIGHT_PAUSE;
    loop {
        match write().await {
            Err(err)
                if (is_write_in_flight(&err) || is_unheard(&err)) && pause < IN_FLIGHT_GIVE_UP =>
            {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            other => return other,
        }
    }
}

/// Whether a publish found no stream to take it ("no responders"): the server the
/// client talks to does not know the stream's subjects yet (a stream just created in
/// a cluster) or no replica listens for the moment (an election). Nothing was stored.
/// The library's key/value create also reads the key after its publish is refused; a
/// direct get that no replica answers (503) means the same.
fn is_unheard(err: &(dyn std::error::Error + 'static)) -> bool {
    use async_nats::jetstream::context::{PublishError, PublishErrorKind};
    use async_nats::jetstream::stream::{DirectGetError, DirectGetErrorKind};
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(publish) = err.downcast_ref::<PublishError>() {
            return publish.kind() == PublishErrorKind::StreamNotFound;
        }
        if let Some(get) = err.downcast_ref::<DirectGetError>() {
            return matches!(
                get.kind(),
                DirectGetErrorKind::ErrorResponse(status, _)
                    if status == async_nats::StatusCode::NO_RESPONDERS
            );
        }
        current = err.source();
    }
    false
}

/// The JetStream error code in `err`'s source chain.
fn server_code(err: &(dyn std::error::Error + 'static)) -> Option<jetstream::ErrorCode> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(js) = err.downcast_ref::<jetstream::Error>() {
            return Some(js.error_code());
        }
        current = err.source();
    }
    None
}

/// How long a read waits for a stream to have a leader again (an election after the
/// leader's node died takes a few seconds).
const LEADER_WAIT: Duration = Duration::from_secs(15);

/// The last message on `subject` as the stream's leader holds it (`None`: no message
/// on it), waiting out an election: while no leader answers, the request is repeated.
pub(super) async fn leader_last(
    stream: &jetstream::stream::Stream,
    subject: &str,
) -> Result<Option<StreamMessage>, LogError> {
    leader_get(|| stream.raw_message_builder().last_by_subject(subject).send()).await
}

/// The first message on `subject` at or after `sequence`, as the leader holds it.
pub(super) async fn leader_next(
    stream: &jetstream::stream::Stream,
    subject: &str,
    sequence: u64,
) -> Result<Option<StreamMessage>, LogError> {
    leader_get(|| {
        stream
            .raw_message_builder()
            .next_by_subject(subject)
            .sequence(sequence)
            .send()
    })
    .await
}

async fn leader_get<F, Fut>(mut get: F) -> Result<Option<StreamMessage>, LogError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<StreamMessage, jetstream::stream::RawMessageError>>,
{
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    let mut pause = Duration::from_millis(20);
    loop {
        match get().await {
            Ok(message) => return Ok(Some(message)),
            Err(err) if matches!(err.kind(), RawMessageErrorKind::NoMessageFound) => {
                return Ok(None);
            }
            Err(err) if matches!(err.kind(), RawMessageErrorKind::InvalidSubject) => {
                return Err(unavailable(err));
            }
            // No leader (no responders, a timeout, "stream not available"): an election
            // is under way or the cluster has lost its quorum; only time tells which.
            Err(err) => {
                if tokio::time::Instant::now() + pause > deadline {
                    return Err(unavailable(format!("stream leader read: {err}")));
                }
                tracing::debug!(error = %err, "no stream leader answered, asking again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// Waits until `stream` has a leader: a stream just created in a cluster answers
/// neither writes ("no stream found") nor leader reads until its replicas elect one.
pub(super) async fn wait_for_leader(
    stream: &mut jetstream::stream::Stream,
) -> Result<(), LogError> {
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    loop {
        let led = match stream.info().await {
            // A single server's stream has no cluster information and is its own leader.
            Ok(info) => info.cluster.as_ref().is_none_or(|c| c.leader.is_some()),
            Err(err) => {
                tracing::debug!(error = %err, "stream info unanswered, asking again");
                false
            }
        };
        if led {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(unavailable("the stream has no leader"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
        let stream_config = jetstream::stream::Config {
            name: config.stream_name.clone(),
            subjects: vec![format!("{}.>", config.subject_prefix)],
            storage: StorageType::File,
            num_replicas: config.replicas,
            allow_direct: true,
            ..Default::default()
        };
        // Creating a replicated stream on a cluster that has just started (or is busy)
        // can outlast one API request; the request is idempotent, so it is asked again
        // until the cluster answers or CONNECT_PATIENCE runs out.
        let deadline = tokio::time::Instant::now() + CONNECT_PATIENCE;
        let mut stream = loop {
            match js.get_or_create_stream(stream_config.clone()).await {
                Ok(stream) => break stream,
                Err(err)
                    if matches!(
                        err.kind(),
                        jetstream::context::CreateStreamErrorKind::TimedOut
                            | jetstream::context::CreateStreamErrorKind::JetStreamUnavailable
                    ) && tokio::time::Instant::now() < deadline =>
                {
                    tracing::warn!(error = %err, "creating the log's stream: retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(unavailable(err)),
            }
        };
        wait_for_leader(&mut stream).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                js,
                stream,
                config,
                seen: AtomicU64::new(0),
                last: last::SharedLast::default(),
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
        let mut stream = self
            .inner
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
        wait_for_leader(&mut stream).await?;
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
        // One STREAM.INFO request, answered by the stream's leader, and shared with
        // the callers that arrive while an earlier one is in flight (`last`).
        let inner = &self.inner;
        let last = inner
            .last
            .ask(|| async {
                let stream = inner
                    .js
                    .get_stream(&inner.config.stream_name)
                    .await
                    .map_err(unavailable)?;
                Ok(stream.cached_info().state.last_sequence)
            })
            .await?;
        inner.saw(last);
        Ok(last)
    }

    fn follow(&self, from: u64) -> BoxStream<'static, Result<StoredRecord, LogError>> {
        follow::follow(self.inner.clone(), from).boxed()
    }
}

#[cfg(test)]
mod tests {
    use async_nats::StatusCode;
    use async_nats::jetstream::kv::{CreateError, EntryError};
    use async_nats::jetstream::stream::{DirectGetError, DirectGetErrorKind};

    use super::is_unheard;

    /// The library's create reads the key after its publish is refused; when no replica
    /// answers that read either (a bucket just created in a cluster), the create failed
    /// for the same passing reason and is offered again.
    #[test]
    fn a_create_whose_read_no_replica_answered_was_unheard() {
        let unanswered = |status: StatusCode| {
            let get = DirectGetError::new(DirectGetErrorKind::ErrorResponse(
                status,
                "no responders".into(),
            ));
            CreateError::from(EntryError::from(get))
        };
        assert!(is_unheard(&unanswered(StatusCode::NO_RESPONDERS)));
        assert!(!is_unheard(&unanswered(StatusCode::TIMEOUT)));
        let missing = CreateError::from(EntryError::from(DirectGetError::new(
            DirectGetErrorKind::NotFound,
        )));
        assert!(!is_unheard(&missing));
    }
}
