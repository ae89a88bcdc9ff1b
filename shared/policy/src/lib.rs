//! IAM JSON policies, as the credentials broker's decision point evaluates them: a
//! request (action, resource, context keys) against the policies of a role and, when
//! the credentials carry one, a session policy.
//!
//! Evaluation follows IAM's order: an explicit `Deny` in any policy wins; otherwise an
//! `Allow` is needed; otherwise the request is implicitly denied. A statement applies
//! when its action (or `NotAction`), resource (or `NotResource`) and every condition
//! match. Actions match case-insensitively, resources case-sensitively, both with `*`
//! and `?` wildcards. `${...}` policy variables in resources and condition values are
//! replaced from the request's context (`${aws:PrincipalTag/department}`,
//! `${cognito-identity.amazonaws.com:sub}`); a replaced value matches literally (a tag
//! `*` is the character `*`, never a wildcard), and a statement whose variable has no
//! value does not apply. The decision names the statement that made it.

mod condition;

use std::collections::HashMap;

use serde_json::Value;

pub use condition::ConditionError;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("the policy is not valid JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Condition(#[from] ConditionError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A list of patterns, and whether the statement names them or everything but them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Patterns {
    values: Vec<String>,
    negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: String,
    pub effect: Effect,
    actions: Patterns,
    resources: Patterns,
    /// A resource-based (trust) policy's `Principal` / `NotPrincipal`: who the
    /// statement is about, as (kind, pattern) pairs; `None` in identity policies.
    principals: Option<(Vec<(String, String)>, bool)>,
    conditions: Vec<condition::Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// What is asked: an action such as `s3:GetObject`, a resource ARN, and the context
/// keys (names are case-insensitive; each key may have several values).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub action: String,
    pub resource: String,
    /// Who asks, for trust policies: (`Federated` / `AWS` / `Service`, identifier).
    pub principal: Option<(String, String)>,
    context: HashMap<String, Vec<String>>,
}

impl Request {
    #[must_use]
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            principal: None,
            context: HashMap::new(),
        }
    }

    /// The principal a trust policy is asked about.
    #[must_use]
    pub fn by(mut self, kind: &str, id: impl Into<String>) -> Self {
        self.principal = Some((kind.to_owned(), id.into()));
        self
    }

    /// Adds a context key with one value.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.context
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.into());
        self
    }

    /// Adds a multi-valued context key.
    #[must_use]
    pub fn with_values(mut self, key: &str, values: Vec<String>) -> Self {
        self.context
            .entry(key.to_ascii_lowercase())
            .or_default()
            .extend(values);
        self
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.context
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    /// A single-valued key, as policy variables need.
    fn single(&self, key: &str) -> Option<&str> {
        match self.values(key) {
            Some([one]) => Some(one),
            _ => None,
        }
    }
}

/// The outcome and, unless implicit, the statement that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow { policy: usize, sid: String },
    ExplicitDeny { policy: usize, sid: String },
    ImplicitDeny,
}

impl Decision {
    #[must_use]
    pub fn allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

fn invalid(text: impl Into<String>) -> PolicyError {
    PolicyError::Invalid(text.into())
}

/// A string or an array of strings.
fn strings(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{what} must be strings")))
            })
            .collect(),
        _ => Err(invalid(format!(
            "{what} must be a string or a list of strings"
        ))),
    }
}

fn patterns(
    statement: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Patterns, PolicyError> {
    let not_name = format!("Not{name}");
    match (statement.get(name), statement.get(&not_name)) {
        (Some(value), None) => Ok(Patterns {
            values: strings(value, name)?,
            negated: false,
        }),
        (None, Some(value)) => Ok(Patterns {
            values: strings(value, &not_name)?,
            negated: true,
        }),
        (Some(_), Some(_)) => Err(invalid(format!(
            "a statement has both {name} and {not_name}"
        ))),
        (None, None) => Err(invalid(format!("a statement needs {name} or {not_name}"))),
    }
}

/// `Principal` / `NotPrincipal`: `"*"` or `{"Federated": ..., "AWS": ..., "Service": ...}`.
type Principals = Option<(Vec<(String, String)>, bool)>;

fn principals(statement: &serde_json::Map<String, Value>) -> Result<Principals, PolicyError> {
    let (value, negated) = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (None, None) => return Ok(None),
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        (Some(_), Some(_)) => {
            return Err(invalid("a statement has both Principal and NotPrincipal"));
        }
    };
    let pairs = match value {
        Value::String(s) if s == "*" => vec![("*".to_owned(), "*".to_owned())],
        Value::Object(kinds) => {
            let mut pairs = Vec::new();
            for (kind, ids) in kinds {
                if !matches!(
                    kind.as_str(),
                    "AWS" | "Federated" | "Service" | "CanonicalUser"
                ) {
                    return Err(invalid(format!("unknown principal type {kind}")));
                }
                for id in strings(ids, "Principal")? {
                    pairs.push((kind.clone(), id));
                }
            }
            pairs
        }
        _ => return Err(invalid("Principal must be \"*\" or an object")),
    };
    Ok(Some((pairs, negated)))
}

impl Policy {
    /// Parses a policy document.
    ///
    /// # Errors
    /// [`PolicyError`] for invalid JSON, a missing or unknown element, or a condition
    /// operator this evaluator does not know (refused rather than ignored).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let document: Value =
            serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))?;
        let Some(document) = document.as_object() else {
            return Err(invalid("a policy is a JSON object"));
        };
        if let Some(version) = document.get("Version")
            && !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err(invalid("Version must be 2012-10-17 or 2008-10-17"));
        }
        let statements = match document.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => return Err(invalid("a policy needs a Statement")),
        };
        let statements = statements
            .into_iter()
            .map(Statement::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { statements })
    }
}

impl Statement {
    fn parse(value: &Value) -> Result<Self, PolicyError> {
        let Some(statement) = value.as_object() else {
            return Err(invalid("a statement is a JSON object"));
        };
        let effect = match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(invalid("Effect must be Allow or Deny")),
        };
        let conditions = match statement.get("Condition") {
            None => Vec::new(),
            Some(block) => condition::parse_block(block)?,
        };
        let principals = principals(statement)?;
        // A trust policy's statements name a principal and no resource (the role).
        let resources = if principals.is_some()
            && !statement.contains_key("Resource")
            && !statement.contains_key("NotResource")
        {
            Patterns {
                values: vec!["*".to_owned()],
                negated: false,
            }
        } else {
            patterns(statement, "Resource")?
        };
        Ok(Self {
            sid: statement
                .get("Sid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            effect,
            actions: patterns(statement, "Action")?,
            resources,
            principals,
            conditions,
        })
    }

    fn principal_matches(&self, request: &Request) -> bool {
        let Some((principals, negated)) = &self.principals else {
            return true;
        };
        let named = request.principal.as_ref().is_some_and(|(kind, id)| {
            principals
                .iter()
                .any(|(k, pattern)| (k == "*" || k == kind) && wildcard(pattern, id))
        });
        named != *negated
    }

    fn applies(&self, request: &Request) -> bool {
        if !self.principal_matches(request) {
            return false;
        }
        let action = self.actions.values.iter().any(|pattern| {
            wildcard(
                &pattern.to_ascii_lowercase(),
                &request.action.to_ascii_lowercase(),
            )
        });
        if action == self.actions.negated {
            return false;
        }
        let mut resource_unknown = false;
        let resource =
            self.resources
                .values
                .iter()
                .any(|pattern| match substitute(pattern, request) {
                    Some(pattern) => pattern.matches(&request.resource),
                    None => {
                        resource_unknown = true;
                        false
                    }
                });
        if resource == self.resources.negated || (self.resources.negated && resource_unknown) {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(request))
    }
}

/// One element of a [`Pattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// A character that matches only itself.
    Char(char),
    /// `*` in the policy's own text: any run of characters, none included.
    AnyRun,
    /// `?` in the policy's own text: exactly one character.
    AnyOne,
}

/// A resource or condition value with its policy variables replaced.
///
/// Only the policy author's own `*` and `?` are wildcards; text that came from a
/// variable (a principal tag, a user's identity id, a caller's context key) or from the
/// `${*}` / `${?}` / `${$}` escapes matches only itself. Keeping the two apart, rather
/// than pasting the value into a string that is parsed again, is what stops a user named
/// `*` from matching every user's resources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pattern(Vec<Piece>);

impl Pattern {
    /// The policy's own text: `*` and `?` are wildcards.
    #[must_use]
    pub fn wildcards(text: &str) -> Self {
        let mut pattern = Self::default();
        pattern.push_wildcards(text);
        pattern
    }

    /// Text that matches only itself.
    #[must_use]
    pub fn literal(text: &str) -> Self {
        let mut pattern = Self::default();
        pattern.push_literal(text);
        pattern
    }

    fn push_wildcards(&mut self, text: &str) {
        self.0.extend(text.chars().map(|c| match c {
            '*' => Piece::AnyRun,
            '?' => Piece::AnyOne,
            c => Piece::Char(c),
        }));
    }

    fn push_literal(&mut self, text: &str) {
        self.0.extend(text.chars().map(Piece::Char));
    }

    /// The characters themselves, for the operators that compare without wildcards
    /// (`StringEquals`, `NumericEquals`, ...): a wildcard is its own character there.
    #[must_use]
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Char(c) => *c,
                Piece::AnyRun => '*',
                Piece::AnyOne => '?',
            })
            .collect()
    }

    /// Whether `text` matches: a wildcard run matches any characters (none included),
    /// a single wildcard exactly one, every other piece only its own character.
    #[must_use]
    pub fn matches(&self, text: &str) -> bool {
        let pieces = &self.0;
        let text: Vec<char> = text.chars().collect();
        let (mut p, mut t) = (0, 0);
        let (mut star, mut mark) = (None, 0);
        while t < text.len() {
            match pieces.get(p) {
                Some(Piece::AnyRun) => {
                    star = Some(p);
                    mark = t;
                    p += 1;
                }
                Some(Piece::AnyOne) => {
                    p += 1;
                    t += 1;
                }
                Some(Piece::Char(c)) if *c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some(s) => {
                        p = s + 1;
                        mark += 1;
                        t = mark;
                    }
                    None => return false,
                },
            }
        }
        pieces[p..].iter().all(|piece| *piece == Piece::AnyRun)
    }
}

/// Replaces `${key}` with the request's single value for `key`, as literal text;
/// `${*}`, `${?}` and `${$}` are the literal characters. `None` when a variable has no
/// value (or is not closed).
pub(crate) fn substitute(text: &str, request: &Request) -> Option<Pattern> {
    let mut out = Pattern::default();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_wildcards(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let key = &after[..end];
        match key {
            "*" | "?" | "$" => out.push_literal(key),
            _ => out.push_literal(request.single(key)?),
        }
        rest = &after[end + 1..];
    }
    out.push_wildcards(rest);
    Some(out)
}

/// `*` matches any run of characters (none included), `?` exactly one.
#[must_use]
pub fn wildcard(pattern: &str, text: &str) -> bool {
    Pattern::wildcards(pattern).matches(text)
}

/// Evaluates `policies` together: the first explicit deny found wins; otherwise the
/// first allow; otherwise an implicit deny.
#[must_use]
pub fn evaluate(policies: &[&Policy], request: &Request) -> Decision {
    let mut allow = None;
    for (index, policy) in policies.iter().enumerate() {
        for statement in &policy.statements {
            if !statement.applies(request) {
                continue;
            }
            match statement.effect {
                Effect::Deny => {
                    return Decision::ExplicitDeny {
                        policy: index,
                        sid: statement.sid.clone(),
                    };
                }
                Effect::Allow if allow.is_none() => {
                    allow = Some(Decision::Allow {
                        policy: index,
                        sid: statement.sid.clone(),
                    });
                }
                Effect::Allow => {}
            }
        }
    }
    allow.unwrap_or(Decision::ImplicitDeny)
}

/// A role's policies narrowed by a session policy: allowed only where both allow, and
/// denied by an explicit deny in either.
#[must_use]
pub fn evaluate_with_session(
    role: &[&Policy],
    session: Option<&Policy>,
    request: &Request,
) -> Decision {
    let decision = evaluate(role, request);
    let Some(session) = session else {
        return decision;
    };
    match (&decision, evaluate(&[session], request)) {
        (Decision::ExplicitDeny { .. }, _) => decision,
        (_, Decision::ExplicitDeny { sid, .. }) => Decision::ExplicitDeny {
            policy: role.len(),
            sid,
        },
        (Decision::Allow { .. }, Decision::Allow { .. }) => decision,
        _ => Decision::ImplicitDeny,
    }
}

#[cfg(test)]
mod tests;
