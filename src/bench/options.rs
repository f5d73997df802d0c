//! What a run is asked to do, validated before anything starts so that a
//! typo (rate 0, a pool of 0 workers) fails with a message naming the
//! option instead of a run that measures nothing.

use super::BenchError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An operation that starts more than this after its intended time is
/// counted late. Not 0: tokio's timer wheel has 1 ms resolution, so a
/// ticker that sleeps until an instant can wake up to ~1 ms after it even
/// on an idle machine; 2 ms keeps that jitter out of the late count.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(2);

const MAX_RATE: f64 = 1_000_000.0;
const MAX_WORKERS: usize = 10_000;
const MAX_QUEUE: usize = 10_000_000;

/// How intended start times are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arrivals {
    /// Op i starts at `start + i / rate`.
    Uniform,
    /// Exponential inter-arrival times with mean `1 / rate` (like pgbench
    /// `-R`), from a seeded generator so two runs get the same schedule.
    Poisson { seed: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchOptions {
    /// Target operations per second (open loop); ignored in closed loop.
    pub rate: f64,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Time run before the measured window; its operations are discarded.
    pub warmup: Duration,
    pub workers: usize,
    /// Slots between the scheduler and the workers; when full, ops drop.
    pub queue: usize,
    /// Per-operation limit; past it the op counts as a timeout.
    pub timeout: Duration,
    pub arrivals: Arrivals,
    /// Workers run back to back with no schedule (throughput probing).
    pub closed_loop: bool,
    /// Seeds the choice of operation from the mix.
    pub seed: u64,
    pub label: Option<String>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            rate: 100.0,
            duration: Duration::from_secs(60),
            warmup: Duration::ZERO,
            workers: 50,
            queue: 100,
            timeout: Duration::from_secs(1),
            arrivals: Arrivals::Uniform,
            closed_loop: false,
            seed: 1,
            label: None,
        }
    }
}

fn invalid(option: &'static str, value: String, allowed: &'static str) -> BenchError {
    BenchError::InvalidOption {
        option,
        value,
        allowed,
    }
}

impl BenchOptions {
    pub fn validate(&self) -> Result<(), BenchError> {
        // `!(x > 0)` rather than `x <= 0` so NaN is refused too.
        if !(self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(invalid(
                "rate",
                self.rate.to_string(),
                "a number of operations per second > 0 and <= 1000000",
            ));
        }
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return Err(invalid("workers", self.workers.to_string(), "1 to 10000"));
        }
        if self.queue == 0 || self.queue > MAX_QUEUE {
            return Err(invalid("queue", self.queue.to_string(), "1 to 10000000"));
        }
        if self.duration.is_zero() {
            return Err(invalid(
                "duration",
                format!("{:?}", self.duration),
                "a duration > 0, e.g. 60s",
            ));
        }
        if self.timeout.is_zero() {
            return Err(invalid(
                "timeout",
                format!("{:?}", self.timeout),
                "a duration > 0, e.g. 1s",
            ));
        }
        Ok(())
    }

    /// Warm-up plus measured time: when scheduling stops.
    pub fn total(&self) -> Duration {
        self.warmup + self.duration
    }

    pub fn mode(&self) -> &'static str {
        if self.closed_loop {
            "closed-loop"
        } else {
            "open-loop"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_table() {
        let ok = BenchOptions::default();
        type Edit = fn(&mut BenchOptions);
        let cases: &[(&str, Edit, Option<&str>)] = &[
            ("default", |_| {}, None),
            ("rate 0", |o| o.rate = 0.0, Some("--rate")),
            ("rate negative", |o| o.rate = -5.0, Some("--rate")),
            ("rate NaN", |o| o.rate = f64::NAN, Some("--rate")),
            ("rate infinite", |o| o.rate = f64::INFINITY, Some("--rate")),
            ("rate absurd", |o| o.rate = 2e6, Some("--rate")),
            ("rate max", |o| o.rate = 1e6, None),
            ("rate fraction", |o| o.rate = 0.5, None),
            ("workers 0", |o| o.workers = 0, Some("--workers")),
            ("workers huge", |o| o.workers = 10_001, Some("--workers")),
            ("workers max", |o| o.workers = 10_000, None),
            ("queue 0", |o| o.queue = 0, Some("--queue")),
            (
                "duration 0",
                |o| o.duration = Duration::ZERO,
                Some("--duration"),
            ),
            (
                "timeout 0",
                |o| o.timeout = Duration::ZERO,
                Some("--timeout"),
            ),
        ];
        for (name, edit, want) in cases {
            let mut o = ok.clone();
            edit(&mut o);
            match (o.validate(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(opt)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(opt), "{name}: {msg}");
                    assert!(msg.contains("allowed"), "{name}: {msg}");
                }
                (r, w) => panic!("{name}: got {r:?}, wanted error on {w:?}"),
            }
        }
    }
}
