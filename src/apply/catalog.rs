//! The catalog state a profile owns: on the event-store relations, storage
//! parameters (`pg_class.reloptions`) and column statistics targets
//! (`pg_attribute.attstattarget`); for the application's role in its
//! database, its settings (`pg_db_role_setting`, see [`super::app_scope`]).
//! Live and planned state come out in one form, so apply verifies
//! catalog.sql with it, the diff shows it, and health reports drift from it.

use super::app_scope::{self, AppScope};
use crate::catalog::{Catalog, CatalogError};
use crate::tune::{self, reloptions, Plan, SchemaRelation};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;
use tokio_postgres::{Client, GenericClient};

/// Suffix of a statistics-target key: `events.payload:statistics`.
const STATISTICS: &str = ":statistics";

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot read {what}")]
    Query {
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    /// The parameter catalog that role settings are normalised with.
    #[error("cannot read the parameter catalog to compare role settings with")]
    Catalog(#[source] CatalogError),
}

/// The live catalog state of the event-store relations, keyed as
/// `relation.parameter` for storage parameters (`events.fillfactor` →
/// `"98"`, `idx_events_payload_gin.fastupdate` → `"off"`) and
/// `relation.column:statistics` for statistics targets
/// (`events.payload:statistics` → `"200"`); and the role settings that
/// reach a session in the connection's database, keyed
/// `role@database:setting` (`eventstore@eventstore:enable_indexscan` →
/// `"off"`), `*` for every role or every database.
///
/// Only what is not at PostgreSQL's default is returned: a storage
/// parameter when `pg_class.reloptions` names it (even at a value equal to
/// the built-in one, since an explicit value no longer follows the server
/// setting), a statistics target when it is neither -1 (up to PostgreSQL
/// 16) nor NULL (17 and later). Values are normalised as the plan's are:
/// booleans `on`/`off` whatever was written (`false`, `of`), numbers their
/// shortest decimal (`5e-2` → `0.05`). Relations resolve through the
/// connection's search_path, as catalog.sql's statements do; a relation
/// that does not exist contributes nothing. Role settings are normalised
/// the same way, with the server's own parameter catalog (read only when
/// there are some). Read the primary or, after it replayed, the replica:
/// the catalog is the same on both.
pub async fn live(client: &Client) -> Result<BTreeMap<String, String>, ReadError> {
    let mut live = read_relations(client).await?;
    let raw = read_role_settings(client).await?;
    if !raw.is_empty() {
        let catalog = Catalog::from_client(client, "the server")
            .await
            .map_err(ReadError::Catalog)?;
        add_role_settings(&mut live, raw, &catalog);
    }
    Ok(live.values)
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
/// transaction sees what catalog.sql changed before it commits); role
/// settings normalised with `catalog`, the server's.
pub async fn read(
    client: &impl GenericClient,
    catalog: &Catalog,
) -> Result<LiveCatalog, ReadError> {
    let mut live = read_relations(client).await?;
    let raw = read_role_settings(client).await?;
    add_role_settings(&mut live, raw, catalog);
    Ok(live)
}

async fn read_role_settings(
    client: &impl GenericClient,
) -> Result<Vec<app_scope::RawSetting>, ReadError> {
    app_scope::read_raw(client)
        .await
        .map_err(|source| ReadError::Query {
            what: "the role settings (pg_db_role_setting)",
            source,
        })
}

fn add_role_settings(live: &mut LiveCatalog, raw: Vec<app_scope::RawSetting>, catalog: &Catalog) {
    for s in raw {
        let value = app_scope::normalize(catalog, &s.name, &s.raw);
        live.values.insert(s.key, value);
    }
}

async fn read_relations(client: &impl GenericClient) -> Result<LiveCatalog, ReadError> {
    let schema = tune::schema();
    let names: Vec<&str> = schema.iter().map(|s| s.name).collect();
    let err = |what| move |source| ReadError::Query { what, source };
    // quote_ident + to_regclass: the fixed names resolve through the
    // search_path like the unqualified names in catalog.sql.
    let rels = client
        .query(
            "SELECT n.name, c.reloptions FROM unnest($1::text[]) AS n(name) \
             JOIN pg_class c ON c.oid = to_regclass(quote_ident(n.name))",
            &[&names],
        )
        .await
        .map_err(err(
            "the storage parameters of the event-store tables and indexes (pg_class.reloptions)",
        ))?;
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
        .map_err(err(
            "the statistics targets of the event-store tables (pg_attribute.attstattarget)",
        ))?;
    for row in stats {
        let (rel, column, target): (String, String, i32) = (row.get(0), row.get(1), row.get(2));
        live.values
            .insert(format!("{rel}.{column}{STATISTICS}"), target.to_string());
    }
    Ok(live)
}

/// The catalog state `plan` gives the schema and its application role,
/// keyed and normalised as [`live`] reads it: what the plan does not set
/// is absent (at default, or no role setting).
pub fn planned(plan: &Plan) -> BTreeMap<String, String> {
    let schema = tune::schema();
    let mut out = app_scope::planned(plan);
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
    /// `relation.parameter`, `relation.column:statistics` or
    /// `role@database:setting`, as [`live`].
    pub key: String,
    /// The table or index, or `role R in database D` for a role setting.
    pub relation: String,
    /// The storage parameter, `column statistics`, or the role setting.
    pub parameter: String,
    /// The value; `default` when PostgreSQL's default applies, `not set`
    /// for a role setting there is none of.
    pub live: String,
    pub planned: String,
}

/// Live against planned, for the relations that exist and the role
/// settings of `scope` (the plan's application role in its database, the
/// only ones catalog.sql changes): what catalog.sql would change (before
/// it runs), or what it failed to (after).
pub fn diff(
    planned: &BTreeMap<String, String>,
    live: &LiveCatalog,
    scope: &AppScope,
) -> Vec<CatalogChange> {
    let keys: BTreeSet<&String> = planned.keys().chain(live.values.keys()).collect();
    let mut changes: Vec<CatalogChange> = keys
        .into_iter()
        .filter_map(|key| {
            let (relation, parameter) = match scope.setting(key) {
                Some(setting) => (scope.describe(), setting.to_string()),
                // Another scope's role setting: not the profile's.
                None if app_scope::split_key(key).is_some() => return None,
                None => {
                    let (relation, parameter) = split_key(key);
                    if !live.present.contains(relation) {
                        return None;
                    }
                    (relation.to_string(), parameter)
                }
            };
            let (l, p) = (live.values.get(key), planned.get(key));
            (l != p).then(|| CatalogChange {
                key: key.clone(),
                relation,
                parameter,
                live: shown(l, key),
                planned: shown(p, key),
            })
        })
        .collect();
    // The schema's order (tables, then their indexes, then the role's
    // settings) reads better than the alphabet.
    let schema = tune::schema();
    let rank = |r: &str| {
        schema
            .iter()
            .position(|s: &SchemaRelation| s.name == r)
            .unwrap_or(schema.len())
    };
    changes.sort_by_key(|c| rank(&c.relation));
    changes
}

/// What of `live` a profile owns, for a backup: the relations' state and
/// the role settings of `scope`.
pub fn owned_state(live: &LiveCatalog, scope: &AppScope) -> BTreeMap<String, String> {
    live.values
        .iter()
        .filter(|(k, _)| scope.setting(k).is_some() || app_scope::split_key(k).is_none())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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
        None if app_scope::split_key(key).is_some() => "not set".into(),
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
    catalog: &Catalog,
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
    let live = read(&tx, catalog).await?;
    let wrong = diff(&planned(plan), &live, &AppScope::of(plan));
    if !wrong.is_empty() {
        tx.rollback().await.ok();
        anyhow::bail!(
            "catalog.sql ran on {server}, but the catalog did not end up as profile {} plans it, so none of it was kept:\n  {}\nA planned value that is missing means a catalog.sql.j2 from --templates leaves it out (compare with `estune render -o DIR`); a live value planned as default that stays is one catalog.sql does not reset: RESET it by hand (ALTER TABLE or ALTER INDEX … RESET (name), ALTER ROLE … IN DATABASE … RESET name)",
            plan.profile,
            describe(&wrong).join("\n  ")
        );
    }
    tx.commit()
        .await
        .with_context(|| format!("committing catalog.sql on {server}"))
}
