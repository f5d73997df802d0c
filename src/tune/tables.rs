//! Catalog tuning of the event-store schema: storage parameters of the
//! append-only events table and its GIN indexes, statistics targets, and
//! the profile's own per-table and per-index settings over them.

use super::plan::{RelSetting, RelationKind as PlanKind, RelationPlan, Source};
use super::reloptions::{self, RelKind};
use super::TuneError;
use crate::profile::{Method, Profile, Workload};
use crate::value::Value;

fn index_kind(name: &str) -> (RelKind, &'static str) {
    match name {
        "idx_events_payload_gin" | "idx_events_metadata_gin" => (RelKind::Gin, "events"),
        n if n.starts_with("idx_events") || n == "events_pkey" => (RelKind::Btree, "events"),
        _ => (RelKind::Btree, "snapshots"),
    }
}

fn formula(name: &str, value: Value, rule: impl Into<String>) -> RelSetting {
    RelSetting {
        name: name.into(),
        value,
        rule: rule.into(),
        source: Source::Formula,
    }
}

/// The eventstore method's recommendations, before the profile's own.
fn recommended(
    w: &Workload,
    major: u32,
) -> Vec<(PlanKind, &'static str, Vec<RelSetting>, Vec<RelSetting>)> {
    let vacuum_every = ((w.append_rate * 300.0) as i64).clamp(10_000, 1_000_000);
    let analyze_every = ((w.append_rate * 120.0) as i64).clamp(5_000, 500_000);
    let mut events = vec![formula("fillfactor", Value::Int(100),
        "100: events are appended and never updated, so free space reserved for updates would never be used")];
    if major >= 13 {
        events.push(formula("autovacuum_vacuum_insert_threshold", Value::Int(vacuum_every), format!(
            "about 5 minutes of appends ({:.0}/s): vacuum keeps the visibility map current (index-only scans) on a fixed cadence; the default 20% of a growing table makes runs ever rarer and larger",
            w.append_rate)));
        events.push(formula(
            "autovacuum_vacuum_insert_scale_factor",
            Value::Real(0.0),
            "0: the insert threshold alone decides, whatever the table's size",
        ));
    }
    events.push(formula("autovacuum_freeze_min_age", Value::Int(0),
        "0: the insert-driven vacuum freezes the pages it marks all-visible, so the anti-wraparound vacuum of a large events table finds nothing left to do (events are never updated, so nothing is frozen too early)"));
    events.push(formula("autovacuum_analyze_threshold", Value::Int(analyze_every), format!(
        "about 2 minutes of appends ({:.0}/s): boundary-query plans see new streams within minutes; a fixed count keeps runs from growing rarer as the table grows",
        w.append_rate)));
    events.push(formula(
        "autovacuum_analyze_scale_factor",
        Value::Real(0.0),
        "0: the analyze threshold alone decides, whatever the table's size",
    ));
    let mut stats = Vec::new();
    let mut gin = Vec::new();
    if w.jsonb_containment {
        stats.push(formula("payload", Value::Int(200),
            "200 (default 100): @> estimates are drawn from this sample; at the default they swung between 100 and 30,312 rows for the same reader across ANALYZE runs"));
        gin.push(formula("fastupdate", Value::Bool(false),
            "off: with the pending list on, every boundary query scans it too; measured here a 60 s command run fell from ~700 to ~120 tps as it grew to 132 pages, while fastupdate=off held ~1,100 tps"));
    }
    let meta_gin = vec![formula("fastupdate", Value::Bool(false),
        "off: nothing queries metadata, but a backend whose append overflows the pending list flushes it inline, a latency spike on that append")];
    let snapshots = vec![formula("autovacuum_vacuum_scale_factor", Value::Real(0.05),
        "0.05: every snapshot save updates its row; vacuum at 5% dead rows keeps this small, hot table and its indexes compact")];
    vec![
        (PlanKind::Table, "events", events, stats),
        (PlanKind::Table, "snapshots", snapshots, vec![]),
        (PlanKind::Index, "idx_events_payload_gin", gin, vec![]),
        (PlanKind::Index, "idx_events_metadata_gin", meta_gin, vec![]),
    ]
}

fn entry(rels: &mut Vec<RelationPlan>, kind: PlanKind, name: &str) -> usize {
    if let Some(i) = rels.iter().position(|r| r.name == name) {
        return i;
    }
    let table = (kind == PlanKind::Index).then(|| index_kind(name).1.to_string());
    rels.push(RelationPlan {
        kind,
        name: name.into(),
        table,
        options: vec![],
        statistics: vec![],
    });
    rels.len() - 1
}

fn upsert(list: &mut Vec<RelSetting>, s: RelSetting) {
    match list.iter_mut().find(|x| x.name == s.name) {
        Some(x) => *x = s,
        None => list.push(s),
    }
}

/// Builds the relation plans: formulas (eventstore only), then the
/// profile's settings over them, each checked for name, type and range.
pub fn plan(profile: &Profile, major: u32) -> Result<Vec<RelationPlan>, TuneError> {
    let mut rels: Vec<RelationPlan> = Vec::new();
    if profile.method == Method::Eventstore {
        for (kind, name, options, statistics) in recommended(&profile.primary.workload, major) {
            if options.is_empty() && statistics.is_empty() {
                continue;
            }
            let table = (kind == PlanKind::Index).then(|| index_kind(name).1.to_string());
            rels.push(RelationPlan {
                kind,
                name: name.into(),
                table,
                options,
                statistics,
            });
        }
    }
    let mut pending = Vec::new();
    for (table, t) in &profile.tables {
        for (opt, v) in &t.options {
            pending.push((
                PlanKind::Table,
                RelKind::Table,
                table.clone(),
                opt.clone(),
                v.clone(),
            ));
        }
        let i = entry(&mut rels, PlanKind::Table, table);
        for (col, target) in &t.statistics {
            // Statistics targets were range-checked when the profile loaded.
            let s = RelSetting {
                name: col.clone(),
                value: Value::Int(target.value),
                rule: "override in the profile".into(),
                source: Source::Override {
                    at: target.at.clone(),
                    formula: None,
                },
            };
            upsert(&mut rels[i].statistics, s);
        }
    }
    for (index, opts) in &profile.indexes {
        for (opt, v) in opts {
            pending.push((
                PlanKind::Index,
                index_kind(index).0,
                index.clone(),
                opt.clone(),
                v.clone(),
            ));
        }
    }
    for (kind, relkind, rel, opt, v) in pending {
        let value = reloptions::check(relkind, &opt, &v.value, major).map_err(|message| {
            TuneError::Reloption {
                at: v.at.to_string(),
                message,
            }
        })?;
        let i = entry(&mut rels, kind, &rel);
        let formula = rels[i]
            .options
            .iter()
            .find(|s| s.name == opt)
            .map(|s| format!("{} ({})", s.value, s.rule));
        upsert(
            &mut rels[i].options,
            RelSetting {
                name: opt,
                value,
                rule: "override in the profile".into(),
                source: Source::Override {
                    at: v.at.clone(),
                    formula,
                },
            },
        );
    }
    rels.retain(|r| !(r.options.is_empty() && r.statistics.is_empty()));
    Ok(rels)
}

/// One relation of the event-store schema, as catalog.sql owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaRelation {
    pub name: &'static str,
    pub kind: PlanKind,
    pub relkind: RelKind,
    /// The columns that take a statistics target (none for an index: only
    /// expression columns of an index have one, and these have none).
    pub columns: &'static [&'static str],
}

/// Every table and index of the event-store schema, tables first, in the
/// order the profile model lists them. Relation, column and parameter
/// names in catalog.sql and in the live reads come from here and from
/// `reloptions`, never from text a user typed.
pub fn schema() -> Vec<SchemaRelation> {
    let tables = crate::profile::TABLES.iter().map(|t| SchemaRelation {
        name: t,
        kind: PlanKind::Table,
        relkind: RelKind::Table,
        columns: crate::profile::COLUMNS
            .iter()
            .find(|(n, _)| n == t)
            .map(|(_, c)| *c)
            .unwrap_or_default(),
    });
    let indexes = crate::profile::INDEXES.iter().map(|i| SchemaRelation {
        name: i,
        kind: PlanKind::Index,
        relkind: index_kind(i).0,
        columns: &[],
    });
    tables.chain(indexes).collect()
}

/// The whole catalog state a plan gives one relation of the schema: its
/// own settings, and everything else back at PostgreSQL's default.
#[derive(Debug, Clone)]
pub struct OwnedRelation<'a> {
    pub schema: SchemaRelation,
    /// Storage parameters the plan sets, in the plan's order.
    pub options: &'a [RelSetting],
    /// Statistics targets the plan sets.
    pub statistics: &'a [RelSetting],
    /// Every other storage parameter the target major has for this kind.
    pub reset: Vec<&'static str>,
    /// Every other column: back to default_statistics_target (-1).
    pub default_statistics: Vec<&'static str>,
}

/// Every relation of the schema with what the plan sets on it and what it
/// resets, for `major`. Refuses a plan whose relations, parameters or
/// columns are not the schema's (plans built by `tune` never are; the
/// check keeps names that reach SQL to the fixed lists).
pub fn owned(relations: &[RelationPlan], major: u32) -> Result<Vec<OwnedRelation<'_>>, String> {
    for r in relations {
        let Some(s) = schema().into_iter().find(|s| s.name == r.name) else {
            return Err(format!(
                "`{}` is not a relation of the event-store schema",
                r.name
            ));
        };
        let known = reloptions::names_in(s.relkind, major);
        if let Some(o) = r.options.iter().find(|o| !known.contains(&o.name.as_str())) {
            return Err(format!(
                "`{}` is not a storage parameter of {} ({}) in PostgreSQL {major}",
                o.name,
                r.name,
                reloptions::kind_name(s.relkind)
            ));
        }
        if let Some(c) = r
            .statistics
            .iter()
            .find(|c| !s.columns.contains(&c.name.as_str()))
        {
            return Err(format!("{} has no column `{}`", r.name, c.name));
        }
    }
    Ok(schema()
        .into_iter()
        .map(|s| {
            let plan = relations.iter().find(|r| r.name == s.name);
            let options = plan.map(|r| r.options.as_slice()).unwrap_or_default();
            let statistics = plan.map(|r| r.statistics.as_slice()).unwrap_or_default();
            OwnedRelation {
                schema: s,
                options,
                statistics,
                reset: reloptions::names_in(s.relkind, major)
                    .into_iter()
                    .filter(|n| !options.iter().any(|o| o.name == *n))
                    .collect(),
                default_statistics: s
                    .columns
                    .iter()
                    .copied()
                    .filter(|c| !statistics.iter().any(|t| t.name == *c))
                    .collect(),
            }
        })
        .collect())
}
