//! IAM's input constraints and the messages it answers them with.

use portcullis_errors::{ApiError, ErrorCode};
use portcullis_policy::{Policy, PolicyError};

/// The largest policy document IAM accepts in a request.
pub const MAX_POLICY_DOCUMENT: usize = 131_072;
/// IAM's default quota on a role's trust policy, counted without whitespace.
pub const MAX_TRUST_POLICY_SIZE: usize = 2048;
/// IAM's tag quota per resource.
pub const MAX_TAGS: usize = 50;

pub fn validation_error(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::ValidationError, message)
}

fn constraint(value: &str, member: &str, constraint: &str) -> ApiError {
    validation_error(portcullis_types::constraint_error(member, value, constraint).0)
}

/// A length constraint on `member` (in characters).
pub fn length(value: &str, member: &str, min: usize, max: usize) -> Result<(), ApiError> {
    match portcullis_types::length_constraint(value, min, max) {
        Some(failed) => Err(constraint(value, member, &failed)),
        None => Ok(()),
    }
}

/// `[\w+=,.@-]+` with a length bound: role, policy and SAML provider names.
pub fn name(value: &str, member: &str, max: usize) -> Result<(), ApiError> {
    length(value, member, 1, max)?;
    let valid = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(constraint(
            value,
            member,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        ))
    }
}

/// `/` or `/<printable ASCII>/`, at most 512 characters.
pub fn path(value: &str) -> Result<(), ApiError> {
    length(value, "path", 1, 512)?;
    let printable = value.bytes().all(|b| (0x21..=0x7E).contains(&b));
    if printable && value.starts_with('/') && value.ends_with('/') {
        Ok(())
    } else {
        Err(constraint(
            value,
            "path",
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ))
    }
}

/// A role description: at most 1000 characters of tab, newlines and Latin-1 text.
pub fn description(value: &str) -> Result<(), ApiError> {
    length(value, "description", 0, 1000)?;
    let valid = value
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{A1}'..='\u{FF}'));
    if valid {
        Ok(())
    } else {
        Err(constraint(
            value,
            "description",
            "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*",
        ))
    }
}

/// A session may last 1 to 12 hours.
pub fn max_session_duration(seconds: u32) -> Result<(), ApiError> {
    let bound = match seconds {
        3600..=43200 => return Ok(()),
        0..3600 => "greater than or equal to 3600",
        _ => "less than or equal to 43200",
    };
    Err(validation_error(format!(
        "1 validation error detected: Value '{seconds}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value {bound}"
    )))
}

/// A policy document IAM would store: within its size, and a policy our evaluator reads.
pub fn policy_document(document: &str, member: &str) -> Result<(), ApiError> {
    length(document, member, 1, MAX_POLICY_DOCUMENT)?;
    match Policy::parse(document) {
        Ok(_) => Ok(()),
        Err(PolicyError::Json(_)) => Err(malformed("This policy contains invalid Json")),
        Err(err) => Err(malformed(format!("Syntax errors in policy. {err}"))),
    }
}

/// The statements of a document that parsed as a policy: one object or an array.
fn statements(document: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let parsed: serde_json::Value = serde_json::from_str(document).unwrap_or_default();
    match parsed.get("Statement") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|s| s.as_object().cloned())
            .collect(),
        Some(serde_json::Value::Object(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn names_principal(statement: &serde_json::Map<String, serde_json::Value>) -> bool {
    statement.contains_key("Principal") || statement.contains_key("NotPrincipal")
}

/// A role's trust policy: every statement names a principal and no resource (the
/// resource is the role), within IAM's size quota.
pub fn trust_policy(document: &str, member: &str) -> Result<(), ApiError> {
    policy_document(document, member)?;
    for statement in statements(document) {
        if !names_principal(&statement) {
            return Err(malformed("Missing required field Principal"));
        }
        if statement.contains_key("Resource") || statement.contains_key("NotResource") {
            return Err(malformed("Has prohibited field Resource"));
        }
    }
    if policy_size(document) > MAX_TRUST_POLICY_SIZE {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!("Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY_SIZE}"),
        ));
    }
    Ok(())
}

/// An identity-based (inline) policy: it names no principal, the role is the principal.
pub fn permission_policy(document: &str) -> Result<(), ApiError> {
    policy_document(document, "policyDocument")?;
    if statements(document).iter().any(names_principal) {
        return Err(malformed("Policy document should not specify a principal."));
    }
    Ok(())
}

pub fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::MalformedPolicyDocument, message)
}

pub fn tags(tags: &std::collections::HashMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!("Cannot exceed quota for TagsPerResource: {MAX_TAGS}"),
        ));
    }
    for (key, value) in tags {
        length(key, "tags.member.key", 1, 128)?;
        length(value, "tags.member.value", 0, 256)?;
    }
    Ok(())
}

/// Size of a policy as IAM counts it against quotas: without whitespace.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_durations_follow_iam_patterns() {
        assert!(name("my-role_1+=,.@", "roleName", 64).is_ok());
        assert!(name("has space", "roleName", 64).is_err());
        assert!(name(&"a".repeat(65), "roleName", 64).is_err());
        assert!(path("/").is_ok());
        assert!(path("/app/svc/").is_ok());
        for bad in ["", "app/", "/app", "/a b/"] {
            assert!(path(bad).is_err(), "{bad}");
        }
        assert!(max_session_duration(3600).is_ok());
        assert!(max_session_duration(43200).is_ok());
        assert!(max_session_duration(3599).is_err());
        assert!(max_session_duration(43201).is_err());
    }

    #[test]
    fn policies_must_be_json_and_a_policy() {
        let err = policy_document("{not json", "policyDocument").unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedPolicyDocument);
        assert_eq!(err.message, "This policy contains invalid Json");
        let err =
            policy_document(r#"{"Statement":[{"Effect":"Maybe"}]}"#, "policyDocument").unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedPolicyDocument);
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert!(policy_document(ok, "policyDocument").is_ok());
        assert_eq!(policy_size("{ \"a\" : 1 }"), 7);
    }

    #[test]
    fn trust_policies_name_principals_and_permission_policies_do_not() {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
        let permissions = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        assert!(trust_policy(trust, "policyDocument").is_ok());
        assert!(permission_policy(permissions).is_ok());
        let err = trust_policy(permissions, "policyDocument").unwrap_err();
        assert_eq!(err.message, "Missing required field Principal");
        let err = permission_policy(trust).unwrap_err();
        assert_eq!(
            err.message,
            "Policy document should not specify a principal."
        );
        let with_resource = trust.replace("\"Action\"", "\"Resource\":\"*\",\"Action\"");
        let err = trust_policy(&with_resource, "policyDocument").unwrap_err();
        assert_eq!(err.message, "Has prohibited field Resource");
        let huge = trust.replace("sts:AssumeRoleWithWebIdentity", &"a".repeat(2100));
        let err = trust_policy(&huge, "policyDocument").unwrap_err();
        assert_eq!(err.code, ErrorCode::LimitExceeded);
    }
}
