//! The comparison as data (`estune.compare/1`): what the formatters print
//! and what the JSON output is. Every figure keeps its per-run values, so
//! a reader can redo the arithmetic.

use super::alike::Difference;
use super::settings::SettingDiff;
use super::verdict::{Delta, Direction};
use crate::check::Unit;
use serde::Serialize;
use std::path::PathBuf;

pub const SCHEMA: &str = "estune.compare/1";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub schema: &'static str,
    pub estune_version: &'static str,
    /// Every side, the baseline first.
    pub sides: Vec<SideInfo>,
    /// One group per mode that has runs of the baseline and another side:
    /// closed-loop (capacity) first, then open-loop (fixed rate).
    pub groups: Vec<ModeGroup>,
    /// Settings and catalog tuning that differ between the sides.
    pub settings: Vec<SettingDiff>,
    /// Conditions that differ between runs; non-empty only when compared
    /// with `--force`.
    pub unlike: Vec<Difference>,
    pub forced: bool,
    /// What a reader of the verdicts should know.
    pub notes: Vec<String>,
}

/// One side: the runs of one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideInfo {
    pub label: String,
    /// `metadata.target.profile` of its first run, when known.
    pub profile: Option<String>,
    /// `metadata.target.plan_hash` of its first run, when known.
    pub plan_hash: Option<String>,
    pub files: Vec<PathBuf>,
}

/// The runs of one mode, side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeGroup {
    /// `closed-loop` or `open-loop`.
    pub mode: String,
    /// e.g. `closed-loop capacity`, `open-loop at 50 ops/s`.
    pub title: String,
    /// The sides with runs in this mode, the baseline first.
    pub sides: Vec<GroupSide>,
    pub tables: Vec<FigureTable>,
    /// The statements the `statements` table names (`S1`, …), with their
    /// server and full normalised text.
    pub statements: Vec<StatementRef>,
    /// Sides whose runs recorded no statements, and why.
    pub statement_notes: Vec<String>,
}

/// A statement of the `statements` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementRef {
    /// `S1`, `S2`, … in the order of the table (the most time first).
    pub id: String,
    /// `primary` or `replica`.
    pub server: String,
    /// The normalised text as the results record it.
    pub query: String,
}

/// A side's runs in one mode and how its noise threshold was estimated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSide {
    pub label: String,
    pub files: Vec<PathBuf>,
    /// Against the baseline; null for the baseline itself.
    pub noise: Option<NoiseMethod>,
    /// The same in words, as printed under the tables.
    pub noise_text: Option<String>,
}

/// How a side's noise thresholds were computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum NoiseMethod {
    /// Both sides have at least two runs: Welch's interval on the per-run
    /// figures.
    Welch {
        confidence: f64,
        baseline_runs: usize,
        runs: usize,
    },
    /// A side has a single run: a moving-block bootstrap of the per-second
    /// series.
    BlockBootstrap {
        confidence: f64,
        baseline_runs: usize,
        runs: usize,
        resamples: usize,
        seed: u64,
        /// Block length: ⌈√n⌉ seconds of the shorter side, at most a run.
        block_s: usize,
    },
}

impl NoiseMethod {
    /// One line for people, e.g. under a table.
    pub fn describe(&self) -> String {
        match self {
            NoiseMethod::Welch {
                baseline_runs,
                runs,
                ..
            } => format!(
                "Welch 95 % interval on the per-run figures ({baseline_runs} and {runs} runs, Welch–Satterthwaite degrees of freedom); threshold = its half-width"
            ),
            NoiseMethod::BlockBootstrap {
                block_s,
                resamples,
                seed,
                ..
            } => format!(
                "single-run estimate: 95 % moving-block bootstrap of the per-second series ({block_s} s blocks, {resamples} resamples, seed {seed:#x}); threshold = its half-width; figures without a per-second series have no noise estimate from a single run"
            ),
        }
    }

    pub fn single_run(&self) -> bool {
        matches!(self, NoiseMethod::BlockBootstrap { .. })
    }
}

/// One table of a mode: operations, service time, servers, statements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureTable {
    /// `operations`, `service`, `servers` or `statements`.
    pub id: &'static str,
    pub title: String,
    pub rows: Vec<FigureRow>,
}

/// One figure of one subject, for every side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureRow {
    /// `all`, an operation kind, `pair` for the servers' figures, or a
    /// statement (`S1 primary`, see [`ModeGroup::statements`]).
    pub subject: String,
    /// Machine name, e.g. `latency.p99`.
    pub key: String,
    /// For people, e.g. `p99`.
    pub figure: String,
    /// Durations in ms, rates in ops/s, cache hit in %.
    pub unit: Unit,
    pub direction: Direction,
    /// One per side of the group, in its order.
    pub values: Vec<SideValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideValue {
    pub label: String,
    /// Mean of the runs' figures; null when no run has it.
    pub value: Option<f64>,
    /// Each run's figure, in the order of the group's files.
    pub runs: Vec<Option<f64>>,
    /// Against the baseline; null for the baseline itself.
    pub delta: Option<Delta>,
}

impl Comparison {
    /// Every side, the baseline first.
    pub fn sides(&self) -> &[SideInfo] {
        &self.sides
    }

    /// The side every other is compared with.
    pub fn baseline(&self) -> Option<&SideInfo> {
        self.sides.first()
    }

    pub fn groups(&self) -> &[ModeGroup] {
        &self.groups
    }
}

impl ModeGroup {
    /// The row of `key` for `subject`, if the group has it.
    pub fn row(&self, subject: &str, key: &str) -> Option<&FigureRow> {
        self.tables
            .iter()
            .flat_map(|t| &t.rows)
            .find(|r| r.subject == subject && r.key == key)
    }
}
