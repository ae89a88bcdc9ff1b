//! The model's constraints, with Cognito's "validation error detected" messages.

use super::ApiError;

/// The social providers an identity pool can name in `SupportedLoginProviders`.
pub const SOCIAL_PROVIDERS: &[&str] = &[
    "graph.facebook.com",
    "accounts.google.com",
    "www.amazon.com",
    "appleid.apple.com",
    "api.twitter.com",
];

/// A length constraint on `member`; Cognito's message does not repeat the value.
pub fn length(value: &str, member: &str, min: usize, max: usize) -> Result<(), ApiError> {
    match portcullis_types::length_constraint(value, min, max) {
        Some(failed) => Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: {failed}"
        ))),
        None => Ok(()),
    }
}

/// Every character of `value` must pass `allowed` (the model's `pattern`, shown as such).
pub fn pattern(
    value: &str,
    member: &str,
    shown: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), ApiError> {
    if value.chars().all(allowed) {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {shown}"
        )))
    }
}

pub fn too_many(member: &str, max: usize) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
    ))
}

pub fn enum_error(value: &str, member: &str, set: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: {set}"
    ))
}

/// `[\w-]+:[0-9a-f-]+`, 1 to 55 characters: identity pool and identity ids.
pub fn region_id(value: &str, member: &str) -> Result<(), ApiError> {
    length(value, member, 1, 55)?;
    let valid = value.split_once(':').is_some_and(|(region, id)| {
        !region.is_empty()
            && !id.is_empty()
            && region
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            && id
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
    });
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+"
        )))
    }
}

/// The event-log scope of an id of the `<region>:<uuid>` form: `:` is not allowed in
/// stream ids, `_` is in neither part, so `<region>_<uuid>` maps back one-to-one.
pub fn scope(id: &str) -> String {
    id.replacen(':', "_", 1)
}
