//! The statements table of a mode: the application's statements that
//! took the most execution time across the sides (from each run's
//! `statements`; the samplers' own, run as the superuser, are left out
//! when the result names the application's role), each with its calls per
//! second, mean and max time, blocks and rows per call, side by side. A statement is the same on every side when its server and
//! normalised text are (a `queryid` depends on the tables' OIDs, so two
//! pairs give the same statement different ids). Verdicts follow the rest
//! of the comparison: Welch's interval on the per-run figures with two runs
//! a side; a single run has no per-second series of a statement, so no
//! noise estimate.

use super::build::side_values;
use super::model::{FigureRow, FigureTable, NoiseMethod, StatementRef};
use super::stats;
use super::verdict::Direction;
use crate::bench::RunResult;
use crate::check::Unit;
use std::collections::BTreeMap;

/// Statements shown per mode.
pub const SHOWN: usize = 10;

/// A side: its label and runs.
pub type Side<'a> = (&'a str, Vec<&'a RunResult>);

/// (server, normalised text).
type Key = (String, String);

/// One statement in one run: its entries summed (roles that ran the same
/// text are one statement here).
#[derive(Debug, Default, Clone)]
struct Agg {
    calls: f64,
    total_ms: f64,
    /// None when any entry's maximum is unknown.
    max_ms: Option<f64>,
    blocks: f64,
    read: f64,
    rows: f64,
    window_s: f64,
}

struct Figure {
    key: &'static str,
    name: &'static str,
    unit: Unit,
    direction: Direction,
    of: fn(&Agg) -> Option<f64>,
}

fn per_call(x: f64, a: &Agg) -> Option<f64> {
    (a.calls > 0.0).then(|| x / a.calls)
}

const FIGURES: [Figure; 6] = [
    Figure {
        key: "calls_per_s",
        name: "calls/s",
        unit: Unit::Rate,
        // Set by the workload's rate and mix, not by the servers.
        direction: Direction::Neutral,
        of: |a| (a.window_s > 0.0).then(|| a.calls / a.window_s),
    },
    Figure {
        key: "mean_ms",
        name: "mean",
        unit: Unit::Duration,
        direction: Direction::LowerIsBetter,
        of: |a| per_call(a.total_ms, a),
    },
    Figure {
        key: "max_ms",
        name: "max",
        unit: Unit::Duration,
        direction: Direction::LowerIsBetter,
        of: |a| a.max_ms,
    },
    // Blocks and rows explain a time; fewer is not better in itself (a
    // plan may touch more buffers and finish sooner).
    Figure {
        key: "shared_blks_per_call",
        name: "shared blocks/call",
        unit: Unit::Count,
        direction: Direction::Neutral,
        of: |a| per_call(a.blocks, a),
    },
    Figure {
        key: "shared_read_per_call",
        name: "blocks read/call",
        unit: Unit::Count,
        direction: Direction::Neutral,
        of: |a| per_call(a.read, a),
    },
    Figure {
        key: "rows_per_call",
        name: "rows/call",
        unit: Unit::Count,
        direction: Direction::Neutral,
        of: |a| per_call(a.rows, a),
    },
];

/// Every statement of a run's top lists, by server and text.
fn of_run(r: &RunResult) -> BTreeMap<Key, Agg> {
    let mut out: BTreeMap<Key, Agg> = BTreeMap::new();
    let Some(st) = &r.statements else {
        return out;
    };
    let app = st.app_role.as_deref();
    for server in &st.servers {
        let Some(w) = &server.pg_stat_statements else {
            continue;
        };
        for s in w.top.iter().filter(|s| app.is_none_or(|a| s.role == a)) {
            let a = out
                .entry((server.role.clone(), s.query.clone()))
                .or_insert_with(|| Agg {
                    max_ms: Some(0.0),
                    window_s: w.window_s,
                    ..Agg::default()
                });
            a.calls += s.calls as f64;
            a.total_ms += s.total_exec_ms;
            a.max_ms = match (a.max_ms, s.max_exec_ms) {
                (Some(x), Some(y)) => Some(x.max(y)),
                _ => None,
            };
            a.blocks += (s.shared_blks_hit + s.shared_blks_read) as f64;
            a.read += s.shared_blks_read as f64;
            a.rows += s.rows as f64;
        }
    }
    out
}

/// Why a run has no statements, when it has none (the primary's reason).
fn missing(r: &RunResult) -> Option<String> {
    let Some(st) = &r.statements else {
        return Some("the result holds no statements".into());
    };
    if st.servers.iter().any(|s| s.pg_stat_statements.is_some()) {
        return None;
    }
    Some(
        st.servers
            .iter()
            .find_map(|s| s.pg_stat_statements_missing.clone())
            .unwrap_or_else(|| "no server recorded its statements".into()),
    )
}

/// Runs of a side in one mode, each run's statements.
type SideRuns<'a> = (&'a str, Vec<BTreeMap<Key, Agg>>);

/// The statements table of a group, the statements it names (`S1` …),
/// and the lines under it (sides without statements, and why).
pub fn table(
    title: &str,
    sides: &[Side],
    methods: &[Option<NoiseMethod>],
) -> (FigureTable, Vec<StatementRef>, Vec<String>) {
    let per_side: Vec<SideRuns> = sides
        .iter()
        .map(|(label, runs)| (*label, runs.iter().map(|r| of_run(r)).collect()))
        .collect();
    let mut notes = Vec::new();
    for (label, runs) in sides {
        if let Some(why) = runs.iter().find_map(|r| missing(r)) {
            let all = runs.iter().all(|r| missing(r).is_some());
            let which = if all {
                "no statements"
            } else {
                "some runs have no statements"
            };
            notes.push(format!("{label}: {which} ({why})"));
        }
    }
    let mut weight: BTreeMap<&Key, f64> = BTreeMap::new();
    for (_, runs) in &per_side {
        let keys: Vec<&Key> = runs.iter().flat_map(|m| m.keys()).collect();
        for k in keys {
            let totals: Vec<Option<f64>> =
                runs.iter().map(|m| m.get(k).map(|a| a.total_ms)).collect();
            *weight.entry(k).or_default() += stats::mean_of_known(&totals).unwrap_or(0.0);
        }
    }
    let mut ranked: Vec<(&Key, f64)> = weight.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.truncate(SHOWN);
    let mut refs = Vec::new();
    let mut rows = Vec::new();
    for (i, (key, _)) in ranked.iter().enumerate() {
        let id = format!("S{}", i + 1);
        let subject = format!("{id} {}", key.0);
        for f in &FIGURES {
            rows.push(row(&subject, f, key, &per_side, methods));
        }
        refs.push(StatementRef {
            id,
            server: key.0.clone(),
            query: key.1.clone(),
        });
    }
    if ranked.is_empty() && notes.is_empty() {
        notes.push("no statement had calls in the measured windows".into());
    }
    let table = FigureTable {
        id: "statements",
        title: format!(
            "{title}: the application's statements (pg_stat_statements, most execution time across the sides first)"
        ),
        rows,
    };
    (table, refs, notes)
}

fn row(
    subject: &str,
    f: &Figure,
    key: &Key,
    sides: &[SideRuns],
    methods: &[Option<NoiseMethod>],
) -> FigureRow {
    let values = side_values(
        sides,
        methods,
        f.direction,
        |runs| {
            runs.iter()
                .map(|m| m.get(key).and_then(|a| (f.of)(a)))
                .collect()
        },
        |_, base, _, runs, m| threshold(m, base, runs),
    );
    FigureRow {
        subject: subject.to_string(),
        key: f.key.to_string(),
        figure: f.name.to_string(),
        unit: f.unit,
        direction: f.direction,
        values,
    }
}

fn threshold(m: &NoiseMethod, a: &[Option<f64>], b: &[Option<f64>]) -> Result<f64, String> {
    if m.single_run() {
        return Err(
            "a statement's figures have no per-second series: no noise estimate from a single run"
                .into(),
        );
    }
    let known = |v: &[Option<f64>]| -> Vec<f64> { v.iter().flatten().copied().collect() };
    stats::welch(&known(a), &known(b))
        .map(|w| w.half_width)
        .ok_or_else(|| "fewer than 2 runs a side have this figure".to_string())
}

/// A statement's text on one line, cut to `chars` characters.
pub fn one_line(query: &str, chars: usize) -> String {
    let flat = query.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::bench::statements::truncate(&flat, chars)
}
