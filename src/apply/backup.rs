//! Timestamped backups of the files apply replaces, under the cluster's
//! state directory (`backups/<time>/<role>/…`), and restoring them — after
//! a failed apply automatically, or on `apply --rollback`.

use crate::cluster::bringup;
use crate::cluster::{ops, Backend, ClusterState, Secrets, StateDir};
use crate::tune::Role;
use anyhow::Context;
use std::path::{Path, PathBuf};

const FILES: &[&str] = &["postgresql.conf", "pg_hba.conf"];
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
    std::fs::write(backup.join(RESTORED), "")?;
    state.profile = before.profile;
    state.plan_hash = before.plan_hash;
    state.applied = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    dir.save(&state)?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_rendered_values() {
        let conf = "# pool 60 + 10 [restart]\nmax_connections = 73\nwal_level = 'replica'\nmax_wal_senders = 10 # x\n";
        assert_eq!(super::conf_number(conf, "max_connections"), Some(73.0));
        assert_eq!(super::conf_number(conf, "max_wal_senders"), Some(10.0));
        assert_eq!(super::conf_number(conf, "max_worker_processes"), None);
    }
}
