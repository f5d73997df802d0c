//! Gathers what a plan needs from outside: each role's memory and CPUs
//! (flag, profile, cgroup, host) and the parameter catalog of the target
//! server (live server, binary, or built-in), each with its source.

use crate::catalog::{Catalog, CatalogError};
use crate::machine::Machine;
use crate::pgbin::{self, PgBinError};
use crate::profile::Profile;
use crate::tune::{self, Role, Sourced, Target};
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum InputError {
    #[error(
        "--pg-version {flag} does not match the server at {server}, which runs PostgreSQL {actual}"
    )]
    VersionMismatch {
        flag: u32,
        server: String,
        actual: u32,
    },
    #[error("PostgreSQL {0} is not supported; estune knows 13 to 18")]
    Unsupported(u32),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Binaries(#[from] PgBinError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// Where the catalog should come from, as the user asked.
#[derive(Debug, Clone, Default)]
pub struct CatalogRequest {
    pub pg_version: Option<u32>,
    pub pg_bin: Option<PathBuf>,
    pub dsn: Option<String>,
    pub os_user: String,
}

/// Memory and CPUs of one role: the flag, else the profile, else the
/// machine's limits.
pub fn resources(
    profile: &Profile,
    role: Role,
    memory_flag: Option<u64>,
    cpus_flag: Option<f64>,
    machine: &Machine,
) -> tune::Resources {
    let rp = match role {
        Role::Primary => &profile.primary,
        Role::Replica => &profile.replica,
    };
    let from_profile = |what: &str| format!("{role}.resources.{what} in profile {}", profile.name);
    let memory = match (memory_flag, rp.resources.memory) {
        (Some(m), _) => Sourced {
            value: m,
            source: "--memory".into(),
        },
        (None, Some(m)) => Sourced {
            value: m,
            source: from_profile("memory"),
        },
        (None, None) => machine.memory(),
    };
    let cpus = match (cpus_flag, rp.resources.cpus) {
        (Some(c), _) => Sourced {
            value: c,
            source: "--cpus".into(),
        },
        (None, Some(c)) => Sourced {
            value: c,
            source: from_profile("cpus"),
        },
        (None, None) => machine.cpus(),
    };
    tune::Resources { memory, cpus }
}

/// The catalog to validate against, and notes for stderr saying which was
/// chosen and why. Order: a live server (`--dsn`), an explicit binary
/// (`--pg-bin`), an installed binary of the target version, the built-in
/// catalog.
pub async fn catalog(
    req: &CatalogRequest,
    profile: &Profile,
) -> Result<(Catalog, Vec<String>), InputError> {
    let mut notes = Vec::new();
    let wanted = req.pg_version.or(profile.pg_version);
    if let Some(v) = wanted {
        if !(13..=18).contains(&v) {
            return Err(InputError::Unsupported(v));
        }
    }
    if let Some(dsn) = &req.dsn {
        let client = crate::db::connect(dsn, Duration::from_secs(5)).await?;
        let label = crate::db::server_label(dsn);
        let cat = Catalog::from_client(&client, &label).await?;
        if let Some(flag) = req.pg_version {
            if flag != cat.major {
                return Err(InputError::VersionMismatch {
                    flag,
                    server: label,
                    actual: cat.major,
                });
            }
        }
        return Ok((cat, notes));
    }
    if let Some(dir) = &req.pg_bin {
        let bins = pgbin::find(Some(dir), None)?;
        if let Some(v) = req.pg_version {
            if v != bins.major {
                return Err(InputError::VersionMismatch {
                    flag: v,
                    server: dir.display().to_string(),
                    actual: bins.major,
                });
            }
        }
        let cat = Catalog::from_binary(&bins, &req.os_user)?;
        return Ok((cat, notes));
    }
    match pgbin::find(None, wanted) {
        Ok(bins) => match Catalog::from_binary(&bins, &req.os_user) {
            Ok(cat) => return Ok((cat, notes)),
            Err(e) => notes.push(format!(
                "could not read the catalog of {}: {e}; using the built-in catalog",
                bins.bindir.display()
            )),
        },
        Err(_) => {
            if let Some(v) = wanted {
                notes.push(format!(
                    "no PostgreSQL {v} binaries found (pass --pg-bin DIR or --dsn URL to validate against the real server)"
                ));
            }
        }
    }
    let major = wanted.unwrap_or_else(|| {
        notes.push("no --pg-version, profile pg_version, server or binary: targeting PostgreSQL 18, the newest estune knows".into());
        18
    });
    let cat = Catalog::builtin(major)?;
    notes.push(format!("validating against the {}", cat.describe()));
    Ok((cat, notes))
}

/// Both roles' resources from the flags, else the profile, else this
/// machine's limits.
pub fn resources_both(
    profile: &Profile,
    memory_flag: Option<u64>,
    cpus_flag: Option<f64>,
) -> [tune::Resources; 2] {
    let machine = Machine::default();
    Role::BOTH.map(|role| resources(profile, role, memory_flag, cpus_flag, &machine))
}

/// The plan every command works from: computed, validated against the
/// catalog, and within the memory budget (or allowed over it by the flag
/// or the profile).
pub fn checked_plan(
    profile: &Profile,
    [primary, replica]: [tune::Resources; 2],
    catalog: &Catalog,
    allow_overcommit: bool,
) -> anyhow::Result<tune::Plan> {
    let mut plan = tune::plan(profile, primary, replica, &target(catalog))?;
    tune::validate(&mut plan, catalog)?;
    tune::enforce_budget(&mut plan, allow_overcommit || profile.allow_overcommit)?;
    Ok(plan)
}

/// What the tuner may use of the server beyond its version.
pub fn target(cat: &Catalog) -> Target {
    let enumvals =
        |name: &str| -> Option<Vec<String>> { cat.get(name).map(|p| p.enumvals.clone()) };
    let std = Target::standard(cat.major);
    Target {
        major: cat.major,
        wal_compression: enumvals("wal_compression")
            .filter(|v| !v.is_empty())
            .unwrap_or(std.wal_compression),
        io_methods: enumvals("io_method").unwrap_or_default(),
    }
}
