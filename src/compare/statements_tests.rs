//! The statements table on the recorded runs with hand-made statements:
//! what is matched across sides, what is left out, the figures per call
//! and per second, the verdict on the mean, and the words when a side has
//! none.

use super::*;
use crate::bench::statements::{ServerStatements, StatementStats, StatementWindow, Statements};
use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

/// (server, role, text, calls, total ms, max ms, blocks hit, read, rows)
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    f64,
    Option<f64>,
    i64,
    i64,
    i64,
);

fn statements(entries: &[Entry]) -> Statements {
    let server = |role: &str| {
        let top = entries
            .iter()
            .filter(|e| e.0 == role)
            .enumerate()
            .map(|(i, e)| StatementStats {
                queryid: i.to_string(),
                role: e.1.into(),
                query: e.2.into(),
                calls: e.3,
                total_exec_ms: e.4,
                mean_exec_ms: e.4 / e.3 as f64,
                max_exec_ms: e.5,
                shared_blks_hit: e.6,
                shared_blks_read: e.7,
                rows: e.8,
                ..StatementStats::default()
            })
            .collect();
        ServerStatements {
            role: role.into(),
            database: Some("eventstore".into()),
            pg_stat_statements: Some(StatementWindow {
                window_s: 10.0,
                max_scope: "window".into(),
                top,
                ..StatementWindow::default()
            }),
            ..ServerStatements::default()
        }
    };
    Statements {
        top_n: 20,
        explain_slow_ms: None,
        app_role: Some("app".into()),
        servers: vec![server("primary"), server("replica")],
    }
}

const GUARD: &str = "WITH context AS (SELECT MAX(sequence_number) …";
const QUERY: &str = "SELECT event_type FROM events WHERE payload @> $1";

/// The closed-loop runs of the recorded set (stock 1 and 4, eventstore 2
/// and 3), each given its statements.
fn closed_loop(edit: impl Fn(&str, usize) -> Statements) -> Vec<LoadedRun> {
    let runs = load_runs(&[fixtures("compare")]).unwrap();
    let mut out = Vec::new();
    let mut seen = [0usize; 2];
    for mut r in runs {
        if r.result.metadata.mode != "closed-loop" {
            continue;
        }
        let label = r.result.metadata.label.clone().unwrap();
        let i = usize::from(label == "eventstore");
        r.result.statements = Some(edit(&label, seen[i]));
        seen[i] += 1;
        out.push(r);
    }
    out
}

fn group(c: &Comparison) -> &ModeGroup {
    &c.groups[0]
}

fn row<'a>(g: &'a ModeGroup, subject: &str, key: &str) -> &'a FigureRow {
    g.row(subject, key)
        .unwrap_or_else(|| panic!("no {subject} {key}"))
}

fn runs_of(r: &FigureRow, side: usize) -> Vec<Option<f64>> {
    r.values[side].runs.clone()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn statements_are_matched_by_server_and_text_and_judged_on_their_mean() {
    let runs = closed_loop(|label, i| {
        // Guard means: stock 0.50 and 0.52 ms, eventstore 0.30 and 0.32 ms.
        let mean = match (label, i) {
            ("stock", 0) => 0.50,
            ("stock", _) => 0.52,
            (_, 0) => 0.30,
            _ => 0.32,
        };
        let total = 1000.0 * mean;
        let mut e: Vec<Entry> = if label == "stock" && i == 0 {
            // Two entries of the same text (two queryids): one statement.
            vec![
                (
                    "primary",
                    "app",
                    GUARD,
                    400,
                    total * 0.4,
                    Some(3.0),
                    8000,
                    0,
                    400,
                ),
                (
                    "primary",
                    "app",
                    GUARD,
                    600,
                    total * 0.6,
                    Some(2.0),
                    12000,
                    100,
                    600,
                ),
            ]
        } else {
            vec![(
                "primary",
                "app",
                GUARD,
                1000,
                total,
                Some(4.0),
                20000,
                100,
                1000,
            )]
        };
        // The samplers' statement, more time than any: not the workload's.
        e.push((
            "primary",
            "postgres",
            "SELECT sampler",
            10,
            9_999.0,
            Some(1.0),
            0,
            0,
            10,
        ));
        // The same text on the replica is another statement.
        e.push(("replica", "app", QUERY, 200, 20.0, None, 1000, 10, 600));
        if label == "eventstore" {
            e.push((
                "primary",
                "app",
                "SELECT only on eventstore",
                50,
                10.0,
                Some(0.5),
                5,
                0,
                5,
            ));
        }
        statements(&e)
    });
    let c = compare(&runs, &CompareOptions::default()).unwrap();
    let g = group(&c);
    let t = g.tables.iter().find(|t| t.id == "statements").unwrap();
    let ids: Vec<(&str, &str, &str)> = g
        .statements
        .iter()
        .map(|s| (s.id.as_str(), s.server.as_str(), s.query.as_str()))
        .collect();
    // By total time across the sides: guard 510 + 310, the replica's query
    // 20 + 20, the eventstore-only one 0 + 10.
    assert_eq!(
        ids,
        [
            ("S1", "primary", GUARD),
            ("S2", "replica", QUERY),
            ("S3", "primary", "SELECT only on eventstore"),
        ]
    );
    assert_eq!(t.rows.len(), 3 * 6);
    assert!(!t.rows.iter().any(|r| r.subject.contains("sampler")));

    let mean = row(g, "S1 primary", "mean_ms");
    assert_eq!(runs_of(mean, 0).len(), 2);
    assert!(close(mean.values[0].runs[0], 0.50) && close(mean.values[0].runs[1], 0.52));
    assert!(close(mean.values[0].value, 0.51) && close(mean.values[1].value, 0.31));
    // Welch by hand: s² = 0.0002 a side, se² = 0.0002, df = 2,
    // t(0.975, 2) = 4.302653; half-width 4.302653 × 0.0141421 = 0.060849.
    let d = mean.values[1].delta.as_ref().unwrap();
    assert!((d.threshold.unwrap() - 0.060849).abs() < 1e-5, "{d:?}");
    assert_eq!(d.verdict, Verdict::Better);
    assert!(close(d.change, -0.2));

    // Per call and per second, from the summed entries of stock's first run.
    let per = |key: &str| row(g, "S1 primary", key).values[0].runs[0];
    assert!(close(per("calls_per_s"), 100.0));
    assert!(close(per("shared_blks_per_call"), 20.1));
    assert!(close(per("shared_read_per_call"), 0.1));
    assert!(close(per("rows_per_call"), 1.0));
    assert!(close(per("max_ms"), 3.0));
    // Neither better nor worse in itself: changed or within noise.
    let calls = row(g, "S1 primary", "calls_per_s");
    assert_eq!(calls.direction, Direction::Neutral);
    // A maximum nobody knows, and a statement one side does not have.
    assert_eq!(row(g, "S2 replica", "max_ms").values[0].value, None);
    let only = row(g, "S3 primary", "mean_ms");
    assert_eq!(only.values[0].value, None);
    assert_eq!(
        only.values[1].delta.as_ref().unwrap().verdict,
        Verdict::NoData
    );
    assert!(g.statement_notes.is_empty(), "{:?}", g.statement_notes);
}

#[test]
fn a_side_without_statements_says_why_and_a_single_run_has_no_estimate() {
    let d = fixtures("check");
    let mut runs = load_runs(&[d.join("before.json"), d.join("after.json")]).unwrap();
    let entries: [Entry; 1] = [("primary", "app", GUARD, 100, 50.0, Some(2.0), 10, 0, 100)];
    runs[1].result.statements = Some(statements(&entries));
    let c = compare(&runs, &CompareOptions::default()).unwrap();
    let g = group(&c);
    assert_eq!(g.statement_notes.len(), 1, "{:?}", g.statement_notes);
    assert!(
        g.statement_notes[0].starts_with(
            "before: no statements (pg_stat_statements is not in shared_preload_libraries"
        ),
        "{}",
        g.statement_notes[0]
    );
    assert_eq!(
        row(g, "S1 primary", "mean_ms").values[1]
            .delta
            .as_ref()
            .unwrap()
            .verdict,
        Verdict::NoData
    );
    // Both sides with statements, one run each: no per-second series.
    let slower: [Entry; 1] = [("primary", "app", GUARD, 100, 80.0, Some(2.0), 10, 0, 100)];
    runs[0].result.statements = Some(statements(&slower));
    let c = compare(&runs, &CompareOptions::default()).unwrap();
    let d = row(group(&c), "S1 primary", "mean_ms").values[1]
        .delta
        .clone()
        .unwrap();
    assert_eq!(d.verdict, Verdict::NoEstimate);
    assert!(d
        .note
        .unwrap()
        .contains("no noise estimate from a single run"));
    // No statements anywhere: an empty table and why.
    runs[0].result.statements = None;
    runs[1].result.statements = None;
    let c = compare(&runs, &CompareOptions::default()).unwrap();
    let g = group(&c);
    assert!(g.statements.is_empty());
    assert_eq!(g.statement_notes.len(), 2);
    assert!(g.statement_notes[1].contains("the result holds no statements"));
}

#[test]
fn every_format_shows_the_statements_and_the_brief_names_one() {
    let runs = closed_loop(|label, _| {
        let total = if label == "stock" { 500.0 } else { 300.0 };
        statements(&[(
            "primary",
            "app",
            GUARD,
            1000,
            total,
            Some(4.0),
            100,
            1,
            1000,
        )])
    });
    let c = compare(&runs, &CompareOptions::default()).unwrap();
    let (table, md, html) = (to_table(&c), to_markdown(&c), to_html(&c));
    for f in [&table, &md, &html] {
        assert!(
            f.contains("most execution time across the sides first"),
            "{f}"
        );
        assert!(f.contains("S1 primary"), "{f}");
        assert!(f.contains("shared blocks/call"), "{f}");
    }
    assert!(table.contains("│ statement"), "{table}");
    assert!(
        table.contains("S1 primary: WITH context AS (SELECT MAX(sequence_number) …"),
        "{table}"
    );
    let v: serde_json::Value = serde_json::from_str(&to_json(&c)).unwrap();
    assert_eq!(v["groups"][0]["statements"][0]["query"], GUARD);
    let tables = v["groups"][0]["tables"].as_array().unwrap();
    assert!(tables.iter().any(|t| t["id"] == "statements"));
    let brief = to_summary(&c);
    assert!(
        brief.contains("most time in statement primary: WITH context AS (SELECT MAX(sequence_number) … — mean stock 0.5 ms, eventstore 0.3 ms (better)"),
        "{brief}"
    );
    assert!(
        !brief.contains("S1 primary"),
        "the brief has no statements table"
    );
}
