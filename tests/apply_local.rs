//! `estune apply` on a managed local pair: reload vs restart (postmaster
//! start time tells), rollback, a configuration PostgreSQL rejects, and an
//! unmanaged pair given by connection strings.

mod support;

use support::{client, TestCluster};

/// (postmaster start time, a setting) of both servers.
async fn observe(c: &TestCluster, setting: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    for role in ["primary", "replica"] {
        let cl = client(&c.url(role)).await;
        let row = cl
            .query_one(
                "SELECT pg_postmaster_start_time()::text, current_setting($1)",
                &[&setting],
            )
            .await
            .unwrap();
        out.push((row.get(0), row.get(1)));
    }
    out
}

fn profile(c: &TestCluster, name: &str, body: &str) -> String {
    let p = c.state_dir().join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[tokio::test]
async fn pg15_reload_restart_and_rollback() {
    reload_restart_and_rollback(15).await;
}

#[tokio::test]
async fn pg18_reload_restart_and_rollback() {
    reload_restart_and_rollback(18).await;
}

async fn reload_restart_and_rollback(major: u32) {
    let c = TestCluster::new(&format!("apply{major}"));
    let major = major.to_string();
    c.up(&[
        "--profile",
        "stock",
        "--pg-version",
        &major,
        "--memory",
        "4GiB",
    ]);
    let before = observe(&c, "random_page_cost").await;

    // Only reloadable settings: no server restarts.
    let reload = profile(&c, "reload.toml", "extends = \"stock\"\n[primary.overrides]\nrandom_page_cost = 1.5\n[replica.overrides]\nrandom_page_cost = 1.5\n");
    let out = c.ok(&["apply", "--profile", &reload, "--memory", "4GiB"]);
    assert!(out.contains("reloaded: replica, then primary"), "{out}");
    let after = observe(&c, "random_page_cost").await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.0, a.0, "a reload must not restart the server");
        assert_eq!(a.1, "1.5");
    }

    // shared_buffers and friends: both restart, the primary first because
    // max_connections goes down (100 → 73).
    let out = c.ok(&["apply", "--profile", "eventstore", "--memory", "4GiB"]);
    assert!(out.contains("restarted: primary, then replica"), "{out}");
    let restarted = observe(&c, "shared_buffers").await;
    for (a, r) in after.iter().zip(&restarted) {
        assert_ne!(a.0, r.0, "a restart changes the postmaster start time");
        assert_eq!(r.1, "1GB");
    }
    let again = c.ok(&[
        "apply",
        "--profile",
        "eventstore",
        "--memory",
        "4GiB",
        "--dry-run",
    ]);
    assert!(again.contains("no setting changes"), "{again}");
    // `cluster up` made the event store's tables, so catalog.sql had them
    // to tune: after the apply they already hold eventstore's values.
    assert!(
        again.contains("no catalog changes: the event tables already have this profile's"),
        "{again}"
    );

    // The state records the profile.
    let status = c.ok(&["cluster", "status"]);
    assert!(status.contains("profile eventstore"), "{status}");

    c.ok(&["apply", "--rollback"]);
    let back = observe(&c, "shared_buffers").await;
    assert!(back.iter().all(|(_, v)| v == "128MB"), "{back:?}");
}

#[tokio::test]
async fn rejected_configuration_is_rolled_back() {
    let c = TestCluster::stock("reject");
    let p = client(&c.url("primary")).await;
    p.batch_execute("CREATE TABLE keep (v int); INSERT INTO keep VALUES (42)")
        .await
        .unwrap();

    // The catalog cannot know this library is missing; the server refuses to start.
    let bad = profile(&c, "bad.toml", "extends = \"stock\"\n[primary.overrides]\nshared_preload_libraries = \"no_such_library\"\n[replica.overrides]\nshared_preload_libraries = \"no_such_library\"\n");
    let out = c.run(&["apply", "--profile", &bad, "--memory", "4GiB"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("was rolled back") && err.contains("no_such_library"),
        "{err}"
    );

    let status = c.ok(&["cluster", "status", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
    for node in doc["nodes"].as_array().unwrap() {
        assert_eq!(node["state"], "running", "{status}");
    }
    assert!(
        doc["nodes"][0]["replication"]
            .as_str()
            .unwrap()
            .contains("streaming"),
        "{status}"
    );
    let p = client(&c.url("primary")).await;
    let v: i32 = p.query_one("SELECT v FROM keep", &[]).await.unwrap().get(0);
    assert_eq!(v, 42, "data intact");
}

#[tokio::test]
async fn unmanaged_pair_gets_a_diff_and_alter_system() {
    let c = TestCluster::stock("dsn");
    let (p, r) = (c.url("primary"), c.url("replica"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "apply",
            "--profile",
            "eventstore",
            "--memory",
            "4GiB",
            "--primary",
            &p,
            "--replica",
            &r,
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_estune"))
            .args(&args)
            .output()
            .unwrap()
    };
    let dry = run(&["--dry-run"]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        text.contains("shared_buffers") && text.contains("dry run"),
        "{text}"
    );

    let done = run(&["--alter-system"]);
    let text = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        text.contains("to do: restart the primary") && text.contains("shared_buffers"),
        "{text}"
    );
    let primary = client(&p).await;
    let v: String = primary
        .query_one("SELECT current_setting('random_page_cost')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        v, "1.1",
        "reloadable settings are in effect after the reload"
    );
    let pending: bool = primary
        .query_one(
            "SELECT pending_restart FROM pg_settings WHERE name = 'shared_buffers'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        pending,
        "shared_buffers waits for the restart the user must do"
    );
}
