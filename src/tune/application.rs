//! Settings of the application's role in the event store's database
//! (`ALTER ROLE app IN DATABASE db SET …`): a setting only this workload
//! needs is scoped to its sessions instead of every session of the server.
//! As for server settings, the profile's own are placed first, a formula
//! never replaces one, and the formula's value is kept beside it for the
//! explanation.

use super::plan::{AppSetting, Source};
use crate::catalog::{Context, Param};
use crate::profile::Application;
use crate::value::Value;

/// Session state of the current transaction rather than defaults: a role
/// setting of these would be one transaction's, so their
/// `default_transaction_*` counterparts are the session defaults.
const TRANSACTION_STATE: &[&str] = &[
    "transaction_isolation",
    "transaction_read_only",
    "transaction_deferrable",
];

/// Lists whose elements PostgreSQL quotes one by one: `SET search_path TO
/// 'a, b'` makes one schema named "a, b". estune renders one literal per
/// value, so it refuses them rather than plan something else than what
/// the profile says.
const QUOTED_LISTS: &[&str] = &[
    "search_path",
    "temp_tablespaces",
    "local_preload_libraries",
    "session_preload_libraries",
];

/// The application settings of a plan being built.
#[derive(Debug, Clone, Default)]
pub struct AppSettings {
    settings: Vec<AppSetting>,
}

impl AppSettings {
    /// Starts from the profile's `[application.settings]`.
    pub fn with_overrides(app: &Application) -> AppSettings {
        let settings = app
            .settings
            .iter()
            .map(|(name, v)| AppSetting {
                name: name.clone(),
                value: v.value.clone(),
                rule: "override in the profile".to_string(),
                source: Source::Override {
                    at: v.at.clone(),
                    formula: None,
                },
                checked: None,
            })
            .collect();
        AppSettings { settings }
    }

    /// Records a recommender's value, unless the profile sets the
    /// parameter. The rule is what a person reads in catalog.sql and
    /// `render --explain`: the measurement that makes the setting right
    /// for this workload.
    pub fn set(&mut self, name: &str, value: Value, rule: impl Into<String>) {
        let rule = rule.into();
        match self
            .settings
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(name))
        {
            Some(s) => match &mut s.source {
                Source::Override { formula, .. } => {
                    *formula = Some(format!("{} ({rule})", value.to_plain()));
                }
                Source::Formula => {
                    s.value = value;
                    s.rule = rule;
                }
            },
            None => self.settings.push(AppSetting {
                name: name.to_ascii_lowercase(),
                value,
                rule,
                source: Source::Formula,
                checked: None,
            }),
        }
    }

    /// In name order, so that the plan, its hash and catalog.sql do not
    /// depend on the order the recommenders ran in.
    pub fn into_vec(mut self) -> Vec<AppSetting> {
        self.settings.sort_by(|a, b| a.name.cmp(&b.name));
        self.settings
    }
}

/// Why a role setting cannot carry parameter `p`, or None when it can.
/// ALTER ROLE … SET takes parameters of context `user` and, from a
/// superuser (estune applies as one), `superuser`; a session of a role
/// that is no superuser honours both, because the server applies
/// pg_db_role_setting at connection start with a superuser's rights.
pub fn out_of_scope(p: &Param) -> Option<String> {
    let name = &p.name;
    let server = "Set it for the whole server in primary.overrides and replica.overrides instead";
    let why = match p.context {
        Context::User | Context::Superuser => {
            if TRANSACTION_STATE.contains(&name.as_str()) {
                format!("{name} is the state of the current transaction, not a session default; set default_{name} instead")
            } else if QUOTED_LISTS.contains(&name.as_str()) {
                format!("{name} is a list whose elements PostgreSQL quotes one by one, which estune does not render as a role setting; qualify the names the application uses, or pass it in the application's connection options (options=-c{name}=…)")
            } else {
                return None;
            }
        }
        Context::Postmaster => format!(
            "{name} takes effect only when the server starts (context postmaster), for every session alike, so a role setting cannot carry it: ALTER ROLE refuses it. {server}"
        ),
        Context::Sighup => format!(
            "{name} is read from the server's configuration by every process (context sighup), one value for all sessions, so a role setting cannot carry it: ALTER ROLE refuses it. {server}"
        ),
        Context::Backend | Context::SuperuserBackend => format!(
            "{name} is fixed when a connection starts (context {}), and only the connection request itself may set it: ALTER ROLE refuses it. Pass it in the application's connection options (options=-c{name}=…), or {}",
            p.context.as_str(),
            "set it for the whole server in primary.overrides and replica.overrides"
        ),
        Context::Internal => format!(
            "{name} is fixed when PostgreSQL is built or the cluster is initialised (context internal); nothing can set it. Remove it"
        ),
    };
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Located, Origin};

    fn at(key: &str) -> Origin {
        Origin {
            file: "p.toml".into(),
            line: 3,
            col: 20,
            key: key.into(),
        }
    }

    fn profile_sets(pairs: &[(&str, Value)]) -> Application {
        Application {
            settings: pairs
                .iter()
                .map(|(n, v)| {
                    let key = format!("application.settings.{n}");
                    (
                        n.to_string(),
                        Located {
                            value: v.clone(),
                            at: at(&key),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn an_override_wins_over_a_formula_and_keeps_it_for_the_explanation() {
        let app = profile_sets(&[("plan_cache_mode", Value::Text("force_custom_plan".into()))]);
        let mut out = AppSettings::with_overrides(&app);
        out.set(
            "plan_cache_mode",
            Value::Text("auto".into()),
            "measured: generic plans of boundary reads",
        );
        out.set("enable_indexscan", Value::Bool(false), "measured: rule");
        out.set("enable_indexscan", Value::Bool(true), "a later formula");
        let got = out.into_vec();
        let names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["enable_indexscan", "plan_cache_mode"]);
        assert_eq!(got[0].value, Value::Bool(true));
        assert_eq!(got[0].rule, "a later formula");
        assert_eq!(got[0].source, Source::Formula);
        assert_eq!(got[1].value, Value::Text("force_custom_plan".into()));
        assert_eq!(got[1].rule, "override in the profile");
        assert_eq!(
            got[1].source,
            Source::Override {
                at: at("application.settings.plan_cache_mode"),
                formula: Some("auto (measured: generic plans of boundary reads)".into()),
            }
        );
    }

    #[test]
    fn scope_follows_the_context_in_every_catalog() {
        for major in [13, 15, 18] {
            let cat = crate::catalog::Catalog::builtin(major).unwrap();
            for p in cat.params() {
                let refused = out_of_scope(p);
                let carried = matches!(p.context, Context::User | Context::Superuser)
                    && !TRANSACTION_STATE.contains(&p.name.as_str())
                    && !QUOTED_LISTS.contains(&p.name.as_str());
                assert_eq!(
                    refused.is_none(),
                    carried,
                    "{} on {major}: {refused:?}",
                    p.name
                );
            }
        }
        let cat = crate::catalog::Catalog::builtin(15).unwrap();
        let cases = [
            ("enable_indexscan", None),
            ("log_min_duration_statement", None),
            ("shared_buffers", Some("context postmaster")),
            ("checkpoint_timeout", Some("context sighup")),
            ("log_connections", Some("context superuser-backend")),
            ("ignore_system_indexes", Some("context backend")),
            ("block_size", Some("context internal")),
            (
                "transaction_isolation",
                Some("default_transaction_isolation"),
            ),
            ("search_path", Some("quotes one by one")),
        ];
        for (name, want) in cases {
            let got = out_of_scope(cat.get(name).unwrap());
            match (got, want) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(g.contains(w), "{name}: {g}"),
                (g, w) => panic!("{name}: got {g:?}, want {w:?}"),
            }
        }
    }
}
