//! The conformance suite against a real nats-server (and a 3-node cluster), started by
//! the test kit on free ports.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::sync::Arc;

use bytes::Bytes;
use portcullis_eventlog::conformance::{run_kv_suite, run_log_suite};
use portcullis_eventlog::jetstream::{JetStreamConfig, JetStreamStore};
use portcullis_eventlog::{EventLog, Expected, KvError, LogError, NewRecord, StreamId};
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

/// Reads on one connection see every write acknowledged on another, even when the
/// replica nearest the reader is a follower that was killed, missed writes, and is
/// catching up. (nats-server 2.15 keeps a node that is catching up from answering
/// direct gets, so this holds without the store's own checks too; it guards the
/// restart path, and the checks, against servers that answer sooner.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_see_acknowledged_writes_while_a_follower_catches_up() {
    let mut cluster = NatsCluster::start(3).await.unwrap();
    let (follower, writer, reader) = writer_and_follower(&cluster, &["claims"]).await;
    let (writes, reads) = (
        writer.bucket("claims").await.unwrap(),
        reader.bucket("claims").await.unwrap(),
    );

    let mut written = Vec::new();
    let write = async |i: usize| {
        let stream = StreamId::new("pool1", "user", &format!("u{i}")).unwrap();
        let record = NewRecord {
            command_id: format!("create-{i}"),
            data: Bytes::from(vec![b'x'; 2048]),
        };
        let position = writer
            .append(&stream, Expected::NoStream, record)
            .await
            .unwrap();
        let revision = writes
            .create(&format!("name/{i}"), Bytes::from(format!("owner-{i}")))
            .await
            .unwrap();
        // The writer reads its own write through the whole-log read too.
        let own = writer.read_from(position, 1).await.unwrap();
        assert_eq!(own.first().map(|r| r.position), Some(position));
        (i, stream, position, revision)
    };
    let check = async |(i, stream, position, revision): &(usize, StreamId, u64, u64)| {
        let records = reader.read_stream(stream).await.unwrap();
        let positions: Vec<u64> = records.iter().map(|r| r.position).collect();
        assert_eq!(positions, [*position], "stream of write {i} read stale");
        let entry = reads.get(&format!("name/{i}")).await.unwrap();
        assert_eq!(
            entry.map(|e| e.revision),
            Some(*revision),
            "claim of write {i} read stale"
        );
    };

    for i in 0..40 {
        let w = write(i).await;
        check(&w).await;
        written.push(w);
    }
    cluster.kill(follower);
    for i in 40..400 {
        written.push(write(i).await);
    }
    cluster.restart(follower).await.unwrap();
    // Straight away, newest first: what the follower missed is what it lacks longest.
    for w in written.iter().rev() {
        check(w).await;
    }
    for i in 400..440 {
        let w = write(i).await;
        check(&w).await;
    }
}

/// A cache that follows the log through one node sees every acknowledged write on its
/// next lookup, and keeps doing so after that node is killed while writes go on and is
/// restarted: its follower catches up, and until it has, lookups read around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cache_follows_the_log_through_a_node_that_is_killed_and_restarted() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use portcullis_eventlog::cache::{LogCache, Watch};

    let mut cluster = NatsCluster::start(3).await.unwrap();
    let (follower, writer, reader) = writer_and_follower(&cluster, &[]).await;
    let watch = Watch {
        scope_kinds: &["client"],
        stream_kinds: &[],
    };
    let cache = LogCache::start(Arc::new(reader.clone()), watch)
        .await
        .unwrap();
    let loads = AtomicUsize::new(0);

    let clients: Vec<StreamId> = (0..4)
        .map(|c| StreamId::new(&format!("pool{c}"), "client", &format!("c{c}")).unwrap())
        .collect();
    let mut last = vec![None::<u64>; clients.len()];
    let mut write = async |i: usize| {
        let c = i % clients.len();
        let expected = last[c].map_or(Expected::NoStream, Expected::At);
        let record = NewRecord {
            command_id: format!("w-{i}"),
            data: Bytes::from(format!("v{i}")),
        };
        last[c] = Some(writer.append(&clients[c], expected, record).await.unwrap());
        (c, format!("v{i}"))
    };
    let lookup = async |c: usize| {
        let stream = &clients[c];
        cache
            .get(&format!("client/{c}"), || async {
                loads.fetch_add(1, Ordering::SeqCst);
                let records = reader.read_stream(stream).await?;
                let newest = records.last().map(|r| r.data.clone()).unwrap_or_default();
                let value = String::from_utf8_lossy(&newest).into_owned();
                Ok::<_, LogError>((stream.scope().to_owned(), value))
            })
            .await
            .unwrap()
    };

    for i in 0..40 {
        let (c, value) = write(i).await;
        assert_eq!(lookup(c).await, value, "write {i} not seen");
    }
    cluster.kill(follower);
    let mut newest = vec![String::new(); clients.len()];
    for i in 40..240 {
        let (c, value) = write(i).await;
        newest[c] = value;
    }
    cluster.restart(follower).await.unwrap();
    for (c, value) in newest.iter().enumerate() {
        assert_eq!(
            &lookup(c).await,
            value,
            "client {c} stale after the restart"
        );
    }
    for i in 240..280 {
        let (c, value) = write(i).await;
        assert_eq!(
            lookup(c).await,
            value,
            "write {i} not seen after the restart"
        );
    }
    // Caught up: a lookup with no write since is answered from the cache again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        lookup(0).await;
        let before = loads.load(Ordering::SeqCst);
        lookup(0).await;
        if loads.load(Ordering::SeqCst) == before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cache never caught up"
        );
    }
}

/// On a three-node cluster whose log (and `buckets`) exist: a node that leads none of
/// them (one always exists among three), a store talking to the other two nodes (the
/// writer), and one talking only to that node (the reader, whose own replica answers
/// its direct gets first).
async fn writer_and_follower(
    cluster: &NatsCluster,
    buckets: &[&str],
) -> (usize, JetStreamStore, JetStreamStore) {
    let store = |url: String| {
        JetStreamStore::connect(JetStreamConfig {
            replicas: 3,
            ..JetStreamConfig::new(url)
        })
    };
    let setup = store(cluster.url()).await.unwrap();
    let mut streams = vec!["PORTCULLIS_LOG".to_owned()];
    for bucket in buckets {
        setup.bucket(bucket).await.unwrap();
        streams.push(format!("KV_portcullis_{bucket}"));
    }
    drop(setup);
    let streams: Vec<&str> = streams.iter().map(String::as_str).collect();
    let leaders = stream_leaders(&cluster.urls[0], &streams).await;
    let follower = (0..3)
        .find(|&i| !leaders.iter().any(|l| l == cluster.name(i)))
        .unwrap();
    let others: Vec<String> = (0..3)
        .filter(|&i| i != follower)
        .map(|i| cluster.urls[i].clone())
        .collect();
    let writer = store(others.join(",")).await.unwrap();
    let reader = store(cluster.urls[follower].clone()).await.unwrap();
    (follower, writer, reader)
}

/// The nodes leading `streams`, by server name.
async fn stream_leaders(url: &str, streams: &[&str]) -> Vec<String> {
    let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
    let mut leaders = Vec::new();
    for name in streams {
        let mut stream = js.get_stream(*name).await.unwrap();
        let info = stream.info().await.unwrap();
        leaders.push(
            info.cluster
                .as_ref()
                .and_then(|c| c.leader.clone())
                .unwrap(),
        );
    }
    leaders
}

/// Two writers on different nodes race for each key and each new stream; the loser's
/// read straight after its refusal sees the winner's write, whichever replica is
/// nearest to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_loser_of_a_race_reads_the_winners_write() {
    let cluster = NatsCluster::start(3).await.unwrap();
    let mut stores = Vec::new();
    for url in &cluster.urls {
        let config = JetStreamConfig {
            replicas: 3,
            ..JetStreamConfig::new(url.clone())
        };
        let store = JetStreamStore::connect(config).await.unwrap();
        let bucket = store.bucket("claims").await.unwrap();
        stores.push((store, bucket));
    }
    for i in 0..300 {
        let (a, b) = (&stores[i % 3], &stores[(i + 1) % 3]);
        let key = format!("name/{i}");
        let (ra, rb) = tokio::join!(
            a.1.create(&key, Bytes::from_static(b"a")),
            b.1.create(&key, Bytes::from_static(b"b"))
        );
        let (winner, loser) = match (ra, rb) {
            (Ok(revision), Err(KvError::Conflict)) => (revision, b),
            (Err(KvError::Conflict), Ok(revision)) => (revision, a),
            other => panic!("race {i} for a key ended {other:?}"),
        };
        let seen = loser.1.get(&key).await.unwrap().map(|e| e.revision);
        assert_eq!(seen, Some(winner), "the loser of race {i} read stale");

        let stream = StreamId::new("pool1", "user", &format!("u{i}")).unwrap();
        let record = |who: &str| NewRecord {
            command_id: format!("{who}-{i}"),
            data: Bytes::from_static(b"x"),
        };
        let (ra, rb) = tokio::join!(
            a.0.append(&stream, Expected::NoStream, record("a")),
            b.0.append(&stream, Expected::NoStream, record("b"))
        );
        let (winner, loser) = match (ra, rb) {
            (Ok(position), Err(LogError::Conflict { .. })) => (position, b),
            (Err(LogError::Conflict { .. }), Ok(position)) => (position, a),
            other => panic!("race {i} for a stream ended {other:?}"),
        };
        let seen: Vec<u64> = loser
            .0
            .read_stream(&stream)
            .await
            .unwrap()
            .iter()
            .map(|r| r.position)
            .collect();
        assert_eq!(
            seen,
            [winner],
            "the loser of race {i} read the stream stale"
        );
    }
}
