//! The log's last position, asked of the stream's leader, with concurrent askers
//! sharing requests.
//!
//! An answer may serve an asker only if its request was sent after the asker arrived:
//! then it counts every write acknowledged before the asker began, which is what a
//! read-your-writes barrier needs. Requests go one at a time; askers that arrive while
//! one is in flight wait for it to end, and the first of them sends the next, whose
//! answer the others take. Under load, one `STREAM.INFO` serves every lookup that
//! arrived during the previous one, instead of one each.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::LogError;

#[derive(Default)]
pub(super) struct SharedLast {
    /// Requests sent so far.
    sent: AtomicU64,
    /// The newest answer, with the number its request was sent as.
    answered: Mutex<Option<(u64, u64)>>,
}

impl SharedLast {
    /// The last position, from a request sent after this call began: `request`'s own,
    /// or one a concurrent caller sent.
    pub(super) async fn ask<F, Fut>(&self, request: F) -> Result<u64, LogError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<u64, LogError>>,
    {
        let arrived = self.sent.load(Ordering::SeqCst);
        let mut answered = self.answered.lock().await;
        if let Some((number, last)) = *answered
            && number > arrived
        {
            return Ok(last);
        }
        let number = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let last = request().await?;
        *answered = Some((number, last));
        Ok(last)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Each request answers how many requests had been sent before it, plus one: a
    /// position that grows with every request. An asker that arrived after `k` requests
    /// were sent must get an answer above `k`.
    #[tokio::test]
    async fn concurrent_askers_share_requests_sent_after_they_arrived() {
        let shared = Arc::new(SharedLast::default());
        let requests = Arc::new(AtomicU64::new(0));
        let askers = (0..32).map(|_| {
            let (shared, requests) = (shared.clone(), requests.clone());
            async move {
                let before = requests.load(Ordering::SeqCst);
                let answer = shared
                    .ask(|| async {
                        let number = requests.fetch_add(1, Ordering::SeqCst) + 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        Ok(number)
                    })
                    .await
                    .unwrap();
                (before, answer)
            }
        });
        let answers = futures::future::join_all(askers).await;
        for (before, answer) in &answers {
            assert!(answer > before, "{answers:?}");
        }
        let sent = requests.load(Ordering::SeqCst);
        assert!(sent < 32, "{sent} requests for 32 askers");
    }

    #[tokio::test]
    async fn a_failed_request_is_not_shared() {
        let shared = SharedLast::default();
        let failed = shared
            .ask(|| async { Err(LogError::Unavailable("down".into())) })
            .await;
        assert!(failed.is_err());
        assert_eq!(shared.ask(|| async { Ok(7) }).await.unwrap(), 7);
    }
}
