//! `estune seed`, `estune bench`, `estune sweep`.

use super::connect::ConnectArgs;
use super::UsageError;
use crate::bench::{self, Arrivals, BenchOptions, BenchProgressBar, StopToken};
use crate::measure::{self, LoadSpec};
use crate::workload::{AppendMode, Route, Routing, SeedOptions};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub fn duration(s: &str) -> Result<Duration, String> {
    crate::value::parse_duration(s)
        .map(Duration::from_millis)
        .map_err(|e| e.to_string())
}

/// `--explain-slow`: a duration of 1 ms or more (0 would log the plan of
/// every statement).
pub fn explain_threshold(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d < Duration::from_millis(1) {
        return Err("give 1ms or more: a threshold of 0 logs the plan of every statement".into());
    }
    Ok(d)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// The original's autocommit check-then-insert (races are possible)
    AsOriginal,
    /// as-original with a cheaper guard: NOT EXISTS (… AND sequence_number >
    /// the max read) instead of MAX(sequence_number) = the max read; the
    /// same race
    NewerThanRead,
    /// One SERIALIZABLE transaction per command, retried on 40001
    Serializable,
    /// serializable with the newer-than-read guard
    SerializableNewerThanRead,
    /// Transaction-level advisory locks on the boundary's values
    AdvisoryLock,
    /// advisory-lock with the newer-than-read guard
    AdvisoryLockNewerThanRead,
}

impl From<ModeArg> for AppendMode {
    fn from(m: ModeArg) -> AppendMode {
        match m {
            ModeArg::AsOriginal => AppendMode::AsOriginal,
            ModeArg::NewerThanRead => AppendMode::NewerThanRead,
            ModeArg::Serializable => AppendMode::Serializable,
            ModeArg::SerializableNewerThanRead => AppendMode::SerializableNewerThanRead,
            ModeArg::AdvisoryLock => AppendMode::AdvisoryLock,
            ModeArg::AdvisoryLockNewerThanRead => AppendMode::AdvisoryLockNewerThanRead,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ArrivalsArg {
    /// start + i / rate
    Uniform,
    /// exponential gaps with the same mean (seeded)
    Poisson,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Events to write
    #[arg(long, value_name = "N")]
    pub events: u64,
    #[arg(long, default_value = "1000", value_name = "N")]
    pub books: u64,
    #[arg(long, default_value = "100", value_name = "N")]
    pub readers: u64,
    /// Add to a store that already holds events instead of refusing
    #[arg(long)]
    pub append: bool,
    /// Seed of the generated history: the same seed writes the same events
    #[arg(long, default_value = "1")]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Run length after the warm-up, e.g. 60s or 5min
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub duration: Duration,
    /// Run before the measured window; its operations are not counted
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub warmup: Duration,
    /// Worker pool: each worker holds one connection per server
    #[arg(long, default_value = "50")]
    pub workers: usize,
    /// Slots between the scheduler and the workers; a full queue drops
    #[arg(long, default_value = "100")]
    pub queue: usize,
    /// Per-operation limit, counted as a timeout past it
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub timeout: Duration,
    /// A named mix, worker-pool-2025 (1,000 books, 100 readers) or
    /// library-scale (60,000 books, 14,000 readers), or weights such as
    /// lend=40,return=40,add=10,remove=10 (operations: add, remove, lend,
    /// return, register, cancel, circulation, lent-by-reader, lent-out,
    /// readers)
    #[arg(long, default_value = "worker-pool-2025", value_name = "NAME|OP=W,...")]
    pub mix: String,
    /// Book IDs to draw from (default: the mix's own)
    #[arg(long, value_name = "N")]
    pub books: Option<u64>,
    /// Reader IDs to draw from (default: the mix's own)
    #[arg(long, value_name = "N")]
    pub readers: Option<u64>,
    #[arg(long, value_enum, default_value = "uniform")]
    pub arrivals: ArrivalsArg,
    #[arg(long, value_enum, default_value = "as-original")]
    pub append_mode: ModeArg,
    /// Where a kind of work runs, KIND=ROLE: queries=replica (default) or
    /// queries=primary for the read-side queries; commands=primary (commands
    /// read and append on the primary; a replica cannot take appends)
    #[arg(long, value_name = "KIND=ROLE")]
    pub route: Vec<String>,
    /// Seed of the operation choice, the IDs and Poisson arrivals: the same
    /// seed repeats the same run
    #[arg(long, default_value = "1")]
    pub seed: u64,
    /// Client threads. One drives thousands of operations a second here and
    /// leaves the other cores to the servers; more threads cost CPU in
    /// hand-offs (measured: 0.31 vs 0.41 ms of CPU per operation with one
    /// and two on 2 cores). Raise it when summary.client.cpu_s nears the
    /// run's length.
    #[arg(long, default_value = "1", value_name = "N")]
    pub threads: usize,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  estune bench --rate 250 --duration 60s --label before --out before.json
  estune bench --rate 300 --mix library-scale --append-mode advisory-lock
  estune bench --rate 200 --mix lend=45,return=45,lent-by-reader=10 --route queries=primary
  estune bench --closed-loop --workers 8 --duration 30s")]
pub struct BenchArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Target operations per second (open loop)
    #[arg(long, default_value = "100")]
    pub rate: f64,
    /// Run workers back to back with no schedule (labelled closed-loop)
    #[arg(long)]
    pub closed_loop: bool,
    /// A name for this run in reports (e.g. before, after)
    #[arg(long)]
    pub label: Option<String>,
    /// Where the JSON result goes (written atomically)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Log the plans of executions slower than this (auto_explain, for
    /// this run only, on a managed cluster) and keep the slowest per
    /// statement in the result, e.g. 50ms
    #[arg(long, value_parser = explain_threshold, value_name = "THRESHOLD")]
    pub explain_slow: Option<Duration>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  estune sweep --rates 100..400:25 --duration 30s
  estune sweep --rates 230,250,260 --slo 250ms")]
pub struct SweepArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Target rates: FROM..TO:STEP or a comma list
    #[arg(long)]
    pub rates: String,
    /// p99 latency (from intended start) a sustainable rate must stay under
    #[arg(long, value_parser = duration)]
    pub slo: Option<Duration>,
    /// Where the JSON report goes
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn seed(a: SeedArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async move {
        let ep = a.connect.endpoints()?;
        let opts = SeedOptions {
            events: a.events,
            books: a.books,
            readers: a.readers,
            append: a.append,
            seed: a.seed,
        };
        // Drawn on stderr only when it is a terminal.
        let bar = seed_bar(a.events);
        let report = measure::seed(&ep, &opts, |n| {
            bar.set_position(n);
            if n >= a.events {
                bar.set_message("indexes");
            }
        })
        .await;
        bar.finish_and_clear();
        println!("{}", measure::seed_line(&report?));
        Ok(ExitCode::SUCCESS)
    })
}

/// The seed's progress bar (drawn only on a terminal).
pub fn seed_bar(events: u64) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(events).with_style(
        indicatif::ProgressStyle::with_template(
            "seeding {bar:30} {human_pos}/{human_len} events, {per_sec}, {eta} left",
        )
        .expect("a valid template"),
    )
}

fn threads(n: usize) -> Result<(), UsageError> {
    if n == 0 || n > 256 {
        return Err(UsageError(format!("--threads {n}: give 1 to 256")));
    }
    Ok(())
}

/// `--route KIND=ROLE`, repeatable; the last word for a kind wins.
pub fn routing(specs: &[String]) -> Result<Routing, UsageError> {
    let mut r = Routing::default();
    for spec in specs {
        let Some((kind, role)) = spec.split_once('=') else {
            return Err(UsageError(format!(
                "--route {spec}: write KIND=ROLE, e.g. queries=primary"
            )));
        };
        let role = match role.trim() {
            "primary" => Route::Primary,
            "replica" => Route::Replica,
            other => {
                return Err(UsageError(format!(
                    "--route {spec}: `{other}` is not a role; give primary or replica"
                )))
            }
        };
        match kind.trim() {
            "queries" => r.queries = role,
            "commands" if role == Route::Primary => r.commands = role,
            "commands" => {
                return Err(UsageError(format!(
                    "--route {spec}: commands append, and a hot standby refuses writes; commands run on the primary"
                )))
            }
            other => {
                return Err(UsageError(format!(
                    "--route {spec}: no kind `{other}`; the kinds are queries and commands"
                )))
            }
        }
    }
    Ok(r)
}

fn options(
    l: &LoadArgs,
    rate: f64,
    closed_loop: bool,
    label: Option<String>,
) -> anyhow::Result<BenchOptions> {
    let o = BenchOptions {
        rate,
        duration: l.duration,
        warmup: l.warmup,
        workers: l.workers,
        queue: l.queue,
        timeout: l.timeout,
        arrivals: match l.arrivals {
            ArrivalsArg::Uniform => Arrivals::Uniform,
            ArrivalsArg::Poisson => Arrivals::Poisson { seed: l.seed },
        },
        closed_loop,
        seed: l.seed,
        label,
    };
    o.validate().map_err(|e| UsageError(e.to_string()))?;
    Ok(o)
}

/// First Ctrl-C stops gracefully (the report is still written); a second
/// exits at once.
fn on_ctrl_c(stop: StopToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: finishing in-flight operations and writing the report (Ctrl-C again to quit at once)");
            stop.stop();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}

/// The workload options as the library takes them.
fn load_spec(l: &LoadArgs) -> Result<LoadSpec, UsageError> {
    Ok(LoadSpec {
        mix: l.mix.clone(),
        books: l.books,
        readers: l.readers,
        append_mode: l.append_mode.into(),
        routing: routing(&l.route)?,
        seed: l.seed,
        threads: l.threads,
    })
}

pub fn bench(a: BenchArgs) -> anyhow::Result<ExitCode> {
    threads(a.load.threads)?;
    super::runtime_with(a.load.threads)?.block_on(async move {
        let o = options(&a.load, a.rate, a.closed_loop, a.label.clone())?;
        let spec = load_spec(&a.load)?;
        let pair = a.load.connect.pair()?;
        let stop = StopToken::new();
        on_ctrl_c(stop.clone());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let bar = BenchProgressBar::new((o.warmup + o.duration).as_secs());
        let drawer = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                bar.update(&p);
            }
            bar.finish();
        });
        let hooks = measure::Hooks {
            stop,
            progress: Some(tx),
            extra: serde_json::json!({}),
            explain_slow: a.explain_slow,
        };
        let result = measure::run(&spec, &o, &pair, hooks).await;
        let _ = drawer.await;
        let result = result?;
        print!("{}", bench::summary_table(&result));
        match &result.verification {
            Some(v) => println!("{}", measure::verification_line(v)),
            None => println!("verification: not done (see the warning above)"),
        }
        if let Some(path) = &a.out {
            result.write(path)?;
            eprintln!("wrote {}", path.display());
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn sweep(a: SweepArgs) -> anyhow::Result<ExitCode> {
    threads(a.load.threads)?;
    super::runtime_with(a.load.threads)?.block_on(async move {
        let rates = bench::parse_rates(&a.rates).map_err(|e| UsageError(e.to_string()))?;
        let o = options(&a.load, rates.first().copied().unwrap_or(1.0), false, None)?;
        let ep = a.load.connect.endpoints()?;
        let f = measure::factory(&load_spec(&a.load)?, o.workers, &ep).await?;
        let stop = StopToken::new();
        on_ctrl_c(stop.clone());
        let criteria = bench::SweepCriteria {
            slo_p99: a.slo,
            ..bench::SweepCriteria::default()
        };
        let report = bench::sweep(f, &o, &rates, criteria, stop, |row| {
            eprintln!(
                "{:>8.1}/s: achieved {:.1}/s, errors {:.2}%, backpressure {:.1}%",
                row.target, row.achieved, row.error_pct, row.backpressure_pct
            );
        })
        .await?;
        print!("{}", bench::sweep_table(&report));
        if let Some(path) = &a.out {
            let text = serde_json::to_string_pretty(
                &serde_json::json!({"schema": "estune.sweep/1", "report": report}),
            )? + "\n";
            crate::atomic::write_atomic(path, &text)?;
            eprintln!("wrote {}", path.display());
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_append_mode_has_its_own_name_on_the_command_line() {
        let args = ModeArg::value_variants();
        assert_eq!(args.len(), AppendMode::ALL.len());
        for arg in args {
            let name = arg.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name.as_deref(), Some(AppendMode::from(*arg).name()));
        }
    }

    #[test]
    fn routes() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(routing(&[]).unwrap(), Routing::default());
        let r = routing(&s(&["queries=primary"])).unwrap();
        assert_eq!((r.commands, r.queries), (Route::Primary, Route::Primary));
        let r = routing(&s(&[
            "queries=primary",
            "queries=replica",
            "commands=primary",
        ]))
        .unwrap();
        assert_eq!((r.commands, r.queries), (Route::Primary, Route::Replica));
        let bad = [
            ("queries", "KIND=ROLE"),
            ("queries=standby", "not a role"),
            ("commands=replica", "refuses writes"),
            ("reads=primary", "the kinds are queries and commands"),
        ];
        for (spec, want) in bad {
            let e = routing(&s(&[spec])).unwrap_err().0;
            assert!(e.contains(want), "{spec}: {e}");
        }
    }
}
