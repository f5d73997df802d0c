//! Bringing up the pair, the same for every backend: initdb the primary,
//! configure and start it, create the roles, database and slot, clone the
//! replica, configure and start it, wait for streaming. A failure at any
//! step removes everything created so far.

use super::{
    Backend, ClusterError, ClusterState, NodeSpec, Prepared, ReplicationAuth, Secrets, StateDir,
};
use crate::render::Renderer;
use crate::tune::{Plan, Role};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// The nodes' names; the first starts as the primary. Roles move between
/// them on a switchover or failover, the names stay.
pub const NODE_NAMES: [&str; 2] = ["pg1", "pg2"];

/// How long a server may take to accept connections after start.
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the replica may take to stream after it started.
pub const STREAMING_TIMEOUT: Duration = Duration::from_secs(60);

pub struct UpRequest<'a> {
    pub name: String,
    pub state_dir: &'a StateDir,
    pub backend: &'a dyn Backend,
    /// Validated, budget-checked plan (nothing is created before this).
    pub plan: Plan,
    pub renderer: &'a Renderer,
    /// Host ports for the primary and the replica.
    pub ports: [u16; 2],
    /// The profile's container resources per role (reservation, shm size).
    pub resources: [crate::profile::Resources; 2],
    pub image: Option<String>,
    pub bindir: Option<std::path::PathBuf>,
    pub os_user: Option<String>,
    /// Progress lines for people (stderr).
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// A key=value connection string (values here never need quoting: ports,
/// identifiers and passwords from an alphanumeric alphabet).
pub fn conninfo(port: u16, user: &str, password: &str, db: &str) -> String {
    format!(
        "host=127.0.0.1 port={port} user={user} password={password} dbname={db} connect_timeout=5"
    )
}

pub fn superuser_conninfo(node: &NodeSpec, secrets: &Secrets) -> String {
    conninfo(node.host_port, "postgres", &secrets.superuser, "postgres")
}

/// Polls until the server accepts connections, failing early (with its log)
/// when its process has exited.
pub async fn wait_ready(
    backend: &dyn Backend,
    node: &NodeSpec,
    secrets: &Secrets,
) -> Result<Client, ClusterError> {
    let dsn = superuser_conninfo(node, secrets);
    let server = format!(
        "{} (the {} on 127.0.0.1:{})",
        node.name, node.role, node.host_port
    );
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < READY_TIMEOUT {
        match crate::db::connect(&dsn, Duration::from_secs(2)).await {
            Ok(c) => return Ok(c),
            Err(e) => last = e.to_string(),
        }
        // A server that failed to start is gone within a second or two.
        if start.elapsed() > Duration::from_secs(3) && !backend.runtime(node).await?.running {
            return Err(ClusterError::NotReady {
                server,
                secs: start.elapsed().as_secs(),
                reason: format!("the server exited ({last})"),
                log: backend.logs(node, 30).await.unwrap_or_default(),
            });
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Err(ClusterError::NotReady {
        server,
        secs: READY_TIMEOUT.as_secs(),
        reason: last,
        log: backend.logs(node, 30).await.unwrap_or_default(),
    })
}

/// Waits until the primary reports a streaming standby.
pub async fn wait_streaming(primary: &Client, label: &str) -> Result<(), ClusterError> {
    let start = Instant::now();
    while start.elapsed() < STREAMING_TIMEOUT {
        let streaming = super::diagnose::streaming(primary)
            .await
            .map_err(|source| ClusterError::Sql {
                server: label.to_string(),
                source,
            })?;
        if streaming {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ClusterError::NotReady {
        server: label.to_string(),
        secs: STREAMING_TIMEOUT.as_secs(),
        reason: "no standby reached state `streaming` in pg_stat_replication".into(),
        log: String::new(),
    })
}

/// Polls until `replica` has replayed up to `lsn` (`past`: beyond it, for
/// a record that starts at `lsn`), for at most `limit`. False when it
/// did not get there in time.
pub async fn replay_reaches(
    replica: &Client,
    lsn: &str,
    past: bool,
    limit: Duration,
) -> Result<bool, tokio_postgres::Error> {
    let sql = if past {
        "SELECT coalesce(pg_last_wal_replay_lsn() > $1::text::pg_lsn, false)"
    } else {
        "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)"
    };
    let start = Instant::now();
    while start.elapsed() < limit {
        if replica.query_one(sql, &[&lsn]).await?.get::<_, bool>(0) {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(false)
}

/// Waits until the replica has replayed everything the primary has
/// written so far. A standby checks its hot-standby parameters against the
/// primary's values it last replayed, so after the primary lowers
/// max_connections & co. the replica may restart only once it replayed that.
pub async fn wait_replayed(primary: &Client, replica: &Client) -> Result<(), ClusterError> {
    let sql = |server: &str| {
        let server = server.to_string();
        move |source| ClusterError::Sql { server, source }
    };
    let target: String = primary
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .map_err(sql("primary"))?
        .get(0);
    if replay_reaches(replica, &target, false, STREAMING_TIMEOUT)
        .await
        .map_err(sql("replica"))?
    {
        return Ok(());
    }
    Err(ClusterError::NotReady {
        server: "the replica".into(),
        secs: STREAMING_TIMEOUT.as_secs(),
        reason: format!("it did not replay the primary's WAL up to {target}"),
        log: String::new(),
    })
}

/// The files a role's data directory gets from the plan.
pub fn config_files(
    renderer: &Renderer,
    plan: &Plan,
    role: Role,
) -> Result<Vec<(String, String)>, crate::render::RenderError> {
    Ok(vec![
        (
            "postgresql.conf".into(),
            renderer.postgresql_conf(plan, role)?,
        ),
        ("pg_hba.conf".into(), renderer.pg_hba(plan, role)?),
    ])
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Roles with passwords, the database and the slot. Every value is a bound
/// parameter: names and passwords reach `format(%I, %L)` on the server
/// through set_config, because utility statements take no parameters.
async fn create_objects(
    c: &mut Client,
    plan: &Plan,
    secrets: &Secrets,
    label: &str,
) -> Result<(), ClusterError> {
    let sql = |source| ClusterError::Sql {
        server: label.to_string(),
        source,
    };
    let a = &plan.access;
    let tx = c.transaction().await.map_err(sql)?;
    tx.execute(
        "SELECT set_config('estune.app_user', $1, true), set_config('estune.app_pw', $2, true),
                set_config('estune.repl_user', $3, true), set_config('estune.repl_pw', $4, true)",
        &[
            &a.app_user,
            &secrets.app,
            &a.replication_user,
            &secrets.replication,
        ],
    )
    .await
    .map_err(sql)?;
    tx.batch_execute(
        "DO $$ BEGIN
           EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', current_setting('estune.app_user'), current_setting('estune.app_pw'));
           EXECUTE format('CREATE ROLE %I LOGIN REPLICATION PASSWORD %L', current_setting('estune.repl_user'), current_setting('estune.repl_pw'));
         END $$",
    )
    .await
    .map_err(sql)?;
    tx.commit().await.map_err(sql)?;
    // CREATE DATABASE runs outside any transaction or function; the names
    // are identifiers the profile validated, quoted here.
    c.batch_execute(&format!(
        "CREATE DATABASE {} OWNER {}",
        quote_ident(&a.database),
        quote_ident(&a.app_user)
    ))
    .await
    .map_err(sql)?;
    c.execute(
        "SELECT pg_create_physical_replication_slot($1)",
        &[&a.replication_slot],
    )
    .await
    .map_err(sql)?;
    Ok(())
}

/// The event store's tables and indexes (owned by the application role),
/// then catalog.sql in one transaction, so the profile's storage
/// parameters and statistics targets hold from the first event on: a
/// store seeded before its first `apply` would otherwise run without them
/// (GIN pending lists growing under `fastupdate`, default statistics).
async fn create_store(
    primary: &NodeSpec,
    plan: &Plan,
    renderer: &Renderer,
    secrets: &Secrets,
    label: &str,
) -> Result<(), ClusterError> {
    let a = &plan.access;
    let connect = |user: &str, password: &str| {
        let dsn = conninfo(primary.host_port, user, password, &a.database);
        async move { crate::db::connect(&dsn, Duration::from_secs(5)).await }
    };
    let app = connect(&a.app_user, &secrets.app).await?;
    crate::workload::install_schema(&app)
        .await
        .map_err(|e| ClusterError::Io {
            what: format!("{label}: creating the event store's tables: {e}"),
            source: std::io::Error::other("schema"),
        })?;
    let sql = renderer.catalog_sql(plan).map_err(|e| ClusterError::Io {
        what: e.to_string(),
        source: std::io::Error::other("rendering failed"),
    })?;
    let mut admin = connect("postgres", &secrets.superuser).await?;
    let err = |source| ClusterError::Sql {
        server: format!("{label} (catalog.sql)"),
        source,
    };
    let tx = admin.transaction().await.map_err(err)?;
    tx.batch_execute(&sql).await.map_err(err)?;
    tx.commit().await.map_err(err)
}

pub async fn up(req: UpRequest<'_>) -> Result<ClusterState, ClusterError> {
    let UpRequest {
        name,
        state_dir,
        backend,
        mut plan,
        renderer,
        ports,
        resources,
        ..
    } = req;
    if state_dir.exists(&name) {
        let st = state_dir.load(&name)?;
        return Err(ClusterError::Exists {
            name,
            dir: state_dir.root.clone(),
            backend: st.backend.as_str(),
        });
    }
    let version = backend.preflight().await?;
    let nodes: Vec<NodeSpec> = Role::BOTH
        .iter()
        .zip(ports)
        .zip(resources)
        .zip(NODE_NAMES)
        .map(|(((role, port), res), node_name)| {
            let rp = plan.role(*role);
            NodeSpec {
                cluster: name.clone(),
                name: node_name.to_string(),
                role: *role,
                rejoin: false,
                host_port: port,
                data_dir: backend.data_dir(&name, node_name),
                memory: Some(rp.inputs.memory.value),
                memory_reservation: res.memory_reservation,
                shm_size: res.shm_size,
                cpus: Some(rp.inputs.cpus.value),
            }
        })
        .collect();
    let secrets = Secrets::generate();
    state_dir.save_secrets(&name, &secrets)?;
    let result = async {
        let prepared = backend.prepare(&name).await?;
        plan.access
            .client_networks
            .extend(prepared.client_networks.iter().cloned());
        plan.hash = crate::tune::hash(&plan);
        bring_up(backend, &nodes, &plan, renderer, &secrets, req.progress).await?;
        Ok::<Prepared, ClusterError>(prepared)
    }
    .await;
    let prepared = match result {
        Ok(p) => p,
        Err(e) => {
            (req.progress)("bring-up failed; removing what was created");
            let cleanup = backend.remove(&name, &nodes, true).await;
            let _ = state_dir.remove(&name);
            return Err(match cleanup {
                Ok(()) => e,
                Err(c) => ClusterError::Io {
                    what: format!("{e}\n(cleaning up also failed: {c})"),
                    source: std::io::Error::other("bring-up failed"),
                },
            });
        }
    };
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let state = ClusterState {
        format: super::state::STATE_FORMAT,
        name: name.clone(),
        backend: backend.kind(),
        major: version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(plan.pg_version),
        pg_version: version,
        image: req.image,
        bindir: req.bindir,
        os_user: req.os_user,
        nodes,
        prepared,
        database: plan.access.database.clone(),
        app_user: plan.access.app_user.clone(),
        replication_user: plan.access.replication_user.clone(),
        replication_slot: plan.access.replication_slot.clone(),
        profile: plan.profile.clone(),
        plan_hash: plan.hash.clone(),
        created: now.clone(),
        applied: now,
    };
    state_dir.save(&state)?;
    Ok(state)
}

async fn bring_up(
    backend: &dyn Backend,
    nodes: &[NodeSpec],
    plan: &Plan,
    renderer: &Renderer,
    secrets: &Secrets,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), ClusterError> {
    let (primary, replica) = (&nodes[0], &nodes[1]);
    let render_err = |e: crate::render::RenderError| ClusterError::Io {
        what: e.to_string(),
        source: std::io::Error::other("rendering failed"),
    };
    let t = Instant::now();
    let step = |what: &str| progress(&format!("[{:>5.1}s] {what}", t.elapsed().as_secs_f64()));
    step(&format!("initdb primary ({})", primary.data_dir));
    backend.initdb(primary, &secrets.superuser).await?;
    backend
        .write_config(
            primary,
            &config_files(renderer, plan, Role::Primary).map_err(render_err)?,
        )
        .await?;
    step(&format!(
        "starting primary on 127.0.0.1:{}",
        primary.host_port
    ));
    backend.start(primary).await?;
    let label = format!("primary 127.0.0.1:{}", primary.host_port);
    let mut client = wait_ready(backend, primary, secrets).await?;
    step("creating roles, database and replication slot");
    create_objects(&mut client, plan, secrets, &label).await?;
    step("creating the event store's tables with the profile's catalog tuning");
    create_store(primary, plan, renderer, secrets, &label).await?;
    step("cloning the replica (pg_basebackup)");
    let auth = ReplicationAuth {
        user: plan.access.replication_user.clone(),
        password: secrets.replication.clone(),
        slot: plan.access.replication_slot.clone(),
    };
    backend.basebackup(replica, primary, &auth).await?;
    // The same standby settings a switchover or rejoin writes, with the
    // node's name as application_name.
    super::standby::configure(backend, replica, primary, &auth).await?;
    backend
        .write_config(
            replica,
            &config_files(renderer, plan, Role::Replica).map_err(render_err)?,
        )
        .await?;
    step(&format!(
        "starting replica on 127.0.0.1:{}",
        replica.host_port
    ));
    backend.start(replica).await?;
    wait_ready(backend, replica, secrets).await?;
    wait_streaming(&client, &label).await?;
    step("replication is streaming");
    Ok(())
}
