//! Providers' published signing keys (JWKS), cached per URL: used for an hour, and
//! fetched again sooner only for a token naming a key the cache lacks, at most once per
//! pause (so a stream of tokens with made-up key ids cannot make the server hammer the
//! provider).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use portcullis_outbound::{Body, Fetcher};

/// How long published keys are used before they are fetched again.
const KEYS_TTL: Duration = Duration::from_secs(3_600);

/// Why no key set came.
#[derive(Debug)]
pub enum KeysError {
    /// The fetch failed or was refused.
    Unreachable,
    /// The answer was not a key set.
    Unreadable,
}

pub struct KeyCache {
    /// The least time between two fetches of one set for an unknown `kid`.
    refetch_pause: Duration,
    sets: Mutex<HashMap<String, (Instant, JwkSet)>>,
}

impl KeyCache {
    pub fn new(refetch_pause: Duration) -> Self {
        Self {
            refetch_pause,
            sets: Mutex::new(HashMap::new()),
        }
    }

    /// The key set at `url`, from the cache unless stale or missing `kid`.
    pub async fn get(&self, fetcher: &Fetcher, url: &str, kid: &str) -> Result<JwkSet, KeysError> {
        let cached = self
            .sets
            .lock()
            .ok()
            .and_then(|sets| sets.get(url).cloned());
        if let Some((fetched, set)) = &cached {
            let fresh = fetched.elapsed() < KEYS_TTL;
            let knows = set.find(kid).is_some();
            if (fresh && knows) || fetched.elapsed() < self.refetch_pause {
                return Ok(set.clone());
            }
        }
        let answer = fetcher
            .fetch(url, Body::Get, &[("accept", "application/json")])
            .await
            .map_err(|err| {
                tracing::info!(%url, error = %err, "provider keys unreachable");
                KeysError::Unreachable
            })?;
        if answer.status != 200 {
            return Err(KeysError::Unreachable);
        }
        let set: JwkSet =
            serde_json::from_slice(&answer.body).map_err(|_| KeysError::Unreadable)?;
        if let Ok(mut sets) = self.sets.lock() {
            sets.insert(url.to_owned(), (Instant::now(), set.clone()));
        }
        Ok(set)
    }
}
