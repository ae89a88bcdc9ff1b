//! A follower that never gives up: [`follow_resiliently`] wraps [`EventLog::follow`] and
//! starts it again from the last delivered position when it fails, ends, or stalls.
//!
//! A stall is what a JetStream consumer can do when the stream leader dies: no error,
//! no records. So while the follower is idle it asks the log for its last position now
//! and then, and restarts if the log has moved past what was delivered.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::{EventLog, StoredRecord};

/// How long a follower may be idle before it checks whether it is stalled.
const IDLE_CHECK: Duration = Duration::from_secs(2);
/// Pause before following again after a failure.
const RETRY: Duration = Duration::from_millis(500);

/// Every record with `position >= from`, in order, each exactly once, for ever.
pub fn follow_resiliently(log: Arc<dyn EventLog>, from: u64) -> BoxStream<'static, StoredRecord> {
    let state = (
        log,
        from,
        None::<BoxStream<'static, Result<StoredRecord, crate::LogError>>>,
    );
    futures::stream::unfold(state, |(log, mut next, mut inner)| async move {
        loop {
            let stream = inner.get_or_insert_with(|| log.follow(next));
            match tokio::time::timeout(IDLE_CHECK, stream.next()).await {
                Ok(Some(Ok(record))) if record.position >= next => {
                    next = record.position + 1;
                    return Some((record, (log, next, inner)));
                }
                Ok(Some(Ok(_))) => {} // already delivered before a restart
                Ok(Some(Err(err))) => {
                    tracing::warn!(error = %err, position = next, "log follower failed; following again");
                    inner = None;
                    tokio::time::sleep(RETRY).await;
                }
                Ok(None) => {
                    tracing::warn!(position = next, "log follower ended; following again");
                    inner = None;
                    tokio::time::sleep(RETRY).await;
                }
                Err(_idle) => {
                    if log.last_position().await.is_ok_and(|last| last >= next) {
                        tracing::warn!(position = next, "log follower stalled; following again");
                        inner = None;
                    }
                }
            }
        }
    })
    .boxed()
}
