//! Where the servers' time went during the measured window, per statement:
//! `pg_stat_statements` read at the window's start and end and turned into
//! deltas, the plan-cache counts the workers' sessions report after the
//! run, and (on request) the plans `auto_explain` logged for slow
//! executions. The engine takes the snapshots ([`StatementProbe`]); what a
//! result holds is [`Statements`].

mod delta;
mod plans;
mod prepared;
mod probe;
mod snapshot;

pub use delta::{window_delta, Counters, Key, Snapshot, WindowOptions};
pub use plans::{parse_slow_plans, window_text, PLANS_PER_STATEMENT, SLOW_STATEMENTS};
pub use prepared::{aggregate_prepared, with_plan_counts, SessionPlans};
pub use probe::{OpenWindow, StatementProbe};
pub use snapshot::preloads;

use serde::{Deserialize, Serialize};

/// Statements kept per server, by total execution time in the window.
pub const TOP_N: usize = 20;
/// Longest statement text kept (characters); longer ones end in `…`.
pub const QUERY_CHARS: usize = 1000;

/// What the servers' statements did in the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statements {
    /// Statements kept per server (the most total execution time first).
    pub top_n: usize,
    /// `--explain-slow`: plans of executions slower than this were logged
    /// (ms); null when not asked for.
    pub explain_slow_ms: Option<f64>,
    /// The role the workers connect as (the application's): its
    /// statements are the workload's, the superuser's are the samplers'
    /// and the probe's. Null when not known.
    pub app_role: Option<String>,
    /// The primary, then the replica.
    pub servers: Vec<ServerStatements>,
}

/// One server's statements. Each part is null when it could not be known,
/// and its `_missing` field then says why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStatements {
    /// `primary` or `replica`.
    pub role: String,
    /// The database whose statements are recorded (the event store's).
    pub database: Option<String>,
    pub pg_stat_statements: Option<StatementWindow>,
    pub pg_stat_statements_missing: Option<String>,
    /// The plan caches of the workers' sessions on this server.
    pub prepared: Option<PreparedPlans>,
    pub prepared_missing: Option<String>,
    /// Plans `auto_explain` logged for executions slower than
    /// `explain_slow_ms`, slowest statements first.
    pub slow_plans: Option<Vec<SlowStatement>>,
    pub slow_plans_missing: Option<String>,
}

/// `pg_stat_statements` over the window: the end snapshot less the start
/// snapshot, statement by statement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatementWindow {
    /// The extension's version (`pg_extension.extversion`).
    pub version: String,
    /// Seconds between the two snapshots.
    pub window_s: f64,
    /// What `max_exec_ms` covers: `window` (PostgreSQL 17+: min/max were
    /// reset at the window's start, so every maximum is the window's) or
    /// `rises` (older servers: a maximum is known only when it rose during
    /// the window, or the statement first ran in it; null otherwise).
    pub max_scope: String,
    /// `pg_stat_statements.track_planning` was on: `plans` and
    /// `total_plan_ms` are counted.
    pub track_planning: bool,
    /// `track_io_timing` was on: the block read/write times are measured.
    pub io_timing: bool,
    /// Entries evicted during the window (`pg_stat_statements_info.dealloc`
    /// grew by this): their calls before eviction are not counted. Null
    /// when the extension does not say (before 1.9).
    pub deallocated: Option<i64>,
    /// Statements with calls in the window (before the top-N cut).
    pub statements: u64,
    /// Calls of all of them together.
    pub calls: i64,
    /// Execution time of all of them together, ms.
    pub total_exec_ms: f64,
    /// The `top_n` statements with the most execution time.
    pub top: Vec<StatementStats>,
}

/// One statement's figures in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatementStats {
    /// `queryid`, as text (64-bit, beyond a JSON double's precision).
    pub queryid: String,
    /// The role that ran it (`userid`).
    pub role: String,
    /// The normalised text, at most [`QUERY_CHARS`] characters.
    pub query: String,
    pub calls: i64,
    pub total_exec_ms: f64,
    /// `total_exec_ms / calls`.
    pub mean_exec_ms: f64,
    /// See [`StatementWindow::max_scope`].
    pub max_exec_ms: Option<f64>,
    /// Population standard deviation of the window's executions, from the
    /// sums of both snapshots (exact, unlike a difference of deviations).
    pub stddev_exec_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub shared_blks_dirtied: i64,
    pub shared_blks_written: i64,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    /// Time reading/writing shared blocks; null when `track_io_timing` was
    /// off (PostgreSQL would say 0).
    pub shared_blk_read_ms: Option<f64>,
    pub shared_blk_write_ms: Option<f64>,
    pub wal_bytes: i64,
    /// Null when `track_planning` was off.
    pub plans: Option<i64>,
    pub total_plan_ms: Option<f64>,
}

/// The prepared statements of the workers' sessions on one server, summed
/// over the sessions by statement text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreparedPlans {
    /// Sessions that reported (one per worker still connected at the end).
    pub sessions: u64,
    /// The most executed first.
    pub statements: Vec<PreparedStatement>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreparedStatement {
    /// The statement as prepared, at most [`QUERY_CHARS`] characters.
    pub query: String,
    /// Sessions that had it prepared.
    pub sessions: u64,
    /// Executions that used the generic plan.
    pub generic_plans: i64,
    /// Executions planned for their parameters.
    pub custom_plans: i64,
}

/// The slow executions of one statement that `auto_explain` logged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlowStatement {
    /// `Query Identifier` of the plan (PostgreSQL 16+), as text; null when
    /// the plan does not show one.
    pub queryid: Option<String>,
    /// `Query Text` of the plan, at most [`QUERY_CHARS`] characters.
    pub query: String,
    /// Plans logged for it in the window.
    pub logged: u64,
    /// The slowest of them, slowest first.
    pub slowest: Vec<SlowPlan>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlowPlan {
    pub duration_ms: f64,
    /// The plan as logged (EXPLAIN VERBOSE, no ANALYZE), without the query
    /// text.
    pub plan: String,
}

impl Statements {
    pub fn server(&self, role: &str) -> Option<&ServerStatements> {
        self.servers.iter().find(|s| s.role == role)
    }

    pub fn server_mut(&mut self, role: &str) -> Option<&mut ServerStatements> {
        self.servers.iter_mut().find(|s| s.role == role)
    }
}

/// `s` cut to `max` characters, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("", 0), "");
    }
}
