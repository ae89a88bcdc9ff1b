//! The measured phase: `concurrency` workers issuing calls back to back until the
//! deadline, over one shared keep-alive client.
//!
//! Closed-loop load (each worker waits for its answer before sending again) keeps the
//! number of requests in flight equal to `--concurrency`, so latency and throughput
//! describe the server at that level of parallelism rather than a queue we built.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{Api, CallError};
use crate::setup::{PASSWORD, Target, sign_up_body};
use crate::stats::Recorder;

/// What the workers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Unsigned `SignUp` with unique user names.
    Signup,
    /// `InitiateAuth` `USER_PASSWORD_AUTH` over seeded users, round-robin.
    Signin,
    /// Alternates the two on every worker.
    Mixed,
}

impl Scenario {
    /// Whether the scenario signs users in, and so needs seeded users.
    #[must_use]
    pub fn needs_users(self) -> bool {
        matches!(self, Self::Signin | Self::Mixed)
    }

    /// Lower-case name as accepted on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Signin => "signin",
            Self::Mixed => "mixed",
        }
    }
}

/// Shared, read-only state of the workers.
struct Shared {
    api: Api,
    target: Target,
    users: Vec<String>,
    next_user: AtomicUsize,
    scenario: Scenario,
    deadline: Instant,
}

/// Runs `concurrency` workers for `duration` and merges what they recorded.
pub async fn drive(
    api: Api,
    target: Target,
    users: Vec<String>,
    scenario: Scenario,
    concurrency: usize,
    duration: Duration,
) -> Recorder {
    let shared = Arc::new(Shared {
        api,
        target,
        users,
        next_user: AtomicUsize::new(0),
        scenario,
        deadline: Instant::now() + duration,
    });
    let workers: Vec<_> = (0..concurrency)
        .map(|id| tokio::spawn(worker(Arc::clone(&shared), id)))
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

async fn worker(shared: Arc<Shared>, id: usize) -> Recorder {
    let mut recorder = Recorder::default();
    let mut n = 0_usize;
    while Instant::now() < shared.deadline {
        let op = pick_op(shared.scenario, id + n);
        let started = Instant::now();
        match call(&shared, op, id, n).await {
            Ok(()) => recorder.ok(op.name(), started.elapsed()),
            Err(error) => recorder.error(op.name(), error.0),
        }
        n += 1;
    }
    recorder
}

#[derive(Debug, Clone, Copy)]
enum Op {
    SignUp,
    SignIn,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::SignUp => "SignUp",
            Self::SignIn => "InitiateAuth",
        }
    }
}

/// Mixed alternates, offset by worker id so half the workers start with each operation.
fn pick_op(scenario: Scenario, step: usize) -> Op {
    match scenario {
        Scenario::Signup => Op::SignUp,
        Scenario::Signin => Op::SignIn,
        Scenario::Mixed if step.is_multiple_of(2) => Op::SignUp,
        Scenario::Mixed => Op::SignIn,
    }
}

async fn call(shared: &Shared, op: Op, worker: usize, n: usize) -> Result<(), CallError> {
    match op {
        Op::SignUp => sign_up(shared, worker, n).await,
        Op::SignIn => sign_in(shared).await,
    }
}

async fn sign_up(shared: &Shared, worker: usize, n: usize) -> Result<(), CallError> {
    let name = format!("lt-{worker}-{n}");
    shared
        .api
        .call("SignUp", &sign_up_body(&shared.target.client_id, &name))
        .await?;
    Ok(())
}

/// A 200 without tokens would be a server bug that looks like success; count it.
async fn sign_in(shared: &Shared) -> Result<(), CallError> {
    let user = next_user(shared).ok_or_else(|| CallError("no seeded users".into()))?;
    let body = json!({
        "ClientId": shared.target.client_id,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": { "USERNAME": user, "PASSWORD": PASSWORD },
    });
    let answer = shared.api.call("InitiateAuth", &body).await?;
    match answer
        .pointer("/AuthenticationResult/AccessToken")
        .and_then(Value::as_str)
    {
        Some(_) => Ok(()),
        None => Err(CallError("NoAuthenticationResult".into())),
    }
}

fn next_user(shared: &Shared) -> Option<&str> {
    let count = shared.users.len();
    if count == 0 {
        return None;
    }
    let index = shared.next_user.fetch_add(1, Ordering::Relaxed) % count;
    shared.users.get(index).map(String::as_str)
}
