//! `estune report`: plots and an HTML page of bench results.

use crate::check;
use crate::compare::{self, CompareOptions};
use crate::report::{self, ReportInput};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

pub const REPORT_EXAMPLES: &str = "\
Examples:
  # The A B B A runs of a before/after comparison as plots and a page
  estune report runs/ -o report/

  # The same, with the original setup's targets checked on each run
  estune report runs/ -o report/ --criteria des-targets --baseline stock

The folder gets index.html (open it from disk: no script, nothing
fetched) and plots/*.svg, for each mode present (closed-loop capacity
runs, open-loop fixed-rate runs):
  throughput per second (open loop: against the target rate)
  p99 latency per second, with glyphs where a checkpoint, an autovacuum or
    an autoanalyze of events finished (the periodic spikes view)
  the latency percentile spectrum, p50 to p99.99 (log axes)
  replication lag (time and bytes), cache hit ratio per server
  client connections by wait event, per side and server
Each side (runs of one --label) has one colour; its repeats are lighter.
The page also holds what was run, the comparison's verdict tables and the
settings that differ (as `estune compare`), the check verdicts with
--criteria, and links to the result files.

Runs are grouped and refused as by `estune compare`: runs not run alike
are refused unless --force. With --criteria, each non-baseline side's
open-loop runs are checked, the baseline side's open-loop run of the same
repeat serving as the baseline of `improvement.*` criteria.

Exit codes: 0 written, 1 the report could not be written, 2 bad input
(an unreadable or foreign file, unlike runs, a bad criteria file); on
bad input nothing is written.";

#[derive(Debug, Args)]
#[command(after_help = REPORT_EXAMPLES)]
pub struct ReportArgs {
    /// Results of `estune bench --out FILE` (estune.bench/3), or folders
    /// of them
    #[arg(value_name = "RUN.json|DIR", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Folder to write index.html and plots/ into (created if missing)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Check each run against these criteria: a TOML file, or a built-in
    /// name (des-targets)
    #[arg(long, value_name = "FILE|NAME")]
    pub criteria: Option<String>,
    /// Label of the side the others are compared with (default: the first
    /// label seen)
    #[arg(long, value_name = "LABEL")]
    pub baseline: Option<String>,
    /// Report on runs that were not run alike (the differences are listed
    /// on the page)
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: ReportArgs) -> anyhow::Result<ExitCode> {
    // Every input is read and judged before anything is written.
    let criteria = match &a.criteria {
        Some(spec) => Some(check::load_criteria_spec(spec)?),
        None => None,
    };
    let runs = compare::load_runs(&a.inputs)?;
    let opts = CompareOptions {
        baseline: a.baseline.clone(),
        force: a.force,
    };
    let comparison = compare::compare(&runs, &opts)?;
    let sides: Vec<String> = comparison.sides().iter().map(|s| s.label.clone()).collect();
    let checks = match &criteria {
        Some(c) => {
            let checks = report::checks_against_baseline(&runs, &sides, c);
            if checks.is_empty() {
                eprintln!(
                    "note: --criteria: no side but the baseline has open-loop runs, so nothing was checked"
                );
            }
            checks
        }
        None => Vec::new(),
    };
    let input = ReportInput {
        runs: &runs,
        comparison: Some(&comparison),
        checks,
        notes: Vec::new(),
    };
    let files = report::write(&a.out, &input)?;
    println!(
        "wrote {} and {} plots under {}",
        files.index.display(),
        files.plots.len(),
        a.out.join("plots").display()
    );
    Ok(ExitCode::SUCCESS)
}
