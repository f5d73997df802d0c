//! Live settings against the plan: what would change, and whether a
//! reload is enough or the server must restart (from pg_settings.context).

use crate::catalog::Catalog;
use crate::tune::{Role, RolePlan};
use serde::Serialize;
use std::collections::BTreeMap;
use tokio_postgres::Client;

#[derive(Debug, Clone)]
pub struct LiveSetting {
    pub setting: String,
    pub source: String,
    pub sourcefile: Option<String>,
    pub pending_restart: bool,
}

/// pg_settings of one server, by name.
pub type Live = BTreeMap<String, LiveSetting>;

pub async fn live(client: &Client) -> Result<Live, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT name, setting, source, sourcefile, pending_restart FROM pg_settings",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                LiveSetting {
                    setting: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    source: r.get(2),
                    sourcefile: r.get(3),
                    pending_restart: r.get(4),
                },
            )
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub role: Role,
    pub name: String,
    /// Live value, as people write it.
    pub live: String,
    /// Planned value; "default (…)" when the plan no longer sets it.
    pub planned: String,
    /// restart, reload or fixed.
    pub apply: &'static str,
}

/// Settings that files written by estune do not own: replication setup
/// written by pg_basebackup -R into postgresql.auto.conf.
fn owned_by_auto_conf(s: &LiveSetting) -> bool {
    s.sourcefile
        .as_deref()
        .is_some_and(|f| f.ends_with("postgresql.auto.conf"))
}

pub fn diff(plan: &RolePlan, live: &Live, catalog: &Catalog) -> Vec<Change> {
    let mut changes = Vec::new();
    let apply_of = |name: &str| {
        catalog
            .get(name)
            .map(|p| p.context.apply_label())
            .unwrap_or("restart")
    };
    for s in &plan.settings {
        let Some(checked) = &s.checked else { continue };
        let current = live.get(&s.name);
        let same = current.is_some_and(|l| catalog.same(&s.name, &l.setting, &checked.setting));
        if !same || current.is_some_and(|l| l.pending_restart) {
            changes.push(Change {
                role: plan.role,
                name: s.name.clone(),
                live: current
                    .map(|l| catalog.display(&s.name, &l.setting))
                    .unwrap_or_else(|| "(unknown)".into()),
                planned: s.value.to_plain(),
                apply: apply_of(&s.name),
            });
        }
    }
    // Set by the current configuration file but absent from the plan: the
    // new file drops them, so they return to PostgreSQL's default.
    for (name, l) in live {
        if l.source != "configuration file" || owned_by_auto_conf(l) || plan.get(name).is_some() {
            continue;
        }
        let Some(param) = catalog.get(name) else {
            continue;
        };
        if catalog.same(name, &l.setting, &param.boot_val) {
            continue;
        }
        changes.push(Change {
            role: plan.role,
            name: name.clone(),
            live: catalog.display(name, &l.setting),
            planned: format!("default ({})", catalog.display(name, &param.boot_val)),
            apply: apply_of(name),
        });
    }
    changes
}

/// Settings of the plan not in effect after an apply: value differs or a
/// restart is still pending.
pub fn unapplied(plan: &RolePlan, live: &Live, catalog: &Catalog) -> Vec<String> {
    plan.settings
        .iter()
        .filter_map(|s| {
            let checked = s.checked.as_ref()?;
            let l = live.get(&s.name);
            let ok = l.is_some_and(|l| {
                !l.pending_restart && catalog.same(&s.name, &l.setting, &checked.setting)
            });
            (!ok).then(|| {
                format!(
                    "{}: planned {}, live {}{}",
                    s.name,
                    s.value.to_plain(),
                    l.map(|l| catalog.display(&s.name, &l.setting))
                        .unwrap_or_default(),
                    if l.is_some_and(|l| l.pending_restart) {
                        " (restart pending)"
                    } else {
                        ""
                    }
                )
            })
        })
        .collect()
}
