//! What a recommender sees (`RoleCtx`) and where it writes (`RoleOut`).
//! Overrides are placed first, so a formula never replaces one; the
//! formula's value is recorded beside the override for the explanation.

use super::defaults::{self, exists};
use super::plan::{Group, Role, Setting, Source};
use crate::profile::{Method, Profile, RoleProfile, Storage};
use crate::value::Value;

/// What the target server can do beyond its version number: the catalog
/// of the real binary says, e.g. a build without lz4.
#[derive(Debug, Clone)]
pub struct Target {
    pub major: u32,
    pub wal_compression: Vec<String>,
    pub io_methods: Vec<String>,
}

impl Target {
    /// A standard build of `major`, as the built-in catalog describes it.
    pub fn standard(major: u32) -> Target {
        let wal_compression = match major {
            ..=14 => vec!["on".into(), "off".into()],
            _ => ["pglz", "lz4", "zstd", "on", "off"]
                .map(String::from)
                .to_vec(),
        };
        let io_methods = if major >= 18 {
            vec!["sync".into(), "worker".into()]
        } else {
            vec![]
        };
        Target {
            major,
            wal_compression,
            io_methods,
        }
    }
}

pub struct RoleCtx<'a> {
    pub role: Role,
    pub method: Method,
    pub major: u32,
    pub memory: u64,
    pub cpus: f64,
    pub storage: Storage,
    pub profile: &'a Profile,
    pub rp: &'a RoleProfile,
    pub target: &'a Target,
}

impl RoleCtx<'_> {
    pub fn is_primary(&self) -> bool {
        self.role == Role::Primary
    }
    /// Whole CPUs, at least one (a 0.5 CPU quota still runs one process).
    pub fn whole_cpus(&self) -> i64 {
        (self.cpus.floor() as i64).max(1)
    }
}

pub struct RoleOut {
    pub settings: Vec<Setting>,
    pub warnings: Vec<String>,
    major: u32,
}

impl RoleOut {
    pub fn with_overrides(rp: &RoleProfile, major: u32) -> RoleOut {
        let settings = rp
            .overrides
            .iter()
            .map(|(name, v)| Setting {
                name: name.clone(),
                value: v.value.clone(),
                group: defaults::group_of(name),
                rule: "override in the profile".to_string(),
                source: Source::Override {
                    at: v.at.clone(),
                    formula: None,
                },
                checked: None,
            })
            .collect();
        RoleOut {
            settings,
            warnings: Vec::new(),
            major,
        }
    }

    /// Records a formula's value, unless the profile overrides it. A
    /// parameter that this major version lacks is never emitted.
    pub fn set(&mut self, name: &str, value: Value, group: Group, rule: impl Into<String>) {
        debug_assert!(
            defaults::emitted(name),
            "{name} is missing from defaults::PARAMS"
        );
        if !exists(name, self.major) {
            return;
        }
        if let Some(s) = self.settings.iter_mut().find(|s| s.name == name) {
            match &mut s.source {
                Source::Override { formula, .. } => {
                    *formula = Some(format!("{} ({})", value.to_plain(), rule.into()));
                    s.group = group;
                }
                Source::Formula => {
                    s.value = value;
                    s.rule = rule.into();
                }
            }
            return;
        }
        self.settings.push(Setting {
            name: name.to_string(),
            value,
            group,
            rule: rule.into(),
            source: Source::Formula,
            checked: None,
        });
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.settings
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.value)
    }

    /// The value in effect: planned, else PostgreSQL's default.
    pub fn effective(&self, name: &str) -> Option<Value> {
        self.get(name)
            .cloned()
            .or_else(|| defaults::pg_default(name, self.major))
    }

    /// A memory parameter's effective value in bytes; `None` for -1 ("use
    /// another setting") or a value that is not a size.
    pub fn bytes(&self, name: &str) -> Option<u64> {
        self.effective(name)
            .and_then(|v| defaults::to_bytes(name, &v))
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.effective(name)? {
            Value::Int(i) => Some(i),
            Value::Real(r) => Some(r as i64),
            Value::Text(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn real(&self, name: &str) -> Option<f64> {
        match self.effective(name)? {
            Value::Int(i) => Some(i as f64),
            Value::Real(r) => Some(r),
            Value::Text(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn is_override(&self, name: &str) -> bool {
        self.settings
            .iter()
            .any(|s| s.name == name && matches!(s.source, Source::Override { .. }))
    }

    pub fn warn(&mut self, w: impl Into<String>) {
        self.warnings.push(w.into());
    }

    pub fn into_sorted(mut self) -> (Vec<Setting>, Vec<String>) {
        // Stable: within a group, the recommender's order is kept.
        self.settings.sort_by_key(|s| s.group);
        (self.settings, self.warnings)
    }
}
