//! The metrics a criterion can name: their unit and what they are read
//! from. The catalog is the single list the parser, the error messages
//! ("valid names: …") and the reference in docs/check.md come from.

use serde::Serialize;

/// What a metric measures, which decides the units a requirement may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Milliseconds; written with `us`/`µs`, `ms`, `s` or `min`.
    Duration,
    /// Percent; written with `%`.
    Percent,
    /// Operations per second; written with `/s` (or `ops/s`, `req/s`) or bare.
    Rate,
    /// A number of things; bare.
    Count,
    /// A ratio; bare or with `x`.
    Ratio,
    /// Bytes; written with `B`, `kB`, `MB` or `GB` (1024-based, as PostgreSQL).
    Bytes,
}

impl Unit {
    /// How a value of this unit is shown (and the unit of JSON numbers).
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Duration => "ms",
            Unit::Percent => "%",
            Unit::Rate => "/s",
            Unit::Count => "",
            Unit::Ratio => "x",
            Unit::Bytes => "B",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Unit::Duration => "a duration (write e.g. `<= 250ms`, `< 1s`, `<= 800us`)",
            Unit::Percent => "a percentage (write e.g. `<= 0.5%`)",
            Unit::Rate => "a rate (write e.g. `>= 300/s`)",
            Unit::Count => "a count (write a bare number, e.g. `= 0`)",
            Unit::Ratio => "a ratio (write a bare number or e.g. `<= 1.5x`)",
            Unit::Bytes => "a size (write e.g. `< 16MB`)",
        }
    }

    /// Formats a value of this unit for people.
    pub fn show(self, v: f64) -> String {
        if v.is_infinite() {
            return "∞".to_string();
        }
        match self {
            Unit::Duration => format!("{} ms", trim(v, 2)),
            Unit::Percent => format!("{} %", trim(v, 2)),
            Unit::Rate => format!("{}/s", trim(v, 1)),
            Unit::Count => trim(v, 2),
            Unit::Ratio => format!("{}x", trim(v, 2)),
            Unit::Bytes => format!("{} B", trim(v, 0)),
        }
    }
}

/// A number with at most `places` decimals, trailing zeros dropped.
fn trim(v: f64, places: usize) -> String {
    let s = format!("{v:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Where a metric's value comes from, which decides the keys a criterion
/// may add (`op`, `server`, `state`, `factor`, `min_duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `summary.total` or `summary.ops[]`; takes `op`.
    Op,
    /// Compared with the same figure of `--baseline`; takes `op`.
    Baseline,
    /// Per server from `server_samples[]`; takes `server`.
    Server,
    /// From `server_samples[].replication[]` (the primary's view).
    Replication,
    /// From `server_samples[]`, both servers together; takes `state`.
    Balance,
    /// Primary's checkpoint counters in `server_samples[]`.
    Checkpoints,
    /// From `series[]`; takes `op`, `factor`, `min_duration`.
    Spike,
    /// From `series[]`, minute by minute; takes `op`.
    Trend,
    /// From `verification`.
    Verification,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct MetricInfo {
    pub name: &'static str,
    pub unit: Unit,
    pub scope: Scope,
    pub about: &'static str,
}

const fn m(name: &'static str, unit: Unit, scope: Scope, about: &'static str) -> MetricInfo {
    MetricInfo {
        name,
        unit,
        scope,
        about,
    }
}

use Scope::*;
use Unit::*;

/// Every metric, in the order docs/check.md lists them.
pub const CATALOG: &[MetricInfo] = &[
    m("achieved_rate", Rate, Op, "finished operations per second of the measured window"),
    m("count", Count, Op, "finished operations, any outcome"),
    m("ok", Count, Op, "operations that succeeded"),
    m("error_pct", Percent, Op, "errors / finished × 100"),
    m("errors.total", Count, Op, "errors of the system (not rejections or conflicts)"),
    m("errors.timeout", Count, Op, "operations past the per-operation timeout"),
    m("errors.connection", Count, Op, "connections lost or refused"),
    m("errors.other", Count, Op, "every other error"),
    m("rejections", Count, Op, "refused by the domain's rules (a normal outcome)"),
    m("conflicts", Count, Op, "appends that gave up after all retries"),
    m("dropped", Count, Op, "not run because the queue was full"),
    m("dropped_pct", Percent, Op, "dropped / (finished + dropped) × 100"),
    m("late", Count, Op, "started later than the late tolerance"),
    m("late_pct", Percent, Op, "late / finished × 100"),
    m("latency.p50", Duration, Op, "median latency from the intended start"),
    m("latency.p90", Duration, Op, "90th percentile from the intended start"),
    m("latency.p99", Duration, Op, "99th percentile from the intended start"),
    m("latency.p999", Duration, Op, "99.9th percentile from the intended start"),
    m("latency.max", Duration, Op, "maximum from the intended start"),
    m("latency.mean", Duration, Op, "mean from the intended start"),
    m("service_latency.p50", Duration, Op, "median from the actual start (no queueing)"),
    m("service_latency.p90", Duration, Op, "90th percentile from the actual start"),
    m("service_latency.p99", Duration, Op, "99th percentile from the actual start"),
    m("service_latency.p999", Duration, Op, "99.9th percentile from the actual start"),
    m("service_latency.max", Duration, Op, "maximum from the actual start"),
    m("service_latency.mean", Duration, Op, "mean from the actual start"),
    m("improvement.latency.p50", Percent, Baseline, "(baseline − result) / baseline × 100 of latency.p50"),
    m("improvement.latency.p90", Percent, Baseline, "the same for latency.p90"),
    m("improvement.latency.p99", Percent, Baseline, "the same for latency.p99"),
    m("improvement.latency.p999", Percent, Baseline, "the same for latency.p999"),
    m("improvement.latency.max", Percent, Baseline, "the same for latency.max"),
    m("improvement.latency.mean", Percent, Baseline, "the same for latency.mean"),
    m("improvement.service_latency.p50", Percent, Baseline, "the same for service_latency.p50"),
    m("improvement.service_latency.p90", Percent, Baseline, "the same for service_latency.p90"),
    m("improvement.service_latency.p99", Percent, Baseline, "the same for service_latency.p99"),
    m("improvement.service_latency.p999", Percent, Baseline, "the same for service_latency.p999"),
    m("improvement.service_latency.max", Percent, Baseline, "the same for service_latency.max"),
    m("improvement.service_latency.mean", Percent, Baseline, "the same for service_latency.mean"),
    m("improvement.achieved_rate", Percent, Baseline, "(result − baseline) / baseline × 100 of achieved_rate"),
    m("cache_hit_pct", Percent, Server, "mean of the per-second cache hit ratios × 100"),
    m("cache_hit_pct.min", Percent, Server, "the worst second's cache hit ratio × 100"),
    m("replication_lag.p50", Duration, Replication, "median of the per-second replay lag"),
    m("replication_lag.p99", Duration, Replication, "99th percentile (nearest rank) of the per-second replay lag"),
    m("replication_lag.max", Duration, Replication, "largest per-second replay lag"),
    m("replication_lag.mean", Duration, Replication, "mean per-second replay lag"),
    m("replication_lag_bytes.p99", Bytes, Replication, "99th percentile of the per-second replay lag in WAL bytes"),
    m("replication_lag_bytes.max", Bytes, Replication, "largest per-second replay lag in WAL bytes"),
    m("connection_balance", Ratio, Balance, "larger / smaller of the two servers' mean client connections (1 = equal)"),
    m("checkpoints.requested", Count, Checkpoints, "checkpoints requested on the primary during the window (max_wal_size reached)"),
    m("checkpoints.timed", Count, Checkpoints, "checkpoints by schedule on the primary during the window"),
    m("spike", Count, Spike, "latency spikes: runs of seconds whose p99 exceeds factor × the median second's, lasting at least min_duration"),
    m("latency.p99_trend", Duration, Trend, "how fast latency grows: the slope of a least-squares line through each minute's p99 (the median of its seconds' p99), in ms per minute; needs two minutes"),
    m("verification.missing_events", Count, Verification, "acknowledged events not in the table"),
    m("verification.violations", Count, Verification, "rule violations found by replaying the streams"),
];

/// The metric of that name.
pub fn find(name: &str) -> Option<&'static MetricInfo> {
    CATALOG.iter().find(|m| m.name == name)
}

/// Names for an error message.
pub fn names() -> String {
    CATALOG
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest name when a typo is likely.
pub fn suggest(name: &str) -> Option<&'static str> {
    CATALOG
        .iter()
        .map(|m| (strsim::jaro_winkler(name, m.name), m.name))
        .filter(|(s, _)| *s > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}
