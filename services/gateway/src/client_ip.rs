//! The address a request comes from: the connection's peer, or — when the peer is one
//! of the operator's trusted proxies (`trusted_proxies`) — the client `X-Forwarded-For`
//! names: read from the right, the first address that is not a trusted proxy. Without
//! trusted proxies the header is ignored, so a client cannot choose its own address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use portcullis_types::cidr::{Cidr, canonical};

use crate::AppState;

/// The request's client address, if the server knows its peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    pub fn text(self) -> String {
        self.0.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

/// The client address of a request from `peer` with `headers`.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = peer.map(canonical)?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map_while(|hop| hop.parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    // A malformed hop ends the list: nothing left of it can be trusted.
    let mut client = peer;
    for hop in forwarded.into_iter().rev() {
        client = hop;
        if !is_trusted(hop) {
            break;
        }
    }
    Some(client)
}

/// Middleware: puts the request's [`ClientIp`] in its extensions.
pub async fn attach(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let client = resolve(peer, request.headers(), &state.trusted_proxies);
    request.extensions_mut().insert(ClientIp(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let spoofed = headers("203.0.113.9");
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(
            resolve(ip("198.51.100.1"), &spoofed, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(resolve(ip("10.0.0.2"), &spoofed, &[]), ip("10.0.0.2"));
        // Through two trusted proxies: the first untrusted hop from the right.
        let chain = headers("192.0.2.1, 203.0.113.9, 10.0.0.7");
        assert_eq!(resolve(ip("10.0.0.2"), &chain, &trusted), ip("203.0.113.9"));
        // A malformed hop stops the walk at the last good one.
        let bad = headers("nonsense, 10.0.0.7");
        assert_eq!(resolve(ip("10.0.0.2"), &bad, &trusted), ip("10.0.0.2"));
        assert_eq!(resolve(None, &chain, &trusted), None);
    }
}
