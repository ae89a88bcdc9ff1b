//! Log records shaped like the directory's: one protobuf `Batch` per command, holding
//! the envelopes of a user's events, so the append and rebuild benchmarks write and fold
//! records of the size and content the service writes.

use bytes::Bytes;
use portcullis_eventlog::{NewRecord, StreamId};
use portcullis_proto::events::v1::envelope::Payload;
use portcullis_proto::events::v1::{
    Actor, Attribute, Batch, Envelope, UserAttributesUpdated, UserConfirmed, UserPoolCreated,
    UserPoolSettings, UserSignedUp, actor,
};
use prost::Message as _;

/// The pool every generated user belongs to (a valid pool id).
pub const POOL_ID: &str = "us-east-1_LoadTest1";

/// A sub that is unique per `(run, n)`, shaped like the directory's (a UUID).
#[must_use]
pub fn sub(run: u32, n: u64) -> String {
    format!("{run:08x}-0000-7000-8000-{n:012x}")
}

/// The stream of the user `sub` in [`POOL_ID`].
///
/// # Errors
/// When `sub` is not a valid stream id part.
pub fn user_stream(sub: &str) -> anyhow::Result<StreamId> {
    Ok(StreamId::new(POOL_ID, "user", sub)?)
}

/// The pool's stream and its creation record.
///
/// # Errors
/// When the pool id is not a valid stream id part.
pub fn pool_created(command_id: &str) -> anyhow::Result<(StreamId, NewRecord)> {
    let stream = StreamId::new(POOL_ID, "pool", POOL_ID)?;
    let payload = Payload::UserPoolCreated(UserPoolCreated {
        pool_id: POOL_ID.to_owned(),
        settings: Some(UserPoolSettings {
            pool_name: "loadtest".to_owned(),
            ..Default::default()
        }),
    });
    let record = record(&stream, 1, command_id, "UserPoolCreated", payload);
    Ok((stream, record))
}

/// The `step`-th change of user `sub` (from 0: signed up, confirmed, then attribute
/// updates), as the record of the command that made it; `step + 1` is the aggregate's
/// version after it.
#[must_use]
pub fn user_change(stream: &StreamId, sub: &str, step: u64, command_id: &str) -> NewRecord {
    let name = format!("user-{}", &sub[sub.len().saturating_sub(8)..]);
    let attribute = |name: &str, value: String| Attribute {
        name: name.to_owned(),
        value,
    };
    let (event_type, payload) = match step {
        0 => (
            "UserSignedUp",
            Payload::UserSignedUp(UserSignedUp {
                pool_id: POOL_ID.to_owned(),
                sub: sub.to_owned(),
                username: name.clone(),
                attributes: vec![
                    attribute("sub", sub.to_owned()),
                    attribute("email", format!("{name}@example.com")),
                    attribute("email_verified", "false".to_owned()),
                    attribute("given_name", format!("Given {name}")),
                ],
                status: "UNCONFIRMED".to_owned(),
                origin: "SIGN_UP".to_owned(),
            }),
        ),
        1 => (
            "UserConfirmed",
            Payload::UserConfirmed(UserConfirmed {
                method: "CODE".to_owned(),
                verified_attribute: "email".to_owned(),
            }),
        ),
        n => (
            "UserAttributesUpdated",
            Payload::UserAttributesUpdated(UserAttributesUpdated {
                attributes: vec![attribute("given_name", format!("Given {name} ({n})"))],
            }),
        ),
    };
    record(stream, step + 1, command_id, event_type, payload)
}

fn record(
    stream: &StreamId,
    version: u64,
    command_id: &str,
    event_type: &str,
    payload: Payload,
) -> NewRecord {
    let envelope = Envelope {
        event_id: format!("{command_id}-1"),
        stream: stream.to_string(),
        stream_version: version,
        event_type: event_type.to_owned(),
        schema_version: 1,
        time_ms: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
        actor: Some(Actor {
            kind: actor::Kind::User.into(),
            id: String::new(),
        }),
        correlation_id: command_id.to_owned(),
        payload: Some(payload),
    };
    let batch = Batch {
        command_id: command_id.to_owned(),
        events: vec![envelope],
    };
    NewRecord {
        command_id: command_id.to_owned(),
        data: Bytes::from(batch.encode_to_vec()),
    }
}

/// Events in a stored record (the envelopes of its batch); 0 for a record that is not
/// a batch.
#[must_use]
pub fn events_in(data: &[u8]) -> usize {
    Batch::decode(data).map_or(0, |batch| batch.events.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_changes_are_batches_of_one_event() {
        let sub = sub(7, 42);
        let stream = user_stream(&sub).unwrap();
        assert_eq!(stream.to_string(), format!("{POOL_ID}/user/{sub}"));
        for step in 0..4 {
            let record = user_change(&stream, &sub, step, &format!("c-{step}"));
            let batch = Batch::decode(record.data.as_ref()).unwrap();
            assert_eq!(batch.command_id, format!("c-{step}"));
            assert_eq!(batch.events.len(), 1);
            assert_eq!(batch.events[0].stream_version, step + 1);
            assert_eq!(events_in(&record.data), 1);
        }
        let first = user_change(&stream, &sub, 0, "c");
        let batch = Batch::decode(first.data.as_ref()).unwrap();
        assert_eq!(batch.events[0].event_type, "UserSignedUp");
        assert_eq!(events_in(b"\xff\xff"), 0);
    }
}
