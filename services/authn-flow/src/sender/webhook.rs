//! SMS handed to an HTTP webhook: `POST` of [`SmsPayload`] as JSON.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use super::{DeliveryError, Message, MessageSender, SmsPayload};

#[derive(Clone)]
pub struct WebhookSettings {
    /// `http://` or `https://` URL the payload is posted to.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub bearer_token: Option<String>,
    /// Bounds connecting, sending and reading the answer.
    pub timeout: Duration,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A message counts as delivered when the webhook answers 2xx; any other status, a
/// connection error or the timeout is a failure.
pub struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    bearer_token: Option<String>,
}

impl Webhook {
    pub fn new(settings: WebhookSettings) -> Result<Self, DeliveryError> {
        // The URL may hold a secret (a token in its query), so errors do not repeat it.
        let url = reqwest::Url::parse(&settings.url)
            .map_err(|e| DeliveryError(format!("invalid sms webhook url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeliveryError(
                "the sms webhook url must be http or https".into(),
            ));
        }
        // reqwest is built without a bundled crypto provider; use the ring provider
        // async-nats already brings. Failing means one is installed already: keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(failure)?;
        Ok(Self {
            client,
            url,
            bearer_token: settings.bearer_token,
        })
    }
}

#[async_trait]
impl MessageSender for Webhook {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .json(&SmsPayload::from(message));
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(failure)?;
        let status = response.status();
        if !status.is_success() {
            return Err(DeliveryError(format!("sms webhook answered {status}")));
        }
        Ok(())
    }
}

/// The error and its causes, without the URL (it may hold a secret in its query).
fn failure(err: reqwest::Error) -> DeliveryError {
    if err.is_timeout() {
        return DeliveryError("sms webhook timed out".into());
    }
    let err = err.without_url();
    let mut text = format!("sms webhook: {err}");
    let mut cause = std::error::Error::source(&err);
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    DeliveryError(text)
}
