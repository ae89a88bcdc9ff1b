//! CPU time of a process from `/proc/<pid>/stat`.
//!
//! Server CPU per operation is the figure the project judges performance by
//! (`shared/PERFORMANCE.md`): on a 2-core machine shared with the load generator,
//! throughput alone says as much about the generator as about the server.

use std::time::Duration;

use anyhow::{Context as _, anyhow};

/// User plus system CPU time consumed so far by every thread of `pid` (`self` for us).
///
/// # Errors
/// When the process does not exist or its stat line cannot be parsed.
pub fn cpu_time(pid: &str) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let line = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_ticks(&line).ok_or_else(|| anyhow!("unexpected format of {path}"))?;
    Ok(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// utime + stime in clock ticks. Fields are counted after the last `)`, because the
/// command name in parentheses may itself contain spaces or parentheses.
fn parse_ticks(line: &str) -> Option<u64> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    Duration::from_micros(ticks.saturating_mul(1_000_000) / per_second.max(1))
}

/// `sysconf(_SC_CLK_TCK)` without `unsafe` libc calls: ask `getconf`, else assume the
/// value every mainstream Linux build uses (100).
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line =
            "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 9 0";
        assert_eq!(parse_ticks(line), Some(1801));
        assert_eq!(ticks_to_duration(1801, 100), Duration::from_millis(18_010));
    }

    #[test]
    fn reads_own_process() {
        assert!(cpu_time("self").is_ok());
    }
}
