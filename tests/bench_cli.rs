//! `estune seed` and `estune bench` as users run them, against a real pair.

mod support;

use std::process::Command;
use support::TestCluster;

fn estune(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn absurd_options_are_refused_before_connecting() {
    // No server listens there: the options are checked first.
    let dsn = format!("postgresql://u:p@127.0.0.1:{}/db", support::free_port());
    for (rate, needle) in [
        ("0", "--rate"),
        ("-5", "--rate"),
        ("NaN", "--rate"),
        ("1e9", "--rate"),
    ] {
        let flag = format!("--rate={rate}");
        let out = estune(&["bench", "--primary", &dsn, "--replica", &dsn, &flag]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "rate {rate}: {err}");
        assert!(err.contains(needle), "rate {rate}: {err}");
    }
    let out = estune(&[
        "bench",
        "--primary",
        &dsn,
        "--replica",
        &dsn,
        "--workers",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unreachable_server_fails_before_the_run() {
    let dsn = format!("postgresql://u:p@127.0.0.1:{}/db", support::free_port());
    let started = std::time::Instant::now();
    let out = estune(&[
        "bench",
        "--primary",
        &dsn,
        "--replica",
        &dsn,
        "--duration",
        "30s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("connection refused") && err.contains("127.0.0.1"),
        "{err}"
    );
    assert!(
        started.elapsed().as_secs() < 25,
        "it must not run the 30 s before failing"
    );
}

#[test]
fn seed_then_bench_writes_a_result() {
    let c = TestCluster::new("bench");
    c.up(&["--pg-version", "15", "--memory", "2GiB"]);
    let out = c.ok(&[
        "seed",
        "--events",
        "5000",
        "--books",
        "200",
        "--readers",
        "40",
    ]);
    assert!(out.contains("seeded 5000 events"), "{out}");
    let again = c.run(&["seed", "--events", "10"]);
    assert_ne!(again.status.code(), Some(0), "a second history is refused");

    let too_many = c.run(&["bench", "--workers", "5000", "--duration", "1s"]);
    let err = String::from_utf8_lossy(&too_many.stderr);
    assert_eq!(too_many.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--workers 5000") && err.contains("max_connections"),
        "{err}"
    );

    let path = c.state_dir().join("run.json");
    let out = c.ok(&[
        "bench",
        "--rate",
        "20",
        "--duration",
        "3s",
        "--warmup",
        "1s",
        "--workers",
        "4",
        "--label",
        "t",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.contains("open-loop") && out.contains("boundary integrity:"),
        "{out}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["schema"], "estune.bench/3");
    assert_eq!(doc["metadata"]["label"], "t");
    assert!(doc["summary"]["total"]["count"].as_u64().unwrap() > 0);
    let samples = doc["server_samples"].as_array().unwrap();
    assert!(!samples.is_empty(), "server samples taken during the run");
    // Sampled on the event store's database: its table and its cache.
    assert!(
        samples
            .iter()
            .all(|s| s["primary"]["events_table"].is_object()),
        "{samples:#?}"
    );
    assert!(
        samples
            .iter()
            .skip(1)
            .any(|s| s["primary"]["cache_hit_ratio"].is_number()),
        "{samples:#?}"
    );
}
