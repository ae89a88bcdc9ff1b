//! Test harness: starts real `nats-server` and `redis-server` processes on free loopback
//! ports, each with its own temporary directory, and stops them when dropped. Tests
//! never share a server, so runs never share state.

use std::net::TcpListener;

pub mod nats;
pub mod redis;

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local addr").port()
}
