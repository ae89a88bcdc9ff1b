//! The verifier and the signer against botocore (`tests/botocore_oracle.py`, one run for
//! the whole batch): botocore signs a few thousand made-up requests, and
//! - the verifier accepts every one it signs with the `Authorization` header, as the
//!   caller botocore signed for, and refuses each with one thing changed after signing:
//!   one digit of the signature, a signed header's value, the path, the query, the
//!   method, the body, the signing time, the scope's service;
//! - the signer, given the same request, makes botocore's `Authorization` header.
//!
//! The requests vary what canonicalization must get right: paths with unreserved,
//! reserved and percent-encoded characters (UTF-8 among them), dot segments and empty
//! segments; queries with repeated keys, empty values, bare keys, `+`, malformed escapes
//! and lower-case hex; header names in mixed case, repeated headers, values with runs of
//! spaces and tabs; `X-Amz-Target`, `Content-Type`, `X-Amz-Security-Token` and
//! `X-Amz-Content-SHA256`; bodies; the services cognito-idp, cognito-identity and sts.
//!
//! Refused by design where botocore signs: presigned URLs (query-string authentication)
//! and the legacy `Date` header in place of `X-Amz-Date`, which no SDK uses for these
//! services. Not generated, because they cannot be sent as botocore signs them: raw
//! non-ASCII in a path (the HTTP client percent-encodes it after signing), and header
//! values with line breaks or non-ASCII text (HTTP refuses the first; Python sends the
//! second as Latin-1 after signing its UTF-8).
//!
//! Requires python3 on PATH with botocore (the test virtualenv of `.ci/test`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use http::{HeaderMap, HeaderName, HeaderValue};
use portcullis_sigv4::sign::{Request as SignRequest, Signer};
use portcullis_sigv4::{SigV4Error, SignedRequest, VerifiedCaller, verify};
use serde::Deserialize;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// A small deterministic generator (xorshift64), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Any request, signed with the `Authorization` header.
    Header,
    /// A `POST` of the shape `sign::Signer` makes, signed by both.
    Signer,
    /// A presigned URL: refused by design.
    Presigned,
    /// Signed with a `Date` header instead of `X-Amz-Date`: refused by design.
    DateHeader,
}

#[derive(Debug, Clone)]
struct Spec {
    kind: Kind,
    method: String,
    host: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    access_key_id: String,
    secret: String,
    token: Option<String>,
    service: String,
    region: String,
    timestamp: String,
    /// For `Kind::Signer`.
    content_type: String,
    target: String,
}

impl Spec {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "method": self.method,
            "host": self.host,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": hex::encode(&self.body),
            "access_key_id": self.access_key_id,
            "secret": self.secret,
            "token": self.token,
            "service": self.service,
            "region": self.region,
            "timestamp": self.timestamp,
            "presign": self.kind == Kind::Presigned,
        })
    }

    fn now(&self) -> OffsetDateTime {
        PrimitiveDateTime::parse(
            &self.timestamp,
            format_description!("[year][month][day]T[hour][minute][second]Z"),
        )
        .unwrap()
        .assume_utc()
    }
}

const UNRESERVED: &[u8] = b"azAZ09-._~";
/// Reserved characters a path or query may carry as they are.
const RESERVED: &[&str] = &["!", "$", "'", "(", ")", "*", "+", ",", ";", ":", "@"];
const ESCAPES: &[&str] = &[
    "%20",
    "%2F",
    "%2f",
    "%25",
    "%E2%9C%93",
    "%c3%a9",
    "%41",
    "%7E",
    "%3D",
    "%26",
    "%2B",
    "%00",
    "%F0%9F%94%91",
];

fn piece(rng: &mut Rng, query: bool) -> String {
    match rng.below(10) {
        0 | 1 => rng.pick(RESERVED).to_owned(),
        2 | 3 => rng.pick(ESCAPES).to_owned(),
        4 if query => rng.pick(&["/", "?", "%zz", "%4", "="]).to_owned(),
        4 => rng.pick(&["&", "="]).to_owned(),
        _ => char::from(rng.pick(UNRESERVED)).to_string(),
    }
}

fn word(rng: &mut Rng, query: bool) -> String {
    (0..1 + rng.below(5)).map(|_| piece(rng, query)).collect()
}

fn path(rng: &mut Rng) -> String {
    if rng.chance(15) {
        return "/".into();
    }
    let segments: Vec<String> = (0..1 + rng.below(5))
        .map(|_| match rng.below(10) {
            0 => ".".into(),
            1 => "..".into(),
            2 => String::new(),
            _ => word(rng, false),
        })
        .collect();
    let trailing = if rng.chance(30) { "/" } else { "" };
    format!("/{}{trailing}", segments.join("/"))
}

fn query(rng: &mut Rng) -> Option<String> {
    if rng.chance(40) {
        return None;
    }
    let mut pairs: Vec<String> = Vec::new();
    for _ in 0..rng.below(6) {
        let key = if pairs.is_empty() || rng.chance(70) {
            word(rng, true).replace('=', "")
        } else {
            // A key again.
            pairs[rng.below(pairs.len())]
                .split('=')
                .next()
                .unwrap()
                .to_owned()
        };
        pairs.push(match rng.below(6) {
            0 => key,
            1 => format!("{key}="),
            2 => String::new(),
            _ => format!("{key}={}", word(rng, true)),
        });
    }
    Some(pairs.join("&"))
}

/// A header value: words with runs of spaces and tabs between them and around them.
fn header_value(rng: &mut Rng, words: &[&str]) -> String {
    const SPACE: &[&str] = &[" ", " ", "   ", "\t", " \t  "];
    let mut value = String::new();
    if rng.chance(20) {
        value.push_str(rng.pick(SPACE));
    }
    for i in 0..1 + rng.below(3) {
        if i > 0 {
            value.push_str(rng.pick(SPACE));
        }
        value.push_str(rng.pick(words));
    }
    if rng.chance(20) {
        value.push_str(rng.pick(SPACE));
    }
    value
}

const CONTENT_WORDS: &[&str] = &[
    "application/x-amz-json-1.1",
    "application/x-amz-json-1.0",
    "application/json;",
    "charset=utf-8",
    "text/plain",
];
const NOTE_WORDS: &[&str] = &[
    "",
    "a",
    "b,c",
    "\"quoted\"",
    "(x)",
    "k=v",
    "~!@#$%^&*",
    "UPPER",
];
const TARGETS: &[&str] = &[
    "AWSCognitoIdentityProviderService.ListUsers",
    "AWSCognitoIdentityProviderService.InitiateAuth",
    "AWSCognitoIdentityService.GetId",
    "AWSSecurityTokenServiceV20110615.AssumeRoleWithWebIdentity",
];
const HOSTS: &[&str] = &[
    "127.0.0.1:9229",
    "localhost:8080",
    "cognito-idp.us-east-1.amazonaws.com",
    "[::1]:9229",
];

fn body(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => Vec::new(),
        1 => (0..rng.below(300))
            .map(|_| u8::try_from(rng.below(256)).unwrap())
            .collect(),
        _ => format!(
            "{{\"UserPoolId\":\"us-east-1_{}\",\"Filter\":\"email ^= \\\"a{}\\\"\"}}",
            rng.below(100_000),
            rng.below(1000)
        )
        .into_bytes(),
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

fn spec(rng: &mut Rng, kind: Kind) -> Spec {
    let service = rng
        .pick(&["cognito-idp", "cognito-identity", "sts"])
        .to_owned();
    let region = rng
        .pick(&["us-east-1", "eu-west-1", "ap-southeast-2"])
        .to_owned();
    let token = rng
        .chance(30)
        .then(|| format!("FQoGZXIvYXdzE{}//////////wEaDEXAMPLE+/=", rng.below(1000)));
    let timestamp = format!(
        "2026{:02}{:02}T{:02}{:02}{:02}Z",
        1 + rng.below(12),
        1 + rng.below(28),
        1 + rng.below(22),
        rng.below(60),
        rng.below(60)
    );
    let secret: String = (0..40)
        .map(|_| char::from(rng.pick(b"abcXYZ0189+/")))
        .collect();
    let body = body(rng);
    let content_type = header_value(rng, CONTENT_WORDS);
    let target = if rng.chance(70) {
        rng.pick(TARGETS).to_owned()
    } else {
        String::new()
    };
    let mut headers = vec![("Content-Type".to_owned(), content_type.clone())];
    if !target.is_empty() {
        headers.push(("X-Amz-Target".to_owned(), target.clone()));
    }
    let mut spec = Spec {
        kind,
        method: "POST".into(),
        host: rng.pick(HOSTS).to_owned(),
        path: path(rng),
        query: None,
        headers,
        body,
        access_key_id: if token.is_some() {
            "ASIAEXAMPLE".into()
        } else {
            "AKIDEXAMPLE".into()
        },
        secret,
        token,
        service,
        region,
        timestamp,
        content_type,
        target,
    };
    if kind == Kind::Signer {
        return spec;
    }
    spec.method = rng
        .pick(&["POST", "POST", "GET", "PUT", "DELETE", "PATCH"])
        .to_owned();
    spec.query = query(rng);
    if rng.chance(20) {
        spec.headers.remove(0);
    }
    for _ in 0..rng.below(3) {
        let name = rng.pick(&["X-Portcullis-Note", "x-PORTCULLIS-extra", "X-Amz-Meta-Tag"]);
        spec.headers
            .push((name.to_owned(), header_value(rng, NOTE_WORDS)));
    }
    if rng.chance(40) {
        spec.headers
            .push(("User-Agent".into(), "Boto3/1.40 md/Botocore#1.40".into()));
    }
    if rng.chance(20) {
        let hash = sha256_hex(&spec.body);
        let hash = if rng.chance(30) {
            hash.to_ascii_uppercase()
        } else {
            hash
        };
        spec.headers.push(("X-Amz-Content-SHA256".into(), hash));
    }
    if kind == Kind::Presigned {
        // As a browser would follow the link.
        spec.method = "GET".into();
        spec.body.clear();
        spec.headers.retain(|(name, _)| name == "User-Agent");
    }
    if kind == Kind::DateHeader {
        spec.headers
            .push(("Date".into(), "Thu, 26 Nov 2026 12:44:00 GMT".into()));
    }
    spec
}

#[derive(Deserialize)]
struct Batch {
    botocore: String,
    signed: Vec<Signed>,
}

#[derive(Deserialize)]
struct Signed {
    url: String,
    headers: Vec<(String, String)>,
    canonical_request: String,
    string_to_sign: String,
}

fn botocore(specs: &[Spec]) -> Batch {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/botocore_oracle.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3 (with botocore, as .ci/test installs it)");
    let request =
        serde_json::json!({ "requests": specs.iter().map(Spec::json).collect::<Vec<_>>() });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let batch: Batch = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(batch.signed.len(), specs.len());
    batch
}

/// A signed request as it arrives: method, raw path and query, headers, body.
#[derive(Clone)]
struct Arrived {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Arrived {
    fn new(spec: &Spec, signed: &Signed) -> Self {
        let target = &signed.url[signed.url.find(&spec.host).unwrap() + spec.host.len()..];
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers = HeaderMap::new();
        for (name, value) in &signed.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        Self {
            method: spec.method.clone(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: spec.body.clone(),
        }
    }

    fn verify(&self, spec: &Spec) -> Result<VerifiedCaller, SigV4Error> {
        let request = SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        };
        let secret = |akid: &str| (akid == spec.access_key_id).then(|| spec.secret.clone());
        verify(&request, secret, spec.now())
    }

    fn header(&self, name: &str) -> String {
        self.headers[name].to_str().unwrap().to_owned()
    }

    fn set(&mut self, name: &str, value: &str) {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
}

/// The same request with one signed thing changed, and the error that must follow.
fn alterations(
    rng: &mut Rng,
    spec: &Spec,
    arrived: &Arrived,
) -> Vec<(&'static str, Arrived, SigV4Error)> {
    let mismatch = SigV4Error::SignatureMismatch;
    let authorization = arrived.header("authorization");
    let mut out = Vec::new();

    let mut changed = arrived.clone();
    let at = authorization.find("Signature=").unwrap() + "Signature=".len() + rng.below(64);
    let mut bytes = authorization.clone().into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    changed.set("authorization", &String::from_utf8(bytes).unwrap());
    out.push(("one digit of the signature", changed, mismatch.clone()));

    let signed_headers: Vec<String> = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .split(';')
        .filter(|h| !["x-amz-date", "x-amz-content-sha256"].contains(h))
        .map(str::to_owned)
        .collect();
    let name = &signed_headers[rng.below(signed_headers.len())];
    let mut changed = arrived.clone();
    let value = changed
        .headers
        .get_all(name.as_str())
        .iter()
        .next()
        .unwrap();
    let value = format!("{}x", value.to_str().unwrap());
    let mut values: Vec<HeaderValue> = changed
        .headers
        .get_all(name.as_str())
        .iter()
        .cloned()
        .collect();
    values[0] = HeaderValue::from_str(&value).unwrap();
    changed.headers.remove(name.as_str());
    for v in values {
        changed
            .headers
            .append(HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
    }
    out.push(("a signed header's value", changed, mismatch.clone()));

    let mut changed = arrived.clone();
    changed.path = if changed.path.ends_with('/') {
        format!("{}mutated", changed.path)
    } else {
        format!("{}/mutated", changed.path)
    };
    out.push(("the path", changed, mismatch.clone()));

    let mut changed = arrived.clone();
    changed.query = if changed.query.is_empty() {
        "mutated=1".into()
    } else {
        format!("{}&mutated=1", changed.query)
    };
    out.push(("the query", changed, mismatch.clone()));

    let mut changed = arrived.clone();
    changed.method = if changed.method == "PUT" {
        "POST"
    } else {
        "PUT"
    }
    .into();
    out.push(("the method", changed, mismatch.clone()));

    let mut changed = arrived.clone();
    match changed.body.first_mut() {
        Some(b) => *b ^= 1,
        None => changed.body.push(b'{'),
    }
    let body_error = if changed.headers.contains_key("x-amz-content-sha256") {
        SigV4Error::ContentHashMismatch
    } else {
        mismatch.clone()
    };
    out.push(("the body", changed, body_error));

    // One second off, on the same day and well within the clock skew.
    let mut changed = arrived.clone();
    let date = changed.header("x-amz-date");
    let seconds: u8 = date[13..15].parse().unwrap();
    let other = if seconds == 59 { 58 } else { seconds + 1 };
    changed.set("x-amz-date", &format!("{}{other:02}Z", &date[..13]));
    out.push(("the signing time", changed, mismatch.clone()));

    let mut changed = arrived.clone();
    let other = if spec.service == "sts" {
        "cognito-idp"
    } else {
        "sts"
    };
    changed.set(
        "authorization",
        &authorization.replace(
            &format!("/{}/aws4_request", spec.service),
            &format!("/{other}/aws4_request"),
        ),
    );
    out.push(("the scope's service", changed, mismatch));
    out
}

#[test]
fn the_verifier_takes_what_botocore_signs_and_nothing_changed_since() {
    let mut rng = Rng(0x5167_0004_B070_C0DE);
    let mut specs = Vec::new();
    for i in 0..1500 {
        let kind = match i % 50 {
            0 => Kind::Presigned,
            1 => Kind::DateHeader,
            2..=11 => Kind::Signer,
            _ => Kind::Header,
        };
        specs.push(spec(&mut rng, kind));
    }
    let batch = botocore(&specs);
    let mut failures = Vec::new();
    let mut verified = 0;
    let mut refused = 0;
    for (spec, signed) in specs.iter().zip(&batch.signed) {
        let arrived = Arrived::new(spec, signed);
        let outcome = arrived.verify(spec);
        let explain = || {
            format!(
                "{spec:?}\nbotocore's canonical request:\n{}\nstring to sign:\n{}",
                signed.canonical_request, signed.string_to_sign
            )
        };
        match spec.kind {
            Kind::Presigned => {
                if outcome != Err(SigV4Error::Missing) {
                    failures.push(format!("a presigned URL: {outcome:?}\n{}", explain()));
                }
                continue;
            }
            Kind::DateHeader => {
                if !matches!(outcome, Err(SigV4Error::Malformed(ref m)) if m.contains("X-Amz-Date"))
                {
                    failures.push(format!("signed with Date: {outcome:?}\n{}", explain()));
                }
                continue;
            }
            Kind::Header | Kind::Signer => {}
        }
        let expected = VerifiedCaller {
            access_key_id: spec.access_key_id.clone(),
            region: spec.region.clone(),
            service: spec.service.clone(),
            security_token: spec.token.clone(),
        };
        if outcome != Ok(expected) {
            failures.push(format!("refused: {outcome:?}\n{}", explain()));
            continue;
        }
        verified += 1;
        for (what, changed, error) in alterations(&mut rng, spec, &arrived) {
            let outcome = changed.verify(spec);
            if outcome != Err(error.clone()) {
                failures.push(format!(
                    "with {what} changed: {outcome:?}, not {error:?}\n{}",
                    explain()
                ));
            }
            refused += 1;
        }
    }
    eprintln!(
        "botocore {}: {verified} requests verified, {refused} altered ones refused",
        batch.botocore
    );
    assert!(
        failures.is_empty(),
        "{} disagreements with botocore {}; the first:\n{}",
        failures.len(),
        batch.botocore,
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    assert!(verified > 1400, "{verified} verified");
}

#[test]
fn the_signer_signs_as_botocore_does() {
    let mut rng = Rng(0x5167_0005_516E_0001);
    let specs: Vec<Spec> = (0..400).map(|_| spec(&mut rng, Kind::Signer)).collect();
    let batch = botocore(&specs);
    let mut failures = Vec::new();
    for (spec, signed) in specs.iter().zip(&batch.signed) {
        let signer = Signer::new(
            &spec.access_key_id,
            &spec.secret,
            &spec.region,
            &spec.service,
        );
        let request = SignRequest {
            host: &spec.host,
            content_type: &spec.content_type,
            target: &spec.target,
            body: &spec.body,
            path: &spec.path,
            security_token: spec.token.as_deref(),
        };
        let ours = signer.sign(&request, spec.now());
        let arrived = Arrived::new(spec, signed);
        if ours.authorization != arrived.header("authorization")
            || ours.amz_date != arrived.header("x-amz-date")
        {
            failures.push(format!(
                "{spec:?}\nours:     {}\nbotocore: {}\nbotocore's canonical request:\n{}",
                ours.authorization,
                arrived.header("authorization"),
                signed.canonical_request
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} signatures differ from botocore {}; the first:\n{}",
        failures.len(),
        specs.len(),
        batch.botocore,
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
