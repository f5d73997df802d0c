//! Reading `pg_stat_statements` on one server: whether it can be read at
//! all (and if not, why, in words a user can act on), which columns this
//! version of the extension has (`blk_read_time` became
//! `shared_blk_read_time` in 1.11, PostgreSQL 17; `toplevel` came in 1.9,
//! `stats_since` and the min/max-only reset in 1.11), and the snapshots
//! themselves, on the event store's database only.

use super::delta::{Counters, Key, Snapshot};
use std::collections::HashMap;
use tokio_postgres::Client;

const EXTENSION: &str = "pg_stat_statements";

/// Where and how the view is read on a server.
#[derive(Debug, Clone)]
pub struct Source {
    /// The extension's schema, quoted as an identifier.
    schema: String,
    pub version: String,
    read_time: &'static str,
    write_time: &'static str,
    toplevel: bool,
    since: bool,
    /// `pg_stat_statements_info` exists (1.9+).
    info: bool,
    /// `pg_stat_statements_reset(…, minmax_only)` exists (1.11+).
    pub minmax_reset: bool,
    pub track_planning: bool,
    pub io_timing: bool,
}

pub fn err(e: tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| format!("{}: {}", d.code().code(), d.message()))
        .unwrap_or_else(|| e.to_string())
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The libraries of a `shared_preload_libraries` value (a comma list whose
/// names may be quoted).
pub fn preloads(setting: &str, library: &str) -> bool {
    setting
        .split(',')
        .map(|l| l.trim().trim_matches('"'))
        .any(|l| l == library)
}

/// How to read the view on this server, or why it cannot be read.
pub async fn locate(c: &Client, database: &str) -> Result<Source, String> {
    let preload: String = c
        .query_one("SELECT current_setting($1)", &[&"shared_preload_libraries"])
        .await
        .map_err(err)?
        .get(0);
    let loaded = preloads(&preload, EXTENSION);
    let ext = c
        .query_opt(
            "SELECT n.nspname::text, e.extversion FROM pg_extension e \
             JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1",
            &[&EXTENSION],
        )
        .await
        .map_err(err)?;
    let (schema, version): (String, String) = match (ext, loaded) {
        (Some(r), true) => (r.get(0), r.get(1)),
        (None, true) => {
            return Err(format!(
                "pg_stat_statements is loaded (shared_preload_libraries) but the extension is not created in database {database}: run CREATE EXTENSION pg_stat_statements there as a superuser (estune bench does when it connects as one)"
            ))
        }
        (Some(_), false) => {
            return Err(format!(
                "the extension pg_stat_statements exists in database {database} but the server does not load the library (shared_preload_libraries = '{preload}'), so it counts nothing"
            ))
        }
        (None, false) => {
            return Err(format!(
                "pg_stat_statements is not in shared_preload_libraries ('{preload}'): the server counts no statements (the eventstore and des-benchmark profiles preload it)"
            ))
        }
    };
    let setting = |name: &'static str| async move {
        c.query_one("SELECT coalesce(current_setting($1, true), '')", &[&name])
            .await
            .map(|r| r.get::<_, String>(0))
            .map_err(err)
    };
    if setting("pg_stat_statements.track").await? == "none" {
        return Err("pg_stat_statements.track is none: the server counts no statements".into());
    }
    let columns: Vec<String> = c
        .query(
            "SELECT a.attname::text FROM pg_attribute a \
             JOIN pg_class k ON k.oid = a.attrelid JOIN pg_namespace n ON n.oid = k.relnamespace \
             WHERE k.relname = $1 AND n.nspname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            &[&EXTENSION, &schema],
        )
        .await
        .map_err(err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let has = |c: &str| columns.iter().any(|x| x == c);
    if !has("total_exec_time") {
        return Err(format!(
            "pg_stat_statements {version} predates 1.8 (PostgreSQL 13), whose columns estune reads: ALTER EXTENSION pg_stat_statements UPDATE"
        ));
    }
    let (read_time, write_time) = if has("shared_blk_read_time") {
        ("shared_blk_read_time", "shared_blk_write_time")
    } else {
        ("blk_read_time", "blk_write_time")
    };
    let info: bool = c
        .query_one(
            "SELECT to_regclass(format('%I.pg_stat_statements_info', $1::text)) IS NOT NULL",
            &[&schema],
        )
        .await
        .map_err(err)?
        .get(0);
    Ok(Source {
        schema: quote_ident(&schema),
        version,
        read_time,
        write_time,
        toplevel: has("toplevel"),
        since: has("stats_since"),
        info,
        minmax_reset: has("minmax_stats_since"),
        track_planning: setting("pg_stat_statements.track_planning").await? == "on",
        io_timing: setting("track_io_timing").await? == "on",
    })
}

/// The database filter of every query: the statements of the database
/// this connection is on (the event store's).
const THIS_DATABASE: &str = "(SELECT oid FROM pg_database WHERE datname = current_database())";

/// Resets min and max of this database's statements (1.11+), so that the
/// maxima read at the window's end are the window's own. Calls, times and
/// blocks are left alone.
pub async fn reset_minmax(c: &Client, s: &Source) -> Result<(), String> {
    let sql = format!(
        "SELECT {}.pg_stat_statements_reset(0::oid, {THIS_DATABASE}, 0::bigint, true)",
        s.schema
    );
    c.execute(&sql, &[]).await.map(|_| ()).map_err(err)
}

/// Every top-level statement of this database, without its text.
pub async fn read(c: &Client, s: &Source) -> Result<Snapshot, String> {
    let since = if s.since {
        "s.stats_since::text"
    } else {
        "NULL::text"
    };
    let toplevel = if s.toplevel { "AND s.toplevel" } else { "" };
    let sql = format!(
        "SELECT s.userid, s.queryid, coalesce(r.rolname::text, s.userid::text), s.calls, \
                s.total_exec_time, s.max_exec_time, s.stddev_exec_time, s.rows, \
                s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied, s.shared_blks_written, \
                s.temp_blks_read, s.temp_blks_written, s.{}, s.{}, s.wal_bytes::int8, \
                s.plans, s.total_plan_time, {since} \
         FROM {}.pg_stat_statements(false) s LEFT JOIN pg_roles r ON r.oid = s.userid \
         WHERE s.dbid = {THIS_DATABASE} AND s.queryid IS NOT NULL {toplevel}",
        s.read_time, s.write_time, s.schema
    );
    let rows = c.query(&sql, &[]).await.map_err(err)?;
    let mut snap = Snapshot::default();
    for r in &rows {
        let key = Key {
            userid: r.get(0),
            queryid: r.get(1),
        };
        snap.entries.insert(
            key,
            Counters {
                role: r.get(2),
                calls: r.get(3),
                total_exec_ms: r.get(4),
                max_exec_ms: r.get(5),
                stddev_exec_ms: r.get(6),
                rows: r.get(7),
                shared_blks_hit: r.get(8),
                shared_blks_read: r.get(9),
                shared_blks_dirtied: r.get(10),
                shared_blks_written: r.get(11),
                temp_blks_read: r.get(12),
                temp_blks_written: r.get(13),
                shared_blk_read_ms: r.get(14),
                shared_blk_write_ms: r.get(15),
                wal_bytes: r.get::<_, Option<i64>>(16).unwrap_or(0),
                plans: r.get(17),
                total_plan_ms: r.get(18),
                since: r.get(19),
            },
        );
    }
    if s.info {
        let sql = format!(
            "SELECT dealloc, stats_reset::text FROM {}.pg_stat_statements_info",
            s.schema
        );
        let r = c.query_one(&sql, &[]).await.map_err(err)?;
        snap.dealloc = Some(r.get(0));
        snap.stats_reset = Some(r.get(1));
    }
    Ok(snap)
}

/// The normalised texts of `keys` (the top statements), read once at the
/// end: the texts live in a file the server reads on each request.
pub async fn texts(c: &Client, s: &Source, keys: &[Key]) -> Result<HashMap<Key, String>, String> {
    let ids: Vec<i64> = keys.iter().map(|k| k.queryid).collect();
    let sql = format!(
        "SELECT s.userid, s.queryid, coalesce(s.query, '') FROM {}.pg_stat_statements s \
         WHERE s.dbid = {THIS_DATABASE} AND s.queryid = ANY($1)",
        s.schema
    );
    let rows = c.query(&sql, &[&ids]).await.map_err(err)?;
    Ok(rows
        .iter()
        .map(|r| {
            let key = Key {
                userid: r.get(0),
                queryid: r.get(1),
            };
            (key, r.get(2))
        })
        .filter(|(k, _)| keys.contains(k))
        .collect())
}

/// Writes `text` to the server's log at level LOG (a DO block takes no
/// parameters, so the text travels through a session setting).
pub async fn log_line(c: &Client, text: &str) -> Result<(), String> {
    c.execute(
        "SELECT set_config('estune.log_marker', $1, false)",
        &[&text],
    )
    .await
    .map_err(err)?;
    c.batch_execute("DO $$ BEGIN RAISE LOG '%', current_setting('estune.log_marker'); END $$")
        .await
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_lists() {
        for (setting, want) in [
            ("pg_stat_statements", true),
            ("auto_explain, pg_stat_statements", true),
            ("\"pg_stat_statements\"", true),
            ("", false),
            ("pg_stat_statements_x", false),
            ("auto_explain", false),
        ] {
            assert_eq!(preloads(setting, EXTENSION), want, "{setting}");
        }
    }
}
