//! The event store on one connection: query a boundary, append under a
//! guard (the original's `MAX(sequence_number)` or the cheaper "none newer
//! than read"), snapshots. Statements are prepared once per connection and
//! cached by SQL text — the text depends only on a filter's shape, so a
//! workload of a handful of shapes prepares a handful of statements however
//! many IDs it touches. The one exception is the none-newer-than-read
//! append, planned at every execution (see `Guard`).

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

/// What a conditional append checks before it inserts. On an append-only
/// store both pass exactly when no event of the boundary was appended after
/// the command read it: events never disappear, so the boundary's max can
/// only be the max read or higher. Neither makes two overlapping appends
/// exclusive under READ COMMITTED (docs/workload.md, "The race").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Guard {
    /// The original's: the boundary's `MAX(sequence_number)` equals the max
    /// read. The MAX must find the boundary's latest event however old it
    /// is, and the planner cannot know where that is.
    #[default]
    MaxEquals,
    /// No event of the boundary is newer than the max read:
    /// `NOT EXISTS (… AND sequence_number > $read_max)`. Sent unprepared,
    /// so it is planned with the read max at every execution: the planner
    /// answers from the rows appended since the read (a range of
    /// `events_pkey`) when they are few, or from the boundary's index
    /// entries when the boundary's last event is old.
    NoneNewerThan,
}

fn context_cte(cond: &str) -> String {
    format!("WITH context AS (SELECT MAX(sequence_number) AS max_seq FROM events WHERE {cond})")
}

const INSERT: &str = "INSERT INTO events (event_type, occurred_at, payload, metadata)";

/// The conditional append of `count` events under `filter`'s boundary, and
/// the filter's parameters. The statement's own parameters follow the
/// filter's, in this order: type, time, payload, metadata (arrays when
/// `count` is not 1, so the text does not change with the count), then the
/// max sequence number the command read (0 when it read no event).
pub fn append_sql(guard: Guard, filter: &Filter, count: usize) -> (String, Vec<Param>) {
    let (cond, params) = filter.to_sql(1);
    let n = params.len();
    let (t, o, p, m, x) = (n + 1, n + 2, n + 3, n + 4, n + 5);
    let one = format!("${t}::text, ${o}::timestamptz, ${p}::jsonb, ${m}::jsonb");
    let vals = format!(
        "vals AS (SELECT * FROM unnest(${t}::text[], ${o}::timestamptz[], ${p}::jsonb[], ${m}::jsonb[]) \
         WITH ORDINALITY AS v(event_type, occurred_at, payload, metadata, ord))"
    );
    let v = "v.event_type, v.occurred_at, v.payload, v.metadata";
    // `cond` never has a bare OR at its top (Filter::to_sql), so ANDing the
    // bound to it keeps the filter's meaning.
    let none_newer = format!(
        "NOT EXISTS (SELECT 1 FROM events WHERE {cond} AND sequence_number > ${x}::bigint)"
    );
    let sql = match (guard, count) {
        (Guard::MaxEquals, 1) => format!(
            "{} {INSERT} SELECT {one} FROM context WHERE COALESCE(max_seq, 0) = ${x}::bigint",
            context_cte(&cond)
        ),
        (Guard::MaxEquals, _) => format!(
            "{}, {vals} {INSERT} SELECT {v} FROM context, vals v \
             WHERE COALESCE(max_seq, 0) = ${x}::bigint ORDER BY v.ord",
            context_cte(&cond)
        ),
        (Guard::NoneNewerThan, 1) => format!("{INSERT} SELECT {one} WHERE {none_newer}"),
        (Guard::NoneNewerThan, _) => {
            format!("WITH {vals} {INSERT} SELECT {v} FROM vals v WHERE {none_newer} ORDER BY v.ord")
        }
    };
    (sql, params)
}

/// The original's conditional append of one event (`Guard::MaxEquals`).
pub fn append_one_sql(filter: &Filter) -> (String, Vec<Param>) {
    append_sql(Guard::MaxEquals, filter, 1)
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
    /// `expected` (the original's guard); returns how many rows went in.
    /// Fewer than given means a concurrent append changed the boundary: a
    /// conflict, not an error.
    pub async fn append(
        &mut self,
        filter: &Filter,
        expected: i64,
        events: &[NewEvent],
    ) -> Result<u64, WorkloadError> {
        self.append_with(Guard::MaxEquals, filter, expected, events)
            .await
    }

    /// Appends `events` under `guard`, given the max sequence number the
    /// command read of the boundary; all or nothing, in order. Returns how
    /// many rows went in: fewer than given is a conflict, not an error.
    pub async fn append_with(
        &mut self,
        guard: Guard,
        filter: &Filter,
        read_max: i64,
        events: &[NewEvent],
    ) -> Result<u64, WorkloadError> {
        if events.is_empty() {
            return Ok(0);
        }
        let (sql, params) = append_sql(guard, filter, events.len());
        let mut typed: Vec<(&(dyn ToSql + Sync), Type)> =
            params.iter().map(|p| (p.as_sql(), p.sql_type())).collect();
        let types: Vec<&str>;
        let times: Vec<DateTime<Utc>>;
        let (payloads, metas): (Vec<&Value>, Vec<&Value>);
        let what = if let [e] = events {
            typed.extend([
                (&e.event_type as &(dyn ToSql + Sync), Type::TEXT),
                (&e.occurred_at, Type::TIMESTAMPTZ),
                (&e.payload, Type::JSONB),
                (&e.metadata, Type::JSONB),
            ]);
            "appending an event"
        } else {
            types = events.iter().map(|e| e.event_type.as_str()).collect();
            times = events.iter().map(|e| e.occurred_at).collect();
            payloads = events.iter().map(|e| &e.payload).collect();
            metas = events.iter().map(|e| &e.metadata).collect();
            typed.extend([
                (&types as &(dyn ToSql + Sync), Type::TEXT_ARRAY),
                (&times, Type::TIMESTAMPTZ_ARRAY),
                (&payloads, Type::JSONB_ARRAY),
                (&metas, Type::JSONB_ARRAY),
            ]);
            "appending events"
        };
        typed.push((&read_max, Type::INT8));
        match guard {
            Guard::MaxEquals => {
                let refs: Vec<&(dyn ToSql + Sync)> = typed.iter().map(|(v, _)| *v).collect();
                self.execute(&sql, &refs, what).await
            }
            // Planned at every execution, as the original's SQL with its
            // values written in is: which plan is cheap depends on the read
            // max, and a cached generic plan cannot see it. Measured: after
            // five executions PostgreSQL switched to a generic plan that
            // reads every row after the read max, the whole table for a
            // boundary whose last event is old (docs/workload.md).
            Guard::NoneNewerThan => self
                .client
                .execute_typed(&sql, &typed)
                .await
                .map_err(db(what)),
        }
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

    /// This connection's prepared statements (its own only: that is all
    /// `pg_prepared_statements` shows) with how often each used a generic
    /// and a custom plan (PostgreSQL 14+). Read once after a run, never
    /// between operations.
    pub async fn plan_counts(&self) -> Result<Vec<(String, i64, i64)>, WorkloadError> {
        // The simple protocol prepares nothing, so this query is not among
        // the statements it lists.
        let messages = self
            .client
            .simple_query(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements \
                 WHERE NOT from_sql ORDER BY statement",
            )
            .await
            .map_err(db("reading pg_prepared_statements"))?;
        let count = |r: &tokio_postgres::SimpleQueryRow, i: usize| -> i64 {
            r.get(i).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some((
                    r.get(0).unwrap_or_default().to_string(),
                    count(r, 1),
                    count(r, 2),
                )),
                _ => None,
            })
            .collect())
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
    use crate::workload::filter::{FilterItem, Match};

    fn lend() -> Filter {
        Filter::of(vec![FilterItem::new(
            &["Lent", "Returned"],
            &[("BookID", "b"), ("ReaderID", "r")],
            Match::AnyOf,
        )])
    }

    const LEND: &str = "(event_type = ANY($1) AND (payload @> $2::jsonb OR payload @> $3::jsonb))";

    #[test]
    fn append_statements_number_their_parameters_after_the_filters() {
        let unnest = "unnest($4::text[], $5::timestamptz[], $6::jsonb[], $7::jsonb[]) \
                      WITH ORDINALITY AS v(event_type, occurred_at, payload, metadata, ord)";
        let cases = [
            (
                Guard::MaxEquals,
                1,
                format!(
                    "WITH context AS (SELECT MAX(sequence_number) AS max_seq FROM events WHERE {LEND}) \
                     INSERT INTO events (event_type, occurred_at, payload, metadata) \
                     SELECT $4::text, $5::timestamptz, $6::jsonb, $7::jsonb FROM context \
                     WHERE COALESCE(max_seq, 0) = $8::bigint"
                ),
            ),
            (
                Guard::MaxEquals,
                3,
                format!(
                    "WITH context AS (SELECT MAX(sequence_number) AS max_seq FROM events WHERE {LEND}), \
                     vals AS (SELECT * FROM {unnest}) \
                     INSERT INTO events (event_type, occurred_at, payload, metadata) \
                     SELECT v.event_type, v.occurred_at, v.payload, v.metadata FROM context, vals v \
                     WHERE COALESCE(max_seq, 0) = $8::bigint ORDER BY v.ord"
                ),
            ),
            (
                Guard::NoneNewerThan,
                1,
                format!(
                    "INSERT INTO events (event_type, occurred_at, payload, metadata) \
                     SELECT $4::text, $5::timestamptz, $6::jsonb, $7::jsonb \
                     WHERE NOT EXISTS (SELECT 1 FROM events WHERE {LEND} AND sequence_number > $8::bigint)"
                ),
            ),
            (
                Guard::NoneNewerThan,
                2,
                format!(
                    "WITH vals AS (SELECT * FROM {unnest}) \
                     INSERT INTO events (event_type, occurred_at, payload, metadata) \
                     SELECT v.event_type, v.occurred_at, v.payload, v.metadata FROM vals v \
                     WHERE NOT EXISTS (SELECT 1 FROM events WHERE {LEND} AND sequence_number > $8::bigint) \
                     ORDER BY v.ord"
                ),
            ),
        ];
        for (guard, count, want) in cases {
            let (sql, params) = append_sql(guard, &lend(), count);
            assert_eq!(sql, want, "{guard:?} × {count}");
            assert_eq!(params, lend().to_sql(1).1, "{guard:?} × {count}");
        }
        assert_eq!(
            append_one_sql(&lend()),
            append_sql(Guard::MaxEquals, &lend(), 1)
        );
    }

    #[test]
    fn the_read_max_follows_every_filter_parameter() {
        // A filter with bounds of its own: its sequence bound is $4, the
        // read max comes after the four values, at $9.
        let f = Filter::of(vec![FilterItem::new(&["A"], &[("K", "v")], Match::AnyOf)]);
        let f = Filter {
            occurred_from: Some(Utc::now()),
            ..f.after(Some(5))
        };
        let (sql, params) = append_sql(Guard::NoneNewerThan, &f, 1);
        assert_eq!(params.len(), 4);
        assert!(
            sql.ends_with(
                "WHERE NOT EXISTS (SELECT 1 FROM events WHERE (event_type = ANY($1) AND payload @> $2::jsonb) \
                 AND occurred_at >= $3 AND sequence_number > $4 AND sequence_number > $9::bigint)"
            ),
            "{sql}"
        );
        assert!(sql.contains("SELECT $5::text, $6::timestamptz, $7::jsonb, $8::jsonb WHERE"));
        // An empty filter: every event is in the boundary.
        let (sql, params) = append_sql(Guard::NoneNewerThan, &Filter::default(), 1);
        assert!(params.is_empty());
        assert!(
            sql.ends_with("WHERE NOT EXISTS (SELECT 1 FROM events WHERE TRUE AND sequence_number > $5::bigint)"),
            "{sql}"
        );
    }

    #[test]
    fn no_value_reaches_an_append_statement() {
        let f = Filter::of(vec![FilterItem::new(
            &["Lent"],
            &[("BookID", "book-uuid-7")],
            Match::AnyOf,
        )])
        .after(Some(123_456));
        for guard in [Guard::MaxEquals, Guard::NoneNewerThan] {
            for count in [1, 2] {
                let (sql, _) = append_sql(guard, &f, count);
                for value in ["Lent", "book-uuid-7", "123456", "BookID"] {
                    assert!(!sql.contains(value), "{value} leaked into {sql}");
                }
            }
        }
    }

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
