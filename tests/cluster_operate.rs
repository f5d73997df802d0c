//! Operating the pair end to end, through the CLI, on the local backend
//! (PostgreSQL 15 and 18) and Docker (15): stop and start, kill -9 of
//! either server and `up`, a replica whose slot was dropped and WAL
//! removed and its rebuild, switchover and back, failover and the old
//! primary's rejoin, and a bench run through a switchover that loses no
//! acknowledged event. Every cluster is removed by TestCluster's Drop.

mod support;

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::TestCluster;

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Local(u32),
    Docker,
}

fn up_args(b: Backend) -> Vec<String> {
    let mut a: Vec<String> = ["--memory", "1GiB", "--cpus", "2"]
        .map(String::from)
        .to_vec();
    match b {
        Backend::Local(v) => a.extend([
            "--backend".into(),
            "local".into(),
            "--pg-version".into(),
            v.to_string(),
        ]),
        Backend::Docker => a.extend(["--backend".into(), "docker".into()]),
    }
    a
}

fn status(c: &TestCluster) -> Value {
    serde_json::from_str(&c.ok(&["cluster", "status", "--format", "json"])).unwrap()
}

/// The status row of node `name`.
fn node(c: &TestCluster, name: &str) -> Value {
    status(c)["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no node {name}"))
}

fn err_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Kills a node's postmaster with SIGKILL, as a crash or OOM kill would.
/// Docker: `docker kill`, which the restart policy leaves alone.
fn kill(c: &TestCluster, b: Backend, node: &str) {
    match b {
        Backend::Local(_) => support::kill_postmaster(&c.cluster_dir().join(node).join("data")),
        Backend::Docker => {
            let name = format!("estune-{}-{node}", c.name);
            let out = Command::new("docker")
                .args(["kill", &name])
                .output()
                .unwrap();
            assert!(out.status.success(), "docker kill: {}", err_of(&out));
        }
    }
    let start = Instant::now();
    while node_state(c, node) != "crashed" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{node} never showed as crashed: {}",
            status(c)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `docker inspect -f FORMAT` of a node's container.
fn inspect(c: &TestCluster, node: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args([
            "inspect",
            "-f",
            format,
            &format!("estune-{}-{node}", c.name),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn node_state(c: &TestCluster, name: &str) -> String {
    node(c, name)["state"].as_str().unwrap().to_string()
}

async fn client(url: &str) -> tokio_postgres::Client {
    estune::db::connect(url, Duration::from_secs(5))
        .await
        .unwrap()
}

async fn write(c: &TestCluster, mark: &str) {
    let p = client(&c.url("primary")).await;
    p.batch_execute("CREATE TABLE IF NOT EXISTS ops_marks (v text)")
        .await
        .unwrap();
    p.execute("INSERT INTO ops_marks VALUES ($1)", &[&mark])
        .await
        .unwrap();
}

/// Waits until the replica has the row.
async fn on_replica(c: &TestCluster, mark: &str) {
    let r = client(&c.url("replica")).await;
    let start = Instant::now();
    loop {
        let n = r
            .query("SELECT 1 FROM ops_marks WHERE v = $1", &[&mark])
            .await
            .map(|rows| rows.len())
            .unwrap_or(0);
        if n == 1 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "`{mark}` did not reach the replica: {}",
            status(c)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn streaming(c: &TestCluster) -> bool {
    let s = status(c);
    s["nodes"][0]["role"] == "primary"
        && s["nodes"][0]["replication"]
            .as_str()
            .unwrap_or("")
            .contains("streaming")
        && s["nodes"][1]["replication"]
            .as_str()
            .unwrap_or("")
            .contains("receiver streaming")
}

fn wait_streaming(c: &TestCluster) {
    let start = Instant::now();
    while !streaming(c) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not streaming: {}",
            status(c)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn roles(c: &TestCluster) -> (String, String) {
    let s = status(c);
    let name = |i: usize| s["nodes"][i]["name"].as_str().unwrap().to_string();
    assert_eq!(s["nodes"][0]["role"], "primary");
    (name(0), name(1))
}

async fn operate(tag: &str, b: Backend) {
    let c = TestCluster::new(tag);
    let args = up_args(b);
    c.up(&args.iter().map(String::as_str).collect::<Vec<_>>());
    write(&c, "r0").await;

    // Stop and start keep the data and stream again; `up` on the existing
    // cluster says what it did.
    let out = c.ok(&["cluster", "stop"]);
    assert!(out.contains("stopped"), "{out}");
    assert_eq!(node_state(&c, "pg1"), "stopped");
    assert_eq!(node_state(&c, "pg2"), "stopped");
    let out = c.run(&["cluster", "start"]);
    assert!(out.status.success(), "{}", err_of(&out));
    assert!(
        err_of(&out).contains("stopped; starting it"),
        "{}",
        err_of(&out)
    );
    wait_streaming(&c);
    on_replica(&c, "r0").await;
    let again = c.run(&["cluster", "up"]);
    assert!(
        err_of(&again).contains("running, left as is"),
        "{}",
        err_of(&again)
    );
    let conflict = c.run(&["cluster", "up", "--profile", "stock"]);
    assert_eq!(conflict.status.code(), Some(2), "{}", err_of(&conflict));
    assert!(
        err_of(&conflict).contains("--profile stock"),
        "{}",
        err_of(&conflict)
    );

    // kill -9 of either server: `crashed`, and `up` brings it back.
    for victim in ["pg2", "pg1"] {
        kill(&c, b, victim);
        let row = node(&c, victim);
        assert!(row["problem"].as_str().is_some(), "{row}");
        let out = c.run(&["cluster", "up"]);
        assert!(out.status.success(), "{}", err_of(&out));
        assert!(err_of(&out).contains("crashed"), "{}", err_of(&out));
        wait_streaming(&c);
        write(&c, &format!("after-kill-{victim}")).await;
        on_replica(&c, &format!("after-kill-{victim}")).await;
    }

    // A replica whose slot was dropped and whose WAL the primary removed:
    // status says so, `rebuild replica` restores it.
    c.ok(&["cluster", "stop", "replica"]);
    let p = client(&c.url("primary")).await;
    p.batch_execute("SELECT pg_drop_replication_slot('replica_slot')")
        .await
        .unwrap();
    p.batch_execute("ALTER SYSTEM SET wal_keep_size = 0")
        .await
        .unwrap();
    p.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    for i in 0..4 {
        write(&c, &format!("wal-{i}")).await;
        p.batch_execute("SELECT pg_switch_wal()").await.unwrap();
        p.batch_execute("CHECKPOINT").await.unwrap();
    }
    p.batch_execute("ALTER SYSTEM RESET wal_keep_size")
        .await
        .unwrap();
    p.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    let out = c.run(&["cluster", "start", "replica"]);
    assert!(!out.status.success());
    let err = err_of(&out);
    assert!(
        err.contains("WAL removed")
            && err.contains("slot missing")
            && err.contains("rebuild replica"),
        "{err}"
    );
    let problem = node(&c, "pg2")["problem"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        problem.contains("WAL removed") && problem.contains("slot missing"),
        "{problem}"
    );
    let out = c.run(&["cluster", "rebuild", "replica"]);
    assert!(out.status.success(), "{}", err_of(&out));
    assert!(err_of(&out).contains("pg_basebackup"), "{}", err_of(&out));
    wait_streaming(&c);
    on_replica(&c, "wal-3").await;

    // Switchover and back: a row written before each step is on the new
    // replica after it.
    for (want_primary, mark) in [("pg2", "s1"), ("pg1", "s2")] {
        write(&c, mark).await;
        let out = c.run(&["cluster", "switchover"]);
        assert!(out.status.success(), "{}", err_of(&out));
        assert_eq!(roles(&c).0, want_primary);
        wait_streaming(&c);
        on_replica(&c, mark).await;
        let url = c.ok(&["cluster", "url", "primary", "--any-node"]);
        assert!(url.contains("target_session_attrs=read-write"), "{url}");
    }

    // Failover after kill -9 of the primary; the old primary rejoins as
    // the standby after `up`.
    write(&c, "f1").await;
    on_replica(&c, "f1").await;
    let refused = c.run(&["cluster", "failover"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a running primary is not failed over: {}",
        err_of(&refused)
    );
    kill(&c, b, "pg1");
    let out = c.run(&["cluster", "failover"]);
    assert!(out.status.success(), "{}", err_of(&out));
    assert_eq!(roles(&c), ("pg2".to_string(), "pg1".to_string()));
    assert!(
        node_state(&c, "pg1").contains("waiting to rejoin"),
        "{}",
        status(&c)
    );
    if b == Backend::Docker {
        assert_eq!(
            inspect(&c, "pg1", "{{.HostConfig.RestartPolicy.Name}}"),
            "no",
            "the old primary is fenced"
        );
    }
    write(&c, "f2").await;
    let out = c.run(&["cluster", "up"]);
    assert!(out.status.success(), "{}", err_of(&out));
    assert!(err_of(&out).contains("pg_rewind"), "{}", err_of(&out));
    wait_streaming(&c);
    on_replica(&c, "f1").await;
    on_replica(&c, "f2").await;
    assert!(!node_state(&c, "pg1").contains("rejoin"));

    if b == Backend::Docker {
        // A server that dies is brought back by Docker's restart policy,
        // and status counts it.
        let pid: i32 = inspect(&c, "pg1", "{{.State.Pid}}").parse().unwrap();
        support::sigkill(pid);
        let start = Instant::now();
        loop {
            let row = node(&c, "pg1");
            if row["runtime"]["restarts"].as_u64().unwrap_or(0) >= 1 && row["state"] == "running" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no restart: {row}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

#[tokio::test]
async fn local_pg15() {
    operate("op15", Backend::Local(15)).await;
}

#[tokio::test]
async fn local_pg18() {
    operate("op18", Backend::Local(18)).await;
}

#[tokio::test]
async fn docker_pg15() {
    operate("opdk", Backend::Docker).await;
}

/// A bench run through a switchover: its workers lose their connections,
/// report the errors, find the new primary through the any-node URL, and
/// the end-of-run verification on the new primary finds every
/// acknowledged event.
#[test]
fn bench_through_a_switchover_loses_no_acknowledged_event() {
    let c = TestCluster::new("opbench");
    c.up(&["--pg-version", "15", "--memory", "1GiB"]);
    c.ok(&[
        "seed",
        "--events",
        "3000",
        "--books",
        "100",
        "--readers",
        "20",
    ]);
    let out = c.state_dir().join("switchover.json");
    let child = Command::new(env!("CARGO_BIN_EXE_estune"))
        .args([
            "bench",
            "--rate",
            "30",
            "--warmup",
            "1s",
            "--workers",
            "4",
            "--duration",
            "12s",
        ])
        .args(["--out", out.to_str().unwrap()])
        .args([
            "--cluster",
            &c.name,
            "--state-dir",
            c.state_dir().to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let sw = c.run(&["cluster", "switchover"]);
    assert!(sw.status.success(), "{}", err_of(&sw));
    let events = |c: &TestCluster| {
        let url = c.eventstore_url("primary");
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                client(&url)
                    .await
                    .query_one("SELECT count(*) FROM events", &[])
                    .await
                    .unwrap()
                    .get::<_, i64>(0)
            })
    };
    let at_switch = events(&c);
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_default())
        .unwrap_or_else(|_| panic!("the report is written: {stderr}"));
    let total = &doc["summary"]["total"];
    assert!(
        total["errors"]["total"].as_u64().unwrap() > 0,
        "the switchover shows as errors: {total}"
    );
    assert!(
        doc["verification"]["acknowledged_events"].as_u64().unwrap() > 0,
        "{}",
        doc["verification"]
    );
    assert_eq!(
        doc["verification"]["missing_events"], 0,
        "{}",
        doc["verification"]
    );
    assert_eq!(
        roles(&c).0,
        "pg2",
        "the verification ran against the new primary"
    );
    // The workers found the new primary and went on appending there.
    let after = events(&c);
    assert!(
        after > at_switch,
        "appends on the new primary after the switchover ({at_switch} → {after}): {total}"
    );
}
