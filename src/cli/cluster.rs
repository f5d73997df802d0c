//! `estune cluster up|start|stop|restart|status|switchover|failover|rebuild|logs|psql|down|url`.

use crate::cluster::operate::Operator;
use crate::cluster::{ops, BackendKind, StateDir};
use crate::tune::Role;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Which managed cluster: shared by every command that talks to one.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Name of the managed cluster
    #[arg(
        long,
        default_value = "estune",
        env = "ESTUNE_CLUSTER",
        value_name = "NAME"
    )]
    pub cluster: String,
    /// Where cluster state lives [default: $ESTUNE_STATE_DIR, $XDG_STATE_HOME/estune, ./.estune;
    /// for root, /var/lib/estune when the servers' OS user cannot reach ./.estune]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ClusterArgs {
    pub fn dir(&self) -> StateDir {
        StateDir::resolve_for(self.state_dir.as_deref(), &self.cluster)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// docker when the engine answers and the image exists, else local
    Auto,
    /// server processes on 127.0.0.1
    Local,
    /// one container per role through the Docker Engine API
    Docker,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleName {
    Primary,
    Replica,
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Role {
        match r {
            RoleName::Primary => Role::Primary,
            RoleName::Replica => Role::Replica,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RebuildWhat {
    /// Clone the replica again from the primary
    Replica,
}

pub(crate) const CLUSTER_EXAMPLES: &str = "\
Examples:
  estune cluster up --profile eventstore --memory 2GiB
  estune cluster status
  estune cluster stop              # both, the primary first; data stays
  estune cluster up                # starts what is stopped or crashed
  estune cluster switchover        # planned: the replica becomes the primary
  estune cluster failover          # the primary is gone: promote the replica
  estune cluster rebuild replica   # re-clone a replica that cannot catch up
  estune cluster logs replica --follow
  estune cluster psql primary
  psql \"$(estune cluster url primary --with-password)\"
  estune cluster down --purge";

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Bring up a primary + streaming replica configured from a profile
    #[command(
        after_help = "The pair gets: initdb with scram-sha-256 and data checksums, the rendered
postgresql.conf and pg_hba.conf, an application role and database, a
replication role and physical slot, the event store's tables with the
profile's catalog tuning (catalog.sql), a replica cloned with pg_basebackup -R,
and a wait until pg_stat_replication shows it streaming. Generated passwords
are kept in the state directory with mode 0600. If any step fails,
everything created so far is removed.

Ports default to 5433 (primary) and 5434 (replica), or the next free ones;
a --port you give that is taken is an error."
    )]
    Up(UpArgs),
    /// Start a stopped or crashed server (both when no role is given)
    #[command(
        after_help = "A crashed server runs crash recovery and catches up through its slot.
A former primary that a failover left behind is rewound (pg_rewind) and
started as the standby. Then estune waits for the replica to stream, and
says why when it does not (slot missing, WAL removed, timelines apart)."
    )]
    Start {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(value_enum)]
        role: Option<RoleName>,
    },
    /// Stop a server with a fast shutdown (both when no role is given: the
    /// primary first, so the replica receives its last WAL). Data stays
    Stop {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(value_enum)]
        role: Option<RoleName>,
    },
    /// Stop and start a server (both when no role is given, primary first)
    Restart {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(value_enum)]
        role: Option<RoleName>,
    },
    /// Show each server: state, version, port, replication, lag, memory, size
    #[command(
        after_help = "States: running, starting (not accepting connections yet), stopped
(a clean shutdown), crashed (the server ended without one: a stale
postmaster.pid, a container's exit code or OOM kill; its last log lines are
shown), and `waiting to rejoin` for a former primary after a failover.
A replica that does not stream says why: slot missing, WAL removed,
timeline mismatch."
    )]
    Status {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: StatusFormat,
    },
    /// Planned role change: the replica becomes the primary, losing nothing
    #[command(
        after_help = "Steps: the primary shuts down (fast), which ends its sessions and sends
its last WAL to the replica; estune waits until the replica has replayed
the shutdown checkpoint (read with pg_controldata), promotes it, gives it
the primary role's configuration and the replication slot, rewinds the
old primary with pg_rewind and starts it as the new standby. The state
file records the new roles: url, apply, health, bench and seed follow.
Clients see their connections end; `estune cluster url primary --any-node`
gives a URL that finds the new primary. Run it again to switch back."
    )]
    Switchover {
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Unplanned role change: the primary is gone, promote the replica
    #[command(
        after_help = "Refuses while the primary runs (that would make two primaries): use
switchover, stop the primary first, or pass --force to stop it here. The
old primary is fenced (Docker no longer restarts it) and recorded as
waiting to rejoin; when it can run again, `estune cluster up` rewinds it
with pg_rewind and attaches it as the standby. Replication is
asynchronous: writes the replica had not received when the primary died
are lost."
    )]
    Failover {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Stop a primary that still runs, then fail over
        #[arg(long)]
        force: bool,
    },
    /// Clone the replica again from the primary (pg_basebackup through a
    /// new slot), keeping its configuration
    #[command(
        after_help = "For a replica that can no longer catch up: its slot was dropped, the
primary removed WAL it needs, or its timeline went apart. The replica is
stopped, its data directory emptied, the slot created anew on the primary,
and pg_basebackup's progress shown as the primary reports it."
    )]
    Rebuild {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(value_enum)]
        what: RebuildWhat,
    },
    /// Print a server's log (the last --lines, or follow it)
    Logs {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(value_enum)]
        role: RoleName,
        #[arg(long, short = 'f')]
        follow: bool,
        #[arg(long, short = 'n', default_value = "50")]
        lines: usize,
    },
    /// Open psql on a server with the stored credentials (for people)
    Psql {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(value_enum)]
        role: RoleName,
        /// Connect as the postgres superuser instead of the application role
        #[arg(long)]
        superuser: bool,
    },
    /// Stop and remove the pair; data stays unless --purge. Safe to repeat
    Down {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Also delete the data directories or volumes and the state
        #[arg(long)]
        purge: bool,
    },
    /// Print a connection URL for a server (for scripts)
    Url {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(value_enum)]
        role: RoleName,
        /// The postgres superuser on the postgres database instead of the
        /// application role on the event store's
        #[arg(long)]
        superuser: bool,
        /// Include the password (it is printed only when asked)
        #[arg(long)]
        with_password: bool,
        /// Name both nodes with target_session_attrs (read-write for the
        /// primary, read-only for the replica), so clients follow a
        /// switchover or failover
        #[arg(long)]
        any_node: bool,
    },
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Profile name or path [default: eventstore]. On an existing cluster,
    /// `up` starts what is stopped instead, and another profile is refused
    #[arg(long, short = 'p', value_name = "NAME|PATH")]
    pub profile: Option<String>,
    #[command(flatten)]
    pub pair: PairArgs,
    #[command(flatten)]
    pub plan: super::plan_args::PlanArgs,
}

/// How a pair is made: shared by `cluster up` and `experiment`.
#[derive(Debug, Clone, Args)]
pub struct PairArgs {
    /// Where the servers run [default: local for `cluster up`, auto for
    /// `experiment`]
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// PostgreSQL major version (local: which installed binaries)
    #[arg(long, value_parser = clap::value_parser!(u32).range(13..=18), value_name = "N")]
    pub pg_version: Option<u32>,
    /// Directory of the server binaries (local backend)
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
    /// Image with PostgreSQL binaries and a postgres user (docker backend)
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Unprivileged OS user that runs the servers when estune runs as root
    #[arg(long, default_value = "postgres", value_name = "USER")]
    pub os_user: String,
    /// Host port of the primary on 127.0.0.1
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Host port of the replica on 127.0.0.1
    #[arg(long, value_name = "PORT")]
    pub replica_port: Option<u16>,
}

impl PairArgs {
    /// What `cluster up` needs, with `default` as the backend when none
    /// was given (None: pick one, and say why).
    pub fn up_options(
        &self,
        cluster: &ClusterArgs,
        profile: crate::profile::Profile,
        plan: &super::plan_args::PlanArgs,
        default: BackendArg,
    ) -> ops::UpOptions {
        let backend = match self.backend.unwrap_or(default) {
            BackendArg::Auto => None,
            BackendArg::Local => Some(BackendKind::Local),
            BackendArg::Docker => Some(BackendKind::Docker),
        };
        ops::UpOptions {
            name: cluster.cluster.clone(),
            state_dir: cluster.dir(),
            profile,
            backend,
            pg_version: self.pg_version,
            pg_bin: self.pg_bin.clone(),
            image: self.image.clone(),
            os_user: self.os_user.clone(),
            ports: [self.port, self.replica_port],
            memory: plan.memory,
            cpus: plan.cpus,
            allow_overcommit: plan.allow_overcommit,
            templates: plan.templates.clone(),
            profile_given: true,
            converge_existing: false,
        }
    }
}

pub fn run(cmd: ClusterCommand) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        match cmd {
            ClusterCommand::Up(a) => up(a).await,
            ClusterCommand::Start { cluster, role } => operate(&cluster, |op| Box::pin(async move {
                op.converge(role.map(Role::from)).await
            })).await,
            ClusterCommand::Stop { cluster, role } => operate(&cluster, |op| Box::pin(async move {
                op.stop(role.map(Role::from)).await
            })).await,
            ClusterCommand::Restart { cluster, role } => operate(&cluster, |op| Box::pin(async move {
                op.restart(role.map(Role::from)).await
            })).await,
            ClusterCommand::Switchover { cluster } => operate(&cluster, |op| Box::pin(op.switchover())).await,
            ClusterCommand::Failover { cluster, force } => operate(&cluster, |op| Box::pin(op.failover(force))).await,
            ClusterCommand::Rebuild { cluster, what: RebuildWhat::Replica } => {
                operate(&cluster, |op| Box::pin(op.rebuild_replica())).await
            }
            ClusterCommand::Status { cluster, format } => {
                let dir = cluster.dir();
                let state = dir.load(&cluster.cluster)?;
                let rows = ops::status(&state, &dir).await?;
                let text = match format {
                    StatusFormat::Table => crate::cluster::status_text::table(&state, &rows),
                    StatusFormat::Json => crate::cluster::status_text::json(&state, &rows),
                };
                std::io::stdout().write_all(text.as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
            ClusterCommand::Logs { cluster, role, follow, lines } => {
                let dir = cluster.dir();
                let state = dir.load(&cluster.cluster)?;
                let backend = ops::open_backend(&state, &dir)?;
                let node = state.node(role.into());
                let text = backend.logs(node, lines).await?;
                println!("{text}");
                if follow {
                    tokio::select! {
                        r = backend.follow_logs(node) => r?,
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            ClusterCommand::Psql { cluster, role, superuser } => psql(&cluster, role.into(), superuser),
            ClusterCommand::Down { cluster, purge } => {
                let dir = cluster.dir();
                let found = ops::down(&cluster.cluster, &dir, purge).await?;
                match (found, purge) {
                    (false, _) => eprintln!("no cluster `{}` in {}: nothing to do", cluster.cluster, dir.root.display()),
                    (true, true) => eprintln!("cluster `{}` removed with its data", cluster.cluster),
                    (true, false) => eprintln!(
                        "cluster `{}` stopped; its data stays (`estune cluster up --cluster {}` starts it again, `estune cluster down --purge` deletes it)",
                        cluster.cluster, cluster.cluster
                    ),
                }
                Ok(ExitCode::SUCCESS)
            }
            ClusterCommand::Url { cluster, role, superuser, with_password, any_node } => {
                let dir = cluster.dir();
                let state = dir.load(&cluster.cluster)?;
                let url = if any_node {
                    ops::any_node_url(&state, &dir, role.into(), superuser, with_password, None)?
                } else {
                    ops::url(&state, &dir, role.into(), superuser, with_password)?
                };
                println!("{url}");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

type OpFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), crate::cluster::ClusterError>> + 'a>,
>;

/// Opens the cluster, runs one operation with progress on stderr, and
/// shows the status afterwards.
async fn operate<F>(cluster: &ClusterArgs, f: F) -> anyhow::Result<ExitCode>
where
    F: for<'o, 'd> FnOnce(&'o mut Operator<'d>) -> OpFuture<'o>,
{
    let dir = cluster.dir();
    let progress = |line: &str| eprintln!("{line}");
    let mut op = Operator::open(&dir, &cluster.cluster, &progress)?;
    f(&mut op).await?;
    let rows = ops::status(&op.state, &dir).await?;
    std::io::stdout().write_all(crate::cluster::status_text::table(&op.state, &rows).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

async fn up(a: UpArgs) -> anyhow::Result<ExitCode> {
    let profile_given = a.profile.is_some();
    let profile = a
        .plan
        .load_profile(a.profile.as_deref().unwrap_or("eventstore"))?;
    let progress = |line: &str| eprintln!("{line}");
    let mut options = a
        .pair
        .up_options(&a.cluster, profile, &a.plan, BackendArg::Local);
    options.profile_given = profile_given;
    options.converge_existing = true;
    if a.pair.backend.is_none() && options.state_dir.exists(&options.name) {
        // The default backend is for new clusters, not a wish to change.
        options.backend = None;
    }
    let state = ops::up(options, &progress).await?;
    eprintln!(
        "cluster `{}` is up ({} backend, PostgreSQL {}): primary 127.0.0.1:{}, replica 127.0.0.1:{}, profile {} (plan {})",
        state.name,
        state.backend.as_str(),
        state.pg_version,
        state.node(Role::Primary).host_port,
        state.node(Role::Replica).host_port,
        state.profile,
        state.plan_hash
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs the host's psql against the server with a temporary 0600 password
/// file, so the password appears in no command line or environment.
fn psql(cluster: &ClusterArgs, role: Role, superuser: bool) -> anyhow::Result<ExitCode> {
    let dir = cluster.dir();
    let state = dir.load(&cluster.cluster)?;
    let url = ops::url(&state, &dir, role, superuser, false)?;
    let secrets = dir.load_secrets(&state.name)?;
    let (user, pw) = if superuser {
        ("postgres", &secrets.superuser)
    } else {
        (state.app_user.as_str(), &secrets.app)
    };
    let mut pgpass = tempfile::NamedTempFile::new()?;
    writeln!(
        pgpass,
        "127.0.0.1:{}:*:{user}:{pw}",
        state.node(role).host_port
    )?;
    let psql = state
        .bindir
        .as_ref()
        .map(|d| d.join("psql"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"));
    let status = std::process::Command::new(&psql)
        .arg(&url)
        .env("PGPASSFILE", pgpass.path())
        .status()
        .with_context(|| format!("cannot run {} (install postgresql-client)", psql.display()))?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}
