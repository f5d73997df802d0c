//! Command-line definitions and dispatch. Logic lives in the library
//! modules; this turns arguments into calls and errors into exit codes.

mod apply;
mod bench;
mod check;
mod cluster;
mod compare;
mod connect;
mod experiment;
mod health;
mod plan_args;
mod render;
mod report;

use clap::{Parser, Subcommand};
use std::io;
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  # Settings for both roles of a 4 GiB / 2 CPU pair, with the reason for each
  estune render --profile eventstore --memory 4GiB --cpus 2 --explain

  # Write postgresql.conf, pg_hba.conf, ALTER SYSTEM and catalog.sql files
  estune render --profile eventstore --pg-version 15 -o out/

  # The primary's postgresql.conf on stdout
  estune render --profile eventstore --role primary > postgresql.conf

  # A primary + streaming replica on 127.0.0.1:5433/5434, then its state
  estune cluster up --profile eventstore --memory 2GiB
  estune cluster status

  # Seed the event store, run the workload at 300 ops/s, judge the result
  estune seed --events 100000
  estune bench --rate 300 --duration 60s --out after.json
  estune check --criteria checks/des-targets.toml after.json --baseline before.json

  # Runs side by side by label: deltas, noise thresholds, verdicts
  estune compare before.json after.json

  # The same runs as plots and a page to open from disk
  estune report before.json after.json -o report/

  # Both servers against thresholds; as a Nagios plugin
  estune health
  estune health --format nagios

Exit codes: 0 success, 1 failure, 2 bad input (profile, flags, values);
`estune health` exits 0/1/2/3 for OK/WARN/CRIT/UNKNOWN, `estune check` 1 when a
criterion fails.";

/// Tune, run and measure a PostgreSQL event store on a primary + streaming
/// replica.
#[derive(Debug, Parser)]
#[command(name = "estune", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render postgresql.conf, pg_hba.conf, ALTER SYSTEM and catalog SQL
    /// for each role from a workload profile, every value explained and
    /// validated against the server's own parameter catalog.
    Render(render::RenderArgs),
    /// Manage a primary + streaming replica pair (local processes or Docker)
    #[command(subcommand, after_help = cluster::CLUSTER_EXAMPLES)]
    Cluster(cluster::ClusterCommand),
    /// Apply a profile to a running pair: diff, back up, write, reload or
    /// restart as needed, verify, roll back on failure
    Apply(apply::ApplyArgs),
    /// Write a consistent event-store history with COPY (readers, books,
    /// lend/return pairs that obey the library's rules)
    Seed(bench::SeedArgs),
    /// Run the event-store workload at a fixed rate (open loop) and measure
    /// latency from each operation's intended start
    Bench(bench::BenchArgs),
    /// Run bench at several rates and report the highest sustainable one
    Sweep(bench::SweepArgs),
    /// Check a bench result (and a baseline) against success criteria
    /// from a TOML file: a table of verdicts, exit 0 when all pass
    Check(check::CheckArgs),
    /// Compare bench results side by side, grouped by label: deltas with
    /// a noise threshold and a verdict (better, worse, within noise)
    Compare(compare::CompareArgs),
    /// Plots (SVG) and a self-contained HTML page of bench results: the
    /// comparison, check verdicts, settings diff and per-second plots
    Report(report::ReportArgs),
    /// The main job in one command: bring up a pair, seed it, measure each
    /// profile in interleaved repeats (capacity and fixed rate), compare
    /// with noise-aware verdicts, check criteria, write an HTML report
    Experiment(experiment::ExperimentArgs),
    /// Probe both servers (connections, cache, replication, vacuum,
    /// wraparound, checkpoints, locks, settings, memory) and judge each
    /// figure against thresholds: OK, WARN, CRIT or UNKNOWN
    Health(health::HealthArgs),
}

/// An error the user caused by what they typed or wrote: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code 2 when any cause in the chain is bad input, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let input = e.chain().any(|c| {
        c.is::<UsageError>()
            || c.is::<crate::profile::ProfileError>()
            || c.is::<crate::tune::TuneError>()
            || c.is::<crate::tune::ValidationErrors>()
            || c.is::<crate::render::RenderError>()
            || c.is::<crate::check::CheckError>()
            || c.is::<crate::compare::CompareError>()
            || c.is::<crate::measure::LoadError>()
            || c.is::<crate::experiment::OutTaken>()
            || matches!(
                c.downcast_ref::<crate::inputs::InputError>(),
                Some(
                    crate::inputs::InputError::VersionMismatch { .. }
                        | crate::inputs::InputError::Unsupported(_)
                        | crate::inputs::InputError::Binaries(_)
                )
            )
            || c.downcast_ref::<crate::cluster::ClusterError>()
                .is_some_and(|c| c.is_input_error())
            || c.downcast_ref::<crate::catalog::CatalogError>()
                .is_some_and(|c| c.is_input_error())
    });
    if input {
        2
    } else {
        1
    }
}

/// The async runtime every command runs on: two workers, like the machine.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    runtime_with(2)
}

/// A runtime of `threads` worker threads (at least one).
fn runtime_with(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Runs the tool with already-parsed arguments; the in-process entry point
/// for tests.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(args) => render::run(args),
        Command::Cluster(cmd) => cluster::run(cmd),
        Command::Apply(args) => apply::run(args),
        Command::Seed(args) => bench::seed(args),
        Command::Bench(args) => bench::bench(args),
        Command::Sweep(args) => bench::sweep(args),
        Command::Check(args) => check::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Report(args) => report::run(args),
        Command::Health(args) => health::run(args),
        Command::Experiment(args) => experiment::run(args),
    }
}

/// The binary's entry: parse, run, print the error chain once.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The error and its causes on one line, each said once: many errors name
/// their cause in their own message and also chain it as their source.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}: {source}")]
    struct Read {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn causes_are_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(Read {
            path: "x.toml".into(),
            source: io(),
        });
        assert_eq!(error_text(&e), "cannot read x.toml: No such file");
        let e = anyhow::Error::new(io()).context("loading the profile");
        assert_eq!(error_text(&e), "loading the profile: No such file");
        let e = anyhow::anyhow!("plain");
        assert_eq!(error_text(&e), "plain");
    }
}
