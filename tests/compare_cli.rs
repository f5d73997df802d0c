//! `estune compare` as a user runs it: the output for real results
//! (snapshots), exit codes 0 and 2, and what each bad input says. The
//! results are real ones from `estune bench` (tests/fixtures/compare: A B
//! B A of stock and eventstore, a capacity and a 50 ops/s run each, 10 s;
//! tests/fixtures/check: one 50 ops/s run before and after, 15 s). When
//! the fixtures are recorded again the snapshots change: review the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn estune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("estune runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs compare and expects exit 0; its stdout.
fn ok(args: &[&str]) -> String {
    let mut all = vec!["compare"];
    all.extend(args);
    let out = estune(&all);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    stdout
}

/// Runs compare and expects exit 2; its stderr.
fn bad(args: &[&str]) -> String {
    let mut all = vec!["compare"];
    all.extend(args);
    let out = estune(&all);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}{stderr}", text(&out.stdout));
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
    stderr
}

fn copy(from: &Path, dir: &tempfile::TempDir, name: &str) -> PathBuf {
    let to = dir.path().join(name);
    std::fs::copy(from, &to).unwrap();
    to
}

#[test]
fn an_experiment_folder_as_a_table() {
    insta::assert_snapshot!("compare_table", ok(&[&s(&fixtures("compare"))]));
}

#[test]
fn an_experiment_folder_as_markdown() {
    let md = ok(&[&s(&fixtures("compare")), "--format", "markdown"]);
    insta::assert_snapshot!("compare_markdown", md);
}

#[test]
fn a_single_run_a_side_as_markdown() {
    let d = fixtures("check");
    let md = ok(&[
        &s(&d.join("before.json")),
        &s(&d.join("after.json")),
        "--format",
        "markdown",
    ]);
    insta::assert_snapshot!("compare_single_run_markdown", md);
}

#[test]
fn json_carries_the_same_figures() {
    let out = ok(&[&s(&fixtures("compare")), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(v["schema"], "estune.compare/1");
    let row = &v["groups"][0]["tables"][0]["rows"][0];
    assert_eq!(row["key"], "capacity");
    assert_eq!(row["values"][0]["runs"], serde_json::json!([441.9, 576.5]));
    assert_eq!(row["values"][1]["delta"]["verdict"], "within-noise");
    assert_eq!(v["groups"][1]["sides"][1]["noise"]["method"], "welch");
}

#[test]
fn baseline_and_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sub/compare.md");
    let stdout = ok(&[
        &s(&fixtures("compare")),
        "--baseline",
        "eventstore",
        "--format",
        "markdown",
        "-o",
        &s(&out),
    ]);
    assert!(stdout.is_empty());
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(
        md.contains("- baseline eventstore (profile eventstore"),
        "{md}"
    );
}

#[test]
fn unlike_runs_are_refused_and_forced() {
    // The check fixtures ran 15 s, the compare set 10 s.
    let (compare, check) = (fixtures("compare"), fixtures("check"));
    let args = [s(&compare), s(&check.join("after.json"))];
    let err = bad(&[&args[0], &args[1]]);
    assert!(err.contains("the runs were not run alike"), "{err}");
    assert!(
        err.contains("open-loop runs: duration: stock 10 s; eventstore 10 s; after 15 s"),
        "{err}"
    );
    assert!(err.contains("pass --force"), "{err}");
    let table = ok(&[&args[0], &args[1], "--force"]);
    assert!(
        table.contains("warning: not alike (compared with --force): open-loop runs: duration"),
        "{table}"
    );
}

#[test]
fn bad_inputs_exit_2_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let after = fixtures("check").join("after.json");
    let before = fixtures("check").join("before.json");
    // A result of another version, named or in a folder.
    let old = dir.path().join("old.json");
    let body = std::fs::read_to_string(&after).unwrap();
    std::fs::write(&old, body.replacen("estune.bench/3", "estune.bench/1", 1)).unwrap();
    let err = bad(&[&s(&old), &s(&before)]);
    assert!(
        err.contains("a result of schema `estune.bench/1` (written by estune 0.1.0), but this estune compares `estune.bench/3` results"),
        "{err}"
    );
    // JSON that is no result, named explicitly.
    let other = dir.path().join("experiment.json");
    std::fs::write(&other, r#"{"schema": "estune.experiment/1"}"#).unwrap();
    let err = bad(&[&s(&other), &s(&before)]);
    assert!(
        err.contains("not a bench result (schema `estune.experiment/1`)"),
        "{err}"
    );
    for (args, want) in [
        (vec![s(&dir.path().join("missing.json"))], "cannot read"),
        (
            vec![s(&before)],
            "only one side: every run is labelled `before`",
        ),
        (
            vec![s(&before), s(&after), "--baseline".into(), "x".into()],
            "no run is labelled `x` (--baseline); the labels are: before, after",
        ),
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = bad(&a);
        assert!(err.contains(want), "{want} missing from {err}");
    }
}

#[test]
fn a_folder_skips_other_json_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    copy(&fixtures("check").join("before.json"), &dir, "a.json");
    copy(&fixtures("check").join("after.json"), &dir, "b.json");
    std::fs::write(dir.path().join("experiment.json"), "{\"schema\": \"x/1\"}").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not json").unwrap();
    let out = estune(&["compare", &s(dir.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("experiment.json: not a bench result (schema `x/1`)"),
        "{stderr}"
    );
    assert!(!stderr.contains("notes.txt"), "{stderr}");
    // A folder with no result at all is an error.
    let empty = tempfile::tempdir().unwrap();
    let err = bad(&[&s(empty.path())]);
    assert!(
        err.contains("no `estune.bench/3` results in this folder"),
        "{err}"
    );
}

#[test]
fn help_teaches_verdicts_thresholds_and_examples() {
    let out = estune(&["compare", "--help"]);
    let help = text(&out.stdout);
    for want in [
        "better",
        "within noise",
        "Welch",
        "moving-block bootstrap",
        "--force",
        "estune compare before.json after.json",
        "Exit codes",
    ] {
        assert!(help.contains(want), "{want} missing from\n{help}");
    }
    let top = text(&estune(&["--help"]).stdout);
    assert!(
        top.contains("estune compare before.json after.json"),
        "{top}"
    );
}

#[test]
fn brief_gives_the_verdicts_of_all_operations_and_the_servers() {
    let brief = ok(&[&s(&fixtures("compare")), "--format", "brief"]);
    for want in [
        "closed-loop capacity: all operations and the servers",
        "open-loop at 50 ops/s: all operations and the servers",
        "equal on every side: ",
        "Welch 95 % interval",
        "settings differ between the sides",
    ] {
        assert!(brief.contains(want), "{want} missing from\n{brief}");
    }
    // Only the figures of all operations together: no per-kind rows, no
    // settings table.
    let full = ok(&[&s(&fixtures("compare"))]);
    assert!(full.contains("LendBookCopyToReader") && !brief.contains("LendBookCopyToReader"));
    assert!(brief.lines().count() * 3 < full.lines().count(), "{brief}");
}
