//! The event a trigger receives: Cognito's common members around a trigger's own
//! `request` and `response`.

use serde_json::{Value, json};

use crate::Version;

/// `callerContext.clientId` of an operation no app client makes (the admin ones).
pub const NO_CLIENT: &str = "CLIENT_ID_NOT_APPLICABLE";

/// One invocation's event.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub version: Version,
    /// `PreSignUp_SignUp`, `TokenGeneration_Authentication`, ...
    pub trigger_source: &'a str,
    pub pool_id: &'a str,
    /// Empty (`null` in the event) for a machine's token, which has no user.
    pub user_name: &'a str,
    /// The app client, or [`NO_CLIENT`].
    pub client_id: &'a str,
    /// `callerContext.awsSdkVersion` ([`sdk_version`]).
    pub sdk_version: &'a str,
    pub request: Value,
    /// The answer's members, unset (`null`) as Cognito sends them.
    pub response: Value,
}

impl Event<'_> {
    pub fn to_json(&self) -> Value {
        json!({
            "version": self.version.event_version(),
            "triggerSource": self.trigger_source,
            "region": region_of(self.pool_id),
            "userPoolId": self.pool_id,
            "userName": Some(self.user_name).filter(|name| !name.is_empty()),
            "callerContext": {
                "awsSdkVersion": self.sdk_version,
                "clientId": self.client_id,
            },
            "request": self.request,
            "response": self.response,
        })
    }
}

/// The region a pool lives in: its id's prefix (`us-east-1_AbC` is in `us-east-1`).
pub fn region_of(pool_id: &str) -> &str {
    pool_id
        .split_once('_')
        .map_or(pool_id, |(region, _)| region)
}

/// `callerContext.awsSdkVersion` from the caller's `User-Agent`: `aws-sdk-<name>-<version>`
/// for an AWS SDK (`aws-sdk-js/3.6.1 ...` gives `aws-sdk-js-3.6.1`, `Boto3/1.34.0 ...`
/// gives `aws-sdk-boto3-1.34.0`), `aws-sdk-unknown-unknown` for anything else.
pub fn sdk_version(user_agent: &str) -> String {
    let sane = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    };
    for product in user_agent.split_ascii_whitespace() {
        let Some((name, version)) = product.split_once('/') else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        let name = match name.strip_prefix("aws-sdk-") {
            Some(rest) => rest.to_owned(),
            None if name == "boto3" || name == "botocore" => name,
            None => continue,
        };
        if sane(&name) && sane(version) {
            return format!("aws-sdk-{name}-{version}");
        }
    }
    "aws-sdk-unknown-unknown".into()
}

/// A string-to-string map as an event carries it (`clientMetadata`, `userAttributes`):
/// `{}` when empty.
pub fn string_map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_members_are_cognitos() {
        let event = Event {
            version: Version::V1,
            trigger_source: "PreSignUp_SignUp",
            pool_id: "eu-west-1_abc",
            user_name: "kim",
            client_id: "client",
            sdk_version: "aws-sdk-unknown-unknown",
            request: json!({"userAttributes": {}}),
            response: json!({"autoConfirmUser": false}),
        };
        assert_eq!(
            event.to_json(),
            json!({
                "version": "1",
                "triggerSource": "PreSignUp_SignUp",
                "region": "eu-west-1",
                "userPoolId": "eu-west-1_abc",
                "userName": "kim",
                "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client"},
                "request": {"userAttributes": {}},
                "response": {"autoConfirmUser": false},
            })
        );
    }

    #[test]
    fn sdk_versions_come_from_the_user_agent() {
        assert_eq!(
            sdk_version("aws-sdk-js/3.6.1 os/linux lang/js"),
            "aws-sdk-js-3.6.1"
        );
        assert_eq!(
            sdk_version("Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0"),
            "aws-sdk-boto3-1.34.0"
        );
        assert_eq!(sdk_version("curl/8.0"), "aws-sdk-unknown-unknown");
        assert_eq!(sdk_version("aws-sdk-x/\u{0}"), "aws-sdk-unknown-unknown");
    }
}
