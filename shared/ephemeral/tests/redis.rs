//! The conformance suite against a real redis-server started for each test, plus the
//! Redis-only behaviour: key prefixes, failing closed when Redis is gone, reconnecting.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::Duration;

use bytes::Bytes;
use portcullis_ephemeral::{EphemeralStore, RedisStore, StoreError};
use portcullis_testkit::redis::RedisServer;

const TTL: Duration = Duration::from_secs(60);

async fn redis_store() -> (RedisServer, Box<dyn EphemeralStore>) {
    let server = RedisServer::start().await.expect("start redis-server");
    let store = RedisStore::connect(&server.url, "test:")
        .await
        .expect("connect");
    (server, Box::new(store))
}

portcullis_ephemeral::conformance_tests!(redis_store);

#[tokio::test]
async fn keys_are_stored_under_the_prefix_and_prefixes_are_isolated() {
    let server = RedisServer::start().await.unwrap();
    let a = RedisStore::connect(&server.url, "a:").await.unwrap();
    let b = RedisStore::connect(&server.url, "b:").await.unwrap();
    a.put("k", Bytes::from_static(b"from a"), TTL)
        .await
        .unwrap();

    assert_eq!(
        b.get("k").await.unwrap(),
        None,
        "another prefix sees nothing"
    );
    let client = redis::Client::open(server.url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let stored: Option<Vec<u8>> = redis::cmd("GET")
        .arg("a:k")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some(&b"from a"[..]));
    let pttl: i64 = redis::cmd("PTTL")
        .arg("a:k")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        (59_000..=60_000).contains(&pttl),
        "TTL set in milliseconds: {pttl}"
    );
}

#[tokio::test]
async fn connect_fails_when_nothing_listens() {
    let port = portcullis_testkit::free_port();
    let result = RedisStore::connect(&format!("redis://127.0.0.1:{port}/"), "t:").await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn operations_fail_closed_once_redis_is_gone() {
    let server = RedisServer::start().await.unwrap();
    let store = RedisStore::connect(&server.url, "t:").await.unwrap();
    store
        .put("session", Bytes::from_static(b"s"), TTL)
        .await
        .unwrap();
    drop(server);

    let taken = store.take("session").await;
    assert!(
        matches!(taken, Err(StoreError::Unavailable(_))),
        "{taken:?}"
    );
    let counted = store.incr("attempts", TTL).await;
    assert!(
        matches!(counted, Err(StoreError::Unavailable(_))),
        "{counted:?}"
    );
}

#[tokio::test]
async fn the_store_reconnects_after_a_redis_restart_and_keeps_counters_and_values() {
    let mut server = RedisServer::start().await.unwrap();
    let store = RedisStore::connect(&server.url, "t:").await.unwrap();
    store
        .put("k", Bytes::from_static(b"before"), TTL)
        .await
        .unwrap();
    for _ in 0..4 {
        store.incr("failures", TTL).await.unwrap();
    }
    server.restart().await.unwrap();

    // The first call after the restart may see the dropped connection; the manager then
    // reconnects, so a later call succeeds. The data is still there: the server persists
    // every write before acknowledging it, as a cluster's Redis must (lockout counters).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let value = loop {
        match store.get("k").await {
            Ok(value) => break value,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("never reconnected: {error}"),
        }
    };
    assert_eq!(value.as_deref(), Some(&b"before"[..]));
    // A lockout or code-attempt counter goes on from where it was, not from zero.
    assert_eq!(store.incr("failures", TTL).await.unwrap(), 5);
    store
        .put("k", Bytes::from_static(b"after"), TTL)
        .await
        .unwrap();
    assert_eq!(
        store.get("k").await.unwrap().as_deref(),
        Some(&b"after"[..])
    );
}
