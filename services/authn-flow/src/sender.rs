//! Delivering codes and invitations. Pluggable: the embedded default writes every
//! message to a local outbox file (one JSON object per line) that a developer or a test
//! reads; [`smtp`] sends email, [`webhook`] and [`nats`] hand SMS to a gateway, and
//! [`router::Router`] picks one sender per medium and bounds every delivery in time.
//!
//! A sender returns `Ok` only once the message was acknowledged (written and fsynced,
//! accepted by the SMTP server, answered 2xx, stored by JetStream), so a code is never
//! reported sent when it was not. Errors never carry the message text or the code.

pub mod nats;
pub mod router;
pub mod smtp;
pub mod webhook;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Medium {
    Email,
    Sms,
}

impl Medium {
    /// Cognito's `DeliveryMedium`.
    pub fn medium(self) -> &'static str {
        match self {
            Medium::Email => "EMAIL",
            Medium::Sms => "SMS",
        }
    }
}

#[derive(Clone, Serialize)]
pub struct Message {
    pub channel: Medium,
    pub destination: String,
    pub pool_id: String,
    pub username: String,
    /// What the message is for, e.g. `SignUp` or `ResendCode`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
    /// The email subject, from the pool's templates; `None` means Cognito's default for
    /// the kind (see [`default_subject`]). Unused for SMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// Leaves out the code and the text (which contains it): a `{:?}` in a log line must
/// not leak a secret.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("pool_id", &self.pool_id)
            .field("username", &self.username)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Message {
    /// The subject an email carries.
    pub fn subject(&self) -> &str {
        self.subject
            .as_deref()
            .unwrap_or_else(|| default_subject(self.kind))
    }
}

/// Cognito's default email subjects: invitations carry the temporary password, every
/// other message a verification code.
pub fn default_subject(kind: &str) -> &'static str {
    match kind {
        "AdminCreateUser" => "Your temporary password",
        _ => "Your verification code",
    }
}

/// What an SMS gateway receives (webhook body, NATS payload): everything needed to send
/// the text, and the code on its own for gateways that format their own.
#[derive(Serialize)]
pub struct SmsPayload<'a> {
    pub destination: &'a str,
    pub message: &'a str,
    pub pool_id: &'a str,
    pub username: &'a str,
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
}

impl<'a> From<&'a Message> for SmsPayload<'a> {
    fn from(m: &'a Message) -> Self {
        Self {
            destination: &m.destination,
            message: &m.message,
            pool_id: &m.pool_id,
            username: &m.username,
            kind: m.kind,
            code: m.code.as_deref(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("message delivery failed: {0}")]
pub struct DeliveryError(pub String);

#[async_trait]
pub trait MessageSender: Send + Sync + 'static {
    /// Returns once the message is handed over durably.
    async fn send(&self, message: &Message) -> Result<(), DeliveryError>;
}

/// Appends each message to a JSON-lines file, fsynced before `send` returns.
pub struct Outbox {
    path: Arc<PathBuf>,
    /// One writer at a time, so lines never interleave.
    lock: tokio::sync::Mutex<()>,
}

impl Outbox {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path: Arc::new(path),
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl MessageSender for Outbox {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mut line = serde_json::to_vec(message).map_err(|e| DeliveryError(e.to_string()))?;
        line.push(b'\n');
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || append(&path, &line))
            .await
            .map_err(|e| DeliveryError(e.to_string()))?
            .map_err(|e| DeliveryError(e.to_string()))
    }
}

fn append(path: &std::path::Path, line: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        // The outbox holds codes: readable by its owner only.
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(line)?;
    file.sync_data()
}

/// How Cognito shows a destination in `CodeDeliveryDetails`: `a***@e***` for an email
/// address, `+*******0100` for a phone number.
pub fn mask(channel: Medium, destination: &str) -> String {
    match channel {
        Medium::Email => {
            let (local, domain) = destination.split_once('@').unwrap_or((destination, ""));
            let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
            format!("{}***@{}***", first(local), first(domain))
        }
        Medium::Sms => {
            let digits: Vec<char> = destination.chars().collect();
            let keep = digits.len().saturating_sub(4);
            let hidden: String = digits
                .iter()
                .skip(1)
                .take(keep.saturating_sub(1))
                .map(|_| '*')
                .collect();
            let tail: String = digits.iter().skip(keep).collect();
            format!("+{hidden}{tail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_masked_as_cognito_masks_them() {
        assert_eq!(mask(Medium::Email, "alice@example.com"), "a***@e***");
        assert_eq!(mask(Medium::Sms, "+14155550100"), "+*******0100");
    }

    #[tokio::test]
    async fn the_outbox_appends_one_json_line_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox.jsonl"));
        for code in ["111111", "222222"] {
            let message = Message {
                channel: Medium::Email,
                destination: "a@example.com".into(),
                pool_id: "us-east-1_x".into(),
                username: "a".into(),
                kind: "SignUp",
                code: Some(code.into()),
                message: format!("Your verification code is {code}. "),
                subject: None,
            };
            outbox.send(&message).await.unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join("outbox.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["code"], "222222");
        assert_eq!(lines[0]["channel"], "email");
        assert!(
            lines[0].get("subject").is_none(),
            "the outbox line format is unchanged"
        );
    }

    #[test]
    fn subjects_default_to_cognitos() {
        assert_eq!(default_subject("SignUp"), "Your verification code");
        assert_eq!(
            default_subject("AdminCreateUser"),
            "Your temporary password"
        );
    }
}
