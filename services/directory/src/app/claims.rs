//! Unique names (user names, and emails or phone numbers when they are user names),
//! claimed in a create-if-absent store before the user's first event is appended.
//!
//! A claim records its owner (the user's sub) and when it was made. A process that
//! crashes between claiming and appending leaves a claim whose owner has no stream; such
//! a claim is *orphaned* once older than a grace period, and the next claimant takes it
//! over with a compare-and-set, so a crash never blocks a name forever.

use std::sync::Arc;

use bytes::Bytes;
use portcullis_errors::ApiError;
use portcullis_eventlog::{KeyValue, KvError, StreamId};
use serde::{Deserialize, Serialize};

use super::store::AggregateStore;
use crate::domain::pool::Pool;
use crate::domain::{Aggregate, user::User};

#[derive(Serialize, Deserialize)]
struct Claim {
    owner: String,
    at_ms: i64,
}

/// A claim this process holds, releasable until the append it guards succeeds.
#[derive(Debug)]
pub struct Held {
    key: String,
    revision: u64,
}

pub enum ClaimOutcome {
    Held(Held),
    /// Someone else owns the name.
    Taken,
}

/// What became of a claim on a name that is not a user's (a domain), whose owner's
/// hold the caller checks itself.
pub enum OwnedClaim {
    /// Created now: release it if the append it guards fails.
    Created(Held),
    /// `owner` held it already.
    Ours,
    /// Another owner holds it; `settled` once older than the grace period, so a crash
    /// part way cannot be mistaken for an owner still deciding.
    Other { owner: String, settled: bool },
}

#[derive(Clone)]
pub struct Claims {
    kv: Arc<dyn KeyValue>,
    store: AggregateStore,
    grace_ms: i64,
}

fn kv_error(err: KvError) -> ApiError {
    tracing::error!(error = %err, "claim store failure");
    match err {
        KvError::Unavailable(_) => ApiError::unavailable(),
        KvError::Conflict => ApiError::internal(),
    }
}

fn client_key(client_id: &str) -> String {
    format!("client/{client_id}")
}

/// The claim key of a name in a pool.
pub fn name_key(pool_id: &str, unique_name: &str) -> String {
    format!("{pool_id}/name/{unique_name}")
}

impl Claims {
    pub fn new(kv: Arc<dyn KeyValue>, store: AggregateStore, grace_ms: i64) -> Self {
        Self {
            kv,
            store,
            grace_ms,
        }
    }

    /// A new claim of `key` for `owner`, as stored.
    fn claim_value(&self, owner: &str) -> Result<Bytes, ApiError> {
        let claim = Claim {
            owner: owner.to_owned(),
            at_ms: self.store.now_ms(),
        };
        Ok(Bytes::from(
            serde_json::to_vec(&claim).map_err(|_| ApiError::internal())?,
        ))
    }

    /// Creates the claim if nobody holds `key`; otherwise reads the one there, with its
    /// revision. `None` when it was released between the two (try again).
    async fn create_or_read(
        &self,
        key: &str,
        value: &Bytes,
    ) -> Result<Option<Result<Held, (u64, Claim)>>, ApiError> {
        match self.kv.create(key, value.clone()).await {
            Ok(revision) => {
                return Ok(Some(Ok(Held {
                    key: key.to_owned(),
                    revision,
                })));
            }
            Err(KvError::Conflict) => {}
            // The answer was lost (the store's leader died, say), not necessarily the
            // write: what the key holds now tells, and a claim this very value made is
            // held rather than left to orphan.
            Err(KvError::Unavailable(reason)) => {
                tracing::warn!(%reason, "claim unanswered, reading it back");
                match self.kv.get(key).await {
                    Ok(Some(entry)) if entry.value == *value => {
                        return Ok(Some(Ok(Held {
                            key: key.to_owned(),
                            revision: entry.revision,
                        })));
                    }
                    Ok(Some(_) | None) | Err(_) => {
                        return Err(kv_error(KvError::Unavailable(reason)));
                    }
                }
            }
        }
        let Some(entry) = self.kv.get(key).await.map_err(kv_error)? else {
            return Ok(None);
        };
        let existing: Claim =
            serde_json::from_slice(&entry.value).map_err(|_| ApiError::internal())?;
        Ok(Some(Err((entry.revision, existing))))
    }

    pub async fn claim(
        &self,
        pool_id: &str,
        key: &str,
        owner: &str,
    ) -> Result<ClaimOutcome, ApiError> {
        let value = self.claim_value(owner)?;
        for _ in 0..4 {
            let (revision, existing) = match self.create_or_read(key, &value).await? {
                None => continue,
                Some(Ok(held)) => return Ok(ClaimOutcome::Held(held)),
                Some(Err(found)) => found,
            };
            if existing.owner == owner {
                return Ok(ClaimOutcome::Held(Held {
                    key: key.to_owned(),
                    revision,
                }));
            }
            if !self.is_orphan(pool_id, key, &existing).await? {
                return Ok(ClaimOutcome::Taken);
            }
            tracing::warn!(pool_id, "taking over an orphaned name claim");
            match self.kv.update(key, value.clone(), revision).await {
                Ok(revision) => {
                    return Ok(ClaimOutcome::Held(Held {
                        key: key.to_owned(),
                        revision,
                    }));
                }
                Err(KvError::Conflict) => {}
                Err(err) => return Err(kv_error(err)),
            }
        }
        Ok(ClaimOutcome::Taken)
    }

    async fn is_orphan(&self, pool_id: &str, key: &str, claim: &Claim) -> Result<bool, ApiError> {
        if self.store.now_ms() - claim.at_ms < self.grace_ms {
            return Ok(false);
        }
        let Ok(stream) = StreamId::new(pool_id, User::KIND, &claim.owner) else {
            return Ok(true);
        };
        // Orphaned when the owner never came to exist, no longer exists (a crash between
        // deleting a user and releasing their name), or no longer has the name (a crash
        // between changing it and releasing the old one).
        let owner = self.store.load::<User>(&stream).await?;
        let Some(owner) = owner.aggregate.state else {
            return Ok(true);
        };
        let pool_stream = AggregateStore::stream::<Pool>(pool_id, pool_id)?;
        let pool = self.store.load::<Pool>(&pool_stream).await?.aggregate;
        Ok(pool.state.is_some_and(|p| {
            !super::names::claimed_keys(&p.settings, &owner)
                .iter()
                .any(|k| k == key)
        }))
    }

    /// Claims `key` for `owner` if nobody holds it.
    pub async fn claim_owned(&self, key: &str, owner: &str) -> Result<OwnedClaim, ApiError> {
        let value = self.claim_value(owner)?;
        for _ in 0..4 {
            let existing = match self.create_or_read(key, &value).await? {
                None => continue,
                Some(Ok(held)) => return Ok(OwnedClaim::Created(held)),
                Some(Err((_, existing))) => existing,
            };
            if existing.owner == owner {
                return Ok(OwnedClaim::Ours);
            }
            return Ok(OwnedClaim::Other {
                settled: self.store.now_ms() - existing.at_ms >= self.grace_ms,
                owner: existing.owner,
            });
        }
        Err(ApiError::new(
            portcullis_errors::ErrorCode::ConcurrentModificationException,
            "The name is being changed concurrently, retry the request.",
        ))
    }

    /// Moves a claim to `owner` whoever holds it; returns the previous owner.
    pub async fn take_over(&self, key: &str, owner: &str) -> Result<Option<String>, ApiError> {
        let value = self.claim_value(owner)?;
        for _ in 0..4 {
            let Some(entry) = self.kv.get(key).await.map_err(kv_error)? else {
                match self.kv.create(key, value.clone()).await {
                    Ok(_) => return Ok(None),
                    Err(KvError::Conflict) => continue,
                    Err(err) => return Err(kv_error(err)),
                }
            };
            let previous: Claim =
                serde_json::from_slice(&entry.value).map_err(|_| ApiError::internal())?;
            match self.kv.update(key, value.clone(), entry.revision).await {
                Ok(_) => return Ok(Some(previous.owner).filter(|p| p != owner)),
                Err(KvError::Conflict) => {}
                Err(err) => return Err(kv_error(err)),
            }
        }
        Err(ApiError::new(
            portcullis_errors::ErrorCode::ConcurrentModificationException,
            "The name is being changed concurrently, retry the request.",
        ))
    }

    /// Releases `key` if `owner` still holds it (a deleted user's name); a claim someone
    /// else holds is left alone.
    pub async fn release_owned(&self, key: &str, owner: &str) -> Result<(), ApiError> {
        let Some(entry) = self.kv.get(key).await.map_err(kv_error)? else {
            return Ok(());
        };
        let claim: Claim =
            serde_json::from_slice(&entry.value).map_err(|_| ApiError::internal())?;
        if claim.owner != owner {
            return Ok(());
        }
        match self.kv.delete(key, entry.revision).await {
            Ok(()) | Err(KvError::Conflict) => Ok(()),
            Err(err) => Err(kv_error(err)),
        }
    }

    /// Gives a claim back after the append it guarded failed.
    pub async fn release(&self, held: Held) {
        if let Err(err) = self.kv.delete(&held.key, held.revision).await {
            // Not fatal: an unreleased claim without a stream is an orphan and is
            // reclaimed after the grace period.
            tracing::warn!(error = %err, "could not release a name claim");
        }
    }

    /// Records which pool an app client belongs to: client ids are unique across pools,
    /// and unauthenticated calls name only the client.
    pub async fn register_client(&self, client_id: &str, pool_id: &str) -> Result<bool, ApiError> {
        match self
            .kv
            .create(&client_key(client_id), Bytes::from(pool_id.to_owned()))
            .await
        {
            Ok(_) => Ok(true),
            Err(KvError::Conflict) => Ok(false),
            Err(err) => Err(kv_error(err)),
        }
    }

    /// Forgets a deleted app client's id, so unauthenticated calls no longer find it.
    pub async fn unregister_client(&self, client_id: &str) -> Result<(), ApiError> {
        let key = client_key(client_id);
        let Some(entry) = self.kv.get(&key).await.map_err(kv_error)? else {
            return Ok(());
        };
        match self.kv.delete(&key, entry.revision).await {
            Ok(()) | Err(KvError::Conflict) => Ok(()),
            Err(err) => Err(kv_error(err)),
        }
    }

    /// The pool of an app client, if the client was ever created.
    pub async fn client_pool(&self, client_id: &str) -> Result<Option<String>, ApiError> {
        let entry = self
            .kv
            .get(&client_key(client_id))
            .await
            .map_err(kv_error)?;
        Ok(entry.map(|e| String::from_utf8_lossy(&e.value).into_owned()))
    }

    /// The sub that owns a name, if any.
    pub async fn owner(&self, key: &str) -> Result<Option<String>, ApiError> {
        let Some(entry) = self.kv.get(key).await.map_err(kv_error)? else {
            return Ok(None);
        };
        let claim: Claim =
            serde_json::from_slice(&entry.value).map_err(|_| ApiError::internal())?;
        Ok(Some(claim.owner))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;
    use bytes::Bytes;
    use portcullis_eventlog::embedded::EmbeddedStore;
    use portcullis_eventlog::{Entry, KeyValue, KvError};
    use portcullis_types::SystemClock;

    use super::{AggregateStore, ClaimOutcome, Claims};

    /// A bucket whose first create is stored but answered with a failure, as when the
    /// store's leader dies before acknowledging.
    struct LostAck {
        inner: Arc<dyn KeyValue>,
        lost: AtomicBool,
    }

    #[async_trait]
    impl KeyValue for LostAck {
        async fn get(&self, key: &str) -> Result<Option<Entry>, KvError> {
            self.inner.get(key).await
        }
        async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
            let revision = self.inner.create(key, value).await?;
            if !self.lost.swap(true, Ordering::SeqCst) {
                return Err(KvError::Unavailable("acknowledgement lost".into()));
            }
            Ok(revision)
        }
        async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
            self.inner.update(key, value, revision).await
        }
        async fn delete(&self, key: &str, revision: u64) -> Result<(), KvError> {
            self.inner.delete(key, revision).await
        }
    }

    #[tokio::test]
    async fn a_claim_whose_acknowledgement_was_lost_is_held_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedStore::open(&dir.path().join("log.redb"))
            .await
            .unwrap();
        let kv = Arc::new(LostAck {
            inner: log.bucket("claims"),
            lost: AtomicBool::new(false),
        });
        let store = AggregateStore::new(Arc::new(log), Arc::new(SystemClock));
        let claims = Claims::new(kv, store, 30_000);
        let key = "us-east-1_abc/name/alice";
        let outcome = claims.claim("us-east-1_abc", key, "sub-1").await.unwrap();
        assert!(matches!(outcome, ClaimOutcome::Held(_)));
        // Someone else's claim on the name is still refused.
        let other = claims.claim("us-east-1_abc", key, "sub-2").await.unwrap();
        assert!(matches!(other, ClaimOutcome::Taken));
    }
}
