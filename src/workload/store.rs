//! The event store on one connection: query a boundary, append under the
//! `MAX(sequence_number)` guard, snapshots. Statements are prepared once per
//! connection and cached by SQL text — the text depends only on a filter's
//! shape, so a workload of a handful of shapes prepares a handful of
//! statements however many IDs it touches.

use super::events::{LibraryEvent, NewEvent, StoredEvent};
use super::filter::{Filter, Param};
use super::WorkloadError;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use tokio_postgres::types::{FromSql, ToSql, Type};
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

/// A json or jsonb value's text, borrowed from the row.
struct RawJson<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawJson<'a> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            // jsonb's binary form: a version byte, then the text.
            match raw.split_first() {
                Some((1, text)) => Ok(RawJson(text)),
                _ => Err("unsupported jsonb encoding version".into()),
            }
        } else {
            Ok(RawJson(raw))
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }
}

/// The two IDs of a payload; other keys are skipped without allocating.
#[derive(Default, serde::Deserialize)]
struct Ids<'a> {
    #[serde(
        rename = "BookID",
        borrow,
        default,
        deserialize_with = "string_or_none"
    )]
    book: Option<Cow<'a, str>>,
    #[serde(
        rename = "ReaderID",
        borrow,
        default,
        deserialize_with = "string_or_none"
    )]
    reader: Option<Cow<'a, str>>,
}

/// A string, or None for any other JSON value (as `Value::as_str`),
/// borrowed when it has no escapes; other values are skipped in place.
fn string_or_none<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// The boundary query of `filter` and its parameters: the text every
/// command and query sends (`scripts/bench/lend.pgbench` mirrors it).
pub fn query_sql(filter: &Filter) -> (String, Vec<Param>) {
    let (cond, params) = filter.to_sql(1);
    (format!("{SELECT}{cond} ORDER BY sequence_number"), params)
}

fn context_cte(cond: &str) -> String {
    format!("WITH context AS (SELECT MAX(sequence_number) AS max_seq FROM events WHERE {cond})")
}

/// The conditional append of one event under `filter`'s boundary: the
/// filter's parameters, then type, time, payload, metadata and the
/// expected max sequence number.
pub fn append_one_sql(filter: &Filter) -> (String, Vec<Param>) {
    let (cond, params) = filter.to_sql(1);
    let n = params.len();
    let (t, o, p, m, x) = (n + 1, n + 2, n + 3, n + 4, n + 5);
    let sql = format!(
        "{} INSERT INTO events (event_type, occurred_at, payload, metadata) \
         SELECT ${t}::text, ${o}::timestamptz, ${p}::jsonb, ${m}::jsonb FROM context \
         WHERE COALESCE(max_seq, 0) = ${x}::bigint",
        context_cte(&cond)
    );
    (sql, params)
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
        let (sql, params) = query_sql(filter);
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

    /// The boundary as the domain sees it, and its max sequence number: the
    /// same statement as [`EventStore::query`], but each row is read in
    /// place (type and the two IDs) instead of building JSON trees of the
    /// payload and metadata. What commands and read-side queries use.
    pub async fn query_domain(
        &mut self,
        filter: &Filter,
    ) -> Result<(Vec<LibraryEvent>, i64), WorkloadError> {
        let (sql, params) = query_sql(filter);
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
        let rows = self.rows(&sql, &refs).await?;
        let mut events = Vec::with_capacity(rows.len());
        let mut max = 0;
        for r in &rows {
            let event_type: &str = r.try_get(0).map_err(db("reading event_type"))?;
            let payload: RawJson = r.try_get(2).map_err(db("reading payload"))?;
            // A payload that is not an object of strings reads as no IDs,
            // like `LibraryEvent::parse` on a tree.
            let ids: Ids = serde_json::from_slice(payload.0).unwrap_or_default();
            events.push(LibraryEvent::from_parts(
                event_type,
                ids.book.map(Cow::into_owned),
                ids.reader.map(Cow::into_owned),
            ));
            max = r.try_get(4).map_err(db("reading sequence_number"))?;
        }
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
        let context = context_cte(&cond);
        let mut refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
        let expected_ref: &(dyn ToSql + Sync) = &expected;
        if let [e] = events {
            // One event: the original's statement.
            let sql = append_one_sql(filter).0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_in_place_as_the_tree_reads_them() {
        let cases = [
            (
                r#"{"BookID":"b1","ReaderID":"r1","Title":"x"}"#,
                Some("b1"),
                Some("r1"),
            ),
            (
                r#"{"Nested":{"BookID":"no"},"BookID":"b\u0031"}"#,
                Some("b1"),
                None,
            ),
            (r#"{"BookID":7,"ReaderID":null}"#, None, None),
            (r#"{"ReaderID":["r"]}"#, None, None),
            (r#"{}"#, None, None),
        ];
        for (text, book, reader) in cases {
            let ids: Ids = serde_json::from_slice(text.as_bytes()).unwrap();
            assert_eq!(ids.book.as_deref(), book, "{text}");
            assert_eq!(ids.reader.as_deref(), reader, "{text}");
            // The same answer as the tree-based parse.
            let tree: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                LibraryEvent::parse(super::super::events::LENT, &tree),
                LibraryEvent::from_parts(
                    super::super::events::LENT,
                    ids.book.map(Cow::into_owned),
                    ids.reader.map(Cow::into_owned)
                ),
                "{text}"
            );
        }
        // Not an object of IDs: no IDs, as the caller reads it.
        for text in [&b"[1,2]"[..], b"\"x\"", b"{\"BookID\":"] {
            let ids: Ids = serde_json::from_slice(text).unwrap_or_default();
            assert!(ids.book.is_none() && ids.reader.is_none());
        }
    }

    #[test]
    fn raw_json_strips_the_jsonb_version() {
        let r = RawJson::from_sql(&Type::JSONB, b"\x01{\"a\":1}").unwrap();
        assert_eq!(r.0, b"{\"a\":1}");
        assert!(RawJson::from_sql(&Type::JSONB, b"\x02{}").is_err());
        assert_eq!(RawJson::from_sql(&Type::JSON, b"{}").unwrap().0, b"{}");
    }
}
