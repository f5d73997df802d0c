//! Applying a plan to a running pair: diff live vs planned (settings and
//! the event tables' catalog), back up the files it replaces and the
//! catalog state, write configuration, reload or restart each server as
//! the changes require (in hot-standby-safe order), run catalog.sql (kept
//! only when the catalog is then exactly the plan's), verify, and restore
//! the previous files automatically when a server does not come back or
//! the catalog is wrong — the cluster is never left down.

pub mod app_scope;
mod backup;
pub mod catalog;
#[cfg(test)]
mod catalog_tests;
pub mod diff;
mod dsn;
pub mod report_text;

pub use backup::rollback;
pub use diff::Change;
pub use dsn::apply_dsn;

use crate::catalog::Catalog;
use crate::cluster::bringup::{self, config_files};
use crate::cluster::{ops, Backend, ClusterState, NodeSpec, Secrets, StateDir};
use crate::profile::Profile;
use crate::render::Renderer;
use crate::tune::{self, Plan, Role, Sourced};
use anyhow::{bail, Context};
use serde::Serialize;
use std::path::PathBuf;

pub struct ApplyOptions {
    pub profile: Profile,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub allow_overcommit: bool,
    pub dry_run: bool,
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Default, Serialize)]
pub struct ApplyReport {
    pub profile: String,
    pub plan_hash: String,
    pub changes: Vec<Change>,
    /// Storage parameters and statistics targets catalog.sql changes on
    /// the primary (the replica follows through WAL).
    pub catalog: Vec<catalog::CatalogChange>,
    /// Why the catalog was not compared (no event-store tables yet).
    pub catalog_note: Option<String>,
    /// Set when the application role's settings change: they reach new
    /// connections only, so the application must reconnect.
    pub reconnect: Option<String>,
    pub dry_run: bool,
    /// In the order they were changed.
    pub restarted: Vec<Role>,
    pub reloaded: Vec<Role>,
    pub memory_changed: Vec<Role>,
    pub backup: Option<PathBuf>,
    /// What the user must still do (unmanaged pairs).
    pub todo: Vec<String>,
}

type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// The plan for a managed cluster: resources from flags, the profile, or
/// what the cluster was made with; access names and networks of the
/// cluster (they are part of what exists, not of the profile).
pub fn plan_for_cluster(
    o: &ApplyOptions,
    state: &ClusterState,
    catalog: &Catalog,
) -> anyhow::Result<Plan> {
    let machine = crate::machine::Machine::default();
    let res = |role: Role| {
        let mut r = crate::inputs::resources(&o.profile, role, o.memory, o.cpus, &machine);
        let node = state.node(role);
        let from_profile = |rp: &crate::profile::RoleProfile| rp.resources.memory.is_some();
        let rp = if role == Role::Primary {
            &o.profile.primary
        } else {
            &o.profile.replica
        };
        if o.memory.is_none() && !from_profile(rp) {
            if let Some(m) = node.memory {
                r.memory = Sourced {
                    value: m,
                    source: format!("cluster {}", state.name),
                };
            }
        }
        r
    };
    let res = [res(Role::Primary), res(Role::Replica)];
    let mut plan = crate::inputs::checked_plan(&o.profile, res, catalog, o.allow_overcommit)?;
    plan.access.database = state.database.clone();
    plan.access.app_user = state.app_user.clone();
    plan.access.replication_user = state.replication_user.clone();
    plan.access.replication_slot = state.replication_slot.clone();
    plan.access
        .client_networks
        .extend(state.prepared.client_networks.iter().cloned());
    // Access names changed: the hash covers them.
    plan.hash = tune::hash(&plan);
    Ok(plan)
}

/// Raising a parity parameter must reach the standby first; lowering it,
/// the primary first. Otherwise the standby goes first, so a bad setting
/// shows on the server that serves reads, not on the one taking writes.
fn order(changes: &[Change]) -> [Role; 2] {
    let lowered = changes.iter().any(|c| {
        c.role == Role::Primary
            && tune::defaults::PARITY.contains(&c.name.as_str())
            && matches!((c.live.parse::<f64>(), c.planned.parse::<f64>()), (Ok(l), Ok(p)) if p < l)
    });
    if lowered {
        [Role::Primary, Role::Replica]
    } else {
        [Role::Replica, Role::Primary]
    }
}

async fn connect(node: &NodeSpec, secrets: &Secrets) -> anyhow::Result<tokio_postgres::Client> {
    let dsn = bringup::superuser_conninfo(node, secrets);
    Ok(crate::db::connect(&dsn, std::time::Duration::from_secs(5)).await?)
}

/// The superuser on the event store's database of `role`, where catalog.sql
/// runs and the catalog state is read.
async fn connect_app_db(
    state: &ClusterState,
    role: Role,
    secrets: &Secrets,
) -> anyhow::Result<tokio_postgres::Client> {
    let dsn = bringup::conninfo(
        state.node(role).host_port,
        "postgres",
        &secrets.superuser,
        &state.database,
    );
    Ok(crate::db::connect(&dsn, std::time::Duration::from_secs(5)).await?)
}

/// What catalog.sql would change, into the report; a note when the
/// database has none of the event-store relations to compare, and one
/// when the application role's settings change. Returns the live state it
/// compared.
pub(crate) async fn catalog_diff(
    report: &mut ApplyReport,
    client: &tokio_postgres::Client,
    plan: &Plan,
    server_catalog: &Catalog,
    place: &str,
) -> anyhow::Result<catalog::LiveCatalog> {
    let live = catalog::read(client, server_catalog).await?;
    if live.is_empty() {
        report.catalog_note = Some(format!(
            "{place} has no event-store tables yet: catalog.sql skips them (apply again after `estune seed` creates them)"
        ));
    }
    let scope = app_scope::AppScope::of(plan);
    report.catalog = catalog::diff(&catalog::planned(plan), &live, &scope);
    if report
        .catalog
        .iter()
        .any(|c| scope.setting(&c.key).is_some())
    {
        // The server reads pg_db_role_setting when a connection starts, so
        // a pool's open connections keep what they started with.
        report.reconnect = Some(format!(
            "settings of role {} in database {} change: new connections of {} get them, connections already open keep their old values; reconnect the application",
            scope.role, scope.database, scope.role
        ));
    }
    Ok(live)
}

pub async fn apply_managed(
    name: &str,
    dir: &StateDir,
    o: ApplyOptions,
    progress: Progress<'_>,
) -> anyhow::Result<ApplyReport> {
    let mut state = dir.load(name)?;
    let secrets = dir.load_secrets(name)?;
    let backend = ops::open_backend(&state, dir)?;
    let primary = connect(state.node(Role::Primary), &secrets).await?;
    let catalog = Catalog::from_client(
        &primary,
        &format!("primary 127.0.0.1:{}", state.node(Role::Primary).host_port),
    )
    .await?;
    let plan = plan_for_cluster(&o, &state, &catalog)?;
    let renderer = Renderer::new(o.templates.as_deref())?;
    // Rendered before anything changes: a template that fails stops here.
    let catalog_sql = renderer.catalog_sql(&plan)?;
    let mut report = ApplyReport {
        profile: plan.profile.clone(),
        plan_hash: plan.hash.clone(),
        dry_run: o.dry_run,
        ..Default::default()
    };
    for role in Role::BOTH {
        let client = connect(state.node(role), &secrets).await?;
        let live = diff::live(&client).await?;
        report
            .changes
            .extend(diff::diff(plan.role(role), &live, &catalog));
    }
    let app_db = connect_app_db(&state, Role::Primary, &secrets).await?;
    let place = format!("database {} on the primary", state.database);
    let live_catalog = catalog_diff(&mut report, &app_db, &plan, &catalog, &place).await?;
    drop(app_db);
    let docker = state.backend == crate::cluster::BackendKind::Docker;
    let memory_changes: Vec<(Role, u64)> = Role::BOTH
        .iter()
        .filter(|_| docker)
        .filter_map(|r| {
            let want = plan.role(*r).inputs.memory.value;
            (state.node(*r).memory != Some(want)).then_some((*r, want))
        })
        .collect();
    if o.dry_run {
        report.memory_changed = memory_changes.iter().map(|(r, _)| *r).collect();
        return Ok(report);
    }
    let backup = backup::save(dir, &state, backend.as_ref()).await?;
    let scope = app_scope::AppScope::of(&plan);
    backup::save_catalog(&backup, &catalog::owned_state(&live_catalog, &scope))?;
    report.backup = Some(backup.clone());
    progress(&format!(
        "backed up the current configuration to {}",
        backup.display()
    ));
    // A higher limit goes in before the servers restart with bigger
    // buffers; a lower one after they restarted with smaller ones.
    type Limits = Vec<(Role, u64)>;
    let (raise, lower): (Limits, Limits) = memory_changes
        .iter()
        .partition(|(r, limit)| state.node(*r).memory.is_none_or(|m| *limit > m));
    set_limits(backend.as_ref(), &mut state, &raise, &mut report, progress).await?;
    let mut done: Vec<Role> = Vec::new();
    for role in order(&report.changes) {
        let restart = report
            .changes
            .iter()
            .any(|c| c.role == role && c.apply == "restart");
        let node = state.node(role).clone();
        let files = config_files(&renderer, &plan, role)?;
        let step = change_one(backend.as_ref(), &node, &secrets, &files, restart, progress).await;
        if let Err(e) = step {
            done.push(role);
            progress(&format!("{role}: {e:#}"));
            progress("restoring the previous configuration");
            backup::restore(&backup, &state, backend.as_ref(), &secrets, &done, progress)
                .await
                .context(
                    "restoring the previous configuration also failed; see `estune cluster logs`",
                )?;
            bail!("apply failed on the {role} and was rolled back; the cluster runs its previous configuration.\n{e:#}");
        }
        done.push(role);
        if restart {
            report.restarted.push(role);
        } else {
            report.reloaded.push(role);
        }
        if role == Role::Primary && done.len() == 1 {
            progress("waiting for the replica to replay the primary's new settings");
            let p = connect(state.node(Role::Primary), &secrets).await?;
            let r = connect(state.node(Role::Replica), &secrets).await?;
            bringup::wait_replayed(&p, &r).await?;
        }
    }
    set_limits(backend.as_ref(), &mut state, &lower, &mut report, progress).await?;
    if let Err(e) = run_catalog(&state, &secrets, &catalog_sql, &plan, &catalog).await {
        progress(&format!("{e:#}"));
        progress("restoring the previous configuration");
        // The memory limits set so far go on record, so that the rollback
        // puts the previous ones back too.
        dir.save(&state)?;
        backup::rollback(name, dir, progress).await.context(
            "restoring the previous configuration also failed; see `estune cluster logs`",
        )?;
        bail!("apply failed on the catalog and was rolled back: the servers run their previous configuration and the catalog is as it was.\n{e:#}");
    }
    verify(&state, &secrets, &plan, &catalog).await?;
    state.profile = plan.profile.clone();
    state.plan_hash = plan.hash.clone();
    state.applied = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    dir.save(&state)?;
    Ok(report)
}

/// catalog.sql on the primary's event-store database, kept only when the
/// catalog is then exactly the plan's.
async fn run_catalog(
    state: &ClusterState,
    secrets: &Secrets,
    sql: &str,
    plan: &Plan,
    server_catalog: &Catalog,
) -> anyhow::Result<()> {
    let mut client = connect_app_db(state, Role::Primary, secrets).await?;
    let server = format!(
        "the primary (127.0.0.1:{}, database {})",
        state.node(Role::Primary).host_port,
        state.database
    );
    catalog::run_verified(&mut client, sql, plan, server_catalog, &server).await
}

async fn set_limits(
    backend: &dyn Backend,
    state: &mut ClusterState,
    changes: &[(Role, u64)],
    report: &mut ApplyReport,
    progress: Progress<'_>,
) -> anyhow::Result<()> {
    for (role, limit) in changes {
        progress(&format!(
            "{role}: memory limit → {}",
            tune::budget::human(*limit)
        ));
        let node = state.node(*role);
        backend
            .set_memory(node, *limit, node.memory_reservation)
            .await?;
        state.node_mut(*role).memory = Some(*limit);
        report.memory_changed.push(*role);
    }
    Ok(())
}

/// Writes one server's files, then reloads or restarts it, and checks the
/// server accepted the files (pg_file_settings has no errors).
async fn change_one(
    backend: &dyn Backend,
    node: &NodeSpec,
    secrets: &Secrets,
    files: &[(String, String)],
    restart: bool,
    progress: Progress<'_>,
) -> anyhow::Result<()> {
    backend.write_config(node, files).await?;
    if restart {
        progress(&format!("{}: restarting", node.role));
        backend.stop(node).await?;
        backend.start(node).await?;
        bringup::wait_ready(backend, node, secrets).await?;
    } else {
        progress(&format!("{}: reloading", node.role));
    }
    let c = connect(node, secrets).await?;
    c.execute("SELECT pg_reload_conf()", &[]).await?;
    // The reload is asynchronous; give the postmaster a moment to read it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let errors: Vec<String> = c
        .query("SELECT coalesce(name, '?') || ': ' || error FROM pg_file_settings WHERE error IS NOT NULL", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !errors.is_empty() {
        bail!(
            "the {} rejected its configuration: {}",
            node.role,
            errors.join("; ")
        );
    }
    Ok(())
}

async fn verify(
    state: &ClusterState,
    secrets: &Secrets,
    plan: &Plan,
    catalog: &Catalog,
) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for role in Role::BOTH {
        let c = connect(state.node(role), secrets).await?;
        for p in diff::unapplied(plan.role(role), &diff::live(&c).await?, catalog) {
            problems.push(format!("{role}: {p}"));
        }
    }
    let primary = connect(state.node(Role::Primary), secrets).await?;
    bringup::wait_streaming(&primary, "primary").await?;
    // The replica gets catalog.sql's changes, the role settings among
    // them, by replaying the primary's WAL: once it has, its catalog must
    // be the plan's too.
    let replica = connect(state.node(Role::Replica), secrets).await?;
    bringup::wait_replayed(&primary, &replica).await?;
    let replica_db = connect_app_db(state, Role::Replica, secrets).await?;
    let live = catalog::read(&replica_db, catalog).await?;
    let scope = app_scope::AppScope::of(plan);
    let wrong = catalog::diff(&catalog::planned(plan), &live, &scope);
    for line in catalog::describe(&wrong) {
        problems.push(format!("replica, after replaying catalog.sql: {line}"));
    }
    if !problems.is_empty() {
        bail!("applied, but not every value is in effect (postgresql.auto.conf or the command line may override it):\n  {}", problems.join("\n  "));
    }
    Ok(())
}
