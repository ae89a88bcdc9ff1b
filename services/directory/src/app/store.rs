//! Loads aggregates from the log and executes commands against them: the shared
//! [`portcullis_aggregate`] store.

pub use portcullis_aggregate::{AggregateStore, CommandMeta, Executed, Loaded, log_error};

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use portcullis_eventlog::StoredRecord;
    use portcullis_eventlog::embedded::EmbeddedStore;
    use portcullis_proto::events::v1::UserPoolSettings;
    use portcullis_types::SystemClock;

    use std::sync::Arc;

    use portcullis_eventlog::{EventLog, Expected, LogError, NewRecord, StreamId};
    use portcullis_proto::events::v1::Actor;

    use super::*;
    use crate::domain::pool::{Pool, PoolCommand};

    /// A log whose first append is written but answered with a failure, as when the
    /// acknowledgement is lost in a failover.
    struct LostAck {
        inner: EmbeddedStore,
        lost: AtomicBool,
    }

    #[async_trait]
    impl EventLog for LostAck {
        async fn append(
            &self,
            stream: &StreamId,
            expected: Expected,
            record: NewRecord,
        ) -> Result<u64, LogError> {
            let position = self.inner.append(stream, expected, record).await?;
            if !self.lost.swap(true, Ordering::SeqCst) {
                return Err(LogError::Unavailable("acknowledgement lost".into()));
            }
            Ok(position)
        }
        async fn read_stream(&self, stream: &StreamId) -> Result<Vec<StoredRecord>, LogError> {
            self.inner.read_stream(stream).await
        }
        async fn read_from(&self, from: u64, max: usize) -> Result<Vec<StoredRecord>, LogError> {
            self.inner.read_from(from, max).await
        }
        async fn last_position(&self) -> Result<u64, LogError> {
            self.inner.last_position().await
        }
        fn follow(&self, from: u64) -> BoxStream<'static, Result<StoredRecord, LogError>> {
            self.inner.follow(from)
        }
    }

    #[tokio::test]
    async fn a_lost_acknowledgement_applies_the_command_once() {
        let dir = tempfile::tempdir().unwrap();
        let inner = EmbeddedStore::open(&dir.path().join("log.redb"))
            .await
            .unwrap();
        let log = Arc::new(LostAck {
            inner,
            lost: AtomicBool::new(false),
        });
        let store = AggregateStore::new(log.clone(), Arc::new(SystemClock));
        let stream = StreamId::new("us-east-1_abc", "pool", "us-east-1_abc").unwrap();
        let command = PoolCommand::Create {
            id: "us-east-1_abc".into(),
            settings: UserPoolSettings {
                pool_name: "p".into(),
                ..Default::default()
            },
        };
        let meta = CommandMeta::new(Actor::default(), "corr");
        let done = store
            .execute::<Pool>(&stream, &command, &meta)
            .await
            .unwrap();
        let records = log.read_stream(&stream).await.unwrap();
        assert_eq!(records.len(), 1, "the command was appended once");
        assert_eq!(done.position, records[0].position);
        assert!(done.aggregate.state.is_some());
    }
}
