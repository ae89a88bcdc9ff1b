//! The `Condition` element: operators over context keys. Within a block every operator
//! must hold, within an operator every key, and a key holds when any of the listed
//! values matches (for a negated operator: when none does). A missing key makes a
//! positive operator false and a negated one true; `...IfExists` makes a missing key
//! true; `ForAnyValue:` / `ForAllValues:` compare multi-valued keys as IAM does: some
//! value (every value) must satisfy the operator, a negated operator being satisfied
//! by a value that matches none of the listed ones; a missing key fails `ForAnyValue:`
//! and passes `ForAllValues:`. Policy variables in the listed values match literally.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Pattern, Request, substitute};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConditionError {
    #[error("unknown condition operator {0}")]
    UnknownOperator(String),
    #[error("the Condition element must map operators to key/value objects")]
    Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Ordering),
    Date(Ordering),
    Bool,
    IpAddress,
    Null,
}

/// The comparison of a numeric or date operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ordering {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOperator {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    kind: Kind,
    negated: bool,
    if_exists: bool,
    set: SetOperator,
    key: String,
    values: Vec<String>,
}

fn operator(name: &str) -> Result<(Kind, bool, bool, SetOperator), ConditionError> {
    let unknown = || ConditionError::UnknownOperator(name.to_owned());
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (SetOperator::ForAnyValue, rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (SetOperator::ForAllValues, rest)
    } else {
        (SetOperator::Single, name)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) if base != "Null" => (base, true),
        _ => (rest, false),
    };
    let (kind, negated) = match rest {
        "StringEquals" => (Kind::StringEquals, false),
        "StringNotEquals" => (Kind::StringEquals, true),
        "StringEqualsIgnoreCase" => (Kind::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Kind::StringEqualsIgnoreCase, true),
        "StringLike" | "ArnLike" | "ArnEquals" => (Kind::StringLike, false),
        "StringNotLike" | "ArnNotLike" | "ArnNotEquals" => (Kind::StringLike, true),
        "NumericEquals" => (Kind::Numeric(Ordering::Equals), false),
        "NumericNotEquals" => (Kind::Numeric(Ordering::Equals), true),
        "NumericLessThan" => (Kind::Numeric(Ordering::LessThan), false),
        "NumericLessThanEquals" => (Kind::Numeric(Ordering::LessThanEquals), false),
        "NumericGreaterThan" => (Kind::Numeric(Ordering::GreaterThan), false),
        "NumericGreaterThanEquals" => (Kind::Numeric(Ordering::GreaterThanEquals), false),
        "DateEquals" => (Kind::Date(Ordering::Equals), false),
        "DateNotEquals" => (Kind::Date(Ordering::Equals), true),
        "DateLessThan" => (Kind::Date(Ordering::LessThan), false),
        "DateLessThanEquals" => (Kind::Date(Ordering::LessThanEquals), false),
        "DateGreaterThan" => (Kind::Date(Ordering::GreaterThan), false),
        "DateGreaterThanEquals" => (Kind::Date(Ordering::GreaterThanEquals), false),
        "Bool" => (Kind::Bool, false),
        "IpAddress" => (Kind::IpAddress, false),
        "NotIpAddress" => (Kind::IpAddress, true),
        "Null" => (Kind::Null, false),
        _ => return Err(unknown()),
    };
    Ok((kind, negated, if_exists, set))
}

/// Condition values may be strings, numbers or booleans, alone or in a list.
fn values(value: &Value) -> Result<Vec<String>, ConditionError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ConditionError::Shape),
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

pub(crate) fn parse_block(block: &Value) -> Result<Vec<Condition>, ConditionError> {
    let block = block.as_object().ok_or(ConditionError::Shape)?;
    let mut conditions = Vec::new();
    for (name, keys) in block {
        let (kind, negated, if_exists, set) = operator(name)?;
        let keys = keys.as_object().ok_or(ConditionError::Shape)?;
        for (key, value) in keys {
            conditions.push(Condition {
                kind,
                negated,
                if_exists,
                set,
                key: key.clone(),
                values: values(value)?,
            });
        }
    }
    Ok(conditions)
}

fn compare(ordering: Ordering, left: f64, right: f64) -> bool {
    match ordering {
        Ordering::Equals => (left - right).abs() < f64::EPSILON,
        Ordering::LessThan => left < right,
        Ordering::LessThanEquals => left <= right,
        Ordering::GreaterThan => left > right,
        Ordering::GreaterThanEquals => left >= right,
    }
}

/// A date as an RFC 3339 time or seconds since the epoch.
fn epoch(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().or_else(|| {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp() as f64)
    })
}

/// `address` inside `network` (a CIDR block, or one address).
fn in_network(network: &str, address: &str) -> bool {
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let (base, bits) = match network.split_once('/') {
        Some((base, bits)) => (base, bits.parse::<u32>().ok()),
        None => (network, None),
    };
    match (base.parse::<IpAddr>(), address) {
        (Ok(IpAddr::V4(base)), IpAddr::V4(address)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(base) & mask == u32::from(address) & mask
        }
        (Ok(IpAddr::V6(base)), IpAddr::V6(address)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(base) & mask == u128::from(address) & mask
        }
        _ => false,
    }
}

impl Condition {
    /// Whether one context value matches one policy value (policy variables replaced).
    fn matches(&self, pattern: &Pattern, value: &str) -> bool {
        if self.kind == Kind::StringLike {
            return pattern.matches(value);
        }
        let pattern = pattern.text();
        match self.kind {
            Kind::StringEquals => pattern == value,
            Kind::StringEqualsIgnoreCase => pattern.eq_ignore_ascii_case(value),
            Kind::Numeric(ordering) => match (value.parse::<f64>(), pattern.parse::<f64>()) {
                (Ok(left), Ok(right)) => compare(ordering, left, right),
                _ => false,
            },
            Kind::Date(ordering) => match (epoch(value), epoch(&pattern)) {
                (Some(left), Some(right)) => compare(ordering, left, right),
                _ => false,
            },
            Kind::Bool => pattern.eq_ignore_ascii_case(value),
            Kind::IpAddress => in_network(&pattern, value),
            Kind::StringLike | Kind::Null => false,
        }
    }

    /// Whether a context value matches any of the condition's values.
    fn any_value(&self, patterns: &[Pattern], value: &str) -> bool {
        patterns.iter().any(|p| self.matches(p, value))
    }

    pub(crate) fn holds(&self, request: &Request) -> bool {
        let context = request.values(&self.key).filter(|v| !v.is_empty());
        if self.kind == Kind::Null {
            // `true` asks that the key be absent, `false` that it be present.
            let absent = context.is_none();
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case("true") == absent);
        }
        let Some(context) = context else {
            return match self.set {
                // Nothing to check against every value: vacuously true.
                SetOperator::ForAllValues => true,
                // No value at all, so none that matches, nor one that does not.
                SetOperator::ForAnyValue => self.if_exists,
                SetOperator::Single => self.negated || self.if_exists,
            };
        };
        let patterns: Vec<Pattern> = self
            .values
            .iter()
            .filter_map(|v| substitute(v, request))
            .collect();
        // For a negated operator a value "matches" when it matches none of the
        // condition's values (IAM: `ForAnyValue:StringNotLike` holds when some value is
        // unlike every pattern, `ForAllValues:StringNotLike` when every value is).
        let hit = |value: &String| self.any_value(&patterns, value) != self.negated;
        match self.set {
            SetOperator::Single => {
                let any = context.iter().any(|v| self.any_value(&patterns, v));
                any != self.negated
            }
            SetOperator::ForAnyValue => context.iter().any(hit),
            SetOperator::ForAllValues => context.iter().all(hit),
        }
    }
}
