//! Pure recommenders, one per group of settings, and the memory budget:
//! profile + resources + target server → a `Plan` for both roles. No I/O.

mod app_planner;
mod application;
mod autovacuum;
mod bgwriter;
pub mod budget;
mod builder;
mod connections;
pub mod defaults;
mod memory;
mod monitoring;
mod parallel;
mod plan;
mod planner;
pub mod reloptions;
mod replication;
mod tables;
mod validate;
mod wal;

pub use application::AppSettings;
pub use builder::Target;
pub use plan::*;
pub use tables::{owned, schema, OwnedRelation, SchemaRelation};
pub use validate::{validate, ValidationError, ValidationErrors};

use crate::profile::{Profile, Storage};
use builder::{RoleCtx, RoleOut};
use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TuneError {
    #[error("replica parity: {at} sets {name} = {replica} on the replica, below the primary's {primary}; a hot standby with a lower {name} than its primary refuses to start. Raise the replica's value to at least {primary} or lower the primary's")]
    Parity {
        name: String,
        primary: i64,
        replica: i64,
        at: String,
    },
    #[error("{}", budget_message(.0))]
    OverBudget(Vec<(Role, budget::MemoryBudget)>),
    #[error("{at}: {message}")]
    Reloption { at: String, message: String },
}

fn budget_message(over: &[(Role, budget::MemoryBudget)]) -> String {
    let mut s = String::new();
    for (role, b) in over {
        let largest = b.largest().map(|t| t.lower).unwrap_or("work_mem");
        let or_conns = if largest == "max_connections" {
            ""
        } else {
            " or max_connections"
        };
        s.push_str(&format!(
            "{role}: the worst-case memory exceeds the container limit:\n{}\nLower {largest} (the largest term){or_conns} in the profile's {role}.overrides, give the {role} more memory, or pass --allow-overcommit to accept the risk of an out-of-memory kill.\n",
            b.arithmetic()
        ));
    }
    s.trim_end().to_string()
}

/// The resolved resources of one role.
#[derive(Debug, Clone)]
pub struct Resources {
    pub memory: Sourced<u64>,
    pub cpus: Sourced<f64>,
}

impl Resources {
    /// Resources known from one place, e.g. a flag or a test.
    pub fn fixed(memory: u64, cpus: f64, source: &str) -> Resources {
        Resources {
            memory: Sourced {
                value: memory,
                source: source.to_string(),
            },
            cpus: Sourced {
                value: cpus,
                source: source.to_string(),
            },
        }
    }
}

/// Computes the plan for both roles, with each role's worst-case memory
/// budget; [`enforce_budget`] decides whether an excess is allowed.
pub fn plan(
    profile: &Profile,
    primary: Resources,
    replica: Resources,
    target: &Target,
) -> Result<Plan, TuneError> {
    let major = target.major;
    let res = [primary, replica];
    let ctx = |i: usize| -> RoleCtx {
        let role = Role::BOTH[i];
        let rp = match role {
            Role::Primary => &profile.primary,
            Role::Replica => &profile.replica,
        };
        RoleCtx {
            role,
            method: profile.method,
            major,
            memory: res[i].memory.value,
            cpus: res[i].cpus.value,
            storage: rp.resources.storage.unwrap_or(Storage::Ssd),
            profile,
            rp,
            target,
        }
    };
    let mut outs: Vec<RoleOut> = (0..2)
        .map(|i| {
            let cx = ctx(i);
            let mut out = RoleOut::with_overrides(cx.rp, major);
            connections::recommend(&cx, &mut out);
            parallel::worker_processes(&cx, &mut out);
            replication::senders(&cx, &mut out);
            out
        })
        .collect();
    let (p, r) = outs.split_at_mut(1);
    replication::enforce_parity(&p[0], &mut r[0])?;
    for (i, out) in outs.iter_mut().enumerate() {
        let cx = ctx(i);
        memory::recommend(&cx, out);
        wal::recommend(&cx, out);
        replication::recommend(&cx, out);
        autovacuum::recommend(&cx, out);
        planner::recommend(&cx, out);
        parallel::recommend(&cx, out);
        bgwriter::recommend(&cx, out);
        monitoring::recommend(&cx, out);
    }
    let (p, r) = outs.split_at_mut(1);
    replication::enforce_parity(&p[0], &mut r[0])?;

    let mut roles = Vec::new();
    for (i, out) in outs.into_iter().enumerate() {
        let cx = ctx(i);
        let budget = budget::compute(&out, cx.memory);
        let (settings, warnings) = out.into_sorted();
        roles.push(RolePlan {
            role: cx.role,
            inputs: RoleInputs {
                memory: res[i].memory.clone(),
                cpus: res[i].cpus.clone(),
                storage: cx.storage.as_str().to_string(),
                connections: cx.rp.connections,
            },
            settings,
            budget,
            warnings,
        });
    }
    let relations = tables::plan(profile, major)?;
    // A recommender of application settings records one only with the
    // measurement of this workload that justifies it in its rule.
    let mut app = AppSettings::with_overrides(&profile.application);
    app_planner::recommend(profile, &mut app);
    let app_settings = app.into_vec();
    let mut plan = Plan {
        profile: profile.name.clone(),
        profile_files: profile.files.clone(),
        method: profile.method,
        pg_version: major,
        catalog: None,
        access: profile.access.clone(),
        roles,
        relations,
        app_settings,
        hash: String::new(),
    };
    plan.hash = hash(&plan);
    Ok(plan)
}

/// Refuses a plan whose worst case exceeds a role's limit, with the
/// arithmetic; with `allow` (flag or profile) it becomes a warning. Run it
/// after catalog validation, so a value the server rejects is reported as
/// that rather than as a budget overrun.
pub fn enforce_budget(plan: &mut Plan, allow: bool) -> Result<(), TuneError> {
    let over: Vec<(Role, budget::MemoryBudget)> = plan
        .roles
        .iter()
        .filter(|r| !r.budget.fits)
        .map(|r| (r.role, r.budget.clone()))
        .collect();
    if over.is_empty() {
        return Ok(());
    }
    if !allow {
        return Err(TuneError::OverBudget(over));
    }
    for r in plan.roles.iter_mut().filter(|r| !r.budget.fits) {
        r.warnings.push(format!(
            "worst-case memory {} exceeds the {} limit (allowed by overcommit)",
            budget::human(r.budget.total),
            budget::human(r.budget.limit)
        ));
    }
    Ok(())
}

/// A short hash over every value that reaches a server, so that two runs
/// can be compared like for like.
pub fn hash(plan: &Plan) -> String {
    let mut h = Sha256::new();
    h.update(plan.pg_version.to_string());
    let a = &plan.access;
    h.update(format!(
        "{} {} {} {}",
        a.database,
        a.app_user,
        a.replication_user,
        a.client_networks.join(",")
    ));
    for r in &plan.roles {
        h.update(r.role.as_str());
        for s in &r.settings {
            h.update(format!("\n{}={}", s.name, s.value.to_conf()));
        }
    }
    for rel in &plan.relations {
        h.update(format!("\n{}", rel.name));
        for s in rel.options.iter().chain(&rel.statistics) {
            h.update(format!("\n{}={}", s.name, s.value.to_conf()));
        }
    }
    // Only when there are some, so that a plan without them keeps the
    // hash it had before estune planned them. Names in lower case: the
    // catalog's spelling (`DateStyle`) arrives with validation, and the
    // hash must not change with it.
    if !plan.app_settings.is_empty() {
        h.update(format!("\napplication {}@{}", a.app_user, a.database));
        for s in &plan.app_settings {
            let name = s.name.to_ascii_lowercase();
            h.update(format!("\n{name}={}", s.value.to_conf()));
        }
    }
    let digest = h.finalize();
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod app_tests;
#[cfg(test)]
mod tests;
