//! Cost of one argon2id verification with the server's own hasher and parameters.
//!
//! Password sign-in and sign-up each do one argon2id computation, which dominates their
//! CPU cost; this is the floor the HTTP figures are compared against. It uses
//! `PasswordHasherPool` itself, so thread reuse and queueing match the server.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use portcullis_authn_flow::password::{self, PasswordHasherPool};
use serde_json::{Value, json};

use crate::report::{millis, round};
use crate::stats::median;

const PASSWORD: &str = "Passw0rd!";

/// Measured figures.
#[derive(Debug, Clone)]
pub struct Argon2Report {
    pub iterations: usize,
    pub cores: usize,
    pub median_latency: Duration,
    pub one_thread_per_sec: f64,
    pub all_threads_per_sec: f64,
}

impl Argon2Report {
    /// Human-readable summary.
    #[must_use]
    pub fn table(&self) -> String {
        format!(
            "argon2id m={} KiB t={} p={} verification, {} iterations\n\
             median single-thread latency: {:.2} ms\n\
             throughput 1 thread: {:.1}/s\n\
             throughput {} threads: {:.1}/s\n",
            password::M_COST,
            password::T_COST,
            password::P_COST,
            self.iterations,
            millis(self.median_latency),
            self.one_thread_per_sec,
            self.cores,
            self.all_threads_per_sec
        )
    }

    /// One JSON object on one line.
    #[must_use]
    pub fn json(&self) -> Value {
        json!({
            "argon2id": { "m_cost_kib": password::M_COST, "t_cost": password::T_COST, "p_cost": password::P_COST },
            "iterations": self.iterations, "cores": self.cores,
            "median_ms": millis(self.median_latency),
            "per_sec_1_thread": round(self.one_thread_per_sec, 1),
            "per_sec_all_threads": round(self.all_threads_per_sec, 1),
        })
    }
}

/// Runs the three measurements, `iterations` verifications each (per thread for the
/// parallel one).
///
/// # Errors
/// When the pool cannot hash or a verification fails or rejects the right password.
pub async fn bench(iterations: usize) -> anyhow::Result<Argon2Report> {
    let iterations = iterations.max(1);
    let cores = password::default_threads();
    let single = PasswordHasherPool::new(1, iterations);
    let phc = single
        .hash(PASSWORD.to_owned())
        .await
        .context("hashing the reference password")?;
    verify_once(&single, &phc).await?; // warm-up: first use allocates the 19 MiB block
    let mut latencies = sequential(&single, &phc, iterations).await?;
    let median_latency = median(&mut latencies).context("no samples")?;
    let one_thread_per_sec = parallel(&single, &phc, iterations).await?;
    let pool = PasswordHasherPool::new(cores, iterations * cores);
    let all_threads_per_sec = parallel(&pool, &phc, iterations * cores).await?;
    Ok(Argon2Report {
        iterations,
        cores,
        median_latency,
        one_thread_per_sec,
        all_threads_per_sec,
    })
}

/// One verification at a time: pure latency, nothing queued.
async fn sequential(
    pool: &PasswordHasherPool,
    phc: &str,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        verify_once(pool, phc).await?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

/// `n` verifications submitted at once; returns completed verifications per second.
async fn parallel(pool: &PasswordHasherPool, phc: &str, n: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let results = futures::future::join_all((0..n).map(|_| verify_once(pool, phc))).await;
    let elapsed = started.elapsed();
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    #[allow(clippy::cast_precision_loss)]
    Ok(n as f64 / elapsed.as_secs_f64().max(f64::EPSILON))
}

async fn verify_once(pool: &PasswordHasherPool, phc: &str) -> anyhow::Result<()> {
    if !pool
        .verify(PASSWORD.to_owned(), phc)
        .await
        .context("verify")?
    {
        bail!("argon2id rejected the correct password");
    }
    Ok(())
}
