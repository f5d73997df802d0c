//! One measured run of the library workload against a pair: check that the
//! pool fits, sample the servers, run the load engine, verify that every
//! acknowledged event is stored, and record what the pair was (versions,
//! memory, settings, catalog tuning, profile) in the result. `estune bench`
//! and `estune experiment` both run through here.

mod explain;
mod target;

pub use target::describe;

use crate::bench::{self, BenchOptions, Progress, RunHooks, RunResult, StopToken};
use crate::workload::{self, AppendMode, LibraryFactory, Mix, Routing, Streams};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::mpsc::UnboundedSender;

const CONNECT: Duration = Duration::from_secs(5);

/// A bad workload option or a pool the servers cannot hold: the user's to
/// fix.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// Connection strings for both servers.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// As the application: the event-store database and role.
    pub app: [Option<String>; 2],
    /// As a superuser on the application's database, for samplers and
    /// probes.
    pub admin: [Option<String>; 2],
}

impl Endpoints {
    pub fn primary_app(&self) -> &str {
        self.app[0].as_deref().expect("a primary is always known")
    }

    pub fn primary_admin(&self) -> &str {
        self.admin[0].as_deref().expect("a primary is always known")
    }
}

/// What a managed cluster knows about itself that SQL does not say.
#[derive(Debug, Clone, Default)]
pub struct Managed {
    pub cluster: String,
    pub backend: String,
    pub profile: String,
    pub plan_hash: String,
    /// Planned memory of the primary and the replica.
    pub memory: [Option<u64>; 2],
    /// Where the cluster's state lives: what reading its servers' logs
    /// needs (`--explain-slow`). None from [`Managed::of`].
    pub state_dir: Option<crate::cluster::StateDir>,
}

impl Managed {
    pub fn of(state: &crate::cluster::ClusterState) -> Managed {
        use crate::tune::Role;
        Managed {
            cluster: state.name.clone(),
            backend: state.backend.as_str().to_string(),
            profile: state.profile.clone(),
            plan_hash: state.plan_hash.clone(),
            memory: [
                state.node(Role::Primary).memory,
                state.node(Role::Replica).memory,
            ],
            state_dir: None,
        }
    }

    /// As [`Managed::of`], with the state directory, so that the servers'
    /// logs can be read.
    pub fn at(state: &crate::cluster::ClusterState, dir: &crate::cluster::StateDir) -> Managed {
        Managed {
            state_dir: Some(dir.clone()),
            ..Managed::of(state)
        }
    }
}

/// The pair a run goes against.
#[derive(Debug, Clone)]
pub struct Pair {
    pub endpoints: Endpoints,
    pub managed: Option<Managed>,
}

/// The workload: which operations, over which IDs, appended how, routed
/// where.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// A named mix or `op=weight,...`.
    pub mix: String,
    pub books: Option<u64>,
    pub readers: Option<u64>,
    pub append_mode: AppendMode,
    pub routing: Routing,
    pub seed: u64,
    /// Client threads (recorded; the caller builds the runtime).
    pub threads: usize,
}

/// Everything around the run that is not the load itself.
pub struct Hooks {
    pub stop: StopToken,
    pub progress: Option<UnboundedSender<Progress>>,
    /// Merged into `metadata.extra` beside the workload's options.
    pub extra: serde_json::Value,
    /// `--explain-slow`: log the plans of executions slower than this
    /// during the run and keep the slowest in the result.
    pub explain_slow: Option<Duration>,
}

/// The factory of workers, or a refusal when the pool cannot fit the
/// servers.
pub async fn factory(
    spec: &LoadSpec,
    workers: usize,
    ep: &Endpoints,
) -> anyhow::Result<Arc<LibraryFactory>> {
    let replica = ep.app[1].clone().ok_or_else(|| {
        LoadError("the workload needs a replica: pass --replica DSN with --primary".into())
    })?;
    let mix = Mix::parse(&spec.mix, spec.books, spec.readers)
        .map_err(|e| LoadError(format!("--mix: {e}")))?;
    let mut f = LibraryFactory::new(ep.primary_app(), &replica, mix)?;
    f.mode = spec.append_mode;
    f.routing = spec.routing;
    f.seed = spec.seed;
    for (url, role) in ep.admin.iter().zip(["primary", "replica"]) {
        let Some(url) = url else { continue };
        check_room(url, role, workers).await?;
    }
    let client = crate::db::connect(ep.primary_app(), CONNECT).await?;
    workload::install_schema(&client).await?;
    statement_stats(ep.primary_admin()).await;
    f.prime_loans(&client).await?;
    Ok(Arc::new(f))
}

/// The profiles that preload pg_stat_statements expect its view in the
/// event store's database: created here when missing. A connection that
/// may not create it (not a superuser) is a warning; the result then says
/// why its statements are null.
async fn statement_stats(admin: &str) {
    let created = match crate::db::connect(admin, CONNECT).await {
        Ok(c) => workload::install_statement_stats(&c)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = created {
        eprintln!("warning: could not make sure pg_stat_statements exists in the event store's database (the profile preloads it): {e:#}");
    }
}

/// Each worker holds a connection to each server.
async fn check_room(url: &str, role: &str, workers: usize) -> anyhow::Result<()> {
    let c = crate::db::connect(url, CONNECT).await?;
    let row = c
        .query_one(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int,
                    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int",
            &[],
        )
        .await?;
    let (room, used): (i32, i32) = (row.get(0), row.get(1));
    if workers as i64 > (room - used) as i64 {
        return Err(LoadError(format!(
            "--workers {workers} needs {workers} connections on the {role}, which has room for {} more (max_connections less reserved, {used} in use); lower --workers or raise max_connections",
            room - used
        ))
        .into());
    }
    Ok(())
}

fn route_name(r: workload::Route) -> &'static str {
    match r {
        workload::Route::Primary => "primary",
        workload::Route::Replica => "replica",
    }
}

fn append_mode_name(m: AppendMode) -> &'static str {
    m.name()
}

/// Runs the workload once and returns the result with its verification
/// and the pair's description filled in. A verification or description
/// that cannot be read is a warning on stderr and a null in the result,
/// never a lost result.
pub async fn run(
    spec: &LoadSpec,
    options: &BenchOptions,
    pair: &Pair,
    hooks: Hooks,
) -> anyhow::Result<RunResult> {
    let ep = &pair.endpoints;
    if let Some(t) = hooks.explain_slow {
        explain::check(pair, t)?;
    }
    let f = factory(spec, options.workers, ep).await?;
    explain::remove_leftovers(ep.primary_admin()).await;
    let sampler = bench::ServerSampler::connect(ep.primary_admin(), ep.admin[1].as_deref()).await?;
    let servers: Vec<(&str, &str)> = ["primary", "replica"]
        .into_iter()
        .zip(&ep.admin)
        .filter_map(|(role, url)| Some((role, url.as_deref()?)))
        .collect();
    let probe = bench::StatementProbe::connect(&servers, bench::statements::TOP_N).await;
    let mut extra = serde_json::json!({
        "mix": spec.mix,
        "append_mode": append_mode_name(spec.append_mode),
        "queries_on": route_name(f.routing.queries),
        "books": f.mix.books,
        "readers": f.mix.readers,
        "client_threads": spec.threads,
    });
    if let (Some(into), serde_json::Value::Object(more)) = (extra.as_object_mut(), hooks.extra) {
        into.extend(more);
    }
    let counter = crate::db::connect(ep.primary_app(), CONNECT).await?;
    let before = count_events(&counter).await?;
    let app_role: String = counter
        .query_one("SELECT current_user::text", &[])
        .await?
        .get(0);
    // The last step before the load: from here every way out resets it.
    let explain = match hooks.explain_slow {
        Some(t) => Some(explain::ExplainSlow::enable(pair, t).await?),
        None => None,
    };
    let probe = match &explain {
        Some(e) => probe.with_log_markers(e.token.clone(), e.threshold_ms as f64),
        None => probe,
    };
    let run_hooks = RunHooks {
        sampler: Some(sampler),
        statements: Some(probe),
        stop: hooks.stop,
        progress: hooks.progress,
        extra,
    };
    let measured = bench::run(f, options, run_hooks).await;
    if let Some(e) = &explain {
        if let Err(err) = e.disable().await {
            eprintln!("{}", e.leftover_warning(&err));
        }
    }
    let mut result = measured?;
    if let Some(st) = result.statements.as_mut() {
        st.app_role = Some(app_role);
    }
    if let Some(e) = &explain {
        e.read_plans(pair, &mut result).await;
    }
    match verify(ep, before, result.summary.acknowledged_events).await {
        Ok(v) => result.verification = Some(v),
        Err(e) => eprintln!("warning: the end-of-run verification could not run: {e:#}"),
    }
    match describe(pair).await {
        Ok(t) => result.metadata.target = Some(t),
        Err(e) => eprintln!("warning: the servers' settings could not be recorded: {e:#}"),
    }
    Ok(result)
}

async fn count_events(c: &tokio_postgres::Client) -> anyhow::Result<u64> {
    let n: i64 = c
        .query_one("SELECT count(*) FROM events", &[])
        .await?
        .get(0);
    Ok(n as u64)
}

/// After the run: every acknowledged event is in the table, the replica
/// has replayed to the primary's end, and the streams obey the rules.
async fn verify(
    ep: &Endpoints,
    before: u64,
    acknowledged: u64,
) -> anyhow::Result<bench::Verification> {
    let primary = crate::db::connect(ep.primary_app(), CONNECT).await?;
    let after = count_events(&primary).await?;
    let added = after.saturating_sub(before);
    // A replica that is gone (or does not catch up) is a finding of the
    // check, not a reason to lose the report.
    let replica_caught_up = match &ep.app[1] {
        Some(r) => Some(match crate::db::connect(r, CONNECT).await {
            Ok(replica) => crate::cluster::bringup::wait_replayed(&primary, &replica)
                .await
                .is_ok(),
            Err(_) => false,
        }),
        None => None,
    };
    let violations = workload::verify_streams(&primary, &Streams::All)
        .await
        .ok()
        .map(|v| v.total());
    Ok(bench::Verification {
        events_before: before,
        events_after: after,
        acknowledged_events: acknowledged,
        missing_events: acknowledged.saturating_sub(added),
        unacknowledged_events: added.saturating_sub(acknowledged),
        replica_caught_up,
        violations,
    })
}

/// Installs the schema and seeds the store on the primary (COPY, then the
/// indexes on two connections), calling `progress` with the events
/// written so far.
pub async fn seed(
    ep: &Endpoints,
    opts: &workload::SeedOptions,
    progress: impl FnMut(u64),
) -> anyhow::Result<workload::SeedReport> {
    let client = crate::db::connect(ep.primary_app(), CONNECT).await?;
    workload::install_schema(&client).await?;
    // A second connection builds half the indexes after COPY.
    let builder = crate::db::connect(ep.primary_app(), CONNECT).await?;
    Ok(workload::seed_with(&client, &[&client, &builder], opts, progress).await?)
}

/// The seed's figures in one line for people.
pub fn seed_line(r: &workload::SeedReport) -> String {
    format!(
        "seeded {} events ({} readers, {} books, {} lends, {} returns) in {:.1}s: {:.0} events/s (COPY {:.2}s, indexes {:.2}s, analyze {:.2}s)",
        r.events,
        r.readers_registered,
        r.books_added,
        r.lends,
        r.returns,
        r.total_time.as_secs_f64(),
        r.events_per_sec(),
        r.copy_time.as_secs_f64(),
        r.index_time.as_secs_f64(),
        r.analyze_time.as_secs_f64()
    )
}

/// The verification in one line for people.
pub fn verification_line(v: &bench::Verification) -> String {
    let missing = if v.missing_events == 0 {
        format!(
            "all {} acknowledged events are on the primary",
            v.acknowledged_events
        )
    } else {
        format!(
            "{} OF {} ACKNOWLEDGED EVENTS ARE MISSING",
            v.missing_events, v.acknowledged_events
        )
    };
    let replica = match v.replica_caught_up {
        Some(true) => "; the replica replayed to the primary's end",
        Some(false) => "; THE REPLICA DID NOT CATCH UP with the primary",
        None => "",
    };
    let rules = match v.violations {
        Some(0) => "; boundary integrity: 0 violations".to_string(),
        Some(n) => format!("; boundary integrity: {n} VIOLATIONS (see --append-mode)"),
        None => "; boundary integrity: not checked".to_string(),
    };
    format!(
        "verification: {missing} ({} unacknowledged rows){replica}{rules}",
        v.unacknowledged_events
    )
}
