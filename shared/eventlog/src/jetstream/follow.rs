//! `follow` on an ordered pull consumer over the whole log: the client library
//! recreates the consumer from the last delivered sequence when it detects a gap or a
//! lost heartbeat, so the stream has no holes and no duplicates.

use std::sync::Arc;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::{Stream, StreamExt, TryStreamExt};

use super::{Inner, unavailable};
use crate::{LogError, StoredRecord};

pub(super) fn follow(
    inner: Arc<Inner>,
    from: u64,
) -> impl Stream<Item = Result<StoredRecord, LogError>> + Send + 'static {
    let messages = {
        let inner = inner.clone();
        async move {
            let stream = inner
                .js
                .get_stream(&inner.config.stream_name)
                .await
                .map_err(unavailable)?;
            let consumer = stream
                .create_consumer(pull::OrderedConfig {
                    filter_subject: inner.all_subjects(),
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: from.max(1),
                    },
                    ..Default::default()
                })
                .await
                .map_err(unavailable)?;
            let messages = consumer.messages().await.map_err(unavailable)?;
            Ok::<_, LogError>(messages.map_err(unavailable))
        }
    };
    let start = from.max(1);
    let records = futures::stream::once(messages)
        .try_flatten()
        // The client recreates an ordered consumer from the last sequence it delivered;
        // when that happens before anything was delivered, it starts over at 1. Records
        // before the requested start are skipped, so the stream still begins there.
        .try_filter(move |message| {
            let before = message
                .info()
                .is_ok_and(|info| info.stream_sequence < start);
            futures::future::ready(!before)
        })
        .map(move |message| {
            let message = message?;
            let info = message.info().map_err(unavailable)?;
            let position = info.stream_sequence;
            let stream = inner.stream_id(message.subject.as_str())?;
            Ok(StoredRecord {
                position,
                stream,
                data: message.payload.clone(),
            })
        });
    end_after_error(records)
}

/// The trait promises that a follow stream ends only on an error; this makes it end
/// right after the first one instead of retrying forever behind the caller's back.
fn end_after_error<S>(stream: S) -> impl Stream<Item = Result<StoredRecord, LogError>>
where
    S: Stream<Item = Result<StoredRecord, LogError>>,
{
    stream.scan(false, |failed, item| {
        let out = if *failed { None } else { Some(item) };
        if matches!(out, Some(Err(_))) {
            *failed = true;
        }
        futures::future::ready(out)
    })
}
