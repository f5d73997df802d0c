//! Run comparison: bench results grouped into sides by label, compared
//! mode by mode with deltas, noise thresholds and verdicts (pure).
//!
//! Reading files is confined to [`load`]; the comparison itself
//! ([`compare`]) is a function of the loaded runs, and the formatters
//! (table, markdown, JSON, HTML, a headline) are functions of its result.
//! The noise threshold is the half-width of a 95 % interval on the
//! difference: Welch's on the per-run figures when both sides have two
//! runs or more ([`stats`]), a moving-block bootstrap of the per-second
//! series otherwise ([`bootstrap`]).

mod alike;
mod bootstrap;
mod build;
mod figures;
mod grid;
mod html;
mod load;
mod model;
mod settings;
mod statements;
mod stats;
mod text;
mod verdict;

#[cfg(test)]
mod statements_tests;
#[cfg(test)]
mod tests;

pub use alike::{Difference, LabelValues};
pub use build::compare;
pub use html::{to_html, to_summary_html};
pub use load::{load_runs, scan, Inputs, Skipped};
pub use model::{
    Comparison, FigureRow, FigureTable, GroupSide, ModeGroup, NoiseMethod, SideInfo, SideValue,
    StatementRef, SCHEMA,
};
pub use settings::{LabelValue, SettingDiff};
pub use text::{headline, to_json, to_markdown, to_summary, to_table};
pub use verdict::{Delta, Direction, Verdict};

use std::path::PathBuf;
use thiserror::Error;

/// A result read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRun {
    pub file: PathBuf,
    pub result: crate::bench::RunResult,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareOptions {
    /// The label of the side every other is compared with; the first
    /// label seen when None.
    pub baseline: Option<String>,
    /// Compare runs whose conditions differ, printing the differences as
    /// a warning instead of refusing.
    pub force: bool,
}

/// Everything that can be wrong with the input of a comparison. All of it
/// is the user's to fix (exit code 2).
#[derive(Debug, Error)]
pub enum CompareError {
    #[error(
        "no runs to compare: name result files of `estune bench --out FILE`, or a folder of them"
    )]
    NoRuns,
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    NotAResult { path: String, message: String },
    #[error("{path}: a result of schema `{found}`{by}, but this estune compares `{}` results: run the bench again with this estune, or compare it with the estune that wrote it", crate::bench::SCHEMA)]
    OtherVersion {
        path: String,
        found: String,
        /// ` (written by estune X)` when the file says.
        by: String,
    },
    #[error(
        "{dir}: no `{}` results in this folder (*.json files written by `estune bench --out FILE`)",
        crate::bench::SCHEMA
    )]
    EmptyFolder { dir: String },
    #[error("only one side: every run is labelled `{label}`; compare runs of two labels or more (`estune bench --label`, e.g. before and after a change); a run without a label is named after its file")]
    OneSide { label: String },
    #[error("no run is labelled `{asked}` (--baseline); the labels are: {known}")]
    UnknownBaseline { asked: String, known: String },
    #[error("nothing to compare: {reason}")]
    NothingToCompare { reason: String },
    #[error("the runs were not run alike, so their figures are not comparable:\n{}\nrun them again alike, or pass --force to compare them anyway (the differences are then printed as a warning)", list(.differences))]
    Unlike { differences: Vec<Difference> },
}

fn list(d: &[Difference]) -> String {
    d.iter()
        .map(|d| format!("  {}", d.describe()))
        .collect::<Vec<_>>()
        .join("\n")
}
