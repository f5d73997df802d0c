//! One parameter's description, in `pg_settings` terms.

use serde::{Deserialize, Serialize};

/// When a change to a parameter takes effect (`pg_settings.context`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    Internal,
    Postmaster,
    Sighup,
    SuperuserBackend,
    Backend,
    Superuser,
    User,
}

impl Context {
    pub fn needs_restart(&self) -> bool {
        matches!(self, Context::Postmaster)
    }

    /// How a changed server-wide default is applied. Session-settable kinds
    /// say "reload" because a reload changes the default for new sessions,
    /// which is what postgresql.conf and ALTER SYSTEM are for.
    pub fn apply_label(&self) -> &'static str {
        match self {
            Context::Internal => "fixed",
            Context::Postmaster => "restart",
            _ => "reload",
        }
    }

    /// The spelling used by `pg_settings`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Context::Internal => "internal",
            Context::Postmaster => "postmaster",
            Context::Sighup => "sighup",
            Context::SuperuserBackend => "superuser-backend",
            Context::Backend => "backend",
            Context::Superuser => "superuser",
            Context::User => "user",
        }
    }

    pub(crate) fn from_pg(s: &str) -> Option<Context> {
        [
            Context::Internal,
            Context::Postmaster,
            Context::Sighup,
            Context::SuperuserBackend,
            Context::Backend,
            Context::Superuser,
            Context::User,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// `pg_settings.vartype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    Bool,
    Integer,
    Real,
    String,
    Enum,
}

impl VarType {
    pub fn as_str(&self) -> &'static str {
        match self {
            VarType::Bool => "bool",
            VarType::Integer => "integer",
            VarType::Real => "real",
            VarType::String => "string",
            VarType::Enum => "enum",
        }
    }

    pub(crate) fn from_pg(s: &str) -> Option<VarType> {
        [
            VarType::Bool,
            VarType::Integer,
            VarType::Real,
            VarType::String,
            VarType::Enum,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// One row of `pg_settings`, as far as tuning needs it. `min`/`max` and
/// `boot_val` are in the parameter's own unit (`unit`, e.g. 8kB or s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub vartype: VarType,
    pub unit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub enumvals: Vec<String>,
    pub context: Context,
    pub boot_val: String,
    pub category: String,
    pub short_desc: String,
}
