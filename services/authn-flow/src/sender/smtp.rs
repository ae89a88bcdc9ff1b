//! Email over SMTP (lettre), with STARTTLS or implicit TLS on rustls.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{DeliveryError, Message, MessageSender};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text; for a relay on the same host or a test server only.
    None,
    /// Upgrade with STARTTLS, refusing to go on if the server does not offer it.
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl SmtpTls {
    /// The port each mode conventionally listens on.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    /// `None` means the mode's conventional port.
    pub port: Option<u16>,
    pub tls: SmtpTls,
    /// User name and password, when the server wants them (sent only after TLS when a
    /// TLS mode is chosen).
    pub credentials: Option<(String, String)>,
    /// The `From` address, e.g. `Portcullis <no-reply@example.com>`.
    pub from: String,
    /// Bounds connecting and each SMTP command.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Sends each message in its own SMTP session; `send` returns once the server accepted
/// the message (`250` after `DATA`).
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// Checks the settings (the `From` address parses, TLS parameters build); connects
    /// only when a message is sent.
    pub fn new(settings: SmtpSettings) -> Result<Self, DeliveryError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| DeliveryError(format!("invalid smtp from address: {e}")))?;
        let tls = match settings.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(&settings.host)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&settings.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port.unwrap_or(settings.tls.default_port()))
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some((user, password)) = settings.credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, DeliveryError> {
    TlsParameters::new(host.to_owned())
        .map_err(|e| DeliveryError(format!("smtp tls parameters: {e}")))
}

#[async_trait]
impl MessageSender for Smtp {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let to: Mailbox = message
            .destination
            .parse()
            .map_err(|e| DeliveryError(format!("invalid email destination: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject())
            .header(ContentType::TEXT_PLAIN)
            .body(message.message.clone())
            .map_err(|e| DeliveryError(format!("building the email: {e}")))?;
        // lettre's errors name the SMTP step and the server's reply code, never the
        // message body.
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| DeliveryError(format!("smtp: {e}")))
    }
}
