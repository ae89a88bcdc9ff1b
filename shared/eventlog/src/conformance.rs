//! The one conformance suite every backend must pass.
//!
//! Each check is a plain async function that panics on a violation, so a backend's
//! test file is a few lines: build the backend, call [`run_log_suite`] and
//! [`run_kv_suite`]. Checks use fresh random stream ids and keys, so they can share one
//! store (and run against a store that already holds data), but they assume no other
//! writer appends to the log while they run.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::{EventLog, Expected, KeyValue, KvError, LogError, NewRecord, StoredRecord, StreamId};

/// How many tasks race in the concurrency checks.
const RACERS: usize = 20;
/// How long `follow` may take to deliver a record that is already committed.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs every event log check.
pub async fn run_log_suite(log: Arc<dyn EventLog>) {
    check_read_unknown_stream(log.as_ref()).await;
    check_append_no_stream(log.as_ref()).await;
    check_conflicts(log.as_ref()).await;
    check_positions_and_read_stream(log.as_ref()).await;
    check_read_from_and_last_position(log.as_ref()).await;
    check_dedupe(log.as_ref()).await;
    check_follow(log.as_ref()).await;
    check_concurrent_appends(log).await;
}

/// Runs every key/value check on `bucket`; `other` must be a different bucket of the
/// same store.
pub async fn run_kv_suite(bucket: Arc<dyn KeyValue>, other: Arc<dyn KeyValue>) {
    check_kv_create_get(bucket.as_ref()).await;
    check_kv_update(bucket.as_ref()).await;
    check_kv_delete_and_recreate(bucket.as_ref()).await;
    check_kv_unicode_keys(bucket.as_ref()).await;
    check_kv_buckets_are_separate(bucket.as_ref(), other.as_ref()).await;
    check_kv_concurrent_create(bucket).await;
}

/// A token no earlier run used, so checks never see each other's data.
pub fn unique(tag: &str) -> String {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    format!("{tag}-{random:016x}")
}

fn stream(kind: &str) -> StreamId {
    StreamId::new(&unique("conf"), kind, &unique("id")).expect("generated ids are valid")
}

fn record(command_id: &str, data: &str) -> NewRecord {
    NewRecord {
        command_id: command_id.to_owned(),
        data: Bytes::from(data.to_owned()),
    }
}

/// Appends with a fresh command id and returns the position.
async fn append(log: &dyn EventLog, stream: &StreamId, expected: Expected, data: &str) -> u64 {
    log.append(stream, expected, record(&unique("cmd"), data))
        .await
        .expect("append succeeds")
}

fn data_of(records: &[StoredRecord]) -> Vec<&[u8]> {
    records.iter().map(|r| r.data.as_ref()).collect()
}

fn assert_conflict(result: Result<u64, LogError>, current: Option<u64>, what: &str) {
    match result {
        Err(LogError::Conflict { current: reported }) => {
            assert_eq!(
                reported, current,
                "{what}: conflict reports the stream's last position"
            );
        }
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

/// A stream nobody wrote to reads as empty.
pub async fn check_read_unknown_stream(log: &dyn EventLog) {
    let records = log.read_stream(&stream("nothing")).await.expect("read");
    assert!(
        records.is_empty(),
        "unknown stream has no records: {records:?}"
    );
}

/// `NoStream` appends to a new stream and the record reads back.
pub async fn check_append_no_stream(log: &dyn EventLog) {
    let s = stream("user");
    let position = append(log, &s, Expected::NoStream, "created").await;
    assert!(position >= 1, "positions start at 1");
    let records = log.read_stream(&s).await.expect("read");
    let expected = StoredRecord {
        position,
        stream: s,
        data: Bytes::from_static(b"created"),
    };
    assert_eq!(records, vec![expected]);
}

/// Writers that are behind are refused; the writer that is current succeeds.
pub async fn check_conflicts(log: &dyn EventLog) {
    let s = stream("user");
    let empty = log
        .append(&s, Expected::At(1), record(&unique("cmd"), "x"))
        .await;
    assert_conflict(empty, None, "At on an empty stream");
    let first = append(log, &s, Expected::NoStream, "one").await;
    let again = log
        .append(&s, Expected::NoStream, record(&unique("cmd"), "x"))
        .await;
    assert_conflict(again, Some(first), "NoStream on an existing stream");
    let second = append(log, &s, Expected::At(first), "two").await;
    assert!(second > first, "positions increase");
    let stale = log
        .append(&s, Expected::At(first), record(&unique("cmd"), "x"))
        .await;
    assert_conflict(stale, Some(second), "stale At");
    let third = append(log, &s, Expected::At(second), "three").await;
    let records = log.read_stream(&s).await.expect("read");
    assert_eq!(
        data_of(&records),
        [b"one".as_ref(), b"two", b"three"],
        "no refused write landed"
    );
    assert_eq!(records.last().map(|r| r.position), Some(third));
}

/// Positions increase strictly across streams, and a stream reads back only its own
/// records, in order.
pub async fn check_positions_and_read_stream(log: &dyn EventLog) {
    let streams = [stream("user"), stream("client"), stream("user")];
    let mut last = [None::<u64>; 3];
    let mut previous = 0;
    for round in 0..3 {
        for (i, s) in streams.iter().enumerate() {
            let expected = last[i].map_or(Expected::NoStream, Expected::At);
            let position = append(log, s, expected, &format!("{i}:{round}")).await;
            assert!(position > previous, "position {position} after {previous}");
            previous = position;
            last[i] = Some(position);
        }
    }
    for (i, s) in streams.iter().enumerate() {
        let records = log.read_stream(s).await.expect("read");
        let data: Vec<String> = records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.data).into_owned())
            .collect();
        assert_eq!(
            data,
            (0..3)
                .map(|round| format!("{i}:{round}"))
                .collect::<Vec<_>>()
        );
        assert!(
            records.iter().all(|r| &r.stream == s),
            "only the stream's own records"
        );
        assert!(
            records.windows(2).all(|w| w[0].position < w[1].position),
            "in order"
        );
    }
}

/// `read_from` returns the tail of the log, bounded by `max`, and `last_position`
/// names its end.
pub async fn check_read_from_and_last_position(log: &dyn EventLog) {
    let before = log.last_position().await.expect("last position");
    let (a, b) = (stream("user"), stream("pool"));
    let p1 = append(log, &a, Expected::NoStream, "a1").await;
    let p2 = append(log, &b, Expected::NoStream, "b1").await;
    let p3 = append(log, &a, Expected::At(p1), "a2").await;
    assert!(p1 > before, "appends go after the previous end");
    assert_eq!(log.last_position().await.expect("last position"), p3);

    let tail = log.read_from(before + 1, 100).await.expect("read_from");
    let got: Vec<(u64, &StreamId, &[u8])> = tail
        .iter()
        .map(|r| (r.position, &r.stream, r.data.as_ref()))
        .collect();
    assert_eq!(
        got,
        [(p1, &a, b"a1".as_ref()), (p2, &b, b"b1"), (p3, &a, b"a2")]
    );

    let bounded = log.read_from(p2, 1).await.expect("read_from");
    assert_eq!(
        bounded.iter().map(|r| r.position).collect::<Vec<_>>(),
        [p2],
        "max is honoured"
    );
    let none = log
        .read_from(p3 + 1, 10)
        .await
        .expect("read_from past the end");
    assert!(none.is_empty(), "nothing after the end: {none:?}");
}

/// Re-appending a command id returns the first position and writes nothing, even
/// though the retry's expected position is stale by then, and even after other
/// commands have been appended to the stream.
pub async fn check_dedupe(log: &dyn EventLog) {
    let s = stream("user");
    let command = unique("cmd");
    let first = log
        .append(&s, Expected::NoStream, record(&command, "once"))
        .await
        .expect("append");
    let last = log.last_position().await.expect("last position");
    let retry = log
        .append(&s, Expected::NoStream, record(&command, "once"))
        .await;
    assert_eq!(
        retry.expect("retry is not a conflict"),
        first,
        "retry returns the first position"
    );
    assert_eq!(
        log.last_position().await.expect("last position"),
        last,
        "retry wrote nothing"
    );
    assert_eq!(log.read_stream(&s).await.expect("read").len(), 1);

    // Still deduplicated once another command has moved the stream on.
    let second = append(log, &s, Expected::At(first), "next").await;
    let late = log
        .append(&s, Expected::NoStream, record(&command, "once"))
        .await;
    assert_eq!(late.expect("late retry is not a conflict"), first);
    let records = log.read_stream(&s).await.expect("read");
    assert_eq!(
        records.iter().map(|r| r.position).collect::<Vec<_>>(),
        [first, second]
    );
}

/// `follow` yields the records from its start position, then records appended while
/// it waits.
pub async fn check_follow(log: &dyn EventLog) {
    let s = stream("user");
    let p1 = append(log, &s, Expected::NoStream, "f1").await;
    let p2 = append(log, &s, Expected::At(p1), "f2").await;
    let mut follow = log.follow(p1);
    for expected in [p1, p2] {
        let got = next_followed(&mut follow).await;
        assert_eq!(
            (got.position, &got.stream),
            (expected, &s),
            "existing records first"
        );
    }
    // Nothing more yet: the follower must be waiting, not ending.
    let idle = tokio::time::timeout(Duration::from_millis(200), follow.next()).await;
    assert!(
        idle.is_err(),
        "follow yields nothing new before an append: {idle:?}"
    );
    let p3 = append(log, &s, Expected::At(p2), "f3").await;
    let got = next_followed(&mut follow).await;
    assert_eq!(
        (got.position, got.data.as_ref()),
        (p3, b"f3".as_ref()),
        "then new records"
    );
}

async fn next_followed(
    follow: &mut futures::stream::BoxStream<'static, Result<StoredRecord, LogError>>,
) -> StoredRecord {
    tokio::time::timeout(FOLLOW_TIMEOUT, follow.next())
        .await
        .expect("follow delivers within the timeout")
        .expect("follow does not end")
        .expect("follow does not fail")
}

/// Of many writers expecting the same position, exactly one wins; the others are told
/// the winner's position.
pub async fn check_concurrent_appends(log: Arc<dyn EventLog>) {
    let s = stream("user");
    let base = append(log.as_ref(), &s, Expected::NoStream, "base").await;
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (log, s) = (log.clone(), s.clone());
            tokio::spawn(async move {
                log.append(
                    &s,
                    Expected::At(base),
                    record(&unique("race"), &format!("r{i}")),
                )
                .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    let winners: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one writer wins: {results:?}");
    // A loser refused while the winner was still being replicated may be told the
    // position before it; that costs the loser one more retry, nothing else.
    for result in results.iter().filter(|r| r.is_err()) {
        let current = match result {
            Err(LogError::Conflict { current }) => *current,
            other => panic!("losing writer: expected a conflict, got {other:?}"),
        };
        assert!(
            current == Some(winners[0]) || current == Some(base),
            "losing writer told {current:?}, not the winner {} or base {base}",
            winners[0]
        );
    }
    assert_eq!(
        log.read_stream(&s).await.expect("read").len(),
        2,
        "only the winner landed"
    );
}

fn value(s: &str) -> Bytes {
    Bytes::from(s.to_owned())
}

/// `create` writes only absent keys; `get` returns the value and revision.
pub async fn check_kv_create_get(kv: &dyn KeyValue) {
    let key = unique("create");
    assert_eq!(kv.get(&key).await.expect("get"), None, "absent key");
    let revision = kv.create(&key, value("v1")).await.expect("create");
    let entry = kv.get(&key).await.expect("get").expect("present");
    assert_eq!((entry.value, entry.revision), (value("v1"), revision));
    let again = kv.create(&key, value("v2")).await;
    assert!(
        matches!(again, Err(KvError::Conflict)),
        "second create conflicts: {again:?}"
    );
    assert_eq!(
        kv.get(&key).await.expect("get").map(|e| e.value),
        Some(value("v1"))
    );
}

/// `update` is a compare-and-set on the revision.
pub async fn check_kv_update(kv: &dyn KeyValue) {
    let key = unique("update");
    let r1 = kv.create(&key, value("v1")).await.expect("create");
    let r2 = kv
        .update(&key, value("v2"), r1)
        .await
        .expect("update at current revision");
    assert!(r2 > r1, "revisions increase");
    let stale = kv.update(&key, value("v3"), r1).await;
    assert!(
        matches!(stale, Err(KvError::Conflict)),
        "stale update conflicts: {stale:?}"
    );
    let entry = kv.get(&key).await.expect("get").expect("present");
    assert_eq!((entry.value, entry.revision), (value("v2"), r2));
    let absent = kv.update(&unique("absent"), value("v"), r2).await;
    assert!(
        matches!(absent, Err(KvError::Conflict)),
        "update of absent key: {absent:?}"
    );
}

/// `delete` is a compare-and-set too; a deleted key reads as absent and can be
/// created again.
pub async fn check_kv_delete_and_recreate(kv: &dyn KeyValue) {
    let key = unique("delete");
    let r1 = kv.create(&key, value("v1")).await.expect("create");
    let r2 = kv.update(&key, value("v2"), r1).await.expect("update");
    let stale = kv.delete(&key, r1).await;
    assert!(
        matches!(stale, Err(KvError::Conflict)),
        "stale delete conflicts: {stale:?}"
    );
    assert!(
        kv.get(&key).await.expect("get").is_some(),
        "stale delete removed nothing"
    );
    kv.delete(&key, r2)
        .await
        .expect("delete at current revision");
    assert_eq!(
        kv.get(&key).await.expect("get"),
        None,
        "deleted key is absent"
    );
    let twice = kv.delete(&key, r2).await;
    assert!(
        matches!(twice, Err(KvError::Conflict)),
        "deleting an absent key: {twice:?}"
    );
    let r3 = kv
        .create(&key, value("v3"))
        .await
        .expect("create after delete");
    assert!(r3 > r2, "a re-created key gets a new revision");
    let entry = kv.get(&key).await.expect("get").expect("present");
    assert_eq!((entry.value, entry.revision), (value("v3"), r3));
    let absent = kv.delete(&unique("absent"), r3).await;
    assert!(
        matches!(absent, Err(KvError::Conflict)),
        "delete of absent key: {absent:?}"
    );
}

/// Keys are arbitrary UTF-8, including characters that are special to backends.
pub async fn check_kv_unicode_keys(kv: &dyn KeyValue) {
    let prefix = unique("unicode");
    let suffixes = [
        "",
        "ünïcødé ✓",
        "a.b",
        "a b",
        "*",
        ">",
        "a/b",
        "日本語",
        "🦀",
        "KEY",
    ];
    let keys: Vec<String> = suffixes.iter().map(|s| format!("{prefix}{s}")).collect();
    let bare = ["", "ünïcødé", "*", "."];
    let all: Vec<&str> = keys.iter().map(String::as_str).chain(bare).collect();
    // The bare keys may survive from an earlier run on a persistent store.
    for key in &all {
        if let Some(entry) = kv.get(key).await.expect("get") {
            kv.delete(key, entry.revision).await.expect("clean up");
        }
    }
    for key in &all {
        kv.create(key, value(key))
            .await
            .expect("create unicode key");
    }
    for key in &all {
        let entry = kv.get(key).await.expect("get").expect("present");
        assert_eq!(entry.value, value(key), "key {key:?} keeps its own value");
    }
}

/// The same key in two buckets is two entries.
pub async fn check_kv_buckets_are_separate(a: &dyn KeyValue, b: &dyn KeyValue) {
    let key = unique("shared");
    a.create(&key, value("a")).await.expect("create in a");
    assert_eq!(
        b.get(&key).await.expect("get"),
        None,
        "b does not see a's key"
    );
    b.create(&key, value("b")).await.expect("create in b");
    assert_eq!(
        a.get(&key).await.expect("get").map(|e| e.value),
        Some(value("a"))
    );
}

/// Of many concurrent creators of one key, exactly one wins and its value stays.
pub async fn check_kv_concurrent_create(kv: Arc<dyn KeyValue>) {
    let key = unique("race");
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (kv, key) = (kv.clone(), key.clone());
            tokio::spawn(async move { (i, kv.create(&key, value(&format!("w{i}"))).await) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (i, Ok(revision)) => winners.push((i, revision)),
            (_, Err(KvError::Conflict)) => {}
            (_, Err(err)) => panic!("create failed with {err:?}, not a conflict"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creator wins: {winners:?}");
    let (winner, revision) = winners[0];
    let entry = kv.get(&key).await.expect("get").expect("present");
    assert_eq!(
        (entry.value, entry.revision),
        (value(&format!("w{winner}")), revision)
    );
}
