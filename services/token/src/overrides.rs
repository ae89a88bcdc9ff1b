//! A pre token generation trigger's changes to the claims ([`pb::ClaimOverrides`]),
//! applied to the claims the token service built. Claims that make a token what it is
//! (who it is for, when it ends, which session, which client) and every `cognito:`
//! claim stay as they are, whatever the function asked: such a change is ignored, as
//! Cognito ignores it. Groups are changed through the request's groups instead.

use portcullis_errors::ApiError;
use portcullis_proto::token::v1 as pb;
use portcullis_types::ADMIN_SCOPE;
use serde_json::{Map, Value};

/// Claims of either token a trigger cannot add, change or remove.
const RESERVED: &[&str] = &[
    "acr",
    "amr",
    "aud",
    "auth_time",
    "azp",
    "event_id",
    "exp",
    "iat",
    "identities",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "sub",
    "token_use",
];

/// Further claims reserved in an ID token.
const ID_RESERVED: &[&str] = &["at_hash", "c_hash"];

/// Further claims reserved in an access token.
const ACCESS_RESERVED: &[&str] = &["client_id", "device_key", "scope", "username", "version"];

/// Scopes a trigger cannot add or remove: `openid` decides whether there is an ID token
/// at all, and the admin scope opens the self-service operations.
const SCOPES_RESERVED: &[&str] = &["openid", ADMIN_SCOPE];

pub(crate) fn apply(
    overrides: &pb::ClaimOverrides,
    access: &mut Value,
    id: Option<&mut Value>,
) -> Result<(), ApiError> {
    if let Some(Value::Object(id)) = id {
        change(
            id,
            &overrides.id_claims_json,
            &overrides.id_suppress,
            ID_RESERVED,
        )?;
    }
    let Value::Object(access) = access else {
        return Ok(());
    };
    change(
        access,
        &overrides.access_claims_json,
        &overrides.access_suppress,
        ACCESS_RESERVED,
    )?;
    if !overrides.scopes_add.is_empty() || !overrides.scopes_suppress.is_empty() {
        let current = access
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut scopes: Vec<String> = current.split_whitespace().map(str::to_owned).collect();
        let open = |scope: &String| !SCOPES_RESERVED.contains(&scope.as_str());
        scopes.retain(|s| !(overrides.scopes_suppress.contains(s) && open(s)));
        for scope in overrides.scopes_add.iter().filter(|s| open(s)) {
            let valid = !scope.is_empty() && !scope.contains(char::is_whitespace);
            if valid && !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        access.insert("scope".into(), Value::String(scopes.join(" ")));
    }
    Ok(())
}

fn change(
    claims: &mut Map<String, Value>,
    add_json: &str,
    suppress: &[String],
    reserved: &[&str],
) -> Result<(), ApiError> {
    let open = |name: &str| {
        !RESERVED.contains(&name) && !reserved.contains(&name) && !name.starts_with("cognito:")
    };
    for name in suppress.iter().filter(|n| open(n)) {
        claims.remove(name);
    }
    if add_json.is_empty() {
        return Ok(());
    }
    let Value::Object(add) = serde_json::from_str(add_json)
        .map_err(|_| ApiError::invalid_parameter("claims to add are not a JSON object"))?
    else {
        return Err(ApiError::invalid_parameter(
            "claims to add are not a JSON object",
        ));
    };
    for (name, value) in add {
        if open(&name) {
            claims.insert(name, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn claims_are_added_and_removed_except_the_reserved_ones() {
        let mut id = json!({"sub": "s", "email": "a@example.com", "cognito:groups": ["a"]});
        let mut access = json!({"sub": "s", "scope": "openid email", "username": "kim"});
        let overrides = pb::ClaimOverrides {
            id_claims_json: r#"{"tier":"gold","sub":"evil","cognito:groups":["admins"]}"#.into(),
            id_suppress: vec!["email".into(), "sub".into()],
            access_claims_json: r#"{"tenant":{"id":7},"scope":"everything"}"#.into(),
            access_suppress: vec!["username".into()],
            scopes_add: vec!["api/read".into(), "aws.cognito.signin.user.admin".into()],
            scopes_suppress: vec!["email".into(), "openid".into()],
        };
        apply(&overrides, &mut access, Some(&mut id)).unwrap();
        assert_eq!(
            id,
            json!({"sub": "s", "cognito:groups": ["a"], "tier": "gold"})
        );
        assert_eq!(
            access,
            json!({"sub": "s", "scope": "openid api/read", "username": "kim", "tenant": {"id": 7}})
        );
    }
}
