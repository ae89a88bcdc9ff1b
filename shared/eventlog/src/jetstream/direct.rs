//! Reads through batched direct gets (ADR-31, nats-server 2.11+): one request returns
//! up to a batch of messages matching a subject filter from a start sequence, followed
//! by an end-of-batch marker, without creating a consumer. That makes reading a short
//! aggregate stream one round trip.
//!
//! In a replicated stream any replica may answer a direct get, and one that is behind
//! answers from what it has. Requests carry `min_last_seq` (the highest position this
//! store has written or seen), but servers do not all refuse on it, so freshness is
//! checked here: a read knows where it must reach (a stream's last record, asked of
//! the stream leader; for the whole log, the highest position seen) and an answer that
//! stops short is asked again, usually of another replica.

use std::time::Duration;

use async_nats::Message;
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;

use super::{Inner, leader_last, unavailable};
use crate::{LogError, StoredRecord};

/// Messages asked for per request.
const BATCH: usize = 256;
/// How long to wait for each message of a batch.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts when replicas keep answering from behind, and the pauses between them
/// (growing, about ten seconds in all).
const BEHIND_ATTEMPTS: u32 = 30;
const BEHIND_PAUSE: Duration = Duration::from_millis(5);
const MAX_BEHIND_PAUSE: Duration = Duration::from_millis(500);

const STATUS_END_OF_BATCH: u16 = 204;
const STATUS_BEHIND: u16 = 412;
const STATUS_NOT_FOUND: u16 = 404;
const STATUS_NO_RESPONDERS: u16 = 503;
const NUM_PENDING: &str = "Nats-Num-Pending";
const SEQUENCE: &str = "Nats-Sequence";
const SUBJECT: &str = "Nats-Subject";

#[derive(Serialize)]
struct BatchRequest<'a> {
    seq: u64,
    next_by_subj: &'a str,
    batch: usize,
    #[serde(skip_serializing_if = "is_zero")]
    min_last_seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

struct Batch {
    records: Vec<StoredRecord>,
    /// The server reported more matching messages after this batch.
    more: bool,
}

/// Every record on `subject`, in order, through the last one the stream leader holds
/// when the read begins.
pub(super) async fn read_all(inner: &Inner, subject: &str) -> Result<Vec<StoredRecord>, LogError> {
    let Some(last) = leader_last(&inner.stream, subject).await? else {
        return Ok(Vec::new());
    };
    inner.saw(last.sequence);
    reaching(last.sequence, 0, || collect(inner, subject, 1, usize::MAX)).await
}

/// Up to `max` records of the whole log from position `from`, reaching at least the
/// highest position this store has written or seen.
pub(super) async fn read_range(
    inner: &Inner,
    from: u64,
    max: usize,
) -> Result<Vec<StoredRecord>, LogError> {
    let from = from.max(1);
    if max == 0 {
        return Ok(Vec::new());
    }
    // Log positions have no gaps (nothing is ever removed from the log's stream), so
    // the answer must run through `needed`.
    let needed = inner
        .seen()
        .min(from.saturating_add(u64::try_from(max - 1).unwrap_or(u64::MAX)));
    let filter = inner.all_subjects();
    reaching(needed, from - 1, || collect(inner, &filter, from, max)).await
}

/// Runs `read` until its last record is at `needed` or beyond (no records count as
/// `empty`), pausing a growing moment between tries: a replica that stops short is
/// behind, and the next try usually goes to another or finds it caught up.
async fn reaching<F, Fut>(
    needed: u64,
    empty: u64,
    mut read: F,
) -> Result<Vec<StoredRecord>, LogError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Vec<StoredRecord>, LogError>>,
{
    let mut pause = BEHIND_PAUSE;
    for _ in 0..BEHIND_ATTEMPTS {
        let records = read().await?;
        if records.last().map_or(empty, |r| r.position) >= needed {
            return Ok(records);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_BEHIND_PAUSE);
    }
    Err(unavailable("every replica answering direct gets is behind"))
}

async fn collect(
    inner: &Inner,
    filter: &str,
    mut seq: u64,
    max: usize,
) -> Result<Vec<StoredRecord>, LogError> {
    let mut out = Vec::new();
    while out.len() < max {
        let batch = get_batch(inner, filter, seq, BATCH.min(max - out.len())).await?;
        let Some(last) = batch.records.last() else {
            break;
        };
        seq = last.position + 1;
        out.extend(batch.records);
        if !batch.more {
            break;
        }
    }
    Ok(out)
}

/// One batch, retried while the answering replica is behind what this store has seen.
async fn get_batch(inner: &Inner, filter: &str, seq: u64, batch: usize) -> Result<Batch, LogError> {
    retry_while_behind(|| request_batch(inner, filter, seq, batch)).await
}

/// Repeats `request` (which yields `None` when the replica that answered was behind
/// `min_last_seq`) with a growing pause; the queue group usually routes the next try
/// to another replica, or the same one has caught up by then.
async fn retry_while_behind<T, F, Fut>(mut request: F) -> Result<T, LogError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, LogError>>,
{
    for attempt in 1..=BEHIND_ATTEMPTS {
        if let Some(answer) = request().await? {
            return Ok(answer);
        }
        tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
    }
    Err(unavailable("every replica answering direct gets is behind"))
}

/// `None` when the replica that answered is behind `min_last_seq`.
async fn request_batch(
    inner: &Inner,
    filter: &str,
    seq: u64,
    batch: usize,
) -> Result<Option<Batch>, LogError> {
    let request = BatchRequest {
        seq,
        next_by_subj: filter,
        batch,
        min_last_seq: inner.seen(),
    };
    let payload = Bytes::from(serde_json::to_vec(&request).map_err(unavailable)?);
    let inbox = inner.client.new_inbox();
    // Subscribe before publishing: the replies go to the inbox as soon as the server
    // has the request.
    let mut replies = inner
        .client
        .subscribe(inbox.clone())
        .await
        .map_err(unavailable)?;
    let api = format!("$JS.API.DIRECT.GET.{}", inner.config.stream_name);
    inner
        .client
        .publish_with_reply(api, inbox, payload)
        .await
        .map_err(unavailable)?;
    let mut records = Vec::new();
    loop {
        let message = tokio::time::timeout(TIMEOUT, replies.next())
            .await
            .map_err(|_| unavailable("direct get timed out"))?
            .ok_or_else(|| unavailable("direct get subscription closed"))?;
        match message.status.map(|s| s.as_u16()) {
            None | Some(200) => records.push(to_record(inner, &message)?),
            Some(STATUS_END_OF_BATCH) => {
                let more = header_u64(&message, NUM_PENDING).is_some_and(|n| n > 0);
                return Ok(Some(Batch { records, more }));
            }
            Some(STATUS_NOT_FOUND) => {
                let more = false;
                return Ok(Some(Batch { records, more }));
            }
            // 503 "no responders": no replica serves direct gets yet (a stream just
            // created, a leader change); asked again like a replica that is behind.
            Some(STATUS_BEHIND | STATUS_NO_RESPONDERS) => return Ok(None),
            Some(code) => {
                let reason = message.description.unwrap_or_default();
                return Err(unavailable(format!("direct get failed: {code} {reason}")));
            }
        }
    }
}

fn to_record(inner: &Inner, message: &Message) -> Result<StoredRecord, LogError> {
    let position = header_u64(message, SEQUENCE)
        .ok_or_else(|| LogError::Corrupt("direct get reply without a sequence".into()))?;
    let subject = header(message, SUBJECT)
        .ok_or_else(|| LogError::Corrupt("direct get reply without a subject".into()))?;
    Ok(StoredRecord {
        position,
        stream: inner.stream_id(subject)?,
        data: message.payload.clone(),
    })
}

fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message.headers.as_ref()?.get(name).map(|v| v.as_str())
}

fn header_u64(message: &Message, name: &str) -> Option<u64> {
    header(message, name)?.parse().ok()
}
