//! Timestamped backups of the files apply replaces, under the cluster's
//! state directory (`backups/<time>/<role>/…`), and restoring them — after
//! a failed apply automatically, or on `apply --rollback`.

use super::app_scope::{self, AppScope};
use crate::cluster::bringup;
use crate::cluster::{ops, Backend, ClusterState, Secrets, StateDir};
use crate::tune::{reloptions, Role};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FILES: &[&str] = &["postgresql.conf", "pg_hba.conf"];
/// The catalog state before the apply, as `catalog::read` read it: the
/// event-store relations' and the application role's settings in its
/// database. Rollback puts it back.
const CATALOG: &str = "catalog.json";
/// A backup already rolled back to carries this marker, so the next
/// rollback goes one further back.
const RESTORED: &str = "RESTORED";

pub async fn save(
    dir: &StateDir,
    state: &ClusterState,
    backend: &dyn Backend,
) -> anyhow::Result<PathBuf> {
    let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    let root = dir.cluster_dir(&state.name).join("backups").join(stamp);
    for node in &state.nodes {
        for f in FILES {
            if let Some(text) = backend.read_config(node, f).await? {
                crate::atomic::write_atomic(&root.join(node.role.as_str()).join(f), &text)
                    .with_context(|| format!("writing the backup in {}", root.display()))?;
            }
        }
    }
    // The cluster state of that moment: memory limits, profile, plan hash.
    let text = serde_json::to_string_pretty(state).expect("state serializes");
    crate::atomic::write_atomic(&root.join("state.json"), &text)?;
    Ok(root)
}

/// Keeps the catalog state from before the apply next to the files.
pub fn save_catalog(backup: &Path, state: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(state).expect("a map of strings serializes");
    crate::atomic::write_atomic(&backup.join(CATALOG), &text)
        .with_context(|| format!("writing the catalog state to {}", backup.display()))
}

/// SQL that puts a saved catalog state back: on the schema's relations
/// every storage parameter PostgreSQL `major` has is reset, the saved ones
/// set again, and every column gets its saved target or -1; the role
/// settings of `scope` are reset and the saved ones set again. Relation
/// names must be the schema's and the parameters `reloptions` knows, so
/// that nothing read from a file reaches SQL as an identifier unchecked;
/// values are quoted literals (ALTER … SET takes no bound parameters).
fn restore_sql(
    saved: &BTreeMap<String, String>,
    major: u32,
    scope: &AppScope,
) -> Result<String, String> {
    let schema = crate::tune::schema();
    let mut set: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut targets: BTreeMap<(&str, &str), i32> = BTreeMap::new();
    let (roles, relations): (BTreeMap<String, String>, BTreeMap<String, String>) = saved
        .clone()
        .into_iter()
        .partition(|(k, _)| app_scope::split_key(k).is_some());
    for (key, value) in &relations {
        let (rel, rest) = key.split_once('.').unwrap_or((key, ""));
        let s = schema.iter().find(|s| s.name == rel).ok_or_else(|| {
            format!("`{key}`: `{rel}` is not a relation of the event-store schema")
        })?;
        if let Some(column) = rest.strip_suffix(":statistics") {
            let column = s.columns.iter().find(|c| **c == column);
            let target = value
                .parse::<i32>()
                .ok()
                .filter(|t| (-1..=10_000).contains(t));
            match (column, target) {
                (Some(c), Some(t)) => targets.insert((s.name, c), t),
                _ => {
                    return Err(format!(
                        "`{key}` = `{value}` is not a statistics target of {rel}"
                    ))
                }
            };
        } else if reloptions::names_in(s.relkind, major).contains(&rest) {
            let value = value.replace('\'', "''");
            set.entry(s.name)
                .or_default()
                .push(format!("{rest} = '{value}'"));
        } else {
            return Err(format!(
                "`{key}`: estune does not know `{rest}` on {rel} in PostgreSQL {major}; set it again by hand"
            ));
        }
    }
    let mut sql = String::new();
    for s in &schema {
        let kind = match s.kind {
            crate::tune::RelationKind::Table => "TABLE",
            crate::tune::RelationKind::Index => "INDEX",
        };
        let all = reloptions::names_in(s.relkind, major).join(", ");
        sql.push_str(&format!(
            "ALTER {kind} IF EXISTS {} RESET ({all});\n",
            s.name
        ));
        if let Some(opts) = set.get(s.name) {
            let opts = opts.join(", ");
            sql.push_str(&format!(
                "ALTER {kind} IF EXISTS {} SET ({opts});\n",
                s.name
            ));
        }
        for c in s.columns {
            let t = targets.get(&(s.name, *c)).copied().unwrap_or(-1);
            sql.push_str(&format!(
                "ALTER TABLE IF EXISTS {} ALTER COLUMN {c} SET STATISTICS {t};\n",
                s.name
            ));
        }
    }
    sql.push_str(&app_scope::restore_sql(&roles, scope)?);
    Ok(sql)
}

/// Puts the catalog state saved in `backup` back on the primary, in one
/// transaction kept only when the catalog then equals it.
async fn restore_catalog(
    backup: &Path,
    state: &ClusterState,
    secrets: &Secrets,
) -> anyhow::Result<()> {
    let file = backup.join(CATALOG);
    // Backups made before estune kept the catalog have no such file.
    if !file.is_file() {
        return Ok(());
    }
    let saved: BTreeMap<String, String> = serde_json::from_str(&std::fs::read_to_string(&file)?)
        .with_context(|| format!("reading {}", file.display()))?;
    let scope = AppScope {
        role: state.app_user.clone(),
        database: state.database.clone(),
    };
    let sql = restore_sql(&saved, state.major, &scope)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let node = state.node(Role::Primary);
    let dsn = bringup::conninfo(
        node.host_port,
        "postgres",
        &secrets.superuser,
        &state.database,
    );
    let mut client = crate::db::connect(&dsn, std::time::Duration::from_secs(5)).await?;
    let label = format!("primary 127.0.0.1:{}", node.host_port);
    let catalog = crate::catalog::Catalog::from_client(&client, &label).await?;
    let tx = client.transaction().await?;
    tx.batch_execute(&sql)
        .await
        .context("putting the previous catalog state back on the primary")?;
    let live = super::catalog::read(&tx, &catalog).await?;
    let wrong = super::catalog::diff(&saved, &live, &scope);
    if !wrong.is_empty() {
        anyhow::bail!(
            "the previous catalog state did not come back, so it was not kept:\n  {}",
            super::catalog::describe(&wrong).join("\n  ")
        );
    }
    tx.commit().await?;
    Ok(())
}

/// Writes the backed-up files of `roles` back and restarts those servers
/// (a restart takes every kind of setting back).
pub async fn restore(
    backup: &Path,
    state: &ClusterState,
    backend: &dyn Backend,
    secrets: &Secrets,
    roles: &[Role],
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<()> {
    for role in roles {
        let node = state.node(*role);
        let mut files = Vec::new();
        for f in FILES {
            let p = backup.join(role.as_str()).join(f);
            if p.is_file() {
                files.push((f.to_string(), std::fs::read_to_string(&p)?));
            }
        }
        backend.write_config(node, &files).await?;
        progress(&format!(
            "{role}: restarting with the previous configuration"
        ));
        backend.stop(node).await?;
        backend.start(node).await?;
        bringup::wait_ready(backend, node, secrets).await?;
    }
    Ok(())
}

/// A setting as written in a postgresql.conf estune rendered (`name = value`).
fn conf_number(text: &str, name: &str) -> Option<f64> {
    // The last line wins, as in PostgreSQL.
    text.lines()
        .rev()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == name)
        .find_map(|(_, v)| v.split('#').next()?.trim().trim_matches('\'').parse().ok())
}

/// Whether the backed-up primary configuration has a lower hot-standby
/// parity value than the running primary.
async fn lowers_parity(
    backup: &Path,
    primary: &tokio_postgres::Client,
    major: u32,
) -> anyhow::Result<bool> {
    let conf = std::fs::read_to_string(backup.join("primary/postgresql.conf")).unwrap_or_default();
    for name in crate::tune::defaults::PARITY {
        let old = conf_number(&conf, name).or_else(|| {
            match crate::tune::defaults::pg_default(name, major)? {
                crate::value::Value::Int(i) => Some(i as f64),
                _ => None,
            }
        });
        let live: String = primary
            .query_one("SELECT setting FROM pg_settings WHERE name = $1", &[name])
            .await?
            .get(0);
        if let (Some(old), Ok(live)) = (old, live.parse::<f64>()) {
            if old < live {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn latest(dir: &StateDir, name: &str) -> Option<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir.cluster_dir(name).join("backups"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.join(RESTORED).exists())
        .collect();
    all.sort();
    all.pop()
}

/// `apply --rollback`: the newest backup not yet restored goes back on both
/// servers (replica first), memory limits too; then replication must stream.
pub async fn rollback(
    name: &str,
    dir: &StateDir,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<PathBuf> {
    let mut state = dir.load(name)?;
    let secrets = dir.load_secrets(name)?;
    let backend = ops::open_backend(&state, dir)?;
    let backup = latest(dir, name).with_context(|| {
        format!("cluster `{name}` has no backup to roll back to; `estune apply` makes one each time it changes something")
    })?;
    let before: ClusterState =
        serde_json::from_str(&std::fs::read_to_string(backup.join("state.json"))?)?;
    if state.backend == crate::cluster::BackendKind::Docker {
        for role in [Role::Replica, Role::Primary] {
            if let Some(old) = before
                .node(role)
                .memory
                .filter(|m| Some(*m) != state.node(role).memory)
            {
                backend.set_memory(state.node(role), old, None).await?;
                state.node_mut(role).memory = Some(old);
            }
        }
    }
    progress(&format!("restoring {}", backup.display()));
    let dsn = |role: Role| bringup::superuser_conninfo(state.node(role), &secrets);
    let (pdsn, rdsn) = (dsn(Role::Primary), dsn(Role::Replica));
    let connect = |role: Role| {
        let d = if role == Role::Primary { &pdsn } else { &rdsn };
        crate::db::connect(d, std::time::Duration::from_secs(5))
    };
    let lowers = lowers_parity(&backup, &connect(Role::Primary).await?, state.major).await?;
    if lowers {
        // As in apply: the primary first, then the replica once it has
        // replayed the primary's lower values.
        restore(
            &backup,
            &state,
            backend.as_ref(),
            &secrets,
            &[Role::Primary],
            progress,
        )
        .await?;
        bringup::wait_replayed(
            &connect(Role::Primary).await?,
            &connect(Role::Replica).await?,
        )
        .await?;
        restore(
            &backup,
            &state,
            backend.as_ref(),
            &secrets,
            &[Role::Replica],
            progress,
        )
        .await?;
    } else {
        restore(
            &backup,
            &state,
            backend.as_ref(),
            &secrets,
            &[Role::Replica, Role::Primary],
            progress,
        )
        .await?;
    }
    bringup::wait_streaming(&connect(Role::Primary).await?, "primary").await?;
    progress("primary: putting the previous catalog state back");
    restore_catalog(&backup, &state, &secrets).await.context(
        "the configuration was rolled back, but the catalog state of the event tables was not",
    )?;
    std::fs::write(backup.join(RESTORED), "")?;
    state.profile = before.profile;
    state.plan_hash = before.plan_hash;
    state.applied = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    dir.save(&state)?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    fn scope() -> super::AppScope {
        super::AppScope {
            role: "eventstore".into(),
            database: "eventstore".into(),
        }
    }

    fn saved(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn restores_a_saved_catalog_from_fixed_names_only() {
        let sql = super::restore_sql(
            &saved(&[
                ("events.fillfactor", "98"),
                ("idx_events_payload_gin.fastupdate", "off"),
                ("events.payload:statistics", "200"),
                ("eventstore@eventstore:enable_indexscan", "off"),
            ]),
            15,
            &scope(),
        )
        .unwrap();
        for line in [
            "ALTER TABLE IF EXISTS events RESET (fillfactor, toast_tuple_target,",
            "ALTER TABLE IF EXISTS events SET (fillfactor = '98');",
            "ALTER TABLE IF EXISTS events ALTER COLUMN payload SET STATISTICS 200;",
            "ALTER TABLE IF EXISTS events ALTER COLUMN metadata SET STATISTICS -1;",
            "ALTER INDEX IF EXISTS idx_events_payload_gin RESET (fastupdate, gin_pending_list_limit);",
            "ALTER INDEX IF EXISTS idx_events_payload_gin SET (fastupdate = 'off');",
            "ALTER TABLE IF EXISTS snapshots ALTER COLUMN created_at SET STATISTICS -1;",
            "ALTER ROLE \"eventstore\" IN DATABASE \"eventstore\" RESET ALL;\nALTER ROLE \"eventstore\" IN DATABASE \"eventstore\" SET \"enable_indexscan\" TO 'off';\n",
        ] {
            assert!(sql.contains(line), "{line}\n{sql}");
        }
        assert!(!sql.contains("autovacuum_vacuum_max_threshold"), "{sql}");
        assert!(super::restore_sql(&saved(&[]), 18, &scope())
            .unwrap()
            .contains("autovacuum_vacuum_max_threshold"));

        // A quote in a value stays inside the literal.
        let sql = super::restore_sql(
            &saved(&[("events.vacuum_index_cleanup", "a'b")]),
            15,
            &scope(),
        )
        .unwrap();
        assert!(
            sql.contains("SET (vacuum_index_cleanup = 'a''b');"),
            "{sql}"
        );

        let refused = [
            (
                "events; DROP TABLE events.fillfactor",
                "98",
                "not a relation",
            ),
            ("events.nosuch", "1", "does not know `nosuch`"),
            (
                "events.autovacuum_vacuum_max_threshold",
                "1",
                "in PostgreSQL 15",
            ),
            ("events.nosuch:statistics", "10", "not a statistics target"),
            (
                "events.payload:statistics",
                "1; DROP",
                "not a statistics target",
            ),
            ("idx_events_payload_gin.fillfactor", "90", "does not know"),
            (
                "other@eventstore:enable_seqscan",
                "off",
                "not a setting of role eventstore in database eventstore",
            ),
        ];
        for (key, value, want) in refused {
            let err = super::restore_sql(&saved(&[(key, value)]), 15, &scope()).unwrap_err();
            assert!(err.contains(want), "{key}: {err}");
        }
    }

    #[test]
    fn reads_rendered_values() {
        let conf = "# pool 60 + 10 [restart]\nmax_connections = 73\nwal_level = 'replica'\nmax_wal_senders = 10 # x\n";
        assert_eq!(super::conf_number(conf, "max_connections"), Some(73.0));
        assert_eq!(super::conf_number(conf, "max_wal_senders"), Some(10.0));
        assert_eq!(super::conf_number(conf, "max_worker_processes"), None);
    }
}
