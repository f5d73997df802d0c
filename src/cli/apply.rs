//! `estune apply`.

use super::connect::ConnectArgs;
use crate::apply::{self, ApplyOptions};
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

const APPLY_EXAMPLES: &str = "\
Examples:
  estune apply --profile eventstore --dry-run        # what would change, and how
  estune apply --profile eventstore                  # on the managed cluster `estune`
  estune apply --rollback                            # back to the files before the last apply
  estune apply --profile eventstore --primary postgresql://postgres@10.0.0.5/postgres --dry-run

On a managed cluster, apply writes postgresql.conf and pg_hba.conf (backing
up the files it replaces), reloads or restarts each server as the changes
require (replica first, or primary first when lowering max_connections and
the like), runs catalog.sql on the primary, changes container memory limits
(docker), and verifies that every value is in effect and replication
streams again. If a server does not come back, the previous files are
restored and the server restarted: the cluster is never left down.

On a pair given by --primary/--replica, estune cannot write files: it shows
the diff, and with --alter-system writes postgresql.auto.conf through SQL,
reloads, and tells you exactly what to restart.";

#[derive(Debug, Args)]
#[command(after_help = APPLY_EXAMPLES)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Profile name or path (not needed with --rollback)
    #[arg(
        long,
        short = 'p',
        value_name = "NAME|PATH",
        required_unless_present = "rollback"
    )]
    pub profile: Option<String>,
    /// Show the changes without making them
    #[arg(long)]
    pub dry_run: bool,
    /// Restore the configuration from before the last apply
    #[arg(long, conflicts_with_all = ["profile", "dry_run", "primary"])]
    pub rollback: bool,
    /// Write settings with ALTER SYSTEM (required for --primary/--replica)
    #[arg(long)]
    pub alter_system: bool,
    #[command(flatten)]
    pub plan: super::plan_args::PlanArgs,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let progress = |line: &str| eprintln!("{line}");
        let dir = a.connect.cluster.dir();
        if a.rollback {
            let from = apply::rollback(&a.connect.cluster.cluster, &dir, &progress).await?;
            eprintln!("rolled back to {}; replication is streaming", from.display());
            return Ok(ExitCode::SUCCESS);
        }
        let spec = a.profile.as_deref().expect("clap requires --profile without --rollback");
        let o = ApplyOptions {
            profile: a.plan.load_profile(spec)?,
            memory: a.plan.memory,
            cpus: a.plan.cpus,
            allow_overcommit: a.plan.allow_overcommit,
            dry_run: a.dry_run,
            templates: a.plan.templates.clone(),
        };
        let report = match &a.connect.primary {
            Some(p) => apply::apply_dsn(p, a.connect.replica.as_deref(), o, a.alter_system).await?,
            None if a.alter_system => anyhow::bail!(super::UsageError(
                "--alter-system is for pairs given by --primary/--replica; a managed cluster gets its files written".into()
            )),
            None => apply::apply_managed(&a.connect.cluster.cluster, &dir, o, &progress).await?,
        };
        let text = if a.json { crate::apply::report_text::json(&report) } else { crate::apply::report_text::table(&report) };
        std::io::stdout().write_all(text.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}
