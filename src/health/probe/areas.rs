//! Server-wide areas: connections, counters, cache, replication, slots,
//! checkpoints, locks, statements, settings.

use super::{err, settings_named, PG16, PG17};
use crate::health::snapshot::*;
use tokio_postgres::Client;

fn setting_i64(m: &std::collections::BTreeMap<String, String>, name: &str) -> i64 {
    m.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

pub async fn connections(c: &Client) -> Result<Connections, String> {
    let rows = c
        .query(
            "SELECT coalesce(state, ''), \
                    coalesce(wait_event_type || ':' || wait_event, ''), \
                    count(*)::int8, \
                    max(extract(epoch FROM now() - xact_start))::float8, \
                    max(extract(epoch FROM now() - state_change)) \
                      FILTER (WHERE state LIKE 'idle in transaction%')::float8 \
             FROM pg_stat_activity WHERE backend_type = 'client backend' \
             GROUP BY 1, 2",
            &[],
        )
        .await
        .map_err(err)?;
    let m = settings_named(
        c,
        &[
            "max_connections",
            "superuser_reserved_connections",
            "reserved_connections",
        ],
    )
    .await?;
    let max_connections = setting_i64(&m, "max_connections");
    let reserved =
        setting_i64(&m, "superuser_reserved_connections") + setting_i64(&m, "reserved_connections");
    let mut out = Connections {
        max_connections,
        reserved,
        available: max_connections - reserved,
        ..Default::default()
    };
    let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    for r in &rows {
        let (state, wait, n): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
        out.total += n;
        *out.by_state.entry(state.clone()).or_default() += n;
        *out.by_wait_event.entry(wait.clone()).or_default() += n;
        if wait == "Client:ClientRead" {
            out.client_read += n;
        }
        if state.starts_with("idle in transaction") {
            out.idle_in_transaction += n;
        }
        out.longest_transaction_s = max(out.longest_transaction_s, r.get(3));
        out.longest_idle_in_transaction_s = max(out.longest_idle_in_transaction_s, r.get(4));
    }
    Ok(out)
}

pub async fn counters(c: &Client) -> Result<Counters, String> {
    let r = c
        .query_one(
            "SELECT sum(xact_commit)::int8, sum(xact_rollback)::int8, \
                    sum(tup_inserted)::int8, sum(tup_updated)::int8, \
                    sum(tup_deleted)::int8, sum(tup_returned)::int8, \
                    sum(tup_fetched)::int8, sum(blks_hit)::int8, sum(blks_read)::int8 \
             FROM pg_stat_database",
            &[],
        )
        .await
        .map_err(err)?;
    let g = |i| r.get::<_, Option<i64>>(i).unwrap_or(0);
    Ok(Counters {
        commits: g(0),
        rollbacks: g(1),
        tup_inserted: g(2),
        tup_updated: g(3),
        tup_deleted: g(4),
        tup_returned: g(5),
        tup_fetched: g(6),
        blks_hit: g(7),
        blks_read: g(8),
    })
}

pub async fn cache(c: &Client) -> Result<Cache, String> {
    let ratio = |h: &str, r: &str| {
        format!("CASE WHEN {h} + {r} > 0 THEN {h}::float8 / ({h} + {r}) END, ({h} + {r})::int8")
    };
    let sql = format!(
        "SELECT datname::text, {} FROM pg_stat_database WHERE datname IS NOT NULL ORDER BY 1",
        ratio("blks_hit", "blks_read")
    );
    let rows = c.query(&sql, &[]).await.map_err(err)?;
    let databases = rows
        .iter()
        .map(|r| DatabaseCache {
            database: r.get(0),
            hit_ratio: r.get(1),
            blocks: r.get(2),
        })
        .collect();
    let sql = format!(
        "SELECT relname::text, {}, {} FROM pg_statio_user_tables \
         WHERE relid = ANY(ARRAY[to_regclass($1)::oid, to_regclass($2)::oid]) ORDER BY 1",
        ratio("heap_blks_hit", "heap_blks_read"),
        ratio("coalesce(idx_blks_hit, 0)", "coalesce(idx_blks_read, 0)")
    );
    let rows = c
        .query(&sql, &[&super::tables::EVENTS, &super::tables::SNAPSHOTS])
        .await
        .map_err(err)?;
    let tables = rows
        .iter()
        .map(|r| TableCache {
            table: r.get(0),
            heap_hit_ratio: r.get(1),
            heap_blocks: r.get(2),
            index_hit_ratio: r.get(3),
            index_blocks: r.get(4),
        })
        .collect();
    Ok(Cache { databases, tables })
}

pub async fn senders(c: &Client) -> Result<Vec<Sender>, String> {
    let rows = c
        .query(
            "SELECT coalesce(application_name, ''), coalesce(state, ''), \
                    coalesce(sync_state, ''), \
                    pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn)::float8, \
                    pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::float8, \
                    pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8, \
                    pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8, \
                    (extract(epoch FROM write_lag) * 1000)::float8, \
                    (extract(epoch FROM flush_lag) * 1000)::float8, \
                    (extract(epoch FROM replay_lag) * 1000)::float8 \
             FROM pg_stat_replication ORDER BY 1",
            &[],
        )
        .await
        .map_err(err)?;
    Ok(rows
        .iter()
        .map(|r| Sender {
            application_name: r.get(0),
            state: r.get(1),
            sync_state: r.get(2),
            sent_lag_bytes: r.get(3),
            write_lag_bytes: r.get(4),
            flush_lag_bytes: r.get(5),
            replay_lag_bytes: r.get(6),
            write_lag_ms: r.get(7),
            flush_lag_ms: r.get(8),
            replay_lag_ms: r.get(9),
        })
        .collect())
}

pub async fn receiver(c: &Client) -> Result<Receiver, String> {
    let r = c
        .query_one(
            "SELECT (SELECT status FROM pg_stat_wal_receiver LIMIT 1), \
                    pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, \
                    pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8, \
                    pg_is_wal_replay_paused(), \
                    extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8",
            &[],
        )
        .await
        .map_err(err)?;
    Ok(Receiver {
        status: r.get(0),
        receive_lsn: r.get(1),
        replay_lsn: r.get(2),
        // Replay can run ahead of the receiver (WAL restored from the
        // archive or pg_wal at start): nothing left to replay then.
        receive_replay_gap_bytes: r.get::<_, Option<f64>>(3).map(|g| g.max(0.0)),
        primary_gap_bytes: None,
        replay_paused: r.get(4),
        last_replay_age_s: r.get(5),
    })
}

pub async fn slots(c: &Client) -> Result<Slots, String> {
    let keep: Option<i64> = c
        .query_one(
            "SELECT setting::int8 FROM pg_settings WHERE name = 'max_slot_wal_keep_size'",
            &[],
        )
        .await
        .map_err(err)?
        .get(0);
    let rows = c
        .query(
            "SELECT slot_name::text, slot_type, active, \
                    pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8, wal_status \
             FROM pg_replication_slots ORDER BY 1",
            &[],
        )
        .await
        .map_err(err)?;
    Ok(Slots {
        // The setting is in megabytes; -1 is unlimited.
        max_slot_wal_keep_size_bytes: keep.filter(|k| *k >= 0).map(|k| (k as f64) * 1048576.0),
        slots: rows
            .iter()
            .map(|r| Slot {
                name: r.get(0),
                slot_type: r.get(1),
                active: r.get(2),
                retained_bytes: r.get(3),
                wal_status: r.get(4),
            })
            .collect(),
    })
}

pub async fn checkpoints(c: &Client, version: i32) -> Result<Checkpoints, String> {
    let one = |sql: &'static str| async move { c.query_one(sql, &[]).await.map_err(err) };
    let mut out = if version >= PG17 {
        let cp = one("SELECT num_timed, num_requested, buffers_written FROM pg_stat_checkpointer")
            .await?;
        let bg = one("SELECT buffers_clean, maxwritten_clean, buffers_alloc FROM pg_stat_bgwriter")
            .await?;
        Checkpoints {
            source: "pg_stat_checkpointer".into(),
            timed: cp.get(0),
            requested: cp.get(1),
            buffers_checkpoint: cp.get(2),
            buffers_clean: bg.get(0),
            maxwritten_clean: bg.get(1),
            buffers_backend: None,
            buffers_alloc: bg.get(2),
        }
    } else {
        let bg = one(
            "SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_clean, \
                    maxwritten_clean, buffers_backend, buffers_alloc FROM pg_stat_bgwriter",
        )
        .await?;
        Checkpoints {
            source: "pg_stat_bgwriter".into(),
            timed: bg.get(0),
            requested: bg.get(1),
            buffers_checkpoint: bg.get(2),
            buffers_clean: bg.get(3),
            maxwritten_clean: bg.get(4),
            buffers_backend: Some(bg.get(5)),
            buffers_alloc: bg.get(6),
        }
    };
    if version >= PG16 {
        // pg_stat_io replaces buffers_backend (gone from pg_stat_bgwriter in 17).
        let r =
            one("SELECT sum(writes)::int8 FROM pg_stat_io WHERE backend_type = 'client backend'")
                .await?;
        out.buffers_backend = r.get(0);
    }
    Ok(out)
}

pub async fn locks(c: &Client) -> Result<Locks, String> {
    let waiting: i64 = c
        .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
        .await
        .map_err(err)?
        .get(0);
    let rows = c
        .query(
            "SELECT pid, pg_blocking_pids(pid), \
                    coalesce(wait_event_type || ':' || wait_event, ''), \
                    extract(epoch FROM now() - state_change)::float8, left(query, 120) \
             FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0 \
             ORDER BY state_change LIMIT 20",
            &[],
        )
        .await
        .map_err(err)?;
    Ok(Locks {
        waiting,
        blocked: rows
            .iter()
            .map(|r| BlockedBackend {
                pid: r.get(0),
                blocked_by: r.get(1),
                wait_event: r.get(2),
                waiting_s: r.get(3),
                query: r.get::<_, Option<String>>(4).unwrap_or_default(),
            })
            .collect(),
    })
}

pub async fn statements(c: &Client) -> Result<Statements, String> {
    let installed = c
        .query_opt(
            "SELECT n.nspname::text FROM pg_extension e \
             JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1",
            &[&"pg_stat_statements"],
        )
        .await
        .map_err(err)?;
    let Some(schema) = installed.map(|r| r.get::<_, String>(0)) else {
        return Ok(Statements {
            installed: false,
            note: Some("pg_stat_statements is not installed in this database: add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements".into()),
            top: Vec::new(),
        });
    };
    // Extension 1.8 (PostgreSQL 13) renamed total_time to total_exec_time.
    let new_names: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute a \
               JOIN pg_class k ON k.oid = a.attrelid JOIN pg_namespace n ON n.oid = k.relnamespace \
               WHERE k.relname = 'pg_stat_statements' AND n.nspname = $1 \
                 AND a.attname = 'total_exec_time')",
            &[&schema],
        )
        .await
        .map_err(err)?
        .get(0);
    let (total, mean) = if new_names {
        ("total_exec_time", "mean_exec_time")
    } else {
        ("total_time", "mean_time")
    };
    let schema_ident = format!("\"{}\"", schema.replace('"', "\"\""));
    let sql = format!(
        "SELECT queryid, calls, {total}::float8, {mean}::float8, rows, left(query, 200) \
         FROM {schema_ident}.pg_stat_statements ORDER BY {total} DESC LIMIT 5"
    );
    match c.query(&sql, &[]).await {
        Ok(rows) => Ok(Statements {
            installed: true,
            note: None,
            top: rows
                .iter()
                .map(|r| Statement {
                    queryid: r.get(0),
                    calls: r.get(1),
                    total_ms: r.get(2),
                    mean_ms: r.get(3),
                    rows: r.get(4),
                    query: r.get::<_, Option<String>>(5).unwrap_or_default(),
                })
                .collect(),
        }),
        // Installed but not in shared_preload_libraries.
        Err(e) => Ok(Statements {
            installed: true,
            note: Some(err(e)),
            top: Vec::new(),
        }),
    }
}

pub async fn settings(c: &Client) -> Result<Settings, String> {
    let parity = settings_named(c, crate::tune::defaults::PARITY).await?;
    let pending: Vec<String> = c
        .query(
            "SELECT name FROM pg_settings WHERE pending_restart ORDER BY 1",
            &[],
        )
        .await
        .map_err(err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Settings {
        parity,
        pending_restart: pending,
    })
}
