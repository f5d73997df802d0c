//! `estune experiment`: the main job as one command.

use super::bench::{duration, explain_threshold, routing, ModeArg};
use super::cluster::{BackendArg, ClusterArgs, PairArgs};
use super::plan_args::PlanArgs;
use super::UsageError;
use crate::bench::{Arrivals, BenchOptions, StopToken};
use crate::experiment::{self, Options};
use crate::measure::LoadSpec;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const HELP: &str = "\
What it does, in order:
  1. brings up a primary + streaming replica (--backend auto: docker when the
     engine answers and the image exists, else local processes)
  2. plans every profile on that pair (a profile that does not fit is an
     error now, not after an hour of measuring)
  3. seeds --events events over the mix's books and readers
  4. measures each profile --repeat times, interleaved (A B, then B A, …):
     before every run the profile is applied and both servers restarted (empty
     shared buffers), then --warmup and --duration of
       a capacity run: closed loop with --capacity-workers, the most it does
       a rate run: open loop at --rate with --workers and --queue
     --rate auto is 70 % of the lowest capacity of the first round, meant to
     leave every side headroom so that latency compares service, not
     queueing; a side whose latency grows with concurrency can still be
     overloaded by the rate run's larger pool (its drops and timeouts say so)
  5. compares the sides (verdicts better / worse / within noise, with the
     noise threshold from the spread of the repeats), checks --criteria
     (each side's rate run against the baseline's of the same round), writes
     the report folder and prints the verdicts
  6. removes the pair (--keep leaves it up)

The report folder (-o, default reports/<time>/) holds every result JSON,
experiment.json (what was asked and done), compare.txt/.md, index.html and
plots/*.svg. `estune compare DIR` and `estune report DIR -o DIR2` read it again.

Ctrl-C stops the current run gracefully; what was measured is still
compared and reported, and the pair removed. A failure in any phase removes
the pair too, keeps what was measured, and names the phase.

Examples:
  # The main job: stock against eventstore, 2 rounds (about 10 minutes)
  estune experiment

  # Every shipped profile, 3 rounds, at the original's 300 ops/s
  estune experiment --profiles stock,pgtune-oltp,des-benchmark,eventstore \\
      --allow-overcommit --repeat 3 --rate 300

  # A quick look: small store, short runs
  estune experiment --events 100000 --duration 15s --warmup 5s --repeat 1

Exit codes: 0 the experiment ran (whatever the verdicts; also when stopped
with Ctrl-C), 1 a phase failed, 2 bad input.";

#[derive(Debug, Args)]
#[command(after_help = HELP)]
pub struct ExperimentArgs {
    /// Name of the pair the experiment brings up (and removes); it must
    /// not exist yet
    #[arg(long, default_value = "experiment", value_name = "NAME")]
    pub cluster: String,
    /// Where cluster state lives [default: $ESTUNE_STATE_DIR, $XDG_STATE_HOME/estune, ./.estune]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Profiles to compare, comma-separated, the baseline first (names or
    /// paths)
    #[arg(
        long,
        default_value = "stock,eventstore",
        value_delimiter = ',',
        value_name = "P,P,..."
    )]
    pub profiles: Vec<String>,
    /// Rounds: each profile is measured this many times
    #[arg(long, default_value = "2", value_name = "N")]
    pub repeat: usize,
    /// Which runs each profile gets a round: capacity (closed loop), rate
    /// (open loop), or both
    #[arg(
        long,
        value_enum,
        default_value = "capacity,rate",
        value_delimiter = ',',
        value_name = "KIND,..."
    )]
    pub runs: Vec<RunArg>,
    /// Events to seed before the first run
    #[arg(long, default_value = "1000000", value_name = "N")]
    pub events: u64,
    /// A named mix (library-scale, worker-pool-2025) or weights such as
    /// lend=45,return=45,lent-by-reader=10
    #[arg(long, default_value = "library-scale", value_name = "NAME|OP=W,...")]
    pub mix: String,
    /// Book IDs (default: the mix's own); the seed uses the same
    #[arg(long, value_name = "N")]
    pub books: Option<u64>,
    /// Reader IDs (default: the mix's own); the seed uses the same
    #[arg(long, value_name = "N")]
    pub readers: Option<u64>,
    /// Measured time of each run, after its warm-up
    #[arg(long, default_value = "45s", value_parser = duration)]
    pub duration: Duration,
    /// Warm-up of each run, not counted
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub warmup: Duration,
    /// Worker pool of the rate runs (the original's 50)
    #[arg(long, default_value = "50", value_name = "N")]
    pub workers: usize,
    /// Queue slots of the rate runs (the original's 100)
    #[arg(long, default_value = "100", value_name = "N")]
    pub queue: usize,
    /// Worker pool of the capacity runs (closed loop)
    #[arg(long, default_value = "8", value_name = "N")]
    pub capacity_workers: usize,
    /// Open-loop rate of the rate runs: auto (70 % of the lowest capacity
    /// of the first round) or operations per second, e.g. 300
    #[arg(long, default_value = "auto", value_name = "auto|N")]
    pub rate: String,
    /// Per-operation limit, counted as a timeout past it
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub timeout: Duration,
    #[arg(long, value_enum, default_value = "as-original")]
    pub append_mode: ModeArg,
    /// Seed of the store's history, the operation choice and the IDs
    #[arg(long, default_value = "1")]
    pub seed: u64,
    /// Criteria file or built-in name checked on every rate run
    #[arg(long, default_value = "des-targets", value_name = "FILE|NAME")]
    pub criteria: String,
    /// Do not check criteria
    #[arg(long, conflicts_with = "criteria")]
    pub no_criteria: bool,
    /// The report folder [default: reports/<UTC time>/]
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Leave the pair up at the end
    #[arg(long)]
    pub keep: bool,
    /// In every run, log the plans of executions slower than this
    /// (auto_explain) and keep the slowest per statement in its result,
    /// e.g. 50ms
    #[arg(long, value_parser = explain_threshold, value_name = "THRESHOLD")]
    pub explain_slow: Option<Duration>,
    #[command(flatten)]
    pub pair: PairArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum RunArg {
    /// Closed loop with --capacity-workers: the most the pair does
    Capacity,
    /// Open loop at --rate with --workers and --queue
    Rate,
}

fn rate(s: &str) -> Result<Option<f64>, UsageError> {
    if s == "auto" {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(Some(r)),
        _ => Err(UsageError(format!(
            "--rate {s}: give auto or a number of operations per second above 0, e.g. 300"
        ))),
    }
}

fn options(a: ExperimentArgs) -> anyhow::Result<Options> {
    if a.profiles.len() < 2 {
        return Err(UsageError(format!(
            "--profiles {}: an experiment compares at least two profiles, e.g. --profiles stock,eventstore",
            a.profiles.join(",")
        ))
        .into());
    }
    if a.repeat == 0 {
        return Err(UsageError("--repeat 0: give 1 or more rounds (2 or more give a noise threshold from the spread of the runs)".into()).into());
    }
    if a.events == 0 {
        return Err(UsageError(
            "--events 0: the workload needs a seeded store; give e.g. --events 100000".into(),
        )
        .into());
    }
    let mut profiles = Vec::new();
    for spec in &a.profiles {
        let p = a.plan.load_profile(spec.trim())?;
        if profiles
            .iter()
            .any(|q: &crate::profile::Profile| q.name == p.name)
        {
            return Err(UsageError(format!(
                "--profiles: `{}` is given twice; each profile is one side of the comparison",
                p.name
            ))
            .into());
        }
        profiles.push(p);
    }
    let mix = crate::workload::Mix::parse(&a.mix, a.books, a.readers)
        .map_err(|e| UsageError(format!("--mix: {e}")))?;
    // The plans are sized from the store the experiment builds, as they
    // are from the memory: its events, and the rows one command's boundary
    // holds in it (a book's events plus a reader's) unless given.
    let rows = a
        .plan
        .boundary_rows
        .unwrap_or_else(|| experiment::boundary_rows(a.events, mix.books, mix.readers));
    for p in &mut profiles {
        for r in [&mut p.primary, &mut p.replica] {
            r.workload.expected_events = a.events;
            r.workload.boundary_rows = rows;
        }
    }
    let rate = rate(&a.rate)?;
    let mut kinds = Vec::new();
    for r in &a.runs {
        let k = match r {
            RunArg::Capacity => experiment::RunKind::Capacity,
            RunArg::Rate => experiment::RunKind::Rate,
        };
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    if rate.is_none() && !kinds.contains(&experiment::RunKind::Capacity) {
        return Err(UsageError(
            "--rate auto takes 70 % of the first round's capacity, and --runs leaves out the capacity runs: give --rate N, or add capacity to --runs".into(),
        )
        .into());
    }
    for (workers, closed_loop) in [(a.workers, false), (a.capacity_workers, true)] {
        let o = BenchOptions {
            rate: rate.unwrap_or(1.0),
            duration: a.duration,
            warmup: a.warmup,
            workers,
            queue: a.queue,
            timeout: a.timeout,
            closed_loop,
            ..BenchOptions::default()
        };
        o.validate().map_err(|e| UsageError(e.to_string()))?;
    }
    let criteria = if a.no_criteria {
        None
    } else {
        Some(crate::check::load_criteria_spec(&a.criteria)?)
    };
    let cluster = ClusterArgs {
        cluster: a.cluster.clone(),
        state_dir: a.state_dir.clone(),
    };
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(chrono::Utc::now().format("%Y-%m-%dT%H%M%SZ").to_string())
    });
    experiment::check_out(&out)?;
    Ok(Options {
        up: a
            .pair
            .up_options(&cluster, profiles[0].clone(), &a.plan, BackendArg::Auto),
        profiles,
        repeat: a.repeat,
        kinds,
        events: a.events,
        load: LoadSpec {
            mix: a.mix,
            books: a.books,
            readers: a.readers,
            append_mode: a.append_mode.into(),
            routing: routing(&[])?,
            seed: a.seed,
            threads: 1,
        },
        duration: a.duration,
        warmup: a.warmup,
        workers: a.workers,
        queue: a.queue,
        timeout: a.timeout,
        arrivals: Arrivals::Uniform,
        capacity_workers: a.capacity_workers,
        rate,
        criteria,
        out,
        keep: a.keep,
        explain_slow: a.explain_slow,
        memory: a.plan.memory,
        cpus: a.plan.cpus,
        allow_overcommit: a.plan.allow_overcommit,
        templates: a.plan.templates,
    })
}

/// First Ctrl-C: finish the current run's in-flight operations, then
/// compare, report and clean up; a second quits at once.
fn on_ctrl_c(stop: StopToken, cluster: String) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: the current run ends, then what was measured is compared and reported and the pair removed (Ctrl-C again to quit at once)");
            stop.stop();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("quitting at once; the pair may still be up: `estune cluster down --cluster {cluster} --purge` removes it");
                std::process::exit(130);
            }
        }
    });
}

pub fn run(a: ExperimentArgs) -> anyhow::Result<ExitCode> {
    let o = options(a)?;
    super::runtime()?.block_on(async move {
        let stop = StopToken::new();
        on_ctrl_c(stop.clone(), o.up.name.clone());
        let f = experiment::run(o, stop).await?;
        print!("{}", f.text);
        for p in &f.problems {
            eprintln!("warning: {p}");
        }
        match &f.index {
            Some(i) => println!("report: {}", i.display()),
            None if f.runs > 0 => println!("results: {}", f.dir.display()),
            None => {}
        }
        if f.interrupted {
            println!(
                "stopped with Ctrl-C after {} runs: the verdicts above are of those runs only",
                f.runs
            );
        }
        match f.failed {
            Some(e) => Err(e.into()),
            None => Ok(ExitCode::SUCCESS),
        }
    })
}
