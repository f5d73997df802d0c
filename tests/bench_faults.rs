//! `estune bench` when things go wrong during the run: a SIGINT stops it
//! gracefully with the report written and marked interrupted; a replica
//! killed mid-run leaves the run going, with the errors counted by kind.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::TestCluster;

fn seeded(tag: &str) -> TestCluster {
    let c = TestCluster::stock(tag);
    c.ok(&[
        "seed",
        "--events",
        "3000",
        "--books",
        "100",
        "--readers",
        "20",
    ]);
    c
}

/// Starts a bench run in the background; the caller interferes, then waits.
fn spawn_bench(
    c: &TestCluster,
    out: &std::path::Path,
    secs: &str,
    mix: &str,
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_estune"))
        .args([
            "bench",
            "--rate",
            "20",
            "--warmup",
            "1s",
            "--workers",
            "4",
            "--duration",
            secs,
            "--mix",
            mix,
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
        .unwrap()
}

fn wait(child: std::process::Child, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if started.elapsed() > limit {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("estune bench did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    waiter.join().unwrap()
}

#[test]
fn sigint_stops_gracefully_and_writes_the_report() {
    let c = seeded("sigint");
    let out = c.state_dir().join("interrupted.json");
    let child = spawn_bench(&c, &out, "60s", "worker-pool-2025");
    std::thread::sleep(Duration::from_secs(5));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let result = wait(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["summary"]["interrupted"], true);
    assert!(
        doc["summary"]["measured_s"].as_f64().unwrap() < 30.0,
        "stopped long before the 60 s"
    );
    assert_eq!(doc["verification"]["missing_events"], 0);
}

#[test]
fn a_replica_killed_mid_run_shows_as_errors_and_the_run_goes_on() {
    let c = seeded("replkill");
    let out = c.state_dir().join("replica-killed.json");
    // library-scale runs BooksLentByReader on the replica.
    let child = spawn_bench(&c, &out, "8s", "library-scale");
    std::thread::sleep(Duration::from_secs(4));
    // Kill the replica hard, as an OOM kill would.
    support::kill_postmaster(&c.state_dir().join(&c.name).join("pg2/data"));
    let result = wait(child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&result.stderr);
    // The run finishes and writes its report; the end-of-run check of the
    // replica fails, which the verification records rather than hides.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_default())
            .unwrap_or_else(|_| panic!("the report is written: {stderr}"));
    let total = &doc["summary"]["total"];
    assert!(
        total["errors"]["total"].as_u64().unwrap() > 0,
        "errors after the kill: {total}"
    );
    assert!(
        total["ok"].as_u64().unwrap() > 0,
        "commands on the primary go on: {total}"
    );
    assert_eq!(doc["summary"]["interrupted"], false);
    assert_eq!(
        doc["verification"]["replica_caught_up"], false,
        "the dead replica is reported"
    );
    assert_eq!(doc["verification"]["missing_events"], 0);
}
