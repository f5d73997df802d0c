//! The event store on one connection: query a boundary, append under the
//! `MAX(sequence_number)` guard, snapshots. Statements are prepared once per
//! connection and cached by SQL text — the text depends only on a filter's
//! shape, so a workload of a handful of shapes prepares a handful of
//! statements however many IDs it touches.

use super::events::{NewEvent, StoredEvent};
use super::filter::{Filter, Param};
use super::WorkloadError;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

const SELECT: &str =
    "SELECT event_type, occurred_at, payload, metadata, sequence_number FROM events WHERE ";

pub struct EventStore {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// A snapshot row.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub projection_type: String,
    pub filter_hash: String,
    pub sequence_number: i64,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn db(
    context: impl Into<String>,
) -> impl FnOnce(tokio_postgres::Error) -> WorkloadError {
    let context = context.into();
    move |source| WorkloadError::Db { context, source }
}

impl EventStore {
    pub fn new(client: Client) -> EventStore {
        EventStore {
            client,
            statements: HashMap::new(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How many distinct statements this connection has prepared.
    pub fn prepared(&self) -> usize {
        self.statements.len()
    }

    async fn statement(&mut self, sql: &str) -> Result<Statement, WorkloadError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .prepare(sql)
            .await
            .map_err(db(format!("preparing `{sql}`")))?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    async fn rows(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, WorkloadError> {
        let st = self.statement(sql).await?;
        self.client
            .query(&st, params)
            .await
            .map_err(db("querying the event store"))
    }

    async fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &str,
    ) -> Result<u64, WorkloadError> {
        let st = self.statement(sql).await?;
        self.client.execute(&st, params).await.map_err(db(what))
    }

    /// The boundary's events in order, and its max sequence number (that
    /// of the last row, 0 when empty).
    pub async fn query(
        &mut self,
        filter: &Filter,
    ) -> Result<(Vec<StoredEvent>, i64), WorkloadError> {
        let (cond, params) = filter.to_sql(1);
        let sql = format!("{SELECT}{cond} ORDER BY sequence_number");
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
        let rows = self.rows(&sql, &refs).await?;
        let events: Vec<StoredEvent> = rows
            .iter()
            .map(|r| StoredEvent {
                event_type: r.get(0),
                occurred_at: r.get(1),
                payload: r.get(2),
                metadata: r.get::<_, Option<Value>>(3).unwrap_or(Value::Null),
                sequence_number: r.get(4),
            })
            .collect();
        let max = events.last().map_or(0, |e| e.sequence_number);
        Ok((events, max))
    }

    /// Appends `events` only if the boundary's max sequence number is still
    /// `expected`; returns how many rows went in. Fewer than given means a
    /// concurrent append changed the boundary: a conflict, not an error.
    pub async fn append(
        &mut self,
        filter: &Filter,
        expected: i64,
        events: &[NewEvent],
    ) -> Result<u64, WorkloadError> {
        if events.is_empty() {
            return Ok(0);
        }
        let (cond, params) = filter.to_sql(1);
        let n = params.len();
        let (t, o, p, m, x) = (n + 1, n + 2, n + 3, n + 4, n + 5);
        let context = format!(
            "WITH context AS (SELECT MAX(sequence_number) AS max_seq FROM events WHERE {cond})"
        );
        let mut refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
        let expected_ref: &(dyn ToSql + Sync) = &expected;
        if let [e] = events {
            // One event: the original's statement.
            let sql = format!(
                "{context} INSERT INTO events (event_type, occurred_at, payload, metadata) \
                 SELECT ${t}::text, ${o}::timestamptz, ${p}::jsonb, ${m}::jsonb FROM context \
                 WHERE COALESCE(max_seq, 0) = ${x}::bigint"
            );
            refs.extend([
                &e.event_type as &(dyn ToSql + Sync),
                &e.occurred_at,
                &e.payload,
                &e.metadata,
                expected_ref,
            ]);
            return self.execute(&sql, &refs, "appending an event").await;
        }
        // Several: the values as a second CTE of arrays, so the text (and
        // the prepared statement) does not change with the count.
        let sql = format!(
            "{context}, vals AS (SELECT * FROM unnest(${t}::text[], ${o}::timestamptz[], ${p}::jsonb[], ${m}::jsonb[]) \
             WITH ORDINALITY AS v(event_type, occurred_at, payload, metadata, ord)) \
             INSERT INTO events (event_type, occurred_at, payload, metadata) \
             SELECT v.event_type, v.occurred_at, v.payload, v.metadata FROM context, vals v \
             WHERE COALESCE(max_seq, 0) = ${x}::bigint ORDER BY v.ord"
        );
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
        let payloads: Vec<&Value> = events.iter().map(|e| &e.payload).collect();
        let metas: Vec<&Value> = events.iter().map(|e| &e.metadata).collect();
        refs.extend([
            &types as &(dyn ToSql + Sync),
            &times,
            &payloads,
            &metas,
            expected_ref,
        ]);
        self.execute(&sql, &refs, "appending events").await
    }

    /// Saves a snapshot; an older one never replaces a newer one.
    pub async fn save_snapshot(
        &mut self,
        projection: &str,
        filter_hash: &str,
        sequence: i64,
        data: &Value,
    ) -> Result<(), WorkloadError> {
        // The data and time follow only when the sequence moves forward,
        // so a late writer cannot roll a projection back.
        let sql = "INSERT INTO snapshots (projection_type, filter_hash, sequence_number, snapshot_data) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (projection_type, filter_hash) DO UPDATE SET \
                   sequence_number = GREATEST(snapshots.sequence_number, EXCLUDED.sequence_number), \
                   snapshot_data = CASE WHEN EXCLUDED.sequence_number >= snapshots.sequence_number \
                     THEN EXCLUDED.snapshot_data ELSE snapshots.snapshot_data END, \
                   created_at = CASE WHEN EXCLUDED.sequence_number >= snapshots.sequence_number \
                     THEN NOW() ELSE snapshots.created_at END";
        self.execute(
            sql,
            &[&projection, &filter_hash, &sequence, data],
            "saving a snapshot",
        )
        .await
        .map(|_| ())
    }

    pub async fn load_snapshot(
        &mut self,
        projection: &str,
        filter_hash: &str,
    ) -> Result<Option<Snapshot>, WorkloadError> {
        let sql =
            "SELECT projection_type, filter_hash, sequence_number, snapshot_data, created_at \
                   FROM snapshots WHERE projection_type = $1 AND filter_hash = $2";
        let rows = self.rows(sql, &[&projection, &filter_hash]).await?;
        Ok(rows.first().map(|r| Snapshot {
            projection_type: r.get(0),
            filter_hash: r.get(1),
            sequence_number: r.get(2),
            data: r.get(3),
            created_at: r.get(4),
        }))
    }

    pub async fn delete_snapshot(
        &mut self,
        projection: &str,
        filter_hash: &str,
    ) -> Result<bool, WorkloadError> {
        let sql = "DELETE FROM snapshots WHERE projection_type = $1 AND filter_hash = $2";
        let n = self
            .execute(sql, &[&projection, &filter_hash], "deleting a snapshot")
            .await?;
        Ok(n > 0)
    }

    /// Runs a transaction-control or locking statement (BEGIN, COMMIT…).
    pub async fn control(&self, sql: &str) -> Result<(), WorkloadError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(db(format!("running `{sql}`")))
    }

    /// Takes transaction-level advisory locks on `keys`, in the order given.
    pub async fn lock(&mut self, keys: &[i64]) -> Result<(), WorkloadError> {
        let sql = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k";
        let keys = keys.to_vec();
        self.rows(sql, &[&keys]).await.map(|_| ())
    }
}
