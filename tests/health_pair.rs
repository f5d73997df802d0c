//! `estune health` on a real primary + streaming replica, through the
//! binary: an idle pair with nothing to report, commits that rise after
//! writes, replay paused on the replica (WARN, then CRIT with a tighter
//! threshold, OK again after resuming), a replica whose WAL receiver was
//! cut off (CRIT on both sides), servers that are down or refuse the
//! login (the other still reported, Nagios exit codes), bad input (exit
//! 2), settings drifting from the profile and waiting for a restart, and
//! --watch with rates per second on PostgreSQL 18.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{client, free_port, TestCluster};

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

/// The status of the finding of `server` whose check starts with `check`.
fn status(doc: &Value, server: &str, check: &str) -> String {
    let hits: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["server"] == server && f["check"].as_str().unwrap().starts_with(check))
        .collect();
    assert_eq!(hits.len(), 1, "{server} {check}: {hits:#?}");
    hits[0]["status"].as_str().unwrap().to_string()
}

fn not_ok(doc: &Value) -> Vec<&Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "OK")
        .collect()
}

fn server<'a>(doc: &'a Value, role: &str) -> &'a Value {
    doc["snapshot"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == role)
        .unwrap_or_else(|| panic!("no {role} in {doc:#}"))
}

/// Runs `health` until `done` holds, or 30 s passed; returns the last.
fn health_until(c: &TestCluster, args: &[&str], done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut all = vec!["health", "--format", "json"];
        all.extend_from_slice(args);
        let doc = json(&c.run(&all));
        if done(&doc) || Instant::now() > deadline {
            return doc;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

async fn write_wal(url: &str, rows: i32) {
    client(url)
        .await
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS filler (v text);
             INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, {rows});
             SELECT pg_stat_force_next_flush(); SELECT 1;"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_of_a_pair_on_postgres_15() {
    let c = TestCluster::stock("health15");
    let (primary, replica) = (c.url("primary"), c.url("replica"));

    // Idle and caught up: nothing to report, and no lag finding.
    let out = c.run(&["health", "--format", "json"]);
    let doc = json(&out);
    println!("PG 15 idle pair: all probes took {} ms", doc["probe_ms"]);
    assert_eq!(code(&out), 0, "{:#?}", not_ok(&doc));
    assert_eq!(doc["status"], "OK");
    for role in ["primary", "replica"] {
        let s = server(&doc, role);
        assert!(
            s["unreachable"].is_null() && s["errors"].as_array().unwrap().is_empty(),
            "{s:#}"
        );
        assert!(
            s["label"].as_str().unwrap().ends_with("/eventstore"),
            "{}",
            s["label"]
        );
    }
    let p = server(&doc, "primary");
    assert_eq!(p["senders"][0]["state"], "streaming");
    assert_eq!(p["slots"]["slots"][0]["active"], true);
    let r = server(&doc, "replica");
    assert_eq!(r["receiver"]["status"], "streaming");
    assert_eq!(status(&doc, "replica", "lag_bytes"), "OK");
    assert_eq!(status(&doc, "replica", "replay_delay"), "OK");
    assert_eq!(status(&doc, "pair", "drift"), "OK");
    assert!(r["memory"]["usage_bytes"].as_u64().unwrap() > 0);

    // The same pair given by connection strings: drift against a profile
    // named on the command line, only when one is named.
    let dsn = |extra: &[&str]| {
        let base = [
            "health",
            "--format",
            "json",
            "--primary",
            &primary,
            "--replica",
            &replica,
        ];
        let out = c.run(&[&base[..], extra].concat());
        json(&out)
    };
    let doc = dsn(&[]);
    assert!(
        doc["snapshot"]["config"]["drift_note"]
            .as_str()
            .unwrap()
            .contains("--profile"),
        "{:#}",
        doc["snapshot"]["config"]
    );
    let doc = dsn(&["--profile", "eventstore", "--memory", "4GiB"]);
    let config = &doc["snapshot"]["config"];
    assert_eq!(config["profile"], "eventstore");
    assert!(config["plan_hash"].is_string(), "{config:#}");
    assert_eq!(status(&doc, "pair", "drift"), "WARN", "{config:#}");
    let drift = config["drift"].as_array().unwrap();
    for role in ["primary", "replica"] {
        assert!(
            drift.iter().any(|d| d["role"] == role
                && d["name"] == "shared_buffers"
                && d["planned"] == "1GB"),
            "{role}: {drift:#?}"
        );
    }
    // A managed cluster is judged against its last applied profile.
    let out = c.run(&["health", "--profile", "eventstore"]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("last applied"));
    let text = c.ok(&["health"]);
    assert!(
        text.contains("primary 127.0.0.1:") && text.contains("replica 127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("overall OK"), "{text}");

    // Writes raise the commit counter.
    let commits = p["counters"]["commits"].as_i64().unwrap();
    let writer = c.eventstore_url("primary");
    write_wal(&writer, 10).await;
    let doc = health_until(&c, &[], |d| {
        server(d, "primary")["counters"]["commits"]
            .as_i64()
            .unwrap()
            > commits
    });
    assert!(
        server(&doc, "primary")["counters"]["commits"]
            .as_i64()
            .unwrap()
            > commits
    );

    // Replay paused on the replica: the byte gap grows.
    let rc = client(&replica).await;
    rc.batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    write_wal(&writer, 2000).await;
    let warn = [
        "--set",
        "replication.lag_bytes_warn=256kB",
        "--set",
        "replication.lag_bytes_crit=1GB",
    ];
    let out = c.run(&[&["health", "--format", "nagios"][..], &warn].concat());
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(code(&out), 1, "{line}");
    assert!(line.starts_with("ESTUNE HEALTH WARNING - "), "{line}");
    assert!(
        line.contains("WARN replica lag_bytes") && line.contains("replay_paused"),
        "{line}"
    );
    assert!(line.contains("'replica_lag_bytes'="), "perfdata: {line}");
    let out = c.run(&[
        "health",
        "--format",
        "nagios",
        "--set",
        "replication.lag_bytes_crit=512kB",
    ]);
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stdout));
    rc.batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    let doc = health_until(&c, &warn, |d| d["status"] == "OK");
    assert_eq!(doc["status"], "OK", "{:#?}", not_ok(&doc));

    // The WAL receiver cut off: no standby on the primary, none on the replica.
    rc.batch_execute("ALTER SYSTEM SET primary_conninfo = ''")
        .await
        .unwrap();
    rc.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    let doc = health_until(&c, &warn, |d| {
        server(d, "replica")["receiver"]["status"].is_null()
    });
    write_wal(&writer, 2000).await;
    let doc2 = health_until(&c, &warn, |d| status(d, "replica", "lag_bytes") != "OK");
    assert_eq!(status(&doc, "replica", "wal_receiver"), "CRIT");
    assert_eq!(
        status(&doc2, "replica", "lag_bytes"),
        "WARN",
        "{:#?}",
        not_ok(&doc2)
    );
    assert_eq!(status(&doc2, "primary", "standbys"), "CRIT");
    assert_eq!(status(&doc2, "primary", "slot"), "WARN", "inactive slot");
    assert_eq!(doc2["exit_code"], 2);

    // Down, refused login, a replica alone (plain connection strings).
    let down = format!("postgresql://postgres:x@127.0.0.1:{}/postgres", free_port());
    let out = c.run(&[
        "health",
        "--format",
        "json",
        "--primary",
        &primary,
        "--replica",
        &down,
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 2);
    assert_eq!(status(&doc, "replica", "reachable"), "CRIT");
    assert!(
        server(&doc, "primary")["connections"]["total"]
            .as_i64()
            .unwrap()
            >= 1
    );
    let password = replica
        .split(':')
        .nth(2)
        .unwrap()
        .split('@')
        .next()
        .unwrap();
    let wrong = replica.replace(password, "wrong-password");
    let out = c.run(&["health", "--format", "nagios", "--replica", &wrong]);
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(code(&out), 3, "{line}");
    assert!(
        line.starts_with("ESTUNE HEALTH UNKNOWN") && !line.contains("wrong-password"),
        "{line}"
    );
    let doc = json(&c.run(&["health", "--format", "json", "--replica", &replica]));
    assert_eq!(doc["snapshot"]["servers"].as_array().unwrap().len(), 1);
    assert_eq!(server(&doc, "replica")["in_recovery"], true);

    // Bad input: exit 2 with the reason; as a Nagios plugin, UNKNOWN (3)
    // with the reason on its one line.
    for args in [
        &["health", "--format", "nagios", "--set", "locks.wait_warn=5"][..],
        &["health", "--watch", "1s", "--format", "nagios"],
    ] {
        let out = c.run(args);
        assert_eq!(code(&out), 3, "{args:?}");
        let line = String::from_utf8_lossy(&out.stdout);
        assert!(
            line.starts_with("ESTUNE HEALTH UNKNOWN - cannot check: "),
            "{args:?}: {line}"
        );
        assert_eq!(line.lines().count(), 1, "{line}");
    }
    for args in [
        &["health", "--set", "replication.lag=1MB"][..],
        &["health", "--set", "locks.wait_warn=5"],
        &["health", "--thresholds", "/nonexistent/health.toml"],
    ] {
        let out = c.run(args);
        assert_eq!(
            code(&out),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("error: "),
            "{args:?}"
        );
    }
}

#[test]
fn health_of_a_pair_on_postgres_18_and_watch() {
    let c = TestCluster::new("health18");
    c.up(&[
        "--profile",
        "stock",
        "--pg-version",
        "18",
        "--memory",
        "4GiB",
    ]);
    let out = c.run(&["health", "--format", "json"]);
    let doc = json(&out);
    println!("PG 18 idle pair: all probes took {} ms", doc["probe_ms"]);
    assert_eq!(code(&out), 0, "{:#?}", not_ok(&doc));
    for role in ["primary", "replica"] {
        let s = server(&doc, role);
        assert!(s["errors"].as_array().unwrap().is_empty(), "{s:#}");
        assert_eq!(s["version_num"].as_i64().unwrap() / 10000, 18);
        assert_eq!(s["checkpoints"]["source"], "pg_stat_checkpointer");
        assert!(s["checkpoints"]["buffers_backend"].is_i64(), "pg_stat_io");
    }

    // --interval: two samples, rates per second between them.
    let doc = json(&c.run(&["health", "--format", "json", "--interval", "1s"]));
    assert!(doc["snapshot"]["interval_s"].as_f64().unwrap() >= 1.0);
    for role in ["primary", "replica"] {
        let rates = &server(&doc, role)["rates"];
        assert!(rates["commits"].as_f64().unwrap() >= 0.0, "{rates:#}");
    }

    // --watch: one JSON document a refresh, rates from the second on,
    // until Ctrl-C.
    let mut child = Command::new(env!("CARGO_BIN_EXE_estune"))
        .args([
            "health",
            "--watch",
            "1s",
            "--format",
            "json",
            "--cluster",
            &c.name,
        ])
        .args(["--state-dir", c.state_dir().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a refresh within 20 s")
    };
    let first: Value = serde_json::from_str(&next()).unwrap();
    let second: Value = serde_json::from_str(&next()).unwrap();
    assert!(first["snapshot"]["interval_s"].is_null());
    assert!(second["snapshot"]["interval_s"].as_f64().unwrap() > 0.5);
    assert!(
        server(&second, "primary")["rates"]["commits"].is_f64(),
        "{second:#}"
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "--watch did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
}

/// The scans one server counted for `index`, from the JSON snapshot.
fn scans(doc: &Value, role: &str, index: &str) -> i64 {
    let usage = &server(doc, role)["index_usage"];
    usage["indexes"]
        .as_array()
        .unwrap_or_else(|| panic!("no index_usage on the {role}: {usage:#}"))
        .iter()
        .find(|i| i["index"] == index)
        .unwrap_or_else(|| panic!("{index} not listed on the {role}: {usage:#}"))["scans"]
        .as_i64()
        .unwrap()
}

fn unused_indexes(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["check"].as_str()?.strip_prefix("unused_index "))
        .map(String::from)
        .collect()
}

fn finding<'a>(doc: &'a Value, check: &str) -> &'a Value {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["server"] == "pair" && f["check"] == check)
        .unwrap_or_else(|| panic!("no pair finding {check}: {:#?}", doc["findings"]))
}

/// Seeded, then run with the library-scale mix (which never filters on
/// metadata nor on occurred_at); a query on the replica alone reads
/// idx_events_occurred_at. The pair reports the metadata GIN index and
/// neither the payload GIN index nor the one the replica read; the
/// primary alone reports that one too.
async fn unused_index_on_a_seeded_pair(major: &str) {
    let c = TestCluster::new(&format!("hidx{major}"));
    c.up(&[
        "--profile",
        "stock",
        "--pg-version",
        major,
        "--memory",
        "4GiB",
    ]);
    c.ok(&["seed", "--events", "20000"]);
    c.ok(&[
        "bench",
        "--mix",
        "library-scale",
        "--books",
        "1000",
        "--readers",
        "100",
        "--rate",
        "40",
        "--duration",
        "4s",
        "--warmup",
        "1s",
        "--workers",
        "4",
    ]);
    let on_replica = c.eventstore_url("replica");
    client(&on_replica)
        .await
        .batch_execute(
            "SET enable_seqscan = off;
             SELECT count(*) FROM events WHERE occurred_at < '2000-01-01';
             SELECT pg_stat_force_next_flush(); SELECT 1;",
        )
        .await
        .unwrap();
    let (metadata, payload, occurred) = (
        "idx_events_metadata_gin",
        "idx_events_payload_gin",
        "idx_events_occurred_at",
    );
    // Waits only for the statistics to be published, then judges.
    let doc = health_until(&c, &[], |d| {
        scans(d, "replica", occurred) > 0
            && scans(d, "primary", payload) + scans(d, "replica", payload) > 0
    });
    for role in ["primary", "replica"] {
        println!(
            "PG {major} {role}: {metadata} {}, {payload} {}, {occurred} {}",
            scans(&doc, role, metadata),
            scans(&doc, role, payload),
            scans(&doc, role, occurred)
        );
    }
    assert!(scans(&doc, "replica", occurred) > 0);
    assert_eq!(
        scans(&doc, "primary", occurred),
        0,
        "read on the replica only"
    );
    let usage = &server(&doc, "primary")["index_usage"];
    let events = usage["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "events")
        .unwrap();
    assert!(events["inserted"].as_i64().unwrap() >= 20000, "{usage:#}");
    assert!(usage["server_started"].is_string(), "{usage:#}");
    let index = |name: &str| {
        usage["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["index"] == name)
            .unwrap_or_else(|| panic!("{name}: {usage:#}"))
            .clone()
    };
    for (name, backs) in [
        ("events_pkey", true),
        ("snapshots_pkey", true),
        (metadata, false),
    ] {
        assert_eq!(index(name)["backs_constraint"], backs, "{name}: {usage:#}");
    }
    let gin = index(metadata);
    assert_eq!(gin["columns"], serde_json::json!(["metadata"]), "{gin:#}");
    assert!(gin["size_bytes"].as_i64().unwrap() > 0, "{gin:#}");

    let unused = unused_indexes(&doc);
    assert!(unused.iter().any(|i| i == metadata), "{unused:?}");
    for never in [payload, occurred, "events_pkey", "snapshots_pkey"] {
        assert!(!unused.iter().any(|i| i == never), "{never}: {unused:?}");
    }
    let f = finding(&doc, &format!("unused_index {metadata}"));
    assert_eq!(f["status"], "WARN", "{f:#}");
    let v = f["value"].as_str().unwrap();
    assert!(
        v.contains("was not read by any query on either server since the replica started at")
            && v.contains("inserts: every append maintains it")
            && !v.contains("primary only"),
        "{v}"
    );
    let rec = f["recommendation"].as_str().unwrap();
    assert!(
        rec.contains("filters on metadata")
            && rec.contains("`DROP INDEX CONCURRENTLY idx_events_metadata_gin;`")
            && rec.contains("estune never drops an index itself"),
        "{rec}"
    );
    assert_ne!(doc["exit_code"], 0, "a WARN is not OK: {:#?}", not_ok(&doc));
    let summary = finding(&doc, "index_usage");
    assert_eq!(summary["status"], "OK");
    assert!(
        summary["value"]
            .as_str()
            .unwrap()
            .contains("snapshots: 0 inserts, too few inserts to judge"),
        "{summary:#}"
    );
    // The nothing-is-dropped promise: the index is still there.
    let p = client(&c.eventstore_url("primary")).await;
    let kept: Option<String> = p
        .query_one("SELECT to_regclass($1)::text", &[&metadata])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept.as_deref(), Some(metadata));

    // The primary alone does not see the replica's reads.
    let primary = c.eventstore_url("primary");
    let doc = json(&c.run(&["health", "--format", "json", "--primary", &primary]));
    let unused = unused_indexes(&doc);
    assert!(
        unused.iter().any(|i| i == occurred) && unused.iter().any(|i| i == metadata),
        "{unused:?}"
    );
    let v = finding(&doc, &format!("unused_index {occurred}"))["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        v.contains("on the primary since")
            && v.contains("(from the primary only: no replica was probed)"),
        "{v}"
    );

    // Below the threshold nothing is judged.
    let doc = json(&c.run(&[
        "health",
        "--format",
        "json",
        "--set",
        "tables.unused_index_min_inserts=1000000",
    ]));
    assert_eq!(unused_indexes(&doc), Vec::<String>::new());
    let v = finding(&doc, "index_usage")["value"].as_str().unwrap();
    assert!(
        v.contains("inserts, too few inserts to judge") && v.contains("events: "),
        "{v}"
    );
    let out = c.run(&["health", "--set", "tables.unused_index_min_inserts=1000000"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pair — settings and index use across both servers"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_index_on_postgres_15() {
    unused_index_on_a_seeded_pair("15").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_index_on_postgres_18() {
    unused_index_on_a_seeded_pair("18").await;
}
