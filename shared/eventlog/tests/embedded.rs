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

/// Writes that arrive together share one commit, yet each is decided as if it ran
/// alone, in arrival order: of many racing creations of one stream or one key exactly
/// one wins, and every append to a stream of its own lands at a position of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writes_sharing_commits_are_each_decided_alone() {
    use portcullis_eventlog::{KvError, LogError};

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("log.redb"))
        .await
        .unwrap();
    let claims = store.bucket("claims");
    let contested = StreamId::new("pool1", "user", "contested").unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (store, claims, contested) = (store.clone(), claims.clone(), contested.clone());
        tasks.spawn(async move {
            let record = |id: String| NewRecord {
                command_id: id,
                data: Bytes::from(format!("{i}")),
            };
            let own = StreamId::new("pool1", "user", &format!("u{i}")).unwrap();
            let mine = store
                .append(&own, Expected::NoStream, record(format!("own-{i}")))
                .await;
            let race = store
                .append(&contested, Expected::NoStream, record(format!("race-{i}")))
                .await;
            let claim = claims.create("alice", Bytes::from(format!("{i}"))).await;
            (mine, race, claim)
        });
    }
    let (mut own, mut won, mut claimed) = (Vec::new(), 0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (mine, race, claim) = joined.unwrap();
        own.push(mine.unwrap());
        match race {
            Ok(_) => won += 1,
            Err(LogError::Conflict { current: Some(_) }) => {}
            Err(other) => panic!("unexpected answer to a racing append: {other:?}"),
        }
        match claim {
            Ok(_) => claimed += 1,
            Err(KvError::Conflict) => {}
            Err(other) => panic!("unexpected answer to a racing create: {other:?}"),
        }
    }
    assert_eq!((won, claimed), (1, 1));
    own.sort_unstable();
    own.dedup();
    assert_eq!(own.len(), 64, "each append has a position of its own");
    let log = store.read_from(1, 1000).await.unwrap();
    assert_eq!(log.len(), 65);
    assert!(log.windows(2).all(|w| w[1].position == w[0].position + 1));
    assert_eq!(store.last_position().await.unwrap(), 65);
}
