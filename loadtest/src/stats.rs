//! Per-operation latency and error bookkeeping.
//!
//! Each worker records into its own [`Recorder`] (no locks on the hot path) and the
//! recorders are merged once the run is over. Latencies are kept raw and sorted at the
//! end: a 20 s run at a few thousand ops/s is well under a million samples, so exact
//! percentiles cost a few MB and no histogram dependency.

use std::collections::BTreeMap;
use std::time::Duration;

/// Outcomes of one operation type (e.g. `InitiateAuth`).
#[derive(Debug, Default, Clone)]
pub struct OpStats {
    /// Latency of every successful call.
    pub latencies: Vec<Duration>,
    /// Failed calls by error label (`__type`, or a transport error kind).
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    /// Number of failed calls.
    #[must_use]
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn merge(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        for (label, count) in other.errors {
            *self.errors.entry(label).or_default() += count;
        }
    }
}

/// Outcomes of every operation type one worker (or the whole run) performed.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    /// Keyed by operation name so reports come out in a stable order.
    pub ops: BTreeMap<&'static str, OpStats>,
}

impl Recorder {
    /// Records a successful call of `op`.
    pub fn ok(&mut self, op: &'static str, latency: Duration) {
        self.ops.entry(op).or_default().latencies.push(latency);
    }

    /// Records a failed call of `op`.
    pub fn error(&mut self, op: &'static str, label: String) {
        *self
            .ops
            .entry(op)
            .or_default()
            .errors
            .entry(label)
            .or_default() += 1;
    }

    /// Folds `other` into `self`.
    pub fn merge(&mut self, other: Self) {
        for (op, stats) in other.ops {
            self.ops.entry(op).or_default().merge(stats);
        }
    }

    /// All operation types together, for the "total" row.
    #[must_use]
    pub fn total(&self) -> OpStats {
        let mut total = OpStats::default();
        for stats in self.ops.values() {
            total.merge(stats.clone());
        }
        total
    }
}

/// Latency summary of a sorted sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// Sorts `samples` in place and summarises them; `None` when empty.
    pub fn of(samples: &mut [Duration]) -> Option<Self> {
        samples.sort_unstable();
        Some(Self {
            p50: percentile(samples, 50.0)?,
            p90: percentile(samples, 90.0)?,
            p99: percentile(samples, 99.0)?,
            max: *samples.last()?,
        })
    }
}

/// Nearest-rank percentile of an ascending sample: the smallest value with at least
/// `p`% of the sample at or below it (so p99 of 100 values is the 99th, not an
/// interpolation that no request actually experienced).
#[must_use]
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

/// Median of unsorted samples (sorts them).
pub fn median(samples: &mut [Duration]) -> Option<Duration> {
    samples.sort_unstable();
    percentile(samples, 50.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        let sample = ms(1..=100);
        assert_eq!(percentile(&sample, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sample, 90.0), Some(Duration::from_millis(90)));
        assert_eq!(percentile(&sample, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&sample, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&sample, 0.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn small_and_empty_samples() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&ms([7]), 99.0), Some(Duration::from_millis(7)));
        assert_eq!(
            percentile(&ms([1, 2]), 50.0),
            Some(Duration::from_millis(1))
        );
        assert_eq!(percentile(&ms([1, 2]), 101.0), None);
    }

    #[test]
    fn summary_sorts_first() {
        let mut sample = ms([5, 1, 4, 2, 3]);
        let summary = Percentiles::of(&mut sample).unwrap();
        assert_eq!(summary.p50, Duration::from_millis(3));
        assert_eq!(summary.max, Duration::from_millis(5));
    }

    #[test]
    fn merge_adds_errors() {
        let mut a = Recorder::default();
        a.error("SignUp", "TooManyRequestsException".into());
        a.ok("SignUp", Duration::from_millis(1));
        let mut b = Recorder::default();
        b.error("SignUp", "TooManyRequestsException".into());
        b.ok("InitiateAuth", Duration::from_millis(2));
        a.merge(b);
        assert_eq!(a.ops["SignUp"].errors["TooManyRequestsException"], 2);
        assert_eq!(a.total().latencies.len(), 2);
    }
}
