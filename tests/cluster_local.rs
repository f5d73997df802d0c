//! The local backend end to end, through the CLI: bring-up to streaming,
//! replication of a row, servers never running as root, faults (port in
//! use, a config PostgreSQL rejects halfway through), and down twice.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use support::TestCluster;

/// Server processes whose command line names this directory.
fn server_uids(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    let mut uids = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmd.contains("postgres") && cmd.contains(&needle) {
            if let Ok(status) = std::fs::read_to_string(entry.path().join("status")) {
                if let Some(uid) = status.lines().find_map(|l| l.strip_prefix("Uid:")) {
                    uids.push(uid.split_whitespace().next().unwrap().parse().unwrap());
                }
            }
        }
    }
    uids
}

async fn row_reaches_replica(primary: &str, replica: &str) {
    let p = estune::db::connect(primary, Duration::from_secs(5))
        .await
        .unwrap();
    let r = estune::db::connect(replica, Duration::from_secs(5))
        .await
        .unwrap();
    p.batch_execute("CREATE TABLE t (v text)").await.unwrap();
    let marker = format!("row-{}", std::process::id());
    p.execute("INSERT INTO t VALUES ($1)", &[&marker])
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let seen = r
            .query("SELECT v FROM t WHERE v = $1", &[&marker])
            .await
            .map(|rows| rows.len())
            .unwrap_or(0);
        if seen == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the row did not reach the replica within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pair_comes_up_and_replicates(major: u32) {
    let c = TestCluster::new(&format!("pg{major}"));
    let (p, r) = (support::free_port(), support::free_port());
    let out = c.run(&[
        "cluster",
        "up",
        "--pg-version",
        &major.to_string(),
        "--memory",
        "1GiB",
        "--cpus",
        "2",
        "--port",
        &p.to_string(),
        "--replica-port",
        &r.to_string(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("replication is streaming"), "{err}");

    let status = c.ok(&["cluster", "status", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(doc["nodes"][0]["state"], "running");
    assert!(doc["nodes"][0]["version"]
        .as_str()
        .unwrap()
        .starts_with(&major.to_string()));
    assert!(
        doc["nodes"][0]["replication"]
            .as_str()
            .unwrap()
            .contains("streaming"),
        "{status}"
    );
    let pss = doc["nodes"][0]["runtime"]["memory_usage"]
        .as_u64()
        .unwrap_or(0);
    assert!(pss > 1 << 20, "a running server uses memory: {status}");

    row_reaches_replica(&c.url("primary"), &c.url("replica")).await;

    let uids = server_uids(&c.cluster_dir());
    assert!(uids.len() >= 2, "both servers found");
    assert!(
        uids.iter().all(|u| *u != 0),
        "a PostgreSQL process runs as root: {uids:?}"
    );

    let mode = std::fs::metadata(c.cluster_dir().join("secrets.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let secrets: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(c.cluster_dir().join("secrets.json")).unwrap(),
    )
    .unwrap();
    let plain = c.ok(&["cluster", "url", "primary"]);
    assert_eq!(
        plain.trim(),
        format!("postgresql://eventstore@127.0.0.1:{p}/eventstore")
    );
    for pw in ["superuser", "app", "replication"] {
        let pw = secrets[pw].as_str().unwrap();
        assert!(!plain.contains(pw), "no password unless asked");
        assert!(!c.ok(&["cluster", "status"]).contains(pw));
    }

    c.ok(&["cluster", "down"]);
    assert!(
        server_uids(&c.cluster_dir()).is_empty(),
        "down stops both servers"
    );
    assert!(
        c.cluster_dir().join("pg1/data/PG_VERSION").exists(),
        "down keeps data"
    );
    c.ok(&["cluster", "down"]);
    c.ok(&["cluster", "down", "--purge"]);
    assert!(!c.cluster_dir().exists());
    c.ok(&["cluster", "down", "--purge"]);
}

#[tokio::test]
async fn pg15_pair() {
    pair_comes_up_and_replicates(15).await;
}

#[tokio::test]
async fn pg18_pair() {
    pair_comes_up_and_replicates(18).await;
}

#[test]
fn taken_port_is_refused_before_anything_is_created() {
    let c = TestCluster::new("port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = c.run(&[
        "cluster",
        "up",
        "--pg-version",
        "15",
        "--memory",
        "1GiB",
        "--port",
        &port,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains(&format!("port {port} on 127.0.0.1 is in use")));
    assert!(!c.cluster_dir().join("pg1").exists());
}

#[test]
fn failure_halfway_removes_everything() {
    let c = TestCluster::new("half");
    let profile = c.state_dir().join("bad.toml");
    // The catalog cannot know the library is missing; the server refuses to start.
    std::fs::write(&profile, "extends = \"eventstore\"\n[primary.overrides]\nshared_preload_libraries = \"no_such_library\"\n").unwrap();
    let out = c.run(&[
        "cluster",
        "up",
        "--profile",
        profile.to_str().unwrap(),
        "--pg-version",
        "15",
        "--memory",
        "1GiB",
        "--port",
        &support::free_port().to_string(),
        "--replica-port",
        &support::free_port().to_string(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no_such_library") && err.contains("removing what was created"),
        "{err}"
    );
    assert!(!c.cluster_dir().exists(), "state and data removed");
    assert!(
        server_uids(c.state_dir()).is_empty(),
        "no server left running"
    );
}

#[test]
fn existing_cluster_is_not_overwritten_by_other_flags() {
    let c = TestCluster::new("twice");
    let ports = |c: &TestCluster| {
        let (p, r) = (
            support::free_port().to_string(),
            support::free_port().to_string(),
        );
        c.run(&[
            "cluster",
            "up",
            "--pg-version",
            "15",
            "--memory",
            "1GiB",
            "--port",
            &p,
            "--replica-port",
            &r,
        ])
    };
    assert!(ports(&c).status.success());
    // Other ports are not what the cluster is: refused, naming them.
    let again = ports(&c);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("exists") && err.contains("port "), "{err}");
    // Without such flags, `up` brings the running pair to its state.
    let same = c.run(&["cluster", "up"]);
    let err = String::from_utf8_lossy(&same.stderr);
    assert!(
        same.status.success() && err.contains("running, left as is"),
        "{err}"
    );
}

/// A pair brought up with a profile holds the event store's tables with
/// that profile's catalog tuning from the start: a store seeded before the
/// first `apply` keeps fastupdate off on its GIN indexes, its statistics
/// targets and its autovacuum storage parameters.
#[tokio::test]
async fn the_store_has_the_profiles_catalog_tuning_from_the_start() {
    let c = TestCluster::new("store");
    c.up(&[
        "--profile",
        "eventstore",
        "--pg-version",
        "15",
        "--memory",
        "4GiB",
    ]);
    let db = support::client(&c.eventstore_url("primary")).await;
    let owner: String = db
        .query_one(
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'events'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, "eventstore");
    let before = catalog_tuning(&db).await;
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("idx_events_payload_gin:") && l.contains("fastupdate=off")),
        "{before:?}"
    );
    assert!(
        before.contains(&"payload statistics:200".to_string()),
        "{before:?}"
    );
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("events:") && l.contains("autovacuum_vacuum_insert_threshold")),
        "{before:?}"
    );
    c.ok(&[
        "seed",
        "--events",
        "2000",
        "--books",
        "100",
        "--readers",
        "20",
    ]);
    assert_eq!(
        catalog_tuning(&db).await,
        before,
        "seeding keeps the tuning"
    );
}

/// The storage parameters of `events` and its payload GIN index, and the
/// payload's statistics target, one line each.
async fn catalog_tuning(db: &tokio_postgres::Client) -> Vec<String> {
    let rows = db
        .query(
            "SELECT c.relname::text || ':' || coalesce(array_to_string(c.reloptions, ','), '')
               FROM pg_class c WHERE c.relname IN ('events', 'idx_events_payload_gin')
              UNION ALL
             SELECT 'payload statistics:' || a.attstattarget FROM pg_attribute a
              WHERE a.attrelid = 'events'::regclass AND a.attname = 'payload'
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect()
}
