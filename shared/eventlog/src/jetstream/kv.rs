//! [`KeyValue`] on a JetStream key/value bucket.
//!
//! Keys are arbitrary UTF-8 but NATS keys are restricted, so every key is stored as
//! `k` + base64url (no padding) of its bytes: a one-to-one mapping into the allowed
//! alphabet, with the `k` keeping even the empty key valid.
//!
//! Writes go through the client library's key/value API (compare-and-set on the
//! subject's last sequence, checked by the stream leader). Reads ask the bucket's
//! leader too, so they see every write acknowledged before them: a claim read back
//! after a lost acknowledgement, or by another process, is never a stale replica's.

use async_nats::jetstream::kv::{self, CreateErrorKind, Store, UpdateErrorKind};
use async_nats::jetstream::stream::StorageType;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;

use super::{Inner, is_wrong_last_sequence, leader_last, settled, wait_for_leader};
use crate::{Entry, KeyValue, KvError};

/// How long a create waits for a competing write to become readable at the leader.
const SETTLE: Duration = Duration::from_secs(5);

/// The header the key/value API puts on delete (`DEL`) and purge (`PURGE`) markers.
const KV_OPERATION: &str = "KV-Operation";

pub(super) struct JetStreamBucket {
    store: Store,
    /// The JetStream bucket name (with the configured prefix).
    bucket: String,
}

fn unavailable(err: impl std::fmt::Display) -> KvError {
    KvError::Unavailable(err.to_string())
}

fn encode_key(key: &str) -> String {
    format!("k{}", URL_SAFE_NO_PAD.encode(key))
}

fn valid_bucket_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl JetStreamBucket {
    /// Gets the bucket, creating it (file storage, one revision kept, the log's
    /// replica count) if absent.
    pub(super) async fn open(inner: &Inner, name: &str) -> Result<Self, KvError> {
        if !valid_bucket_name(name) {
            return Err(unavailable(format!("invalid bucket name {name:?}")));
        }
        let bucket = format!("{}_{name}", inner.config.kv_prefix);
        let mut store = match inner.js.get_key_value(&bucket).await {
            Ok(store) => store,
            Err(_) => create_bucket(inner, &bucket).await?,
        };
        wait_for_leader(&mut store.stream)
            .await
            .map_err(unavailable)?;
        Ok(Self { store, bucket })
    }

    /// The live entry, or `None` for an absent or deleted key.
    async fn live_entry(&self, key: &str) -> Result<Option<Entry>, KvError> {
        let subject = format!("$KV.{}.{}", self.bucket, encode_key(key));
        let Some(message) = leader_last(&self.store.stream, &subject)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let revision = message.sequence;
        let live = message.headers.get(KV_OPERATION).is_none();
        Ok(live.then_some(Entry {
            value: message.payload,
            revision,
        }))
    }
}

async fn create_bucket(inner: &Inner, bucket: &str) -> Result<Store, KvError> {
    let config = kv::Config {
        bucket: bucket.to_owned(),
        history: 1,
        storage: StorageType::File,
        num_replicas: inner.config.replicas,
        ..Default::default()
    };
    match inner.js.create_key_value(config).await {
        Ok(store) => Ok(store),
        // Another process may have created it in the meantime.
        Err(create_err) => inner
            .js
            .get_key_value(bucket)
            .await
            .map_err(|_| unavailable(create_err)),
    }
}

fn update_error(err: kv::UpdateError) -> KvError {
    if err.kind() == UpdateErrorKind::WrongLastRevision || is_wrong_last_sequence(&err) {
        KvError::Conflict
    } else {
        unavailable(err)
    }
}

#[async_trait]
impl KeyValue for JetStreamBucket {
    async fn get(&self, key: &str) -> Result<Option<Entry>, KvError> {
        self.live_entry(key).await
    }

    /// The library's create is a compare-and-set against "no message" or against the
    /// delete marker it just read, so concurrent creators race on the server and
    /// exactly one wins.
    ///
    /// A refusal is reported as a conflict only once the leader shows a live value: a
    /// competing write can refuse this one before the leader has applied it (or a
    /// replica can have it before the leader), and a caller that reads back after a
    /// conflict must find what beat it.
    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        let encoded = encode_key(key);
        let deadline = tokio::time::Instant::now() + SETTLE;
        let mut pause = Duration::from_millis(2);
        loop {
            let created = settled(|| self.store.create(&encoded, value.clone())).await;
            match created {
                Ok(revision) => return Ok(revision),
                Err(err)
                    if err.kind() == CreateErrorKind::AlreadyExists
                        || is_wrong_last_sequence(&err) =>
                {
                    if self.live_entry(key).await?.is_some() {
                        return Err(KvError::Conflict);
                    }
                    if tokio::time::Instant::now() + pause > deadline {
                        return Err(unavailable("a competing write did not settle"));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                Err(err) => return Err(unavailable(err)),
            }
        }
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        let key = encode_key(key);
        let updated = settled(|| self.store.update(&key, value.clone(), revision)).await;
        updated.map_err(update_error)
    }

    /// A delete marker is a message too, so without the liveness check a "delete" at
    /// the marker's revision would succeed on an already deleted key.
    async fn delete(&self, key: &str, revision: u64) -> Result<(), KvError> {
        if self.live_entry(key).await?.is_none() {
            return Err(KvError::Conflict);
        }
        let key = encode_key(key);
        settled(|| self.store.delete_expect_revision(&key, Some(revision)))
            .await
            .map_err(update_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_keys_are_distinct_and_valid() {
        let keys = ["", "a", "a.b", "ünï/cødé ✓", "*", ">"];
        let encoded: Vec<String> = keys.iter().map(|k| encode_key(k)).collect();
        for e in &encoded {
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
        let unique: std::collections::HashSet<_> = encoded.iter().collect();
        assert_eq!(unique.len(), keys.len());
    }

    #[test]
    fn bucket_names_are_checked() {
        assert!(valid_bucket_name("claims_v1-a"));
        assert!(!valid_bucket_name(""));
        assert!(!valid_bucket_name("a.b"));
    }
}
