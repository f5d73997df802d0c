//! `estune compare`: bench results side by side, with verdicts.

use crate::compare::{self, CompareOptions};
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub const COMPARE_EXAMPLES: &str = "\
Examples:
  # Before and after a change (each side labelled by `estune bench --label`)
  estune compare before.json after.json

  # Every result of an experiment's report folder; profile stock as baseline
  estune compare report/ --baseline stock

  # The verdicts in brief, as estune experiment prints them
  estune compare report/ --format brief

  # Markdown for a pull request, JSON for scripts
  estune compare report/ --format markdown -o compare.md
  estune compare report/ --format json

Sides: runs are grouped by `metadata.label` (a run without one is named
after its file); the first label seen is the baseline unless --baseline
names another. Closed-loop (capacity) and open-loop (fixed rate) runs are
compared within their own mode, one set of tables each.

Verdicts: each figure of a side is set against the baseline's (the mean of
each side's runs): Δ in % of the baseline (from a baseline of 0, the change
itself). A change is `better` or `worse` when it exceeds the noise
threshold printed beside it, otherwise `within noise`. The threshold is the
half-width of a 95 % interval of the difference:
  - with 2 runs a side or more: Welch's interval on the per-run figures
    (Student t with Welch–Satterthwaite degrees of freedom);
  - with a single run: a moving-block bootstrap of the run's per-second
    series (blocks of ⌈√n⌉ seconds, since seconds are not independent;
    2000 resamples, fixed seed, so the same files give the same output).
    A figure with no per-second series (p90, p99.9, service time, errors
    of one kind) has no noise estimate from a single run.
Repeat each side's runs (interleaved: A B B A) for thresholds that rest
on the runs' spread rather than on one run's seconds.

Like for like: runs that differ in mix, ID space (books, readers), rate
(open loop), duration, warm-up, workers, queue, PostgreSQL major or the
servers' memory are refused, each difference listed, unless --force (then
they are a warning). The settings that differ between the sides, as the
results recorded them, are always listed.

Exit codes: 0 compared, 2 bad input (unreadable file, a result of another
schema version, an unknown --baseline, a single side, runs not alike
without --force).";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompareFormat {
    /// Tables for people: every operation kind, service time, the
    /// servers, the settings that differ
    Table,
    /// The verdicts in brief: all operations together and the servers,
    /// figures equal on every side left out (what `estune experiment`
    /// prints)
    Brief,
    /// The same tables in GitHub-flavoured markdown
    Markdown,
    /// estune.compare/1 JSON with every run's figure
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = COMPARE_EXAMPLES)]
pub struct CompareArgs {
    /// Results of `estune bench --out FILE` (estune.bench/3), or folders of
    /// them (each *.json in it; other JSON is skipped with a note)
    #[arg(value_name = "RUN.json|DIR", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The label every other side is compared with (default: the first
    /// label seen)
    #[arg(long, value_name = "LABEL")]
    pub baseline: Option<String>,
    /// Compare runs that were not run alike, with a warning
    #[arg(long)]
    pub force: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: CompareFormat,
    /// Write to FILE (atomically) instead of stdout
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(a: CompareArgs) -> anyhow::Result<ExitCode> {
    let inputs = compare::scan(&a.inputs)?;
    for s in &inputs.skipped {
        eprintln!("note: skipped {}: {}", s.file.display(), s.reason);
    }
    let opts = CompareOptions {
        baseline: a.baseline,
        force: a.force,
    };
    let c = compare::compare(&inputs.runs, &opts)?;
    let text = match a.format {
        CompareFormat::Table => compare::to_table(&c),
        CompareFormat::Brief => compare::to_summary(&c),
        CompareFormat::Markdown => compare::to_markdown(&c),
        CompareFormat::Json => compare::to_json(&c),
    };
    match &a.out {
        Some(path) => {
            crate::atomic::write_atomic(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            if c.forced {
                eprintln!(
                    "warning: compared runs that were not run alike (--force); see {}",
                    path.display()
                );
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
