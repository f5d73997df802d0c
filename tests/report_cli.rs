//! `estune report` as a user runs it, on real results from `estune bench`
//! (tests/fixtures/compare: A B B A of stock and eventstore, a capacity
//! and a 50 ops/s run each; tests/fixtures/check: one 50 ops/s run before
//! and after): every plot parses and shows each side, the page references
//! every plot and fetches nothing, its links lead to the results, and bad
//! input exits 2 leaving nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn estune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_estune"))
        .arg("report")
        .args(args)
        .output()
        .expect("estune runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs report into `out` and expects exit 0; the page.
fn report(inputs: &[PathBuf], out: &Path, more: &[&str]) -> String {
    let mut args: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    args.extend(["-o".to_string(), out.display().to_string()]);
    args.extend(more.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = estune(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    std::fs::read_to_string(out.join("index.html")).expect("index.html written")
}

fn plots(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// The `href` targets of a page, percent-decoded.
fn hrefs(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .map(|rest| {
            let raw = &rest[..rest.find('"').unwrap()];
            let mut out = Vec::new();
            let b = raw.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        })
        .collect()
}

fn assert_self_contained(page: &str) {
    for bad in ["<script", "http://", "https://", "url(", "@import", "<link"] {
        assert!(!page.contains(bad), "the page holds {bad}");
    }
}

#[test]
fn the_ab_ba_runs_make_plots_for_both_modes_and_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let criteria = repo("checks/des-targets.toml").display().to_string();
    let page = report(
        &[repo("tests/fixtures/compare")],
        &out,
        &["--criteria", &criteria],
    );
    let files = plots(&out);
    assert_eq!(
        files.len(),
        12,
        "six plots for each of two modes: {files:?}"
    );
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        let svg = std::fs::read_to_string(f).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let texts: String = doc.descendants().filter_map(|n| n.text()).collect();
        if !name.ends_with("connections.svg") {
            for side in ["stock · 2 runs", "eventstore · 2 runs"] {
                assert!(texts.contains(side), "{name} lacks {side}");
            }
            // Baseline blue, then vermillion: a line per run of each side.
            for colour in ["#0072B2", "#D55E00"] {
                let lines = doc
                    .descendants()
                    .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(colour))
                    .count();
                assert!(lines >= 2, "{name}: {lines} lines in {colour}");
            }
        } else {
            for panel in ["stock · primary", "eventstore · replica"] {
                assert!(texts.contains(panel), "{name} lacks {panel}");
            }
        }
        assert!(
            page.contains(&format!("src=\"plots/{name}\"")),
            "page lacks {name}"
        );
    }
    assert_self_contained(&page);
    // Every link leads somewhere: a section, a plot or a result file.
    let links = hrefs(&page);
    assert!(links.iter().filter(|l| l.ends_with(".json")).count() == 8);
    for l in links.iter().filter(|l| !l.starts_with('#')) {
        assert!(out.join(l).exists(), "{l} leads nowhere");
    }
    for section in [
        "What was run",
        "Verdicts",
        "Checks",
        "Plots",
        "Every operation kind, service time and the settings",
        "Result files",
    ] {
        assert!(page.contains(&format!(">{section}</h2>")), "{section}");
    }
    // Checks: eventstore's two open-loop runs against stock's.
    assert!(page.contains("eventstore, repeat 1:") && page.contains("eventstore, repeat 2:"));
    assert!(page.contains("1-stock-rate.json") && page.contains("improvement.latency.p50"));
    assert!(page.contains("settings that differ between the sides"));
    // Where the time went: the statements table of each mode, through
    // compare's HTML (eventstore's statements; stock preloads nothing).
    assert_eq!(
        page.matches("most execution time across the sides first")
            .count(),
        2,
        "one statements table per mode"
    );
    assert!(page.contains("<td>S1 primary</td>") && page.contains("shared blocks/call"));
    assert!(page.contains("S1 primary: WITH context AS (SELECT MAX(sequence_number)"));
    assert!(page.contains("stock: no statements ("));
}

#[test]
fn baseline_orders_the_sides_and_no_criteria_means_no_checks() {
    let dir = tempfile::tempdir().unwrap();
    let fx = repo("tests/fixtures/check");
    let page = report(
        &[fx.join("after.json"), fx.join("before.json")],
        dir.path(),
        &["--baseline", "before"],
    );
    assert!(page.find("before (baseline)").unwrap() < page.find("<td>after</td>").unwrap());
    assert!(!page.contains("id=\"checks\""));
    assert_eq!(plots(dir.path()).len(), 6, "open loop only");
    let p99 = std::fs::read_to_string(dir.path().join("plots/open-loop-p99.svg")).unwrap();
    assert!(
        p99.contains("autovacuum of events (1)"),
        "after.json's autovacuum is marked"
    );
    assert_self_contained(&page);
}

#[test]
fn unlike_runs_need_force_and_then_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let inputs = [
        repo("tests/fixtures/compare/1-stock-rate.json"),
        repo("tests/fixtures/check/after.json"),
    ];
    let mut args: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    args.extend(["-o".into(), out.display().to_string()]);
    let refused = estune(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("--force"));
    assert!(!out.exists(), "nothing written when refused");
    let page = report(&inputs, &out, &["--force"]);
    assert!(page.contains("not alike"));
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("old.json");
    std::fs::write(&foreign, r#"{"schema": "estune.bench/1"}"#).unwrap();
    let bad_criteria = dir.path().join("bad.toml");
    std::fs::write(
        &bad_criteria,
        "[[criterion]]\nname = \"x\"\nmetric = \"nope\"\nrequire = \"<= 1\"\n",
    )
    .unwrap();
    let rate = repo("tests/fixtures/compare/1-stock-rate.json")
        .display()
        .to_string();
    let other = repo("tests/fixtures/compare/2-eventstore-rate.json")
        .display()
        .to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![dir.path().join("missing.json").display().to_string()],
            "missing.json",
        ),
        (
            vec![foreign.display().to_string(), rate.clone()],
            "estune.bench/1",
        ),
        (
            vec![
                rate.clone(),
                other.clone(),
                "--criteria".into(),
                bad_criteria.display().to_string(),
            ],
            "bad.toml",
        ),
        (
            vec![rate.clone(), other, "--baseline".into(), "nobody".into()],
            "nobody",
        ),
    ];
    for (args, says) in cases {
        let out = dir.path().join("out");
        let mut all = args.clone();
        all.extend(["-o".into(), out.display().to_string()]);
        let o = estune(&all.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} left {out:?}");
    }
}

#[test]
fn help_teaches_what_is_in_the_report() {
    let o = estune(&["--help"]);
    let help = text(&o.stdout);
    for want in [
        "index.html",
        "plots/*.svg",
        "--criteria",
        "Examples:",
        "estune report runs/ -o report/",
    ] {
        assert!(help.contains(want), "{want}");
    }
}
