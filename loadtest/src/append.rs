//! `append`: durable appends per second through the event log trait
//! (`portcullis_eventlog::EventLog`), on the embedded backend (a redb file, as
//! `portcullis up` opens it) or on JetStream (a nats-server this command starts with
//! `sync_interval: always`, or one given by URL).
//!
//! `concurrency` closed-loop workers each append the first record of a new user
//! stream (a `UserSignedUp` batch, as a sign-up does) and wait for it to be durable
//! before the next. Both backends keep their files under `$TMPDIR`, so that decides
//! which disk is measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use portcullis_eventlog::embedded::EmbeddedStore;
use portcullis_eventlog::jetstream::{JetStreamConfig, JetStreamStore};
use portcullis_eventlog::{EventLog, Expected, LogError};
use portcullis_testkit::nats::NatsServer;

use crate::report::{CpuUse, Report, RunInfo};
use crate::stats::Recorder;
use crate::{procstat, records};

/// Which implementation of the log to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A redb file in a fresh temporary directory, fsynced on every commit.
    Embedded,
    /// NATS JetStream, file storage, one replica.
    Jetstream,
}

impl Backend {
    fn scenario(self) -> &'static str {
        match self {
            Self::Embedded => "append-embedded",
            Self::Jetstream => "append-jetstream",
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct AppendPlan {
    pub backend: Backend,
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// An existing NATS server to append to instead of starting one.
    pub nats_url: Option<String>,
}

/// The log under test and what must live as long as it.
struct Subject {
    log: Arc<dyn EventLog>,
    /// The nats-server we started, whose CPU is the server's.
    nats: Option<NatsServer>,
    _dir: Option<tempfile::TempDir>,
}

async fn open(plan: &AppendPlan) -> anyhow::Result<Subject> {
    match plan.backend {
        Backend::Embedded => {
            let dir = tempfile::Builder::new()
                .prefix("portcullis-append-")
                .tempdir()
                .context("creating a temporary directory")?;
            let store = EmbeddedStore::open(&dir.path().join("portcullis.redb"))
                .await
                .context("opening the embedded log")?;
            Ok(Subject {
                log: Arc::new(store),
                nats: None,
                _dir: Some(dir),
            })
        }
        Backend::Jetstream => {
            let (url, nats) = match &plan.nats_url {
                Some(url) => (url.clone(), None),
                None => {
                    let server = NatsServer::start().await.context("starting nats-server")?;
                    (server.url.clone(), Some(server))
                }
            };
            let store = JetStreamStore::connect(JetStreamConfig::new(url))
                .await
                .context("connecting to JetStream")?;
            Ok(Subject {
                log: Arc::new(store),
                nats,
                _dir: None,
            })
        }
    }
}

/// Runs the warm-up and the measured phase; the report of the measured one.
///
/// # Errors
/// When the log cannot be opened or its server not started.
pub async fn bench(plan: AppendPlan) -> anyhow::Result<Report> {
    let subject = open(&plan).await?;
    // Stream names unique to this run, so a shared server never sees a name twice.
    let run = u32::try_from(time::OffsetDateTime::now_utc().unix_timestamp() & 0xffff_ffff)
        .unwrap_or_default()
        ^ std::process::id();
    let next = Arc::new(AtomicU64::new(0));
    let concurrency = plan.concurrency.max(1);
    if !plan.warmup.is_zero() {
        phase(&subject.log, run, &next, concurrency, plan.warmup).await;
    }
    let server_pid = subject.nats.as_ref().map(|n| n.pid().to_string());
    let cpu = |pid: Option<&str>| pid.map(procstat::cpu_time).transpose();
    // Our own figure is informative only (the embedded log works in this process).
    let (server_before, client_before) = (cpu(server_pid.as_deref())?, own_cpu());
    let started = Instant::now();
    let recorder = phase(&subject.log, run, &next, concurrency, plan.duration).await;
    let elapsed = started.elapsed();
    let usage = |before: Option<Duration>, after: Option<Duration>| {
        Some(CpuUse {
            cpu: after?.saturating_sub(before?),
            wall: elapsed,
        })
    };
    let server = usage(server_before, cpu(server_pid.as_deref())?);
    let client = usage(client_before, own_cpu());
    let info = RunInfo {
        scenario: plan.backend.scenario().into(),
        concurrency,
        users: 0,
        elapsed,
        server,
        client,
    };
    Ok(Report::new(info, recorder))
}

fn own_cpu() -> Option<Duration> {
    procstat::cpu_time("self").ok()
}

/// `concurrency` workers appending until `duration` has passed.
async fn phase(
    log: &Arc<dyn EventLog>,
    run: u32,
    next: &Arc<AtomicU64>,
    concurrency: usize,
    duration: Duration,
) -> Recorder {
    let deadline = Instant::now() + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (log, next) = (Arc::clone(log), Arc::clone(next));
            tokio::spawn(async move {
                let mut recorder = Recorder::default();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    match append_one(log.as_ref(), run, n).await {
                        Ok(()) => recorder.ok("append", started.elapsed()),
                        Err(label) => recorder.error("append", label),
                    }
                }
                recorder
            })
        })
        .collect();
    let mut merged = Recorder::default();
    for result in futures::future::join_all(workers).await {
        match result {
            Ok(recorder) => merged.merge(recorder),
            Err(error) => merged.error("worker", format!("worker task failed: {error}")),
        }
    }
    merged
}

async fn append_one(log: &dyn EventLog, run: u32, n: u64) -> Result<(), String> {
    let sub = records::sub(run, n);
    let stream = records::user_stream(&sub).map_err(|e| format!("stream id: {e}"))?;
    let record = records::user_change(&stream, &sub, 0, &format!("append-{run:08x}-{n}"));
    log.append(&stream, Expected::NoStream, record)
        .await
        .map(drop)
        .map_err(|error| match error {
            LogError::Conflict { .. } => "Conflict".to_owned(),
            LogError::Unavailable(_) => "Unavailable".to_owned(),
            LogError::Corrupt(_) => "Corrupt".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(backend: Backend) -> AppendPlan {
        AppendPlan {
            backend,
            concurrency: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(100),
            nats_url: None,
        }
    }

    #[tokio::test]
    async fn each_append_is_a_new_user_stream() {
        let subject = open(&plan(Backend::Embedded)).await.unwrap();
        for n in 0..3 {
            append_one(subject.log.as_ref(), 9, n).await.unwrap();
        }
        let stored = subject.log.read_from(1, 10).await.unwrap();
        assert_eq!(stored.len(), 3);
        for (record, n) in stored.iter().zip(0..) {
            assert_eq!(record.stream.kind(), "user");
            assert_eq!(record.stream.id(), records::sub(9, n));
            assert_eq!(records::events_in(&record.data), 1);
        }
    }

    #[tokio::test]
    async fn every_counted_append_is_in_the_log() {
        for backend in [Backend::Embedded, Backend::Jetstream] {
            let subject = open(&plan(backend)).await.unwrap();
            let next = Arc::new(AtomicU64::new(0));
            let recorder = phase(&subject.log, 1, &next, 2, Duration::from_millis(100)).await;
            let total = recorder.total();
            assert!(total.errors.is_empty(), "{backend:?}: {:?}", total.errors);
            let appended = total.latencies.len() as u64;
            assert_eq!(
                subject.log.last_position().await.unwrap(),
                appended,
                "{backend:?}"
            );
        }
    }
}
