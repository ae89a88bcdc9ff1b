//! The conformance suite on the redb backend, plus what only a file can show: data
//! survives closing and reopening.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use bytes::Bytes;
use portcullis_eventlog::conformance::{run_kv_suite, run_log_suite};
use portcullis_eventlog::embedded::EmbeddedStore;
use portcullis_eventlog::{EventLog, Expected, NewRecord, StreamId};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("log.redb"))
        .await
        .unwrap();
    run_log_suite(Arc::new(store.clone())).await;
    run_kv_suite(store.bucket("claims"), store.bucket("other")).await;
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    let stream = StreamId::new("pool1", "user", "u1").unwrap();
    let record = NewRecord {
        command_id: "c1".into(),
        data: Bytes::from_static(b"hello"),
    };
    let (position, revision) = {
        let store = EmbeddedStore::open(&path).await.unwrap();
        let position = store
            .append(&stream, Expected::NoStream, record.clone())
            .await
            .unwrap();
        let revision = store
            .bucket("claims")
            .create("alice", Bytes::from_static(b"u1"))
            .await
            .unwrap();
        (position, revision)
    };

    let store = EmbeddedStore::open(&path).await.unwrap();
    assert_eq!(store.last_position().await.unwrap(), position);
    let records = store.read_stream(&stream).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].position, records[0].data.as_ref()),
        (position, b"hello".as_ref())
    );
    // The dedupe table survives too.
    assert_eq!(
        store
            .append(&stream, Expected::NoStream, record)
            .await
            .unwrap(),
        position
    );
    let entry = store.bucket("claims").get("alice").await.unwrap().unwrap();
    assert_eq!(
        (entry.value.as_ref(), entry.revision),
        (b"u1".as_ref(), revision)
    );
    // Positions and revisions continue after the reopen instead of restarting.
    let next = store
        .append(
            &stream,
            Expected::At(position),
            NewRecord {
                command_id: "c2".into(),
                data: Bytes::from_static(b"again"),
            },
        )
        .await
        .unwrap();
    assert_eq!(next, position + 1);
    let bob = store
        .bucket("claims")
        .create("bob", Bytes::new())
        .await
        .unwrap();
    assert!(bob > revision);
}

#[tokio::test]
async fn open_fails_cleanly_on_a_non_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-db");
    std::fs::write(&path, b"this is not a redb file, just some text bytes").unwrap();
    assert!(EmbeddedStore::open(&path).await.is_err());
}
