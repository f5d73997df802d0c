//! The versioned result of a run: what was asked, what came out, second by
//! second, and what the servers were doing meanwhile. Field names say the
//! figure plainly and `SCHEMA.md` gives every unit; bump `SCHEMA` on any
//! change a reader of old files would trip over.

use super::{Arrivals, BenchError, MixEntry, ServerSample};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const SCHEMA: &str = "estune.bench/3";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema: String,
    pub metadata: Metadata,
    pub summary: Summary,
    pub series: Vec<SecondRow>,
    pub server_samples: Vec<ServerSample>,
    /// Per server, where the time went statement by statement over the
    /// measured window; null when the run took no snapshots (the engine
    /// without a probe).
    pub statements: Option<super::Statements>,
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
    /// What the run measured: the servers' versions, memory, settings and
    /// catalog tuning, and the profile they ran under. Filled by the
    /// caller after the run (the engine does not know the servers); null
    /// when it could not be read.
    pub target: Option<Target>,
    /// Filled by the caller: options of the workload (mix name, append
    /// mode, routing) and, in an experiment, which round and side.
    pub extra: serde_json::Value,
}

/// The pair a run measured, so two runs can be compared like for like and
/// the settings that differ between them listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The managed cluster's name; null for a pair given by connection
    /// strings.
    pub cluster: Option<String>,
    /// `local` or `docker` for a managed cluster.
    pub backend: Option<String>,
    /// The profile last applied to a managed cluster.
    pub profile: Option<String>,
    /// Hash of that profile's plan.
    pub plan_hash: Option<String>,
    /// The primary first, then the replica when there is one.
    pub servers: Vec<ServerInfo>,
}

/// One server of the pair as it was when the run ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// `primary` or `replica`.
    pub role: String,
    /// `server_version`, e.g. "15.18".
    pub version: String,
    /// `server_version_num / 10000`.
    pub major: u32,
    /// The memory the server was planned for (a managed cluster's limit);
    /// null when not known.
    pub memory_bytes: Option<u64>,
    /// Settings not at their built-in default (from `pg_settings`, as the
    /// server shows them with their unit), except the ones that only say
    /// where this pair lives (ports, paths, conninfo).
    pub settings: BTreeMap<String, String>,
    /// Storage parameters and statistics targets of the event store's
    /// tables and indexes that are not PostgreSQL's default
    /// (`relation.parameter`, `relation.column:statistics`); role settings
    /// of the database (`role@database:setting`).
    pub catalog: BTreeMap<String, String>,
}

impl Target {
    pub fn server(&self, role: &str) -> Option<&ServerInfo> {
        self.servers.iter().find(|s| s.role == role)
    }
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
    /// The distribution from p0 to the maximum at fixed percentiles
    /// ([`SPECTRUM`]), for a percentile plot.
    pub spectrum: Vec<PercentileValue>,
}

/// Percentiles of `LatencyStats::spectrum`.
pub const SPECTRUM: &[f64] = &[
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

/// One point of a latency distribution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PercentileValue {
    /// 0..=100.
    pub percentile: f64,
    pub us: u64,
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
    /// All kinds together, from intended start (µs): median, 99th
    /// percentile (frozen like the kinds'), maximum. 0 when nothing
    /// finished that second.
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
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
