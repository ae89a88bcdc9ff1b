//! Outbound HTTP on behalf of what a pool's administrator configured — an identity
//! provider's metadata URL, an issuer's discovery document and keys, token and user
//! endpoints. Such a URL must not be a way into the operator's own network, so every
//! fetch is checked against a [`Policy`]: the host's addresses (all of them, after DNS
//! resolution, and again at each redirect) must be public, unless the operator allows a
//! range (`outbound.allow`, e.g. `127.0.0.0/8` for tests and development). The connection
//! goes to the address that was checked, so a second DNS answer cannot swap it. Every
//! fetch is bounded in time and in the size of its answer.

mod policy;

use std::net::SocketAddr;
use std::time::Duration;

pub use policy::{Cidr, Policy};

/// How long a fetch may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read.
pub const MAX_BODY: usize = 1024 * 1024;
/// Redirects followed by a `GET`.
const MAX_REDIRECTS: usize = 5;

/// Why a fetch gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not an http(s) URL with a host")]
    InvalidUrl,
    #[error("the host {0} resolves to an address outbound fetches may not reach")]
    Forbidden(String),
    #[error("the host {0} could not be resolved")]
    Unresolved(String),
    #[error("no answer in time")]
    Timeout,
    #[error("the answer is larger than allowed")]
    TooLarge,
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("the request failed: {0}")]
    Transport(String),
}

/// An answer: its status, `Content-Type` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What to send.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// A `GET`, following redirects.
    Get,
    /// A form `POST` (`application/x-www-form-urlencoded`), not following redirects.
    Form(&'a [(&'a str, &'a str)]),
}

/// Fetches within a [`Policy`], a time bound and a size bound.
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: Policy,
    timeout: Duration,
    max_body: usize,
}

impl Fetcher {
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        // reqwest is built without a bundled crypto provider; use the ring provider the
        // workspace already brings. Failing means one is installed already: keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            policy,
            timeout: TIMEOUT,
            max_body: MAX_BODY,
        }
    }

    /// The same fetcher with other bounds (tests, large metadata files).
    #[must_use]
    pub fn with_bounds(self, timeout: Duration, max_body: usize) -> Self {
        Self {
            timeout,
            max_body,
            ..self
        }
    }

    /// Sends `body` to `url` with `headers`; the whole exchange, redirects included, is
    /// bounded by the fetcher's timeout.
    pub async fn fetch(
        &self,
        url: &str,
        body: Body<'_>,
        headers: &[(&str, &str)],
    ) -> Result<Fetched, FetchError> {
        tokio::time::timeout(self.timeout, self.exchange(url, body, headers))
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    async fn exchange(
        &self,
        url: &str,
        body: Body<'_>,
        headers: &[(&str, &str)],
    ) -> Result<Fetched, FetchError> {
        let mut url = reqwest::Url::parse(url).map_err(|_| FetchError::InvalidUrl)?;
        for _ in 0..=MAX_REDIRECTS {
            let (host, address) = self.checked_address(&url).await?;
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(self.timeout)
                .resolve(&host, address)
                .build()
                .map_err(|e| FetchError::Transport(e.to_string()))?;
            let mut request = match body {
                Body::Get => client.get(url.clone()),
                Body::Form(form) => client.post(url.clone()).form(form),
            };
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.map_err(|e| transport(&e))?;
            let status = response.status();
            if status.is_redirection()
                && matches!(body, Body::Get)
                && let Some(location) = response.headers().get(reqwest::header::LOCATION)
            {
                let location = location.to_str().map_err(|_| FetchError::InvalidUrl)?;
                url = url.join(location).map_err(|_| FetchError::InvalidUrl)?;
                continue;
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = self.read(response).await?;
            return Ok(Fetched {
                status: status.as_u16(),
                content_type,
                body,
            });
        }
        Err(FetchError::TooManyRedirects)
    }

    /// The host of `url` and the address to connect to, every address of the host
    /// checked against the policy.
    async fn checked_address(
        &self,
        url: &reqwest::Url,
    ) -> Result<(String, SocketAddr), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::InvalidUrl);
        }
        let host = url.host_str().ok_or(FetchError::InvalidUrl)?;
        let port = url.port_or_known_default().ok_or(FetchError::InvalidUrl)?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> = match bare.parse() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|_| FetchError::Unresolved(host.to_owned()))?
                .collect(),
        };
        let first = *addresses
            .first()
            .ok_or_else(|| FetchError::Unresolved(host.to_owned()))?;
        if let Some(refused) = addresses.iter().find(|a| !self.policy.permits(a.ip())) {
            tracing::warn!(host, address = %refused.ip(), "an outbound fetch was refused");
            return Err(FetchError::Forbidden(host.to_owned()));
        }
        Ok((bare.to_owned(), first))
    }

    async fn read(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
            if body.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn transport(err: &reqwest::Error) -> FetchError {
    if err.is_timeout() {
        FetchError::Timeout
    } else {
        // Named without the URL, which may carry a secret in its query.
        FetchError::Transport(
            if err.is_connect() {
                "connect"
            } else {
                "transfer"
            }
            .into(),
        )
    }
}

#[cfg(test)]
mod tests;
