//! Appending with per-subject optimistic concurrency and `Nats-Msg-Id` dedupe.

use async_nats::HeaderMap;
use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Inner, is_wrong_last_sequence, leader_last, leader_next, settled, unavailable};
use crate::{Expected, LogError, NewRecord};

/// Marks a command id that had to be encoded to be a safe header value.
const ENCODED_ID: &str = "b64:";

pub(super) async fn append(
    inner: &Inner,
    subject: &str,
    expected: Expected,
    record: NewRecord,
) -> Result<u64, LogError> {
    let msg_id = message_id(&record.command_id);
    // Sequence 0 means "no message on this subject yet".
    let expected_seq = match expected {
        Expected::NoStream => 0,
        Expected::At(position) => position,
    };
    let mut headers = HeaderMap::new();
    headers.insert(NATS_MESSAGE_ID, msg_id.as_str());
    headers.insert(
        NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
        expected_seq.to_string(),
    );
    let published = settled(|| async {
        match inner
            .js
            .publish_with_headers(subject.to_owned(), headers.clone(), record.data.clone())
            .await
        {
            Ok(ack) => ack.await.map_err(Published::Refused),
            Err(err) => Err(Published::Unsent(unavailable(err))),
        }
    })
    .await;
    let published = match published {
        Err(Published::Unsent(err)) => return Err(err),
        Err(Published::Refused(err)) => Err(err),
        Ok(ack) => Ok(ack),
    };
    match published {
        // A duplicate's ack carries the sequence of the original message.
        Ok(ack) => {
            inner.saw(ack.sequence);
            Ok(ack.sequence)
        }
        Err(err) if is_conflict(&err) => {
            if let Some(position) = earlier_attempt(inner, subject, expected_seq, &msg_id).await? {
                inner.saw(position);
                return Ok(position);
            }
            let current = current_position(inner, subject, &err).await?;
            inner.saw(current.unwrap_or(0));
            Err(LogError::Conflict { current })
        }
        Err(err) => Err(unavailable(err)),
    }
}

/// A publish that failed before the server had it, or that the server refused.
#[derive(Debug, thiserror::Error)]
enum Published {
    #[error(transparent)]
    Unsent(LogError),
    /// Not transparent: the refusal itself is the first source, so the checks that walk
    /// the source chain see the publish error and then the server's code.
    #[error("{0}")]
    Refused(#[source] PublishError),
}

fn is_conflict(err: &PublishError) -> bool {
    err.kind() == PublishErrorKind::WrongLastSequence || is_wrong_last_sequence(err)
}

/// The position of this very command if an earlier attempt of it was stored.
///
/// The server checks the expected sequence before the message id, so a retry whose
/// first attempt succeeded comes back as a conflict. That first attempt carried the
/// same expected sequence, so if it landed it is exactly the subject's next message
/// after that sequence: one leader read settles it, with no dedupe window.
async fn earlier_attempt(
    inner: &Inner,
    subject: &str,
    expected_seq: u64,
    msg_id: &str,
) -> Result<Option<u64>, LogError> {
    let next = leader_next(&inner.stream, subject, expected_seq + 1).await?;
    Ok(next.and_then(|message| {
        let id = message.headers.get(NATS_MESSAGE_ID).map(|v| v.as_str());
        (id == Some(msg_id)).then_some(message.sequence)
    }))
}

/// The subject's last sequence, as the server reported it (`wrong last sequence: 5`),
/// else as the stream leader has it.
async fn current_position(
    inner: &Inner,
    subject: &str,
    err: &PublishError,
) -> Result<Option<u64>, LogError> {
    let reported = std::error::Error::source(err).and_then(|e| reported_sequence(&e.to_string()));
    if let Some(seq) = reported {
        return Ok((seq > 0).then_some(seq));
    }
    let last = leader_last(&inner.stream, subject).await?;
    Ok(last.map(|message| message.sequence))
}

/// Parses `wrong last sequence: 5 (code 400, error code 10071)`.
fn reported_sequence(text: &str) -> Option<u64> {
    let after = text.split("last sequence:").nth(1)?.trim_start();
    let digits = after.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// Command ids go into a header, so anything but visible ASCII (and the marker itself)
/// is encoded; the mapping is deterministic, so dedupe still works. An empty id is
/// encoded too, because the server ignores an empty `Nats-Msg-Id`.
fn message_id(command_id: &str) -> String {
    let plain = !command_id.is_empty()
        && !command_id.starts_with(ENCODED_ID)
        && command_id.bytes().all(|b| b.is_ascii_graphic());
    if plain {
        command_id.to_owned()
    } else {
        format!("{ENCODED_ID}{}", URL_SAFE_NO_PAD.encode(command_id))
    }
}

#[cfg(test)]
mod tests {
    use super::{message_id, reported_sequence};

    #[test]
    fn parses_the_reported_last_sequence() {
        let text = "wrong last sequence: 5 (code 400, error code 10071)";
        assert_eq!(reported_sequence(text), Some(5));
        assert_eq!(reported_sequence("wrong last sequence"), None);
    }

    #[test]
    fn header_safe_ids_pass_through_and_others_are_encoded() {
        assert_eq!(message_id("cmd-1"), "cmd-1");
        assert_eq!(message_id(""), "b64:");
        assert_ne!(message_id("a b"), "a b");
        assert_ne!(message_id("x\r\ny"), message_id("x\ny"));
        assert_ne!(message_id("b64:"), "b64:");
    }
}
