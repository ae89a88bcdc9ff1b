//! [`KeyValue`] on a JetStream key/value bucket.
//!
//! Keys are arbitrary UTF-8 but NATS keys are restricted, so every key is stored as
//! `k` + base64url (no padding) of its bytes: a one-to-one mapping into the allowed
//! alphabet, with the `k` keeping even the empty key valid.

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, Store, UpdateErrorKind};
use async_nats::jetstream::stream::StorageType;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;

use super::{Inner, is_wrong_last_sequence};
use crate::{Entry, KeyValue, KvError};

pub(super) struct JetStreamBucket {
    store: Store,
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
        if let Ok(store) = inner.js.get_key_value(&bucket).await {
            return Ok(Self { store });
        }
        let config = kv::Config {
            bucket: bucket.clone(),
            history: 1,
            storage: StorageType::File,
            num_replicas: inner.config.replicas,
            ..Default::default()
        };
        match inner.js.create_key_value(config).await {
            Ok(store) => Ok(Self { store }),
            // Another process may have created it in the meantime.
            Err(create_err) => match inner.js.get_key_value(&bucket).await {
                Ok(store) => Ok(Self { store }),
                Err(_) => Err(unavailable(create_err)),
            },
        }
    }

    /// The live entry, or `None` for an absent or deleted key.
    async fn live_entry(&self, key: &str) -> Result<Option<kv::Entry>, KvError> {
        let entry = self
            .store
            .entry(encode_key(key))
            .await
            .map_err(unavailable)?;
        Ok(entry.filter(|e| e.operation == Operation::Put))
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
        let entry = self.live_entry(key).await?;
        Ok(entry.map(|e| Entry {
            value: e.value,
            revision: e.revision,
        }))
    }

    /// The library's create is a compare-and-set against "no message" or against the
    /// delete marker it just read, so concurrent creators race on the server and
    /// exactly one wins.
    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.store
            .create(encode_key(key), value)
            .await
            .map_err(|err| {
                if err.kind() == CreateErrorKind::AlreadyExists || is_wrong_last_sequence(&err) {
                    KvError::Conflict
                } else {
                    unavailable(err)
                }
            })
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        self.store
            .update(encode_key(key), value, revision)
            .await
            .map_err(update_error)
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
}
