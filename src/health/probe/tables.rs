//! Areas of the event store's tables: vacuum/analyze state of `events`
//! and `snapshots`, GIN pending lists, wraparound and sequence headroom.

use super::err;
use crate::health::snapshot::*;
use tokio_postgres::Client;

pub const EVENTS: &str = "events";
pub const SNAPSHOTS: &str = "snapshots";
pub const SEQUENCE: &str = "events_sequence_number_seq";

pub async fn tables(c: &Client) -> Result<Vec<TableHealth>, String> {
    let rows = c
        .query(
            "SELECT relname::text, NULL::int8, n_live_tup, n_dead_tup, \
                    n_mod_since_analyze, n_ins_since_vacuum, \
                    last_vacuum::text, last_autovacuum::text, \
                    last_analyze::text, last_autoanalyze::text, \
                    vacuum_count, autovacuum_count, analyze_count, autoanalyze_count \
             FROM pg_stat_user_tables \
             WHERE relid = ANY(ARRAY[to_regclass($1)::oid, to_regclass($2)::oid]) ORDER BY 1",
            &[&EVENTS, &SNAPSHOTS],
        )
        .await
        .map_err(err)?;
    let mut out: Vec<TableHealth> = rows
        .iter()
        .map(|r| TableHealth {
            table: r.get(0),
            total_bytes: r.get(1),
            live_tuples: r.get(2),
            dead_tuples: r.get(3),
            mod_since_analyze: r.get(4),
            ins_since_vacuum: r.get(5),
            last_vacuum: r.get(6),
            last_autovacuum: r.get(7),
            last_analyze: r.get(8),
            last_autoanalyze: r.get(9),
            vacuum_count: r.get(10),
            autovacuum_count: r.get(11),
            analyze_count: r.get(12),
            autoanalyze_count: r.get(13),
        })
        .collect();
    // The size takes a lock on the table: a table locked exclusively (by
    // a migration, say) has no size this time rather than a stalled probe
    // (lock_timeout is set on the probe's session).
    for t in &mut out {
        t.total_bytes = c
            .query_one(
                "SELECT pg_total_relation_size(to_regclass($1))",
                &[&t.table],
            )
            .await
            .ok()
            .and_then(|r| r.get(0));
    }
    Ok(out)
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Pending-list size of every GIN index on `events`, read with
/// pgstattuple or pageinspect when one is installed (health never
/// installs anything).
pub async fn gin_pending(c: &Client) -> Result<GinPending, String> {
    let rows = c
        .query(
            "SELECT e.extname::text, n.nspname::text FROM pg_extension e \
             JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname = ANY($1) ORDER BY 1 DESC",
            &[&vec!["pgstattuple", "pageinspect"]],
        )
        .await
        .map_err(err)?;
    let ext: Option<(String, String)> = rows.first().map(|r| (r.get(0), r.get(1)));
    let Some((ext, schema)) = ext else {
        let available: Vec<String> = c
            .query(
                "SELECT name::text FROM pg_available_extensions WHERE name = ANY($1) ORDER BY 1 DESC",
                &[&vec!["pgstattuple", "pageinspect"]],
            )
            .await
            .map_err(err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let note = match available.first() {
            Some(name) => format!("GIN pending lists not measured: {name} is available but not installed (CREATE EXTENSION {name} on the primary)"),
            None => "GIN pending lists not measured: neither pgstattuple nor pageinspect is available on this server (PostgreSQL contrib)".into(),
        };
        return Ok(GinPending {
            via: None,
            note: Some(note),
            indexes: Vec::new(),
        });
    };
    let schema = ident(&schema);
    let lateral = if ext == "pgstattuple" {
        format!("{schema}.pgstatginindex(c.oid) g(version, pending_pages, pending_tuples)")
    } else {
        format!("{schema}.gin_metapage_info({schema}.get_raw_page(c.oid::regclass::text, 0)) g")
    };
    let (pages, tuples) = if ext == "pgstattuple" {
        ("g.pending_pages", "g.pending_tuples")
    } else {
        ("g.n_pending_pages", "g.n_pending_tuples")
    };
    let sql = format!(
        "SELECT c.relname::text, {pages}::int8, {tuples}::int8 \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_am a ON a.oid = c.relam, LATERAL {lateral} \
         WHERE i.indrelid = to_regclass($1) AND a.amname = 'gin' ORDER BY 1"
    );
    let rows = c.query(&sql, &[&EVENTS]).await.map_err(err)?;
    Ok(GinPending {
        via: Some(ext),
        note: None,
        indexes: rows
            .iter()
            .map(|r| GinIndex {
                index: r.get(0),
                pending_pages: r.get(1),
                pending_tuples: r.get(2),
            })
            .collect(),
    })
}

pub async fn wraparound(c: &Client) -> Result<Wraparound, String> {
    let db = c
        .query_one(
            "SELECT datname::text, age(datfrozenxid)::int8, \
                    current_setting('autovacuum_freeze_max_age')::int8 \
             FROM pg_database ORDER BY age(datfrozenxid) DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(err)?;
    let rel = c
        .query_opt(
            "SELECT c.oid::regclass::text, age(c.relfrozenxid)::int8 FROM pg_class c \
             WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'::xid \
             ORDER BY age(c.relfrozenxid) DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(err)?;
    Ok(Wraparound {
        oldest_database: db.get(0),
        datfrozenxid_age: db.get(1),
        autovacuum_freeze_max_age: db.get(2),
        oldest_table: rel.as_ref().map(|r| r.get(0)),
        relfrozenxid_age: rel.as_ref().map(|r| r.get(1)),
    })
}

pub async fn sequence(c: &Client) -> Result<Option<SequenceHeadroom>, String> {
    let row = c
        .query_opt(
            "SELECT schemaname::text || '.' || sequencename::text, last_value, max_value \
             FROM pg_sequences WHERE sequencename = $1 ORDER BY schemaname LIMIT 1",
            &[&SEQUENCE],
        )
        .await
        .map_err(err)?;
    Ok(row.map(|r| {
        let last: Option<i64> = r.get(1);
        let max: i64 = r.get(2);
        SequenceHeadroom {
            sequence: r.get(0),
            last_value: last,
            max_value: max,
            used_ratio: last.unwrap_or(0).max(0) as f64 / max as f64,
        }
    }))
}
