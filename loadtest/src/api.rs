//! The Cognito JSON protocol over one shared, keep-alive HTTP client.
//!
//! Every call is `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`.
//! Failures are turned into a short label (the `__type` of the error body, or the kind
//! of transport failure) so the run can count them instead of stopping: a server that
//! sheds load or answers 500 under stress is a result to report, not a crash.

use std::time::Duration;

use anyhow::Context as _;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;
use time::OffsetDateTime;

use portcullis_sigv4::sign::{Request, Signer};

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const IDENTITY_PREFIX: &str = "AWSCognitoIdentityService.";
const WAF_PREFIX: &str = "AWSWAF_20190729.";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Temporary credentials from the identity pool API.
#[derive(Clone, Debug)]
pub struct TempCredentials {
    pub access_key_id: String,
    pub secret_key: String,
    pub session_token: String,
}
/// Generous: a request slower than this is a failure worth counting, not a latency.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call failed, as a label for the error table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError(pub String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CallError {}

/// A Cognito endpoint plus the admin signer for privileged operations. Cheap to clone:
/// clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    signer: Signer,
}

impl Api {
    /// A client for `url` keeping up to `idle_per_host` connections open for reuse.
    ///
    /// # Errors
    /// When the URL has no host or the HTTP client cannot be built.
    pub fn new(url: &str, idle_per_host: usize, signer: Signer) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(url).with_context(|| format!("invalid --url {url}"))?;
        let host = host_header(&url).context("--url has no host")?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(idle_per_host)
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(Self {
            http,
            url,
            host,
            signer,
        })
    }

    /// Checks `GET /health` so a missing server is reported before any setup.
    ///
    /// # Errors
    /// When the server does not answer 200.
    pub async fn health(&self) -> anyhow::Result<()> {
        let url = self.url.join("/health")?;
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        anyhow::ensure!(
            response.status().is_success(),
            "GET {url}: {}",
            response.status()
        );
        Ok(())
    }

    /// `PUT url` with `body`, as to an S3 pre-signed URL (the CSV of a user import job).
    ///
    /// # Errors
    /// When the server does not answer 200.
    pub async fn put(&self, url: &str, body: Vec<u8>) -> anyhow::Result<()> {
        let response = self
            .http
            .put(url)
            .header(CONTENT_TYPE, "text/csv")
            .timeout(Duration::from_secs(600))
            .body(body)
            .send()
            .await
            .with_context(|| format!("PUT {url}"))?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "PUT {url}: {status}");
        Ok(())
    }

    /// An unsigned call (public operations: `SignUp`, `InitiateAuth`).
    ///
    /// # Errors
    /// A [`CallError`] labelled by the server's `__type` or the transport failure.
    pub async fn call(&self, op: &str, body: &Value) -> Result<Value, CallError> {
        let target = format!("{TARGET_PREFIX}{op}");
        let body = serde_json::to_vec(body).map_err(|e| CallError(format!("encode: {e}")))?;
        self.send(&target, body, HeaderMap::new()).await
    }

    /// A call signed with the admin credentials (SigV4).
    ///
    /// # Errors
    /// As [`Self::call`].
    pub async fn call_signed(&self, op: &str, body: &Value) -> Result<Value, CallError> {
        let target = format!("{TARGET_PREFIX}{op}");
        let body = serde_json::to_vec(body).map_err(|e| CallError(format!("encode: {e}")))?;
        let headers = self.auth_headers(&target, &body)?;
        self.send(&target, body, headers).await
    }

    /// A call to the identity-pool API (`AWSCognitoIdentityService`), signed with the
    /// admin credentials when `signed`.
    ///
    /// # Errors
    /// As [`Self::call`].
    pub async fn identity(&self, op: &str, body: &Value, signed: bool) -> Result<Value, CallError> {
        let target = format!("{IDENTITY_PREFIX}{op}");
        let body = serde_json::to_vec(body).map_err(|e| CallError(format!("encode: {e}")))?;
        let headers = if signed {
            self.auth_headers(&target, &body)?
        } else {
            HeaderMap::new()
        };
        self.send(&target, body, headers).await
    }

    /// A call to the AWS WAF API (`wafv2`), signed with the admin credentials.
    ///
    /// # Errors
    /// As [`Self::call`].
    pub async fn waf(&self, op: &str, body: &Value) -> Result<Value, CallError> {
        let target = format!("{WAF_PREFIX}{op}");
        let body = serde_json::to_vec(body).map_err(|e| CallError(format!("encode: {e}")))?;
        let headers = self.auth_headers(&target, &body)?;
        self.send(&target, body, headers).await
    }

    /// An IAM query-protocol call (`Action=...`) signed with the admin credentials.
    ///
    /// # Errors
    /// A [`CallError`] with the HTTP status or the transport failure.
    pub async fn iam(&self, form: &[(&str, &str)]) -> Result<(), CallError> {
        let body =
            serde_urlencoded::to_string(form).map_err(|e| CallError(format!("encode: {e}")))?;
        let request = Request {
            host: &self.host,
            content_type: FORM_CONTENT_TYPE,
            target: "",
            body: body.as_bytes(),
            path: "/",
            security_token: None,
        };
        let signature = self
            .signer
            .for_service("iam")
            .sign(&request, OffsetDateTime::now_utc());
        let response = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
            .header("x-amz-date", signature.amz_date)
            .header("authorization", signature.authorization)
            .body(body)
            .send()
            .await
            .map_err(|e| CallError(transport_label(&e)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(CallError(format!("IAM HTTP {status}")))
        }
    }

    /// `POST /authorize` with `body`, signed by temporary credentials: whether the
    /// decision point allowed it (403 is a denial; anything else is an error).
    ///
    /// # Errors
    /// A [`CallError`] for a 401, another status, or a transport failure.
    pub async fn authorize(
        &self,
        credentials: &TempCredentials,
        body: &[u8],
    ) -> Result<bool, CallError> {
        let signer = Signer::new(
            &credentials.access_key_id,
            &credentials.secret_key,
            self.signer.region(),
            "execute-api",
        );
        let request = Request {
            host: &self.host,
            content_type: "application/json",
            target: "",
            body,
            path: "/authorize",
            security_token: Some(&credentials.session_token),
        };
        let signature = signer.sign(&request, OffsetDateTime::now_utc());
        let url = self
            .url
            .join("/authorize")
            .map_err(|e| CallError(format!("url: {e}")))?;
        let response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("x-amz-date", signature.amz_date)
            .header("x-amz-security-token", &credentials.session_token)
            .header("authorization", signature.authorization)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| CallError(transport_label(&e)))?;
        match response.status().as_u16() {
            200 => Ok(true),
            403 => Ok(false),
            other => Err(CallError(format!("HTTP {other}"))),
        }
    }

    /// A form POST to one of a pool domain's OAuth 2.0 endpoints at `path`, with HTTP
    /// Basic client credentials when given; an error answer is labelled by its `error`.
    ///
    /// # Errors
    /// A [`CallError`] with the OAuth error or the transport failure.
    pub async fn oauth_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Value, CallError> {
        let url = self
            .url
            .join(path)
            .map_err(|e| CallError(format!("url: {e}")))?;
        let body =
            serde_urlencoded::to_string(form).map_err(|e| CallError(format!("encode: {e}")))?;
        let mut request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        let response = request
            .send()
            .await
            .map_err(|e| CallError(transport_label(&e)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallError(transport_label(&e)))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        Err(CallError(
            value
                .get("error")
                .and_then(Value::as_str)
                .map_or_else(|| format!("HTTP {status}"), str::to_owned),
        ))
    }

    fn auth_headers(&self, target: &str, body: &[u8]) -> Result<HeaderMap, CallError> {
        let request = Request {
            host: &self.host,
            content_type: JSON_CONTENT_TYPE,
            target,
            body,
            path: "/",
            security_token: None,
        };
        // Each API takes signatures scoped to its own service, as AWS does.
        let other;
        let signer = if target.starts_with(IDENTITY_PREFIX) {
            other = self.signer.for_service("cognito-identity");
            &other
        } else if target.starts_with(WAF_PREFIX) {
            other = self.signer.for_service("wafv2");
            &other
        } else {
            &self.signer
        };
        let signature = signer.sign(&request, OffsetDateTime::now_utc());
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-amz-date", signature.amz_date),
            ("authorization", signature.authorization),
        ] {
            let value =
                HeaderValue::from_str(&value).map_err(|e| CallError(format!("header: {e}")))?;
            headers.insert(name, value);
        }
        Ok(headers)
    }

    async fn send(
        &self,
        target: &str,
        body: Vec<u8>,
        headers: HeaderMap,
    ) -> Result<Value, CallError> {
        let response = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, JSON_CONTENT_TYPE)
            .header("x-amz-target", target)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| CallError(transport_label(&e)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallError(transport_label(&e)))?;
        if status.is_success() {
            return Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null));
        }
        Err(CallError(error_label(status.as_u16(), &bytes)))
    }
}

/// The `Host` header reqwest will send: the port only when it is not the default.
fn host_header(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// `__type` of an error body, without the `namespace#` prefix some servers add.
fn error_label(status: u16, body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("__type").and_then(Value::as_str).map(str::to_owned))
        .map(|kind| kind.rsplit('#').next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| format!("HTTP {status}"))
}

fn transport_label(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "request"
    };
    format!("transport:{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_errors_by_type() {
        let body = br#"{"__type":"com.amazonaws#NotAuthorizedException","message":"x"}"#;
        assert_eq!(error_label(400, body), "NotAuthorizedException");
        assert_eq!(error_label(503, b"oops"), "HTTP 503");
    }

    #[test]
    fn host_header_omits_default_port() {
        let url = reqwest::Url::parse("http://127.0.0.1:9229/").unwrap();
        assert_eq!(host_header(&url).unwrap(), "127.0.0.1:9229");
        let url = reqwest::Url::parse("http://localhost/").unwrap();
        assert_eq!(host_header(&url).unwrap(), "localhost");
    }
}
