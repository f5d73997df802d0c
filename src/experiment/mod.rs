//! The main job as one command: bring up a pair, seed it, measure every
//! profile in interleaved rounds from the same footing, then compare,
//! check and report. It measures nothing itself: it composes cluster,
//! apply, measure, compare, check and report.

mod finish;
mod manifest;
mod rounds;
mod schedule;

pub use finish::Finished;
pub use manifest::{Manifest, RunRecord, MANIFEST};
pub use schedule::{auto_rate, schedule, RunKind, Step, AUTO_RATE_SHARE};

use crate::bench::{Arrivals, StopToken};
use crate::check::Criteria;
use crate::cluster::ops::{self, UpOptions};
use crate::measure::LoadSpec;
use crate::profile::Profile;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Everything an experiment needs, validated by the caller.
pub struct Options {
    /// How to bring the pair up (its profile is the first one measured).
    pub up: UpOptions,
    /// The profiles to compare, the baseline first; their names label the
    /// results.
    pub profiles: Vec<Profile>,
    pub repeat: usize,
    /// Which runs each profile gets a round (capacity, rate or both).
    pub kinds: Vec<RunKind>,
    /// Events to seed; books and readers come from the mix.
    pub events: u64,
    pub load: LoadSpec,
    pub duration: Duration,
    pub warmup: Duration,
    /// Open-loop pool and queue (the original's 50 and 100).
    pub workers: usize,
    pub queue: usize,
    pub timeout: Duration,
    pub arrivals: Arrivals,
    /// Closed-loop pool of the capacity runs.
    pub capacity_workers: usize,
    /// Open-loop rate; None is `auto`.
    pub rate: Option<f64>,
    pub criteria: Option<Criteria>,
    /// The report folder; must not hold results already.
    pub out: PathBuf,
    /// Leave the pair up at the end.
    pub keep: bool,
    /// `--explain-slow`: every run logs the plans of executions slower
    /// than this and keeps the slowest in its result.
    pub explain_slow: Option<Duration>,
    /// Plan options for `apply`.
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub allow_overcommit: bool,
    pub templates: Option<PathBuf>,
}

/// Rows a command's boundary holds in a store of `events` spread over
/// `books` and `readers`: a book's events plus a reader's (at least 1).
pub fn boundary_rows(events: u64, books: u64, readers: u64) -> u64 {
    let share = 1.0 / books.max(1) as f64 + 1.0 / readers.max(1) as f64;
    ((events as f64 * share).round() as u64).max(1)
}

/// Phase lines for people, with the seconds since the experiment began.
pub struct Progress {
    start: Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            start: Instant::now(),
        }
    }

    pub fn say(&self, phase: &str, line: &str) {
        eprintln!(
            "[{:>6.1}s] {phase}: {line}",
            self.start.elapsed().as_secs_f64()
        );
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A phase that failed, and why.
#[derive(Debug, thiserror::Error)]
#[error("the experiment failed in phase `{phase}`: {source:#}")]
pub struct PhaseError {
    pub phase: &'static str,
    #[source]
    pub source: anyhow::Error,
}

fn phase<T>(phase: &'static str, r: anyhow::Result<T>) -> Result<T, PhaseError> {
    r.map_err(|source| PhaseError { phase, source })
}

/// Runs the whole experiment. The pair it brings up is removed at the end
/// (unless `keep`), whatever happened; what was measured stays in the
/// report folder and is compared and reported, also after a stop request
/// or a failure, which `Finished::failed` then names with its phase. An
/// error is returned only when nothing could be started (the report
/// folder).
pub async fn run(o: Options, stop: StopToken) -> Result<Finished, PhaseError> {
    let p = Progress::new();
    let created_out = phase("prepare", prepare_out(&o.out))?;
    let mut manifest = Manifest::new(&o);
    phase("prepare", manifest.write(&o.out))?;
    let measured = rounds::run(&o, &stop, &p, &mut manifest).await;
    if manifest.cluster_created {
        cleanup(&o, &p).await;
    }
    manifest.outcome = match &measured {
        Err(e) => format!("failed in phase `{}`: {:#}", e.phase, e.source),
        Ok(()) if stop.is_stopped() => "interrupted".into(),
        Ok(()) => "completed".into(),
    };
    manifest.seconds = p.elapsed().as_secs_f64();
    if let Err(e) = manifest.write(&o.out) {
        p.say("report", &format!("{e:#}"));
    }
    let mut finished = finish::finish(&o, &manifest, &p);
    if finished.runs == 0 {
        // Nothing measured: the folder would only hold this account.
        let _ = std::fs::remove_file(o.out.join(MANIFEST));
        if created_out {
            let _ = std::fs::remove_dir(&o.out);
        }
    }
    finished.interrupted = stop.is_stopped();
    finished.failed = measured.err();
    Ok(finished)
}

/// Removes the pair the experiment made, unless asked to keep it.
async fn cleanup(o: &Options, p: &Progress) {
    let name = &o.up.name;
    if o.keep {
        p.say(
            "cleanup",
            &format!("the pair stays up (--keep); `estune cluster down --cluster {name} --purge` removes it"),
        );
        return;
    }
    p.say(
        "cleanup",
        &format!("removing the pair `{name}` and its data"),
    );
    if let Err(e) = ops::down(name, &o.up.state_dir, true).await {
        p.say(
            "cleanup",
            &format!("could not remove the pair: {e:#}; `estune cluster down --cluster {name} --purge` retries"),
        );
    }
}

/// A report folder that already holds results: two experiments' runs
/// must not mix. The user's to fix.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} already holds results; give another -o DIR (the default is a new folder under reports/)"
)]
pub struct OutTaken(pub String);

/// Refuses a report folder that holds results already.
pub fn check_out(out: &std::path::Path) -> Result<(), OutTaken> {
    let taken = std::fs::read_dir(out)
        .map(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .unwrap_or(false);
    if taken {
        return Err(OutTaken(out.display().to_string()));
    }
    Ok(())
}

/// The report folder: created when missing (true), refused when taken.
fn prepare_out(out: &std::path::Path) -> anyhow::Result<bool> {
    check_out(out)?;
    let created = !out.exists();
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create the report folder {}: {e}", out.display()))?;
    Ok(created)
}
