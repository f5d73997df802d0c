//! The `estune cluster …` operations as library functions: choosing and
//! opening a backend, bringing a pair up from a profile, status, down.

use super::bringup::{self, UpRequest};
use super::local::LocalBackend;
use super::{Backend, BackendKind, ClusterError, ClusterState, NodeRuntime, StateDir};
use crate::catalog::Catalog;
use crate::profile::Profile;
use crate::render::Renderer;
use crate::tune::{self, Role};
use serde::Serialize;
use std::net::TcpListener;
use std::path::PathBuf;

/// Default host ports, as in the original setup.
pub const DEFAULT_PORTS: [u16; 2] = [5433, 5434];

fn port_free(p: u16) -> bool {
    TcpListener::bind(("127.0.0.1", p)).is_ok()
}

/// The requested ports, or the defaults moved to the next free pair. An
/// explicitly requested port that is taken is an error, never moved.
pub fn choose_ports(primary: Option<u16>, replica: Option<u16>) -> Result<[u16; 2], ClusterError> {
    let mut chosen = [0u16; 2];
    for (i, want) in [primary, replica].into_iter().enumerate() {
        chosen[i] = match want {
            Some(p) if port_free(p) => p,
            Some(p) => return Err(ClusterError::PortInUse { port: p }),
            None => (DEFAULT_PORTS[i]..DEFAULT_PORTS[i] + 200)
                .step_by(2)
                .find(|p| port_free(*p) && !chosen[..i].contains(p))
                .ok_or(ClusterError::PortInUse {
                    port: DEFAULT_PORTS[i],
                })?,
        };
    }
    Ok(chosen)
}

/// Opens the backend a saved cluster was made with.
pub fn open_backend(
    state: &ClusterState,
    dir: &StateDir,
) -> Result<Box<dyn Backend>, ClusterError> {
    match state.backend {
        BackendKind::Local => {
            let bindir = state.bindir.clone().unwrap_or_default();
            let bins = crate::pgbin::find(Some(&bindir), Some(state.major)).map_err(|e| {
                ClusterError::Io {
                    what: format!("the cluster's binaries: {e}"),
                    source: std::io::Error::other("binaries missing"),
                }
            })?;
            Ok(Box::new(LocalBackend::new(
                bins,
                &dir.root,
                state.os_user.as_deref().unwrap_or("postgres"),
            )?))
        }
        BackendKind::Docker => super::docker::open(
            state
                .image
                .as_deref()
                .unwrap_or(super::docker::DEFAULT_IMAGE),
        ),
    }
}

#[derive(Clone)]
pub struct UpOptions {
    pub name: String,
    pub state_dir: StateDir,
    pub profile: Profile,
    pub backend: Option<BackendKind>,
    pub pg_version: Option<u32>,
    pub pg_bin: Option<PathBuf>,
    pub image: Option<String>,
    pub os_user: String,
    pub ports: [Option<u16>; 2],
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub allow_overcommit: bool,
    pub templates: Option<PathBuf>,
    /// The user named the profile (rather than taking the default): on an
    /// existing cluster, another profile is a conflict.
    pub profile_given: bool,
    /// An existing cluster of that name is brought to its declared state
    /// (`cluster up`) instead of refused (`experiment`, which removes the
    /// pair it made and must not take over another).
    pub converge_existing: bool,
}

/// What the flags of `up` ask for that the existing cluster is not.
fn conflicts(o: &UpOptions, st: &ClusterState) -> Vec<String> {
    let mut c = Vec::new();
    if let Some(k) = o.backend.filter(|k| *k != st.backend) {
        c.push(format!(
            "--backend {} (it runs on the {} backend)",
            k.as_str(),
            st.backend.as_str()
        ));
    }
    if let Some(v) = o.pg_version.filter(|v| *v != st.major) {
        c.push(format!(
            "--pg-version {v} (it runs PostgreSQL {})",
            st.pg_version
        ));
    }
    if o.profile_given && o.profile.name != st.profile {
        c.push(format!(
            "--profile {} (it has profile {}; `estune apply --profile {}` changes it)",
            o.profile.name, st.profile, o.profile.name
        ));
    }
    if let (Some(want), Some(have)) = (&o.image, &st.image) {
        if want != have {
            c.push(format!("--image {want} (it runs {have})"));
        }
    }
    for (i, role) in Role::BOTH.iter().enumerate() {
        if let Some(p) = o.ports[i].filter(|p| *p != st.node(*role).host_port) {
            c.push(format!(
                "port {p} for the {role} (it listens on {})",
                st.node(*role).host_port
            ));
        }
    }
    if o.memory.is_some() || o.cpus.is_some() {
        c.push("--memory/--cpus (`estune apply --memory … --cpus …` changes the resources of a running pair)".into());
    }
    c
}

/// Which backend `auto` picks, and why (for people).
pub async fn pick_backend(image: &str) -> (BackendKind, String) {
    match super::docker::open(image) {
        Ok(b) => match b.preflight().await {
            Ok(_) => (
                BackendKind::Docker,
                format!("the Docker engine answers and image {image} exists"),
            ),
            Err(e) => (
                BackendKind::Local,
                format!("local, because docker is not usable: {e}"),
            ),
        },
        Err(e) => (
            BackendKind::Local,
            format!("local, because docker is not usable: {e}"),
        ),
    }
}

pub async fn up(
    mut o: UpOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<ClusterState> {
    if o.state_dir.exists(&o.name) {
        let st = o.state_dir.load(&o.name)?;
        if !o.converge_existing {
            return Err(ClusterError::Exists {
                name: o.name,
                dir: o.state_dir.root.clone(),
                backend: st.backend.as_str(),
            }
            .into());
        }
        let conflicts = conflicts(&o, &st);
        if !conflicts.is_empty() {
            return Err(ClusterError::Refused(format!(
                "cluster `{}` exists ({} backend, PostgreSQL {}, profile {}) and `up` brings it back as it is; it is not what these flags ask for:\n  {}\nDrop those flags, or `estune cluster down --cluster {} --purge` first to make it anew",
                o.name,
                st.backend.as_str(),
                st.pg_version,
                st.profile,
                conflicts.join("\n  "),
                o.name
            ))
            .into());
        }
        progress(&format!(
            "cluster `{}` exists in {}: bringing it to its declared state",
            o.name,
            o.state_dir.root.display()
        ));
        let mut op = super::operate::Operator::open(&o.state_dir, &o.name, progress)?;
        op.converge(None).await?;
        return Ok(op.state);
    }
    let image = o
        .image
        .clone()
        .unwrap_or_else(|| super::docker::DEFAULT_IMAGE.to_string());
    let kind = match o.backend {
        Some(k) => k,
        None => {
            let (k, why) = pick_backend(&image).await;
            progress(&format!("backend: {why}"));
            k
        }
    };
    let wanted = o.pg_version.or(o.profile.pg_version);
    let plan_with = |catalog: &Catalog| {
        let res = crate::inputs::resources_both(&o.profile, o.memory, o.cpus);
        crate::inputs::checked_plan(&o.profile, res, catalog, o.allow_overcommit)
    };
    if kind == BackendKind::Local {
        if let Some(user) = crate::pgbin::RunAs::resolve(&o.os_user)? {
            let (dir, why) = o.state_dir.clone().reachable_by(&user);
            if let Some(why) = why {
                progress(&why);
                if dir.exists(&o.name) {
                    let backend = dir.load(&o.name)?.backend.as_str();
                    return Err(ClusterError::Exists {
                        name: o.name,
                        dir: dir.root.clone(),
                        backend,
                    }
                    .into());
                }
                o.state_dir = dir;
            }
        }
    }
    let (backend, plan, bindir): (Box<dyn Backend>, tune::Plan, Option<PathBuf>) = match kind {
        BackendKind::Local => {
            let bins = crate::pgbin::find(o.pg_bin.as_deref(), wanted)?;
            progress(&format!(
                "binaries: {} (PostgreSQL {})",
                bins.bindir.display(),
                bins.version
            ));
            let plan = plan_with(&Catalog::from_binary(&bins, &o.os_user)?)?;
            let dir = bins.bindir.clone();
            (
                Box::new(LocalBackend::new(bins, &o.state_dir.root, &o.os_user)?),
                plan,
                Some(dir),
            )
        }
        BackendKind::Docker => {
            // The plan and its budget first: a profile too small for its
            // plan is refused before any container exists.
            let mut plan = plan_with(&Catalog::builtin(wanted.unwrap_or(15))?)?;
            let b = super::docker::open(&image)?;
            let version = b.preflight().await?;
            let major: u32 = version
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(plan.pg_version);
            if major != plan.pg_version {
                plan = plan_with(&Catalog::builtin(major)?)?;
            }
            progress(&format!("image: {image} (PostgreSQL {version}); validated against the built-in catalog for {major}"));
            (b, plan, None)
        }
    };
    for r in &plan.roles {
        for w in &r.warnings {
            progress(&format!("warning: {}: {w}", r.role));
        }
    }
    let ports = choose_ports(o.ports[0], o.ports[1])?;
    let renderer = Renderer::new(o.templates.as_deref())?;
    let state = bringup::up(UpRequest {
        name: o.name,
        state_dir: &o.state_dir,
        backend: backend.as_ref(),
        plan,
        renderer: &renderer,
        ports,
        resources: [
            o.profile.primary.resources.clone(),
            o.profile.replica.resources.clone(),
        ],
        image: (kind == BackendKind::Docker).then_some(image),
        bindir,
        os_user: (kind == BackendKind::Local).then_some(o.os_user),
        progress,
    })
    .await?;
    Ok(state)
}

/// One row of `cluster status`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub role: Role,
    /// running, starting, stopped, crashed, or waiting to rejoin.
    pub state: String,
    pub version: String,
    pub port: u16,
    pub replication: String,
    /// Bytes between the primary's current LSN and the replica's replay.
    pub lag_bytes: Option<i64>,
    pub data_size: Option<i64>,
    /// What is wrong, in words: why it crashed, why it does not stream.
    pub problem: Option<String>,
    /// The last lines of the log of a server that crashed or cannot start.
    pub log_tail: Option<String>,
    pub runtime: NodeRuntime,
}

/// Log lines shown under a crashed server.
const CRASH_LOG_LINES: usize = 8;

pub async fn status(state: &ClusterState, dir: &StateDir) -> anyhow::Result<Vec<NodeStatus>> {
    let backend = open_backend(state, dir)?;
    let secrets = dir.load_secrets(&state.name)?;
    let mut rows = Vec::new();
    let mut primary: Option<tokio_postgres::Client> = None;
    let mut primary_lsn: Option<String> = None;
    for node in &state.nodes {
        let runtime = backend.runtime(node).await?;
        let mut row = NodeStatus {
            name: node.name.clone(),
            role: node.role,
            state: match (runtime.running, &runtime.crashed) {
                (true, _) => "running".into(),
                (false, Some(_)) => "crashed".into(),
                (false, None) => "stopped".into(),
            },
            version: state.pg_version.clone(),
            port: node.host_port,
            replication: "-".into(),
            lag_bytes: None,
            data_size: None,
            problem: runtime.crashed.clone(),
            log_tail: None,
            runtime,
        };
        if node.rejoin {
            row.state = format!("{}, waiting to rejoin", row.state);
            row.problem = Some(format!(
                "a former primary that a failover or an interrupted switchover left behind{}; `estune cluster up` rewinds it and attaches it as the standby",
                row.problem.as_deref().map(|p| format!(" ({p})")).unwrap_or_default()
            ));
        }
        if row.runtime.crashed.is_some() {
            row.log_tail = backend.logs(node, CRASH_LOG_LINES).await.ok();
        }
        let dsn = bringup::superuser_conninfo(node, &secrets);
        match crate::db::connect(&dsn, std::time::Duration::from_secs(3)).await {
            Err(e) if row.runtime.running => {
                row.state = "starting".into();
                row.problem = Some(format!("not accepting connections: {e}"));
                row.log_tail = backend.logs(node, CRASH_LOG_LINES).await.ok();
            }
            Err(_) => {}
            Ok(c) => {
                let q = |sql: &'static str| c.query_one(sql, &[]);
                let full: String = q("SHOW server_version").await?.get(0);
                row.version = full
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                row.data_size = q("SELECT sum(pg_database_size(datname))::bigint FROM pg_database")
                    .await?
                    .get(0);
                let recovering: bool = q("SELECT pg_is_in_recovery()").await?.get(0);
                if node.role == Role::Primary {
                    if recovering {
                        row.problem = Some("recorded as the primary but in recovery".into());
                    } else {
                        primary_lsn = Some(q("SELECT pg_current_wal_lsn()::text").await?.get(0));
                    }
                    let r: Option<String> = q("SELECT string_agg(application_name || ' ' || state, ', ') FROM pg_stat_replication").await?.get(0);
                    row.replication = r.unwrap_or_else(|| "no standby connected".into());
                    primary = Some(c);
                } else {
                    let r = c
                        .query_one(
                            "SELECT coalesce(status, 'no WAL receiver'),
                                    pg_wal_lsn_diff($1::text::pg_lsn, pg_last_wal_replay_lsn())::bigint
                             FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver ON true",
                            &[&primary_lsn.clone().unwrap_or_else(|| "0/0".into())],
                        )
                        .await?;
                    let receiver: String = r.get(0);
                    row.replication = if recovering {
                        format!("standby, receiver {receiver}")
                    } else {
                        "not in recovery".into()
                    };
                    if !recovering {
                        row.problem =
                            Some("runs as a second primary: it is not in recovery".into());
                    } else if receiver != "streaming" {
                        let why = super::diagnose::why_not_streaming(
                            backend.as_ref(),
                            node,
                            primary.as_ref(),
                            Some(&c),
                            &state.replication_slot,
                        )
                        .await;
                        row.problem = Some(format!(
                            "{}{}",
                            why.text,
                            if why.definite {
                                "; `estune cluster rebuild replica` clones it again"
                            } else {
                                ""
                            }
                        ));
                    }
                    row.lag_bytes = primary_lsn
                        .as_ref()
                        .and_then(|_| r.get::<_, Option<i64>>(1))
                        .map(|b| b.max(0));
                }
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Restarts both servers with the configuration they have, primary first,
/// and returns once the replica streams again and has replayed the
/// primary's end: every measurement that follows starts with empty shared
/// buffers (the operating system's page cache is not dropped).
pub async fn restart(
    state: &ClusterState,
    dir: &StateDir,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<()> {
    let mut op = super::operate::Operator::open(dir, &state.name, progress)?;
    op.restart(None).await?;
    let p = op.connect(&op.node(Role::Primary)).await?;
    let r = op.connect(&op.node(Role::Replica)).await?;
    bringup::wait_replayed(&p, &r).await?;
    Ok(())
}

/// Stops and removes the pair; data stays unless `purge`. Idempotent.
pub async fn down(name: &str, dir: &StateDir, purge: bool) -> anyhow::Result<bool> {
    if !dir.exists(name) {
        return Ok(false);
    }
    let state = dir.load(name)?;
    let backend = open_backend(&state, dir)?;
    // The primary first, so the replica receives its last WAL.
    for node in &state.nodes {
        if backend.runtime(node).await?.running {
            backend.stop(node).await?;
        }
    }
    backend.remove(name, &state.nodes, purge).await?;
    if purge {
        dir.remove(name)?;
    }
    Ok(true)
}

/// A libpq URL naming both nodes, the way applications follow a
/// switchover: libpq (and tokio-postgres) try the hosts in turn and keep
/// the one whose session has `attrs` (`read-write` finds the primary,
/// `read-only` a standby). The current holder of the role comes first.
pub fn any_node_url(
    state: &ClusterState,
    dir: &StateDir,
    role: Role,
    superuser: bool,
    with_password: bool,
    database: Option<&str>,
) -> anyhow::Result<String> {
    let (other, attrs) = match role {
        Role::Primary => (Role::Replica, "read-write"),
        Role::Replica => (Role::Primary, "read-only"),
    };
    let url = url_to(
        state,
        dir,
        &[role, other],
        superuser,
        with_password,
        database,
    )?;
    Ok(format!("{url}?target_session_attrs={attrs}"))
}

/// A libpq URL for a role's server; the password only when asked.
pub fn url(
    state: &ClusterState,
    dir: &StateDir,
    role: Role,
    superuser: bool,
    with_password: bool,
) -> anyhow::Result<String> {
    url_on(state, dir, role, superuser, with_password, None)
}

/// `url`, on `database` instead of the role's own (the superuser's is
/// `postgres`; samplers and health probes want the event store's).
pub fn url_on(
    state: &ClusterState,
    dir: &StateDir,
    role: Role,
    superuser: bool,
    with_password: bool,
    database: Option<&str>,
) -> anyhow::Result<String> {
    url_to(state, dir, &[role], superuser, with_password, database)
}

/// The URL of the servers holding `roles`, in that order.
fn url_to(
    state: &ClusterState,
    dir: &StateDir,
    roles: &[Role],
    superuser: bool,
    with_password: bool,
    database: Option<&str>,
) -> anyhow::Result<String> {
    let secrets = dir.load_secrets(&state.name)?;
    let (user, pw, db) = if superuser {
        (
            "postgres",
            secrets.superuser,
            database.unwrap_or("postgres"),
        )
    } else {
        (
            state.app_user.as_str(),
            secrets.app,
            database.unwrap_or(state.database.as_str()),
        )
    };
    let auth = if with_password {
        format!("{user}:{pw}")
    } else {
        user.to_string()
    };
    let hosts: Vec<String> = roles
        .iter()
        .map(|r| format!("127.0.0.1:{}", state.node(*r).host_port))
        .collect();
    Ok(format!("postgresql://{auth}@{}/{db}", hosts.join(",")))
}
