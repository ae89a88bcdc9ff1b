//! SigV4 verification of a whole request: `Authorization` parsing, the credential scope,
//! canonical URI and query, header canonicalisation and the payload hash.
//!
//! Input: an HTTP/1.1-like request, `METHOD PATH[?QUERY]\n` then `name: value` lines, an
//! empty line and the body (the seeds are botocore's vectors in this form). Verification
//! runs at the request's own `X-Amz-Date` with the vectors' key (`AKIDEXAMPLE`/`secret`),
//! so signed seeds verify and mutations explore every check behind the signature. Then
//! the request is signed by Portcullis's own signer and that signature must verify.

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis_sigv4::sign::{Request, Signer};
use portcullis_sigv4::{SignedRequest, verify, verify_forwarded};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "secret";

struct Parsed<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: HeaderMap,
    body: &'a [u8],
}

fn parse(data: &[u8]) -> Option<Parsed<'_>> {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split('\n');
    let (method, target) = lines.next()?.split_once(' ')?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(value.trim_start().as_bytes()).ok()?;
        headers.append(name, value);
    }
    Some(Parsed {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn signed_at(headers: &HeaderMap) -> OffsetDateTime {
    headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            PrimitiveDateTime::parse(
                v,
                format_description!("[year][month][day]T[hour][minute][second]Z"),
            )
            .ok()
        })
        .map(PrimitiveDateTime::assume_utc)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn secret_for(key: &str) -> Option<String> {
    (key == ACCESS_KEY).then(|| SECRET.to_owned())
}

fuzz_target!(|data: &[u8]| {
    let Some(request) = parse(data) else {
        return;
    };
    let now = signed_at(&request.headers);
    let signed = SignedRequest {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: &request.headers,
        body: request.body,
    };
    let _ = verify(&signed, secret_for, now);
    let _ = verify_forwarded(&signed, secret_for, now);

    // Our signer and our verifier must agree on every request the signer can express.
    let text = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (host, content_type, target) = (text("host"), text("content-type"), text("x-amz-target"));
    if host.is_empty() || content_type.is_empty() {
        return;
    }
    let signer = Signer::new(ACCESS_KEY, SECRET, "us-east-1", "cognito-idp");
    let sign_request = Request {
        host,
        content_type,
        target,
        body: request.body,
        path: "/",
        security_token: None,
    };
    let signature = signer.sign(&sign_request, now);
    let mut headers = HeaderMap::new();
    let put = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put(&mut headers, "host", host);
    put(&mut headers, "content-type", content_type);
    if !target.is_empty() {
        put(&mut headers, "x-amz-target", target);
    }
    put(&mut headers, "x-amz-date", &signature.amz_date);
    put(&mut headers, "authorization", &signature.authorization);
    let resigned = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: request.body,
    };
    if now.year() >= 1000 && now.year() <= 9999 {
        let verified = verify(&resigned, secret_for, now);
        assert!(verified.is_ok(), "own signature refused: {verified:?}");
    }
});
