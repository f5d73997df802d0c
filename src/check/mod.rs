//! Success criteria over a bench result (`estune.bench/3`) and the server
//! samples taken during it: a small TOML language (`checks/*.toml`), its
//! parser with file:line:col errors, and a pure evaluation that gives one
//! verdict per criterion and subject (operation kind or server). Reading
//! files is confined to [`load`]; rendering to [`table`].
//!
//! The language, in short (docs/check.md has the reference):
//!
//! ```toml
//! [[criterion]]
//! name = "p99 under 250 ms for every kind"
//! metric = "latency.p99"        # see metric::CATALOG
//! op = "*"                      # every kind; absent = all together
//! require = "<= 250ms"          # >=, <=, >, <, =, != and a value with unit
//! ```

mod eval;
mod load;
mod metric;
mod spec;
mod table;
mod trend;

#[cfg(test)]
mod tests;

pub use eval::{evaluate, Outcome, Report, Verdict};
pub use load::{load_criteria, load_criteria_spec, load_result, parse_result, BUILTIN};
pub use metric::{MetricInfo, Scope, Unit, CATALOG};
pub use spec::{
    parse_criteria, parse_require, Cmp, Criteria, Criterion, OpSel, Require, ServerSel, SpikeParams,
};
pub use table::{report_json, report_table};

use thiserror::Error;

/// Everything that can be wrong with the input of a check. All of it is
/// the user's to fix (exit code 2).
#[derive(Debug, Error)]
pub enum CheckError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has the wrong shape.
    #[error(transparent)]
    Parse(crate::tomlfile::TomlError),
    /// A criterion that parses but does not make sense.
    #[error("{file}:{line}:{col}: criterion `{criterion}`: {message}")]
    Criterion {
        file: String,
        line: usize,
        col: usize,
        criterion: String,
        message: String,
    },
    #[error(
        "{file}: no criteria: add at least one [[criterion]] table with name, metric and require"
    )]
    Empty { file: String },
    /// A result file that is not an `estune.bench/3` result.
    #[error("{path}: {message}")]
    Result { path: String, message: String },
    #[error("{file}:{line}:{col}: criterion `{criterion}` compares with a baseline: pass --baseline BEFORE.json (a result of `estune bench --out` from before the change)")]
    NeedsBaseline {
        file: String,
        line: usize,
        col: usize,
        criterion: String,
    },
}
