//! Filters of the event store and the SQL they become. Every value (event
//! types, payload predicates, time and sequence bounds) travels as a bound
//! parameter: the original spliced literals into the text, which defeats
//! plan caching and invites injection. The SQL text therefore depends only
//! on the filter's *shape*, which is what the statement cache keys on.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio_postgres::types::{ToSql, Type};

/// How an item's payload predicates combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    AnyOf,
    AllOf,
}

/// Event types (OR-ed) AND-ed with payload predicates `payload @> {key: value}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterItem {
    pub event_types: Vec<String>,
    pub predicates: Vec<(String, String)>,
    pub matching: Match,
}

/// Items OR-ed, then AND-ed with the optional bounds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub items: Vec<FilterItem>,
    pub occurred_from: Option<DateTime<Utc>>,
    pub occurred_until: Option<DateTime<Utc>>,
    pub after_sequence: Option<i64>,
}

/// One bound value; kept as data so tests can compare parameter lists.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Types(Vec<String>),
    Json(Value),
    Time(DateTime<Utc>),
    Int(i64),
}

impl Param {
    pub fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Types(v) => v,
            Param::Json(v) => v,
            Param::Time(v) => v,
            Param::Int(v) => v,
        }
    }

    /// The parameter's type, for a statement sent without preparing it
    /// first (the server then cannot say which types it expects).
    pub fn sql_type(&self) -> Type {
        match self {
            Param::Types(_) => Type::TEXT_ARRAY,
            Param::Json(_) => Type::JSONB,
            Param::Time(_) => Type::TIMESTAMPTZ,
            Param::Int(_) => Type::INT8,
        }
    }
}

impl FilterItem {
    pub fn new(types: &[&str], predicates: &[(&str, &str)], matching: Match) -> FilterItem {
        FilterItem {
            event_types: types.iter().map(|t| t.to_string()).collect(),
            predicates: predicates
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            matching,
        }
    }
}

impl Filter {
    pub fn of(items: Vec<FilterItem>) -> Filter {
        Filter {
            items,
            ..Filter::default()
        }
    }

    pub fn after(mut self, sequence: Option<i64>) -> Filter {
        self.after_sequence = sequence;
        self
    }

    /// The WHERE condition (without the keyword), numbering parameters from
    /// `$first`; the parameters in the order of their numbers. Every OR is
    /// inside parentheses, so a caller can AND a condition to the text
    /// (the append guard adds its `sequence_number >` bound that way).
    pub fn to_sql(&self, first: usize) -> (String, Vec<Param>) {
        let mut b = Builder {
            next: first,
            params: Vec::new(),
        };
        let mut parts = Vec::new();
        let items: Vec<String> = self.items.iter().map(|i| b.item(i)).collect();
        match items.len() {
            0 => {}
            1 => parts.push(items.into_iter().next().unwrap_or_default()),
            _ => parts.push(format!("({})", items.join(" OR "))),
        }
        if let Some(t) = self.occurred_from {
            let p = b.bind(Param::Time(t));
            parts.push(format!("occurred_at >= {p}"));
        }
        if let Some(t) = self.occurred_until {
            let p = b.bind(Param::Time(t));
            parts.push(format!("occurred_at <= {p}"));
        }
        if let Some(n) = self.after_sequence {
            let p = b.bind(Param::Int(n));
            parts.push(format!("sequence_number > {p}"));
        }
        let sql = if parts.is_empty() {
            "TRUE".to_string()
        } else {
            parts.join(" AND ")
        };
        (sql, b.params)
    }

    /// A stable key for this exact filter (shape and values): what
    /// snapshots are stored under as `filter_hash`.
    pub fn fingerprint(&self) -> String {
        let (sql, params) = self.to_sql(1);
        let mut text = sql;
        for p in params {
            text.push('\u{1f}');
            text.push_str(&format!("{p:?}"));
        }
        format!("{:016x}", super::events::fnv1a(text.as_bytes()))
    }

    /// The distinct predicate values, sorted: what the advisory-lock append
    /// mode locks, in this fixed order so two commands cannot deadlock.
    pub fn lock_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .items
            .iter()
            .flat_map(|i| i.predicates.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

struct Builder {
    next: usize,
    params: Vec<Param>,
}

impl Builder {
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        self.next += 1;
        format!("${}", self.next - 1)
    }

    fn item(&mut self, item: &FilterItem) -> String {
        let mut parts = Vec::new();
        if !item.event_types.is_empty() {
            let p = self.bind(Param::Types(item.event_types.clone()));
            parts.push(format!("event_type = ANY({p})"));
        }
        let preds: Vec<String> = item
            .predicates
            .iter()
            .map(|(k, v)| {
                let mut m = Map::new();
                m.insert(k.clone(), Value::String(v.clone()));
                let p = self.bind(Param::Json(Value::Object(m)));
                format!("payload @> {p}::jsonb")
            })
            .collect();
        let joiner = match item.matching {
            Match::AnyOf => " OR ",
            Match::AllOf => " AND ",
        };
        match preds.len() {
            0 => {}
            1 => parts.extend(preds),
            _ => parts.push(format!("({})", preds.join(joiner))),
        }
        match parts.len() {
            0 => "TRUE".to_string(),
            1 => parts.remove(0),
            _ => format!("({})", parts.join(" AND ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types(t: &[&str]) -> Param {
        Param::Types(t.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn filters_become_parameterised_sql() {
        let t0 = DateTime::parse_from_rfc3339("2025-01-02T03:04:05.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let cases: Vec<(&str, Filter, usize, &str, Vec<Param>)> = vec![
            ("empty", Filter::default(), 1, "TRUE", vec![]),
            (
                "types only",
                Filter::of(vec![FilterItem::new(&["A", "B"], &[], Match::AnyOf)]),
                1,
                "event_type = ANY($1)",
                vec![types(&["A", "B"])],
            ),
            (
                "types and one predicate",
                Filter::of(vec![FilterItem::new(&["A"], &[("BookID", "b1")], Match::AnyOf)]),
                1,
                "(event_type = ANY($1) AND payload @> $2::jsonb)",
                vec![types(&["A"]), Param::Json(json!({"BookID": "b1"}))],
            ),
            (
                "any of two predicates, numbered from 3",
                Filter::of(vec![FilterItem::new(
                    &["A"],
                    &[("BookID", "b1"), ("ReaderID", "r1")],
                    Match::AnyOf,
                )]),
                3,
                "(event_type = ANY($3) AND (payload @> $4::jsonb OR payload @> $5::jsonb))",
                vec![
                    types(&["A"]),
                    Param::Json(json!({"BookID": "b1"})),
                    Param::Json(json!({"ReaderID": "r1"})),
                ],
            ),
            (
                "all of, predicates only",
                Filter::of(vec![FilterItem::new(
                    &[],
                    &[("BookID", "b1"), ("ReaderID", "r1")],
                    Match::AllOf,
                )]),
                1,
                "(payload @> $1::jsonb AND payload @> $2::jsonb)",
                vec![
                    Param::Json(json!({"BookID": "b1"})),
                    Param::Json(json!({"ReaderID": "r1"})),
                ],
            ),
            (
                "two items OR-ed with all bounds",
                Filter {
                    items: vec![
                        FilterItem::new(&["A"], &[], Match::AnyOf),
                        FilterItem::new(&["B"], &[("K", "v")], Match::AnyOf),
                    ],
                    occurred_from: Some(t0),
                    occurred_until: Some(t0),
                    after_sequence: Some(42),
                },
                1,
                "(event_type = ANY($1) OR (event_type = ANY($2) AND payload @> $3::jsonb)) AND occurred_at >= $4 AND occurred_at <= $5 AND sequence_number > $6",
                vec![
                    types(&["A"]),
                    types(&["B"]),
                    Param::Json(json!({"K": "v"})),
                    Param::Time(t0),
                    Param::Time(t0),
                    Param::Int(42),
                ],
            ),
            (
                "bound only",
                Filter::default().after(Some(7)),
                2,
                "sequence_number > $2",
                vec![Param::Int(7)],
            ),
        ];
        for (name, filter, first, sql, params) in cases {
            let (got_sql, got_params) = filter.to_sql(first);
            assert_eq!(got_sql, sql, "{name}");
            assert_eq!(got_params, params, "{name}");
        }
    }

    /// True when `sql` has an OR outside every parenthesis.
    fn bare_or(sql: &str) -> bool {
        let mut depth = 0i32;
        let b = sql.as_bytes();
        for (i, c) in b.iter().enumerate() {
            match c {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b' ' if depth == 0 && b[i..].starts_with(b" OR ") => return true,
                _ => {}
            }
        }
        false
    }

    #[test]
    fn no_or_is_left_bare() {
        let any = |t: &[&str], p: &[(&str, &str)], m| FilterItem::new(t, p, m);
        let two = [("BookID", "b"), ("ReaderID", "r")];
        let shapes = [
            Filter::of(vec![any(&[], &two, Match::AnyOf)]),
            Filter::of(vec![any(&["A"], &two, Match::AnyOf)]),
            Filter::of(vec![any(&["A"], &two, Match::AllOf)]),
            Filter::of(vec![
                any(&["A"], &[], Match::AnyOf),
                any(&[], &two, Match::AnyOf),
            ]),
            Filter::of(vec![
                any(&["A"], &two, Match::AnyOf),
                any(&["B"], &[], Match::AnyOf),
            ])
            .after(Some(3)),
        ];
        for f in shapes {
            let (sql, _) = f.to_sql(1);
            assert!(!bare_or(&sql), "{sql}");
        }
        assert!(bare_or("a OR (b)"), "the check itself sees a bare OR");
    }

    #[test]
    fn no_value_reaches_the_sql_text() {
        let hostile = "x'); DROP TABLE events; --";
        let filter = Filter {
            items: vec![FilterItem::new(
                &[hostile, "BookCopyLentToReader"],
                &[("BookID", hostile), ("ReaderID", "reader-uuid-42")],
                Match::AnyOf,
            )],
            occurred_from: None,
            occurred_until: None,
            after_sequence: Some(987_654_321),
        };
        let (sql, params) = filter.to_sql(1);
        for value in [
            hostile,
            "BookCopyLentToReader",
            "reader-uuid-42",
            "987654321",
            "BookID",
        ] {
            assert!(!sql.contains(value), "{value} leaked into {sql}");
        }
        assert_eq!(params.len(), 4);
    }

    #[test]
    fn the_same_shape_gives_the_same_text() {
        let a = Filter::of(vec![FilterItem::new(
            &["A"],
            &[("BookID", "1")],
            Match::AnyOf,
        )]);
        let b = Filter::of(vec![FilterItem::new(
            &["B", "C"],
            &[("X", "2")],
            Match::AnyOf,
        )]);
        assert_eq!(a.to_sql(1).0, b.to_sql(1).0);
    }

    #[test]
    fn fingerprints_tell_values_apart() {
        let f = |v: &str| {
            Filter::of(vec![FilterItem::new(
                &["A"],
                &[("BookID", v)],
                Match::AnyOf,
            )])
        };
        assert_eq!(f("1").fingerprint(), f("1").fingerprint());
        assert_ne!(f("1").fingerprint(), f("2").fingerprint());
        assert_ne!(f("1").fingerprint(), f("1").after(Some(3)).fingerprint());
    }

    #[test]
    fn lock_keys_are_sorted_and_distinct() {
        let f = Filter::of(vec![
            FilterItem::new(&["A"], &[("ReaderID", "r"), ("BookID", "b")], Match::AnyOf),
            FilterItem::new(&["B"], &[("BookID", "b")], Match::AnyOf),
        ]);
        assert_eq!(f.lock_keys(), vec!["BookID=b", "ReaderID=r"]);
    }
}
