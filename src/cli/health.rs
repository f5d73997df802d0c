//! `estune health`.

use super::connect::ConnectArgs;
use super::UsageError;
use crate::cluster::StateDir;
use crate::health::{self, format, Snapshot, Target, Thresholds};
use crate::tune::Role;
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const HEALTH_EXAMPLES: &str = "\
Examples:
  estune health                                   # the managed cluster `estune`
  estune health --format json --interval 2s       # full snapshot, with rates per second
  estune health --format nagios --primary postgresql://postgres@db1/postgres
  estune health --replica postgresql://postgres@db2/postgres    # a replica alone
  estune health --watch 5s                        # refresh in place until Ctrl-C
  estune health --set replication.lag_bytes_warn=64MB --thresholds ops.toml
  estune health --primary $P --replica $R --profile eventstore --memory 4GiB   # drift from a profile

Exit codes follow Nagios: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN (the worst
finding); bad flags or threshold files exit with 2 and a message on stderr.
Default thresholds are in checks/health.toml.";

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
pub enum HealthFormat {
    /// A table per server, grouped by area
    Table,
    /// The whole snapshot and every finding
    Json,
    /// One Nagios plugin line with perfdata
    Nagios,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::value::parse_duration(s)
        .map(Duration::from_millis)
        .map_err(|e| e.to_string())
        .and_then(|d| {
            if d.is_zero() {
                Err("give a duration above zero, e.g. 5s".into())
            } else {
                Ok(d)
            }
        })
}

#[derive(Debug, Args)]
#[command(after_help = HEALTH_EXAMPLES, mut_arg("replica", |a| a.requires(clap::builder::Resettable::<clap::Id>::Reset)))]
pub struct HealthArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: HealthFormat,
    /// Sample twice, this far apart, and report rates per second
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Option<Duration>,
    /// Refresh every DURATION until Ctrl-C, with rates per second
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", conflicts_with = "interval")]
    pub watch: Option<Duration>,
    /// Thresholds overriding checks/health.toml (any subset of its keys)
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// Override one threshold, e.g. --set replication.lag_bytes_warn=64MB
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// For a pair given by --primary/--replica: the profile its settings
    /// should follow; drift is reported against its plan for --memory and
    /// --cpus (a managed cluster is checked against the profile last applied)
    #[arg(long, value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Memory of each server for --profile's plan (default: the profile's,
    /// else this machine's)
    #[arg(long, value_parser = super::plan_args::parse_size, value_name = "SIZE", requires = "profile")]
    pub memory: Option<u64>,
    /// CPUs of each server for --profile's plan
    #[arg(long, value_parser = super::plan_args::parse_cpus, value_name = "N", requires = "profile")]
    pub cpus: Option<f64>,
    /// Connect timeout, and again the time all probes of one server may take
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "3s")]
    pub timeout: Duration,
}

fn thresholds(a: &HealthArgs) -> anyhow::Result<Thresholds> {
    let input = |e: health::ThresholdError| anyhow::Error::new(UsageError(e.to_string()));
    let mut t = Thresholds::defaults()?;
    if let Some(p) = &a.thresholds {
        t.merge_file(p).map_err(input)?;
    }
    for s in &a.set {
        t.set(s).map_err(input)?;
    }
    Ok(t)
}

struct Plan {
    targets: Vec<Target>,
    cluster: Option<(crate::cluster::ClusterState, StateDir)>,
    /// `--profile` for a pair given by DSN, and the resources of its plan.
    profile: Option<(crate::profile::Profile, [crate::tune::Resources; 2])>,
}

fn targets(a: &HealthArgs) -> anyhow::Result<Plan> {
    let c = &a.connect;
    if c.primary.is_some() || c.replica.is_some() {
        let targets = [(Role::Primary, &c.primary), (Role::Replica, &c.replica)]
            .into_iter()
            .filter_map(|(role, dsn)| dsn.clone().map(|dsn| Target { role, dsn }))
            .collect();
        let profile = match &a.profile {
            Some(spec) => {
                let search = Some(std::path::Path::new("profiles")).filter(|p| p.is_dir());
                let p = crate::profile::load(spec, search)?;
                let r = crate::inputs::resources_both(&p, a.memory, a.cpus);
                Some((p, r))
            }
            None => None,
        };
        return Ok(Plan {
            targets,
            cluster: None,
            profile,
        });
    }
    if a.profile.is_some() {
        return Err(UsageError(
            "--profile is for a pair given by --primary/--replica; a managed cluster is checked against the profile last applied (estune apply changes it)".into(),
        )
        .into());
    }
    let dir = c.cluster.dir();
    let state = dir.load(&c.cluster.cluster)?;
    let ep = c.endpoints()?;
    let targets = Role::BOTH
        .iter()
        .zip(ep.admin)
        .filter_map(|(role, url)| {
            // The superuser on the event store's database, where `events` is.
            url.map(|dsn| Target { role: *role, dsn })
        })
        .collect();
    Ok(Plan {
        targets,
        cluster: Some((state, dir)),
        profile: None,
    })
}

async fn sample(p: &Plan, timeout: Duration) -> Snapshot {
    let mut snap = health::probe_pair(&p.targets, timeout).await;
    match &p.cluster {
        Some((state, dir)) => health::add_cluster_facts(&mut snap, state, dir, timeout).await,
        None => match &p.profile {
            Some((profile, resources)) => {
                health::add_profile_drift(
                    &mut snap,
                    &p.targets,
                    profile,
                    resources.clone(),
                    timeout,
                )
                .await
            }
            None => {
                if let Some(c) = snap.config.as_mut() {
                    c.drift_note = Some(
                        "drift not checked: pass --profile for a pair given by connection strings (a managed cluster is checked against its last applied profile)".into(),
                    );
                }
            }
        },
    }
    snap
}

fn render(f: HealthFormat, snap: &Snapshot, t: &Thresholds) -> (String, health::Status) {
    let findings = health::evaluate(snap, t);
    let text = match f {
        HealthFormat::Table => format::table_text(snap, &findings),
        HealthFormat::Json => format::json_text(snap, &findings),
        HealthFormat::Nagios => format::nagios_line(&findings),
    };
    (text, health::worst(&findings))
}

/// As a Nagios plugin (`--format nagios`), a check that cannot run is
/// UNKNOWN (exit 3) with the reason on the one line a monitor reads, not the
/// tool's exit 2: the plugin guidelines reserve 2 for CRITICAL.
pub fn run(a: HealthArgs) -> anyhow::Result<ExitCode> {
    if a.format != HealthFormat::Nagios {
        return run_checked(a);
    }
    match run_checked(a) {
        Ok(code) => Ok(code),
        Err(e) => {
            let reason = format!("{e:#}").replace(['\n', '|'], " ");
            println!("ESTUNE HEALTH UNKNOWN - cannot check: {reason}");
            Ok(ExitCode::from(3))
        }
    }
}

fn run_checked(a: HealthArgs) -> anyhow::Result<ExitCode> {
    if a.watch.is_some() && a.format == HealthFormat::Nagios {
        anyhow::bail!(UsageError(
            "--watch refreshes a table or prints one JSON document per refresh; a Nagios check runs once".into()
        ));
    }
    let t = thresholds(&a)?;
    let plan = targets(&a)?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let mut out = std::io::stdout();
        if let Some(every) = a.watch {
            return watch(&plan, &a, &t, every).await;
        }
        let mut snap = sample(&plan, a.timeout).await;
        if let Some(gap) = a.interval {
            let started = std::time::Instant::now();
            tokio::time::sleep(gap).await;
            let second = sample(&plan, a.timeout).await;
            snap = health::with_rates(&snap, second, started.elapsed().as_secs_f64());
        }
        let (text, status) = render(a.format, &snap, &t);
        out.write_all(text.as_bytes())
            .context("writing the health report")?;
        Ok(ExitCode::from(status.exit_code()))
    })
}

/// Refreshes until Ctrl-C: in place on a terminal, one report after the
/// other otherwise. Exits with the last report's status.
async fn watch(
    p: &Plan,
    a: &HealthArgs,
    t: &Thresholds,
    every: Duration,
) -> anyhow::Result<ExitCode> {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut out = std::io::stdout();
    let mut last: Option<(Snapshot, std::time::Instant)> = None;
    let mut status = health::Status::Unknown;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // One stream for the whole loop: a Ctrl-C while probing is kept for
    // the next select instead of being lost.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("listening for Ctrl-C")?;
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = tick.tick() => {}
        }
        let at = std::time::Instant::now();
        let mut snap = tokio::select! {
            _ = sigint.recv() => break,
            s = sample(p, a.timeout) => s,
        };
        if let Some((prev, when)) = &last {
            snap = health::with_rates(prev, snap, at.duration_since(*when).as_secs_f64());
        }
        let (text, s) = render(a.format, &snap, t);
        status = s;
        let frame = if tty && a.format == HealthFormat::Table {
            format!(
                "\x1b[H\x1b[2J{text}(every {} s; Ctrl-C to stop)\n",
                every.as_secs_f64()
            )
        } else if a.format == HealthFormat::Json {
            // One document per line, for jq and friends.
            let v: serde_json::Value = serde_json::from_str(&text)?;
            format!("{v}\n")
        } else {
            format!("{text}\n")
        };
        out.write_all(frame.as_bytes())
            .context("writing the health report")?;
        out.flush().ok();
        last = Some((snap, at));
    }
    Ok(ExitCode::from(status.exit_code()))
}
