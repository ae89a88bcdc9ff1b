//! `rebuild`: how fast the directory folds the event log into its read models from
//! scratch, as it does on start when its read-model file is new or of an older layout.
//!
//! The log is either an existing embedded one (`--log`, e.g. the `portcullis.redb` of a
//! stopped `portcullis up`, after a user import) or one this command writes first:
//! `--events` user changes (sign-up, confirmation, then attribute updates, one record
//! per change as the directory appends them) spread over users of one pool, appended
//! durably through the event log trait. Then a fresh read-model file is opened with the
//! directory's own `Projection::start`, and the clock runs until it has applied the
//! log's last position.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use portcullis_directory::projections::Projection;
use portcullis_eventlog::embedded::EmbeddedStore;
use portcullis_eventlog::{EventLog, Expected};
use serde_json::{Value, json};

use crate::procstat;
use crate::records;
use crate::report::round;

/// Changes per generated user: signed up, confirmed, one attribute update.
const CHANGES_PER_USER: u64 = 3;
/// A rebuild that takes longer than this is reported as a failure, not a figure.
const GIVE_UP_AFTER: Duration = Duration::from_secs(3600);
/// Records read per call when counting the events of the log.
const COUNT_BATCH: usize = 4096;

/// What to replay.
#[derive(Debug, Clone)]
pub struct RebuildPlan {
    /// An existing embedded log file; `None` to generate one.
    pub log: Option<PathBuf>,
    /// Events to generate.
    pub events: u64,
    /// Appends in flight while generating.
    pub concurrency: usize,
}

/// Opens or generates the log, rebuilds the read model, and reports.
///
/// # Errors
/// When the log cannot be opened (a running server holds it), written or replayed.
pub async fn bench(plan: &RebuildPlan) -> anyhow::Result<Value> {
    let dir = tempfile::Builder::new()
        .prefix("portcullis-rebuild-")
        .tempdir()
        .context("creating a temporary directory")?;
    let (store, generated) = match &plan.log {
        Some(path) => (open_existing(path).await?, Value::Null),
        None => {
            let store = EmbeddedStore::open(&dir.path().join("portcullis.redb"))
                .await
                .context("opening a new embedded log")?;
            let written = generate(&store, plan.events, plan.concurrency.max(1)).await?;
            (store, written)
        }
    };
    let log: Arc<dyn EventLog> = Arc::new(store);
    let last = log.last_position().await?;
    let events = count_events(log.as_ref(), last).await?;
    let read_model = dir.path().join("directory-projection.redb");
    let cpu_before = procstat::cpu_time("self").ok();
    let started = Instant::now();
    let projection = Projection::start(&read_model, Arc::clone(&log))?;
    while projection.wait_for(last).await.is_err() {
        if started.elapsed() > GIVE_UP_AFTER {
            bail!("the read model did not reach position {last} in {GIVE_UP_AFTER:?}");
        }
    }
    let elapsed = started.elapsed();
    let cpu = procstat::cpu_time("self")
        .ok()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    #[allow(clippy::cast_precision_loss)]
    let per_s = |n: u64| round(n as f64 / seconds, 0);
    let read_model_bytes = std::fs::metadata(&read_model).map(|m| m.len()).ok();
    Ok(json!({
        "rebuild": "directory",
        "log": plan.log.as_ref().map(|p| p.display().to_string()),
        "generated": generated,
        "records": last,
        "events": events,
        "elapsed_s": round(seconds, 3),
        "records_per_s": per_s(last),
        "events_per_s": per_s(events),
        "cpu_ms": cpu.map(|c| round(c.as_secs_f64() * 1e3, 1)),
        "cores": cpu.map(|c| round(c.as_secs_f64() / seconds, 2)),
        "read_model_bytes": read_model_bytes,
    }))
}

async fn open_existing(path: &Path) -> anyhow::Result<EmbeddedStore> {
    if !path.is_file() {
        bail!("{}: no such log file", path.display());
    }
    EmbeddedStore::open(path).await.with_context(|| {
        format!(
            "opening {} (a running server keeps its log locked: stop it first)",
            path.display()
        )
    })
}

/// Events in the first `last` records of the log.
async fn count_events(log: &dyn EventLog, last: u64) -> anyhow::Result<u64> {
    let (mut next, mut events) = (1, 0_u64);
    while next <= last {
        let batch = log.read_from(next, COUNT_BATCH).await?;
        let Some(end) = batch.last().map(|r| r.position) else {
            break;
        };
        events += batch
            .iter()
            .map(|r| records::events_in(&r.data) as u64)
            .sum::<u64>();
        next = end + 1;
    }
    Ok(events)
}

/// Appends the pool's creation and `events` user changes, `concurrency` users at a
/// time; what it took.
async fn generate(store: &EmbeddedStore, events: u64, concurrency: usize) -> anyhow::Result<Value> {
    let (stream, record) = records::pool_created("rebuild-pool")?;
    store.append(&stream, Expected::NoStream, record).await?;
    let users = events.div_ceil(CHANGES_PER_USER);
    let next_user = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (store, next_user) = (store.clone(), Arc::clone(&next_user));
            tokio::spawn(async move {
                loop {
                    let user = next_user.fetch_add(1, Ordering::Relaxed);
                    if user >= users {
                        return Ok::<(), anyhow::Error>(());
                    }
                    let changes = (events - user * CHANGES_PER_USER).min(CHANGES_PER_USER);
                    write_user(&store, user, changes).await?;
                }
            })
        })
        .collect();
    for result in futures::future::join_all(workers).await {
        result.context("writer task failed")??;
    }
    let took = started.elapsed().as_secs_f64().max(f64::EPSILON);
    #[allow(clippy::cast_precision_loss)]
    let appends_per_s = round(events as f64 / took, 0);
    Ok(json!({
        "users": users,
        "records": events + 1,
        "write_s": round(took, 3),
        "appends_per_s": appends_per_s,
        "concurrency": concurrency,
    }))
}

/// The first `changes` changes of generated user number `user`, one append each.
async fn write_user(store: &EmbeddedStore, user: u64, changes: u64) -> anyhow::Result<()> {
    let sub = records::sub(0, user);
    let stream = records::user_stream(&sub)?;
    let mut expected = Expected::NoStream;
    for step in 0..changes {
        let record = records::user_change(&stream, &sub, step, &format!("rebuild-{user}-{step}"));
        let position = store.append(&stream, expected, record).await?;
        expected = Expected::At(position);
    }
    Ok(())
}

/// The report as text.
#[must_use]
pub fn table(report: &Value) -> String {
    format!(
        "rebuild of the directory's read models: {} records, {} events in {} s\n\
         {} records/s, {} events/s; CPU {} ms ({} cores); read model {} bytes\n\
         generated log: {}\n",
        report["records"],
        report["events"],
        report["elapsed_s"],
        report["records_per_s"],
        report["events_per_s"],
        report["cpu_ms"],
        report["cores"],
        report["read_model_bytes"],
        report["generated"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rebuilds_a_generated_log_into_the_users_read_model() {
        let plan = RebuildPlan {
            log: None,
            events: 10,
            concurrency: 3,
        };
        let report = bench(&plan).await.unwrap();
        // The pool's creation, then 4 users: 3 + 3 + 3 + 1 changes.
        assert_eq!(report["records"], 11);
        assert_eq!(report["events"], 11);
        assert_eq!(report["generated"]["users"], 4);
    }

    #[tokio::test]
    async fn generated_users_are_listed_by_the_rebuilt_read_model() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("log.redb"))
            .await
            .unwrap();
        generate(&store, 7, 2).await.unwrap();
        let log: Arc<dyn EventLog> = Arc::new(store);
        let last = log.last_position().await.unwrap();
        let projection = Projection::start(&dir.path().join("read.redb"), log).unwrap();
        // Waits as long as it takes: each call gives up after a few seconds.
        while projection.wait_for(last).await.is_err() {}
        assert_eq!(projection.user_count(records::POOL_ID).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_missing_log_is_an_error() {
        let plan = RebuildPlan {
            log: Some(PathBuf::from("/nonexistent/portcullis.redb")),
            events: 0,
            concurrency: 1,
        };
        let error = bench(&plan).await.unwrap_err();
        assert!(error.to_string().contains("no such log file"), "{error}");
    }
}
