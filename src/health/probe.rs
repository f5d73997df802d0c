//! The SQL probes: one connection per server, each area a query or two,
//! an area that fails recorded in `errors` while the others still run.
//! Both servers are probed at once, each within one deadline, so a server
//! that does not answer costs the deadline and never a hang.

use super::snapshot::*;
use crate::tune::Role;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

mod areas;
mod indexes;
mod tables;

/// PostgreSQL 17 moved checkpoint counters to pg_stat_checkpointer.
const PG16: i32 = 160_000;
const PG17: i32 = 170_000;

/// One server to probe.
#[derive(Debug, Clone)]
pub struct Target {
    pub role: Role,
    /// A superuser connection string (the probes read every backend's
    /// activity and the settings' sources).
    pub dsn: String,
}

fn err(e: tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| format!("{} (SQLSTATE {})", d.message(), d.code().code()))
        .unwrap_or_else(|| e.to_string())
}

/// Probes every target concurrently; `timeout` bounds the connection and,
/// again, all queries of one server. Never fails: a server that cannot be
/// probed has `unreachable` set.
pub async fn probe_pair(targets: &[Target], timeout: Duration) -> Snapshot {
    let started = Instant::now();
    let taken_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let probes = targets.iter().map(|t| probe_server(t, timeout));
    let mut servers = futures_util::future::join_all(probes).await;
    link_replica_to_primary(&mut servers);
    let config = parity(&servers);
    Snapshot {
        taken_at,
        probe_ms: ms(started.elapsed()),
        interval_s: None,
        servers,
        config,
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// "16/B374D848" → bytes.
pub(crate) fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// The replica's distance from the primary's current LSN, taken by the
/// two concurrent probes; never negative (the replica's probe may have
/// read its replay position after the primary's).
fn link_replica_to_primary(servers: &mut [ServerSnapshot]) {
    let primary_lsn = servers
        .iter()
        .find(|s| s.role == Role::Primary && s.in_recovery == Some(false))
        .and_then(|s| s.wal_lsn.as_deref().and_then(parse_lsn));
    for s in servers.iter_mut().filter(|s| s.role == Role::Replica) {
        if let (Some(p), Some(r)) = (primary_lsn, s.receiver.as_mut()) {
            if let Some(replay) = r.replay_lsn.as_deref().and_then(parse_lsn) {
                r.primary_gap_bytes = Some(p.saturating_sub(replay) as f64);
            }
        }
    }
}

/// Settings a hot standby needs at least as high as its primary's.
fn parity(servers: &[ServerSnapshot]) -> Option<ConfigCheck> {
    let settings = |role| {
        servers
            .iter()
            .find(|s| s.role == role)
            .and_then(|s| s.settings.as_ref())
    };
    let (p, r) = (settings(Role::Primary)?, settings(Role::Replica)?);
    let gaps = p
        .parity
        .iter()
        .filter_map(|(name, pv)| {
            let rv = r.parity.get(name)?;
            let lower = match (pv.parse::<f64>(), rv.parse::<f64>()) {
                (Ok(a), Ok(b)) => b < a,
                _ => pv != rv,
            };
            lower.then(|| ParityGap {
                name: name.clone(),
                primary: pv.clone(),
                replica: rv.clone(),
            })
        })
        .collect();
    Some(ConfigCheck {
        parity: gaps,
        ..Default::default()
    })
}

async fn probe_server(t: &Target, timeout: Duration) -> ServerSnapshot {
    let started = Instant::now();
    let mut s = ServerSnapshot::new(t.role, crate::db::server_label(&t.dsn));
    match crate::db::connect(&t.dsn, timeout).await {
        Err(e) => {
            use crate::db::DbError;
            let kind = match e {
                DbError::Auth { .. } | DbError::BadDsn { .. } => "login",
                _ => "down",
            };
            s.unreachable = Some(Unreachable {
                kind: kind.into(),
                message: e.to_string(),
            });
        }
        Ok(client) => {
            if tokio::time::timeout(timeout, collect(&client, &mut s, timeout))
                .await
                .is_err()
            {
                s.errors.push(format!(
                    "probes: no answer within {} s; the figures above are partial",
                    timeout.as_secs_f64()
                ));
            }
        }
    }
    s.probe_ms = ms(started.elapsed());
    s
}

/// Records a failed area and goes on.
fn keep<T>(s: &mut ServerSnapshot, area: &str, r: Result<T, String>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            s.errors.push(format!("{area}: {e}"));
            None
        }
    }
}

async fn collect(c: &Client, s: &mut ServerSnapshot, timeout: Duration) {
    // A probe must not queue behind a lock (sizes and GIN lists take one)
    // nor outlive its budget on the server.
    let limits = c
        .query(
            "SELECT set_config('lock_timeout', '200ms', false), \
                    set_config('statement_timeout', $1, false)",
            &[&format!("{}ms", timeout.as_millis())],
        )
        .await
        .map_err(err);
    keep(s, "session", limits);
    let basics = keep(s, "server", basics(c).await);
    let Some((version, num, recovery, db, lsn)) = basics else {
        return;
    };
    (
        s.version,
        s.version_num,
        s.in_recovery,
        s.database,
        s.wal_lsn,
    ) = (Some(version), Some(num), Some(recovery), Some(db), lsn);
    s.connections = keep(s, "connections", areas::connections(c).await);
    s.counters = keep(s, "pg_stat_database", areas::counters(c).await);
    s.cache = keep(s, "cache", areas::cache(c).await);
    if recovery {
        s.receiver = keep(s, "WAL receiver", areas::receiver(c).await);
    } else {
        s.senders = keep(s, "pg_stat_replication", areas::senders(c).await).unwrap_or_default();
        s.slots = keep(s, "replication slots", areas::slots(c).await);
    }
    s.tables = keep(s, "tables", tables::tables(c).await).unwrap_or_default();
    if s.tables.iter().any(|t| t.table == tables::EVENTS) {
        s.gin = keep(s, "GIN pending list", tables::gin_pending(c).await);
    }
    if !s.tables.is_empty() {
        s.index_usage = keep(s, "index usage", indexes::index_usage(c).await);
    }
    s.wraparound = keep(s, "wraparound", tables::wraparound(c).await);
    s.sequence = keep(s, "sequence", tables::sequence(c).await).flatten();
    s.checkpoints = keep(s, "checkpoints", areas::checkpoints(c, num).await);
    s.locks = keep(s, "locks", areas::locks(c).await);
    s.statements = keep(s, "pg_stat_statements", areas::statements(c).await);
    s.settings = keep(s, "settings", areas::settings(c).await);
}

type Basics = (String, i32, bool, String, Option<String>);

async fn basics(c: &Client) -> Result<Basics, String> {
    let r = c
        .query_one(
            "SELECT current_setting('server_version'), \
                    current_setting('server_version_num')::int4, \
                    pg_is_in_recovery(), current_database()::text, \
                    CASE WHEN pg_is_in_recovery() THEN NULL \
                         ELSE pg_current_wal_lsn()::text END",
            &[],
        )
        .await
        .map_err(err)?;
    Ok((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
}

/// Settings by name from pg_settings, as text.
async fn settings_named(c: &Client, names: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let rows = c
        .query(
            "SELECT name, setting FROM pg_settings WHERE name = ANY($1)",
            &[&names],
        )
        .await
        .map_err(err)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
