//! The conformance suite against a real nats-server (and a 3-node cluster), started by
//! the test kit on free ports.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use bytes::Bytes;
use portcullis_eventlog::conformance::{run_kv_suite, run_log_suite};
use portcullis_eventlog::jetstream::{JetStreamConfig, JetStreamStore};
use portcullis_eventlog::{EventLog, Expected, NewRecord, StreamId};
use portcullis_testkit::nats::{NatsCluster, NatsServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms() {
    let server = NatsServer::start().await.unwrap();
    let store = JetStreamStore::connect(JetStreamConfig::new(&server.url))
        .await
        .unwrap();
    run_log_suite(Arc::new(store.clone())).await;
    let (claims, other) = (
        store.bucket("claims").await.unwrap(),
        store.bucket("other").await.unwrap(),
    );
    run_kv_suite(claims, other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms_on_a_three_node_cluster() {
    let cluster = NatsCluster::start(3).await.unwrap();
    let config = JetStreamConfig {
        replicas: 3,
        ..JetStreamConfig::new(cluster.url())
    };
    let store = JetStreamStore::connect(config).await.unwrap();
    run_log_suite(Arc::new(store.clone())).await;
    let (claims, other) = (
        store.bucket("claims").await.unwrap(),
        store.bucket("other").await.unwrap(),
    );
    run_kv_suite(claims, other).await;
}

/// More records than one direct-get batch, on one stream and across the log.
#[tokio::test]
async fn reads_span_several_batches() {
    let server = NatsServer::start().await.unwrap();
    let store = JetStreamStore::connect(JetStreamConfig::new(&server.url))
        .await
        .unwrap();
    let stream = StreamId::new("pool1", "user", "big").unwrap();
    let noise = StreamId::new("pool1", "user", "noise").unwrap();
    let (mut last, mut noise_last) = (None, None);
    for i in 0..600u32 {
        let data = Bytes::from(vec![7u8; 2048]);
        let expected = last.map_or(Expected::NoStream, Expected::At);
        let record = NewRecord {
            command_id: format!("big-{i}"),
            data,
        };
        last = Some(store.append(&stream, expected, record).await.unwrap());
        if i % 3 == 0 {
            let record = NewRecord {
                command_id: format!("noise-{i}"),
                data: Bytes::new(),
            };
            let expected = noise_last.map_or(Expected::NoStream, Expected::At);
            noise_last = Some(store.append(&noise, expected, record).await.unwrap());
        }
    }
    let records = store.read_stream(&stream).await.unwrap();
    assert_eq!(records.len(), 600);
    assert!(records.windows(2).all(|w| w[0].position < w[1].position));
    let all = store.read_from(1, 10_000).await.unwrap();
    assert_eq!(all.len(), 800);
    assert_eq!(store.read_from(1, 700).await.unwrap().len(), 700);
}

#[tokio::test]
async fn connect_fails_cleanly_without_a_server() {
    let url = format!("nats://127.0.0.1:{}", portcullis_testkit::free_port());
    assert!(
        JetStreamStore::connect(JetStreamConfig::new(url))
            .await
            .is_err()
    );
}
