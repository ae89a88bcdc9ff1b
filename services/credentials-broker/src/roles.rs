//! Which role an authenticated identity gets: the identity pool's `RoleMappings` for the
//! provider the identity signed in with, else its authenticated role.
//!
//! A `Token` mapping takes the role from the ID token: `cognito:preferred_role`, or the
//! only entry of `cognito:roles`; `CustomRoleArn` picks one of `cognito:roles`. A `Rules`
//! mapping tries its rules in order (`Equals`, `Contains`, `StartsWith`, `NotEqual` on a
//! claim) and the first that matches names the role. When nothing decides,
//! `AmbiguousRoleResolution` says whether the pool's authenticated role is used or the
//! request is denied.
//!
//! A SAML assertion may itself name the roles its user can take (AWS's `Role`
//! attribute): then the role is the only one it names, or the one `CustomRoleArn` picks.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    NotEqual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub claim: String,
    pub match_type: MatchType,
    pub value: String,
    pub role_arn: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ambiguous {
    AuthenticatedRole,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    Token {
        ambiguous: Ambiguous,
    },
    Rules {
        rules: Vec<Rule>,
        ambiguous: Ambiguous,
    },
}

/// The outcome of role resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Role(String),
    /// Nothing decided and the mapping says `Deny`, or no role is configured.
    Denied,
    /// A `CustomRoleArn` the token does not offer.
    NotOffered,
    /// Several roles offered and none chosen.
    Choose,
}

/// The values of a claim: a string, a number or boolean as text, or each string of an
/// array (as `cognito:groups` is).
fn claim_values(claims: &Value, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Bool(b)) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

impl Rule {
    fn matches(&self, claims: &Value) -> bool {
        let values = claim_values(claims, &self.claim);
        if values.is_empty() {
            return false;
        }
        let value = self.value.as_str();
        match self.match_type {
            MatchType::Equals => values.iter().any(|v| v == value),
            MatchType::Contains => values.iter().any(|v| v.contains(value)),
            MatchType::StartsWith => values.iter().any(|v| v.starts_with(value)),
            MatchType::NotEqual => values.iter().all(|v| v != value),
        }
    }
}

/// The role among those a SAML assertion offers: the one `custom_role_arn` names, or
/// the only one.
#[must_use]
pub fn offered(roles: &[String], custom_role_arn: Option<&str>) -> Resolved {
    match (custom_role_arn, roles) {
        (Some(custom), _) if roles.iter().any(|r| r == custom) => Resolved::Role(custom.to_owned()),
        (Some(_), _) => Resolved::NotOffered,
        (None, [only]) => Resolved::Role(only.clone()),
        (None, _) => Resolved::Choose,
    }
}

/// The role for an identity whose provider's `mapping` (if any) applies to `claims`.
#[must_use]
pub fn resolve(
    mapping: Option<&Mapping>,
    claims: &Value,
    authenticated_role: Option<&str>,
    custom_role_arn: Option<&str>,
) -> Resolved {
    let fallback = |ambiguous: Ambiguous| match (ambiguous, authenticated_role) {
        (Ambiguous::AuthenticatedRole, Some(role)) => Resolved::Role(role.to_owned()),
        _ => Resolved::Denied,
    };
    match mapping {
        None => authenticated_role.map_or(Resolved::Denied, |r| Resolved::Role(r.to_owned())),
        Some(Mapping::Token { ambiguous }) => {
            let roles = claim_values(claims, "cognito:roles");
            if let Some(custom) = custom_role_arn {
                return if roles.iter().any(|r| r == custom) {
                    Resolved::Role(custom.to_owned())
                } else {
                    Resolved::NotOffered
                };
            }
            if let Some(preferred) = claims.get("cognito:preferred_role").and_then(Value::as_str) {
                return Resolved::Role(preferred.to_owned());
            }
            match roles.as_slice() {
                [only] => Resolved::Role(only.clone()),
                _ => fallback(*ambiguous),
            }
        }
        Some(Mapping::Rules { rules, ambiguous }) => {
            rules.iter().find(|rule| rule.matches(claims)).map_or_else(
                || fallback(*ambiguous),
                |rule| Resolved::Role(rule.role_arn.clone()),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AUTH: &str = "arn:aws:iam::000000000000:role/authenticated";

    #[test]
    fn saml_offers_one_role_or_a_choice() {
        let roles = vec!["r1".to_owned(), "r2".to_owned()];
        assert_eq!(offered(&roles[..1], None), Resolved::Role("r1".into()));
        assert_eq!(offered(&roles, None), Resolved::Choose);
        assert_eq!(offered(&roles, Some("r2")), Resolved::Role("r2".into()));
        assert_eq!(offered(&roles, Some("r3")), Resolved::NotOffered);
    }

    fn rule(claim: &str, match_type: MatchType, value: &str, role: &str) -> Rule {
        Rule {
            claim: claim.into(),
            match_type,
            value: value.into(),
            role_arn: format!("arn:aws:iam::000000000000:role/{role}"),
        }
    }

    fn role(name: &str) -> Resolved {
        Resolved::Role(format!("arn:aws:iam::000000000000:role/{name}"))
    }

    #[test]
    fn rules_are_tried_in_order_and_the_first_match_wins() {
        let mapping = Mapping::Rules {
            rules: vec![
                rule("cognito:groups", MatchType::Equals, "admins", "admin"),
                rule("email", MatchType::StartsWith, "ops-", "ops"),
                rule("custom:team", MatchType::Contains, "red", "red"),
                rule("custom:tier", MatchType::NotEqual, "free", "paid"),
            ],
            ambiguous: Ambiguous::Deny,
        };
        let resolve = |claims: Value| resolve(Some(&mapping), &claims, Some(AUTH), None);
        assert_eq!(
            resolve(json!({"cognito:groups": ["users", "admins"], "email": "ops-1@x"})),
            role("admin")
        );
        assert_eq!(resolve(json!({"email": "ops-1@x"})), role("ops"));
        assert_eq!(resolve(json!({"custom:team": "dark-red"})), role("red"));
        assert_eq!(resolve(json!({"custom:tier": "gold"})), role("paid"));
        assert_eq!(resolve(json!({"custom:tier": "free"})), Resolved::Denied);
        // A rule on a claim the token lacks does not match (not even NotEqual).
        assert_eq!(resolve(json!({})), Resolved::Denied);
    }

    #[test]
    fn no_match_falls_back_to_the_authenticated_role_when_configured() {
        let mapping = Mapping::Rules {
            rules: vec![rule("email", MatchType::Equals, "x@y", "x")],
            ambiguous: Ambiguous::AuthenticatedRole,
        };
        assert_eq!(
            resolve(Some(&mapping), &json!({}), Some(AUTH), None),
            Resolved::Role(AUTH.into())
        );
        assert_eq!(
            resolve(Some(&mapping), &json!({}), None, None),
            Resolved::Denied
        );
    }

    #[test]
    fn token_mappings_use_the_preferred_or_only_role() {
        let mapping = Mapping::Token {
            ambiguous: Ambiguous::Deny,
        };
        let a = "arn:aws:iam::000000000000:role/a";
        let b = "arn:aws:iam::000000000000:role/b";
        let claims = json!({"cognito:roles": [a, b], "cognito:preferred_role": a});
        assert_eq!(
            resolve(Some(&mapping), &claims, Some(AUTH), None),
            Resolved::Role(a.into())
        );
        let only = json!({"cognito:roles": [b]});
        assert_eq!(
            resolve(Some(&mapping), &only, Some(AUTH), None),
            Resolved::Role(b.into())
        );
        let two = json!({"cognito:roles": [a, b]});
        assert_eq!(
            resolve(Some(&mapping), &two, Some(AUTH), None),
            Resolved::Denied
        );
        assert_eq!(
            resolve(Some(&mapping), &two, Some(AUTH), Some(b)),
            Resolved::Role(b.into())
        );
        assert_eq!(
            resolve(
                Some(&mapping),
                &two,
                Some(AUTH),
                Some("arn:aws:iam::000000000000:role/c")
            ),
            Resolved::NotOffered
        );
        let lenient = Mapping::Token {
            ambiguous: Ambiguous::AuthenticatedRole,
        };
        assert_eq!(
            resolve(Some(&lenient), &two, Some(AUTH), None),
            Resolved::Role(AUTH.into())
        );
    }

    #[test]
    fn without_a_mapping_the_authenticated_role_applies() {
        assert_eq!(
            resolve(None, &json!({}), Some(AUTH), None),
            Resolved::Role(AUTH.into())
        );
        assert_eq!(resolve(None, &json!({}), None, None), Resolved::Denied);
    }
}

/// The mapping `UseDefaults` stands for: tag `username` from the `sub` claim and tag
/// `client` from the `aud` claim.
pub const DEFAULT_TAG_MAP: &[(&str, &str)] = &[("username", "sub"), ("client", "aud")];

/// The principal tags of a session: each tag of `map` (tag -> claim) whose claim the
/// token has as a single value, within IAM's session-tag limits (128-character keys,
/// 256-character values in IAM's tag character set, 50 tags). A claim outside those
/// limits is left out rather than refusing the sign-in (the session simply lacks that
/// tag, so policies that name it do not apply), and so is a claim with several values.
#[must_use]
pub fn principal_tags(map: &[(String, String)], claims: &Value) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = map
        .iter()
        .filter(|(tag, _)| !tag.is_empty() && tag.chars().count() <= 128)
        .filter_map(
            |(tag, claim)| match claim_values(claims, claim).as_slice() {
                [one]
                    if is_tag_value(one)
                        && matches!(claims.get(claim), Some(v) if !v.is_array()) =>
                {
                    Some((tag.clone(), one.clone()))
                }
                _ => None,
            },
        )
        .collect();
    tags.sort();
    tags.truncate(50);
    tags
}

/// IAM's session-tag value: up to 256 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
/// (letters, separators, numbers and `_.:/=+-@`), so never a policy wildcard (`*`,
/// `?`), a variable (`$`, `{`) or a control character.
#[must_use]
pub fn is_tag_value(value: &str) -> bool {
    value.chars().count() <= 256
        && value.chars().all(|c| {
            c.is_alphabetic() || c.is_numeric() || is_separator(c) || "_.:/=+-@".contains(c)
        })
}

/// Unicode's separators (`\p{Z}`): the space characters and the line and paragraph
/// separators, but not tabs or line feeds (those are control characters).
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

#[cfg(test)]
mod tag_tests {
    use super::*;
    use serde_json::json;

    fn map(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(t, c)| ((*t).to_owned(), (*c).to_owned()))
            .collect()
    }

    #[test]
    fn tags_take_single_valued_claims() {
        let claims = json!({
            "sub": "u-1", "aud": "client-1", "custom:department": "a",
            "cognito:groups": ["x", "y"], "email_verified": true
        });
        assert_eq!(
            principal_tags(&map(DEFAULT_TAG_MAP), &claims),
            vec![
                ("client".to_owned(), "client-1".to_owned()),
                ("username".to_owned(), "u-1".to_owned())
            ]
        );
        let custom = map(&[
            ("department", "custom:department"),
            ("groups", "cognito:groups"),
            ("verified", "email_verified"),
            ("missing", "custom:nothing"),
        ]);
        assert_eq!(
            principal_tags(&custom, &claims),
            vec![
                ("department".to_owned(), "a".to_owned()),
                ("verified".to_owned(), "true".to_owned())
            ]
        );
    }

    #[test]
    fn oversized_tags_are_left_out() {
        let claims = json!({"long": "v".repeat(257), "ok": "v"});
        let tags = principal_tags(&map(&[("long", "long"), ("ok", "ok")]), &claims);
        assert_eq!(tags, vec![("ok".to_owned(), "v".to_owned())]);
        let long_key = "k".repeat(129);
        assert!(principal_tags(&map(&[(&long_key, "ok")]), &claims).is_empty());
    }

    #[test]
    fn values_outside_the_tag_character_set_are_left_out() {
        let claims = json!({
            "cognito:username": "*", "q": "a?", "var": "${aws:username}", "nl": "a\nb",
            "tab": "a\tb", "email": "first.last+tag@example.com", "name": "José Müller",
            "path": "a/b:c=d_e-f", "empty": "", "cjk": "東京\u{3000}1"
        });
        let names = [
            "cognito:username",
            "q",
            "var",
            "nl",
            "tab",
            "email",
            "name",
            "path",
            "empty",
            "cjk",
        ];
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (*n, *n)).collect();
        let kept: Vec<String> = principal_tags(&map(&pairs), &claims)
            .into_iter()
            .map(|(tag, _)| tag)
            .collect();
        assert_eq!(kept, ["cjk", "email", "empty", "name", "path"]);
        assert!(is_tag_value(&"é".repeat(256)) && !is_tag_value(&"é".repeat(257)));
    }
}
