//! `list-users`: seeds a pool with N users through a user import job (a CSV upload: no
//! password hashing) and measures `ListUsers` over them: paging through every user
//! (Limit 60), and `email = "..."` and `email ^= "..."` filters.
//!
//! The import itself is timed too (upload, then start to Succeeded, sampled every
//! 100 ms), because at this size it is the slow part and worth knowing; `import` runs
//! that part alone.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::api::Api;
use crate::procstat;
use crate::report::{millis, round};
use crate::stats::Percentiles;

/// What to seed and measure.
pub struct ListingPlan {
    pub users: usize,
    /// Reuse a pool seeded earlier (its users named as this tool names them).
    pub pool_id: Option<String>,
    pub queries: usize,
    pub concurrency: usize,
    pub server_pid: Option<String>,
}

fn user_name(i: usize) -> String {
    format!("user{i:07}")
}

fn string_at(value: &Value, pointer: &str) -> anyhow::Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no {pointer} in {value}"))
}

/// Server CPU seconds so far, when its pid is known.
fn server_cpu(pid: Option<&str>) -> anyhow::Result<Option<Duration>> {
    pid.map(procstat::cpu_time).transpose()
}

fn cpu_between(before: Option<Duration>, after: Option<Duration>) -> Option<f64> {
    Some(after?.saturating_sub(before?).as_secs_f64())
}

/// One measured phase.
struct Phase {
    name: &'static str,
    calls: usize,
    wall: Duration,
    latencies: Option<Percentiles>,
    server_cpu_s: Option<f64>,
}

impl Phase {
    fn json(&self) -> Value {
        let ms = |f: fn(&Percentiles) -> Duration| {
            self.latencies.as_ref().map(|p| round(millis(f(p)), 2))
        };
        json!({
            "phase": self.name,
            "calls": self.calls,
            "wall_s": round(self.wall.as_secs_f64(), 3),
            "throughput_per_s": round(self.calls as f64 / self.wall.as_secs_f64(), 1),
            "p50_ms": ms(|p| p.p50),
            "p99_ms": ms(|p| p.p99),
            "max_ms": ms(|p| p.max),
            "server_cpu_s": self.server_cpu_s.map(|c| round(c, 2)),
        })
    }
}

pub async fn bench(api: &Api, plan: ListingPlan) -> anyhow::Result<Value> {
    let pid = plan.server_pid.as_deref();
    let (pool_id, import) = match plan.pool_id.clone() {
        Some(pool_id) => (pool_id, Value::Null),
        None => seed(api, plan.users, pid).await?,
    };
    let mut phases = Vec::new();
    phases.push(page_through(api, &pool_id, plan.users, pid).await?);
    let exact = |i: usize| format!("email = \"{}@example.com\"", user_name(i));
    phases.push(filtered(api, &pool_id, &plan, "email =", exact, 1).await?);
    // `user00123` prefixes 100 users of 100,000: the first page (60) comes back.
    let prefix = |i: usize| format!("email ^= \"{}\"", &user_name(i)[..9]);
    phases.push(filtered(api, &pool_id, &plan, "email ^=", prefix, 1).await?);
    let report = json!({
        "pool_id": pool_id,
        "users": plan.users,
        "import": import,
        "phases": phases.iter().map(Phase::json).collect::<Vec<_>>(),
    });
    Ok(report)
}

/// How often the import job's progress is asked for while it runs.
const IMPORT_POLL: Duration = Duration::from_millis(100);

/// Creates a pool and imports `count` users into it; the pool id and the import's
/// figures.
///
/// # Errors
/// When a call fails, the job ends other than `Succeeded`, or not every user was
/// imported.
pub async fn seed(api: &Api, count: usize, pid: Option<&str>) -> anyhow::Result<(String, Value)> {
    let name = format!("list-{}", time::OffsetDateTime::now_utc().unix_timestamp());
    let pool = api
        .call_signed(
            "CreateUserPool",
            &json!({ "PoolName": name, "AutoVerifiedAttributes": ["email"] }),
        )
        .await?;
    let pool_id = string_at(&pool, "/UserPool/Id")?;
    let header = api
        .call_signed("GetCSVHeader", &json!({ "UserPoolId": pool_id }))
        .await?;
    let columns: Vec<String> = header["CSVHeader"]
        .as_array()
        .context("no CSVHeader")?
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    let csv = csv_file(&columns, count);
    let size = csv.len();
    let job = api
        .call_signed(
            "CreateUserImportJob",
            &json!({
                "JobName": "list-users-bench",
                "UserPoolId": pool_id,
                "CloudWatchLogsRoleArn": "arn:aws:iam::123456789012:role/CognitoImport",
            }),
        )
        .await?;
    let job_id = string_at(&job, "/UserImportJob/JobId")?;
    let url = string_at(&job, "/UserImportJob/PreSignedUrl")?;
    let uploaded_at = Instant::now();
    api.put(&url, csv).await?;
    let upload = uploaded_at.elapsed();
    let cpu_before = server_cpu(pid)?;
    let started = Instant::now();
    let body = json!({ "UserPoolId": pool_id, "JobId": job_id });
    api.call_signed("StartUserImportJob", &body).await?;
    let mut samples = Vec::new();
    let job = loop {
        tokio::time::sleep(IMPORT_POLL).await;
        let job = api.call_signed("DescribeUserImportJob", &body).await?;
        let job = job["UserImportJob"].clone();
        let done = job["ImportedUsers"].as_u64().unwrap_or(0)
            + job["SkippedUsers"].as_u64().unwrap_or(0)
            + job["FailedUsers"].as_u64().unwrap_or(0);
        samples.push((started.elapsed().as_secs_f64(), done));
        match job["Status"].as_str() {
            Some("Succeeded") => break job,
            Some("Failed" | "Stopped" | "Expired") => bail!("import ended: {job}"),
            _ => {}
        }
    };
    let took = started.elapsed();
    let cpu = cpu_between(cpu_before, server_cpu(pid)?);
    ensure!(
        job["ImportedUsers"].as_u64() == Some(count as u64),
        "not every user was imported: {job}"
    );
    // The rate over each tenth of the run, to see whether it slows as the pool grows.
    let deciles: Vec<f64> = (1..=10)
        .filter_map(|d| {
            let upto = samples
                .iter()
                .rev()
                .find(|(t, _)| *t <= took.as_secs_f64() * d as f64 / 10.0)?;
            let from = samples
                .iter()
                .rev()
                .find(|(t, _)| *t <= took.as_secs_f64() * (d - 1) as f64 / 10.0)
                .unwrap_or(&(0.0, 0));
            let span = upto.0 - from.0;
            (span > 0.0).then(|| round((upto.1 - from.1) as f64 / span, 0))
        })
        .collect();
    let import = json!({
        "csv_bytes": size,
        "upload_s": round(upload.as_secs_f64(), 2),
        "import_s": round(took.as_secs_f64(), 1),
        "users_per_s": round(count as f64 / took.as_secs_f64(), 0),
        "users_per_s_by_decile": deciles,
        "server_cpu_s": cpu.map(|c| round(c, 1)),
        "server_cpu_ms_per_user": cpu.map(|c| round(c * 1e3 / count as f64, 3)),
    });
    eprintln!("import: {import}");
    Ok((pool_id, import))
}

fn csv_file(columns: &[String], count: usize) -> Vec<u8> {
    let mut out = String::with_capacity(count * 64);
    out.push_str(&columns.join(","));
    out.push_str("\r\n");
    for i in 0..count {
        let name = user_name(i);
        let row: Vec<String> = columns
            .iter()
            .map(|c| match c.as_str() {
                "cognito:username" => name.clone(),
                "email" => format!("{name}@example.com"),
                "email_verified" => "true".into(),
                "cognito:mfa_enabled" => "false".into(),
                "given_name" => format!("Given {i}"),
                _ => String::new(),
            })
            .collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// Every page of the pool's users, one request at a time.
async fn page_through(
    api: &Api,
    pool_id: &str,
    expected: usize,
    pid: Option<&str>,
) -> anyhow::Result<Phase> {
    let cpu_before = server_cpu(pid)?;
    let started = Instant::now();
    let (mut token, mut seen, mut latencies) = (None::<String>, 0usize, Vec::new());
    loop {
        let mut body = json!({ "UserPoolId": pool_id, "Limit": 60 });
        if let Some(token) = &token {
            body["PaginationToken"] = json!(token);
        }
        let at = Instant::now();
        let page = api.call_signed("ListUsers", &body).await?;
        latencies.push(at.elapsed());
        seen += page["Users"].as_array().map_or(0, Vec::len);
        token = page["PaginationToken"].as_str().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let wall = started.elapsed();
    ensure!(
        seen == expected,
        "paged through {seen} users, expected {expected}"
    );
    let calls = latencies.len();
    Ok(Phase {
        name: "ListUsers, every page (Limit 60)",
        calls,
        wall,
        latencies: Percentiles::of(&mut latencies),
        server_cpu_s: cpu_between(cpu_before, server_cpu(pid)?),
    })
}

/// `plan.queries` filtered first pages over users spread across the pool, with
/// `plan.concurrency` requests in flight.
async fn filtered(
    api: &Api,
    pool_id: &str,
    plan: &ListingPlan,
    name: &'static str,
    filter: impl Fn(usize) -> String,
    min_hits: usize,
) -> anyhow::Result<Phase> {
    let step = (plan.users / plan.queries.max(1)).max(1);
    let filters: Vec<String> = (0..plan.queries)
        .map(|q| filter((q * step + q % 7) % plan.users.max(1)))
        .collect();
    let cpu_before = server_cpu(plan.server_pid.as_deref())?;
    let started = Instant::now();
    let results: Vec<anyhow::Result<Duration>> = futures::stream::iter(filters)
        .map(|filter| async move {
            let body = json!({ "UserPoolId": pool_id, "Limit": 60, "Filter": filter });
            let at = Instant::now();
            let page = api.call_signed("ListUsers", &body).await?;
            let hits = page["Users"].as_array().map_or(0, Vec::len);
            ensure!(hits >= min_hits, "{filter}: {hits} users");
            Ok(at.elapsed())
        })
        .buffer_unordered(plan.concurrency.max(1))
        .collect()
        .await;
    let wall = started.elapsed();
    let mut latencies = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Phase {
        name: match name {
            "email =" => "ListUsers email = \"...\"",
            _ => "ListUsers email ^= \"...\"",
        },
        calls: latencies.len(),
        wall,
        latencies: Percentiles::of(&mut latencies),
        server_cpu_s: cpu_between(cpu_before, server_cpu(plan.server_pid.as_deref())?),
    })
}

/// The report as a table.
pub fn table(report: &Value) -> String {
    let mut out = format!(
        "list-users: {} users in pool {}\nimport: {}\n",
        report["users"], report["pool_id"], report["import"]
    );
    out.push_str("| phase | calls | wall (s) | calls/s | p50 (ms) | p99 (ms) | max (ms) | server CPU (s) |\n|---|---|---|---|---|---|---|---|\n");
    for phase in report["phases"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            phase["phase"].as_str().unwrap_or_default(),
            phase["calls"],
            phase["wall_s"],
            phase["throughput_per_s"],
            phase["p50_ms"],
            phase["p99_ms"],
            phase["max_ms"],
            phase["server_cpu_s"],
        ));
    }
    out
}
