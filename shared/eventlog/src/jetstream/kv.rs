//! [`KeyValue`] on a JetStream key/value bucket.
//!
//! Keys are arbitrary UTF-8 but NATS keys are restricted, so every key is stored as
//! `k` + base64url (no padding) of its bytes: a one-to-one mapping into the allowed
//! alphabet, with the `k` keeping even the empty key valid.
//!
//! Writes go through the client library's key/value API (compare-and-set on the
//! subject's last sequence, checked by the stream leader). Reads are direct gets that
//! carry `min_last_seq`, like the log's, so a handle reads its own writes even when a
//! lagging replica answers.

use std::sync::atomic::{AtomicU64, Ordering};

use async_nats::jetstream::kv::{self, CreateErrorKind, Store, UpdateErrorKind};
use async_nats::jetstream::stream::StorageType;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde::Serialize;

use super::direct::{self, STATUS_BEHIND, STATUS_NOT_FOUND};
use super::{Inner, is_wrong_last_sequence};
use crate::{Entry, KeyValue, KvError, LogError};

/// The header the key/value API puts on delete (`DEL`) and purge (`PURGE`) markers.
const KV_OPERATION: &str = "KV-Operation";

pub(super) struct JetStreamBucket {
    store: Store,
    client: async_nats::Client,
    /// The JetStream bucket name (with the configured prefix).
    bucket: String,
    /// The highest revision this handle has written or read.
    seen: AtomicU64,
}

#[derive(Serialize)]
struct LastRequest<'a> {
    last_by_subj: &'a str,
    #[serde(skip_serializing_if = "direct::is_zero")]
    min_last_seq: u64,
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
        let store = match inner.js.get_key_value(&bucket).await {
            Ok(store) => store,
            Err(_) => create_bucket(inner, &bucket).await?,
        };
        let client = inner.client.clone();
        Ok(Self {
            store,
            client,
            bucket,
            seen: AtomicU64::new(0),
        })
    }

    fn saw(&self, revision: u64) -> u64 {
        self.seen.fetch_max(revision, Ordering::Relaxed);
        revision
    }

    /// The live entry, or `None` for an absent or deleted key.
    async fn live_entry(&self, key: &str) -> Result<Option<Entry>, KvError> {
        let subject = format!("$KV.{}.{}", self.bucket, encode_key(key));
        direct::retry_while_behind(|| self.request_last(&subject))
            .await
            .map_err(unavailable)
    }

    /// `None` when the replica that answered is behind this handle's revisions.
    async fn request_last(&self, subject: &str) -> Result<Option<Option<Entry>>, LogError> {
        let min_last_seq = self.seen.load(Ordering::Relaxed);
        let request = LastRequest {
            last_by_subj: subject,
            min_last_seq,
        };
        let payload = serde_json::to_vec(&request).map_err(log_unavailable)?;
        let api = format!("$JS.API.DIRECT.GET.KV_{}", self.bucket);
        let message = match self.client.request(api, payload.into()).await {
            Ok(message) => message,
            // No replica answers direct gets yet (a bucket just created, a leader being
            // elected): like a replica that is behind, worth another try shortly.
            Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                return Ok(None);
            }
            Err(err) => return Err(log_unavailable(err)),
        };
        match message.status.map(|s| s.as_u16()) {
            Some(STATUS_NOT_FOUND) => Ok(Some(None)),
            Some(STATUS_BEHIND) => Ok(None),
            None | Some(200) => {
                let revision = direct::header_u64(&message, direct::SEQUENCE)
                    .ok_or_else(|| LogError::Corrupt("direct get without a sequence".into()))?;
                self.saw(revision);
                let live = direct::header(&message, KV_OPERATION).is_none();
                let value = message.payload;
                Ok(Some(live.then_some(Entry { value, revision })))
            }
            Some(code) => Err(log_unavailable(format!("direct get failed: {code}"))),
        }
    }
}

fn log_unavailable(err: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(err.to_string())
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
    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        let created = self.store.create(encode_key(key), value).await;
        created.map(|r| self.saw(r)).map_err(|err| {
            if err.kind() == CreateErrorKind::AlreadyExists || is_wrong_last_sequence(&err) {
                KvError::Conflict
            } else {
                unavailable(err)
            }
        })
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        let updated = self.store.update(encode_key(key), value, revision).await;
        updated.map(|r| self.saw(r)).map_err(update_error)
    }

    /// A delete marker is a message too, so without the liveness check a "delete" at
    /// the marker's revision would succeed on an already deleted key.
    async fn delete(&self, key: &str, revision: u64) -> Result<(), KvError> {
        if self.live_entry(key).await?.is_none() {
            return Err(KvError::Conflict);
        }
        self.store
            .delete_expect_revision(encode_key(key), Some(revision))
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
