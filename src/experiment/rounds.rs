//! The measuring part: bring the pair up, check every profile plans on it,
//! seed, then the runs of the schedule, each from the same footing (the
//! profile applied, both servers restarted, the same warm-up). Each result
//! is written to the report folder as soon as it exists.

use super::manifest::{now, RunRecord};
use super::{auto_rate, phase, schedule, Manifest, Options, PhaseError, Progress, RunKind, Step};
use crate::apply::{self, ApplyOptions};
use crate::bench::{BenchOptions, BenchProgressBar, StopToken};
use crate::cluster::{ops, ClusterState};
use crate::measure::{self, Hooks, Managed, Pair};
use crate::profile::Profile;
use crate::tune::Role;
use std::time::Instant;

pub async fn run(
    o: &Options,
    stop: &StopToken,
    p: &Progress,
    m: &mut Manifest,
) -> Result<(), PhaseError> {
    let state = phase("up", stoppable(stop, up(o, p, m)).await)?;
    let Some(state) = state else { return Ok(()) };
    phase("plan", stoppable(stop, preflight(o, p)).await)?;
    if stop.is_stopped() {
        return Ok(());
    }
    phase("seed", stoppable(stop, seed(o, &state, p, m)).await)?;
    let steps = schedule(&names(&o.profiles), o.repeat, &o.kinds);
    let mut capacities = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if stop.is_stopped() {
            p.say("measure", "stopped: the runs measured so far are reported");
            break;
        }
        if step.kind == RunKind::Rate && m.rate.is_none() {
            choose_rate(m, &capacities, p).map_err(|source| PhaseError {
                phase: "rate",
                source,
            })?;
        }
        let label = format!(
            "run {}/{} (round {}, {} {})",
            i + 1,
            steps.len(),
            step.round,
            step.profile,
            step.kind.as_str()
        );
        let measured = measure_one(o, step, i + 1, stop, p, m, &label).await;
        let capacity = match measured {
            // A stop request before the workers started is no failure.
            Err(_) if stop.is_stopped() => None,
            r => phase("measure", r)?,
        };
        if let (Some(c), 1, RunKind::Capacity) = (capacity, step.round, step.kind) {
            capacities.push(c);
        }
    }
    Ok(())
}

/// A phase that gives way to a stop request: None when stopped.
async fn stoppable<T>(
    stop: &StopToken,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<Option<T>> {
    tokio::select! {
        r = f => r.map(Some),
        _ = stop.stopped() => Ok(None),
    }
}

fn names(profiles: &[Profile]) -> Vec<String> {
    profiles.iter().map(|p| p.name.clone()).collect()
}

async fn up(o: &Options, p: &Progress, m: &mut Manifest) -> anyhow::Result<ClusterState> {
    // Bring-up stamps its steps with its own clock; the experiment's is
    // the one people follow here.
    let say = |line: &str| {
        let own_clock = line.starts_with('[') && line.contains("s] ");
        let line = match line.split_once("s] ") {
            Some((_, rest)) if own_clock => rest,
            _ => line,
        };
        p.say("up", line)
    };
    let opts = ops::UpOptions {
        profile: o.profiles[0].clone(),
        ..o.up.clone()
    };
    // `up` removes whatever it made when it fails; from here on the pair
    // is the experiment's to remove.
    let state = ops::up(opts, &say).await?;
    m.cluster_created = true;
    m.pair = Some(format!(
        "{} backend, PostgreSQL {}, primary 127.0.0.1:{}, replica 127.0.0.1:{}",
        state.backend.as_str(),
        state.pg_version,
        state.node(Role::Primary).host_port,
        state.node(Role::Replica).host_port
    ));
    say(&format!(
        "the pair is up: {}",
        m.pair.as_deref().unwrap_or("")
    ));
    Ok(state)
}

fn apply_options(o: &Options, profile: &Profile, dry_run: bool) -> ApplyOptions {
    ApplyOptions {
        profile: profile.clone(),
        memory: o.memory,
        cpus: o.cpus,
        allow_overcommit: o.allow_overcommit,
        dry_run,
        templates: o.templates.clone(),
    }
}

/// Every profile must plan on this pair (budget, catalog) before an hour
/// is spent measuring the first ones.
async fn preflight(o: &Options, p: &Progress) -> anyhow::Result<()> {
    let say = |line: &str| p.say("plan", line);
    for profile in &o.profiles {
        let r = apply::apply_managed(
            &o.up.name,
            &o.up.state_dir,
            apply_options(o, profile, true),
            &say,
        )
        .await
        .map_err(|e| {
            e.context(format!(
                "profile `{}` does not plan on this pair",
                profile.name
            ))
        })?;
        say(&format!(
            "{} (plan {}): {} setting changes from the pair's current ones",
            r.profile,
            r.plan_hash,
            r.changes.len()
        ));
    }
    Ok(())
}

async fn seed(
    o: &Options,
    state: &ClusterState,
    p: &Progress,
    m: &mut Manifest,
) -> anyhow::Result<()> {
    let ep = pair(state, &o.up.state_dir)?.endpoints;
    let mix = crate::workload::Mix::parse(&o.load.mix, o.load.books, o.load.readers)
        .map_err(|e| anyhow::anyhow!("--mix: {e}"))?;
    let opts = crate::workload::SeedOptions {
        events: o.events,
        books: mix.books,
        readers: mix.readers,
        append: false,
        seed: o.load.seed,
    };
    p.say(
        "seed",
        &format!(
            "{} events over {} books and {} readers",
            o.events, mix.books, mix.readers
        ),
    );
    let report = measure::seed(&ep, &opts, |_| {}).await?;
    let line = measure::seed_line(&report);
    p.say("seed", &line);
    m.seed = Some(line);
    Ok(())
}

fn pair(state: &ClusterState, dir: &crate::cluster::StateDir) -> anyhow::Result<Pair> {
    let db = Some(state.database.as_str());
    let url = |role, superuser| ops::url_on(state, dir, role, superuser, true, db).map(Some);
    Ok(Pair {
        endpoints: measure::Endpoints {
            app: [url(Role::Primary, false)?, url(Role::Replica, false)?],
            admin: [url(Role::Primary, true)?, url(Role::Replica, true)?],
        },
        managed: Some(Managed::at(state, dir)),
    })
}

fn choose_rate(m: &mut Manifest, capacities: &[f64], p: &Progress) -> anyhow::Result<()> {
    let rate = auto_rate(capacities).ok_or_else(|| {
        anyhow::anyhow!("--rate auto needs a capacity from the first round, and none was measured; give --rate N")
    })?;
    let lowest = capacities.iter().copied().fold(f64::INFINITY, f64::min);
    let note = format!(
        "{rate} ops/s: --rate auto, {:.0} % of the lowest capacity of round 1 ({lowest:.1} ops/s with {} workers), to leave every side headroom so that latency compares service, not queueing; a side that drops or times out at this rate is overloaded at {} workers, which its capacity run did not show",
        super::AUTO_RATE_SHARE * 100.0,
        m.capacity_workers,
        m.workers
    );
    p.say("rate", &note);
    m.rate = Some(rate);
    m.rate_note = Some(note);
    Ok(())
}

/// One run: apply the profile, restart both servers, run with warm-up,
/// write the result. Returns the achieved rate; None when a stop request
/// came before the run began.
async fn measure_one(
    o: &Options,
    step: &Step,
    n: usize,
    stop: &StopToken,
    p: &Progress,
    m: &mut Manifest,
    label: &str,
) -> anyhow::Result<Option<f64>> {
    let say = |line: &str| p.say("measure", line);
    say(&format!("{label}: applying {}", step.profile));
    let profile = o
        .profiles
        .iter()
        .find(|x| x.name == step.profile)
        .expect("scheduled profiles exist");
    let quiet = |_: &str| {};
    let applied = apply::apply_managed(
        &o.up.name,
        &o.up.state_dir,
        apply_options(o, profile, false),
        &quiet,
    )
    .await?;
    if !applied.changes.is_empty() || !applied.catalog.is_empty() {
        let restarted: Vec<String> = applied.restarted.iter().map(|r| r.to_string()).collect();
        say(&format!(
            "{label}: {} setting and {} catalog changes applied (restarted: {})",
            applied.changes.len(),
            applied.catalog.len(),
            if restarted.is_empty() {
                "none".to_string()
            } else {
                restarted.join(", then ")
            }
        ));
    }
    let state = o.up.state_dir.load(&o.up.name)?;
    let started_at = now();
    let started = Instant::now();
    ops::restart(&state, &o.up.state_dir, &quiet).await?;
    let restart_s = started.elapsed().as_secs_f64();
    if stop.is_stopped() {
        return Ok(None);
    }
    say(&format!(
        "{label}: both servers restarted ({restart_s:.1}s); warm-up {}s, then {}s measured",
        o.warmup.as_secs(),
        o.duration.as_secs()
    ));
    let options = bench_options(o, step, m.rate);
    let extra = serde_json::json!({
        "experiment": { "round": step.round, "run": step.kind.as_str(), "profile": step.profile, "rate": m.rate_note }
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let bar = BenchProgressBar::new((options.warmup + options.duration).as_secs());
    let drawer = tokio::spawn(async move {
        while let Some(x) = rx.recv().await {
            bar.update(&x);
        }
        bar.finish();
    });
    let hooks = Hooks {
        stop: stop.clone(),
        progress: Some(tx),
        extra,
        explain_slow: o.explain_slow,
    };
    let result = measure::run(&o.load, &options, &pair(&state, &o.up.state_dir)?, hooks).await;
    let _ = drawer.await;
    let result = result?;
    let file = format!(
        "{n:02}-r{}-{}-{}.json",
        step.round,
        step.profile,
        step.kind.as_str()
    );
    result.write(&o.out.join(&file))?;
    let t = &result.summary.total;
    say(&format!(
        "{label}: {:.1} ops/s, p50 {:.1} ms, p99 {:.1} ms, {} errors, {} dropped → {file}",
        t.achieved_rate,
        t.latency_us.intended.p50 as f64 / 1000.0,
        t.latency_us.intended.p99 as f64 / 1000.0,
        t.errors.total,
        t.dropped
    ));
    m.runs.push(RunRecord {
        round: step.round,
        profile: step.profile.clone(),
        kind: step.kind,
        file,
        started_at,
        restart_s,
        interrupted: result.summary.interrupted,
    });
    m.write(&o.out)?;
    Ok(Some(t.achieved_rate))
}

fn bench_options(o: &Options, step: &Step, rate: Option<f64>) -> BenchOptions {
    let capacity = step.kind == RunKind::Capacity;
    BenchOptions {
        rate: rate.unwrap_or(1.0),
        duration: o.duration,
        warmup: o.warmup,
        workers: if capacity {
            o.capacity_workers
        } else {
            o.workers
        },
        queue: o.queue,
        timeout: o.timeout,
        arrivals: o.arrivals,
        closed_loop: capacity,
        seed: o.load.seed,
        label: Some(step.profile.clone()),
    }
}
