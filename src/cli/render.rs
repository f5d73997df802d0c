//! `estune render`.

use crate::export;
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
    /// Patroni: patroni-primary.yml, patroni-replica.yml, post-bootstrap.sh
    /// and secrets.env (needs -o DIR)
    Patroni,
    /// CloudNativePG: a `Cluster` manifest (cluster.yaml with -o DIR)
    Cnpg,
    /// docker-compose: docker-compose.yml, the roles' configuration,
    /// start.sh and secrets.env (needs -o DIR)
    Compose,
}

impl Format {
    fn target(self) -> Option<export::Target> {
        match self {
            Format::Patroni => Some(export::Target::Patroni),
            Format::Cnpg => Some(export::Target::Cnpg),
            Format::Compose => Some(export::Target::Compose),
            Format::Conf | Format::AlterSystem | Format::Json => None,
        }
    }
}

const RENDER_EXAMPLES: &str = "\
Examples:
  estune render --profile eventstore --memory 4GiB --cpus 2 --explain
  estune render --profile eventstore --role primary --pg-version 15 > postgresql.conf
  estune render --profile ./my-profile.toml --dsn postgresql://postgres@127.0.0.1:5433/postgres -o out/
  estune render --profile des-benchmark --allow-overcommit --explain
  estune render --profile eventstore --memory 4GiB --format patroni --dcs http://10.0.0.5:2379 -o patroni/
  estune render --profile eventstore --memory 4GiB --format cnpg --image my-registry/postgresql:15 > cluster.yaml
  estune render --profile eventstore --memory 4GiB --format compose -o pair/ && (cd pair && docker-compose up -d)

Resources: --memory/--cpus win over the profile; without either, the
container's cgroup limits are read (v2 memory.max/cpu.max, then v1), then
the host's RAM and CPUs. The source of each figure is printed.

Catalog: every value is checked against --dsn (a live server's pg_settings),
else --pg-bin (that binary's own catalog), else an installed binary of the
target version, else estune's built-in catalog for PostgreSQL 13-18.

Output: the result goes to stdout, notes and warnings to stderr. With -o DIR
the files are written atomically: DIR/primary/postgresql.conf,
DIR/primary/pg_hba.conf, DIR/primary/alter-system.sql, the same for
replica, DIR/catalog.sql and DIR/plan.json.

Orchestrators (--format patroni|cnpg|compose): the plan in the
orchestrator's own files, its rules applied. Patroni keeps some parameters
equal on every node (bootstrap.dcs); CloudNativePG fixes or refuses some and
gives every instance one configuration; --explain says which setting went
where and which were left out, and why. Passwords go to DIR/secrets.env
(0600); rendering again into the same directory keeps them.";

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
    #[command(flatten)]
    pub export: ExportArgs,
}

/// Where the pair runs, for --format patroni|cnpg|compose.
#[derive(Debug, Args)]
#[command(next_help_heading = "Orchestrators (--format patroni|cnpg|compose)")]
pub struct ExportArgs {
    /// Patroni scope, CloudNativePG cluster name, compose project name
    #[arg(long, default_value = "estune", value_name = "NAME", value_parser = name)]
    pub name: String,
    /// Patroni: etcd's client URL (v3 API); several hosts comma-separated
    #[arg(long, default_value = "http://127.0.0.1:2379", value_name = "URL")]
    pub dcs: String,
    /// Patroni: the nodes' addresses, pg1's then pg2's (one address: both
    /// nodes on one machine); compose: the address ports are published on
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR[,ADDR]")]
    pub host: String,
    /// PostgreSQL port of the planned primary (pg1); on one machine the
    /// replica (pg2) gets the next one
    #[arg(long, default_value_t = 5432, value_name = "PORT")]
    pub port: u16,
    /// Patroni: REST API port of pg1; on one machine pg2 gets the next one
    #[arg(long, default_value_t = 8008, value_name = "PORT")]
    pub restapi_port: u16,
    /// Patroni: the directory that holds the nodes' data directories
    /// (DIR/pg1, DIR/pg2); default /var/lib/postgresql/estune/NAME
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// compose: the image (default estune/postgres:15, built by
    /// docker/build-image.sh); CloudNativePG: spec.imageName
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// CloudNativePG: each instance's volume size (a Kubernetes quantity)
    #[arg(long, default_value = "20Gi", value_name = "SIZE")]
    pub storage_size: String,
    /// CloudNativePG: validate the manifest against this `Cluster` CRD
    /// (e.g. `kubectl get crd clusters.postgresql.cnpg.io -o yaml`, or
    /// config/crd/bases/postgresql.cnpg.io_clusters.yaml of the operator's
    /// release); nothing is written when it does not validate
    #[arg(long, value_name = "FILE")]
    pub crd: Option<PathBuf>,
}

/// A name for a Patroni scope, a Kubernetes object and a compose project:
/// lowercase letters, digits and dashes.
fn name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 53
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?}: use 1-53 lowercase letters, digits and dashes, starting with a letter \
             (it names a Patroni scope, a Kubernetes object and a compose project)"
        ))
    }
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
    if let Some(target) = args.format.target() {
        return run_export(&args, target, &profile, &plan, &renderer);
    }
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
            Format::Patroni | Format::Cnpg | Format::Compose => {
                unreachable!("orchestrator formats return from run_export above")
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

/// `--format patroni|cnpg|compose`: the export's files into -o DIR (for
/// CloudNativePG, the manifest on stdout without it), `--explain` on
/// stdout, warnings on stderr.
fn run_export(
    args: &RenderArgs,
    target: export::Target,
    profile: &crate::profile::Profile,
    plan: &tune::Plan,
    renderer: &Renderer,
) -> anyhow::Result<ExitCode> {
    let e = &args.export;
    if args.output.is_none() && target != export::Target::Cnpg && !args.explain {
        return Err(super::UsageError(format!(
            "--format {} writes several files (configuration, scripts, passwords): \
             give -o DIR, or --explain to see where each setting goes",
            target.flag()
        ))
        .into());
    }
    let output = match &args.output {
        Some(d) => {
            std::path::absolute(d).with_context(|| format!("cannot resolve -o {}", d.display()))?
        }
        None => std::env::current_dir()?,
    };
    let hosts: Vec<String> = e.host.split(',').map(|h| h.trim().to_string()).collect();
    let hosts: [String; 2] = match hosts.as_slice() {
        [one] if !one.is_empty() => [one.clone(), one.clone()],
        [a, b] if !a.is_empty() && !b.is_empty() => [a.clone(), b.clone()],
        _ => {
            return Err(super::UsageError(format!(
                "--host {}: give one address (both nodes on one machine) or two, \
                 pg1's and pg2's, separated by a comma",
                e.host
            ))
            .into())
        }
    };
    let one_machine = hosts[0] == hosts[1];
    let port2 = |p: u16, what: &str| {
        if !one_machine {
            return Ok([p, p]);
        }
        p.checked_add(1).map(|q| [p, q]).ok_or_else(|| {
            super::UsageError(format!("{what} {p}: the second node needs the next port"))
        })
    };
    let opts = export::Options {
        name: e.name.clone(),
        dcs: e.dcs.clone(),
        hosts,
        ports: port2(e.port, "--port")?,
        rest_ports: port2(e.restapi_port, "--restapi-port")?,
        data_root: e
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/lib/postgresql/estune").join(&e.name)),
        bin_dir: args.pg_bin.clone().unwrap_or_else(|| {
            PathBuf::from(format!("/usr/lib/postgresql/{}/bin", plan.pg_version))
        }),
        image: e.image.clone(),
        storage_size: e.storage_size.clone(),
        output: output.clone(),
        resources: [
            profile.primary.resources.clone(),
            profile.replica.resources.clone(),
        ],
    };
    let secrets = match export::secret_names(target) {
        Some(names) => export::ExportSecrets::load_or_generate(&output, names)?,
        None => export::ExportSecrets::generated(),
    };
    // A flag the export cannot use, or a plan the orchestrator's rules
    // refuse, is bad input (exit 2), like a plan the budget refuses.
    let ex = export::export(target, plan, &opts, renderer, &secrets).map_err(|e| match e {
        export::ExportError::Invalid(m) => anyhow::Error::from(super::UsageError(m)),
        other => anyhow::Error::from(other),
    })?;
    if let Some(path) = &e.crd {
        if target != export::Target::Cnpg {
            return Err(super::UsageError(
                "--crd validates a CloudNativePG manifest: use it with --format cnpg".into(),
            )
            .into());
        }
        check_crd(path, &ex)?;
    }
    if !args.explain {
        // --explain lists them after its table.
        for w in &ex.warnings {
            eprintln!("warning: {w}");
        }
    }
    if let Some(dir) = &args.output {
        for path in ex.write(dir)? {
            eprintln!("wrote {}", path.display());
        }
        if secrets.kept {
            eprintln!(
                "kept the passwords of {}",
                dir.join("secrets.env").display()
            );
        }
    }
    let mut stdout = String::new();
    if args.explain {
        stdout = ex.explain(plan);
    } else if args.output.is_none() {
        stdout = ex.files.first().map(|f| f.text.clone()).unwrap_or_default();
    }
    std::io::stdout().write_all(stdout.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Validates the CloudNativePG manifest against the operator's CRD file,
/// as the API server would (its schema; CEL rules are named, not run).
fn check_crd(path: &Path, ex: &export::Export) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --crd {}", path.display()))?;
    let crd =
        export::crd::Crd::from_yaml(&text).with_context(|| format!("--crd {}", path.display()))?;
    let manifest = ex
        .files
        .first()
        .map(|f| f.text.as_str())
        .unwrap_or_default();
    let violations = crd
        .validate_yaml(manifest)
        .with_context(|| "reading the rendered manifest back".to_string())?;
    if !violations.is_empty() {
        let list: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
        anyhow::bail!(
            "the manifest does not validate against {} ({} {}):\n{}",
            path.display(),
            crd.kind(),
            crd.api_versions().join(", "),
            list.join("\n")
        );
    }
    eprintln!(
        "the manifest validates against {} ({})",
        path.display(),
        crd.api_versions().join(", ")
    );
    Ok(())
}
