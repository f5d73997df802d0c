//! Exports of a plan to where the pair runs beyond estune's own backends:
//! Patroni (with etcd), a CloudNativePG `Cluster` and a docker-compose
//! file. Each export is a set of files plus, for `--explain`, where every
//! setting of the plan went and why a setting was left out.
//!
//! The orchestrators' own rules are applied here, not discovered at deploy
//! time: what Patroni keeps equal on every node, what CloudNativePG fixes
//! or refuses, how memory settings must fit the container's request.

mod cnpg;
mod compose;
pub mod crd;
mod patroni;
mod secrets;
mod yaml;

pub use cnpg::{fixed_parameters, FixedKind};
pub use secrets::{ExportSecrets, Names};

/// The environment variables of the passwords `target` uses: Patroni's
/// own names, compose's; CloudNativePG makes its own secrets.
pub fn secret_names(target: Target) -> Option<&'static Names> {
    match target {
        Target::Patroni => Some(&patroni::NAMES),
        Target::Compose => Some(&compose::NAMES),
        Target::Cnpg => None,
    }
}

use crate::tune::{Plan, Role, Setting};
use crate::value::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Patroni,
    Cnpg,
    Compose,
}

impl Target {
    /// Its name after `render --format`.
    pub fn flag(&self) -> &'static str {
        match self {
            Target::Patroni => "patroni",
            Target::Cnpg => "cnpg",
            Target::Compose => "compose",
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Target::Patroni => "Patroni",
            Target::Cnpg => "CloudNativePG",
            Target::Compose => "docker-compose",
        }
    }
}

/// Where and how the pair runs: the flags of `render --format
/// patroni|cnpg|compose`, with their defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Patroni's scope, the CNPG cluster's name, the compose project.
    pub name: String,
    /// Patroni's DCS (etcd v3), e.g. `http://127.0.0.1:2379`.
    pub dcs: String,
    /// Address and PostgreSQL port of each node, planned primary first.
    pub hosts: [String; 2],
    pub ports: [u16; 2],
    /// Patroni REST API ports.
    pub rest_ports: [u16; 2],
    /// Patroni: where each node's data directory goes (`DIR/pg1`, `DIR/pg2`).
    pub data_root: PathBuf,
    /// Patroni: the PostgreSQL binaries.
    pub bin_dir: PathBuf,
    /// Compose: the image; CNPG: `imageName` when given.
    pub image: Option<String>,
    /// CNPG: the volume size of each instance.
    pub storage_size: String,
    /// The profile's container resources per role, primary first
    /// (memory reservation, shm size).
    pub resources: [crate::profile::Resources; 2],
    /// The directory the files go to, absolute: Patroni's post-bootstrap
    /// script is named by its path.
    pub output: PathBuf,
}

/// The node names, planned primary first (as estune's own backends name
/// them).
pub const NODES: [&str; 2] = ["pg1", "pg2"];

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Public,
    /// Passwords: 0600, never printed.
    Secret,
    Executable,
}

impl Mode {
    pub fn bits(&self) -> u32 {
        match self {
            Mode::Public => 0o644,
            Mode::Secret => 0o600,
            Mode::Executable => 0o755,
        }
    }
}

#[derive(Debug, Clone)]
pub struct File {
    /// Relative to the output directory.
    pub path: PathBuf,
    pub text: String,
    pub mode: Mode,
}

/// Where one setting of the plan went.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub name: String,
    /// The value written (the larger of the two roles' where one value
    /// serves both), or None when the setting was left out.
    pub primary: Option<String>,
    pub replica: Option<String>,
    /// The file and key, e.g. `bootstrap.dcs.postgresql.parameters`.
    pub place: String,
    /// Why it went there or was dropped; None when nothing needs saying.
    pub why: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Export {
    pub target: Target,
    pub files: Vec<File>,
    pub placements: Vec<Placement>,
    /// Settings dropped or changed, and rules checked, for stderr.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error("{path}: {message}")]
    Secrets { path: PathBuf, message: String },
}

/// Renders `target`'s files for `plan`. `existing` holds the passwords of
/// an earlier export into the same directory, kept so that rendering again
/// never changes the password of a running cluster.
pub fn export(
    target: Target,
    plan: &Plan,
    opts: &Options,
    renderer: &crate::render::Renderer,
    secrets: &ExportSecrets,
) -> Result<Export, ExportError> {
    match target {
        Target::Patroni => patroni::export(plan, opts, renderer, secrets),
        Target::Cnpg => cnpg::export(plan, opts),
        Target::Compose => compose::export(plan, opts, renderer, secrets),
    }
}

impl Export {
    /// Writes every file atomically (secrets 0600) and returns their paths.
    /// Nothing is written when the directory cannot be created.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for f in &self.files {
            let path = dir.join(&f.path);
            crate::atomic::write_atomic_mode(&path, f.text.as_bytes(), f.mode.bits()).map_err(
                |e| std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())),
            )?;
            written.push(path);
        }
        Ok(written)
    }

    /// `--explain`: per place (a file's key, or "left out"), every setting
    /// with its value per role and why; then the files and the warnings.
    pub fn explain(&self, plan: &Plan) -> String {
        let mut out = format!(
            "{} export of profile {}, plan {}, PostgreSQL {}\n",
            self.target.as_str(),
            plan.profile,
            plan.hash,
            plan.pg_version
        );
        let mut places: Vec<&str> = Vec::new();
        for p in &self.placements {
            if !places.contains(&p.place.as_str()) {
                places.push(&p.place);
            }
        }
        for place in places {
            let here: Vec<&Placement> = self
                .placements
                .iter()
                .filter(|p| p.place == place)
                .collect();
            let mut t = crate::table::new(&["setting", "primary", "replica", "why"]);
            for p in &here {
                let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
                t.add_row(vec![
                    p.name.clone(),
                    v(&p.primary),
                    v(&p.replica),
                    p.why.clone().unwrap_or_default(),
                ]);
            }
            out.push_str(&format!("\n{place} ({}):\n{t}\n", here.len()));
        }
        out.push_str("\nfiles:\n");
        for f in &self.files {
            let what = match f.mode {
                Mode::Secret => " (passwords, 0600)",
                Mode::Executable => " (script)",
                Mode::Public => "",
            };
            out.push_str(&format!("  {}{what}\n", f.path.display()));
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out
    }
}

/// The first lines of every exported file, behind the format's comment
/// marker: what made it, from which profile and plan.
pub fn header(plan: &Plan, target: Target, what: &str) -> Vec<String> {
    vec![
        format!(
            "{what}, rendered by estune {} for {}",
            env!("CARGO_PKG_VERSION"),
            target.as_str()
        ),
        format!(
            "profile {} ({}), PostgreSQL {}",
            plan.profile,
            plan.profile_files.join(" extends "),
            plan.pg_version
        ),
        format!("plan {}", plan.hash),
        format!(
            "`estune render --profile {} --format {} --explain` says which setting went where.",
            plan.profile,
            target.flag()
        ),
    ]
}

/// `header` as `# ` comment lines.
pub fn comment_header(plan: &Plan, target: Target, what: &str) -> String {
    header(plan, target, what)
        .iter()
        .map(|l| format!("# {l}\n"))
        .collect()
}

/// One parameter of the plan with its value on each role, in the order
/// the plan lists them (primary's settings first, then the replica's own).
#[derive(Debug, Clone)]
pub struct Param<'a> {
    pub name: &'a str,
    pub primary: Option<&'a Setting>,
    pub replica: Option<&'a Setting>,
}

impl Param<'_> {
    pub fn value(&self, role: Role) -> Option<&Value> {
        match role {
            Role::Primary => self.primary.map(|s| &s.value),
            Role::Replica => self.replica.map(|s| &s.value),
        }
    }

    pub fn plain(&self, role: Role) -> Option<String> {
        self.value(role).map(Value::to_plain)
    }

    /// Both roles carry it with the same value.
    pub fn same(&self) -> bool {
        self.plain(Role::Primary) == self.plain(Role::Replica)
    }
}

pub fn params(plan: &Plan) -> Vec<Param<'_>> {
    let p = plan.role(Role::Primary);
    let r = plan.role(Role::Replica);
    let mut out: Vec<Param> = p
        .settings
        .iter()
        .map(|s| Param {
            name: &s.name,
            primary: Some(s),
            replica: r.get(&s.name),
        })
        .collect();
    for s in &r.settings {
        if p.get(&s.name).is_none() {
            out.push(Param {
                name: &s.name,
                primary: None,
                replica: Some(s),
            });
        }
    }
    out
}

/// The larger of two values of one parameter, for settings that must be
/// equal on every node (a standby refuses to start with less than its
/// primary of `max_connections` and friends). Sizes, durations and numbers
/// compare by magnitude, `on` beats `off`, and `wal_level` orders
/// minimal < replica < logical.
pub fn larger<'a>(a: Option<&'a Value>, b: Option<&'a Value>) -> Option<&'a Value> {
    use std::cmp::Ordering;
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => return a.or(b),
    };
    let rank = |v: &Value| -> Option<f64> {
        Some(match v {
            Value::Bytes(n) | Value::Millis(n) => *n as f64,
            Value::Int(n) => *n as f64,
            Value::Real(n) => *n,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Text(s) => match s.as_str() {
                "minimal" => 0.0,
                "replica" | "archive" | "hot_standby" => 1.0,
                "logical" => 2.0,
                _ => return None,
            },
        })
    };
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) if y.partial_cmp(&x) == Some(Ordering::Greater) => Some(b),
        _ => Some(a),
    }
}

/// The memory a role's container gets: the plan's limit and the
/// profile's reservation, in bytes.
pub fn memory(plan: &Plan, opts: &Options, role: Role) -> (u64, Option<u64>) {
    (
        plan.role(role).inputs.memory.value,
        opts.resources[index(role)].memory_reservation,
    )
}

/// Bytes in the largest binary unit that divides them exactly. `suffixes`
/// name the units from the largest down to KiB (`["Ti", "Gi", "Mi", "Ki"]`
/// for Kubernetes, `["g", "m", "k"]` for Docker); plain bytes otherwise.
pub fn exact_size(b: u64, suffixes: &[&str]) -> String {
    let n = suffixes.len() as u32;
    for (i, unit) in (0u32..).zip(suffixes) {
        let size = 1u64 << (10 * (n - i));
        if b >= size && b % size == 0 {
            return format!("{}{unit}", b / size);
        }
    }
    b.to_string()
}

/// A role's place in the per-node arrays: the planned primary first.
pub fn index(role: Role) -> usize {
    match role {
        Role::Primary => 0,
        Role::Replica => 1,
    }
}
