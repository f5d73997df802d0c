//! The application role's settings in its database (`[application.settings]`,
//! ALTER ROLE … IN DATABASE … SET) are owned like the catalog of the event
//! tables: on a managed local pair, with-settings → stock → with-settings
//! leaves exactly the plan's role settings (none after stock) on the
//! primary and, after replay, the replica; new connections of the role get
//! them while open ones keep theirs; a hand change is drift for `health`
//! and a change for `apply --dry-run`; rollback puts the previous ones
//! back; settings of wider scopes are left alone; and a profile that puts
//! a server-wide parameter there is refused before anything changes.

mod support;

use estune::apply::catalog;
use serde_json::Value;
use std::collections::BTreeMap;
use support::{client, TestCluster};

type State = BTreeMap<String, String>;

const KEY: &str = "eventstore@eventstore:";

const WITH_SETTINGS: &str = r#"extends = "eventstore"
[application.settings]
enable_indexscan = false
plan_cache_mode = "force_custom_plan"
# context superuser: honoured for a role that is not one
log_min_duration_statement = "250ms"
"#;

/// pg_db_role_setting of role eventstore in database eventstore, as
/// PostgreSQL keeps it, read directly rather than through `catalog::live`.
async fn raw(url: &str) -> Vec<String> {
    let c = client(url).await;
    let rows = c
        .query(
            "SELECT unnest(s.setconfig) FROM pg_db_role_setting s \
             JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d ON d.oid = s.setdatabase \
             WHERE r.rolname = 'eventstore' AND d.datname = 'eventstore' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// The raw settings of both servers, the replica once it has replayed.
async fn raw_both(c: &TestCluster) -> [Vec<String>; 2] {
    c.wait_replayed().await;
    [
        raw(&c.eventstore_url("primary")).await,
        raw(&c.eventstore_url("replica")).await,
    ]
}

/// `catalog::live` of the primary, its role-setting keys only.
async fn live_roles(c: &TestCluster) -> State {
    let p = client(&c.eventstore_url("primary")).await;
    let all = catalog::live(&p).await.unwrap();
    all.into_iter().filter(|(k, _)| k.contains('@')).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What a new connection of the application role shows for `setting`.
async fn show(url: &str, setting: &str) -> String {
    let c = client(url).await;
    show_on(&c, setting).await
}

async fn show_on(c: &tokio_postgres::Client, setting: &str) -> String {
    c.query_one("SELECT current_setting($1)", &[&setting])
        .await
        .unwrap()
        .get(0)
}

fn app_url(c: &TestCluster, role: &str) -> String {
    c.ok(&["cluster", "url", role, "--with-password"])
        .trim()
        .to_string()
}

/// estune on the cluster, run in its state directory, whose `profiles/`
/// holds the test's profiles: `apply` and `health` find them by name
/// there (health reloads the profile last applied by its name).
fn run(c: &TestCluster, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_estune"))
        .current_dir(c.state_dir())
        .env_remove("ESTUNE_PROFILES")
        .args(args)
        .args([
            "--cluster",
            &c.name,
            "--state-dir",
            c.state_dir().to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

fn ok(c: &TestCluster, args: &[&str]) -> String {
    let out = run(c, args);
    assert!(
        out.status.success(),
        "estune {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn finding(c: &TestCluster) -> Value {
    let out = run(c, &["health", "--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "catalog_drift")
        .cloned()
        .unwrap_or_else(|| panic!("no catalog_drift in {:#}", doc["findings"]))
}

/// The finding says the catalog matches the profile (checked, not a note).
fn matches(c: &TestCluster) {
    let f = finding(c);
    assert!(
        f["status"] == "OK" && f["value"].as_str().unwrap().contains("match profile"),
        "{f:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg15_role_settings_are_owned_like_the_catalog() {
    owned_like_the_catalog(15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg18_role_settings_are_owned_like_the_catalog() {
    owned_like_the_catalog(18).await;
}

async fn owned_like_the_catalog(major: u32) {
    let c = TestCluster::new(&format!("roleset{major}"));
    let v = major.to_string();
    c.up(&["--profile", "stock", "--pg-version", &v, "--memory", "4GiB"]);
    c.install_schema().await;
    let profiles = c.state_dir().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(profiles.join("with-settings.toml"), WITH_SETTINGS).unwrap();
    std::fs::write(
        profiles.join("other-settings.toml"),
        "extends = \"eventstore\"\n[application.settings]\nenable_indexscan = true\n",
    )
    .unwrap();
    let with = "with-settings";
    let apply = |profile: &str, extra: &[&str]| {
        let mut args = vec!["apply", "--profile", profile, "--memory", "4GiB"];
        args.extend_from_slice(extra);
        ok(&c, &args)
    };

    // Left by hand: one in the profile's scope (apply takes it away), one
    // for the role in every database (not the profile's: left alone).
    client(&c.eventstore_url("primary"))
        .await
        .batch_execute(
            "ALTER ROLE eventstore IN DATABASE eventstore SET enable_seqscan = off;
             ALTER ROLE eventstore SET work_mem = '8MB';",
        )
        .await
        .unwrap();
    let planned = strings(&[
        "enable_indexscan=off",
        "log_min_duration_statement=250ms",
        "plan_cache_mode=force_custom_plan",
    ]);
    let dry = apply(with, &["--dry-run"]);
    assert!(
        dry.contains("role eventstore in database eventstore")
            && dry.contains("enable_indexscan")
            && dry.contains("enable_seqscan")
            && !dry
                .lines()
                .any(|l| l.contains("role eventstore") && l.contains("work_mem"))
            && dry.contains("reconnect the application"),
        "{dry}"
    );

    let out = apply(with, &[]);
    assert!(
        out.contains("new connections of eventstore get them")
            && out.contains("reconnect the application"),
        "{out}"
    );
    for (server, got) in ["primary", "replica"].iter().zip(raw_both(&c).await) {
        assert_eq!(got, planned, "with-settings on the {server}");
    }
    let want: State = [
        ("enable_indexscan", "off"),
        ("log_min_duration_statement", "250ms"),
        ("plan_cache_mode", "force_custom_plan"),
    ]
    .iter()
    .map(|(k, v)| (format!("{KEY}{k}"), v.to_string()))
    .chain([("eventstore@*:work_mem".to_string(), "8MB".to_string())])
    .collect();
    assert_eq!(live_roles(&c).await, want);
    recorded_for_bench_results(&c, &want).await;
    // A new connection of the role gets them, on both servers; one that
    // was open keeps what it started with.
    for role in ["primary", "replica"] {
        let url = app_url(&c, role);
        assert_eq!(show(&url, "enable_indexscan").await, "off", "{role}");
        assert_eq!(show(&url, "log_min_duration_statement").await, "250ms");
        assert_eq!(show(&url, "plan_cache_mode").await, "force_custom_plan");
    }
    matches(&c);

    // Only the role settings change, so the servers only reload: a
    // connection open from before keeps what it started with.
    let opened_before = client(&app_url(&c, "primary")).await;
    let out = apply("other-settings", &[]);
    assert!(
        out.contains("reconnect the application") && !out.contains("restarted"),
        "{out}"
    );
    let on = strings(&["enable_indexscan=on"]);
    assert_eq!(raw_both(&c).await, [on.clone(), on]);
    assert_eq!(show_on(&opened_before, "enable_indexscan").await, "off");
    assert_eq!(
        show_on(&opened_before, "plan_cache_mode").await,
        "force_custom_plan"
    );
    let reconnected = client(&app_url(&c, "primary")).await;
    assert_eq!(show_on(&reconnected, "enable_indexscan").await, "on");
    assert_eq!(show_on(&reconnected, "plan_cache_mode").await, "auto");

    for round in ["first", "second"] {
        let out = apply("stock", &[]);
        assert!(out.contains("reconnect the application"), "{out}");
        for (server, got) in ["primary", "replica"].iter().zip(raw_both(&c).await) {
            assert_eq!(got, Vec::<String>::new(), "stock ({round}) on the {server}");
        }
        assert_eq!(
            show(&app_url(&c, "primary"), "enable_indexscan").await,
            "on"
        );
        let again = apply("stock", &["--dry-run"]);
        assert!(!again.contains("reconnect"), "{again}");
        matches(&c);

        apply(with, &[]);
        for (server, got) in ["primary", "replica"].iter().zip(raw_both(&c).await) {
            assert_eq!(got, planned, "with-settings ({round}) on the {server}");
        }
    }
    assert_eq!(
        live_roles(&c)
            .await
            .get("eventstore@*:work_mem")
            .map(String::as_str),
        Some("8MB"),
        "a wider scope is not the profile's"
    );

    // By hand, spelled as PostgreSQL keeps what was written.
    client(&c.eventstore_url("primary"))
        .await
        .batch_execute(
            "ALTER ROLE eventstore IN DATABASE eventstore SET enable_seqscan = false;
             ALTER ROLE eventstore IN DATABASE eventstore SET log_min_duration_statement = 250;",
        )
        .await
        .unwrap();
    c.wait_replayed().await;
    let f = finding(&c);
    assert_eq!(f["status"], "WARN", "{f:#}");
    assert_eq!(
        f["value"],
        "role eventstore in database eventstore enable_seqscan: live off, planned not set",
        "{f:#}"
    );
    let dry = apply(with, &["--dry-run", "--json"]);
    let doc: Value = serde_json::from_str(&dry).unwrap();
    let rows: Vec<(&str, &str, &str, &str)> = doc["report"]["catalog"]
        .as_array()
        .unwrap()
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
        [(
            "role eventstore in database eventstore",
            "enable_seqscan",
            "off",
            "not set"
        )],
        "{dry}"
    );
    assert!(doc["report"]["reconnect"].is_string(), "{dry}");

    apply(with, &[]);
    assert_eq!(raw_both(&c).await, [planned.clone(), planned.clone()]);
    matches(&c);

    // Rollback: first to the hand-changed settings the last apply found
    // (saved normalised, so `false` comes back as `off` and `250` as
    // `250ms`), then to stock's, from before the apply before.
    ok(&c, &["apply", "--rollback"]);
    let by_hand = strings(&[
        "enable_indexscan=off",
        "enable_seqscan=off",
        "log_min_duration_statement=250ms",
        "plan_cache_mode=force_custom_plan",
    ]);
    assert_eq!(raw_both(&c).await, [by_hand.clone(), by_hand]);
    assert_eq!(finding(&c)["status"], "WARN");
    ok(&c, &["apply", "--rollback"]);
    assert_eq!(raw_both(&c).await, [Vec::<String>::new(), Vec::new()]);
    matches(&c);
    let status = ok(&c, &["cluster", "status"]);
    assert!(status.contains("profile stock"), "{status}");
    assert_eq!(
        live_roles(&c).await,
        State::from([("eventstore@*:work_mem".to_string(), "8MB".to_string())])
    );
}

/// What a bench result records of each server (`metadata.target`): the
/// same reading, relations and role settings together.
async fn recorded_for_bench_results(c: &TestCluster, roles: &State) {
    let pair = estune::measure::Pair {
        endpoints: estune::measure::Endpoints {
            app: [Some(app_url(c, "primary")), Some(app_url(c, "replica"))],
            admin: [
                Some(c.eventstore_url("primary")),
                Some(c.eventstore_url("replica")),
            ],
        },
        managed: None,
    };
    c.wait_replayed().await;
    let target = estune::measure::describe(&pair).await.unwrap();
    for server in &target.servers {
        let got: State = server
            .catalog
            .iter()
            .filter(|(k, _)| k.contains('@'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(&got, roles, "{}", server.role);
        assert_eq!(
            server
                .catalog
                .get("idx_events_payload_gin.fastupdate")
                .map(String::as_str),
            Some("off"),
            "{}",
            server.role
        );
    }
}

#[test]
fn server_wide_parameters_are_refused_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(
        &f,
        "extends = \"eventstore\"\n[application.settings]\nshared_buffers = \"1GB\"\nenable_indexscn = false\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_estune"))
        .args([
            "render",
            "--profile",
            f.to_str().unwrap(),
            "--memory",
            "4GiB",
            "--cpus",
            "2",
            "--pg-version",
            "15",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    for want in [
        "bad.toml:3:18 (`application.settings.shared_buffers`): shared_buffers takes effect only when the server starts (context postmaster)",
        "primary.overrides and replica.overrides",
        "bad.toml:4:19 (`application.settings.enable_indexscn`): PostgreSQL 15 has no parameter `enable_indexscn`. Did you mean `enable_indexscan`?",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}
