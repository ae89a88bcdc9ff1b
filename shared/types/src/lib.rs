//! Domain newtypes, parsed once at the edge so the domain never sees a raw string.
//!
//! Each `parse` returns a [`ParseError`] whose message is the one Cognito gives for the
//! same mistake, so the edge can hand it to the client unchanged.

pub mod cidr;

use std::fmt;

/// Characters Cognito uses for the random part of pool ids.
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Characters of app client ids and secrets (lowercase and digits).
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The time source of the domain; injected so tests control it.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// The message AWS uses for a member that fails its model constraint.
pub fn constraint_error(member: &str, value: &str, constraint: &str) -> ParseError {
    ParseError(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

/// The model's length constraint (in characters) that `value` fails, if any.
pub fn length_constraint(value: &str, min: usize, max: usize) -> Option<String> {
    let len = value.chars().count();
    if len < min {
        Some(format!(
            "Member must have length greater than or equal to {min}"
        ))
    } else if len > max {
        Some(format!(
            "Member must have length less than or equal to {max}"
        ))
    } else {
        None
    }
}

fn pick(alphabet: &[u8], random: &[u8], len: usize) -> String {
    // Rejection-free mapping: the bias of `byte % 62` over 256 values is ~1.5%, which is
    // irrelevant for identifiers (they are not secrets).
    random
        .iter()
        .take(len)
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// An AWS region name such as `us-east-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);
string_newtype!(Region);

impl Region {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError(format!("Invalid region: {s}")))
        }
    }
}

/// A user pool id: `<region>_<alphanumerics>`, e.g. `us-east-1_AbC123xyZ`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolId(String);
string_newtype!(PoolId);

impl PoolId {
    /// Cognito's model: length 1-55, pattern `[\w-]+_[0-9a-zA-Z]+`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let valid = (1..=55).contains(&s.len())
            && s.rsplit_once('_').is_some_and(|(region, suffix)| {
                Region::parse(region).is_ok()
                    && !suffix.is_empty()
                    && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(constraint_error(
                "userPoolId",
                s,
                "Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+",
            ))
        }
    }

    /// A new id in `region`; `random` supplies at least 9 random bytes.
    pub fn generate(region: &Region, random: &[u8]) -> Self {
        Self(format!("{}_{}", region, pick(ALNUM, random, 9)))
    }

    pub fn region(&self) -> &str {
        self.0.rsplit_once('_').map_or("", |(r, _)| r)
    }
}

/// An app client id: 1-128 characters of `[\w+]`; generated ones are 26 lowercase
/// alphanumerics as Cognito's are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);
string_newtype!(ClientId);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let valid = (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'+');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(constraint_error(
                "clientId",
                s,
                "Member must satisfy regular expression pattern: [\\w+]+",
            ))
        }
    }

    pub fn generate(random: &[u8]) -> Self {
        Self(pick(LOWER_ALNUM, random, 26))
    }
}

/// Cuts a page that was read one item longer than `limit` back to `limit` items; the
/// token of the next page is the key of the last item kept, when more followed.
pub fn cut_page<T>(items: &mut Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Option<String> {
    if items.len() <= limit {
        return None;
    }
    items.truncate(limit);
    items.last().map(key)
}

/// A client secret: 51 lowercase alphanumerics, as Cognito generates them.
pub fn generate_client_secret(random: &[u8]) -> String {
    pick(LOWER_ALNUM, random, 51)
}

/// A token lifetime in seconds from a value and Cognito's unit name (`seconds`,
/// `minutes`, `hours`, `days`).
pub fn validity_seconds(value: u32, unit: &str) -> u64 {
    let per_unit = match unit {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3_600,
        _ => 86_400,
    };
    u64::from(value) * per_unit
}

/// The `ExplicitAuthFlows` values Cognito accepted before the `ALLOW_*` names.
pub const LEGACY_AUTH_FLOWS: &[&str] = &[
    "ADMIN_NO_SRP_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
    "USER_PASSWORD_AUTH",
];

/// Whether an app client with these `ExplicitAuthFlows` allows `flow` (an `ALLOW_*`
/// name). No flows means Cognito's default (SRP, custom auth, refresh); a legacy name
/// allows its `ALLOW_*` equivalent; clients with only legacy names always allowed SRP
/// and refresh.
pub fn auth_flow_allowed(explicit_auth_flows: &[String], flow: &str) -> bool {
    if explicit_auth_flows.is_empty() {
        return matches!(
            flow,
            "ALLOW_USER_SRP_AUTH" | "ALLOW_CUSTOM_AUTH" | "ALLOW_REFRESH_TOKEN_AUTH"
        );
    }
    let legacy = match flow {
        "ALLOW_USER_PASSWORD_AUTH" => Some("USER_PASSWORD_AUTH"),
        "ALLOW_ADMIN_USER_PASSWORD_AUTH" => Some("ADMIN_NO_SRP_AUTH"),
        _ => None,
    };
    let only_legacy = explicit_auth_flows
        .iter()
        .all(|f| LEGACY_AUTH_FLOWS.contains(&f.as_str()));
    explicit_auth_flows
        .iter()
        .any(|f| f == flow || Some(f.as_str()) == legacy)
        || (only_legacy && matches!(flow, "ALLOW_USER_SRP_AUTH" | "ALLOW_REFRESH_TOKEN_AUTH"))
}

/// A user name as typed, validated against Cognito's pattern
/// `[\p{L}\p{M}\p{S}\p{N}\p{P}]+`, 1-128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);
string_newtype!(Username);

impl Username {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let count = s.chars().count();
        // Letters, marks, symbols, numbers and punctuation: anything printable that is
        // not whitespace or a control character.
        let valid =
            (1..=128).contains(&count) && s.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(constraint_error(
                "username",
                s,
                "Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+",
            ))
        }
    }

    /// The key under which the name is unique: folded to lower case unless the pool is
    /// case sensitive.
    pub fn unique_key(&self, case_sensitive: bool) -> String {
        if case_sensitive {
            self.0.clone()
        } else {
            self.0.to_lowercase()
        }
    }
}

/// An email address, checked loosely the way Cognito does (one `@`, a dot-free local
/// part is fine, a domain with no spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);
string_newtype!(Email);

impl Email {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let valid = s.len() <= 2048
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError("Invalid email address format.".into()))
        }
    }
}

/// A phone number in E.164 form (`+` and 4-15 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);
string_newtype!(PhoneNumber);

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let digits = s.strip_prefix('+').unwrap_or("");
        let valid = (4..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError("Invalid phone number format.".into()))
        }
    }
}

/// When a session began, in ms since the epoch: the timestamp of its `origin_jti` (a
/// UUIDv7), or `fallback_ms` for an id without one (sessions begun before ids carried it).
pub fn session_started_ms(origin_jti: &str, fallback_ms: i64) -> i64 {
    uuid::Uuid::parse_str(origin_jti)
        .ok()
        .and_then(|id| id.get_timestamp())
        .map_or(fallback_ms, |ts| {
            let (secs, nanos) = ts.to_unix();
            i64::try_from(secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000)
                .saturating_add(i64::from(nanos / 1_000_000))
        })
}

/// Whether a session of a user is revoked: signed out (the user's global sign-out came
/// after the session began) or revoked by name.
pub fn session_revoked(
    signed_out_ms: i64,
    revoked_sessions: &[String],
    origin_jti: &str,
    fallback_started_ms: i64,
) -> bool {
    revoked_sessions.iter().any(|r| r == origin_jti)
        || (signed_out_ms > 0
            && session_started_ms(origin_jti, fallback_started_ms) < signed_out_ms)
}

/// The scope of access tokens from the Cognito API's sign-in operations, which the
/// self-service operations require.
pub const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// The AWS account id in every ARN this server makes (one account per deployment).
pub const ACCOUNT_ID: &str = "000000000000";

/// The directory's aggregate kinds that make up a pool's configuration: its settings,
/// app clients, groups, domains, hosted-UI customizations, branding, resource servers
/// and risk configurations. A record of one of them changes what another service may cache about the
/// pool (users, auth events and import jobs do not).
pub const POOL_CONFIGURATION_KINDS: &[&str] = &[
    "pool",
    "client",
    "group",
    "domains",
    "uicustomization",
    "branding",
    "resourceserver",
    "riskconfiguration",
    "waf",
    "webaclassociation",
];

/// Whether an app client's users may read attribute `name` through it (their own
/// `GetUser`, `/oauth2/userInfo`, the ID token): its `ReadAttributes` name it, or name
/// nothing (then every attribute is readable).
pub fn client_reads(read_attributes: &[String], name: &str) -> bool {
    read_attributes.is_empty() || read_attributes.iter().any(|a| a == name)
}

/// The first of `names` that an app client's users may not write through it (their own
/// `UpdateUserAttributes` and `DeleteUserAttributes`): its `WriteAttributes` name the
/// writable ones, or name nothing (then every attribute is writable).
pub fn client_write_denied<'a>(
    write_attributes: &[String],
    mut names: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    names.find(|n| !write_attributes.is_empty() && !write_attributes.iter().any(|a| a == n))
}

/// The directory's user aggregate kind: a user's record changes what another service
/// may cache about that user (the user an access token or a refresh token names).
pub const USER_KINDS: &[&str] = &["user"];

#[cfg(test)]
mod tests {
    #[test]
    fn a_session_is_signed_out_when_it_began_before_the_sign_out() {
        let started = 1_700_000_000_123_u64;
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            started / 1_000,
            (started % 1_000) as u32 * 1_000_000,
        );
        let jti = uuid::Uuid::new_v7(ts).to_string();
        assert_eq!(session_started_ms(&jti, 0), 1_700_000_000_123);
        assert!(session_revoked(1_700_000_000_124, &[], &jti, 0));
        assert!(!session_revoked(1_700_000_000_123, &[], &jti, 0));
        assert!(!session_revoked(0, &[], &jti, 0));
        assert!(session_revoked(0, std::slice::from_ref(&jti), &jti, 0));
        // An id without a timestamp falls back to the given start.
        let v4 = "0b5a4b2e-7d59-4c1e-9a4f-1f2d3c4b5a69";
        assert_eq!(session_started_ms(v4, 42), 42);
        assert!(session_revoked(43, &[], v4, 42));
    }

    use super::*;

    #[test]
    fn pages_are_cut_to_their_limit_with_the_last_key_as_token() {
        let mut short = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(cut_page(&mut short, 2, String::clone), None);
        assert_eq!(short.len(), 2);
        let mut long = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(cut_page(&mut long, 2, String::clone).as_deref(), Some("b"));
        assert_eq!(long, ["a", "b"]);
    }

    #[test]
    fn pool_ids_carry_their_region() {
        let region = Region::parse("eu-west-2").unwrap();
        let id = PoolId::generate(&region, &[7u8; 16]);
        assert!(id.as_str().starts_with("eu-west-2_"));
        assert_eq!(id.as_str().len(), "eu-west-2_".len() + 9);
        assert_eq!(PoolId::parse(id.as_str()).unwrap().region(), "eu-west-2");
    }

    #[test]
    fn bad_pool_ids_get_the_model_message() {
        for bad in ["", "nounderscore", "us-east-1_", "us-east-1_ab$", "_abc"] {
            let err = PoolId::parse(bad).unwrap_err();
            assert!(
                err.0
                    .contains("at 'userPoolId' failed to satisfy constraint"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn client_ids_look_like_cognitos() {
        let id = ClientId::generate(&(0u8..32).collect::<Vec<_>>());
        assert_eq!(id.as_str().len(), 26);
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(generate_client_secret(&[200u8; 64]).len(), 51);
    }

    #[test]
    fn usernames_fold_case_unless_sensitive() {
        let name = Username::parse("Alice.Ünal").unwrap();
        assert_eq!(name.unique_key(false), "alice.ünal");
        assert_eq!(name.unique_key(true), "Alice.Ünal");
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn emails_and_phones() {
        assert!(Email::parse("a@example.com").is_ok());
        assert!(Email::parse("nope").is_err());
        assert!(Email::parse("a b@example.com").is_err());
        assert!(PhoneNumber::parse("+14155550100").is_ok());
        assert!(PhoneNumber::parse("14155550100").is_err());
    }
}
