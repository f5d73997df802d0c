//! The tuner's output: per role an ordered list of settings, each with its
//! value, the rule that produced it (for a person), and where it came from.

use crate::catalog::Context;
use crate::profile::{Method, Origin};
use crate::value::Value;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Replica,
}

impl Role {
    pub const BOTH: [Role; 2] = [Role::Primary, Role::Replica];
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Groups, in the order they appear in rendered files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Connections,
    Memory,
    Wal,
    Replication,
    Autovacuum,
    Planner,
    Parallel,
    Bgwriter,
    Monitoring,
    Other,
}

impl Group {
    pub fn title(&self) -> &'static str {
        match self {
            Group::Connections => "Connections",
            Group::Memory => "Memory",
            Group::Wal => "WAL and checkpoints",
            Group::Replication => "Replication",
            Group::Autovacuum => "Autovacuum",
            Group::Planner => "Planner",
            Group::Parallel => "Parallelism",
            Group::Bgwriter => "Background writer",
            Group::Monitoring => "Monitoring",
            Group::Other => "Other (overrides)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    /// Computed by a recommender.
    Formula,
    /// Written in the profile; `formula` is what the recommender would
    /// have chosen, kept so the explanation can show both.
    Override { at: Origin, formula: Option<String> },
}

#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub name: String,
    pub value: Value,
    pub group: Group,
    pub rule: String,
    pub source: Source,
    /// Filled in by catalog validation.
    pub checked: Option<CheckedInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckedInfo {
    pub context: Context,
    /// How to make it take effect: restart, reload or fixed.
    pub apply: &'static str,
    /// PostgreSQL's built-in default, in human units.
    pub default: Option<String>,
    /// The value in the parameter's base unit, as `pg_settings.setting`
    /// shows it once the server has read it.
    pub setting: String,
}

/// One input of the plan and where it came from (flag, profile, cgroup…).
#[derive(Debug, Clone, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleInputs {
    pub memory: Sourced<u64>,
    pub cpus: Sourced<f64>,
    pub storage: String,
    pub connections: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct RolePlan {
    pub role: Role,
    pub inputs: RoleInputs,
    pub settings: Vec<Setting>,
    pub budget: super::budget::MemoryBudget,
    /// Things the user should know that do not stop the plan.
    pub warnings: Vec<String>,
}

impl RolePlan {
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RelationKind {
    Table,
    Index,
}

/// A storage parameter or a column statistics target.
#[derive(Debug, Clone, Serialize)]
pub struct RelSetting {
    pub name: String,
    pub value: Value,
    pub rule: String,
    pub source: Source,
}

/// Catalog tuning of one table or index: applied on the primary, it
/// reaches the replica through WAL like any other catalog change.
#[derive(Debug, Clone, Serialize)]
pub struct RelationPlan {
    pub kind: RelationKind,
    pub name: String,
    /// The table, for an index.
    pub table: Option<String>,
    pub options: Vec<RelSetting>,
    /// Column → statistics target (tables only).
    pub statistics: Vec<RelSetting>,
}

/// A default of the application role's sessions in the event store's
/// database (`ALTER ROLE app IN DATABASE db SET name TO value`), on both
/// servers: the role settings live in a shared catalog the replica
/// replays. Each new connection of the role reads them when it starts.
#[derive(Debug, Clone, Serialize)]
pub struct AppSetting {
    /// The parameter's name; catalog validation gives it the server's own
    /// spelling (`datestyle` → `DateStyle`), as pg_db_role_setting keeps it.
    pub name: String,
    pub value: Value,
    pub rule: String,
    pub source: Source,
    /// Filled in by catalog validation.
    pub checked: Option<AppChecked>,
}

/// What the catalog says about an application setting.
#[derive(Debug, Clone, Serialize)]
pub struct AppChecked {
    /// `user` or `superuser`: the only contexts a role setting can carry.
    pub context: Context,
    /// PostgreSQL's built-in default, in human units.
    pub default: Option<String>,
    /// The value as a session shows it, in one spelling (`off`, `64MB`,
    /// `1.1`): how apply and health compare it with what
    /// pg_db_role_setting holds, whatever spelling was written there.
    pub shown: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub profile: String,
    pub profile_files: Vec<String>,
    pub method: Method,
    pub pg_version: u32,
    /// Which catalog validated the plan, for people.
    pub catalog: Option<String>,
    /// Users, database and networks the access rules name.
    pub access: crate::profile::Access,
    pub roles: Vec<RolePlan>,
    pub relations: Vec<RelationPlan>,
    /// Settings of `access.app_user` in `access.database`; rendered into
    /// catalog.sql, which resets every other one of that role and database.
    pub app_settings: Vec<AppSetting>,
    /// sha256 over every value of the plan; two plans with the same hash
    /// configure the servers identically.
    pub hash: String,
}

impl Plan {
    pub fn role(&self, role: Role) -> &RolePlan {
        self.roles
            .iter()
            .find(|r| r.role == role)
            .expect("a plan always has both roles")
    }
}
