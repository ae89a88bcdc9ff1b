//! Who may call a service: only its peers. Every service process of one deployment
//! holds the same [`PeerKey`]; clients send it with every call and servers refuse calls
//! without it (`UNAUTHENTICATED`) before any service code runs. Without it, anything
//! that reached a service's port could, say, ask the token service to issue tokens for
//! any user.
//!
//! In `portcullis up` the key is made at start and never leaves the process, so no other
//! local user can call the loopback ports; in a cluster the operator gives every process
//! the same secret (`PORTCULLIS_PEER_SECRET`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use subtle::ConstantTimeEq;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};

/// The metadata entry that carries the key.
pub const HEADER: &str = "x-portcullis-peer";

/// The fewest bytes a peer secret may have.
const MIN_BYTES: usize = 32;

/// The secret the service processes of one deployment share.
#[derive(Clone)]
pub struct PeerKey {
    /// The key as sent: lowercase hex.
    value: AsciiMetadataValue,
}

impl std::fmt::Debug for PeerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerKey(..)")
    }
}

impl PeerKey {
    /// A new random key, for services that all run in this process.
    pub fn random() -> anyhow::Result<Self> {
        let mut bytes = [0u8; MIN_BYTES];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
        Self::from_hex(&hex::encode(bytes))
    }

    /// A key given as hex (at least 32 bytes).
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let bytes =
            hex::decode(text.trim()).map_err(|_| anyhow::anyhow!("the peer secret must be hex"))?;
        anyhow::ensure!(
            bytes.len() >= MIN_BYTES,
            "the peer secret must be at least {MIN_BYTES} bytes ({} hex digits)",
            MIN_BYTES * 2
        );
        let value = MetadataValue::try_from(hex::encode(bytes))?;
        Ok(Self { value })
    }

    /// Whether `presented` is this key, in time that does not depend on where they
    /// differ.
    fn admits(&self, presented: Option<&http::HeaderValue>) -> bool {
        presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(self.value.as_bytes())))
    }

    pub(crate) fn attach(&self, metadata: &mut tonic::metadata::MetadataMap) {
        metadata.insert(HEADER, self.value.clone());
    }
}

/// Server side: a layer that refuses calls without the key.
#[derive(Clone)]
pub struct RequirePeer {
    key: Arc<PeerKey>,
}

impl RequirePeer {
    pub fn new(key: PeerKey) -> Self {
        Self { key: Arc::new(key) }
    }
}

impl<S> tower::Layer<S> for RequirePeer {
    type Service = PeerChecked<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PeerChecked {
            inner,
            key: Arc::clone(&self.key),
        }
    }
}

#[derive(Clone)]
pub struct PeerChecked<S> {
    inner: S,
    key: Arc<PeerKey>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for PeerChecked<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if self.key.admits(request.headers().get(HEADER)) {
            return Box::pin(self.inner.call(request));
        }
        tracing::warn!(path = %request.uri().path(), "grpc call without the peer key refused");
        let refusal = tonic::Status::unauthenticated("not a peer of this deployment").into_http();
        Box::pin(std::future::ready(Ok(refusal)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_hex_and_admit_only_themselves() {
        assert!(PeerKey::from_hex("abcd").is_err(), "too short");
        assert!(PeerKey::from_hex(&"zz".repeat(32)).is_err(), "not hex");
        let key = PeerKey::from_hex(&"AB".repeat(32)).unwrap();
        let same = http::HeaderValue::from_str(&"ab".repeat(32)).unwrap();
        let other = http::HeaderValue::from_str(&"ac".repeat(32)).unwrap();
        assert!(
            key.admits(Some(&same)),
            "hex in either case, sent lowercase"
        );
        assert!(!key.admits(Some(&other)));
        assert!(!key.admits(None));
        let random = PeerKey::random().unwrap();
        assert!(!random.admits(Some(&same)));
        assert_eq!(format!("{random:?}"), "PeerKey(..)", "never printed");
    }
}
