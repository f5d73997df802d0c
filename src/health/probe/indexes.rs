//! How often queries read each index of the event store's tables, and
//! what those tables took in inserts: an index nothing reads still costs
//! every append. Each server counts only the scans of its own queries,
//! so the pair rule reads both.

use super::err;
use super::tables::{EVENTS, SNAPSHOTS};
use crate::health::snapshot::*;
use chrono::{DateTime, SecondsFormat, Utc};
use tokio_postgres::Client;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub async fn index_usage(c: &Client) -> Result<IndexUsage, String> {
    let since = c
        .query_one(
            "SELECT d.stats_reset, pg_postmaster_start_time(), \
                    extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time()))::float8 \
             FROM pg_stat_database d WHERE d.datname = current_database()",
            &[],
        )
        .await
        .map_err(err)?;
    let reset: Option<DateTime<Utc>> = since.get(0);
    let started: DateTime<Utc> = since.get(1);
    let tables = c
        .query(
            "SELECT relname::text, n_tup_ins FROM pg_stat_user_tables \
             WHERE relid = ANY(ARRAY[to_regclass($1)::oid, to_regclass($2)::oid]) ORDER BY 1",
            &[&EVENTS, &SNAPSHOTS],
        )
        .await
        .map_err(err)?;
    // Unique and exclusion indexes enforce something whether or not a
    // query reads them, and the replica identity serves logical decoding.
    // Key columns come from pg_attribute: pg_get_indexdef() would wait
    // for a table locked exclusively (lock_timeout would fail the area).
    let rows = c
        .query(
            "SELECT s.indexrelid::regclass::text, s.relname::text, \
                    ARRAY(SELECT coalesce(a.attname::text, 'expression') \
                          FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n) \
                          LEFT JOIN pg_attribute a \
                            ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                          WHERE k.n <= i.indnkeyatts ORDER BY k.n), \
                    s.idx_scan, \
                    i.indisprimary OR i.indisunique OR i.indisexclusion OR i.indisreplident \
                      OR EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid \
                                 AND con.contype IN ('p', 'u', 'x')) \
             FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
             WHERE s.relid = ANY(ARRAY[to_regclass($1)::oid, to_regclass($2)::oid]) \
             ORDER BY 2, 1",
            &[&EVENTS, &SNAPSHOTS],
        )
        .await
        .map_err(err)?;
    let mut indexes: Vec<IndexScans> = rows
        .iter()
        .map(|r| IndexScans {
            index: r.get(0),
            table: r.get(1),
            columns: r.get(2),
            size_bytes: None,
            scans: r.get(3),
            backs_constraint: r.get(4),
        })
        .collect();
    // As for the tables' sizes: an index locked exclusively (a REINDEX)
    // has no size this time rather than a stalled probe.
    for i in &mut indexes {
        i.size_bytes = c
            .query_one("SELECT pg_relation_size(to_regclass($1))", &[&i.index])
            .await
            .ok()
            .and_then(|r| r.get(0));
    }
    Ok(IndexUsage {
        stats_reset: reset.map(rfc3339),
        server_started: rfc3339(started),
        counted_s: since.get::<_, Option<f64>>(2).unwrap_or(0.0).max(0.0),
        tables: tables
            .iter()
            .map(|r| TableInserts {
                table: r.get(0),
                inserted: r.get(1),
            })
            .collect(),
        indexes,
    })
}
