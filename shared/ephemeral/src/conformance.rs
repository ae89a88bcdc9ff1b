//! The one behavioural suite every [`EphemeralStore`] must pass, so code written against
//! the in-process store keeps its guarantees on Redis and back.
//!
//! Each check is a `pub async fn` that panics on a violation (that is its job, so it is
//! the one place in this crate that panics). Checks use their own fresh keys, so they can
//! share a store and run in any order. [`conformance_tests!`](crate::conformance_tests)
//! turns the whole list into one `#[tokio::test]` per check for an implementation.
//!
//! Expiry checks use short TTLs and poll until the key is gone (with a deadline) rather
//! than sleeping a fixed time, and they also check that a key never vanishes early.
//! The concurrency checks run their callers on real OS threads, so they need a
//! multi-threaded Tokio runtime.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::EphemeralStore;

/// Long enough that a busy test machine still reads the key before it expires.
const SHORT_TTL: Duration = Duration::from_millis(200);
/// Never reached during a test run.
const LONG_TTL: Duration = Duration::from_secs(3600);
/// How long an expired key may linger before the check fails.
const EXPIRY_DEADLINE: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Redis keeps expiry in whole milliseconds of wall-clock time; allow for that rounding
/// when checking that a key did not vanish early.
const EARLY_TOLERANCE: Duration = Duration::from_millis(10);
const CONCURRENT_CALLERS: usize = 50;

/// Expands to one `#[tokio::test]` per conformance check.
///
/// `$setup` names an `async fn() -> (G, Box<dyn EphemeralStore>)`; the guard `G` (for
/// example a server process) lives until the test ends. The caller needs `tokio` with the
/// `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    ($setup:path) => {
        $crate::conformance_tests!(@each $setup;
            put_then_get,
            put_overwrites_value_and_expiry,
            put_if_absent_sets_only_absent_keys,
            put_if_absent_keeps_the_existing_expiry,
            keys_expire,
            take_returns_the_value_once,
            take_is_single_use_under_concurrency,
            delete_reports_whether_the_key_existed,
            incr_counts_from_one,
            incr_keeps_the_first_expiry,
            incr_is_exact_under_concurrency,
            incr_rejects_a_non_integer_value,
            binary_values_round_trip,
            similar_keys_are_distinct,
        );
    };
    (@each $setup:path; $($check:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (_guard, store) = $setup().await;
                $crate::conformance::$check(store.as_ref()).await;
            }
        )*
    };
}

/// A key no other check (or earlier run against the same server) has used.
fn fresh_key(check: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("conformance:{check}:{nanos}:{n}")
}

fn bytes(value: &'static [u8]) -> Bytes {
    Bytes::from_static(value)
}

async fn get(store: &dyn EphemeralStore, key: &str) -> Option<Bytes> {
    store.get(key).await.expect("get")
}

/// Asserts `key` holds `expected`, unless the check was too slow to tell: once `ttl` has
/// passed since `since` the key may rightly be gone.
async fn assert_held_until_ttl(
    store: &dyn EphemeralStore,
    key: &str,
    expected: &[u8],
    since: Instant,
    ttl: Duration,
) {
    let got = get(store, key).await;
    let still_due = since.elapsed() < ttl;
    assert!(
        got.as_deref() == Some(expected) || !still_due,
        "{key}: expected {expected:?} before its TTL, got {got:?}"
    );
}

/// Polls until `key` reads as absent, then checks it did not expire before `ttl` had
/// passed since `since` (taken just before the write that set the expiry).
async fn await_expiry(store: &dyn EphemeralStore, key: &str, since: Instant, ttl: Duration) {
    while get(store, key).await.is_some() {
        assert!(
            since.elapsed() < ttl + EXPIRY_DEADLINE,
            "{key} still present {:?} after a {ttl:?} TTL",
            since.elapsed()
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let lived = since.elapsed();
    assert!(
        lived + EARLY_TOLERANCE >= ttl,
        "{key} expired after {lived:?}, before its {ttl:?} TTL"
    );
}

/// Runs `call` on `CONCURRENT_CALLERS` OS threads released together by a barrier, so
/// the calls genuinely overlap (one task interleaving futures would never exercise the
/// in-process store's locking). Threads borrow the store, which is why they are scoped.
fn in_parallel<T, F, Fut>(call: F) -> Vec<T>
where
    T: Send,
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = T>,
{
    let handle = tokio::runtime::Handle::current();
    let barrier = Barrier::new(CONCURRENT_CALLERS);
    // block_in_place hands this worker's other tasks (e.g. the Redis connection driver)
    // to another thread while this one waits for the scope to finish.
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let threads: Vec<_> = (0..CONCURRENT_CALLERS)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        handle.block_on(call())
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("concurrent caller panicked"))
                .collect()
        })
    })
}

/// A value written is read back.
pub async fn put_then_get(store: &dyn EphemeralStore) {
    let key = fresh_key("put_then_get");
    assert_eq!(get(store, &key).await, None, "a fresh key is absent");
    store.put(&key, bytes(b"v1"), LONG_TTL).await.expect("put");
    assert_eq!(get(store, &key).await, Some(bytes(b"v1")));
    assert_eq!(
        get(store, &key).await,
        Some(bytes(b"v1")),
        "get does not consume"
    );
}

/// `put` replaces both the value and the expiry of an existing key.
pub async fn put_overwrites_value_and_expiry(store: &dyn EphemeralStore) {
    let key = fresh_key("overwrite");
    let sentinel = fresh_key("overwrite_sentinel");
    let since = Instant::now();
    store
        .put(&key, bytes(b"old"), SHORT_TTL)
        .await
        .expect("put");
    // Written after the first put with the same TTL, so it expires no earlier.
    store
        .put(&sentinel, bytes(b"s"), SHORT_TTL)
        .await
        .expect("put");
    store.put(&key, bytes(b"new"), LONG_TTL).await.expect("put");
    assert_eq!(get(store, &key).await, Some(bytes(b"new")));

    await_expiry(store, &sentinel, since, SHORT_TTL).await;
    assert_eq!(
        get(store, &key).await,
        Some(bytes(b"new")),
        "the overwrite's longer TTL replaced the first one"
    );
}

/// `put_if_absent` writes only when nothing is there, and never changes a present value.
pub async fn put_if_absent_sets_only_absent_keys(store: &dyn EphemeralStore) {
    let key = fresh_key("put_if_absent");
    let first = store.put_if_absent(&key, bytes(b"first"), LONG_TTL).await;
    assert!(first.expect("put_if_absent"), "absent key is set");
    let second = store.put_if_absent(&key, bytes(b"second"), LONG_TTL).await;
    assert!(!second.expect("put_if_absent"), "present key is not set");
    assert_eq!(get(store, &key).await, Some(bytes(b"first")));

    assert!(store.delete(&key).await.expect("delete"));
    let third = store.put_if_absent(&key, bytes(b"third"), LONG_TTL).await;
    assert!(
        third.expect("put_if_absent"),
        "a deleted key is absent again"
    );
    assert_eq!(get(store, &key).await, Some(bytes(b"third")));
}

/// A refused `put_if_absent` leaves the expiry alone; an expired key counts as absent.
pub async fn put_if_absent_keeps_the_existing_expiry(store: &dyn EphemeralStore) {
    let key = fresh_key("put_if_absent_expiry");
    let since = Instant::now();
    let set = store.put_if_absent(&key, bytes(b"a"), SHORT_TTL).await;
    assert!(set.expect("put_if_absent"));
    let refused = store.put_if_absent(&key, bytes(b"b"), LONG_TTL).await;
    assert!(!refused.expect("put_if_absent"));

    await_expiry(store, &key, since, SHORT_TTL).await;
    let after = store.put_if_absent(&key, bytes(b"c"), LONG_TTL).await;
    assert!(after.expect("put_if_absent"), "an expired key is absent");
    assert_eq!(get(store, &key).await, Some(bytes(b"c")));
}

/// A key is readable until its TTL and then gone for every operation.
pub async fn keys_expire(store: &dyn EphemeralStore) {
    let key = fresh_key("expire");
    let since = Instant::now();
    store.put(&key, bytes(b"v"), SHORT_TTL).await.expect("put");
    assert_held_until_ttl(store, &key, b"v", since, SHORT_TTL).await;

    await_expiry(store, &key, since, SHORT_TTL).await;
    assert_eq!(store.take(&key).await.expect("take"), None);
    assert!(
        !store.delete(&key).await.expect("delete"),
        "expired means absent"
    );
}

/// `take` returns the value and removes it.
pub async fn take_returns_the_value_once(store: &dyn EphemeralStore) {
    let key = fresh_key("take");
    assert_eq!(store.take(&key).await.expect("take"), None);
    store
        .put(&key, bytes(b"session"), LONG_TTL)
        .await
        .expect("put");
    assert_eq!(
        store.take(&key).await.expect("take"),
        Some(bytes(b"session"))
    );
    assert_eq!(get(store, &key).await, None);
    assert_eq!(store.take(&key).await.expect("take"), None);
}

/// Of many simultaneous takers of one key, exactly one gets the value; this is what
/// makes sessions and codes single-use. Repeated to give a race several chances.
pub async fn take_is_single_use_under_concurrency(store: &dyn EphemeralStore) {
    for round in 0..5 {
        let key = fresh_key("take_race");
        store
            .put(&key, bytes(b"once"), LONG_TTL)
            .await
            .expect("put");
        let key = key.as_str();
        let results = in_parallel(|| async move { store.take(key).await.expect("take") });
        let winners: Vec<_> = results.into_iter().flatten().collect();
        assert_eq!(
            winners,
            [bytes(b"once")],
            "round {round}: exactly one taker wins"
        );
        assert_eq!(get(store, key).await, None);
    }
}

/// `delete` says whether it removed something.
pub async fn delete_reports_whether_the_key_existed(store: &dyn EphemeralStore) {
    let key = fresh_key("delete");
    assert!(!store.delete(&key).await.expect("delete"), "absent key");
    store.put(&key, bytes(b"v"), LONG_TTL).await.expect("put");
    assert!(store.delete(&key).await.expect("delete"), "present key");
    assert_eq!(get(store, &key).await, None);
    assert!(
        !store.delete(&key).await.expect("delete"),
        "already deleted"
    );
}

/// A counter starts at 1 and reads back as decimal text, as in Redis.
pub async fn incr_counts_from_one(store: &dyn EphemeralStore) {
    let key = fresh_key("incr");
    for expected in 1..=3 {
        assert_eq!(store.incr(&key, LONG_TTL).await.expect("incr"), expected);
    }
    assert_eq!(get(store, &key).await, Some(bytes(b"3")));
    assert!(store.delete(&key).await.expect("delete"));
    assert_eq!(
        store.incr(&key, LONG_TTL).await.expect("incr"),
        1,
        "restarts"
    );
}

/// Later increments do not extend the window the first one opened (a rate limit that
/// slid on every attempt would never reset), and an expired counter restarts at 1.
pub async fn incr_keeps_the_first_expiry(store: &dyn EphemeralStore) {
    let key = fresh_key("incr_expiry");
    let since = Instant::now();
    assert_eq!(store.incr(&key, SHORT_TTL).await.expect("incr"), 1);
    assert_eq!(store.incr(&key, LONG_TTL).await.expect("incr"), 2);
    assert_eq!(store.incr(&key, LONG_TTL).await.expect("incr"), 3);

    await_expiry(store, &key, since, SHORT_TTL).await;
    assert_eq!(store.incr(&key, LONG_TTL).await.expect("incr"), 1);
}

/// Simultaneous increments are never lost or duplicated.
pub async fn incr_is_exact_under_concurrency(store: &dyn EphemeralStore) {
    let key = fresh_key("incr_race");
    let key = key.as_str();
    let mut counts = in_parallel(|| async move { store.incr(key, LONG_TTL).await.expect("incr") });
    counts.sort_unstable();
    let expected: Vec<i64> = (1..=CONCURRENT_CALLERS as i64).collect();
    assert_eq!(counts, expected, "every caller saw a distinct count");
}

/// Incrementing a value that is not a decimal integer is an error and changes nothing.
pub async fn incr_rejects_a_non_integer_value(store: &dyn EphemeralStore) {
    let key = fresh_key("incr_binary");
    store
        .put(&key, bytes(b"\xffnot a number"), LONG_TTL)
        .await
        .expect("put");
    assert!(store.incr(&key, LONG_TTL).await.is_err());
    assert_eq!(get(store, &key).await, Some(bytes(b"\xffnot a number")));
}

/// Values are opaque bytes: NUL, invalid UTF-8, empty, and large values survive intact.
pub async fn binary_values_round_trip(store: &dyn EphemeralStore) {
    let all_bytes: Vec<u8> = (0..=255).collect();
    let large: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let values = [
        Bytes::new(),
        Bytes::from_static(b"\0\xff\xfe\0"),
        Bytes::from(all_bytes),
        Bytes::from(large),
    ];
    for value in values {
        let key = fresh_key("binary");
        store.put(&key, value.clone(), LONG_TTL).await.expect("put");
        // An empty value is present, not absent.
        assert_eq!(get(store, &key).await.as_ref(), Some(&value));
        assert_eq!(store.take(&key).await.expect("take").as_ref(), Some(&value));
    }
}

/// Keys are compared exactly: case, trailing spaces, separators and non-ASCII matter.
pub async fn similar_keys_are_distinct(store: &dyn EphemeralStore) {
    let base = fresh_key("similar");
    let keys = [
        base.clone(),
        format!("{base} "),
        base.to_uppercase(),
        format!("{base}:x"),
        format!("{base}🔑"),
    ];
    for (i, key) in keys.iter().enumerate() {
        store
            .put(key, Bytes::from(i.to_string()), LONG_TTL)
            .await
            .expect("put");
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            get(store, key).await,
            Some(Bytes::from(i.to_string())),
            "{key:?}"
        );
    }
}
