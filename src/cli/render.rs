//! `estune render`.

use crate::inputs::{self, CatalogRequest};
use crate::render::Renderer;
use crate::tune::{self, Role};
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Primary,
    Replica,
    Both,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// postgresql.conf, one commented line per setting
    Conf,
    /// ALTER SYSTEM statements
    AlterSystem,
    /// the whole plan as versioned JSON (schema estune.plan/1)
    Json,
}

const RENDER_EXAMPLES: &str = "\
Examples:
  estune render --profile eventstore --memory 4GiB --cpus 2 --explain
  estune render --profile eventstore --role primary --pg-version 15 > postgresql.conf
  estune render --profile ./my-profile.toml --dsn postgresql://postgres@127.0.0.1:5433/postgres -o out/
  estune render --profile des-benchmark --allow-overcommit --explain

Resources: --memory/--cpus win over the profile; without either, the
container's cgroup limits are read (v2 memory.max/cpu.max, then v1), then
the host's RAM and CPUs. The source of each figure is printed.

Catalog: every value is checked against --dsn (a live server's pg_settings),
else --pg-bin (that binary's own catalog), else an installed binary of the
target version, else estune's built-in catalog for PostgreSQL 13-18.

Output: the result goes to stdout, notes and warnings to stderr. With -o DIR
the files are written atomically: DIR/primary/postgresql.conf,
DIR/primary/pg_hba.conf, DIR/primary/alter-system.sql, the same for
replica, DIR/catalog.sql and DIR/plan.json.";

#[derive(Debug, Args)]
#[command(after_help = RENDER_EXAMPLES)]
pub struct RenderArgs {
    /// Profile name (stock, pgtune-oltp, des-benchmark, eventstore, or one in
    /// --profiles-dir) or path to a profile file
    #[arg(long, short = 'p', value_name = "NAME|PATH")]
    pub profile: String,
    /// Which server's files to produce
    #[arg(long, value_enum, default_value = "both")]
    pub role: RoleArg,
    #[command(flatten)]
    pub plan: super::plan_args::PlanArgs,
    /// Target PostgreSQL major version (13-18); default: the profile's, the
    /// server's or the installed binary's
    #[arg(long, value_parser = clap::value_parser!(u32).range(13..=18), value_name = "N")]
    pub pg_version: Option<u32>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "conf")]
    pub format: Format,
    /// Print a table of every setting: value, PostgreSQL default, rule,
    /// restart or reload; and the memory budget arithmetic
    #[arg(long)]
    pub explain: bool,
    /// Write all files into this directory instead of printing
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Directory with the PostgreSQL server binaries to validate against
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
    /// A live server to validate against (libpq URL or key=value string)
    #[arg(long, value_name = "URL")]
    pub dsn: Option<String>,
    /// OS user that runs the throwaway server reading a binary's catalog
    /// when estune runs as root
    #[arg(long, default_value = "postgres", value_name = "USER")]
    pub os_user: String,
}

fn roles(r: RoleArg) -> Vec<Role> {
    match r {
        RoleArg::Primary => vec![Role::Primary],
        RoleArg::Replica => vec![Role::Replica],
        RoleArg::Both => Role::BOTH.to_vec(),
    }
}

pub fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let profile = args.plan.load_profile(&args.profile)?;
    let req = CatalogRequest {
        pg_version: args.pg_version,
        pg_bin: args.pg_bin.clone(),
        dsn: args.dsn.clone(),
        os_user: args.os_user.clone(),
    };
    let rt = super::runtime()?;
    let (catalog, notes) = rt.block_on(inputs::catalog(&req, &profile))?;
    for n in notes {
        eprintln!("note: {n}");
    }
    let res = inputs::resources_both(&profile, args.plan.memory, args.plan.cpus);
    let plan = inputs::checked_plan(&profile, res, &catalog, args.plan.allow_overcommit)?;
    let renderer = Renderer::new(args.plan.templates.as_deref())?;
    let selected = roles(args.role);
    for r in &selected {
        for w in &plan.role(*r).warnings {
            eprintln!("warning: {r}: {w}");
        }
    }
    if let Some(dir) = &args.output {
        write_files(dir, &plan, &renderer, &selected)?;
    }
    let stdout = if args.explain {
        crate::render::explain(&plan, &selected)
    } else if args.output.is_some() {
        String::new()
    } else {
        let mut parts = Vec::new();
        match args.format {
            Format::Json => parts.push(crate::render::plan_json(&plan)),
            Format::Conf => {
                for r in &selected {
                    parts.push(renderer.postgresql_conf(&plan, *r)?);
                }
            }
            Format::AlterSystem => {
                for r in &selected {
                    parts.push(renderer.alter_system(&plan, *r)?);
                }
            }
        }
        parts.join("\n")
    };
    std::io::stdout().write_all(stdout.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Renders every file first, then writes; a rendering error writes nothing.
fn write_files(dir: &Path, plan: &tune::Plan, r: &Renderer, roles: &[Role]) -> anyhow::Result<()> {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for role in roles {
        let d = dir.join(role.as_str());
        files.push((d.join("postgresql.conf"), r.postgresql_conf(plan, *role)?));
        files.push((d.join("pg_hba.conf"), r.pg_hba(plan, *role)?));
        files.push((d.join("alter-system.sql"), r.alter_system(plan, *role)?));
    }
    files.push((dir.join("catalog.sql"), r.catalog_sql(plan)?));
    files.push((dir.join("plan.json"), crate::render::plan_json(plan)));
    for (path, text) in &files {
        crate::atomic::write_atomic(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
