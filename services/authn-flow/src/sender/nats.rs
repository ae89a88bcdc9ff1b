//! SMS published to a NATS subject as [`SmsPayload`] JSON.
//!
//! By default through JetStream: `send` waits for the publish acknowledgement, which a
//! stream gives only once it stored the message, so a gateway consuming that stream
//! loses nothing. Without a stream capturing the subject JetStream answers "no
//! responders" and delivery fails; that is deliberate — a core publish nobody listens to
//! would be reported sent and lost. Core NATS (`jetstream = false`) is available for
//! gateways that only subscribe: `send` then returns once the server received the
//! message (flushed), which says nothing about a subscriber having seen it.

use std::time::Duration;

use async_trait::async_trait;

use super::{DeliveryError, Message, MessageSender, SmsPayload};

#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// NATS server URL(s), comma separated.
    pub url: String,
    pub subject: String,
    /// Publish through JetStream and wait for the stream's acknowledgement.
    pub jetstream: bool,
    /// Bounds connecting and each publish.
    pub timeout: Duration,
}

pub struct NatsSms {
    client: async_nats::Client,
    jetstream: Option<async_nats::jetstream::Context>,
    subject: String,
}

impl NatsSms {
    /// Connects (the server must be up); warns when JetStream mode is chosen and no
    /// stream captures the subject yet, since every delivery would fail until one does.
    pub async fn connect(settings: NatsSettings) -> Result<Self, DeliveryError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(settings.timeout)
            .request_timeout(Some(settings.timeout))
            .name("portcullis-sms")
            .connect(settings.url.as_str())
            .await
            .map_err(|e| DeliveryError(format!("connecting to nats for sms: {e}")))?;
        let jetstream = settings.jetstream.then(|| {
            let mut context = async_nats::jetstream::new(client.clone());
            context.set_timeout(settings.timeout);
            context
        });
        if let Some(context) = &jetstream
            && context
                .stream_by_subject(settings.subject.as_str())
                .await
                .is_err()
        {
            tracing::warn!(
                subject = %settings.subject,
                "no jetstream stream captures the sms subject; sms delivery fails until one does"
            );
        }
        Ok(Self {
            client,
            jetstream,
            subject: settings.subject,
        })
    }
}

#[async_trait]
impl MessageSender for NatsSms {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let payload = serde_json::to_vec(&SmsPayload::from(message))
            .map_err(|e| DeliveryError(e.to_string()))?;
        let subject = self.subject.clone();
        match &self.jetstream {
            Some(context) => {
                context
                    .publish(subject, payload.into())
                    .await
                    .map_err(|e| DeliveryError(format!("nats sms publish: {e}")))?
                    .await
                    .map_err(|e| DeliveryError(format!("nats sms acknowledgement: {e}")))?;
            }
            None => {
                self.client
                    .publish(subject, payload.into())
                    .await
                    .map_err(|e| DeliveryError(format!("nats sms publish: {e}")))?;
                self.client
                    .flush()
                    .await
                    .map_err(|e| DeliveryError(format!("nats sms flush: {e}")))?;
            }
        }
        Ok(())
    }
}
