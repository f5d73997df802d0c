//! `estune check`: success criteria against a bench result.

use crate::check::{self, CheckError};
use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub const CHECK_EXAMPLES: &str = "\
Examples:
  # The original setup's targets against a run (exit 0 when all pass)
  estune check --criteria checks/des-targets.toml after.json --baseline before.json

  # The same verdicts as JSON, for scripts
  estune check --criteria checks/des-targets.toml after.json --baseline before.json --format json

A criteria file is a list of [[criterion]] tables:

  [[criterion]]
  name = \"p99 under 250 ms for every kind\"
  metric = \"latency.p99\"      # latency from the intended start
  op = \"*\"                    # every operation kind; absent: all together
  require = \"<= 250ms\"        # >=, <=, >, <, =, != and a value with its unit

Units: us (or µs), ms, s, min for durations; % for percentages; /s for
rates; bare numbers for counts and ratios; B, kB, MB, GB for sizes. The
metrics are listed in docs/check.md; a wrong name is
answered with the list.

Exit codes: 0 every criterion passed, 1 one failed or could not be
measured (UNKNOWN), 2 bad input (criteria file, result file, flags).";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    /// A table for people
    Table,
    /// estune.check/1 JSON with the same rows
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = CHECK_EXAMPLES)]
pub struct CheckArgs {
    /// Criteria file (TOML, `[[criterion]]` tables), or the name of a
    /// built-in one: des-targets (the original setup's targets) or
    /// no-decay (latency does not grow over a long run)
    #[arg(long, value_name = "FILE|NAME")]
    pub criteria: String,
    /// Result of `estune bench --out FILE` (estune.bench/3) to check
    #[arg(value_name = "RESULT.json")]
    pub result: PathBuf,
    /// Result from before the change, for `improvement.*` criteria
    #[arg(long, value_name = "BEFORE.json")]
    pub baseline: Option<PathBuf>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "table")]
    pub format: CheckFormat,
}

pub fn run(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let criteria = check::load_criteria_spec(&a.criteria)?;
    if a.baseline.is_none() {
        if let Some(c) = criteria.needing_baseline() {
            return Err(CheckError::NeedsBaseline {
                file: criteria.file.clone(),
                line: c.line,
                col: c.col,
                criterion: c.name.clone(),
            }
            .into());
        }
    }
    let result = check::load_result(&a.result)?;
    let baseline = match &a.baseline {
        Some(p) => Some(check::load_result(p)?),
        None => None,
    };
    let mut report = check::evaluate(&criteria, &result, baseline.as_ref());
    report.result_file = a.result.display().to_string();
    report.baseline_file = a.baseline.as_ref().map(|p| p.display().to_string());
    let text = match a.format {
        CheckFormat::Table => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            check::report_table(&report, colour)
        }
        CheckFormat::Json => check::report_json(&report),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
