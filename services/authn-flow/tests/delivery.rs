//! Each real sender against a real counterpart: aiosmtpd (testkit) for SMTP, a loopback HTTP
//! server for the webhook, nats-server for NATS. Success means the counterpart holds
//! the message; every failure is a `DeliveryError` that does not repeat the code.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use portcullis_authn_flow::sender::nats::{NatsSettings, NatsSms};
use portcullis_authn_flow::sender::router::Router;
use portcullis_authn_flow::sender::smtp::{Smtp, SmtpSettings, SmtpTls};
use portcullis_authn_flow::sender::webhook::{Webhook, WebhookSettings};
use portcullis_authn_flow::sender::{DeliveryError, Medium, Message, MessageSender, Outbox};
use portcullis_testkit::free_port;
use portcullis_testkit::nats::NatsServer;
use portcullis_testkit::smtp::SmtpServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const CODE: &str = "482913";
const TIMEOUT: Duration = Duration::from_secs(5);

fn message(channel: Medium, destination: &str, kind: &'static str) -> Message {
    Message {
        channel,
        destination: destination.into(),
        pool_id: "us-east-1_TeSt".into(),
        username: "kim".into(),
        kind,
        code: Some(CODE.into()),
        message: format!("Your verification code is {CODE}. "),
        subject: None,
    }
}

/// The error must say what failed without the secret it was carrying.
fn assert_no_secret(err: &DeliveryError) {
    assert!(!err.to_string().contains(CODE), "{err} repeats the code");
}

// --- SMTP ------------------------------------------------------------------------

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn smtp(port: u16, tls: SmtpTls) -> Smtp {
    Smtp::new(SmtpSettings {
        host: "127.0.0.1".into(),
        port: Some(port),
        tls,
        credentials: None,
        from: "Portcullis <no-reply@example.com>".into(),
        timeout: TIMEOUT,
    })
    .unwrap()
}

#[tokio::test]
async fn smtp_delivers_codes_and_invitations_with_cognitos_subjects() {
    let server = SmtpServer::start().await.unwrap();
    let sender = smtp(server.port, SmtpTls::None);
    sender
        .send(&message(Medium::Email, "kim@example.com", "SignUp"))
        .await
        .unwrap();
    let mut invitation = message(Medium::Email, "lee@example.com", "AdminCreateUser");
    invitation.message = "Your username is lee and temporary password is Tmp0rary!.".into();
    sender.send(&invitation).await.unwrap();
    let mut templated = message(Medium::Email, "kim@example.com", "ResendCode");
    templated.subject = Some("Welcome to Example".into());
    sender.send(&templated).await.unwrap();

    // Accepted (250 after DATA) means recorded: no waiting needed.
    let received = server.messages();
    assert_eq!(received.len(), 3, "{received:?}");
    let first = &received[0];
    assert_eq!(first.mail_from, "no-reply@example.com");
    assert_eq!(first.rcpt_tos, ["kim@example.com"]);
    let data = &first.data;
    assert!(
        data.contains("From: Portcullis <no-reply@example.com>"),
        "{data}"
    );
    assert!(data.contains("To: kim@example.com"), "{data}");
    assert!(data.contains("Subject: Your verification code"), "{data}");
    assert!(
        data.contains(&format!("Your verification code is {CODE}.")),
        "{data}"
    );
    let second = &received[1].data;
    assert_eq!(received[1].rcpt_tos, ["lee@example.com"]);
    assert!(
        second.contains("Subject: Your temporary password"),
        "{second}"
    );
    assert!(
        second.contains("temporary password is Tmp0rary!."),
        "{second}"
    );
    let third = &received[2].data;
    assert!(third.contains("Subject: Welcome to Example"), "{third}");
}

#[tokio::test]
async fn smtp_down_is_a_delivery_error_without_the_code() {
    let port = free_port(); // nothing listens here
    let err = smtp(port, SmtpTls::None)
        .send(&message(Medium::Email, "kim@example.com", "SignUp"))
        .await
        .unwrap_err();
    assert_no_secret(&err);
}

#[tokio::test]
async fn starttls_required_but_not_offered_sends_nothing() {
    let server = SmtpServer::start().await.unwrap();
    let err = smtp(server.port, SmtpTls::StartTls)
        .send(&message(Medium::Email, "kim@example.com", "SignUp"))
        .await
        .unwrap_err();
    assert_no_secret(&err);
    assert!(
        server.messages().is_empty(),
        "nothing goes out in plain text"
    );
}

#[tokio::test]
async fn an_invalid_email_destination_fails_without_contacting_the_server() {
    let err = smtp(free_port(), SmtpTls::None)
        .send(&message(Medium::Email, "not an address", "SignUp"))
        .await
        .unwrap_err();
    assert_no_secret(&err);
}

// --- webhook ---------------------------------------------------------------------

struct Request {
    head: String,
    body: serde_json::Value,
}

/// A loopback HTTP/1.1 server answering every request with `status`, or never
/// answering when `status` is `None`; each request it read goes to the channel.
async fn webhook_server(status: Option<u16>) -> (String, mpsc::UnboundedReceiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/sms?key=url-secret",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let Some(request) = read_request(&mut stream).await else {
                    return;
                };
                let _ = tx.send(request);
                let Some(status) = status else {
                    // Hold the connection open without answering.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                };
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, rx)
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head, body_start) = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break (
                String::from_utf8_lossy(&buffer[..end]).into_owned(),
                end + 4,
            );
        }
    };
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < body_start + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buffer[body_start..body_start + length]).ok()?;
    Some(Request { head, body })
}

fn webhook(url: String, timeout: Duration) -> Webhook {
    Webhook::new(WebhookSettings {
        url,
        bearer_token: Some("hook-token".into()),
        timeout,
    })
    .unwrap()
}

#[tokio::test]
async fn the_webhook_receives_the_sms_as_json_with_the_bearer_token() {
    let (url, mut requests) = webhook_server(Some(204)).await;
    webhook(url, TIMEOUT)
        .send(&message(Medium::Sms, "+14155550100", "SignUp"))
        .await
        .unwrap();
    let request = requests.recv().await.unwrap();
    assert!(
        request
            .head
            .starts_with("POST /sms?key=url-secret HTTP/1.1"),
        "{}",
        request.head
    );
    let head = request.head.to_ascii_lowercase();
    assert!(head.contains("authorization: bearer hook-token"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(
        request.body,
        serde_json::json!({
            "destination": "+14155550100",
            "message": format!("Your verification code is {CODE}. "),
            "pool_id": "us-east-1_TeSt",
            "username": "kim",
            "kind": "SignUp",
            "code": CODE,
        })
    );
}

#[tokio::test]
async fn a_webhook_error_status_is_a_delivery_error() {
    let (url, mut requests) = webhook_server(Some(500)).await;
    let err = webhook(url, TIMEOUT)
        .send(&message(Medium::Sms, "+14155550100", "SignUp"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    assert!(
        !err.to_string().contains("url-secret"),
        "{err} repeats the url"
    );
    assert_no_secret(&err);
    assert!(requests.recv().await.is_some());
}

#[tokio::test]
async fn a_silent_webhook_times_out() {
    let (url, _requests) = webhook_server(None).await;
    let started = tokio::time::Instant::now();
    let err = webhook(url, Duration::from_millis(300))
        .send(&message(Medium::Sms, "+14155550100", "SignUp"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        !err.to_string().contains("url-secret"),
        "{err} repeats the url"
    );
    assert_no_secret(&err);
}

#[tokio::test]
async fn a_webhook_nobody_listens_on_is_a_delivery_error() {
    let err = webhook(format!("http://127.0.0.1:{}/sms", free_port()), TIMEOUT)
        .send(&message(Medium::Sms, "+14155550100", "SignUp"))
        .await
        .unwrap_err();
    assert_no_secret(&err);
}

// --- NATS ------------------------------------------------------------------------

async fn nats_sms(url: &str, subject: &str, jetstream: bool) -> NatsSms {
    NatsSms::connect(NatsSettings {
        url: url.into(),
        subject: subject.into(),
        jetstream,
        timeout: TIMEOUT,
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn nats_sms_is_acknowledged_once_a_stream_stored_it() {
    let nats = NatsServer::start().await.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: "SMS".into(),
            subjects: vec!["sms.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    nats_sms(&nats.url, "sms.codes", true)
        .await
        .send(&message(Medium::Sms, "+14155550100", "ForgotPassword"))
        .await
        .unwrap();
    // Acknowledged means stored: the message is in the stream now.
    let stored = stream.get_raw_message(1).await.unwrap();
    assert_eq!(stored.subject.as_str(), "sms.codes");
    let body: serde_json::Value = serde_json::from_slice(&stored.payload).unwrap();
    assert_eq!(body["destination"], "+14155550100");
    assert_eq!(body["kind"], "ForgotPassword");
    assert_eq!(body["code"], CODE);
    assert_eq!(body["pool_id"], "us-east-1_TeSt");
}

#[tokio::test]
async fn nats_sms_without_a_stream_fails_instead_of_vanishing() {
    let nats = NatsServer::start().await.unwrap();
    let err = nats_sms(&nats.url, "sms.nobody", true)
        .await
        .send(&message(Medium::Sms, "+14155550100", "SignUp"))
        .await
        .unwrap_err();
    assert_no_secret(&err);
}

#[tokio::test]
async fn core_nats_sms_reaches_a_subscriber() {
    use futures::StreamExt as _;
    let nats = NatsServer::start().await.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let mut subscriber = client.subscribe("sms.core").await.unwrap();
    client.flush().await.unwrap();
    nats_sms(&nats.url, "sms.core", false)
        .await
        .send(&message(Medium::Sms, "+14155550100", "SignUp"))
        .await
        .unwrap();
    let received = tokio::time::timeout(TIMEOUT, subscriber.next())
        .await
        .unwrap()
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&received.payload).unwrap();
    assert_eq!(
        body["message"],
        format!("Your verification code is {CODE}. ")
    );
}

// --- routing ---------------------------------------------------------------------

#[tokio::test]
async fn the_router_sends_each_medium_its_own_way_and_bounds_it_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox.jsonl");
    let (url, _requests) = webhook_server(None).await;
    let router = Router::new(
        Arc::new(Outbox::new(outbox.clone())),
        // The webhook's own timeout is longer: the router's bound is what fires.
        Arc::new(webhook(url, Duration::from_secs(30))),
        Duration::from_millis(300),
    );
    router
        .send(&message(Medium::Email, "kim@example.com", "SignUp"))
        .await
        .unwrap();
    assert_eq!(read_lines(&outbox).len(), 1);

    let started = tokio::time::Instant::now();
    let err = router
        .send(&message(Medium::Sms, "+14155550100", "SignUp"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_no_secret(&err);
    assert_eq!(
        read_lines(&outbox).len(),
        1,
        "the sms did not fall back to the outbox"
    );
}
