//! The users read model: one row per user (the aggregate's state, folded with the
//! aggregate's own `evolve`) and an index of `(attribute, value, sub)` keys for the
//! attributes Cognito's `ListUsers` can filter on, plus group membership.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_errors::ApiError;
use portcullis_proto::events::v1::{Attribute, MfaOption};
use redb::{ReadableTable, Table, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::domain::user::{User, UserState, UserStatus};
use crate::domain::{Aggregate, Event};

pub(super) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
pub(super) const USER_INDEX: TableDefinition<&str, ()> = TableDefinition::new("user_index");

/// Separates the parts of a key; values cannot hold it unnoticed, since every match is
/// checked again against the row.
const SEP: char = '\u{1f}';

/// Attributes `ListUsers` filters on, and whether their values compare case-sensitively.
const FILTERABLE: &[(&str, bool)] = &[
    ("username", true),
    ("email", false),
    ("phone_number", false),
    ("name", false),
    ("given_name", false),
    ("family_name", false),
    ("preferred_username", false),
    ("cognito:user_status", false),
    ("status", true),
    ("sub", true),
];

/// The index attribute of group membership (not a Cognito filter).
pub const GROUP: &str = "group";

#[derive(Serialize, Deserialize)]
struct Row {
    pool_id: String,
    sub: String,
    username: String,
    attributes: Vec<(String, String)>,
    status: String,
    enabled: bool,
    created_ms: i64,
    modified_ms: i64,
    password_set_ms: i64,
    groups: Vec<String>,
    mfa_options: Vec<(String, String)>,
    #[serde(default)]
    pending: Vec<(String, String)>,
    #[serde(default)]
    signed_out_ms: i64,
    #[serde(default)]
    revoked_sessions: Vec<(String, i64)>,
    #[serde(default)]
    mfa_enabled: Vec<String>,
    #[serde(default)]
    preferred_mfa: String,
    #[serde(default)]
    software_token_verified: bool,
}

impl From<&UserState> for Row {
    fn from(s: &UserState) -> Self {
        Row {
            pool_id: s.pool_id.clone(),
            sub: s.sub.clone(),
            username: s.username.clone(),
            attributes: s
                .attributes
                .iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect(),
            status: s.status.as_str().to_owned(),
            enabled: s.enabled,
            created_ms: s.created_ms,
            modified_ms: s.modified_ms,
            password_set_ms: s.password_set_ms,
            groups: s.groups.clone(),
            mfa_options: s
                .mfa_options
                .iter()
                .map(|o| (o.delivery_medium.clone(), o.attribute_name.clone()))
                .collect(),
            pending: s
                .pending
                .iter()
                .map(|a| (a.name.clone(), a.value.clone()))
                .collect(),
            signed_out_ms: s.signed_out_ms,
            revoked_sessions: s.revoked_sessions.clone(),
            mfa_enabled: s.mfa_enabled.clone(),
            preferred_mfa: s.preferred_mfa.clone(),
            software_token_verified: s.software_token_verified,
        }
    }
}

impl From<Row> for UserState {
    fn from(r: Row) -> Self {
        UserState {
            pool_id: r.pool_id,
            sub: r.sub,
            username: r.username,
            attributes: r
                .attributes
                .into_iter()
                .map(|(name, value)| Attribute { name, value })
                .collect(),
            status: UserStatus::parse(&r.status).unwrap_or(UserStatus::Unconfirmed),
            enabled: r.enabled,
            created_ms: r.created_ms,
            modified_ms: r.modified_ms,
            password_set_ms: r.password_set_ms,
            groups: r.groups,
            mfa_options: r
                .mfa_options
                .into_iter()
                .map(|(delivery_medium, attribute_name)| MfaOption {
                    delivery_medium,
                    attribute_name,
                })
                .collect(),
            pending: r
                .pending
                .into_iter()
                .map(|(name, value)| Attribute { name, value })
                .collect(),
            signed_out_ms: r.signed_out_ms,
            revoked_sessions: r.revoked_sessions,
            // Devices are read from the user's stream, not from the read model.
            devices: Vec::new(),
            mfa_enabled: r.mfa_enabled,
            preferred_mfa: r.preferred_mfa,
            software_token_verified: r.software_token_verified,
        }
    }
}

fn case_sensitive(attribute: &str) -> bool {
    FILTERABLE
        .iter()
        .find(|(name, _)| *name == attribute)
        .is_none_or(|(_, sensitive)| *sensitive)
}

fn fold(attribute: &str, value: &str) -> String {
    if case_sensitive(attribute) {
        value.to_owned()
    } else {
        value.to_lowercase()
    }
}

/// The value of a filterable attribute for a user.
fn value_of<'a>(user: &'a UserState, attribute: &str) -> Option<&'a str> {
    match attribute {
        "username" => Some(&user.username),
        "sub" => Some(&user.sub),
        "cognito:user_status" => Some(user.status.as_str()),
        "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }),
        other => user.attribute(other),
    }
}

fn index_keys(user: &UserState) -> Vec<String> {
    let pool = &user.pool_id;
    let mut keys: Vec<String> = FILTERABLE
        .iter()
        .filter_map(|(attribute, _)| {
            let value = value_of(user, attribute)?;
            Some(format!(
                "{pool}{SEP}{attribute}{SEP}{}{SEP}{}",
                fold(attribute, value),
                user.sub
            ))
        })
        .collect();
    keys.extend(
        user.groups
            .iter()
            .map(|g| format!("{pool}{SEP}{GROUP}{SEP}{g}{SEP}{}", user.sub)),
    );
    keys
}

fn row_key(pool_id: &str, sub: &str) -> String {
    format!("{pool_id}{SEP}{sub}")
}

/// The users a chunk of records changes, folded in memory: each is read once, takes
/// every event of the chunk, and is written once with its index keys' change, however
/// many events it had. A rebuild, where a chunk holds hundreds of records, reads and
/// writes each user of the chunk once instead of once per event.
#[derive(Default)]
pub(super) struct Changed {
    /// By row key, in key order so the writes go through the tables in order.
    users: BTreeMap<String, Folded>,
}

struct Folded {
    pool_id: String,
    /// As the read model holds it before the chunk.
    before: Option<UserState>,
    now: Option<UserState>,
}

impl Changed {
    /// Folds one event of a user stream.
    pub(super) fn apply(
        &mut self,
        users: &Table<&str, &[u8]>,
        pool_id: &str,
        sub: &str,
        event: &Event,
        at_ms: i64,
    ) -> Result<(), redb::Error> {
        let folded = match self.users.entry(row_key(pool_id, sub)) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let before: Option<UserState> = users
                    .get(entry.key().as_str())?
                    .and_then(|row| serde_json::from_slice::<Row>(row.value()).ok())
                    .map(UserState::from);
                entry.insert(Folded {
                    pool_id: pool_id.to_owned(),
                    now: before.clone(),
                    before,
                })
            }
        };
        let mut user = User {
            state: folded.now.take(),
        };
        user.evolve(event, at_ms);
        folded.now = user.state;
        Ok(())
    }

    /// Writes every user folded since the last call: the row, the index keys that
    /// changed, and the pools' user counts.
    pub(super) fn write(
        &mut self,
        users: &mut Table<&str, &[u8]>,
        index: &mut Table<&str, ()>,
        counts: &mut Table<&str, u64>,
    ) -> Result<(), redb::Error> {
        let mut deltas: BTreeMap<String, i64> = BTreeMap::new();
        // Index keys gathered first, then removed and inserted in key order.
        let (mut stale, mut fresh) = (Vec::new(), Vec::new());
        for (key, folded) in std::mem::take(&mut self.users) {
            let old_keys = folded.before.as_ref().map(index_keys).unwrap_or_default();
            let new_keys = folded.now.as_ref().map(index_keys).unwrap_or_default();
            stale.extend(old_keys.iter().filter(|k| !new_keys.contains(k)).cloned());
            fresh.extend(new_keys.into_iter().filter(|k| !old_keys.contains(k)));
            match &folded.now {
                Some(state) => {
                    let bytes = serde_json::to_vec(&Row::from(state)).unwrap_or_default();
                    users.insert(key.as_str(), bytes.as_slice())?;
                }
                None => {
                    users.remove(key.as_str())?;
                }
            }
            let delta = match (folded.before.is_some(), folded.now.is_some()) {
                (false, true) => 1,
                (true, false) => -1,
                _ => 0,
            };
            if delta != 0 {
                *deltas.entry(folded.pool_id).or_default() += delta;
            }
        }
        // A key names its user, so one user's stale keys are never another's fresh ones.
        stale.sort_unstable();
        fresh.sort_unstable();
        for key in &stale {
            index.remove(key.as_str())?;
        }
        for key in &fresh {
            index.insert(key.as_str(), ())?;
        }
        for (pool_id, delta) in deltas {
            let count = counts.get(pool_id.as_str())?.map_or(0, |v| v.value());
            counts.insert(pool_id.as_str(), count.saturating_add_signed(delta))?;
        }
        Ok(())
    }
}

/// A parsed `ListUsers` filter: `attribute = "value"` or `attribute ^= "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFilter {
    attribute: String,
    value: String,
    prefix: bool,
}

fn invalid_filter() -> ApiError {
    ApiError::invalid_parameter("Error while parsing filter.")
}

impl UserFilter {
    /// All users, in user-name order.
    pub fn all() -> Self {
        Self {
            attribute: "username".into(),
            value: String::new(),
            prefix: true,
        }
    }

    /// Members of a group.
    pub fn group(name: &str) -> Self {
        Self {
            attribute: GROUP.into(),
            value: name.to_owned(),
            prefix: false,
        }
    }

    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::all());
        }
        let end = text
            .find(|c: char| c.is_whitespace() || c == '=' || c == '^')
            .ok_or_else(invalid_filter)?;
        let (attribute, rest) = text.split_at(end);
        let rest = rest.trim_start();
        let (prefix, rest) = if let Some(rest) = rest.strip_prefix("^=") {
            (true, rest)
        } else if let Some(rest) = rest.strip_prefix('=') {
            (false, rest)
        } else {
            return Err(invalid_filter());
        };
        let value = unquote(rest.trim()).ok_or_else(invalid_filter)?;
        if !FILTERABLE.iter().any(|(name, _)| *name == attribute) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid search attribute: {attribute}"
            )));
        }
        Ok(Self {
            value: fold(attribute, &value),
            attribute: attribute.to_owned(),
            prefix,
        })
    }

    fn matches(&self, user: &UserState) -> bool {
        if self.attribute == GROUP {
            return user.groups.contains(&self.value);
        }
        let Some(value) = value_of(user, &self.attribute) else {
            return false;
        };
        let value = fold(&self.attribute, value);
        if self.prefix {
            value.starts_with(&self.value)
        } else {
            value == self.value
        }
    }

    fn key_prefix(&self, pool_id: &str) -> String {
        let mut prefix = format!("{pool_id}{SEP}{}{SEP}{}", self.attribute, self.value);
        if !self.prefix {
            prefix.push(SEP);
        }
        prefix
    }
}

/// `"value"` with `\"` and `\\` escapes, nothing after the closing quote.
fn unquote(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.as_str().trim().is_empty().then_some(out),
            c => out.push(c),
        }
    }
    None
}

pub struct UserPage {
    pub users: Vec<UserState>,
    pub next: Option<String>,
}

fn bad_token() -> ApiError {
    ApiError::invalid_parameter("Invalid pagination token.")
}

/// Reads a page: index keys under the filter's prefix, after the token's key.
pub(super) fn page(
    db: &redb::Database,
    pool_id: &str,
    filter: &UserFilter,
    limit: usize,
    token: Option<String>,
) -> Result<UserPage, ApiError> {
    use redb::ReadableDatabase;
    let txn = db.begin_read().map_err(super::db_error)?;
    let index = txn.open_table(USER_INDEX).map_err(super::db_error)?;
    let users = txn.open_table(USERS).map_err(super::db_error)?;
    let prefix = filter.key_prefix(pool_id);
    let after = match token {
        Some(token) => {
            let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad_token())?;
            let key = String::from_utf8(bytes).map_err(|_| bad_token())?;
            let key = format!("{pool_id}{SEP}{key}");
            if !key.starts_with(&prefix) {
                return Err(bad_token());
            }
            Some(key)
        }
        None => None,
    };
    let start = after.clone().unwrap_or_else(|| prefix.clone());
    let mut out = Vec::new();
    let mut last_key = None;
    let mut more = false;
    for item in index.range(start.as_str()..).map_err(super::db_error)? {
        let (key, _) = item.map_err(super::db_error)?;
        let key = key.value();
        if !key.starts_with(&prefix) {
            break;
        }
        if after.as_deref() == Some(key) {
            continue;
        }
        if out.len() == limit {
            more = true;
            break;
        }
        let Some(sub) = key.rsplit(SEP).next() else {
            continue;
        };
        let Some(row) = users
            .get(row_key(pool_id, sub).as_str())
            .map_err(super::db_error)?
        else {
            continue;
        };
        let Ok(row) = serde_json::from_slice::<Row>(row.value()) else {
            continue;
        };
        let user = UserState::from(row);
        if filter.matches(&user) {
            out.push(user);
            last_key = Some(key.to_owned());
        }
    }
    let next = match (more, last_key) {
        (true, Some(key)) => {
            let suffix = key
                .strip_prefix(&format!("{pool_id}{SEP}"))
                .unwrap_or(&key)
                .to_owned();
            Some(URL_SAFE_NO_PAD.encode(suffix))
        }
        _ => None,
    };
    Ok(UserPage { users: out, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_cognito_writes_them() {
        let f = UserFilter::parse(r#"email ^= "Ali""#).unwrap();
        assert_eq!(
            f,
            UserFilter {
                attribute: "email".into(),
                value: "ali".into(),
                prefix: true
            }
        );
        let f = UserFilter::parse(r#"family_name = "O\"Brien""#).unwrap();
        assert_eq!(f.value, "o\"brien");
        assert!(!f.prefix);
        let f = UserFilter::parse(r#"username="Bob""#).unwrap();
        assert_eq!(f.value, "Bob");
        assert_eq!(UserFilter::parse("  ").unwrap(), UserFilter::all());
        assert!(UserFilter::parse(r#"custom:x = "1""#).is_err());
        assert!(UserFilter::parse(r#"email = nope"#).is_err());
        assert!(UserFilter::parse(r#"email ~ "x""#).is_err());
        assert!(UserFilter::parse(r#"email = "x" and"#).is_err());
    }
}
