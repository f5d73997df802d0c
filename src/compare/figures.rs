//! The figures a comparison shows, where each is read in a result, which
//! way is better, and the per-second series (if any) that a single-run
//! noise estimate can be drawn from. Server figures come from
//! [`crate::window`], the same reading `estune check` uses.

use super::bootstrap::Stat;
use super::verdict::Direction;
use crate::bench::{LatencyStats, OpSummary, RunResult, SecondRow};
use crate::check::Unit;
use crate::window;

/// A latency statistic of the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pct {
    P50,
    P90,
    P99,
    P999,
    Max,
}

impl Pct {
    pub const ALL: [Pct; 5] = [Pct::P50, Pct::P90, Pct::P99, Pct::P999, Pct::Max];

    fn name(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
            Pct::P999 => "p99.9",
            Pct::Max => "max",
        }
    }

    fn of(self, l: &LatencyStats) -> u64 {
        match self {
            Pct::P50 => l.p50,
            Pct::P90 => l.p90,
            Pct::P99 => l.p99,
            Pct::P999 => l.p999,
            Pct::Max => l.max,
        }
    }
}

/// Where a figure is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    Rate,
    Dropped,
    Late,
    Errors,
    Timeouts,
    ConnectionErrors,
    OtherErrors,
    Conflicts,
    Rejections,
    Intended(Pct),
    Service(Pct),
    CacheHit { replica: bool },
    ReplicationLag(Pct),
    CheckpointsRequested,
    Autovacuum,
    Autoanalyze,
}

use Source::*;

impl Source {
    /// (JSON key, label for people).
    pub fn names(self, closed_loop: bool) -> (String, String) {
        let s = |k: &str, l: &str| (k.to_string(), l.to_string());
        match self {
            Rate if closed_loop => s("capacity", "capacity"),
            Rate => s("achieved_rate", "achieved rate"),
            Dropped => s("dropped", "dropped"),
            Late => s("late", "late"),
            Errors => s("errors.total", "errors"),
            Timeouts => s("errors.timeout", "errors: timeout"),
            ConnectionErrors => s("errors.connection", "errors: connection"),
            OtherErrors => s("errors.other", "errors: other"),
            Conflicts => s("conflicts", "conflicts"),
            Rejections => s("rejections", "rejections"),
            Intended(p) => (format!("latency.{}", p.name()), p.name().to_string()),
            Service(p) => (
                format!("service_latency.{}", p.name()),
                p.name().to_string(),
            ),
            CacheHit { replica } => {
                let role = if replica { "replica" } else { "primary" };
                (
                    format!("cache_hit_pct.{role}"),
                    format!("cache hit, {role}"),
                )
            }
            ReplicationLag(p) => (
                format!("replication_lag.{}", p.name()),
                format!("replication lag {}", p.name()),
            ),
            CheckpointsRequested => s("checkpoints.requested", "checkpoints requested"),
            Autovacuum => s("autovacuum_runs", "autovacuum runs on events"),
            Autoanalyze => s("autoanalyze_runs", "autoanalyze runs on events"),
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Rate => Unit::Rate,
            Intended(_) | Service(_) | ReplicationLag(_) => Unit::Duration,
            CacheHit { .. } => Unit::Percent,
            _ => Unit::Count,
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            Rate | CacheHit { .. } => Direction::HigherIsBetter,
            // Rejections are the domain's answers (a copy already lent),
            // set by the store's state and the mix, not by the servers.
            Autovacuum | Autoanalyze | Rejections => Direction::Neutral,
            _ => Direction::LowerIsBetter,
        }
    }

    /// The run's figure for one operation kind (`Some`) or all together;
    /// None when the run cannot give it. Durations in ms.
    pub fn value(self, r: &RunResult, op: Option<&str>) -> Option<f64> {
        match self {
            CacheHit { replica } => nonempty(window::cache_hit_pct(r, replica))
                .map(|v| v.iter().sum::<f64>() / v.len() as f64),
            ReplicationLag(p) => {
                nonempty(window::replay_lag(r, false)).map(|v| lag_stat(p).of(&v, 1))
            }
            CheckpointsRequested => {
                nonempty(window::checkpoint_deltas(r, true)).map(|v| v.iter().sum::<i64>() as f64)
            }
            Autovacuum | Autoanalyze => {
                nonempty(self.vacuum_flags(r)).map(|v| v.iter().sum::<f64>())
            }
            _ => op_value(self, op_summary(r, op)?),
        }
    }

    /// The figure second by second, and how the figure follows from the
    /// seconds; None when the result has no such series.
    pub fn per_second(self, r: &RunResult, op: Option<&str>) -> Option<(Vec<f64>, Stat)> {
        let rows = || window::seconds(r);
        let all = |f: fn(&SecondRow) -> u64| {
            op.is_none()
                .then(|| (rows().map(|row| f(row) as f64).collect(), Stat::PerRunTotal))
        };
        match self {
            Rate => Some((
                rows().map(|row| finished(row, op) as f64).collect(),
                Stat::Mean,
            )),
            Dropped => all(|row| row.dropped),
            Late => all(|row| row.late),
            Errors => all(|row| row.errors.total),
            Timeouts => all(|row| row.errors.timeout),
            ConnectionErrors => all(|row| row.errors.connection),
            OtherErrors => all(|row| row.errors.other),
            Conflicts => all(|row| row.conflicts),
            Rejections => all(|row| row.rejections),
            // A second in which nothing finished has no latency (0 in the
            // series); only p50, p99 and max are kept per second. The run's
            // maximum is the largest second's; the mean second's p50 and
            // p99 stand in for the run's.
            Intended(p @ (Pct::P50 | Pct::P99 | Pct::Max)) => Some((
                rows()
                    .filter_map(|row| second_latency(row, op, p))
                    .collect(),
                if p == Pct::Max { Stat::Max } else { Stat::Mean },
            )),
            Intended(_) | Service(_) => None,
            CacheHit { replica } => Some((window::cache_hit_pct(r, replica), Stat::Mean)),
            ReplicationLag(p) => Some((window::replay_lag(r, false), lag_stat(p))),
            CheckpointsRequested => Some((
                window::checkpoint_deltas(r, true)
                    .into_iter()
                    .map(|d| d as f64)
                    .collect(),
                Stat::PerRunTotal,
            )),
            Autovacuum | Autoanalyze => Some((self.vacuum_flags(r), Stat::PerRunTotal)),
        }
    }

    /// 1 for each sample in which an autovacuum (autoanalyze) of `events`
    /// finished, 0 otherwise, for the samples that saw the table.
    fn vacuum_flags(self, r: &RunResult) -> Vec<f64> {
        window::server_samples(r)
            .filter_map(|s| s.primary.events_table.as_ref())
            .map(|e| {
                let ran = if self == Autovacuum {
                    e.autovacuumed
                } else {
                    e.autoanalyzed
                };
                f64::from(u8::from(ran))
            })
            .collect()
    }
}

fn nonempty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn lag_stat(p: Pct) -> Stat {
    match p {
        Pct::P50 => Stat::Percentile(50.0),
        Pct::P90 => Stat::Percentile(90.0),
        Pct::P99 => Stat::Percentile(99.0),
        Pct::P999 => Stat::Percentile(99.9),
        Pct::Max => Stat::Max,
    }
}

fn op_summary<'a>(r: &'a RunResult, op: Option<&str>) -> Option<&'a OpSummary> {
    match op {
        None => Some(&r.summary.total),
        Some(name) => r.summary.ops.iter().find(|o| o.op == name),
    }
}

fn op_value(s: Source, o: &OpSummary) -> Option<f64> {
    let ms = |us: u64| us as f64 / 1000.0;
    let n = |c: u64| Some(c as f64);
    match s {
        Rate => Some(o.achieved_rate),
        Dropped => n(o.dropped),
        Late => n(o.late),
        Errors => n(o.errors.total),
        Timeouts => n(o.errors.timeout),
        ConnectionErrors => n(o.errors.connection),
        OtherErrors => n(o.errors.other),
        Conflicts => n(o.conflicts),
        Rejections => n(o.rejections),
        // No operation finished: no latency, rather than a latency of 0.
        Intended(p) => (o.count > 0).then(|| ms(p.of(&o.latency_us.intended))),
        Service(p) => (o.count > 0).then(|| ms(p.of(&o.latency_us.service))),
        _ => None,
    }
}

fn finished(row: &SecondRow, op: Option<&str>) -> u64 {
    match op {
        None => row.completed,
        Some(name) => row
            .ops
            .iter()
            .filter(|o| o.op == name)
            .map(|o| o.count)
            .sum(),
    }
}

fn second_latency(row: &SecondRow, op: Option<&str>, p: Pct) -> Option<f64> {
    let (count, p50, p99, max) = match op {
        None => (row.completed, row.p50, row.p99, row.max),
        Some(name) => {
            let o = row.ops.iter().find(|o| o.op == name)?;
            (o.count, o.p50, o.p99, o.max)
        }
    };
    let us = match p {
        Pct::P50 => p50,
        Pct::P99 => p99,
        _ => max,
    };
    (count > 0).then_some(us as f64 / 1000.0)
}

/// The rows of the operations table for one subject.
pub fn operation_rows(closed_loop: bool) -> Vec<Source> {
    let mut v = vec![Rate];
    if !closed_loop {
        // A closed loop schedules nothing, so nothing is dropped or late.
        v.extend([Dropped, Late]);
    }
    v.extend([
        Errors,
        Timeouts,
        ConnectionErrors,
        OtherErrors,
        Conflicts,
        Rejections,
    ]);
    v.extend(Pct::ALL.map(Intended));
    v
}

/// Error kinds are rows only when some run had one, so that a clean run's
/// table is not three rows of zeros longer.
pub fn shown_only_when_nonzero(s: Source) -> bool {
    matches!(s, Timeouts | ConnectionErrors | OtherErrors)
}

pub fn service_rows() -> Vec<Source> {
    Pct::ALL.map(Service).to_vec()
}

pub fn server_rows() -> Vec<Source> {
    vec![
        CacheHit { replica: false },
        CacheHit { replica: true },
        ReplicationLag(Pct::P50),
        ReplicationLag(Pct::P99),
        ReplicationLag(Pct::Max),
        CheckpointsRequested,
        Autovacuum,
        Autoanalyze,
    ]
}
