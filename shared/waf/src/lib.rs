//! A web ACL's rules as Portcullis enforces them in front of its user pools: the AWS
//! WAF JSON shapes of `CreateWebACL` / `UpdateWebACL` (`DefaultAction`, `Rules`) and
//! `CreateIPSet` (`Addresses`), parsed and checked with WAF's error texts, and evaluated
//! against a request.
//!
//! Statements enforced: `IPSetReferenceStatement`, `RateBasedStatement` (aggregated by
//! the client address, with an optional scope-down statement), `ByteMatchStatement` on
//! `UriPath` (text transformations `NONE`, `LOWERCASE`, `URL_DECODE`, `NORMALIZE_PATH`),
//! and `AndStatement` / `OrStatement` / `NotStatement` of them. Rule actions `Allow`,
//! `Block` and `Count`. Anything else is refused when the ACL is written, never ignored
//! when it is enforced.
//!
//! Evaluation follows WAF: rules in priority order; the first matching rule whose action
//! is `Allow` or `Block` decides; `Count` goes on; with no decision, the default action
//! applies. A rate-based rule counts, per client address and fixed window, the requests
//! it evaluates that match its scope-down statement, and matches once the count is over
//! its limit (so a burst is blocked until the window ends).

use std::fmt;
use std::future::Future;
use std::net::IpAddr;

use base64::Engine;
use portcullis_types::cidr::Cidr;
use serde_json::Value;

/// `WAFInvalidParameterException`: what is wrong, in WAF's words and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParameter {
    pub reason: &'static str,
    pub field: &'static str,
    pub parameter: String,
}

impl fmt::Display for InvalidParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Error reason: {}, field: {}, parameter: {}",
            self.reason, self.field, self.parameter
        )
    }
}

const EXACTLY_ONE: &str =
    "You have used none or multiple values for a field that requires exactly one value.";
const BAD_FORMAT: &str = "The parameter contains formatting that is not valid.";
const UNSUPPORTED: &str = "Portcullis does not enforce this setting.";
const MISSING: &str = "A required parameter is missing.";
const DUPLICATE: &str = "The value is used by another rule of the web ACL.";
const OUT_OF_RANGE: &str = "The value is outside the allowed range.";

fn invalid(
    reason: &'static str,
    field: &'static str,
    parameter: impl Into<String>,
) -> InvalidParameter {
    InvalidParameter {
        reason,
        field,
        parameter: parameter.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Block,
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positional {
    Exactly,
    StartsWith,
    EndsWith,
    Contains,
    ContainsWord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformation {
    None,
    Lowercase,
    UrlDecode,
    NormalizePath,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    IpSet {
        arn: String,
    },
    RateBased {
        limit: u64,
        window_secs: u64,
        scope_down: Option<Box<Statement>>,
    },
    UriPathMatch {
        search: Vec<u8>,
        positional: Positional,
        transformations: Vec<Transformation>,
    },
    And(Vec<Statement>),
    Or(Vec<Statement>),
    Not(Box<Statement>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub priority: u64,
    pub action: Action,
    pub statement: Statement,
}

/// A web ACL's rules, in priority order, and its default action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAcl {
    pub default_action: Action,
    pub rules: Vec<Rule>,
}

impl WebAcl {
    /// The IP sets the rules name (ARNs), for the caller to resolve.
    pub fn ip_sets(&self) -> Vec<&str> {
        fn walk<'a>(statement: &'a Statement, out: &mut Vec<&'a str>) {
            match statement {
                Statement::IpSet { arn } => out.push(arn),
                Statement::RateBased {
                    scope_down: Some(inner),
                    ..
                }
                | Statement::Not(inner) => walk(inner, out),
                Statement::And(all) | Statement::Or(all) => {
                    all.iter().for_each(|s| walk(s, out));
                }
                Statement::RateBased { .. } | Statement::UriPathMatch { .. } => {}
            }
        }
        let mut out = Vec::new();
        self.rules.iter().for_each(|r| walk(&r.statement, &mut out));
        out
    }
}

/// The one member set in `object` among `names`.
fn exactly_one<'a>(
    object: &'a Value,
    names: &[&'static str],
    field: &'static str,
    parameter: &str,
) -> Result<(&'static str, &'a Value), InvalidParameter> {
    let map = object
        .as_object()
        .ok_or_else(|| invalid(EXACTLY_ONE, field, parameter))?;
    let set: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| !v.is_null()).collect();
    if set.len() != 1 {
        return Err(invalid(EXACTLY_ONE, field, parameter));
    }
    let (name, value) = set[0];
    let known = names
        .iter()
        .find(|n| **n == name.as_str())
        .ok_or_else(|| invalid(UNSUPPORTED, field, name.clone()))?;
    Ok((known, value))
}

fn action(
    value: &Value,
    field: &'static str,
    parameter: &str,
    with_count: bool,
) -> Result<Action, InvalidParameter> {
    let names: &[&'static str] = if with_count {
        &["Allow", "Block", "Count"]
    } else {
        &["Allow", "Block"]
    };
    let (name, body) = exactly_one(value, names, field, parameter)?;
    // Custom responses and request headers are not applied: refuse them rather than
    // ignore them.
    if body
        .as_object()
        .is_some_and(|b| b.values().any(|v| !v.is_null()))
    {
        return Err(invalid(UNSUPPORTED, field, format!("{name} settings")));
    }
    Ok(match name {
        "Allow" => Action::Allow,
        "Block" => Action::Block,
        _ => Action::Count,
    })
}

fn text<'a>(
    value: &'a Value,
    name: &str,
    field: &'static str,
) -> Result<&'a str, InvalidParameter> {
    value
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(MISSING, field, name))
}

fn number(value: &Value, name: &str, field: &'static str) -> Result<u64, InvalidParameter> {
    value
        .get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid(MISSING, field, name))
}

/// Parses and checks `DefaultAction` and `Rules` of a web ACL.
pub fn parse_web_acl(
    default_action: &Value,
    rules: Option<&Value>,
) -> Result<WebAcl, InvalidParameter> {
    let default_action = action(default_action, "DEFAULT_ACTION", "DefaultAction", false)?;
    let mut parsed = Vec::new();
    for rule in rules
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let name = text(rule, "Name", "RULE")?.to_owned();
        let priority = number(rule, "Priority", "RULE")?;
        if rule.get("OverrideAction").is_some_and(|v| !v.is_null()) {
            return Err(invalid(UNSUPPORTED, "OVERRIDE_ACTION", "OverrideAction"));
        }
        let action = action(
            rule.get("Action")
                .ok_or_else(|| invalid(EXACTLY_ONE, "RULE_ACTION", "RuleAction"))?,
            "RULE_ACTION",
            "RuleAction",
            true,
        )?;
        let statement = statement(
            rule.get("Statement")
                .ok_or_else(|| invalid(MISSING, "STATEMENT", "Statement"))?,
            0,
        )?;
        if parsed.iter().any(|r: &Rule| r.name == name) {
            return Err(invalid(DUPLICATE, "RULE", name));
        }
        if parsed.iter().any(|r: &Rule| r.priority == priority) {
            return Err(invalid(DUPLICATE, "RULE_PRIORITY", priority.to_string()));
        }
        parsed.push(Rule {
            name,
            priority,
            action,
            statement,
        });
    }
    parsed.sort_by_key(|r| r.priority);
    Ok(WebAcl {
        default_action,
        rules: parsed,
    })
}

/// How deep statements may nest (WAF's own limit is a few levels).
const MAX_NESTING: u32 = 5;

fn statement(value: &Value, depth: u32) -> Result<Statement, InvalidParameter> {
    if depth > MAX_NESTING {
        return Err(invalid(OUT_OF_RANGE, "STATEMENT", "nesting"));
    }
    let (name, body) = exactly_one(
        value,
        &[
            "IPSetReferenceStatement",
            "RateBasedStatement",
            "ByteMatchStatement",
            "AndStatement",
            "OrStatement",
            "NotStatement",
        ],
        "STATEMENT",
        "Statement",
    )?;
    match name {
        "IPSetReferenceStatement" => {
            if body
                .get("IPSetForwardedIPConfig")
                .is_some_and(|v| !v.is_null())
            {
                return Err(invalid(UNSUPPORTED, "STATEMENT", "IPSetForwardedIPConfig"));
            }
            Ok(Statement::IpSet {
                arn: text(body, "ARN", "STATEMENT")?.to_owned(),
            })
        }
        "RateBasedStatement" => {
            let limit = number(body, "Limit", "RATE_BASED_STATEMENT")?;
            if !(10..=2_000_000_000).contains(&limit) {
                return Err(invalid(OUT_OF_RANGE, "RATE_LIMIT", limit.to_string()));
            }
            let window_secs = body
                .get("EvaluationWindowSec")
                .and_then(Value::as_u64)
                .unwrap_or(300);
            if ![60, 120, 300, 600].contains(&window_secs) {
                return Err(invalid(
                    OUT_OF_RANGE,
                    "RATE_BASED_STATEMENT",
                    format!("EvaluationWindowSec {window_secs}"),
                ));
            }
            let key = text(body, "AggregateKeyType", "RATE_BASED_STATEMENT")?;
            if key != "IP" {
                return Err(invalid(UNSUPPORTED, "RATE_BASED_STATEMENT", key));
            }
            let scope_down = match body.get("ScopeDownStatement").filter(|v| !v.is_null()) {
                Some(inner) => Some(Box::new(statement(inner, depth + 1)?)),
                None => None,
            };
            Ok(Statement::RateBased {
                limit,
                window_secs,
                scope_down,
            })
        }
        "ByteMatchStatement" => byte_match(body),
        "AndStatement" | "OrStatement" => {
            let list = body
                .get("Statements")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(MISSING, "STATEMENT", "Statements"))?;
            if list.len() < 2 {
                return Err(invalid(OUT_OF_RANGE, "STATEMENT", "Statements"));
            }
            let all = list
                .iter()
                .map(|s| statement(s, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if name == "AndStatement" {
                Statement::And(all)
            } else {
                Statement::Or(all)
            })
        }
        _ => {
            let inner = body
                .get("Statement")
                .ok_or_else(|| invalid(MISSING, "STATEMENT", "Statement"))?;
            Ok(Statement::Not(Box::new(statement(inner, depth + 1)?)))
        }
    }
}

fn byte_match(body: &Value) -> Result<Statement, InvalidParameter> {
    let field = body
        .get("FieldToMatch")
        .ok_or_else(|| invalid(EXACTLY_ONE, "FIELD_TO_MATCH", "FieldToMatch"))?;
    exactly_one(field, &["UriPath"], "FIELD_TO_MATCH", "FieldToMatch")?;
    // A blob: base64 in the JSON protocol.
    let search = text(body, "SearchString", "BYTE_MATCH_STATEMENT")?;
    let search = base64::engine::general_purpose::STANDARD
        .decode(search)
        .map_err(|_| invalid(BAD_FORMAT, "BYTE_MATCH_STATEMENT", "SearchString"))?;
    if search.is_empty() || search.len() > 200 {
        return Err(invalid(
            OUT_OF_RANGE,
            "BYTE_MATCH_STATEMENT",
            "SearchString",
        ));
    }
    let positional = match text(body, "PositionalConstraint", "BYTE_MATCH_STATEMENT")? {
        "EXACTLY" => Positional::Exactly,
        "STARTS_WITH" => Positional::StartsWith,
        "ENDS_WITH" => Positional::EndsWith,
        "CONTAINS" => Positional::Contains,
        "CONTAINS_WORD" => Positional::ContainsWord,
        other => return Err(invalid(BAD_FORMAT, "POSITIONAL_CONSTRAINT", other)),
    };
    let mut steps: Vec<(u64, Transformation)> = Vec::new();
    for step in body
        .get("TextTransformations")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(MISSING, "TEXT_TRANSFORMATION", "TextTransformations"))?
    {
        let priority = number(step, "Priority", "TEXT_TRANSFORMATION")?;
        let kind = match text(step, "Type", "TEXT_TRANSFORMATION")? {
            "NONE" => Transformation::None,
            "LOWERCASE" => Transformation::Lowercase,
            "URL_DECODE" => Transformation::UrlDecode,
            "NORMALIZE_PATH" => Transformation::NormalizePath,
            other => return Err(invalid(UNSUPPORTED, "TEXT_TRANSFORMATION", other)),
        };
        if steps.iter().any(|(p, _)| *p == priority) {
            return Err(invalid(
                DUPLICATE,
                "TEXT_TRANSFORMATION",
                priority.to_string(),
            ));
        }
        steps.push((priority, kind));
    }
    if steps.is_empty() {
        return Err(invalid(
            MISSING,
            "TEXT_TRANSFORMATION",
            "TextTransformations",
        ));
    }
    steps.sort_by_key(|(p, _)| *p);
    Ok(Statement::UriPathMatch {
        search,
        positional,
        transformations: steps.into_iter().map(|(_, t)| t).collect(),
    })
}

/// Parses an IP set's `Addresses` (CIDR blocks of `version`: `IPV4` or `IPV6`).
pub fn parse_addresses(version: &str, addresses: &[String]) -> Result<Vec<Cidr>, InvalidParameter> {
    let v6 = match version {
        "IPV4" => false,
        "IPV6" => true,
        other => return Err(invalid(BAD_FORMAT, "IP_ADDRESS_VERSION", other)),
    };
    addresses
        .iter()
        .map(|address| {
            let cidr = Cidr::parse(address)
                .ok()
                .filter(|c| c.network.is_ipv6() == v6 && address.contains('/'))
                .ok_or_else(|| invalid(BAD_FORMAT, "IP_ADDRESS", address.clone()))?;
            Ok(cidr)
        })
        .collect()
}

/// What evaluation needs to know of a request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The client address (see the gateway's `client_ip`).
    pub ip: Option<IpAddr>,
    /// The URI path, as received.
    pub path: &'a str,
    /// Seconds since the epoch, for the rate windows.
    pub now_secs: u64,
}

/// The IP sets a web ACL names, resolved.
pub trait IpSets {
    fn contains(&self, arn: &str, ip: IpAddr) -> bool;
}

/// A counter shared by every replica (the ephemeral store): adds one to `key` and
/// answers the new count; the key is forgotten after `ttl_secs`.
pub trait RateCounter {
    fn hit(&self, key: &str, ttl_secs: u64) -> impl Future<Output = u64> + Send;
}

/// The decision on a request and the rule that made it (`None`: the default action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub rule: Option<String>,
}

/// Evaluates `acl` (whose id scopes its rate counters) for `request`.
pub async fn evaluate<S: IpSets + Sync, C: RateCounter + Sync>(
    acl: &WebAcl,
    acl_id: &str,
    request: &Request<'_>,
    sets: &S,
    counter: &C,
) -> Decision {
    for rule in &acl.rules {
        let context = Context {
            acl_id,
            rule: &rule.name,
            request,
            sets,
            counter,
        };
        if !context.matches(&rule.statement).await {
            continue;
        }
        match rule.action {
            Action::Count => {}
            action => {
                return Decision {
                    action,
                    rule: Some(rule.name.clone()),
                };
            }
        }
    }
    Decision {
        action: acl.default_action,
        rule: None,
    }
}

struct Context<'a, S, C> {
    acl_id: &'a str,
    rule: &'a str,
    request: &'a Request<'a>,
    sets: &'a S,
    counter: &'a C,
}

impl<S: IpSets + Sync, C: RateCounter + Sync> Context<'_, S, C> {
    /// Whether `statement` matches (its nesting is bounded when the ACL is parsed).
    fn matches<'s>(
        &'s self,
        statement: &'s Statement,
    ) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + 's>> {
        Box::pin(async move {
            match statement {
                Statement::IpSet { arn } => self
                    .request
                    .ip
                    .is_some_and(|ip| self.sets.contains(arn, ip)),
                Statement::UriPathMatch {
                    search,
                    positional,
                    transformations,
                } => {
                    let field = transform(self.request.path.as_bytes(), transformations);
                    positioned(&field, search, *positional)
                }
                Statement::And(all) => {
                    for s in all {
                        if !self.matches(s).await {
                            return false;
                        }
                    }
                    true
                }
                Statement::Or(all) => {
                    for s in all {
                        if self.matches(s).await {
                            return true;
                        }
                    }
                    false
                }
                Statement::Not(inner) => !self.matches(inner).await,
                Statement::RateBased {
                    limit,
                    window_secs,
                    scope_down,
                } => {
                    let Some(ip) = self.request.ip else {
                        return false;
                    };
                    if let Some(scope) = scope_down
                        && !self.matches(scope).await
                    {
                        return false;
                    }
                    let window = self.request.now_secs / window_secs;
                    let key = format!("waf-rate/{}/{}/{ip}/{window}", self.acl_id, self.rule);
                    self.counter.hit(&key, *window_secs).await > *limit
                }
            }
        })
    }
}

fn transform(input: &[u8], steps: &[Transformation]) -> Vec<u8> {
    steps.iter().fold(input.to_vec(), |value, step| match step {
        Transformation::None => value,
        Transformation::Lowercase => value.to_ascii_lowercase(),
        Transformation::UrlDecode => url_decode(&value),
        Transformation::NormalizePath => normalize_path(&value),
    })
}

fn url_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match (
            b,
            input.get(i + 1).copied().and_then(hex),
            input.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi * 16 + lo);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Runs of `/` collapsed and `.` / `..` segments resolved.
fn normalize_path(input: &[u8]) -> Vec<u8> {
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in input.split(|b| *b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(input.len());
    for segment in &segments {
        out.push(b'/');
        out.extend_from_slice(segment);
    }
    if out.is_empty() || input.ends_with(b"/") {
        out.push(b'/');
    }
    out
}

fn positioned(field: &[u8], search: &[u8], positional: Positional) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match positional {
        Positional::Exactly => field == search,
        Positional::StartsWith => field.starts_with(search),
        Positional::EndsWith => field.ends_with(search),
        Positional::Contains => field.windows(search.len()).any(|w| w == search),
        Positional::ContainsWord => (0..=field.len().saturating_sub(search.len())).any(|at| {
            field.get(at..at + search.len()) == Some(search)
                && (at == 0 || !word(field[at - 1]))
                && field.get(at + search.len()).is_none_or(|b| !word(*b))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::Mutex;

    struct Sets(Vec<(String, Vec<Cidr>)>);

    impl IpSets for Sets {
        fn contains(&self, arn: &str, ip: IpAddr) -> bool {
            self.0
                .iter()
                .any(|(a, ranges)| a == arn && ranges.iter().any(|r| r.contains(ip)))
        }
    }

    #[derive(Default)]
    struct Counter(Mutex<HashMap<String, u64>>);

    impl RateCounter for Counter {
        fn hit(&self, key: &str, _ttl_secs: u64) -> impl Future<Output = u64> + Send {
            let mut counts = self.0.lock().unwrap();
            let count = counts.entry(key.to_owned()).or_default();
            *count += 1;
            let value = *count;
            async move { value }
        }
    }

    fn block_rule(name: &str, priority: u64, statement: Value) -> Value {
        json!({"Name": name, "Priority": priority, "Action": {"Block": {}}, "Statement": statement,
               "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": name}})
    }

    fn search(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn request(ip: &str, path: &str, now_secs: u64) -> Request<'static> {
        Request {
            ip: ip.parse().ok(),
            path: Box::leak(path.to_owned().into_boxed_str()),
            now_secs,
        }
    }

    fn run(acl: &WebAcl, sets: &Sets, counter: &Counter, r: &Request<'_>) -> Decision {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(evaluate(acl, "acl-1", r, sets, counter))
    }

    #[test]
    fn rules_decide_in_priority_order_and_the_default_action_otherwise() {
        let acl = parse_web_acl(
            &json!({"Allow": {}}),
            Some(&json!([
                block_rule("blocked-ips", 2, json!({"IPSetReferenceStatement": {"ARN": "arn:set"}})),
                {"Name": "admin-allowed", "Priority": 1, "Action": {"Allow": {}},
                 "Statement": {"ByteMatchStatement": {"SearchString": search("/oauth2/"),
                   "FieldToMatch": {"UriPath": {}}, "PositionalConstraint": "STARTS_WITH",
                   "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}},
                 "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": "m"}},
            ])),
        )
        .unwrap();
        assert_eq!(acl.rules[0].name, "admin-allowed");
        assert_eq!(acl.ip_sets(), ["arn:set"]);
        let sets = Sets(vec![(
            "arn:set".into(),
            parse_addresses("IPV4", &["192.0.2.0/24".into()]).unwrap(),
        )]);
        let counter = Counter::default();
        let decide = |ip: &str, path: &str| run(&acl, &sets, &counter, &request(ip, path, 0));
        assert_eq!(decide("192.0.2.9", "/").action, Action::Block);
        assert_eq!(
            decide("192.0.2.9", "/").rule.as_deref(),
            Some("blocked-ips")
        );
        assert_eq!(decide("192.0.2.9", "/OAuth2/token").action, Action::Allow);
        assert_eq!(decide("198.51.100.1", "/").rule, None);
    }

    #[test]
    fn a_rate_rule_blocks_a_burst_until_its_window_ends() {
        let acl = parse_web_acl(
            &json!({"Allow": {}}),
            Some(&json!([block_rule(
                "burst",
                0,
                json!({"RateBasedStatement": {
                "Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "IP"}})
            )])),
        )
        .unwrap();
        let sets = Sets(Vec::new());
        let counter = Counter::default();
        let at = |ip: &str, secs: u64| run(&acl, &sets, &counter, &request(ip, "/", secs)).action;
        for _ in 0..10 {
            assert_eq!(at("203.0.113.1", 120), Action::Allow);
        }
        assert_eq!(at("203.0.113.1", 150), Action::Block);
        // Another address has its own count; the next window starts again.
        assert_eq!(at("203.0.113.2", 150), Action::Allow);
        assert_eq!(at("203.0.113.1", 180), Action::Allow);
    }

    #[test]
    fn byte_matches_transform_the_path_first() {
        let path = transform(
            b"/Foo//./bar/../Admin%2Fx",
            &[
                Transformation::UrlDecode,
                Transformation::NormalizePath,
                Transformation::Lowercase,
            ],
        );
        assert_eq!(path, b"/foo/admin/x");
        assert!(positioned(
            b"/a/admin/b",
            b"admin",
            Positional::ContainsWord
        ));
        assert!(!positioned(
            b"/a/administrator",
            b"admin",
            Positional::ContainsWord
        ));
        assert!(positioned(b"/login", b"/login", Positional::Exactly));
        assert!(positioned(b"/x/login", b"login", Positional::EndsWith));
    }

    #[test]
    fn what_is_not_enforced_is_refused_with_wafs_fields() {
        let rule = |statement: Value| {
            parse_web_acl(
                &json!({"Allow": {}}),
                Some(&json!([block_rule("r", 0, statement)])),
            )
        };
        let err = rule(json!({"SqliMatchStatement": {}})).unwrap_err();
        assert_eq!((err.reason, err.field), (UNSUPPORTED, "STATEMENT"));
        let err =
            rule(json!({"IPSetReferenceStatement": {"ARN": "a"}, "NotStatement": {}})).unwrap_err();
        assert_eq!((err.reason, err.field), (EXACTLY_ONE, "STATEMENT"));
        assert_eq!(
            err.to_string(),
            format!("Error reason: {EXACTLY_ONE}, field: STATEMENT, parameter: Statement")
        );
        let err = rule(json!({"RateBasedStatement": {"Limit": 5, "AggregateKeyType": "IP"}}))
            .unwrap_err();
        assert_eq!(err.field, "RATE_LIMIT");
        assert!(parse_web_acl(&json!({"Allow": {}, "Block": {}}), None).is_err());
        let err = parse_addresses("IPV4", &["0.0.0.0".into()]).unwrap_err();
        assert_eq!((err.reason, err.field), (BAD_FORMAT, "IP_ADDRESS"));
        assert!(parse_addresses("IPV4", &["2001:db8::/32".into()]).is_err());
        assert!(parse_addresses("IPV6", &["2001:db8::/32".into()]).is_ok());
    }
}
