//! `estune experiment` end to end on the local backend (PostgreSQL 15):
//! a short run of two profiles in two rounds writes every result, the
//! comparison, plots and a page that references them, and leaves no server
//! behind; Ctrl-C still reports what was measured; a failing phase is
//! named, keeps what was measured and removes the pair; bad input is
//! refused before anything starts.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, TestCluster};

/// A small, short experiment: 20,000 events, 8 s runs after 2 s warm-up.
fn args(out: &Path, profiles: &str) -> Vec<String> {
    let (p, r) = (free_port().to_string(), free_port().to_string());
    [
        "experiment",
        "--backend",
        "local",
        "--pg-version",
        "15",
        "--memory",
        "4GiB",
        "--profiles",
        profiles,
        "--repeat",
        "2",
        "--events",
        "20000",
        "--duration",
        "8s",
        "--warmup",
        "2s",
        "--workers",
        "20",
        "--capacity-workers",
        "4",
        "--port",
        &p,
        "--replica-port",
        &r,
        "-o",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(c: &TestCluster, args: &[String]) -> Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    c.run(&a)
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|x| x == ext));
    v.sort();
    v
}

fn results(dir: &Path) -> Vec<String> {
    files(dir, "json")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "experiment.json")
        .collect()
}

/// No server of this cluster runs, and its state is gone.
fn nothing_left(c: &TestCluster) {
    let out = Command::new("pgrep")
        .args(["-af", &c.cluster_dir().display().to_string()])
        .output()
        .unwrap();
    let procs = String::from_utf8_lossy(&out.stdout);
    assert!(procs.trim().is_empty(), "servers left running:\n{procs}");
    assert!(!c.cluster_dir().exists(), "the pair's state is still there");
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("experiment.json")).unwrap()).unwrap()
}

#[test]
fn short_experiment_reports_and_leaves_nothing_running() {
    let c = TestCluster::new("exp");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let o = run(&c, &args(&out, "stock,eventstore"));
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    // The schedule: capacities first, open-loop runs in reverse, rounds
    // alternating.
    assert_eq!(
        results(&out),
        [
            "01-r1-stock-capacity.json",
            "02-r1-eventstore-capacity.json",
            "03-r1-eventstore-rate.json",
            "04-r1-stock-rate.json",
            "05-r2-eventstore-capacity.json",
            "06-r2-stock-capacity.json",
            "07-r2-stock-rate.json",
            "08-r2-eventstore-rate.json",
        ],
        "{all}"
    );
    let m = manifest(&out);
    assert_eq!(m["outcome"], "completed", "{m}");
    let rate = m["rate"].as_f64().expect("--rate auto chose a rate");
    assert!(
        rate >= 1.0 && m["rate_note"].as_str().unwrap().contains("70 %"),
        "{m}"
    );
    // Each result says which profile and plan it ran under, and is like
    // for like with the others.
    for name in results(&out) {
        let r = estune::check::load_result(&out.join(&name)).unwrap();
        let t = r.metadata.target.as_ref().expect("the pair is recorded");
        let profile = if name.contains("stock") {
            "stock"
        } else {
            "eventstore"
        };
        assert_eq!(t.profile.as_deref(), Some(profile), "{name}");
        assert_eq!(r.metadata.label.as_deref(), Some(profile), "{name}");
        assert!(t.plan_hash.is_some());
        let v = r.verification.as_ref().expect("verified");
        assert_eq!(v.missing_events, 0, "{name}");
        if name.ends_with("rate.json") {
            assert_eq!(
                (r.metadata.mode.as_str(), r.metadata.rate),
                ("open-loop", rate)
            );
        }
    }
    // The verdicts are printed, with the criteria and the report's place.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("eventstore vs stock"), "{all}");
    assert!(stdout.contains("criteria checks/des-targets.toml"), "{all}");
    assert!(
        stdout.contains(&format!("report: {}", out.join("index.html").display())),
        "{all}"
    );
    let compare = std::fs::read_to_string(out.join("compare.txt")).unwrap();
    for want in [
        "closed-loop capacity",
        "open-loop at",
        "Welch",
        "settings that differ",
    ] {
        assert!(
            compare.contains(want),
            "compare.txt lacks {want}:\n{compare}"
        );
    }
    // `estune compare DIR` reads the folder again.
    let again = Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(["compare", out.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    // Every plot parses and shows both sides; the page references each.
    let plots = files(&out.join("plots"), "svg");
    assert!(plots.len() >= 6, "{plots:?}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for p in &plots {
        let svg = std::fs::read_to_string(p).unwrap();
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for side in ["stock", "eventstore"] {
            assert!(svg.contains(side), "{} lacks {side}", p.display());
        }
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(
            html.contains(&format!("plots/{name}")),
            "index.html lacks {name}"
        );
    }
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "not self-contained"
    );
    nothing_left(&c);
}

/// Waits for the first result, then interrupts like a Ctrl-C.
#[test]
fn ctrl_c_keeps_and_reports_what_was_measured() {
    let c = TestCluster::new("exp-int");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let mut a = args(&out, "stock,eventstore");
    a.extend(
        [
            "--cluster",
            &c.name,
            "--state-dir",
            c.state_dir().to_str().unwrap(),
        ]
        .map(String::from),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(&a)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while results(&out).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no result after 3 minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let o = child.wait_with_output().unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("stopped with Ctrl-C"),
        "{all}"
    );
    let kept = results(&out);
    assert!(!kept.is_empty() && kept.len() < 8, "{kept:?}");
    assert_eq!(manifest(&out)["outcome"], "interrupted");
    assert!(out.join("index.html").is_file(), "{all}");
    nothing_left(&c);
}

/// The second profile's configuration is refused by the server when it
/// starts (the catalog cannot know the library is missing): the run before
/// it is kept and reported, the phase is named and the pair removed.
#[test]
fn a_failing_phase_is_named_and_cleaned_up() {
    let c = TestCluster::new("exp-fail");
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("broken.toml");
    std::fs::write(
        &bad,
        "extends = \"stock\"\n[primary.overrides]\nshared_preload_libraries = \"no_such_library\"\n[replica.overrides]\nshared_preload_libraries = \"no_such_library\"\n",
    )
    .unwrap();
    let out = tmp.path().join("report");
    let o = run(&c, &args(&out, &format!("stock,{}", bad.display())));
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(
        all.contains("failed in phase `measure`") && all.contains("no_such_library"),
        "{all}"
    );
    assert_eq!(results(&out), ["01-r1-stock-capacity.json"], "{all}");
    assert!(manifest(&out)["outcome"]
        .as_str()
        .unwrap()
        .starts_with("failed in phase `measure`"));
    assert!(out.join("index.html").is_file(), "{all}");
    nothing_left(&c);
}

#[test]
fn bad_input_is_refused_before_anything_starts() {
    let c = TestCluster::new("exp-bad");
    let tmp = tempfile::tempdir().unwrap();
    let taken = tmp.path().join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("old.json"), "{}").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--profiles", "stock"], "at least two profiles"),
        (vec!["--profiles", "stock,stock"], "given twice"),
        (
            vec!["--profiles", "stock,nosuch"],
            "no profile named `nosuch`",
        ),
        (vec!["--rate", "0"], "--rate 0"),
        (vec!["--rate", "fast"], "--rate fast"),
        (vec!["--repeat", "0"], "--repeat 0"),
        (vec!["--mix", "lend=x"], "--mix"),
        (vec!["--criteria", "nosuch.toml"], "nosuch.toml"),
        (vec!["-o", taken.to_str().unwrap()], "already holds results"),
    ];
    for (extra, want) in cases {
        let mut a = vec!["experiment", "--backend", "local", "--pg-version", "15"];
        a.extend(extra.iter().copied());
        let o = c.run(&a);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {all}");
        assert!(all.contains(want), "{extra:?}: want {want}\n{all}");
        assert!(!c.cluster_dir().exists(), "{extra:?} started a pair");
    }
}

/// A port that is taken fails the bring-up: the phase is named, nothing
/// is left, not even an empty report folder.
#[test]
fn a_failed_bring_up_leaves_nothing() {
    let c = TestCluster::new("exp-port");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = c.run(&[
        "experiment",
        "--backend",
        "local",
        "--pg-version",
        "15",
        "--memory",
        "4GiB",
        "--port",
        &port,
        "-o",
        out.to_str().unwrap(),
    ]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(
        all.contains("failed in phase `up`") && all.contains(&format!("port {port}")),
        "{all}"
    );
    assert!(!out.exists(), "{all}");
    nothing_left(&c);
}

/// `--keep` leaves the pair up, streaming, with the last profile applied.
#[test]
fn keep_leaves_the_pair_up() {
    let c = TestCluster::new("exp-keep");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let mut a = args(&out, "stock,eventstore");
    for (flag, value) in [("--repeat", "1"), ("--duration", "3s"), ("--warmup", "1s")] {
        let i = a.iter().position(|x| x == flag).unwrap();
        a[i + 1] = value.into();
    }
    a.push("--keep".into());
    let o = run(&c, &a);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("the pair stays up (--keep)"), "{all}");
    assert_eq!(results(&out).len(), 4, "{all}");
    let status: serde_json::Value =
        serde_json::from_str(&c.ok(&["cluster", "status", "--format", "json"])).unwrap();
    let states: Vec<&str> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["running", "running"], "{status}");
    // The last run was stock's (round 1: A-cap, B-cap, B-rate, A-rate).
    assert_eq!(status["profile"], "stock", "{status}");
}
