//! `estune check` as a user runs it: exit codes 0/1/2, what each bad input
//! says, and JSON carrying the same verdicts as the table. The results are
//! real ones from `estune bench` (tests/fixtures/check/, PostgreSQL 15,
//! library-scale mix at 50 ops/s: before = stock, after = eventstore).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/check")
        .join(name)
}

fn des_targets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("checks/des-targets.toml")
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

/// Writes a file into a fresh temporary directory.
fn file(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

const PASSING: &str = r#"
[[criterion]]
name = "rate kept"
metric = "achieved_rate"
require = ">= 45/s"

[[criterion]]
name = "no timeouts"
metric = "errors.timeout"
require = "= 0"

[[criterion]]
name = "p99 per kind"
metric = "latency.p99"
op = "*"
require = "<= 250ms"
"#;

#[test]
fn all_passing_exits_0() {
    let d = tempfile::tempdir().unwrap();
    let c = file(&d, "ok.toml", PASSING);
    let out = estune(&["check", "--criteria", &c, &s(&fixture("after.json"))]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("p99 per kind [BooksLentByReader]"),
        "{stdout}"
    );
    assert!(stdout.contains("7 of 7 passed: PASS"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "no colour off a terminal");
}

#[test]
fn a_failing_criterion_exits_1_with_the_table() {
    let out = estune(&[
        "check",
        "--criteria",
        &s(&des_targets()),
        &s(&fixture("after.json")),
        "--baseline",
        &s(&fixture("before.json")),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    for want in [
        "criterion",
        "required",
        "measured",
        "by how much",
        "300 req/s sustained",
        "achieved_rate >= 300/s",
        "FAIL",
        "250/s (83 %) short",
        "improvement.latency.p50 >= 40%",
        ": FAIL",
    ] {
        assert!(stdout.contains(want), "{want} missing from\n{stdout}");
    }
}

#[test]
fn json_has_the_same_verdicts_and_exit_code() {
    let args = |format: &str| {
        estune(&[
            "check",
            "--criteria",
            &s(&des_targets()),
            &s(&fixture("after.json")),
            "--baseline",
            &s(&fixture("before.json")),
            "--format",
            format,
        ])
    };
    let (table, json) = (args("table"), args("json"));
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(v["schema"], "estune.check/1");
    assert_eq!(v["passed"], false);
    let outcomes = v["outcomes"].as_array().unwrap();
    let t = text(&table.stdout);
    // One table row per outcome, with the same verdict.
    for o in outcomes {
        let verdict = o["verdict"].as_str().unwrap().to_uppercase();
        let line = t.lines().find(|l| {
            l.contains(o["criterion"].as_str().unwrap().split(' ').next().unwrap())
                && l.contains(&verdict)
        });
        assert!(line.is_some(), "{o}\n{t}");
    }
    let fails = outcomes.iter().filter(|o| o["verdict"] != "pass").count();
    assert!(fails > 0);
    assert_eq!(
        v["counts"]["fail"].as_u64().unwrap() + v["counts"]["unknown"].as_u64().unwrap(),
        fails as u64
    );
}

#[test]
fn bad_input_exits_2_and_says_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    let after = s(&fixture("after.json"));
    let ok = file(&d, "ok.toml", PASSING);
    let malformed = file(
        &d,
        "malformed.toml",
        "[[criterion]]\nname = \"x\"\nmetric = \"count\"\nrequire = \">= 3 furlongs\"\n",
    );
    let unknown = file(
        &d,
        "unknown.toml",
        "[[criterion]]\nname = \"tail\"\nmetric = \"p99\"\nrequire = \"< 1s\"\n",
    );
    let syntax = file(&d, "syntax.toml", "[[criterion]\n");
    let plan = file(
        &d,
        "plan.json",
        "{\"schema\": \"estune.plan/1\", \"plan\": {}}",
    );
    let truncated = file(
        &d,
        "cut.json",
        &std::fs::read_to_string(fixture("after.json")).unwrap()[..500],
    );
    let missing = d.path().join("nope.json").display().to_string();
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec!["--criteria", &malformed, &after],
            vec![format!("{malformed}:4:11: criterion `x`: require: `>= 3 furlongs`: unknown unit `furlongs`")],
        ),
        (
            vec!["--criteria", &unknown, &after],
            vec![
                format!("{unknown}:3:10: criterion `tail`: no metric `p99`"),
                "valid metrics: achieved_rate".into(),
                "latency.p99".into(),
            ],
        ),
        (vec!["--criteria", &syntax, &after], vec![format!("{syntax}:1:")]),
        (
            vec!["--criteria", &ok, &missing],
            vec![format!("cannot read result file {missing}")],
        ),
        (
            vec!["--criteria", &missing, &after],
            vec![format!("cannot read criteria file {missing}")],
        ),
        (
            vec!["--criteria", &ok, &plan],
            vec![format!("{plan}: schema `estune.plan/1`, but estune check reads `estune.bench/3`")],
        ),
        (vec!["--criteria", &ok, &truncated], vec![format!("{truncated}: not JSON")]),
        (
            vec!["--criteria", &ok, &after, "--baseline", &plan],
            vec![format!("{plan}: schema `estune.plan/1`")],
        ),
    ];
    for (args, wants) in cases {
        let mut all = vec!["check"];
        all.extend(args.iter().copied());
        let out = estune(&all);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{all:?}: {err}{}",
            text(&out.stdout)
        );
        assert!(out.stdout.is_empty(), "{all:?}: nothing on stdout");
        for want in wants {
            assert!(err.contains(&want), "{all:?}\nwant: {want}\ngot:  {err}");
        }
    }
}

#[test]
fn a_baseline_criterion_without_baseline_exits_2() {
    let out = estune(&[
        "check",
        "--criteria",
        &s(&des_targets()),
        &s(&fixture("after.json")),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("criterion `query response time 40 % better than before` compares with a baseline: pass --baseline BEFORE.json"),
        "{err}"
    );
    assert!(
        err.contains("des-targets.toml:"),
        "the error names the file and line: {err}"
    );
}

#[test]
fn flags_are_checked_and_help_teaches() {
    let out = estune(&["check", "--criteria", "x.toml", "r.json", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = estune(&["check", "r.json"]);
    assert_eq!(out.status.code(), Some(2), "--criteria is required");
    let help = text(&estune(&["check", "--help"]).stdout);
    for want in ["Examples:", "--baseline", "[[criterion]]", "Exit codes: 0"] {
        assert!(help.contains(want), "{want} missing from\n{help}");
    }
}
