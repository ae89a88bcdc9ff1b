//! One sender per medium, every delivery bounded in time.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{DeliveryError, Medium, Message, MessageSender};

/// Sends email through one sender and SMS through another (each may be the outbox).
pub struct Router {
    email: Arc<dyn MessageSender>,
    sms: Arc<dyn MessageSender>,
    timeout: Duration,
}

impl Router {
    /// `timeout` bounds each `send`, whatever the sender does inside: a stalled SMTP
    /// server or webhook fails the request instead of holding it.
    pub fn new(
        email: Arc<dyn MessageSender>,
        sms: Arc<dyn MessageSender>,
        timeout: Duration,
    ) -> Self {
        Self {
            email,
            sms,
            timeout,
        }
    }
}

#[async_trait]
impl MessageSender for Router {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let sender = match message.channel {
            Medium::Email => &self.email,
            Medium::Sms => &self.sms,
        };
        // A timed-out send may still complete on the far side; the caller reports a
        // failure, so the worst case is a message the user did not need, never a code
        // reported sent that was not.
        tokio::time::timeout(self.timeout, sender.send(message))
            .await
            .unwrap_or_else(|_| {
                Err(DeliveryError(format!(
                    "{} delivery timed out after {:?}",
                    message.channel.medium(),
                    self.timeout
                )))
            })
    }
}
