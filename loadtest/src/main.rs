//! `portcullis-loadtest`: load generator for a running Portcullis, and a measurement of
//! the argon2id cost that bounds password sign-in and sign-up.
//!
//! See `docs/benchmarks.md` for how the published figures were produced.

mod api;
mod append;
mod argon2;
mod breached;
mod function;
mod listing;
mod procstat;
mod rebuild;
mod records;
mod report;
mod run;
mod saml_verify;
mod setup;
mod srp_math;
mod stats;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::api::Api;
use crate::report::{CpuUse, Report, RunInfo};
use crate::run::Scenario;
use portcullis_sigv4::sign::Signer;

#[derive(Debug, Parser)]
#[command(name = "portcullis-loadtest", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a pool and client, then load one scenario for a fixed duration.
    Run(RunArgs),
    /// Measure one argon2id verification with the server's parameters.
    Argon2(Argon2Args),
    /// Measure the server's modular exponentiations of one SRP sign-in.
    SrpMath(IterationsArgs),
    /// Measure the server's acceptance of one signed SAML response (parse, canonicalize,
    /// digest, signature, checks) with the SAML crate's test documents.
    SamlVerify(IterationsArgs),
    /// Index a generated breached-password corpus (Pwned Passwords format) and time
    /// lookups of passwords in it and not in it.
    Breached(BreachedArgs),
    /// Seed a pool with N users through a user import job (CSV upload), then measure
    /// ListUsers paging through all of them and email filters.
    ListUsers(ListUsersArgs),
    /// Import N users into a new pool through a user import job (CSV upload) and
    /// report users/s.
    Import(ImportArgs),
    /// Create a pool with a domain and a client_credentials client, and print its token
    /// URL and credentials as one JSON line (for HTTP load tools such as wrk).
    OauthTarget(AdminArgs),
    /// Durable appends per second through the event log, embedded or JetStream.
    Append(AppendArgs),
    /// Rebuild the directory's read models from an event log and report events/s.
    Rebuild(RebuildArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ThreatProtection {
    Audit,
    Enforced,
}

impl ThreatProtection {
    fn mode(self) -> &'static str {
        match self {
            Self::Audit => "AUDIT",
            Self::Enforced => "ENFORCED",
        }
    }
}

#[derive(Debug, Args)]
struct AdminArgs {
    /// Base URL of the Cognito API.
    #[arg(long, default_value = "http://127.0.0.1:9229")]
    url: String,
    /// Region of the SigV4 credential scope.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key_id: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
}

impl AdminArgs {
    fn api(&self, idle_per_host: usize) -> anyhow::Result<Api> {
        let signer = Signer::new(
            &self.access_key_id,
            &self.secret_access_key,
            &self.region,
            "cognito-idp",
        );
        Api::new(&self.url, idle_per_host, signer)
    }
}

#[derive(Debug, Args)]
struct ImportArgs {
    #[command(flatten)]
    admin: AdminArgs,
    /// Users in the CSV file.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Process whose CPU time (utime+stime) to charge to the import.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print one JSON line on stdout (the summary then goes to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct AppendArgs {
    #[arg(long, value_enum, default_value_t = append::Backend::Embedded)]
    backend: append::Backend,
    /// Appends in flight (closed-loop workers).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Length of the measured phase.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured appends before it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// Append to this NATS server (JetStream enabled) instead of starting nats-server
    /// ($PORTCULLIS_NATS_SERVER, else the first recent enough one on PATH).
    #[arg(long)]
    nats_url: Option<String>,
    /// Print one JSON line on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RebuildArgs {
    /// Replay this embedded log (the `portcullis.redb` of a stopped `portcullis up`)
    /// instead of writing one.
    #[arg(long)]
    log: Option<std::path::PathBuf>,
    /// User changes to write into a new log first (without `--log`).
    #[arg(long, default_value_t = 20_000)]
    events: u64,
    /// Appends in flight while writing it.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Print one JSON line on stdout (the summary then goes to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ListUsersArgs {
    /// Base URL of the Cognito API.
    #[arg(long, default_value = "http://127.0.0.1:9229")]
    url: String,
    /// Users to import (and expect when paging).
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Measure a pool seeded by an earlier run instead of importing again.
    #[arg(long)]
    pool_id: Option<String>,
    /// Filtered ListUsers calls per filter kind.
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Filtered calls in flight.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Region of the SigV4 credential scope.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Process whose CPU time (utime+stime) to charge to each phase.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print one JSON line on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key_id: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Base URL of the Cognito API.
    #[arg(long, default_value = "http://127.0.0.1:9229")]
    url: String,
    /// Requests in flight (closed-loop workers).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Length of the measured phase: `20s`, `1m`, `500ms`, or plain seconds.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured load before the measured phase, by the same workers over the same
    /// connections (its errors are still reported).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,
    /// End the measured phase after this many operations in all, if that comes before
    /// `--duration`.
    #[arg(long)]
    requests: Option<usize>,
    #[arg(long, value_enum, default_value_t = Scenario::Signin)]
    scenario: Scenario,
    /// The pool's threat protection (`UserPoolTier` PLUS and this
    /// `AdvancedSecurityMode`): each sign-in is then judged for risk and recorded.
    #[arg(long, value_enum)]
    threat_protection: Option<ThreatProtection>,
    /// Serve a pre token generation function (V2) as the Lambda Invoke API on this
    /// address and set it on the run's pool, so every token the scenario gets calls
    /// it; the server must call functions there (`PORTCULLIS_LAMBDA_ENDPOINT`). The
    /// scenario is reported as `<scenario>+pre-token`.
    #[arg(long)]
    pre_token_function: Option<std::net::SocketAddr>,
    /// Users signed up and confirmed before a sign-in run.
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Region of the SigV4 credential scope.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Process whose CPU time (utime+stime) to charge to the run.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print one JSON line on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key_id: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
}

#[derive(Debug, Args)]
struct Argon2Args {
    /// Verifications per measurement (per thread for the parallel one).
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// Print one JSON line on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct IterationsArgs {
    /// Sign-ins' (or responses') worth of work to time.
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Print one JSON line on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct BreachedArgs {
    /// Hashes in the generated corpus.
    #[arg(long, default_value_t = 1_000_000)]
    hashes: u64,
    /// Lookups of each kind (breached, not breached) to time.
    #[arg(long, default_value_t = 20_000)]
    lookups: usize,
    /// Print one JSON line on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // reqwest is built without a rustls provider of its own (features unify with the
    // server's); any `https://` URL needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::Run(args) => run(args).await,
        Command::Argon2(args) => {
            let report = argon2::bench(args.iterations).await?;
            emit(&report.table(), args.json.then(|| report.json()));
            Ok(())
        }
        Command::SrpMath(args) => {
            let report = srp_math::bench(args.iterations)?;
            emit(&report.table(), args.json.then(|| report.json()));
            Ok(())
        }
        Command::SamlVerify(args) => {
            let report = saml_verify::bench(args.iterations)?;
            emit(&report.table(), args.json.then(|| report.json()));
            Ok(())
        }
        Command::Breached(args) => {
            let report = breached::bench(args.hashes, args.lookups)?;
            emit(&report.table(), args.json.then(|| report.json()));
            Ok(())
        }
        Command::ListUsers(args) => list_users(args).await,
        Command::Import(args) => import(args).await,
        Command::OauthTarget(args) => oauth_target(args).await,
        Command::Append(args) => {
            let plan = append::AppendPlan {
                backend: args.backend,
                concurrency: usize::from(args.concurrency),
                warmup: args.warmup,
                duration: args.duration,
                nats_url: args.nats_url,
            };
            let report = append::bench(plan).await?;
            emit(&report.table(), args.json.then(|| report.json()));
            Ok(())
        }
        Command::Rebuild(args) => {
            let plan = rebuild::RebuildPlan {
                log: args.log,
                events: args.events,
                concurrency: args.concurrency,
            };
            let report = rebuild::bench(&plan).await?;
            emit(&rebuild::table(&report), args.json.then_some(report));
            Ok(())
        }
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let api = args.admin.api(1)?;
    api.health().await.context("server not ready")?;
    let pid = args.server_pid.map(|pid| pid.to_string());
    let (pool_id, import) = listing::seed(&api, args.users, pid.as_deref()).await?;
    let report = serde_json::json!({ "users": args.users, "pool_id": pool_id, "import": import });
    let table = format!(
        "imported {} users into {pool_id} in {} s: {} users/s (server CPU {} ms per user)\n",
        args.users,
        report["import"]["import_s"],
        report["import"]["users_per_s"],
        report["import"]["server_cpu_ms_per_user"],
    );
    emit(&table, args.json.then_some(report));
    Ok(())
}

async fn oauth_target(args: AdminArgs) -> anyhow::Result<()> {
    let api = args.api(1)?;
    api.health().await.context("server not ready")?;
    let target = setup::create_target(&api, true, None, None).await?;
    let oauth = target.oauth.context("no OAuth set-up")?;
    let token_url = reqwest::Url::parse(&args.url)?.join(&oauth.token_path)?;
    let line = serde_json::json!({
        "pool_id": target.pool_id,
        "token_url": token_url.as_str(),
        "client_id": oauth.machine_id,
        "client_secret": oauth.machine_secret,
        "scope": setup::MACHINE_SCOPE,
    });
    println!("{line}");
    Ok(())
}

async fn list_users(args: ListUsersArgs) -> anyhow::Result<()> {
    let signer = Signer::new(
        &args.access_key_id,
        &args.secret_access_key,
        &args.region,
        "cognito-idp",
    );
    let api = Api::new(&args.url, args.concurrency.max(1), signer)?;
    api.health().await.context("server not ready")?;
    let plan = listing::ListingPlan {
        users: args.users,
        pool_id: args.pool_id,
        queries: args.queries,
        concurrency: args.concurrency,
        server_pid: args.server_pid.map(|pid| pid.to_string()),
    };
    let report = listing::bench(&api, plan).await?;
    emit(&listing::table(&report), args.json.then_some(report));
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let concurrency = usize::from(args.concurrency);
    let signer = Signer::new(
        &args.access_key_id,
        &args.secret_access_key,
        &args.region,
        "cognito-idp",
    );
    let api = Api::new(&args.url, concurrency, signer)?;
    api.health().await.context("server not ready")?;
    let calls = match args.pre_token_function {
        Some(addr) => Some(function::serve(addr).await?),
        None => None,
    };
    let lambda_config = calls.as_ref().map(|_| function::lambda_config());
    let threat_protection = args.threat_protection.map(ThreatProtection::mode);
    let mut target = setup::create_target(
        &api,
        args.scenario.needs_oauth(),
        lambda_config,
        threat_protection,
    )
    .await?;
    if args.scenario.needs_identity_pool() {
        target.identity = Some(setup::create_identity_target(&api, &target).await?);
    }
    if args.scenario == run::Scenario::Blocked {
        setup::block_with_web_acl(&api, &target).await?;
    }
    let users = if args.scenario.needs_users() {
        setup::seed_users(&api, &target, args.users).await?
    } else {
        Vec::new()
    };
    let server_pid = args.server_pid.map(|pid| pid.to_string());
    let user_count = users.len();
    let mut load = run::Load::prepare(api, target, users, args.scenario, concurrency).await;
    if !args.warmup.is_zero() {
        let warmup = load.phase(args.warmup, None).await.total();
        if !warmup.errors.is_empty() {
            eprintln!("warning: errors during the warm-up: {:?}", warmup.errors);
        }
    }
    let before = CpuSnapshot::take(server_pid.as_deref())?;
    let recorder = load.phase(args.duration, args.requests).await;
    let (server, client) = before.finish(server_pid.as_deref())?;
    if let Some(calls) = &calls {
        let calls = calls.load(std::sync::atomic::Ordering::Relaxed);
        anyhow::ensure!(calls > 0, "the server never called the pre token function");
        eprintln!("the pre token generation function answered {calls} calls");
    }
    let scenario = match calls {
        Some(_) => format!("{}+pre-token", args.scenario.name()),
        None => args.scenario.name().to_owned(),
    };
    let info = RunInfo {
        scenario,
        concurrency,
        users: user_count,
        elapsed: before.at.elapsed(),
        server,
        client,
    };
    let report = Report::new(info, recorder);
    emit(&report.table(), args.json.then(|| report.json()));
    Ok(())
}

/// CPU clocks at the start of the measured phase.
#[derive(Debug, Clone, Copy)]
struct CpuSnapshot {
    at: Instant,
    server: Option<Duration>,
    client: Option<Duration>,
}

impl CpuSnapshot {
    fn take(server_pid: Option<&str>) -> anyhow::Result<Self> {
        let server = server_pid.map(procstat::cpu_time).transpose()?;
        // Our own figure is informative only: missing /proc/self is not fatal.
        let client = procstat::cpu_time("self").ok();
        Ok(Self {
            at: Instant::now(),
            server,
            client,
        })
    }

    /// CPU used since `self` by the server and by this process.
    fn finish(self, server_pid: Option<&str>) -> anyhow::Result<(Option<CpuUse>, Option<CpuUse>)> {
        let now = Self::take(server_pid).context("server process gone during the run")?;
        let wall = self.at.elapsed();
        let delta = |a: Option<Duration>, b: Option<Duration>| {
            Some(CpuUse {
                cpu: b?.saturating_sub(a?),
                wall,
            })
        };
        Ok((
            delta(self.server, now.server),
            delta(self.client, now.client),
        ))
    }
}

/// The table on stdout, or on stderr when a JSON line takes stdout.
fn emit(table: &str, json: Option<serde_json::Value>) {
    match json {
        Some(line) => {
            eprint!("{table}");
            println!("{line}");
        }
        None => print!("{table}"),
    }
}

/// Parses `20s`, `1m`, `1500ms` or a plain number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, "s"), |at| text.split_at(at));
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {text}"))?;
    let seconds = match unit {
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit {unit:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
