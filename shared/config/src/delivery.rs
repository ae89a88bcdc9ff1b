//! Where codes and invitations go: `[delivery]`, one transport per medium.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Where email goes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EmailDelivery {
    /// Appended to `<data_dir>/outbox.jsonl`.
    Outbox,
    /// Sent through the SMTP server of `[delivery.smtp]`.
    Smtp,
}

/// Where SMS goes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmsDelivery {
    /// Appended to `<data_dir>/outbox.jsonl`.
    Outbox,
    /// Posted as JSON to `[delivery.webhook]`.
    Webhook,
    /// Published as JSON to `[delivery.nats]`.
    Nats,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a local relay or a test server only).
    None,
    /// STARTTLS, required: a server that does not offer it is refused.
    Starttls,
    /// Implicit TLS (SMTPS).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// `outbox` (default) or `smtp`.
    pub email: EmailDelivery,
    /// `outbox` (default), `webhook` or `nats`.
    pub sms: SmsDelivery,
    /// Upper bound, in seconds, on delivering one message; past it the request answers
    /// `CodeDeliveryFailureException`.
    pub timeout_secs: u64,
    pub smtp: SmtpDelivery,
    pub webhook: WebhookDelivery,
    pub nats: NatsDelivery,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            email: EmailDelivery::Outbox,
            sms: SmsDelivery::Outbox,
            timeout_secs: 10,
            smtp: SmtpDelivery::default(),
            webhook: WebhookDelivery::default(),
            nats: NatsDelivery::default(),
        }
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpDelivery {
    /// SMTP server host name (also the name its TLS certificate must carry).
    pub host: Option<String>,
    /// Port; defaults to 25, 587 or 465 for `tls` = none, starttls, tls.
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    pub tls: SmtpTls,
    /// User name for SMTP AUTH; set together with `password`.
    pub username: Option<String>,
    /// Password for SMTP AUTH.
    pub password: Option<String>,
    /// `From` address, e.g. `Portcullis <no-reply@example.com>`.
    pub from: Option<String>,
}

impl Default for SmtpDelivery {
    fn default() -> Self {
        Self {
            host: None,
            port: None,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: None,
        }
    }
}

impl std::fmt::Debug for SmtpDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpDelivery")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookDelivery {
    /// URL SMS messages are posted to (`http://` or `https://`).
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub bearer_token: Option<String>,
}

impl std::fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NatsDelivery {
    /// NATS server URL(s); defaults to `nats_url`.
    pub url: Option<String>,
    /// Subject SMS messages are published to.
    pub subject: String,
    /// Publish through JetStream and wait for the stream's acknowledgement (default);
    /// `false` publishes on core NATS, where a message nobody receives is lost.
    pub jetstream: bool,
}

impl Default for NatsDelivery {
    fn default() -> Self {
        Self {
            url: None,
            subject: "portcullis.sms".into(),
            jetstream: true,
        }
    }
}

impl Delivery {
    pub(crate) fn validate(&self, nats_url: Option<&str>) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.into()));
        if !(1..=300).contains(&self.timeout_secs) {
            return invalid("delivery.timeout_secs must be between 1 and 300");
        }
        if self.email == EmailDelivery::Smtp {
            let smtp = &self.smtp;
            if smtp.host.as_deref().is_none_or(str::is_empty) {
                return invalid("delivery.email = smtp needs delivery.smtp.host");
            }
            if smtp.from.as_deref().is_none_or(str::is_empty) {
                return invalid("delivery.email = smtp needs delivery.smtp.from");
            }
            if smtp.username.is_some() && smtp.tls == SmtpTls::None {
                return invalid(
                    "delivery.smtp.username and password need delivery.smtp.tls = starttls or tls",
                );
            }
            if smtp.username.is_some() != smtp.password.is_some() {
                return invalid(
                    "set both delivery.smtp.username and delivery.smtp.password, or neither",
                );
            }
        }
        match self.sms {
            SmsDelivery::Outbox => {}
            SmsDelivery::Webhook => {
                let url = self.webhook.url.as_deref().unwrap_or_default();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return invalid("delivery.sms = webhook needs an http(s) delivery.webhook.url");
                }
            }
            SmsDelivery::Nats => {
                if self.nats.url.as_deref().or(nats_url).is_none() {
                    return invalid("delivery.sms = nats needs delivery.nats.url or nats_url");
                }
                if self.nats.subject.is_empty() {
                    return invalid("delivery.nats.subject must not be empty");
                }
            }
        }
        Ok(())
    }
}
