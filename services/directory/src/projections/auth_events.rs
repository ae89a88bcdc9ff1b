//! The auth-event history (`AdminListUserAuthEvents`): the records of each sign-in —
//! one per request, the first factor's and each challenge answer's, sharing the
//! sign-in's event id — folded into one event per sign-in, newest first per user.
//!
//! Records of one sign-in may reach the log out of order (each request records in the
//! background), so the fold is order-independent where it matters: challenge results
//! are kept sorted by their request's step, and the event's response is the one of the
//! highest step seen. An event is kept for [`RETENTION_MS`] after it started; older ones
//! are dropped when the user's next event is recorded, and never listed. A deleted user's
//! events go with them.

use portcullis_errors::ApiError;
use portcullis_proto::directory::v1 as pb;
use portcullis_proto::events::v1 as ev;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::db_error;

/// Events by `<pool>/<sub>/<newest-first time key>/<event id>`.
pub(super) const AUTH_EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("auth_events");
/// The key of each event in [`AUTH_EVENTS`], by `<pool>/<event id>`.
pub(super) const AUTH_EVENT_IDS: TableDefinition<&str, &str> =
    TableDefinition::new("auth_event_ids");

/// How long an event is kept: two years.
pub const RETENTION_MS: i64 = 2 * 365 * 86_400_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(super) struct Entry {
    event_id: String,
    sub: String,
    event_type: String,
    creation_ms: i64,
    client_id: String,
    response: String,
    response_step: u32,
    /// (step, name, success), sorted by step.
    challenges: Vec<(u32, String, bool)>,
    risk: Option<Risk>,
    context: Option<Context>,
    feedback: Option<Feedback>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    feedback_token_sha256: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Risk {
    decision: String,
    level: String,
    compromised: bool,
    reasons: Vec<String>,
    action: String,
    notified: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Context {
    ip_address: String,
    device_name: String,
    timezone: String,
    city: String,
    country: String,
    device_fingerprint: String,
    location: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Feedback {
    value: String,
    provider: String,
    at_ms: i64,
}

/// Newest first: the key sorts later the older the event.
fn time_key(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    format!("{:020}", u64::MAX - ms)
}

fn user_prefix(pool_id: &str, sub: &str) -> String {
    format!("{pool_id}/{sub}/")
}

fn id_key(pool_id: &str, event_id: &str) -> String {
    format!("{pool_id}/{event_id}")
}

impl Entry {
    fn fold(&mut self, record: &ev::UserAuthEventRecorded) {
        if self.sub.is_empty() {
            self.sub.clone_from(&record.sub);
        }
        if self.event_type.is_empty() {
            self.event_type.clone_from(&record.event_type);
        }
        if self.client_id.is_empty() {
            self.client_id.clone_from(&record.client_id);
        }
        let mut add = |name: &str, success: bool| {
            let at = self
                .challenges
                .partition_point(|(step, _, _)| *step <= record.step);
            self.challenges
                .insert(at, (record.step, name.to_owned(), success));
        };
        if !record.challenge_name.is_empty() {
            add(
                &record.challenge_name,
                record.challenge_response == "Success",
            );
        }
        for challenge in &record.challenges {
            add(&challenge.name, challenge.success);
        }
        if self.response.is_empty() || record.step >= self.response_step {
            self.response.clone_from(&record.event_response);
            self.response_step = record.step;
        }
        if let Some(risk) = &record.risk {
            self.risk = Some(Risk {
                decision: risk.decision.clone(),
                level: risk.level.clone(),
                compromised: risk.compromised_credentials_detected,
                reasons: risk.reasons.clone(),
                action: risk.action.clone(),
                notified: risk.notified,
            });
        }
        if let (None, Some(c)) = (&self.context, &record.context) {
            self.context = Some(Context {
                ip_address: c.ip_address.clone(),
                device_name: c.device_name.clone(),
                timezone: c.timezone.clone(),
                city: c.city.clone(),
                country: c.country.clone(),
                device_fingerprint: c.device_fingerprint.clone(),
                location: c.has_location.then_some((c.latitude, c.longitude)),
            });
        }
        if !record.feedback_token_sha256.is_empty() {
            self.feedback_token_sha256
                .clone_from(&record.feedback_token_sha256);
        }
    }

    fn to_proto(&self) -> pb::AuthEvent {
        let feedback = self.feedback.clone().unwrap_or_default();
        pb::AuthEvent {
            event_id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            creation_ms: self.creation_ms,
            event_response: self.response.clone(),
            risk: self.risk.as_ref().map(|r| ev::AuthEventRisk {
                decision: r.decision.clone(),
                level: r.level.clone(),
                compromised_credentials_detected: r.compromised,
                reasons: r.reasons.clone(),
                action: r.action.clone(),
                notified: r.notified,
            }),
            challenges: self
                .challenges
                .iter()
                .map(|(_, name, success)| ev::AuthEventChallenge {
                    name: name.clone(),
                    success: *success,
                })
                .collect(),
            context: self.context.as_ref().map(|c| ev::AuthEventContext {
                ip_address: c.ip_address.clone(),
                device_name: c.device_name.clone(),
                timezone: c.timezone.clone(),
                city: c.city.clone(),
                country: c.country.clone(),
                device_fingerprint: c.device_fingerprint.clone(),
                has_location: c.location.is_some(),
                latitude: c.location.map_or(0.0, |l| l.0),
                longitude: c.location.map_or(0.0, |l| l.1),
            }),
            feedback_value: feedback.value,
            feedback_provider: feedback.provider,
            feedback_ms: feedback.at_ms,
            client_id: self.client_id.clone(),
        }
    }
}

type Table<'t> = redb::Table<'t, &'static str, &'static [u8]>;
type Ids<'t> = redb::Table<'t, &'static str, &'static str>;

/// Folds one record into its event. `record_id` names the record's stream: the event of
/// a record written before sign-ins were grouped.
pub(super) fn record(
    txn: &WriteTransaction,
    pool_id: &str,
    record_id: &str,
    record: &ev::UserAuthEventRecorded,
    at_ms: i64,
) -> Result<(), redb::Error> {
    let mut events = txn.open_table(AUTH_EVENTS)?;
    let mut ids = txn.open_table(AUTH_EVENT_IDS)?;
    let event_id = if record.event_id.is_empty() {
        record_id
    } else {
        record.event_id.as_str()
    };
    let existing = ids
        .get(id_key(pool_id, event_id).as_str())?
        .map(|k| k.value().to_owned());
    let (key, mut entry) = match existing {
        Some(key) => {
            let entry = events
                .get(key.as_str())?
                .and_then(|v| serde_json::from_slice::<Entry>(v.value()).ok())
                .unwrap_or_default();
            (key, entry)
        }
        None => {
            if record.sub.is_empty() {
                return Ok(());
            }
            prune(&mut events, &mut ids, pool_id, &record.sub, at_ms)?;
            let created = if record.started_ms > 0 {
                record.started_ms
            } else {
                at_ms
            };
            let key = format!(
                "{}{}/{event_id}",
                user_prefix(pool_id, &record.sub),
                time_key(created)
            );
            ids.insert(id_key(pool_id, event_id).as_str(), key.as_str())?;
            let entry = Entry {
                event_id: event_id.to_owned(),
                creation_ms: created,
                ..Entry::default()
            };
            (key, entry)
        }
    };
    entry.fold(record);
    let bytes = serde_json::to_vec(&entry).unwrap_or_default();
    events.insert(key.as_str(), bytes.as_slice())?;
    Ok(())
}

/// Records feedback on an event; feedback on an event no longer kept is dropped.
pub(super) fn feedback(
    txn: &WriteTransaction,
    pool_id: &str,
    given: &ev::UserAuthEventFeedbackGiven,
    at_ms: i64,
) -> Result<(), redb::Error> {
    let mut events = txn.open_table(AUTH_EVENTS)?;
    let ids = txn.open_table(AUTH_EVENT_IDS)?;
    let Some(key) = ids
        .get(id_key(pool_id, &given.event_id).as_str())?
        .map(|k| k.value().to_owned())
    else {
        return Ok(());
    };
    let Some(mut entry) = events
        .get(key.as_str())?
        .and_then(|v| serde_json::from_slice::<Entry>(v.value()).ok())
    else {
        return Ok(());
    };
    entry.feedback = Some(Feedback {
        value: given.value.clone(),
        provider: given.provider.clone(),
        at_ms,
    });
    let bytes = serde_json::to_vec(&entry).unwrap_or_default();
    events.insert(key.as_str(), bytes.as_slice())?;
    Ok(())
}

/// Drops the user's events that started more than [`RETENTION_MS`] before `now_ms`.
fn prune(
    events: &mut Table<'_>,
    ids: &mut Ids<'_>,
    pool_id: &str,
    sub: &str,
    now_ms: i64,
) -> Result<(), redb::Error> {
    let prefix = user_prefix(pool_id, sub);
    let from = format!("{prefix}{}", time_key(now_ms - RETENTION_MS));
    let end = format!("{prefix}\u{10FFFF}");
    remove_range(events, ids, pool_id, &from, &end)
}

/// Removes every event of the user (their account was deleted).
pub(super) fn forget_user(
    txn: &WriteTransaction,
    pool_id: &str,
    sub: &str,
) -> Result<(), redb::Error> {
    let mut events = txn.open_table(AUTH_EVENTS)?;
    let mut ids = txn.open_table(AUTH_EVENT_IDS)?;
    let prefix = user_prefix(pool_id, sub);
    let end = format!("{prefix}\u{10FFFF}");
    remove_range(&mut events, &mut ids, pool_id, &prefix, &end)
}

/// Removes every event of the pool (it was deleted).
pub(super) fn forget_pool(txn: &WriteTransaction, pool_id: &str) -> Result<(), redb::Error> {
    let mut events = txn.open_table(AUTH_EVENTS)?;
    let mut ids = txn.open_table(AUTH_EVENT_IDS)?;
    let prefix = format!("{pool_id}/");
    let end = format!("{prefix}\u{10FFFF}");
    remove_range(&mut events, &mut ids, pool_id, &prefix, &end)
}

fn remove_range(
    events: &mut Table<'_>,
    ids: &mut Ids<'_>,
    pool_id: &str,
    from: &str,
    end: &str,
) -> Result<(), redb::Error> {
    let doomed: Vec<String> = events
        .range(from..end)?
        .map(|item| item.map(|(k, _)| k.value().to_owned()))
        .collect::<Result<_, _>>()?;
    for key in doomed {
        if let Some(event_id) = key.rsplit('/').next() {
            ids.remove(id_key(pool_id, event_id).as_str())?;
        }
        events.remove(key.as_str())?;
    }
    Ok(())
}

/// A page of the user's events, newest first, after `token` (the key suffix the last
/// page ended on); events older than the retention are not listed.
pub(super) fn page(
    db: &Database,
    pool_id: &str,
    sub: &str,
    limit: usize,
    token: Option<&str>,
    now_ms: i64,
) -> Result<(Vec<pb::AuthEvent>, Option<String>), ApiError> {
    let table = db
        .begin_read()
        .map_err(db_error)?
        .open_table(AUTH_EVENTS)
        .map_err(db_error)?;
    let prefix = user_prefix(pool_id, sub);
    let start = match token {
        Some(token) => format!("{prefix}{token}"),
        None => prefix.clone(),
    };
    let end = format!("{prefix}{}", time_key(now_ms - RETENTION_MS));
    let mut out = Vec::new();
    let mut next = None;
    for item in table
        .range(start.as_str()..end.as_str())
        .map_err(db_error)?
    {
        let (key, value) = item.map_err(db_error)?;
        if Some(key.value()) == Some(start.as_str()) && token.is_some() {
            continue;
        }
        if out.len() == limit {
            next = out
                .last()
                .map(|(k, _): &(String, pb::AuthEvent)| k.trim_start_matches(&prefix).to_owned());
            break;
        }
        let entry: Entry = serde_json::from_slice(value.value()).map_err(db_error)?;
        out.push((key.value().to_owned(), entry.to_proto()));
    }
    Ok((out.into_iter().map(|(_, e)| e).collect(), next))
}

/// One event of the user, with the hash of its feedback token.
pub(super) fn get(
    db: &Database,
    pool_id: &str,
    sub: &str,
    event_id: &str,
) -> Result<Option<(pb::AuthEvent, String)>, ApiError> {
    let txn = db.begin_read().map_err(db_error)?;
    let ids = txn.open_table(AUTH_EVENT_IDS).map_err(db_error)?;
    let Some(key) = ids
        .get(id_key(pool_id, event_id).as_str())
        .map_err(db_error)?
        .map(|k| k.value().to_owned())
    else {
        return Ok(None);
    };
    if !key.starts_with(&user_prefix(pool_id, sub)) {
        return Ok(None);
    }
    let events = txn.open_table(AUTH_EVENTS).map_err(db_error)?;
    let Some(entry) = events
        .get(key.as_str())
        .map_err(db_error)?
        .and_then(|v| serde_json::from_slice::<Entry>(v.value()).ok())
    else {
        return Ok(None);
    };
    Ok(Some((entry.to_proto(), entry.feedback_token_sha256)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: u32, response: &str, challenges: &[(&str, bool)]) -> ev::UserAuthEventRecorded {
        ev::UserAuthEventRecorded {
            sub: "sub-1".into(),
            event_type: "SignIn".into(),
            event_response: response.into(),
            event_id: "e1".into(),
            step,
            challenges: challenges
                .iter()
                .map(|(name, success)| ev::AuthEventChallenge {
                    name: (*name).into(),
                    success: *success,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn records_fold_into_one_event_whatever_their_order() {
        let first = step(0, "InProgress", &[("Password", true)]);
        let second = step(1, "Pass", &[("Mfa", false), ("Mfa", true)]);
        let mut in_order = Entry::default();
        in_order.fold(&first);
        in_order.fold(&second);
        let mut reversed = Entry::default();
        reversed.fold(&second);
        reversed.fold(&first);
        assert_eq!(in_order, reversed);
        assert_eq!(in_order.response, "Pass");
        let names: Vec<_> = in_order.challenges.iter().map(|c| c.1.as_str()).collect();
        assert_eq!(names, ["Password", "Mfa", "Mfa"]);
    }

    #[test]
    fn time_keys_sort_newest_first() {
        assert!(time_key(2_000) < time_key(1_000));
        assert_eq!(time_key(0).len(), time_key(i64::MAX).len());
    }
}
