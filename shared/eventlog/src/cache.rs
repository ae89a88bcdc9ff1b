//! A cache of state another service owns, kept true by following the log.
//!
//! A service that reads another's state on every request (an app client, a pool's
//! settings, a domain, the user an access token names) keeps what it read in a
//! [`LogCache`] instead. The cache follows the log: a record of one of the *scope*
//! kinds (a pool's configuration) drops every entry of its scope (the pool), and a
//! record of one of the *stream* kinds (a user) drops the entries read from that
//! stream. A lookup first learns the log's last
//! position and waits until the follower has applied it, so an entry never hides a
//! write acknowledged before the request began, on any replica: read-your-writes holds
//! as it does for the read models. A value loaded while a change to its scope was
//! being applied is answered but not kept.
//!
//! The cache starts empty and follows from the log's end, so starting costs nothing
//! and memory is bounded by [`CAPACITY`] entries. One cache holds values of any type
//! (a caller names its keys apart, `client/<id>`, `pool/<id>`), so a service follows
//! the log once.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use crate::projection::Applied;
use crate::resume::follow_resiliently;
use crate::{EventLog, LogError, StreamId};

/// Entries kept at most; the cache is emptied when it would hold more.
pub const CAPACITY: usize = 4096;
/// How long a lookup waits for the follower before it reads around the cache.
const CATCH_UP: Duration = Duration::from_secs(2);
/// Records the follower applies under one lock at most.
const CHUNK: usize = 256;

/// Values keyed by a string, each read from a scope of the log (and from one stream of
/// it, for [`LogCache::get_stream`]).
#[derive(Clone)]
pub struct LogCache {
    log: Arc<dyn EventLog>,
    applied: Applied,
    state: Arc<Mutex<State>>,
}

type Value = Arc<dyn Any + Send + Sync>;

struct State {
    entries: HashMap<String, Entry>,
    /// scope -> position of the last watched record applied in it
    changed: HashMap<String, u64>,
}

struct Entry {
    scope: String,
    /// The stream the value was read from, when a record of it alone changes it.
    stream: Option<String>,
    value: Value,
}

/// Which records change what a cache holds, by the kind of aggregate they belong to.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    /// A record of one of these drops every entry of its scope.
    pub scope_kinds: &'static [&'static str],
    /// A record of one of these drops the entries read from its stream.
    pub stream_kinds: &'static [&'static str],
}

impl LogCache {
    /// Starts following the log from its end.
    ///
    /// # Errors
    /// The log's end could not be read.
    pub async fn start(log: Arc<dyn EventLog>, watch: Watch) -> Result<Self, LogError> {
        let from = log.last_position().await?;
        let (tx, rx) = watch::channel(from);
        let state = Arc::new(Mutex::new(State {
            entries: HashMap::new(),
            changed: HashMap::new(),
        }));
        let follower = Arc::downgrade(&state);
        let mut records = follow_resiliently(log.clone(), from + 1).ready_chunks(CHUNK);
        tokio::spawn(async move {
            while let Some(chunk) = records.next().await {
                let Some(state) = follower.upgrade() else {
                    return; // every handle to the cache is gone
                };
                let last = chunk.last().map_or(0, |r| r.position);
                {
                    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                    for record in &chunk {
                        let (scope, kind) = (record.stream.scope(), record.stream.kind());
                        if watch.scope_kinds.contains(&kind) {
                            state.entries.retain(|_, e| e.scope != scope);
                        } else if watch.stream_kinds.contains(&kind) {
                            let stream = record.stream.to_string();
                            state
                                .entries
                                .retain(|_, e| e.stream.as_ref() != Some(&stream));
                        } else {
                            continue;
                        }
                        state.changed.insert(scope.to_owned(), record.position);
                    }
                }
                tx.send_replace(last);
            }
        });
        Ok(Self {
            log,
            applied: Applied::new(rx),
            state,
        })
    }

    /// The value under `key`, from the cache when it holds one that no acknowledged
    /// write has changed, else from `load`, which answers the value and the scope it
    /// was read from.
    ///
    /// # Errors
    /// `load`'s error; nothing is kept then.
    pub async fn get<V, E, F, Fut>(&self, key: &str, load: F) -> Result<V, E>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, V), E>>,
    {
        self.lookup(key, None, load).await
    }

    /// Like [`LogCache::get`] for a value read from one `stream`: a record of a stream
    /// kind on that stream drops it, as does a record of a scope kind in its scope.
    ///
    /// # Errors
    /// `load`'s error; nothing is kept then.
    pub async fn get_stream<V, E, F, Fut>(
        &self,
        key: &str,
        stream: &StreamId,
        load: F,
    ) -> Result<V, E>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let scope = stream.scope().to_owned();
        let load = || async { Ok((scope, load().await?)) };
        self.lookup(key, Some(stream.to_string()), load).await
    }

    async fn lookup<V, E, F, Fut>(&self, key: &str, stream: Option<String>, load: F) -> Result<V, E>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, V), E>>,
    {
        let Some(seen) = self.caught_up().await else {
            return load().await.map(|(_, value)| value);
        };
        if let Some(value) = self.held(key) {
            return Ok(value);
        }
        let (scope, value) = load().await?;
        self.keep(key, scope, stream, &value, seen);
        Ok(value)
    }

    /// [`LogCache::get_stream`] for the stream `<scope>/<kind>/<id>`, keyed
    /// `<what>/<scope>/<kind>/<id>`; when those are no stream id, `load` alone answers.
    ///
    /// # Errors
    /// `load`'s error; nothing is kept then.
    pub async fn get_of<V, E, F, Fut>(
        &self,
        what: &str,
        (scope, kind, id): (&str, &str, &str),
        load: F,
    ) -> Result<V, E>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        match StreamId::new(scope, kind, id) {
            Ok(stream) => {
                let key = format!("{what}/{stream}");
                self.get_stream(&key, &stream, load).await
            }
            Err(_) => load().await,
        }
    }

    fn held<V: Clone + 'static>(&self, key: &str) -> Option<V> {
        let held = self.lock().entries.get(key).map(|e| e.value.clone());
        held.as_deref().and_then(|v| v.downcast_ref::<V>()).cloned()
    }

    /// Keeps a value read after the follower applied `seen`, unless its scope changed
    /// since (the value may predate that change).
    fn keep<V: Clone + Send + Sync + 'static>(
        &self,
        key: &str,
        scope: String,
        stream: Option<String>,
        value: &V,
        seen: u64,
    ) {
        let mut state = self.lock();
        if state.changed.get(&scope).is_some_and(|&at| at > seen) {
            return;
        }
        if state.entries.len() >= CAPACITY {
            state.entries.clear();
        }
        let value: Value = Arc::new(value.clone());
        let entry = Entry {
            scope,
            stream,
            value,
        };
        state.entries.insert(key.to_owned(), entry);
    }

    /// Waits until the follower has applied everything the log holds now; answers the
    /// position applied, or `None` when the log cannot say or the follower is late.
    async fn caught_up(&self) -> Option<u64> {
        let last = match self.log.last_position().await {
            Ok(last) => last,
            Err(err) => {
                tracing::warn!(error = %err, "log end unknown; reading around the cache");
                return None;
            }
        };
        match self.applied.wait_for(last, CATCH_UP).await {
            Ok(()) => Some(self.applied.position()),
            Err(behind) => {
                tracing::warn!(%behind, "cache follower late; reading around it");
                None
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;

    use super::*;
    use crate::embedded::EmbeddedStore;
    use crate::{Expected, NewRecord};

    const CONFIG: Watch = Watch {
        scope_kinds: &["client", "pool"],
        stream_kinds: &["user"],
    };

    /// A log in a temporary directory, and a cache following it from `before` on (the
    /// records `before` appends are already in the log when the cache starts).
    async fn setup(before: &[(&StreamId, &str)]) -> (tempfile::TempDir, EmbeddedStore, LogCache) {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedStore::open(&dir.path().join("log.redb"))
            .await
            .unwrap();
        for (stream, value) in before {
            append(&log, stream, value).await;
        }
        let cache = LogCache::start(Arc::new(log.clone()), CONFIG)
            .await
            .unwrap();
        (dir, log, cache)
    }

    async fn append(log: &EmbeddedStore, stream: &StreamId, n: &str) {
        let current = log
            .read_stream(stream)
            .await
            .unwrap()
            .last()
            .map(|r| r.position);
        let expected = current.map_or(Expected::NoStream, Expected::At);
        let record = NewRecord {
            command_id: n.to_owned(),
            data: Bytes::from(n.to_owned()),
        };
        log.append(stream, expected, record).await.unwrap();
    }

    /// Loads the newest record of `stream` as the value, counting loads.
    async fn load(
        log: &EmbeddedStore,
        stream: &StreamId,
        loads: &AtomicUsize,
    ) -> Result<(String, String), LogError> {
        loads.fetch_add(1, Ordering::SeqCst);
        let records = log.read_stream(stream).await?;
        let last = records.last().map(|r| r.data.clone()).unwrap_or_default();
        Ok((
            stream.scope().to_owned(),
            String::from_utf8_lossy(&last).into_owned(),
        ))
    }

    #[tokio::test]
    async fn a_write_to_a_watched_kind_is_seen_by_the_next_lookup() {
        let client = StreamId::new("pool-a", "client", "c1").unwrap();
        let user = StreamId::new("pool-a", "user", "u1").unwrap();
        let (_dir, log, cache) = setup(&[(&client, "v1")]).await;
        let loads = AtomicUsize::new(0);

        for _ in 0..3 {
            let v = cache.get("c1", || load(&log, &client, &loads)).await;
            assert_eq!(v.unwrap(), "v1");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "held after the first load");

        // A user's record is not what the cache watches: the entry stays.
        append(&log, &user, "u-v1").await;
        let v = cache.get("c1", || load(&log, &client, &loads)).await;
        assert_eq!(v.unwrap(), "v1");
        assert_eq!(loads.load(Ordering::SeqCst), 1);

        // Every write acknowledged before a lookup is seen by it, without sleeping.
        for n in 2..50 {
            let value = format!("v{n}");
            append(&log, &client, &value).await;
            let v = cache.get("c1", || load(&log, &client, &loads)).await;
            assert_eq!(v.unwrap(), value);
        }
    }

    #[tokio::test]
    async fn a_change_in_another_scope_keeps_the_entry() {
        let a = StreamId::new("pool-a", "pool", "pool-a").unwrap();
        let b = StreamId::new("pool-b", "pool", "pool-b").unwrap();
        let (_dir, log, cache) = setup(&[(&a, "a1")]).await;
        let loads = AtomicUsize::new(0);
        cache.get("a", || load(&log, &a, &loads)).await.unwrap();
        append(&log, &b, "b1").await;
        let v = cache.get("a", || load(&log, &a, &loads)).await.unwrap();
        assert_eq!((v.as_str(), loads.load(Ordering::SeqCst)), ("a1", 1));
    }

    #[tokio::test]
    async fn a_value_loaded_across_a_change_is_answered_but_not_kept() {
        let client = StreamId::new("pool-a", "client", "c1").unwrap();
        let (_dir, log, cache) = setup(&[(&client, "v1")]).await;
        // The load reads v1, then a write lands and is applied before the load answers.
        let stale = cache
            .get("c1", || async {
                let read = load(&log, &client, &AtomicUsize::new(0)).await;
                append(&log, &client, "v2").await;
                let last = log.last_position().await.unwrap();
                cache.applied.wait_for(last, CATCH_UP).await.unwrap();
                read
            })
            .await
            .unwrap();
        assert_eq!(stale, "v1", "answered: it was true when the lookup began");
        assert!(cache.is_empty(), "not kept: a change landed since");
        let loads = AtomicUsize::new(0);
        let v = cache.get("c1", || load(&log, &client, &loads)).await;
        assert_eq!(
            (v.unwrap().as_str(), loads.load(Ordering::SeqCst)),
            ("v2", 1)
        );
    }

    #[tokio::test]
    async fn a_failed_load_is_not_kept() {
        let (_dir, _log, cache) = setup(&[]).await;
        let failed: Result<String, &str> = cache
            .get("c1", || async { Err::<(String, String), _>("gone") })
            .await;
        assert_eq!(failed, Err("gone"));
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn a_stream_entry_drops_with_its_stream_or_its_scope() {
        let u1 = StreamId::new("pool-a", "user", "u1").unwrap();
        let u2 = StreamId::new("pool-a", "user", "u2").unwrap();
        let pool = StreamId::new("pool-a", "pool", "pool-a").unwrap();
        let (_dir, log, cache) = setup(&[(&u1, "u1-v1")]).await;
        let loads = AtomicUsize::new(0);
        let read = |stream: &StreamId| {
            let stream = stream.clone();
            let (log, loads) = (&log, &loads);
            async move { load(log, &stream, loads).await.map(|(_, v)| v) }
        };
        let v = cache.get_stream("u1", &u1, || read(&u1)).await.unwrap();
        assert_eq!((v.as_str(), loads.load(Ordering::SeqCst)), ("u1-v1", 1));

        // Another user's record leaves it.
        append(&log, &u2, "u2-v1").await;
        let v = cache.get_stream("u1", &u1, || read(&u1)).await.unwrap();
        assert_eq!((v.as_str(), loads.load(Ordering::SeqCst)), ("u1-v1", 1));

        // Its own stream's record drops it.
        append(&log, &u1, "u1-v2").await;
        let v = cache.get_stream("u1", &u1, || read(&u1)).await.unwrap();
        assert_eq!((v.as_str(), loads.load(Ordering::SeqCst)), ("u1-v2", 2));

        // A record of its pool's configuration drops it too.
        append(&log, &pool, "deleted").await;
        cache.get_stream("u1", &u1, || read(&u1)).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }
}
