//! A key/value bucket whose values are sealed at rest: AES-256-GCM under a key derived
//! from the master key for one purpose, with the entry's key as associated data, so a
//! copy of the store (a backup, a redb file another local user can read, a JetStream
//! snapshot) holds no usable client secret or TOTP seed, and a sealed value moved to
//! another key does not open.
//!
//! Values written by versions that stored them in plain text still read: a value
//! without the sealed prefix is returned as it is and sealed in place (compare-and-set
//! on its revision), so the first read after an upgrade upgrades it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::hmac;
use bytes::Bytes;

use crate::{Entry, KeyValue, KvError};

/// Marks a sealed value. No plain value the services ever stored starts with a NUL
/// (JSON, PHC strings, `[\w+]` client secrets), so the prefix cannot be mistaken.
const PREFIX: &[u8] = b"\0pcs1";
const TAG_LEN: usize = 16;

/// The key values of one purpose are sealed with.
pub struct SealingKey {
    key: RandomizedNonceKey,
}

/// The master key was not usable as key material.
#[derive(Debug, thiserror::Error)]
#[error("the sealing key could not be derived")]
pub struct SealingKeyError;

impl SealingKey {
    /// The key for `purpose`: an HMAC-SHA256 of the purpose under the master key, so a
    /// value sealed for one purpose never opens as another's.
    ///
    /// # Errors
    /// When the master key is empty or the cipher cannot be keyed.
    pub fn derive(master: &[u8], purpose: &str) -> Result<Self, SealingKeyError> {
        if master.is_empty() {
            return Err(SealingKeyError);
        }
        let mac = hmac::Key::new(hmac::HMAC_SHA256, master);
        let label = format!("portcullis sealing key: {purpose}");
        let derived = hmac::sign(&mac, label.as_bytes());
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, derived.as_ref()).map_err(|_| SealingKeyError)?;
        Ok(Self { key })
    }

    /// `PREFIX || nonce || ciphertext || tag`, bound to `aad`.
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KvError> {
        let mut body = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut body)
            .map_err(|_| KvError::Unavailable("sealing failed".into()))?;
        let mut sealed = Vec::with_capacity(PREFIX.len() + NONCE_LEN + body.len());
        sealed.extend_from_slice(PREFIX);
        sealed.extend_from_slice(nonce.as_ref());
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// The plaintext of a value [`SealingKey::seal`] produced with the same `aad`.
    fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let rest = sealed.strip_prefix(PREFIX)?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buffer)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// Wraps a bucket so every value is sealed with `key` before it is stored.
pub struct SealedBucket {
    inner: Arc<dyn KeyValue>,
    key: SealingKey,
}

impl SealedBucket {
    pub fn wrap(inner: Arc<dyn KeyValue>, key: SealingKey) -> Arc<dyn KeyValue> {
        Arc::new(Self { inner, key })
    }

    fn sealed(&self, key: &str, value: &[u8]) -> Result<Bytes, KvError> {
        Ok(Bytes::from(self.key.seal(value, key.as_bytes())?))
    }
}

/// How often a read retries sealing a plain value another writer keeps changing.
const UPGRADE_ATTEMPTS: usize = 3;

#[async_trait]
impl KeyValue for SealedBucket {
    async fn get(&self, key: &str) -> Result<Option<Entry>, KvError> {
        for _ in 0..UPGRADE_ATTEMPTS {
            let Some(entry) = self.inner.get(key).await? else {
                return Ok(None);
            };
            if entry.value.starts_with(PREFIX) {
                let plain = self.key.open(&entry.value, key.as_bytes()).ok_or_else(|| {
                    // Another master key, or an altered store: nothing to answer with.
                    tracing::error!("a sealed value could not be opened");
                    KvError::Unavailable("a sealed value could not be opened".into())
                })?;
                return Ok(Some(Entry {
                    value: Bytes::from(plain),
                    revision: entry.revision,
                }));
            }
            // Stored in plain text by an earlier version: seal it where it is.
            let sealed = self.sealed(key, &entry.value)?;
            match self.inner.update(key, sealed, entry.revision).await {
                Ok(revision) => {
                    tracing::info!("sealed a value an earlier version stored in plain text");
                    return Ok(Some(Entry {
                        value: entry.value,
                        revision,
                    }));
                }
                Err(KvError::Conflict) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, "could not seal a plain value; read as is");
                    return Ok(Some(entry));
                }
            }
        }
        Err(KvError::Conflict)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        let sealed = self.sealed(key, &value)?;
        self.inner.create(key, sealed).await
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        let sealed = self.sealed(key, &value)?;
        self.inner.update(key, sealed, revision).await
    }

    async fn delete(&self, key: &str, revision: u64) -> Result<(), KvError> {
        self.inner.delete(key, revision).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::EmbeddedStore;

    const MASTER: [u8; 32] = [7; 32];

    async fn buckets() -> (tempfile::TempDir, Arc<dyn KeyValue>, Arc<dyn KeyValue>) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("kv.redb"))
            .await
            .unwrap();
        let raw = store.bucket("secrets");
        let key = SealingKey::derive(&MASTER, "test").unwrap();
        let sealed = SealedBucket::wrap(raw.clone(), key);
        (dir, raw, sealed)
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[tokio::test]
    async fn values_are_stored_sealed_and_read_back_plain() {
        let (_dir, raw, sealed) = buckets().await;
        let secret = b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        let revision = sealed
            .create("pool/client", Bytes::from_static(secret))
            .await
            .unwrap();
        let stored = raw.get("pool/client").await.unwrap().unwrap();
        assert!(stored.value.starts_with(PREFIX));
        assert!(!contains(&stored.value, secret), "stored in plain text");
        let read = sealed.get("pool/client").await.unwrap().unwrap();
        assert_eq!((&read.value[..], read.revision), (&secret[..], revision));
        let next = sealed
            .update("pool/client", Bytes::from_static(b"second"), revision)
            .await
            .unwrap();
        let stored = raw.get("pool/client").await.unwrap().unwrap();
        assert!(!contains(&stored.value, b"second"));
        assert_eq!(
            sealed.get("pool/client").await.unwrap().unwrap().value,
            Bytes::from_static(b"second")
        );
        sealed.delete("pool/client", next).await.unwrap();
        assert!(sealed.get("pool/client").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_plain_value_of_an_earlier_version_reads_and_is_sealed_in_place() {
        let (_dir, raw, sealed) = buckets().await;
        raw.create("pool/client", Bytes::from_static(b"old-plain-secret"))
            .await
            .unwrap();
        let read = sealed.get("pool/client").await.unwrap().unwrap();
        assert_eq!(read.value, Bytes::from_static(b"old-plain-secret"));
        let stored = raw.get("pool/client").await.unwrap().unwrap();
        assert!(stored.value.starts_with(PREFIX), "not sealed on read");
        assert_eq!(
            stored.revision, read.revision,
            "the revision read is current"
        );
        // The caller's compare-and-set with the revision it read still succeeds.
        sealed
            .update("pool/client", Bytes::from_static(b"new"), read.revision)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_sealed_value_moved_to_another_key_or_altered_does_not_open() {
        let (_dir, raw, sealed) = buckets().await;
        sealed
            .create("pool/a", Bytes::from_static(b"secret-a"))
            .await
            .unwrap();
        let stored = raw.get("pool/a").await.unwrap().unwrap().value;
        raw.create("pool/b", stored.clone()).await.unwrap();
        assert!(sealed.get("pool/b").await.is_err());
        let mut altered = stored.to_vec();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        raw.create("pool/c", Bytes::from(altered)).await.unwrap();
        assert!(sealed.get("pool/c").await.is_err());
        let other = SealedBucket::wrap(raw, SealingKey::derive(&MASTER, "other").unwrap());
        assert!(
            other.get("pool/a").await.is_err(),
            "another purpose's key opened it"
        );
    }
}
