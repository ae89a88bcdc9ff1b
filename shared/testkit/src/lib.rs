//! Test harness: starts real `nats-server`, `redis-server` and SMTP (aiosmtpd) processes
//! on free loopback ports, each with its own temporary directory, and stops them when
//! dropped. Tests never share a server, so runs never share state.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

pub mod nats;
pub mod redis;
pub mod smtp;

/// A loopback port that was free a moment ago, for a server this test starts.
///
/// It is taken below the kernel's ephemeral range (as `deploy/local-cluster.sh` does):
/// the server binds it only once started, and a port from the ephemeral range can be
/// handed meanwhile to any outgoing connection or port-0 bind on the machine (a test
/// running beside this one: nats-server once failed on "address already in use" so).
/// A port is never handed out twice by one process.
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};
    use std::sync::Mutex;

    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (low, span) = (10_000u16, ephemeral_low.saturating_sub(10_000));
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let given = given.get_or_insert_with(HashSet::new);
    let random = RandomState::new();
    for attempt in 0u32..10_000 {
        if span == 0 {
            break;
        }
        let pick = random.hash_one(attempt) % u64::from(span);
        let port = low + u16::try_from(pick).unwrap_or(0);
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local addr").port()
}

/// A plain HTTP/1.0 GET on loopback: the status and body, or `None` if nothing answered.
/// Enough to poll a health endpoint without an HTTP client dependency.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}
