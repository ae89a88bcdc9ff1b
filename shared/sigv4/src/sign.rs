//! A minimal signer for AWS JSON-protocol calls (`POST /`), for Portcullis's own tools.
//!
//! The load generator only ever sends `POST /` with a JSON body, so this signs exactly
//! that shape (headers `content-type`, `host`, `x-amz-date`, `x-amz-target`) instead of
//! pulling in the AWS SDK: the admin operations it needs are few and the signer is
//! checked against botocore in the tests (a vector here, and `tests/differential.rs`
//! on generated requests).

use aws_lc_rs::{digest, hmac};

use crate::{ALGORITHM, canonical_uri, derive_signing_key};
use time::OffsetDateTime;
use time::macros::format_description;

/// Admin credentials and the scope (region, service) they sign for.
#[derive(Clone, Debug)]
pub struct Signer {
    access_key_id: String,
    secret_access_key: String,
    region: String,
    service: String,
}

/// What to sign: the parts of a `POST /` request that end up in the signature.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `Host` header exactly as sent (`127.0.0.1:9229`; no port when it is the default).
    pub host: &'a str,
    /// `Content-Type` header value.
    pub content_type: &'a str,
    /// `X-Amz-Target` header value; empty for a request without one (the query
    /// protocol, the decision point).
    pub target: &'a str,
    /// The request body.
    pub body: &'a [u8],
    /// The request path (`/` for the JSON APIs) as sent, percent-encoded; it is signed
    /// in SigV4's canonical form (dot segments resolved, encoded once more).
    pub path: &'a str,
    /// `X-Amz-Security-Token`, for temporary credentials; must be sent when set.
    pub security_token: Option<&'a str>,
}

/// Headers to add to the request so the server can verify it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// `X-Amz-Date` value (`YYYYMMDDTHHMMSSZ`); must be sent, since it is signed.
    pub amz_date: String,
    /// `Authorization` value.
    pub authorization: String,
}

impl Signer {
    /// A signer for `service` (e.g. `cognito-idp`) in `region`.
    #[must_use]
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str, service: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }

    /// The same credentials signing for another service.
    #[must_use]
    pub fn for_service(&self, service: &str) -> Self {
        Self {
            service: service.to_owned(),
            ..self.clone()
        }
    }

    /// The region requests are signed for.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs `request` as made at `now` (taken as a parameter so tests are reproducible).
    #[must_use]
    pub fn sign(&self, request: &Request<'_>, now: OffsetDateTime) -> Signature {
        let (amz_date, date) = timestamps(now);
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let (canonical, signed_headers) = canonical_request(request, &amz_date);
        let to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let key = self.signing_key(&date);
        let signature = hex::encode(hmac::sign(&key, to_sign.as_bytes()));
        let authorization = format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key_id
        );
        Signature {
            amz_date,
            authorization,
        }
    }

    fn signing_key(&self, date: &str) -> hmac::Key {
        derive_signing_key(&self.secret_access_key, date, &self.region, &self.service)
    }
}

/// The `X-Amz-Date` timestamp and the `YYYYMMDD` date of the credential scope.
fn timestamps(now: OffsetDateTime) -> (String, String) {
    let now = now.to_offset(time::UtcOffset::UTC);
    let stamp = now
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let date = stamp.get(..8).unwrap_or_default().to_owned();
    (stamp, date)
}

/// The canonical request for a `POST` without a query string, and its signed headers:
/// `content-type`, `host`, `x-amz-date`, and `x-amz-security-token` / `x-amz-target`
/// when the request has them.
fn canonical_request(request: &Request<'_>, amz_date: &str) -> (String, String) {
    let mut headers = vec![
        ("content-type", trim_all(request.content_type)),
        ("host", trim_all(request.host)),
        ("x-amz-date", amz_date.to_owned()),
    ];
    if let Some(token) = request.security_token {
        headers.push(("x-amz-security-token", trim_all(token)));
    }
    if !request.target.is_empty() {
        headers.push(("x-amz-target", trim_all(request.target)));
    }
    let signed: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
    let signed = signed.join(";");
    let lines: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical = format!(
        "POST\n{}\n\n{lines}\n{signed}\n{}",
        canonical_uri(request.path),
        sha256_hex(request.body)
    );
    (canonical, signed)
}

/// A header value as SigV4 canonicalises it ("Trimall"): trimmed, and every run of
/// inner whitespace one space, as the verifier reads it.
fn trim_all(value: &str) -> String {
    value
        .split([' ', '\t', '\x0b', '\x0c'])
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Generated with botocore 1.43 `SigV4Auth(Credentials("bench", "benchsecret"),
    /// "cognito-idp", "us-east-1")` on the same request, clock fixed at 2026-11-26 13:00:00Z.
    #[test]
    fn matches_botocore_vector() {
        let signer = Signer::new("bench", "benchsecret", "us-east-1", "cognito-idp");
        let request = Request {
            host: "127.0.0.1:9229",
            content_type: "application/x-amz-json-1.1",
            target: "AWSCognitoIdentityProviderService.CreateUserPool",
            body: br#"{"PoolName":"bench"}"#,
            path: "/",
            security_token: None,
        };
        let signature = signer.sign(&request, datetime!(2026-11-26 13:00:00 UTC));
        assert_eq!(signature.amz_date, "20261126T130000Z");
        assert_eq!(
            signature.authorization,
            "AWS4-HMAC-SHA256 Credential=bench/20261126/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=0dc6b886a1dfefd4b8763c37fdcdb1a9a6df93da47904d214d4e51e69a494a0e"
        );
    }

    /// What the signer makes, the verifier accepts: temporary credentials on another
    /// path, with and without the body (the forwarded form trusts the declared hash).
    #[test]
    fn signed_with_a_session_token_verifies() {
        let signer = Signer::new("ASIAEXAMPLE", "secret", "eu-west-1", "execute-api");
        let body = br#"{"Action":"demo:Read","Resource":"*"}"#;
        let request = Request {
            host: "127.0.0.1:9229",
            content_type: "application/json",
            target: "",
            body,
            path: "/authorize",
            security_token: Some("token-value"),
        };
        let now = datetime!(2026-11-26 13:00:00 UTC);
        let signature = signer.sign(&request, now);
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("content-type", "application/json"),
            ("host", "127.0.0.1:9229"),
            ("x-amz-date", signature.amz_date.as_str()),
            ("x-amz-security-token", "token-value"),
            ("authorization", signature.authorization.as_str()),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        let signed = crate::SignedRequest {
            method: "POST",
            path: "/authorize",
            query: "",
            headers: &headers,
            body,
        };
        let secret = |key: &str| (key == "ASIAEXAMPLE").then(|| "secret".to_owned());
        let caller = crate::verify(&signed, secret, now).unwrap();
        assert_eq!(caller.region, "eu-west-1");
        assert_eq!(caller.security_token.as_deref(), Some("token-value"));
        // Without its body the request verifies only if the hash is declared.
        let bodiless = crate::SignedRequest {
            body: b"",
            ..signed
        };
        assert!(crate::verify_forwarded(&bodiless, secret, now).is_err());
        let mut declared = headers.clone();
        declared.insert("x-amz-content-sha256", sha256_hex(body).parse().unwrap());
        let resigned = crate::SignedRequest {
            headers: &declared,
            ..bodiless
        };
        // The declared hash is not in SignedHeaders here, but it is the hashed payload.
        assert!(crate::verify_forwarded(&resigned, secret, now).is_ok());
        assert!(crate::verify(&resigned, secret, now).is_err());
    }

    /// Found by the `sigv4` fuzz target: a header value with a run of inner spaces was
    /// signed as sent, while SigV4 (and the verifier) canonicalise the run to one space.
    #[test]
    fn inner_whitespace_is_signed_as_one_space() {
        let signer = Signer::new("AKIDEXAMPLE", "secret", "us-east-1", "cognito-idp");
        let content_type = "application/x-amz-json-1.1;   charset=utf-8";
        let request = Request {
            host: "127.0.0.1:9229",
            content_type,
            target: "AWSCognitoIdentityProviderService.ListUserPools",
            body: b"{}",
            path: "/",
            security_token: None,
        };
        let now = datetime!(2026-11-26 13:00:00 UTC);
        let signature = signer.sign(&request, now);
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("content-type", content_type),
            ("host", "127.0.0.1:9229"),
            ("x-amz-target", request.target),
            ("x-amz-date", signature.amz_date.as_str()),
            ("authorization", signature.authorization.as_str()),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        let signed = crate::SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"{}",
        };
        let secret = |key: &str| (key == "AKIDEXAMPLE").then(|| "secret".to_owned());
        assert!(crate::verify(&signed, secret, now).is_ok());
    }

    /// Found by the differential test against botocore: a path with escapes or dot
    /// segments was signed as sent, where SigV4 (botocore, and the verifier) signs it
    /// resolved and encoded once more.
    #[test]
    fn a_path_is_signed_in_canonical_form() {
        let signer = Signer::new("AKIDEXAMPLE", "secret", "us-east-1", "execute-api");
        let path = "/a%20b/./c/../d+e//";
        let request = Request {
            host: "127.0.0.1:9229",
            content_type: "application/json",
            target: "",
            body: b"{}",
            path,
            security_token: None,
        };
        let now = datetime!(2026-11-26 13:00:00 UTC);
        let signature = signer.sign(&request, now);
        // botocore 1.44 `SigV4Auth` on the same request signs "/a%2520b/d%2Be/".
        assert_eq!(
            signature.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/execute-api/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=cd531092a7b6fbd790d7fc3a929b97158a912b88760a14a6de89a2f77241ef35"
        );
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("content-type", "application/json"),
            ("host", "127.0.0.1:9229"),
            ("x-amz-date", signature.amz_date.as_str()),
            ("authorization", signature.authorization.as_str()),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        let signed = crate::SignedRequest {
            method: "POST",
            path,
            query: "",
            headers: &headers,
            body: b"{}",
        };
        let secret = |key: &str| (key == "AKIDEXAMPLE").then(|| "secret".to_owned());
        assert!(crate::verify(&signed, secret, now).is_ok());
    }

    #[test]
    fn timestamps_use_utc() {
        let (stamp, date) = timestamps(datetime!(2026-11-26 01:30:00 +03:00));
        assert_eq!(stamp, "20261125T223000Z");
        assert_eq!(date, "20261125");
    }
}
