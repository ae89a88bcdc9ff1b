//! A function behind an HTTP endpoint: the event is `POST`ed as JSON and signed as
//! Standard Webhooks signs (`webhook-id`, `webhook-timestamp`, `webhook-signature:
//! v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed by the secret after its
//! `whsec_` prefix). The function answers 2xx with the event; any other status is a
//! failure, the function's own when the body is `{"errorMessage": ...}`.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{Failure, error_message, read_capped, transport_failure};

pub(crate) async fn invoke(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    arn: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let signature = sign(secret, &id, &timestamp, &body)
        .ok_or_else(|| Failure::Invocation("InvalidWebhookSecret".into()))?;
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp)
        .header("webhook-signature", signature)
        .header("portcullis-function-arn", arn)
        .body(body)
        .send()
        .await
        .map_err(|e| transport_failure(&e))?;
    let status = response.status();
    let answer = read_capped(response).await?;
    if status.is_success() {
        return Ok(answer);
    }
    match error_message(&answer) {
        Some(message) => Err(Failure::Function(message)),
        None => {
            tracing::warn!(%status, "a trigger's webhook answered an error");
            Err(Failure::Invocation(format!("HTTP{}", status.as_u16())))
        }
    }
}

/// `v1,<signature>`, or `None` when the secret is not `whsec_<base64>`.
pub(crate) fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut context = hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    Some(format!("v1,{}", STANDARD.encode(context.sign().as_ref())))
}

#[cfg(test)]
mod tests {
    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        let signature = super::sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(super::sign("no-prefix", "m", "1", b""), None);
    }
}
