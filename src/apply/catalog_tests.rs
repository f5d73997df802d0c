//! The catalog state in one form: what plans give the schema and the
//! application role, and live against planned.

use super::app_scope::AppScope;
use super::catalog::*;
use crate::catalog::Catalog;
use crate::tune::Resources;
use crate::tune::{self, reloptions, Plan};
use std::collections::BTreeMap;

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
    let scope = scope();
    assert_eq!(diff(&planned, &same, &scope), vec![]);

    let mut hand = same.clone();
    hand.values.insert("events.fillfactor".into(), "50".into());
    hand.values.remove("events.payload:statistics");
    hand.values
        .insert("events.event_type:statistics".into(), "500".into());
    hand.values.insert(
        "idx_events_payload_gin.gin_pending_list_limit".into(),
        "64".into(),
    );
    let got: Vec<(String, String, String)> = diff(&planned, &hand, &scope)
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
    assert!(diff(&planned, &none, &scope).is_empty());
}

fn scope() -> AppScope {
    AppScope {
        role: "eventstore".into(),
        database: "eventstore".into(),
    }
}

#[test]
fn role_settings_of_the_applications_scope_are_planned_and_compared() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.toml");
    std::fs::write(
        &f,
        "extends = \"stock\"\n[application.settings]\nenable_indexscan = false\nwork_mem = \"65536kB\"\n",
    )
    .unwrap();
    let planned = planned(&plan(f.to_str().unwrap(), 15));
    assert_eq!(
        planned,
        map(&[
            ("eventstore@eventstore:enable_indexscan", "off"),
            ("eventstore@eventstore:work_mem", "64MB"),
        ])
    );
    // What reaches the database's sessions from other scopes is read,
    // but catalog.sql does not own it: no change, and not in a backup.
    let live = LiveCatalog {
        present: ["events".to_string()].into(),
        values: map(&[
            ("events.fillfactor", "50"),
            ("eventstore@eventstore:enable_seqscan", "off"),
            ("eventstore@eventstore:work_mem", "64MB"),
            ("eventstore@*:enable_bitmapscan", "off"),
            ("*@eventstore:jit", "off"),
            ("other@eventstore:jit", "on"),
            // A role may be named like a relation's key.
            ("events.fillfactor@eventstore:jit", "on"),
        ]),
    };
    let got: Vec<(String, String, String, String)> = diff(&planned, &live, &scope())
        .into_iter()
        .map(|c| (c.relation, c.parameter, c.live, c.planned))
        .collect();
    let role = "role eventstore in database eventstore";
    let want = [
        ("events", "fillfactor", "50", "default"),
        (role, "enable_indexscan", "not set", "off"),
        (role, "enable_seqscan", "off", "not set"),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        owned_state(&live, &scope()),
        map(&[
            ("events.fillfactor", "50"),
            ("eventstore@eventstore:enable_seqscan", "off"),
            ("eventstore@eventstore:work_mem", "64MB"),
        ])
    );
    // Another role, or the same role in another database, owns other keys.
    let elsewhere = AppScope {
        role: "eventstore".into(),
        database: "other".into(),
    };
    assert_eq!(diff(&planned, &live, &elsewhere).len(), 1);
}
