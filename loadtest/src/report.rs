//! Turning a run's raw samples into a table for people and a JSON line for scripts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::stats::{OpStats, Percentiles, Recorder};

/// CPU consumed by a process during the measured window.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    pub cpu: Duration,
    pub wall: Duration,
}

impl CpuUse {
    /// Average number of cores kept busy.
    #[must_use]
    pub fn cores(self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(f64::EPSILON)
    }
}

/// Context of the run, echoed into both outputs.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub scenario: String,
    pub concurrency: usize,
    pub users: usize,
    pub elapsed: Duration,
    pub server: Option<CpuUse>,
    pub client: Option<CpuUse>,
}

/// One table row: an operation type, or the total.
#[derive(Debug, Clone)]
struct Row {
    op: String,
    ok: u64,
    errors: u64,
    error_types: BTreeMap<String, u64>,
    ops_per_sec: f64,
    latency: Option<Percentiles>,
}

impl Row {
    fn new(op: &str, mut stats: OpStats, elapsed: Duration) -> Self {
        let ok = stats.latencies.len() as u64;
        #[allow(clippy::cast_precision_loss)]
        let ops_per_sec = ok as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
        Self {
            op: op.to_owned(),
            ok,
            errors: stats.error_count(),
            latency: Percentiles::of(&mut stats.latencies),
            error_types: stats.errors,
            ops_per_sec,
        }
    }

    fn attempts(&self) -> u64 {
        self.ok + self.errors
    }

    fn json(&self) -> Value {
        let ms =
            |pick: fn(&Percentiles) -> Duration| self.latency.as_ref().map(|p| millis(pick(p)));
        json!({
            "op": self.op, "ok": self.ok, "errors": self.errors, "error_types": self.error_types,
            "ops_per_sec": round(self.ops_per_sec, 1),
            "p50_ms": ms(|p| p.p50), "p90_ms": ms(|p| p.p90), "p99_ms": ms(|p| p.p99), "max_ms": ms(|p| p.max),
        })
    }
}

/// A finished run, ready to print.
#[derive(Debug, Clone)]
pub struct Report {
    info: RunInfo,
    rows: Vec<Row>,
    total: Row,
}

impl Report {
    /// Summarises `recorder` (consumed: latencies are sorted in place).
    #[must_use]
    pub fn new(info: RunInfo, recorder: Recorder) -> Self {
        let total = Row::new("total", recorder.total(), info.elapsed);
        let rows = recorder
            .ops
            .into_iter()
            .map(|(op, stats)| Row::new(op, stats, info.elapsed))
            .collect();
        Self { info, rows, total }
    }

    /// CPU milliseconds per attempted operation (failed ones cost CPU too).
    fn cpu_ms_per_op(&self, usage: Option<CpuUse>) -> Option<f64> {
        let attempts = self.total.attempts();
        #[allow(clippy::cast_precision_loss)]
        usage
            .filter(|_| attempts > 0)
            .map(|u| u.cpu.as_secs_f64() * 1e3 / attempts as f64)
    }

    /// The human-readable table.
    #[must_use]
    pub fn table(&self) -> String {
        let i = &self.info;
        let mut out = format!(
            "scenario {}  concurrency {}  users {}  elapsed {:.2} s\n",
            i.scenario,
            i.concurrency,
            i.users,
            i.elapsed.as_secs_f64()
        );
        out += &format!(
            "{:<14} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "op", "ok", "errors", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for row in self.rows.iter().chain(std::iter::once(&self.total)) {
            out += &table_row(row);
        }
        for (label, count) in &self.total.error_types {
            out += &format!("error {label}: {count}\n");
        }
        out += &self.cpu_line("server", i.server);
        out += &self.cpu_line("load generator", i.client);
        out
    }

    fn cpu_line(&self, who: &str, usage: Option<CpuUse>) -> String {
        match (usage, self.cpu_ms_per_op(usage)) {
            (Some(u), Some(per_op)) => format!(
                "{who} CPU: {:.0} ms ({:.2} cores), {per_op:.2} ms/op\n",
                u.cpu.as_secs_f64() * 1e3,
                u.cores()
            ),
            (Some(u), None) => format!(
                "{who} CPU: {:.0} ms, no operations\n",
                u.cpu.as_secs_f64() * 1e3
            ),
            (None, _) => String::new(),
        }
    }

    /// One JSON object on one line.
    #[must_use]
    pub fn json(&self) -> Value {
        let i = &self.info;
        let cpu = |usage: Option<CpuUse>| {
            usage.map(|u| {
                json!({
                    "cpu_ms": round(u.cpu.as_secs_f64() * 1e3, 1),
                    "cores": round(u.cores(), 2),
                    "cpu_ms_per_op": self.cpu_ms_per_op(Some(u)).map(|v| round(v, 3)),
                })
            })
        };
        json!({
            "scenario": i.scenario, "concurrency": i.concurrency, "users": i.users,
            "elapsed_s": round(i.elapsed.as_secs_f64(), 3),
            "total": self.total.json(),
            "ops": self.rows.iter().map(Row::json).collect::<Vec<_>>(),
            "server": cpu(i.server), "load_generator": cpu(i.client),
        })
    }
}

fn table_row(row: &Row) -> String {
    let cell = |pick: fn(&Percentiles) -> Duration| {
        row.latency
            .as_ref()
            .map_or_else(|| "-".to_owned(), |p| format!("{:.3}", millis(pick(p))))
    };
    format!(
        "{:<14} {:>8} {:>7} {:>9.1} {:>9} {:>9} {:>9} {:>9}\n",
        row.op,
        row.ok,
        row.errors,
        row.ops_per_sec,
        cell(|p| p.p50),
        cell(|p| p.p90),
        cell(|p| p.p99),
        cell(|p| p.max)
    )
}

/// Milliseconds with microsecond resolution.
#[must_use]
pub fn millis(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1e3, 3)
}

/// Rounds to `digits` decimals so the JSON line stays readable.
#[must_use]
pub fn round(value: f64, digits: i32) -> f64 {
    let scale = 10_f64.powi(digits);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_millisecond_latencies_keep_microseconds() {
        let mut recorder = Recorder::default();
        for micros in [180, 240, 250, 260, 1_900] {
            recorder.ok("GetUser", Duration::from_micros(micros));
        }
        let info = RunInfo {
            scenario: "get-user".into(),
            concurrency: 1,
            users: 1,
            elapsed: Duration::from_secs(1),
            server: None,
            client: None,
        };
        let report = Report::new(info, recorder);
        let json = report.json();
        assert_eq!(json["total"]["p50_ms"], 0.25);
        assert_eq!(json["total"]["p99_ms"], 1.9);
        assert_eq!(json["total"]["ops_per_sec"], 5.0);
        let table = report.table();
        // p50, then p90, p99 and max, at microsecond resolution.
        assert!(
            table.contains("    0.250     1.900     1.900     1.900"),
            "{table}"
        );
    }
}
