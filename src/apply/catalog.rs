//! The catalog state a profile owns on the event-store relations: storage
//! parameters (`pg_class.reloptions`) and column statistics targets
//! (`pg_attribute.attstattarget`). Live and planned state come out in one
//! form, so apply verifies catalog.sql with it, the diff shows it, and
//! health reports drift from it.

use crate::tune::{self, reloptions, Plan, SchemaRelation};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;
use tokio_postgres::{Client, GenericClient};

/// Suffix of a statistics-target key: `events.payload:statistics`.
const STATISTICS: &str = ":statistics";

#[derive(Debug, Error)]
#[error("cannot read {what} of the event-store tables and indexes")]
pub struct ReadError {
    what: &'static str,
    #[source]
    source: tokio_postgres::Error,
}

/// The live catalog state of the event-store relations, keyed as
/// `relation.parameter` for storage parameters (`events.fillfactor` →
/// `"98"`, `idx_events_payload_gin.fastupdate` → `"off"`) and
/// `relation.column:statistics` for statistics targets
/// (`events.payload:statistics` → `"200"`).
///
/// Only what is not at PostgreSQL's default is returned: a storage
/// parameter when `pg_class.reloptions` names it (even at a value equal to
/// the built-in one, since an explicit value no longer follows the server
/// setting), a statistics target when it is neither -1 (up to PostgreSQL
/// 16) nor NULL (17 and later). Values are normalised as the plan's are:
/// booleans `on`/`off` whatever was written (`false`, `of`), numbers their
/// shortest decimal (`5e-2` → `0.05`). Relations resolve through the
/// connection's search_path, as catalog.sql's statements do; a relation
/// that does not exist contributes nothing. Read the primary or, after it
/// replayed, the replica: the catalog is the same on both.
pub async fn live(client: &Client) -> Result<BTreeMap<String, String>, ReadError> {
    Ok(read(client).await?.values)
}

/// What [`live`] returns, plus which relations of the schema exist, so
/// that planned values of a relation not created yet are not reported.
#[derive(Debug, Clone, Default)]
pub struct LiveCatalog {
    pub present: BTreeSet<String>,
    pub values: BTreeMap<String, String>,
}

impl LiveCatalog {
    /// None of the schema's relations exists (no `estune seed` yet, or a
    /// database that is not the event store's).
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }
}

/// [`live`] with the relations that exist, through any client (a
/// transaction sees what catalog.sql changed before it commits).
pub async fn read(client: &impl GenericClient) -> Result<LiveCatalog, ReadError> {
    let schema = tune::schema();
    let names: Vec<&str> = schema.iter().map(|s| s.name).collect();
    let err = |what| move |source| ReadError { what, source };
    // quote_ident + to_regclass: the fixed names resolve through the
    // search_path like the unqualified names in catalog.sql.
    let rels = client
        .query(
            "SELECT n.name, c.reloptions FROM unnest($1::text[]) AS n(name) \
             JOIN pg_class c ON c.oid = to_regclass(quote_ident(n.name))",
            &[&names],
        )
        .await
        .map_err(err("the storage parameters (pg_class.reloptions)"))?;
    let mut live = LiveCatalog::default();
    for row in rels {
        let name: String = row.get(0);
        let options: Option<Vec<String>> = row.get(1);
        let Some(rel) = schema.iter().find(|s| s.name == name) else {
            continue;
        };
        for opt in options.unwrap_or_default() {
            let (param, raw) = opt.split_once('=').unwrap_or((opt.as_str(), ""));
            live.values.insert(
                format!("{name}.{param}"),
                reloptions::normalize(rel.relkind, param, raw),
            );
        }
        live.present.insert(name);
    }
    let stats = client
        .query(
            "SELECT n.name, a.attname::text, a.attstattarget::int4 \
             FROM unnest($1::text[]) AS n(name) \
             JOIN pg_attribute a ON a.attrelid = to_regclass(quote_ident(n.name)) \
             WHERE a.attnum > 0 AND NOT a.attisdropped \
               AND coalesce(a.attstattarget, -1) <> -1",
            &[&names],
        )
        .await
        .map_err(err("the statistics targets (pg_attribute.attstattarget)"))?;
    for row in stats {
        let (rel, column, target): (String, String, i32) = (row.get(0), row.get(1), row.get(2));
        live.values
            .insert(format!("{rel}.{column}{STATISTICS}"), target.to_string());
    }
    Ok(live)
}

/// The catalog state `plan` gives the schema, keyed and normalised as
/// [`live`] reads it: what the plan does not set is absent (at default).
pub fn planned(plan: &Plan) -> BTreeMap<String, String> {
    let schema = tune::schema();
    let mut out = BTreeMap::new();
    for rel in &plan.relations {
        let Some(s) = schema.iter().find(|s| s.name == rel.name) else {
            continue;
        };
        for o in &rel.options {
            let value = reloptions::normalize(s.relkind, &o.name, &o.value.to_plain());
            out.insert(format!("{}.{}", rel.name, o.name), value);
        }
        for t in &rel.statistics {
            // An explicit -1 is the default: PostgreSQL stores no target.
            if t.value != crate::value::Value::Int(-1) {
                let key = format!("{}.{}{STATISTICS}", rel.name, t.name);
                out.insert(key, t.value.to_plain());
            }
        }
    }
    out
}

/// One catalog value that differs between the live server and the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogChange {
    /// `relation.parameter` or `relation.column:statistics`, as [`live`].
    pub key: String,
    pub relation: String,
    /// The storage parameter, or `column statistics`.
    pub parameter: String,
    /// The value, or `default` when PostgreSQL's default applies.
    pub live: String,
    pub planned: String,
}

/// Live against planned, for the relations that exist: what catalog.sql
/// would change (before it runs), or what it failed to (after).
pub fn diff(planned: &BTreeMap<String, String>, live: &LiveCatalog) -> Vec<CatalogChange> {
    let keys: BTreeSet<&String> = planned.keys().chain(live.values.keys()).collect();
    let mut changes: Vec<CatalogChange> = keys
        .into_iter()
        .filter_map(|key| {
            let (relation, parameter) = split_key(key);
            if !live.present.contains(relation) {
                return None;
            }
            let (l, p) = (live.values.get(key), planned.get(key));
            (l != p).then(|| CatalogChange {
                key: key.clone(),
                relation: relation.to_string(),
                parameter,
                live: shown(l, key),
                planned: shown(p, key),
            })
        })
        .collect();
    // The schema's order (tables, then their indexes) reads better than
    // the alphabet.
    let schema = tune::schema();
    let rank = |r: &str| schema.iter().position(|s: &SchemaRelation| s.name == r);
    changes.sort_by_key(|c| rank(&c.relation));
    changes
}

fn split_key(key: &str) -> (&str, String) {
    let (relation, rest) = key.split_once('.').unwrap_or((key, ""));
    let parameter = match rest.strip_suffix(STATISTICS) {
        Some(column) => format!("{column} statistics"),
        None => rest.to_string(),
    };
    (relation, parameter)
}

fn shown(v: Option<&String>, key: &str) -> String {
    match v {
        Some(v) => v.clone(),
        None if key.ends_with(STATISTICS) => "default (-1)".into(),
        None => "default".into(),
    }
}

/// One line per change, for error messages and drift findings.
pub fn describe(changes: &[CatalogChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            format!(
                "{} {}: live {}, planned {}",
                c.relation, c.parameter, c.live, c.planned
            )
        })
        .collect()
}

/// Runs catalog.sql in one transaction on `client` (the primary's
/// event-store database) and commits only if the catalog is then exactly
/// the plan's; otherwise nothing of it stays, and the error says what
/// differs on `server`.
pub async fn run_verified(
    client: &mut Client,
    sql: &str,
    plan: &Plan,
    server: &str,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let tx = client
        .transaction()
        .await
        .with_context(|| format!("starting the catalog.sql transaction on {server}"))?;
    tx.batch_execute(sql).await.with_context(|| {
        format!(
            "catalog.sql failed on {server}; it runs in one transaction, so none of it was kept"
        )
    })?;
    let live = read(&tx).await?;
    let wrong = diff(&planned(plan), &live);
    if !wrong.is_empty() {
        tx.rollback().await.ok();
        anyhow::bail!(
            "catalog.sql ran on {server}, but the catalog did not end up as profile {} plans it, so none of it was kept:\n  {}\nA planned value that is missing means a catalog.sql.j2 from --templates leaves it out (compare with `estune render -o DIR`); a live value planned as default that stays is one catalog.sql does not reset: RESET it by hand (ALTER TABLE or ALTER INDEX … RESET (name))",
            plan.profile,
            describe(&wrong).join("\n  ")
        );
    }
    tx.commit()
        .await
        .with_context(|| format!("committing catalog.sql on {server}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::tune::Resources;

    fn plan(profile: &str, major: u32) -> Plan {
        let p = crate::profile::load(profile, None).unwrap();
        let res = || Resources::fixed(4 << 30, 2.0, "test");
        let cat = Catalog::builtin(major).unwrap();
        let mut plan = tune::plan(&p, res(), res(), &crate::inputs::target(&cat)).unwrap();
        tune::validate(&mut plan, &cat).unwrap();
        plan
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn planned_state_per_profile() {
        assert!(planned(&plan("stock", 15)).is_empty());
        let es = planned(&plan("eventstore", 15));
        for (key, want) in [
            ("events.fillfactor", "100"),
            ("events.autovacuum_vacuum_insert_scale_factor", "0"),
            ("events.autovacuum_vacuum_insert_threshold", "90000"),
            ("snapshots.autovacuum_vacuum_scale_factor", "0.05"),
            ("idx_events_payload_gin.fastupdate", "off"),
            ("idx_events_metadata_gin.fastupdate", "off"),
            ("events.payload:statistics", "200"),
        ] {
            assert_eq!(
                es.get(key).map(String::as_str),
                Some(want),
                "{key}: {es:#?}"
            );
        }
        let des = planned(&plan("des-benchmark", 15));
        assert_eq!(des["events.fillfactor"], "98");
        assert_eq!(des["events.autovacuum_vacuum_cost_delay"], "0");
    }

    #[test]
    fn diff_compares_normalised_values_of_existing_relations() {
        let planned = map(&[
            ("events.fillfactor", "98"),
            ("events.autovacuum_vacuum_scale_factor", "0.05"),
            ("idx_events_payload_gin.fastupdate", "off"),
            ("events.payload:statistics", "200"),
        ]);
        let present = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        // Spelled as PostgreSQL keeps what was written, then normalised
        // the way `read` does it.
        let norm = |kind, name, raw| reloptions::normalize(kind, name, raw);
        use reloptions::RelKind::{Gin, Table};
        let same = LiveCatalog {
            present: present(&["events", "idx_events_payload_gin"]),
            values: [
                ("events.fillfactor", norm(Table, "fillfactor", "98")),
                (
                    "events.autovacuum_vacuum_scale_factor",
                    norm(Table, "autovacuum_vacuum_scale_factor", "5e-2"),
                ),
                (
                    "idx_events_payload_gin.fastupdate",
                    norm(Gin, "fastupdate", "false"),
                ),
                ("events.payload:statistics", "200".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        assert_eq!(diff(&planned, &same), vec![]);

        let mut hand = same.clone();
        hand.values.insert("events.fillfactor".into(), "50".into());
        hand.values.remove("events.payload:statistics");
        hand.values
            .insert("events.event_type:statistics".into(), "500".into());
        hand.values.insert(
            "idx_events_payload_gin.gin_pending_list_limit".into(),
            "64".into(),
        );
        let got: Vec<(String, String, String)> = diff(&planned, &hand)
            .into_iter()
            .map(|c| (format!("{}.{}", c.relation, c.parameter), c.live, c.planned))
            .collect();
        let want = [
            ("events.event_type statistics", "500", "default (-1)"),
            ("events.fillfactor", "50", "98"),
            ("events.payload statistics", "default (-1)", "200"),
            (
                "idx_events_payload_gin.gin_pending_list_limit",
                "64",
                "default",
            ),
        ];
        let want: Vec<(String, String, String)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want);

        // A relation that does not exist yet has nothing to compare.
        let none = LiveCatalog::default();
        assert!(diff(&planned, &none).is_empty());
    }
}
