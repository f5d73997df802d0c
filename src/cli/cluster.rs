//! `estune cluster up|status|logs|psql|down|url`.

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
    /// Where cluster state lives [default: $ESTUNE_STATE_DIR, $XDG_STATE_HOME/estune, ./.estune]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ClusterArgs {
    pub fn dir(&self) -> StateDir {
        StateDir::resolve(self.state_dir.as_deref())
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

pub(crate) const CLUSTER_EXAMPLES: &str = "\
Examples:
  estune cluster up --profile eventstore --memory 2GiB
  estune cluster status
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
    /// Show each server: state, version, port, replication, lag, memory, size
    Status {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: StatusFormat,
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
    },
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Profile name or path
    #[arg(
        long,
        short = 'p',
        default_value = "eventstore",
        value_name = "NAME|PATH"
    )]
    pub profile: String,
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
        }
    }
}

pub fn run(cmd: ClusterCommand) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        match cmd {
            ClusterCommand::Up(a) => up(a).await,
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
                        "cluster `{}` stopped; its data stays (`estune cluster down --purge` deletes it)",
                        cluster.cluster
                    ),
                }
                Ok(ExitCode::SUCCESS)
            }
            ClusterCommand::Url { cluster, role, superuser, with_password } => {
                let dir = cluster.dir();
                let state = dir.load(&cluster.cluster)?;
                println!("{}", ops::url(&state, &dir, role.into(), superuser, with_password)?);
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn up(a: UpArgs) -> anyhow::Result<ExitCode> {
    let profile = a.plan.load_profile(&a.profile)?;
    let progress = |line: &str| eprintln!("{line}");
    let options = a
        .pair
        .up_options(&a.cluster, profile, &a.plan, BackendArg::Local);
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
