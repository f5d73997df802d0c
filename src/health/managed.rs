//! What only a managed cluster can tell: memory use and OOM kills from its
//! backend, and the plan of the profile last applied (its worst-case
//! memory budget, and drift of the live settings from it).

use super::snapshot::*;
use crate::apply::{self, diff};
use crate::catalog::Catalog;
use crate::cluster::{ops, ClusterState, StateDir};
use crate::tune::Role;
use std::time::Duration;

/// Fills `memory` of each server and the drift part of `config`.
pub async fn add_cluster_facts(
    snap: &mut Snapshot,
    state: &ClusterState,
    dir: &StateDir,
    timeout: Duration,
) {
    // Connecting again, reading the catalog and both servers' settings:
    // bounded like the probes, so a server that stalls now cannot hang.
    let plan = tokio::time::timeout(timeout * 2, plan_of(snap, state, dir, timeout))
        .await
        .unwrap_or_else(|_| Err("drift not checked: the servers did not answer in time".into()));
    let backend = ops::open_backend(state, dir);
    for s in &mut snap.servers {
        let node = state.node(s.role);
        let mut m = Memory {
            budget_limit_bytes: node.memory,
            ..Default::default()
        };
        match &backend {
            Ok(b) => match tokio::time::timeout(timeout, b.runtime(node)).await {
                Ok(Ok(rt)) => {
                    m.usage_bytes = rt.memory_usage;
                    m.limit_bytes = rt.memory_limit;
                    m.oom_killed = rt.oom_killed;
                }
                Ok(Err(e)) => m.note = Some(format!("memory use unknown: {e}")),
                Err(_) => {
                    m.note = Some("memory use unknown: the backend did not answer in time".into())
                }
            },
            Err(e) => m.note = Some(format!("memory use unknown: {e}")),
        }
        if let Ok((plan, ..)) = &plan {
            m.budget_bytes = Some(plan.role(s.role).budget.total);
        }
        s.memory = Some(m);
    }
    let config = snap.config.get_or_insert_with(ConfigCheck::default);
    config.profile = Some(state.profile.clone());
    config.managed = true;
    config.plan_hash = Some(state.plan_hash.clone());
    match plan {
        Ok((_, drift, catalog)) => {
            config.drift = drift;
            record_catalog(config, catalog);
        }
        Err(e) => {
            config.catalog_note = Some(e.replacen("drift not checked", "catalog not checked", 1));
            config.drift_note = Some(e);
        }
    }
}

fn record_catalog(config: &mut ConfigCheck, catalog: Result<Vec<CatalogDrift>, String>) {
    match catalog {
        Ok(drift) => config.catalog_drift = drift,
        Err(e) => config.catalog_note = Some(e),
    }
}

/// The catalog of the event-store tables and indexes, and the settings of
/// the application role in its database, against `plan`'s, read through
/// `client` (connected to `place`, a database that should hold the
/// tables) on `role`, values compared as `catalog` reads them. Err says
/// why it was not checked.
async fn catalog_drift_of(
    plan: &crate::tune::Plan,
    role: Role,
    client: &tokio_postgres::Client,
    place: &str,
    catalog: &Catalog,
) -> Result<Vec<CatalogDrift>, String> {
    let live = apply::catalog::read(client, catalog).await.map_err(|e| {
        format!(
            "catalog not checked on {place}: {:#}",
            anyhow::Error::new(e)
        )
    })?;
    let scope = apply::app_scope::AppScope::of(plan);
    let changes = apply::catalog::diff(&apply::catalog::planned(plan), &live, &scope);
    // Without the tables only the role's settings were compared: their
    // drift is still worth a warning, their match says nothing of the
    // tables.
    if live.is_empty() && changes.is_empty() {
        return Err(format!(
            "catalog not checked: {place} has no event-store tables (events, snapshots) or indexes"
        ));
    }
    Ok(changes
        .into_iter()
        .map(|c| CatalogDrift {
            role: role.to_string(),
            relation: c.relation,
            parameter: c.parameter,
            live: c.live,
            planned: c.planned,
        })
        .collect())
}

type CatalogResult = Result<Vec<CatalogDrift>, String>;

/// The plan of the profile last applied, rebuilt against the primary's
/// catalog, the settings whose live value differs from it, and the
/// catalog state of the event-store relations that differs from it.
async fn plan_of(
    snap: &Snapshot,
    state: &ClusterState,
    dir: &StateDir,
    timeout: Duration,
) -> Result<(crate::tune::Plan, Vec<Drift>, CatalogResult), String> {
    let why = |e: &dyn std::fmt::Display| format!("drift not checked: {e}");
    let search = Some(std::path::Path::new("profiles")).filter(|p| p.is_dir());
    let profile = crate::profile::load(&state.profile, search)
        .map_err(|e| why(&format!("profile {} cannot be loaded: {e}", state.profile)))?;
    let secrets = dir.load_secrets(&state.name).map_err(|e| why(&e))?;
    let mut clients = Vec::new();
    for s in &snap.servers {
        if s.unreachable.is_some() {
            continue;
        }
        let dsn = crate::cluster::bringup::superuser_conninfo(state.node(s.role), &secrets);
        let c = crate::db::connect(&dsn, timeout)
            .await
            .map_err(|e| why(&e))?;
        clients.push((s.role, c));
    }
    let primary = clients
        .iter()
        .find(|(r, _)| *r == Role::Primary)
        .or(clients.first())
        .ok_or_else(|| why(&"no server answers"))?;
    let catalog = Catalog::from_client(
        &primary.1,
        &format!(
            "{} 127.0.0.1:{}",
            primary.0,
            state.node(primary.0).host_port
        ),
    )
    .await
    .map_err(|e| why(&e))?;
    let o = apply::ApplyOptions {
        profile,
        memory: None,
        cpus: None,
        allow_overcommit: true,
        dry_run: true,
        templates: None,
    };
    let plan = apply::plan_for_cluster(&o, state, &catalog).map_err(|e| why(&e))?;
    let drift = drift_of(&plan, &clients, &catalog)
        .await
        .map_err(|e| why(&e))?;
    // The catalog lives in the event store's database, not in `postgres`
    // where the settings were read; the replica's is the primary's.
    let role = primary.0;
    let node = state.node(role);
    let dsn = crate::cluster::bringup::conninfo(
        node.host_port,
        "postgres",
        &secrets.superuser,
        &state.database,
    );
    let place = format!("database {} on the {role}", state.database);
    let catalog_drift = match crate::db::connect(&dsn, timeout).await {
        Ok(c) => catalog_drift_of(&plan, role, &c, &place, &catalog).await,
        Err(e) => Err(format!("catalog not checked: {e}")),
    };
    Ok((plan, drift, catalog_drift))
}

/// What initdb writes into postgresql.conf from the machine's locale and
/// time zone. A server set up by other tools (Patroni, an image's
/// entrypoint) keeps them in its configuration file; they describe the
/// machine, not its tuning, so a plan that leaves them alone does not call
/// them drift.
const INITDB_ENVIRONMENT: [&str; 8] = [
    "lc_messages",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "TimeZone",
    "log_timezone",
    "DateStyle",
    "default_text_search_config",
];

/// How a standby reaches its primary: written by whoever set up the
/// replication (pg_basebackup -R, Patroni), not tuning.
const REPLICATION_SETUP: [&str; 2] = ["primary_conninfo", "primary_slot_name"];

/// The settings of each server whose live value differs from `plan`,
/// and those changed with ALTER SYSTEM that the plan leaves alone.
async fn drift_of(
    plan: &crate::tune::Plan,
    clients: &[(Role, tokio_postgres::Client)],
    catalog: &Catalog,
) -> Result<Vec<Drift>, String> {
    let mut drift = Vec::new();
    for (role, c) in clients {
        let live = diff::live(c).await.map_err(|e| e.to_string())?;
        for ch in diff::diff(plan.role(*role), &live, catalog) {
            let name = ch.name.as_str();
            if plan.role(*role).get(name).is_none()
                && (INITDB_ENVIRONMENT.contains(&name) || REPLICATION_SETUP.contains(&name))
            {
                continue;
            }
            drift.push(Drift {
                role: role.to_string(),
                name: ch.name,
                live: ch.live,
                planned: ch.planned,
            });
        }
        drift.extend(altered(plan.role(*role), &live, catalog));
    }
    Ok(drift)
}

/// For a pair given by connection strings: drift of the live settings
/// from `profile`'s plan for these resources, rebuilt against the
/// primary's catalog (the first server that answers when the primary
/// does not). The snapshot's config names the profile and the plan hash.
pub async fn add_profile_drift(
    snap: &mut Snapshot,
    targets: &[super::Target],
    profile: &crate::profile::Profile,
    resources: [crate::tune::Resources; 2],
    timeout: Duration,
) {
    let result = tokio::time::timeout(timeout * 2, async {
        let why = |e: &dyn std::fmt::Display| format!("drift not checked: {e}");
        let mut clients = Vec::new();
        for t in targets {
            if snap
                .servers
                .iter()
                .any(|s| s.role == t.role && s.unreachable.is_some())
            {
                continue;
            }
            let c = crate::db::connect(&t.dsn, timeout)
                .await
                .map_err(|e| why(&e))?;
            clients.push((t.role, c));
        }
        let primary = clients
            .iter()
            .find(|(r, _)| *r == Role::Primary)
            .or(clients.first())
            .ok_or_else(|| why(&"no server answers"))?;
        let catalog = Catalog::from_client(&primary.1, &primary.0.to_string())
            .await
            .map_err(|e| why(&e))?;
        let plan = crate::inputs::checked_plan(profile, resources, &catalog, true)
            .map_err(|e| why(&format!("{e:#}")))?;
        let drift = drift_of(&plan, &clients, &catalog)
            .await
            .map_err(|e| why(&e))?;
        // The catalog is read where the connection string points: the
        // event store's database is the user's to name.
        let (role, client) = primary;
        let place = targets
            .iter()
            .find(|t| t.role == *role)
            .map(|t| crate::db::server_label(&t.dsn))
            .unwrap_or_else(|| role.to_string());
        let catalog_drift = catalog_drift_of(&plan, *role, client, &place, &catalog).await;
        Ok::<_, String>((plan, drift, catalog_drift))
    })
    .await
    .unwrap_or_else(|_| Err("drift not checked: the servers did not answer in time".into()));
    let config = snap.config.get_or_insert_with(ConfigCheck::default);
    config.profile = Some(profile.name.clone());
    match result {
        Ok((plan, drift, catalog)) => {
            config.plan_hash = Some(crate::tune::hash(&plan));
            config.drift = drift;
            record_catalog(config, catalog);
        }
        Err(e) => {
            config.catalog_note = Some(e.replacen("drift not checked", "catalog not checked", 1));
            config.drift_note = Some(e);
        }
    }
}

/// Settings changed with ALTER SYSTEM that the plan leaves at their
/// default (`diff` leaves postgresql.auto.conf to pg_basebackup's
/// replication settings, which are not drift either).
fn altered(plan: &crate::tune::RolePlan, live: &diff::Live, catalog: &Catalog) -> Vec<Drift> {
    live.iter()
        .filter(|(name, l)| {
            l.sourcefile
                .as_deref()
                .is_some_and(|f| f.ends_with("postgresql.auto.conf"))
                && !REPLICATION_SETUP.contains(&name.as_str())
                && plan.get(name).is_none()
        })
        .filter_map(|(name, l)| {
            let param = catalog.get(name)?;
            (!catalog.same(name, &l.setting, &param.boot_val)).then(|| Drift {
                role: plan.role.to_string(),
                name: name.clone(),
                live: format!("{} (ALTER SYSTEM)", catalog.display(name, &l.setting)),
                planned: format!("default ({})", catalog.display(name, &param.boot_val)),
            })
        })
        .collect()
}
