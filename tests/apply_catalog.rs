//! Profile switching is exact on the catalog: on a managed local pair with
//! the event-store schema, eventstore → stock → eventstore leaves exactly
//! each profile's storage parameters and statistics targets, on the
//! primary and (after replay) the replica, whatever was there before; a
//! hand change is drift for `health` and a change for `apply --dry-run`;
//! and a catalog.sql that does not produce the plan's catalog is not kept
//! and the apply rolls back. The settings of the application role in its
//! database are owned the same way (tests/apply_role_settings.rs).

mod support;

use estune::apply::catalog;
use serde_json::Value;
use std::collections::BTreeMap;
use support::{client, TestCluster};

type State = BTreeMap<String, String>;

/// The catalog state `profile` plans for PostgreSQL `major`.
fn planned(profile: &str, major: u32) -> State {
    let p = estune::profile::load(profile, None).unwrap();
    let cat = estune::catalog::Catalog::builtin(major).unwrap();
    let res = || estune::tune::Resources::fixed(4 << 30, 2.0, "test");
    let plan = estune::tune::plan(&p, res(), res(), &estune::inputs::target(&cat)).unwrap();
    catalog::planned(&plan)
}

/// The live state of both servers, the replica once it has replayed.
async fn live_both(c: &TestCluster) -> [State; 2] {
    c.wait_replayed().await;
    let p = client(&c.eventstore_url("primary")).await;
    let r = client(&c.eventstore_url("replica")).await;
    [
        catalog::live(&p).await.unwrap(),
        catalog::live(&r).await.unwrap(),
    ]
}

/// pg_class.reloptions and attstattarget read directly, not through
/// `catalog::live`: entries that are set, as PostgreSQL keeps them.
async fn raw(url: &str) -> Vec<String> {
    let c = client(url).await;
    let rows = c
        .query(
            "SELECT c.relname || ' ' || array_to_string(c.reloptions, ',') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.reloptions IS NOT NULL \
             UNION ALL \
             SELECT c.relname || '.' || a.attname || ' ' || a.attstattarget \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND a.attnum > 0 \
               AND coalesce(a.attstattarget, -1) <> -1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

fn apply(c: &TestCluster, profile: &str, extra: &[&str]) -> String {
    let mut args = vec!["apply", "--profile", profile, "--memory", "4GiB"];
    args.extend_from_slice(extra);
    c.ok(&args)
}

/// The pair's `catalog_drift` finding from `estune health`.
fn catalog_finding(c: &TestCluster, extra: &[&str]) -> Value {
    let mut args = vec!["health", "--format", "json"];
    args.extend_from_slice(extra);
    let out = c.run(&args);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let hits: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "catalog_drift")
        .collect();
    assert_eq!(hits.len(), 1, "{:#}", doc["findings"]);
    hits[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg15_profile_switching_is_exact() {
    switching_is_exact(15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg18_profile_switching_is_exact() {
    switching_is_exact(18).await;
}

async fn switching_is_exact(major: u32) {
    let c = TestCluster::new(&format!("catalog{major}"));
    let v = major.to_string();
    c.up(&["--profile", "stock", "--pg-version", &v, "--memory", "4GiB"]);
    c.install_schema().await;
    schema_is_the_catalogs(&c).await;
    let primary_db = c.eventstore_url("primary");

    // Left behind by hand, on relations and columns no profile tunes:
    // applying a profile must take them away too.
    client(&primary_db)
        .await
        .batch_execute(
            "ALTER TABLE snapshots SET (toast_tuple_target = 256);
             ALTER INDEX events_pkey SET (fillfactor = 70);
             ALTER TABLE events ALTER COLUMN metadata SET STATISTICS 50;",
        )
        .await
        .unwrap();

    let eventstore = planned("eventstore", major);
    for (key, want) in [
        ("events.fillfactor", "100"),
        ("idx_events_payload_gin.fastupdate", "off"),
        ("idx_events_metadata_gin.fastupdate", "off"),
        ("snapshots.autovacuum_vacuum_scale_factor", "0.05"),
        ("events.payload:statistics", "200"),
    ] {
        assert_eq!(eventstore.get(key).map(String::as_str), Some(want), "{key}");
    }
    assert!(planned("stock", major).is_empty());

    let dry = apply(&c, "eventstore", &["--dry-run"]);
    assert!(
        dry.contains("idx_events_payload_gin") && dry.contains("catalog.sql changes these"),
        "{dry}"
    );
    for round in ["first", "second"] {
        apply(&c, "eventstore", &[]);
        for (server, got) in ["primary", "replica"].iter().zip(live_both(&c).await) {
            assert_eq!(got, eventstore, "eventstore ({round}) on the {server}");
        }
        let raw_es = raw(&primary_db).await;
        assert!(
            raw_es
                .iter()
                .any(|r| r == "idx_events_payload_gin fastupdate=off")
                && !raw_es.iter().any(|r| r.contains("toast_tuple_target")),
            "{raw_es:?}"
        );

        let dry = apply(&c, "stock", &["--dry-run"]);
        assert!(
            dry.contains("fastupdate") && dry.contains("default"),
            "{dry}"
        );
        apply(&c, "stock", &[]);
        for (server, got) in ["primary", "replica"].iter().zip(live_both(&c).await) {
            assert_eq!(got, State::new(), "stock ({round}) on the {server}");
        }
        assert_eq!(raw(&primary_db).await, Vec::<String>::new());
        assert_eq!(
            raw(&c.eventstore_url("replica")).await,
            Vec::<String>::new()
        );
        let ok = catalog_finding(&c, &[]);
        assert_eq!(ok["status"], "OK", "{ok:#}");
    }

    apply(&c, "eventstore", &[]);
    assert_eq!(live_both(&c).await[1], eventstore);
    hand_change_is_drift(&c, &primary_db).await;
    let mut by_hand = eventstore.clone();
    by_hand.insert("events.fillfactor".into(), "50".into());
    by_hand.insert("events.payload:statistics".into(), "500".into());
    assert_eq!(live_both(&c).await, [by_hand.clone(), by_hand.clone()]);
    apply(&c, "eventstore", &[]);
    assert_eq!(
        live_both(&c).await,
        [eventstore.clone(), eventstore.clone()]
    );
    assert_eq!(catalog_finding(&c, &[])["status"], "OK");

    // Rollback undoes the catalog too: first to the hand-changed state the
    // last apply found, then to stock's, from before the apply before.
    c.ok(&["apply", "--rollback"]);
    assert_eq!(live_both(&c).await, [by_hand.clone(), by_hand]);
    c.ok(&["apply", "--rollback"]);
    assert_eq!(live_both(&c).await, [State::new(), State::new()]);
    let status = c.ok(&["cluster", "status"]);
    assert!(status.contains("profile stock"), "{status}");
    assert_eq!(catalog_finding(&c, &[])["status"], "OK");
}

/// The relations of events and snapshots in the database are exactly the
/// ones catalog.sql owns: a new index in the schema must reach the list.
async fn schema_is_the_catalogs(c: &TestCluster) {
    let p = client(&c.eventstore_url("primary")).await;
    let rows = p
        .query(
            "SELECT c.relname::text FROM pg_class c \
             WHERE c.oid IN ('events'::regclass, 'snapshots'::regclass) \
                OR c.oid IN (SELECT indexrelid FROM pg_index \
                             WHERE indrelid IN ('events'::regclass, 'snapshots'::regclass)) \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let live: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let mut owned: Vec<String> = estune::tune::schema()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    owned.sort();
    assert_eq!(live, owned);
}

async fn hand_change_is_drift(c: &TestCluster, primary_db: &str) {
    client(primary_db)
        .await
        .batch_execute(
            "ALTER TABLE events SET (fillfactor = 50);
             ALTER TABLE events ALTER COLUMN payload SET STATISTICS 500;",
        )
        .await
        .unwrap();
    c.wait_replayed().await;

    let f = catalog_finding(c, &[]);
    let value = f["value"].as_str().unwrap();
    assert_eq!(f["status"], "WARN", "{f:#}");
    assert!(
        value.contains("events fillfactor: live 50, planned 100")
            && value.contains("events payload statistics: live 500, planned 200"),
        "{f:#}"
    );
    assert!(
        f["recommendation"]
            .as_str()
            .unwrap()
            .contains("`estune apply --profile eventstore`"),
        "{f:#}"
    );

    // The same pair given by connection strings, against a named profile.
    let (p, r) = (c.eventstore_url("primary"), c.eventstore_url("replica"));
    let dsn = [
        "--primary",
        &p,
        "--replica",
        &r,
        "--profile",
        "eventstore",
        "--memory",
        "4GiB",
    ];
    let f = catalog_finding(c, &dsn);
    assert_eq!(f["status"], "WARN", "{f:#}");
    assert!(
        f["value"]
            .as_str()
            .unwrap()
            .contains("events fillfactor: live 50, planned 100"),
        "{f:#}"
    );

    // apply --dry-run, on the managed cluster and on the pair given by
    // connection strings, lists exactly the two hand changes.
    let managed = apply(c, "eventstore", &["--dry-run", "--json"]);
    let pair = apply(
        c,
        "eventstore",
        &[&["--dry-run", "--json"][..], &dsn[..4]].concat(),
    );
    for dry in [managed, pair] {
        let doc: Value = serde_json::from_str(&dry).unwrap();
        let changes = doc["report"]["catalog"].as_array().unwrap();
        let rows: Vec<(&str, &str, &str, &str)> = changes
            .iter()
            .map(|c| {
                (
                    c["relation"].as_str().unwrap(),
                    c["parameter"].as_str().unwrap(),
                    c["live"].as_str().unwrap(),
                    c["planned"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("events", "fillfactor", "50", "100"),
                ("events", "payload statistics", "500", "200"),
            ],
            "{dry}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_sql_that_misses_the_plan_is_not_kept_and_apply_rolls_back() {
    let c = TestCluster::new("catalogbad");
    c.up(&[
        "--profile",
        "stock",
        "--pg-version",
        "15",
        "--memory",
        "4GiB",
    ]);
    c.install_schema().await;
    let primary_db = c.eventstore_url("primary");

    // A template that changes the catalog, but not into the plan's.
    let templates = c.state_dir().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("catalog.sql.j2"),
        "ALTER TABLE events SET (fillfactor = 42);\n",
    )
    .unwrap();
    let out = c.run(&[
        "apply",
        "--profile",
        "eventstore",
        "--memory",
        "4GiB",
        "--templates",
        templates.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("was rolled back")
            && err.contains("events fillfactor: live 42, planned 100")
            && err.contains("idx_events_payload_gin fastupdate: live default, planned off"),
        "{err}"
    );

    // The catalog is as it was, and so is the configuration.
    assert_eq!(raw(&primary_db).await, Vec::<String>::new());
    let p = client(&c.url("primary")).await;
    let sb: String = p
        .query_one("SELECT current_setting('shared_buffers')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sb, "128MB");
    let status = c.ok(&["cluster", "status"]);
    assert!(status.contains("profile stock"), "{status}");
}
