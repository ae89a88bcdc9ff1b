//! Publishes every event of the log to `portcullis.events.<pool>.<aggregate>.<type>`
//! (cluster only), for subscribers outside Portcullis.
//!
//! Every directory replica runs a relay. They share one cursor (the last relayed log
//! position) in a key/value bucket, advanced by compare-and-set, so a replica skips what
//! another already relayed; an event published twice in a race carries the same message
//! id (its event id) and is stored once by the events stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use portcullis_eventlog::publish::EventPublisher;
use portcullis_eventlog::resume::follow_resiliently;
use portcullis_eventlog::{EventLog, KeyValue, KvError, StoredRecord};
use portcullis_proto::events::v1::Batch;
use prost::Message;

const CURSOR_KEY: &str = "events-relay";
const CHUNK: usize = 256;
/// Pause before retrying after the log, the store or NATS failed.
const RETRY: Duration = Duration::from_secs(1);

pub struct Relay {
    pub publisher: Arc<dyn EventPublisher>,
    /// Bucket holding the shared cursor.
    pub cursor: Arc<dyn KeyValue>,
}

pub fn start(log: Arc<dyn EventLog>, relay: Relay) {
    tokio::spawn(async move {
        loop {
            if let Err(err) = run(&log, &relay).await {
                tracing::warn!(error = %err, "event relay interrupted; retrying");
            }
            tokio::time::sleep(RETRY).await;
        }
    });
}

async fn cursor(relay: &Relay) -> Result<(u64, Option<u64>), String> {
    let entry = relay
        .cursor
        .get(CURSOR_KEY)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match entry {
        Some(e) => (
            String::from_utf8_lossy(&e.value).parse().unwrap_or(0),
            Some(e.revision),
        ),
        None => (0, None),
    })
}

async fn run(log: &Arc<dyn EventLog>, relay: &Relay) -> Result<(), String> {
    let (start, _) = cursor(relay).await?;
    let mut chunks = follow_resiliently(log.clone(), start + 1).ready_chunks(CHUNK);
    while let Some(records) = chunks.next().await {
        let (done, revision) = cursor(relay).await?;
        for record in records.iter().filter(|r| r.position > done) {
            publish(relay, record).await?;
        }
        let Some(last) = records.last().map(|r| r.position).filter(|p| *p > done) else {
            continue;
        };
        let value = Bytes::from(last.to_string());
        let moved = match revision {
            Some(revision) => relay.cursor.update(CURSOR_KEY, value, revision).await,
            None => relay.cursor.create(CURSOR_KEY, value).await,
        };
        match moved {
            Ok(_) | Err(KvError::Conflict) => {} // another replica moved it: fine
            Err(err) => return Err(err.to_string()),
        }
    }
    Ok(())
}

async fn publish(relay: &Relay, record: &StoredRecord) -> Result<(), String> {
    let batch =
        Batch::decode(record.data.as_ref()).map_err(|e| format!("undecodable record: {e}"))?;
    for envelope in batch.events {
        let subject = format!(
            "portcullis.events.{}.{}.{}",
            record.stream.scope(),
            record.stream.kind(),
            envelope.event_type
        );
        let id = envelope.event_id.clone();
        relay
            .publisher
            .publish(&subject, &id, Bytes::from(envelope.encode_to_vec()))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
