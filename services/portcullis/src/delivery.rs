//! Builds the message sender the configuration asks for: one per medium, each the
//! outbox unless `delivery.email` / `delivery.sms` name a real transport.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use portcullis_authn_flow::sender::nats::{NatsSettings, NatsSms};
use portcullis_authn_flow::sender::router::Router;
use portcullis_authn_flow::sender::smtp::{Smtp, SmtpSettings, SmtpTls};
use portcullis_authn_flow::sender::webhook::{Webhook, WebhookSettings};
use portcullis_authn_flow::sender::{MessageSender, Outbox};
use portcullis_config::{Config, EmailDelivery, SmsDelivery};

/// Called at start, before the service serves (in `up`, before any port is bound), so
/// a bad `From` address or an unreachable NATS server stops the start instead of
/// failing the first sign-up.
pub async fn sender(config: &Config) -> anyhow::Result<Arc<dyn MessageSender>> {
    let delivery = &config.delivery;
    let timeout = Duration::from_secs(delivery.timeout_secs);
    let outbox: Arc<dyn MessageSender> =
        Arc::new(Outbox::new(config.data_dir.join("outbox.jsonl")));
    let email: Arc<dyn MessageSender> = match delivery.email {
        EmailDelivery::Outbox => outbox.clone(),
        EmailDelivery::Smtp => {
            let smtp = &delivery.smtp;
            Arc::new(
                Smtp::new(SmtpSettings {
                    host: smtp.host.clone().unwrap_or_default(),
                    port: smtp.port,
                    tls: match smtp.tls {
                        portcullis_config::SmtpTls::None => SmtpTls::None,
                        portcullis_config::SmtpTls::Starttls => SmtpTls::StartTls,
                        portcullis_config::SmtpTls::Tls => SmtpTls::Tls,
                    },
                    credentials: smtp.username.clone().zip(smtp.password.clone()),
                    from: smtp.from.clone().unwrap_or_default(),
                    timeout,
                })
                .context("email delivery over smtp")?,
            )
        }
    };
    let sms: Arc<dyn MessageSender> = match delivery.sms {
        SmsDelivery::Outbox => outbox,
        SmsDelivery::Webhook => Arc::new(
            Webhook::new(WebhookSettings {
                url: delivery.webhook.url.clone().unwrap_or_default(),
                bearer_token: delivery.webhook.bearer_token.clone(),
                timeout,
            })
            .context("sms delivery to a webhook")?,
        ),
        SmsDelivery::Nats => {
            let url = delivery
                .nats
                .url
                .clone()
                .or_else(|| config.nats_url.clone())
                .unwrap_or_default();
            Arc::new(
                NatsSms::connect(NatsSettings {
                    url,
                    subject: delivery.nats.subject.clone(),
                    jetstream: delivery.nats.jetstream,
                    timeout,
                })
                .await
                .context("sms delivery over nats")?,
            )
        }
    };
    tracing::info!(email = ?delivery.email, sms = ?delivery.sms, "message delivery");
    Ok(Arc::new(Router::new(email, sms, timeout)))
}
