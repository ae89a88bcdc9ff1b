//! Publishing events for subscribers outside Portcullis (cluster only): each event of
//! the log is published to `portcullis.events.<pool>.<aggregate>.<type>` and captured by
//! the JetStream stream `PORTCULLIS_EVENTS`, on which anyone can open a durable
//! consumer. The embedded default needs none of this: its subscribers follow the log.

use async_trait::async_trait;
use bytes::Bytes;

use crate::LogError;

#[async_trait]
pub trait EventPublisher: Send + Sync + 'static {
    /// Publishes one event and waits until it is stored. `msg_id` (the event id) makes
    /// a republished event a no-op within the stream's duplicate window.
    async fn publish(&self, subject: &str, msg_id: &str, payload: Bytes) -> Result<(), LogError>;
}
