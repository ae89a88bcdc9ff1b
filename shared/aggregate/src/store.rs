//! Loads aggregates from the log and executes commands against them: load, decide,
//! append with optimistic concurrency, retry on conflict against fresh state.

use std::sync::Arc;

use bytes::Bytes;
use portcullis_errors::{ApiError, ErrorCode};
use portcullis_eventlog::{EventLog, Expected, LogError, NewRecord, StreamId};
use portcullis_proto::events::v1::{Actor, Batch, Envelope};
use portcullis_types::Clock;
use prost::Message;

use crate::{Aggregate, Ctx, Event, event_type};

/// How often a command is re-decided after losing a race before giving up.
const MAX_ATTEMPTS: usize = 8;
/// First pause after a repeated conflict; doubled on each one after (at most about
/// a quarter of a second in all over [`MAX_ATTEMPTS`]).
const CONFLICT_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);
/// Base pause between retries of an append the log did not answer.
const UNAVAILABLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Who asked for a command and under which ids; recorded in every event envelope.
#[derive(Debug, Clone, Default)]
pub struct CommandMeta {
    /// Idempotency key: a retried command with the same id is appended once.
    pub command_id: String,
    pub actor: Actor,
    pub correlation_id: String,
}

impl CommandMeta {
    pub fn new(actor: Actor, correlation_id: &str) -> Self {
        Self {
            command_id: uuid::Uuid::now_v7().to_string(),
            actor,
            correlation_id: correlation_id.to_owned(),
        }
    }

    /// A further command caused by this one: same actor and correlation, its own id
    /// (reusing the id would make the store take it for a retry of the first).
    pub fn follow_up(&self) -> Self {
        Self::new(self.actor.clone(), &self.correlation_id)
    }
}

pub struct Loaded<A> {
    pub aggregate: A,
    /// The stream's last log position, for the next append's concurrency check.
    pub expected: Expected,
    /// Number of events in the stream.
    pub version: u64,
}

pub struct Executed<A> {
    pub aggregate: A,
    /// Log position of the appended record.
    pub position: u64,
}

#[derive(Clone)]
pub struct AggregateStore {
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
}

pub fn log_error(err: LogError) -> ApiError {
    tracing::error!(error = %err, "event log failure");
    match err {
        LogError::Unavailable(_) => ApiError::unavailable(),
        LogError::Conflict { .. } | LogError::Corrupt(_) => ApiError::internal(),
    }
}

impl AggregateStore {
    pub fn new(log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> Self {
        Self { log, clock }
    }

    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn stream<A: Aggregate>(scope: &str, id: &str) -> Result<StreamId, ApiError> {
        StreamId::new(scope, A::KIND, id)
            .map_err(|_| ApiError::invalid_parameter(format!("Invalid identifier: {id}")))
    }

    pub async fn load<A: Aggregate>(&self, stream: &StreamId) -> Result<Loaded<A>, ApiError> {
        Ok(self.load_noting::<A>(stream, "").await?.0)
    }

    /// Loads the stream and also returns the position of the record that `command_id`
    /// appended, if it is there.
    async fn load_noting<A: Aggregate>(
        &self,
        stream: &StreamId,
        command_id: &str,
    ) -> Result<(Loaded<A>, Option<u64>), ApiError> {
        let records = self.log.read_stream(stream).await.map_err(log_error)?;
        let mut aggregate = A::default();
        let mut version = 0;
        let mut applied = None;
        for record in &records {
            let batch = Batch::decode(record.data.as_ref()).map_err(|err| {
                tracing::error!(%stream, position = record.position, error = %err, "undecodable record");
                ApiError::internal()
            })?;
            if !command_id.is_empty() && batch.command_id == command_id {
                applied = Some(record.position);
            }
            for envelope in &batch.events {
                if let Some(event) = &envelope.payload {
                    aggregate.evolve(event, envelope.time_ms);
                }
                version = envelope.stream_version;
            }
        }
        let expected = records
            .last()
            .map_or(Expected::NoStream, |r| Expected::At(r.position));
        Ok((
            Loaded {
                aggregate,
                expected,
                version,
            },
            applied,
        ))
    }

    /// Decides `command` against the current state and appends the events; on a
    /// concurrent write, decides again against the new state.
    ///
    /// An append whose answer was lost (a failover between the write and its
    /// acknowledgement) is retried with the same command id, and each retry first looks
    /// for that command's record in the stream: a command is applied at most once and a
    /// lost acknowledgement is not mistaken for someone else's write.
    #[tracing::instrument(name = "command", skip_all, fields(%stream, command_id = %meta.command_id))]
    pub async fn execute<A: Aggregate>(
        &self,
        stream: &StreamId,
        command: &A::Command,
        meta: &CommandMeta,
    ) -> Result<Executed<A>, ApiError> {
        let mut last_error = None;
        for attempt in 1..=MAX_ATTEMPTS {
            let (loaded, applied) = self.load_noting::<A>(stream, &meta.command_id).await?;
            let Loaded {
                mut aggregate,
                expected,
                version,
            } = loaded;
            if let Some(position) = applied {
                return Ok(Executed {
                    aggregate,
                    position,
                });
            }
            let now_ms = self.clock.now_ms();
            let events = aggregate.decide(command, &Ctx { now_ms })?;
            if events.is_empty() {
                // Nothing to record: the command asked for the state the aggregate has.
                let position = match expected {
                    Expected::At(position) => position,
                    Expected::NoStream => 0,
                };
                return Ok(Executed {
                    aggregate,
                    position,
                });
            }
            let batch = self.batch(stream, version, now_ms, &events, meta);
            let record = NewRecord {
                command_id: meta.command_id.clone(),
                data: Bytes::from(batch.encode_to_vec()),
            };
            match self.log.append(stream, expected, record).await {
                Ok(position) => {
                    for event in &events {
                        aggregate.evolve(event, now_ms);
                    }
                    return Ok(Executed {
                        aggregate,
                        position,
                    });
                }
                Err(LogError::Conflict { .. }) => {
                    tracing::debug!(%stream, attempt, "concurrent write, deciding again");
                    // A competing write can refuse this one a moment before it can be
                    // read back (a replicated log applies it after the refusal): from
                    // the second conflict on, give it a growing moment.
                    if attempt > 1 {
                        tokio::time::sleep(CONFLICT_PAUSE * (1 << (attempt - 2))).await;
                    }
                }
                Err(LogError::Unavailable(reason)) => {
                    tracing::warn!(%stream, attempt, %reason, "append unanswered, retrying");
                    last_error = Some(LogError::Unavailable(reason));
                    tokio::time::sleep(UNAVAILABLE_PAUSE * attempt as u32).await;
                }
                Err(err) => return Err(log_error(err)),
            }
        }
        match last_error {
            Some(err) => Err(log_error(err)),
            None => {
                tracing::warn!(%stream, "gave up after {MAX_ATTEMPTS} concurrent writes");
                Err(ApiError::new(
                    ErrorCode::ConcurrentModificationException,
                    "Too many concurrent modifications, retry the request.",
                ))
            }
        }
    }

    /// Appends `event` as the first and only record of a new stream, under the event id
    /// `event_id` (a record that is not an aggregate's, such as an auth event).
    pub async fn append_new(
        &self,
        stream: &StreamId,
        event_id: &str,
        event: Event,
        meta: &CommandMeta,
    ) -> Result<u64, ApiError> {
        let mut batch = self.batch(stream, 0, self.clock.now_ms(), &[event], meta);
        if let Some(envelope) = batch.events.first_mut() {
            event_id.clone_into(&mut envelope.event_id);
        }
        let record = NewRecord {
            command_id: meta.command_id.clone(),
            data: Bytes::from(batch.encode_to_vec()),
        };
        self.log
            .append(stream, Expected::NoStream, record)
            .await
            .map_err(log_error)
    }

    fn batch(
        &self,
        stream: &StreamId,
        version: u64,
        now_ms: i64,
        events: &[Event],
        meta: &CommandMeta,
    ) -> Batch {
        let envelopes = events
            .iter()
            .zip(1u64..)
            .map(|(event, offset)| Envelope {
                event_id: uuid::Uuid::now_v7().to_string(),
                stream: stream.to_string(),
                stream_version: version + offset,
                event_type: event_type(event).to_owned(),
                schema_version: 1,
                time_ms: now_ms,
                actor: Some(meta.actor.clone()),
                correlation_id: meta.correlation_id.clone(),
                payload: Some(event.clone()),
            })
            .collect();
        Batch {
            command_id: meta.command_id.clone(),
            events: envelopes,
        }
    }
}
