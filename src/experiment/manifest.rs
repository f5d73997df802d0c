//! `experiment.json` in the report folder: what was asked, the machine,
//! every run with its file and time, how the rate was chosen and how the
//! experiment ended. Written again after every run, so a stop or a crash
//! leaves an account of what was done.

use super::{Options, RunKind};
use serde::Serialize;
use std::path::Path;

pub const MANIFEST: &str = "experiment.json";

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub schema: &'static str,
    pub estune_version: &'static str,
    pub started_at: String,
    pub cluster: String,
    pub profiles: Vec<String>,
    pub repeat: usize,
    pub kinds: Vec<RunKind>,
    pub events: u64,
    pub mix: String,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub workers: usize,
    pub queue: usize,
    pub capacity_workers: usize,
    /// `auto` or the rate asked for.
    pub rate_asked: String,
    /// The open-loop rate used, once known.
    pub rate: Option<f64>,
    /// How the rate was chosen, for people.
    pub rate_note: Option<String>,
    pub memory_bytes: Option<u64>,
    pub cpus: Option<f64>,
    pub host: crate::bench::Host,
    /// Backend and PostgreSQL version of the pair, once up.
    pub pair: Option<String>,
    pub seed: Option<String>,
    pub runs: Vec<RunRecord>,
    /// `completed`, `interrupted`, or `failed in phase …`.
    pub outcome: String,
    pub seconds: f64,
    /// Whether this experiment brought a pair up (and so removes it).
    #[serde(skip)]
    pub cluster_created: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub round: usize,
    pub profile: String,
    pub kind: RunKind,
    /// File name in the report folder.
    pub file: String,
    pub started_at: String,
    /// Seconds the restart of both servers took before the run.
    pub restart_s: f64,
    pub interrupted: bool,
}

impl Manifest {
    pub fn new(o: &Options) -> Manifest {
        Manifest {
            schema: "estune.experiment/1",
            estune_version: env!("CARGO_PKG_VERSION"),
            started_at: now(),
            cluster: o.up.name.clone(),
            profiles: o.profiles.iter().map(|p| p.name.clone()).collect(),
            repeat: o.repeat,
            kinds: o.kinds.clone(),
            events: o.events,
            mix: o.load.mix.clone(),
            duration_s: o.duration.as_secs_f64(),
            warmup_s: o.warmup.as_secs_f64(),
            workers: o.workers,
            queue: o.queue,
            capacity_workers: o.capacity_workers,
            rate_asked: o.rate.map_or("auto".into(), |r| format!("{r}")),
            rate: o.rate,
            rate_note: o.rate.map(|r| format!("{r} ops/s, as asked (--rate)")),
            memory_bytes: o.memory,
            cpus: o.cpus,
            host: crate::bench::Host::detect(),
            pair: None,
            seed: None,
            runs: Vec::new(),
            outcome: "running".into(),
            seconds: 0.0,
            cluster_created: false,
        }
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        let path = dir.join(MANIFEST);
        crate::atomic::write_atomic(&path, &text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
