//! `estune render` as a user runs it: results on stdout, diagnostics on
//! stderr, exit code 2 for bad input, no file left behind on failure.

use std::path::Path;
use std::process::{Command, Output};

fn estune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(args)
        .env_remove("ESTUNE_PROFILES")
        .output()
        .expect("running estune")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write_profile(dir: &Path, body: &str) -> String {
    let p = dir.join("p.toml");
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

/// Renders with a fixed size and version; `extra` adds flags.
fn render(profile: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "render",
        "--profile",
        profile,
        "--memory",
        "4GiB",
        "--cpus",
        "2",
        "--pg-version",
        "15",
    ];
    args.extend_from_slice(extra);
    estune(&args)
}

fn assert_input_error(out: &Output, needles: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        text(&out.stdout)
    );
    for n in needles {
        assert!(err.contains(n), "expected `{n}` in: {err}");
    }
}

#[test]
fn bad_input_is_reported_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "malformed TOML",
            "method = \"eventstore\"\n[primary\nconnections = 3\n",
            &["p.toml:2:", "invalid table header"],
        ),
        (
            "unknown key",
            "[primary.resources]\nmemroy = \"4GiB\"\n",
            &[
                "p.toml:2:1",
                "primary.resources",
                "unknown field `memroy`",
                "`memory`",
            ],
        ),
        (
            "bad size",
            "[primary.resources]\nmemory = \"4XB\"\n",
            &["p.toml:2:10", "not a size"],
        ),
        (
            "unknown parameter",
            "extends = \"eventstore\"\n[primary.overrides]\nshared_bufers = \"1GB\"\n",
            &["p.toml:3:17", "shared_bufers", "shared_buffers"],
        ),
        (
            "out of range",
            "extends = \"eventstore\"\n[primary.overrides]\nrandom_page_cost = -1.0\n",
            &["p.toml:3:20", "random_page_cost", "out of range"],
        ),
        (
            "bad enum",
            "extends = \"eventstore\"\n[replica.overrides]\nwal_level = \"everything\"\n",
            &["wal_level", "minimal", "logical"],
        ),
        (
            "parity",
            "extends = \"eventstore\"\n[replica.overrides]\nmax_connections = 20\n",
            &["replica parity", "max_connections = 20", "p.toml:3:19"],
        ),
        (
            "budget",
            "extends = \"eventstore\"\n[primary.overrides]\nwork_mem = \"512MB\"\n",
            &[
                "worst-case memory",
                "× 512MB × 2.0 × 1",
                "--allow-overcommit",
            ],
        ),
        (
            "unknown table",
            "[tables.event.options]\nfillfactor = 90\n",
            &["no table `event`", "events, snapshots"],
        ),
        (
            "bad reloption",
            "[tables.events.options]\nfillfactor = 5\n",
            &["p.toml:2:14", "give 10 to 100"],
        ),
        (
            "whole internet",
            "[access]\nclient_networks = [\"0.0.0.0/0\"]\n",
            &["p.toml:2:20", "whole internet"],
        ),
        (
            "bad cpus",
            "[replica.resources]\ncpus = -2\n",
            &["p.toml:2:8", "replica.resources.cpus", "-2 CPUs"],
        ),
        (
            "bad share",
            "[primary.workload]\nread_share = 1.5\n",
            &["p.toml:2:14", "1.5 is a share"],
        ),
        (
            "bad version",
            "pg_version = 12\n",
            &["p.toml:1:14", "PostgreSQL 12 is not supported"],
        ),
        (
            "tiny memory",
            "[primary.resources]\nmemory = \"16MB\"\n",
            &["p.toml:2:10", "below 64MB"],
        ),
        ("extends cycle", "extends = \"p.toml\"\n", &["cycle"]),
    ];
    for (what, body, needles) in cases {
        let p = write_profile(dir.path(), body);
        let out_dir = dir.path().join(format!("out-{}", what.replace(' ', "-")));
        let out = render(&p, &["-o", out_dir.to_str().unwrap()]);
        assert_input_error(&out, needles);
        assert!(!out_dir.exists(), "{what}: no output may be left behind");
    }
}

#[test]
fn missing_profile_lists_the_available_ones() {
    let out = render("nosuch", &[]);
    assert_input_error(
        &out,
        &[
            "no profile named `nosuch`",
            "eventstore",
            "des-benchmark",
            "pgtune-oltp",
            "stock",
        ],
    );
}

#[test]
fn unreadable_profile_names_the_file() {
    let out = render("/nonexistent/dir/p.toml", &[]);
    assert_input_error(&out, &["cannot read profile /nonexistent/dir/p.toml"]);
}

#[test]
fn original_setup_is_refused_without_overcommit() {
    let out = estune(&["render", "--profile", "des-benchmark", "--pg-version", "15"]);
    assert_input_error(
        &out,
        &[
            "replica: the worst-case memory",
            "200 × 96MB × 2.0 × 1",
            "6 GiB",
        ],
    );
    let ok = estune(&[
        "render",
        "--profile",
        "des-benchmark",
        "--pg-version",
        "15",
        "--allow-overcommit",
    ]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains("allowed by overcommit"));
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["render", "--profile", "eventstore", "--memory", "lots"][..],
        &["render", "--profile", "eventstore", "--cpus", "0"],
        &["render", "--profile", "eventstore", "--pg-version", "12"],
        &["render", "--profile", "eventstore", "--role", "standby"],
    ] {
        let out = estune(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn stdout_carries_only_the_result() {
    let out = render("eventstore", &["--role", "primary"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conf = text(&out.stdout);
    assert!(
        conf.starts_with("# postgresql.conf for the primary"),
        "{conf}"
    );
    assert!(conf.contains("\nshared_buffers = 1GB\n"));
    assert!(!conf.contains("note:") && !conf.contains("warning:"));
}

#[test]
fn explain_shows_every_setting_with_its_rule() {
    let out = render("eventstore", &["--role", "both", "--explain"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for needle in [
        "setting",
        "default",
        "rule",
        "apply",
        "shared_buffers",
        "25% of the 4 GiB limit",
        "restart",
        "reload",
        "worst-case memory",
        "replica —",
        "hot_standby_feedback",
        "catalog tuning",
        "fastupdate",
    ] {
        assert!(table.contains(needle), "missing `{needle}` in:\n{table}");
    }
}

#[test]
fn output_dir_gets_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = render("eventstore", &["-o", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    for f in [
        "primary/postgresql.conf",
        "primary/pg_hba.conf",
        "primary/alter-system.sql",
        "replica/postgresql.conf",
        "replica/pg_hba.conf",
        "replica/alter-system.sql",
        "catalog.sql",
        "plan.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let hba = std::fs::read_to_string(dir.path().join("primary/pg_hba.conf")).unwrap();
    let rules: Vec<&str> = hba
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(rules.len() >= 5, "{hba}");
    for rule in rules {
        assert!(
            !rule.contains("trust") && !rule.contains("0.0.0.0/0"),
            "{rule}"
        );
        assert!(
            rule.ends_with("scram-sha-256") || rule.starts_with("local   all             postgres"),
            "{rule}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(json["schema"], "estune.plan/1");
}
