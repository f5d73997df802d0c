//! The versioned result of a run: what was asked, what came out, second by
//! second, and what the servers were doing meanwhile. Field names say the
//! figure plainly and `SCHEMA.md` gives every unit; bump `SCHEMA` on any
//! change a reader of old files would trip over.

use super::{Arrivals, BenchError, MixEntry, ServerSample};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const SCHEMA: &str = "estune.bench/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema: String,
    pub metadata: Metadata,
    pub summary: Summary,
    pub series: Vec<SecondRow>,
    pub server_samples: Vec<ServerSample>,
    /// End-of-run checks against the servers (filled by the caller, which
    /// knows the workload's tables).
    pub verification: Option<Verification>,
}

/// Whether what the workers were told is what the servers hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Rows of `events` on the primary before and after the run.
    pub events_before: u64,
    pub events_after: u64,
    /// Events the operations acknowledged (warm-up included).
    pub acknowledged_events: u64,
    /// Acknowledged events not in the table: must be 0.
    pub missing_events: u64,
    /// Rows beyond the acknowledged ones: appends whose acknowledgement
    /// was lost (timeouts, errors) or other writers.
    pub unacknowledged_events: u64,
    /// The replica replayed up to the primary's LSN at the end of the run.
    pub replica_caught_up: Option<bool>,
    /// Rule violations found by replaying the streams.
    pub violations: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub estune_version: String,
    pub label: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// "open-loop" or "closed-loop".
    pub mode: String,
    pub arrivals: Arrivals,
    pub rate: f64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub workers: usize,
    pub queue: usize,
    pub timeout_ms: f64,
    pub late_tolerance_ms: f64,
    pub seed: u64,
    pub mix: Vec<MixEntry>,
    pub host: Host,
    /// Filled by the caller: profile name, plan hash, server versions and
    /// settings. Opaque to the engine.
    pub extra: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub cpus: f64,
    pub memory_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub mode: String,
    pub interrupted: bool,
    /// Seconds of the measured window actually run (less than the duration
    /// when interrupted).
    pub measured_s: f64,
    /// Operations whose intended start fell in the measured window.
    pub scheduled: u64,
    /// Queued but never started because the run was stopped.
    pub cancelled: u64,
    /// Workers reopened after a timeout left their connection unknown.
    pub workers_replaced: u64,
    /// Events acknowledged as committed by all operations, warm-up
    /// included (compare with the growth of the events table).
    pub acknowledged_events: u64,
    /// The client's own CPU over the measured window and its memory at the
    /// end; null where the kernel would not say.
    pub client: Option<super::ClientUsage>,
    pub total: OpSummary,
    pub ops: Vec<OpSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    pub op: String,
    /// Operations that finished with any outcome (errors included).
    pub count: u64,
    pub ok: u64,
    /// `count / measured_s`, ops/s.
    pub achieved_rate: f64,
    /// `errors.total / count`, percent.
    pub error_pct: f64,
    pub errors: ErrorCounts,
    pub rejections: u64,
    pub conflicts: u64,
    pub dropped: u64,
    pub late: u64,
    pub latency_us: Latencies,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorCounts {
    pub total: u64,
    pub timeout: u64,
    pub connection: u64,
    pub other: u64,
    /// Raw classes as the worker reported them (SQLSTATE, "connection",
    /// "other") with their counts.
    pub by_class: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// From the intended start: what a user sees, queueing included.
    pub intended: LatencyStats,
    /// From the actual start: the server's (and the client's) own time.
    pub service: LatencyStats,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

/// One second of the run, by intended start (`t` counts from the run's
/// start, warm-up included, so it lines up with server samples).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondRow {
    pub t: u64,
    pub completed: u64,
    pub dropped: u64,
    pub late: u64,
    pub rejections: u64,
    pub conflicts: u64,
    pub errors: ErrorCounts,
    /// Started but not finished, sampled at the end of wall-clock second t.
    pub in_flight: u64,
    /// Waiting in the queue, sampled likewise.
    pub queued: u64,
    pub ops: Vec<SecondOp>,
}

/// Latency from intended start of one op kind within one second, µs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondOp {
    pub op: String,
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl RunResult {
    pub fn to_json(&self) -> Result<String, BenchError> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }

    /// Readers of the file see the old result or the new one, never half.
    pub fn write(&self, path: &Path) -> Result<(), BenchError> {
        let text = self.to_json()?;
        crate::atomic::write_atomic(path, &text).map_err(|source| BenchError::Write {
            path: path.display().to_string(),
            source,
        })
    }
}

impl Host {
    /// The CPUs and memory this process may use (container limits first).
    pub fn detect() -> Host {
        let m = crate::machine::Machine::default();
        Host {
            cpus: m.cpus().value,
            memory_bytes: m.memory().value,
        }
    }
}
