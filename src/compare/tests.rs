//! The comparison end to end on real results (tests/fixtures/compare: an
//! A B B A set of stock and eventstore, a capacity and a 50 ops/s run
//! each; tests/fixtures/check: one 50 ops/s run before and after), edited
//! where a case needs a condition the recordings do not have.

use super::*;
use crate::bench::RunResult;
use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn compare_set() -> Vec<LoadedRun> {
    load_runs(&[fixtures("compare")]).unwrap()
}

fn before_after() -> Vec<LoadedRun> {
    let d = fixtures("check");
    load_runs(&[d.join("before.json"), d.join("after.json")]).unwrap()
}

fn opts() -> CompareOptions {
    CompareOptions::default()
}

fn group<'a>(c: &'a Comparison, mode: &str) -> &'a ModeGroup {
    c.groups.iter().find(|g| g.mode == mode).unwrap()
}

fn delta<'a>(g: &'a ModeGroup, subject: &str, key: &str) -> &'a Delta {
    g.row(subject, key).unwrap().values[1]
        .delta
        .as_ref()
        .unwrap()
}

/// A copy of a run under another file name and label, edited.
fn variant(r: &LoadedRun, file: &str, label: &str, edit: impl Fn(&mut RunResult)) -> LoadedRun {
    let mut v = r.clone();
    v.file = PathBuf::from(file);
    v.result.metadata.label = Some(label.into());
    edit(&mut v.result);
    v
}

#[test]
fn a_folder_gives_sides_by_label_and_groups_by_mode() {
    let runs = compare_set();
    assert_eq!(runs.len(), 8);
    let c = compare(&runs, &opts()).unwrap();
    let labels: Vec<&str> = c.sides().iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["stock", "eventstore"]);
    assert_eq!(c.sides()[0].profile.as_deref(), Some("stock"));
    assert_eq!(c.sides()[1].plan_hash.as_deref(), Some("5d40f6c4bdab"));
    assert_eq!(c.sides()[0].files.len(), 4);
    let modes: Vec<&str> = c.groups.iter().map(|g| g.mode.as_str()).collect();
    assert_eq!(modes, ["closed-loop", "open-loop"]);
    let closed = group(&c, "closed-loop");
    assert_eq!(closed.title, "closed-loop capacity");
    assert_eq!(group(&c, "open-loop").title, "open-loop at 50 ops/s");
    // Two runs a side: Welch.
    assert!(matches!(
        closed.sides[1].noise,
        Some(NoiseMethod::Welch {
            baseline_runs: 2,
            runs: 2,
            ..
        })
    ));
    assert!(closed.row("all", "capacity").is_some());
    assert!(
        closed.row("all", "dropped").is_none(),
        "no drops in a closed loop"
    );
    assert!(closed.tables.iter().all(|t| t.id != "service"));
    assert!(group(&c, "open-loop")
        .tables
        .iter()
        .any(|t| t.id == "service"));
    assert!(!c.forced && c.unlike.is_empty());
}

#[test]
fn figures_are_the_means_of_the_runs_and_deltas_follow() {
    let runs = compare_set();
    let c = compare(&runs, &opts()).unwrap();
    let row = group(&c, "closed-loop").row("all", "capacity").unwrap();
    // 1-stock 441.9, 4-stock 576.5; 2-eventstore 633.6, 3-eventstore 690.7.
    assert_eq!(row.values[0].runs, [Some(441.9), Some(576.5)]);
    assert!((row.values[0].value.unwrap() - 509.2).abs() < 1e-9);
    assert!((row.values[1].value.unwrap() - 662.15).abs() < 1e-9);
    let d = row.values[1].delta.as_ref().unwrap();
    assert!((d.change.unwrap() - 152.95).abs() < 1e-9);
    assert!((d.change_pct.unwrap() - 152.95 / 509.2 * 100.0).abs() < 1e-9);
    // Welch by hand: s²(stock) = 67.3²×2 = 9058.58, s²(eventstore) =
    // 28.55²×2 = 1630.205; se² = (9058.58 + 1630.205)/2 = 5344.3925;
    // df = se⁴ / (4529.29² + 815.1025²) = 1.34863; t(0.975, 1.34863)
    // from the quantile function; half-width = t × 73.10535.
    let se = (5_344.392_5f64).sqrt();
    let df = 5_344.392_5f64.powi(2) / (4_529.29f64.powi(2) + 815.102_5f64.powi(2));
    let t = stats::t_quantile(0.975, df).unwrap();
    assert!((d.threshold.unwrap() - t * se).abs() < 1e-6, "{d:?}");
    // The same from Student's t outside this crate (mpmath: t(0.975,
    // 1.34863) = 7.059711, × 73.10535 = 516.1027): the change of 152.95
    // is well inside.
    assert!((d.threshold.unwrap() - 516.1027).abs() < 1e-3, "{d:?}");
    assert_eq!(d.verdict, Verdict::WithinNoise);
}

#[test]
fn welch_thresholds_on_hand_made_runs() {
    // Three capacity runs a side: 10, 12, 14 against 14, 16, 18 ops/s.
    // Hand-computed: change 4 (33.3 %), half-width 4.5339 (37.8 %): within
    // noise. Against 20, 22, 24 (change 10): better.
    let base = &compare_set()[0];
    let rate = |v: f64| move |r: &mut RunResult| r.summary.total.achieved_rate = v;
    let side = |label: &str, rates: [f64; 3]| -> Vec<LoadedRun> {
        rates
            .iter()
            .enumerate()
            .map(|(i, &v)| variant(base, &format!("{label}-{i}.json"), label, rate(v)))
            .collect()
    };
    let mut runs = side("a", [10.0, 12.0, 14.0]);
    runs.extend(side("b", [14.0, 16.0, 18.0]));
    runs.extend(side("c", [20.0, 22.0, 24.0]));
    let c = compare(&runs, &opts()).unwrap();
    let row = group(&c, "closed-loop").row("all", "capacity").unwrap();
    let b = row.values[1].delta.as_ref().unwrap();
    assert_eq!(b.change, Some(4.0));
    assert!((b.change_pct.unwrap() - 33.333).abs() < 1e-3);
    assert!((b.threshold.unwrap() - 4.5339).abs() < 1e-4, "{b:?}");
    assert!((b.threshold_pct.unwrap() - 37.782).abs() < 1e-3, "{b:?}");
    assert_eq!(b.verdict, Verdict::WithinNoise);
    let c3 = row.values[2].delta.as_ref().unwrap();
    assert_eq!((c3.change, c3.verdict), (Some(10.0), Verdict::Better));
    // Every other side is compared with the baseline, in columns.
    assert_eq!(row.values.len(), 3);
}

#[test]
fn a_single_run_a_side_uses_the_bootstrap_and_says_so() {
    let c = compare(&before_after(), &opts()).unwrap();
    assert_eq!(c.groups.len(), 1);
    let g = &c.groups[0];
    let m = g.sides[1].noise.as_ref().unwrap();
    assert!(m.single_run());
    assert!(
        m.describe().starts_with("single-run estimate"),
        "{}",
        m.describe()
    );
    assert!(matches!(m, NoiseMethod::BlockBootstrap { block_s: 4, .. }));
    // p99 has a per-second series; p90 and service time have none.
    assert!(delta(g, "all", "latency.p99").threshold.is_some());
    let p90 = delta(g, "all", "latency.p90");
    assert_eq!((p90.threshold, p90.verdict), (None, Verdict::NoEstimate));
    assert!(p90
        .note
        .as_deref()
        .unwrap()
        .contains("no noise estimate from a single run"));
    let svc = delta(g, "all", "service_latency.p99");
    assert_eq!(svc.verdict, Verdict::NoEstimate);
    // The same files give the same thresholds.
    assert_eq!(compare(&before_after(), &opts()).unwrap(), c);
}

#[test]
fn a_zero_baseline_gives_an_absolute_change() {
    // AddBookCopy never had to drop an operation before. The recorded
    // after run dropped none either, so it is made to drop 3 here.
    fn add(r: &mut RunResult) -> &mut crate::bench::OpSummary {
        r.summary
            .ops
            .iter_mut()
            .find(|o| o.op == "AddBookCopy")
            .unwrap()
    }
    let mut runs = before_after();
    assert_eq!(add(&mut runs[0].result).dropped, 0, "never dropped before");
    add(&mut runs[1].result).dropped = 3;
    let c = compare(&runs, &opts()).unwrap();
    let g = &c.groups[0];
    let d = delta(g, "AddBookCopy", "dropped");
    assert_eq!((d.change, d.change_pct), (Some(3.0), None));
    let text = to_table(&c);
    assert!(text.contains("+3 (from 0)"), "{text}");
}

#[test]
fn baseline_option_orders_the_sides_and_unknown_labels_are_refused() {
    let runs = compare_set();
    let o = CompareOptions {
        baseline: Some("eventstore".into()),
        force: false,
    };
    let c = compare(&runs, &o).unwrap();
    assert_eq!(c.baseline().unwrap().label, "eventstore");
    let o = CompareOptions {
        baseline: Some("tuned".into()),
        force: false,
    };
    let e = compare(&runs, &o).unwrap_err().to_string();
    assert_eq!(
        e,
        "no run is labelled `tuned` (--baseline); the labels are: stock, eventstore"
    );
}

#[test]
fn one_side_or_nothing_in_common_is_refused() {
    let runs: Vec<LoadedRun> = compare_set()
        .into_iter()
        .filter(|r| r.result.metadata.label.as_deref() == Some("stock"))
        .collect();
    let e = compare(&runs, &opts()).unwrap_err();
    assert!(matches!(e, CompareError::OneSide { .. }), "{e}");
    assert!(matches!(compare(&[], &opts()), Err(CompareError::NoRuns)));
    // Stock only closed-loop, eventstore only open-loop: no mode has both.
    let runs: Vec<LoadedRun> = compare_set()
        .into_iter()
        .filter(|r| {
            let m = &r.result.metadata;
            (m.label.as_deref() == Some("stock")) == (m.mode == "closed-loop")
        })
        .collect();
    let e = compare(&runs, &opts()).unwrap_err().to_string();
    assert!(
        e.starts_with("nothing to compare: only stock has closed-loop runs"),
        "{e}"
    );
}

#[test]
fn a_mode_without_a_second_side_is_left_out_with_a_note() {
    let runs: Vec<LoadedRun> = compare_set()
        .into_iter()
        .filter(|r| {
            let m = &r.result.metadata;
            m.label.as_deref() == Some("stock") || m.mode == "open-loop"
        })
        .collect();
    let c = compare(&runs, &opts()).unwrap();
    assert_eq!(c.groups.len(), 1);
    assert!(c
        .notes
        .iter()
        .any(|n| n == "only stock has closed-loop runs: nothing to compare them with"));
}

#[test]
fn unlike_runs_are_refused_with_every_difference() {
    let mut runs = compare_set();
    // 2-eventstore-rate ran at 60 ops/s, on PostgreSQL 16, with 2 GiB.
    let i = runs
        .iter()
        .position(|r| r.file.ends_with("2-eventstore-rate.json"))
        .unwrap();
    let r = &mut runs[i].result.metadata;
    r.rate = 60.0;
    let t = r.target.as_mut().unwrap();
    t.servers[1].major = 16;
    t.servers[0].memory_bytes = Some(2 << 30);
    let e = compare(&runs, &opts()).unwrap_err();
    let CompareError::Unlike { differences } = &e else {
        panic!("{e}")
    };
    let lines: Vec<String> = differences.iter().map(|d| d.describe()).collect();
    assert_eq!(
        lines,
        [
            "open-loop runs: rate: stock 50 ops/s; eventstore 60 ops/s and 50 ops/s",
            "open-loop runs: memory of the primary: stock 4 GiB; eventstore 2 GiB and 4 GiB",
            "open-loop runs: PostgreSQL major of the replica: stock 15; eventstore 16 and 15",
        ]
    );
    let text = e.to_string();
    assert!(text.contains("pass --force"), "{text}");
    // --force compares them and keeps the differences as a warning.
    let forced = CompareOptions {
        baseline: None,
        force: true,
    };
    let c = compare(&runs, &forced).unwrap();
    assert!(c.forced);
    assert_eq!(c.unlike.len(), 3);
    assert!(
        to_table(&c).contains("warning: not alike (compared with --force): open-loop runs: rate")
    );
}

#[test]
fn a_different_duration_or_mix_is_unlike() {
    // The check fixtures ran 15 s, the compare set 10 s.
    let mut runs = before_after();
    runs.extend(
        compare_set()
            .into_iter()
            .filter(|r| r.result.metadata.mode == "open-loop"),
    );
    let e = compare(&runs, &opts()).unwrap_err().to_string();
    assert!(
        e.contains("duration: before 15 s; after 15 s; stock 10 s; eventstore 10 s"),
        "{e}"
    );
    let mut runs = before_after();
    runs[1].result.metadata.mix[0].weight = 40.0;
    let e = compare(&runs, &opts()).unwrap_err().to_string();
    assert!(e.contains("mix: before LendBookCopyToReader 42,"), "{e}");
    assert!(e.contains("after LendBookCopyToReader 40,"), "{e}");
}

#[test]
fn settings_that_differ_are_listed_with_defaults_and_unknowns() {
    let mut runs = before_after();
    let c = compare(&runs, &opts()).unwrap();
    let sb = c
        .settings
        .iter()
        .find(|s| s.role == "primary" && s.name == "shared_buffers")
        .unwrap();
    let values: Vec<&str> = sb.values.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(values, ["default", "1GB"]);
    assert!(c
        .settings
        .iter()
        .all(|s| s.values[0].value != s.values[1].value));
    assert!(
        !c.settings.iter().any(|s| s.name == "wal_level"),
        "same on both sides"
    );
    runs[0].result.metadata.target = None;
    let c = compare(&runs, &opts()).unwrap();
    assert!(c.settings.iter().all(|s| s.values[0].value == "unknown"));
    assert!(c
        .notes
        .iter()
        .any(|n| n.contains("the results of before do not record")));
    assert!(c
        .notes
        .iter()
        .any(|n| n.contains("PostgreSQL major of the primary is not recorded in runs of before")));
}

#[test]
fn runs_without_a_label_are_named_after_their_file() {
    let mut runs = before_after();
    for r in &mut runs {
        r.result.metadata.label = None;
    }
    let c = compare(&runs, &opts()).unwrap();
    let labels: Vec<&str> = c.sides().iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["before", "after"]);
}

#[test]
fn empty_or_broken_runs_give_no_data_rather_than_a_panic() {
    let mut runs = before_after();
    let r = &mut runs[1].result;
    r.series.clear();
    r.server_samples.clear();
    r.summary.ops.clear();
    r.summary.total.count = 0;
    r.summary.total.achieved_rate = f64::NAN;
    let c = compare(&runs, &opts()).unwrap();
    let g = &c.groups[0];
    assert_eq!(delta(g, "all", "achieved_rate").verdict, Verdict::NoData);
    assert_eq!(delta(g, "all", "latency.p99").verdict, Verdict::NoData);
    assert_eq!(
        delta(g, "pair", "cache_hit_pct.primary").verdict,
        Verdict::NoData
    );
    assert_eq!(
        delta(g, "LendBookCopyToReader", "latency.p50").verdict,
        Verdict::NoData
    );
    for f in [
        to_table(&c),
        to_markdown(&c),
        to_json(&c),
        to_html(&c),
        headline(&c),
    ] {
        assert!(!f.contains("NaN") && !f.contains("inf"), "{f}");
    }
}

#[test]
fn every_format_says_the_same_and_states_the_method() {
    let c = compare(&compare_set(), &opts()).unwrap();
    let method = "Welch 95 % interval on the per-run figures";
    let (table, md, html) = (to_table(&c), to_markdown(&c), to_html(&c));
    for f in [&table, &md, &html] {
        assert!(f.contains(method), "{f}");
        assert!(f.contains("closed-loop capacity: operations"), "{f}");
        assert!(
            f.contains("max_wal_size") || f.contains(r"max\_wal\_size"),
            "{f}"
        );
    }
    assert!(md.contains(r"max\_wal\_size | default | 2GB |"), "{md}");
    let v: serde_json::Value = serde_json::from_str(&to_json(&c)).unwrap();
    assert_eq!(v["schema"], SCHEMA);
    assert_eq!(v["groups"][0]["sides"][1]["noise"]["method"], "welch");
    assert_eq!(v["groups"][0]["tables"][0]["rows"][0]["key"], "capacity");
    assert_eq!(v["sides"][0]["label"], "stock");
    let h = headline(&c);
    assert!(h.starts_with("closed-loop capacity, eventstore vs stock: capacity 509.2/s → 662.2/s (+30.0 %, within noise; noise ±"), "{h}");
    assert!(h.contains("open-loop at 50 ops/s, eventstore vs stock: achieved rate 50/s → 50/s (=, within noise"), "{h}");
    assert_eq!(h.lines().count(), 2);
}

#[test]
fn the_summary_leaves_out_equal_figures_and_pairs_many_sides() {
    let runs = compare_set();
    let c = compare(&runs, &opts()).unwrap();
    let s = to_summary(&c);
    // Two sides: one grid per mode, figures equal on both sides named
    // under it instead of filling it (no errors in either fixture).
    assert!(
        s.contains("closed-loop capacity: all operations and the servers"),
        "{s}"
    );
    assert!(
        s.contains("open-loop at 50 ops/s: all operations and the servers"),
        "{s}"
    );
    let equal = s
        .lines()
        .find(|l| l.starts_with("equal on every side: "))
        .unwrap();
    assert!(
        equal.contains("errors") && equal.contains("conflicts"),
        "{equal}"
    );
    assert!(!s.lines().any(|l| l.starts_with("│ errors ")), "{s}");
    assert!(s.lines().any(|l| l.starts_with("│ capacity ")), "{s}");
    // A third side: each side against the baseline in a grid of its own.
    let mut three = runs.clone();
    for r in &runs {
        if r.result.metadata.label.as_deref() == Some("eventstore") {
            let name = r
                .file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace("eventstore", "third");
            three.push(variant(r, &name, "third", |x| {
                x.summary.total.errors.total += 2
            }));
        }
    }
    let s = to_summary(&compare(&three, &opts()).unwrap());
    for want in [
        "closed-loop capacity: eventstore vs stock",
        "closed-loop capacity: third vs stock",
        "open-loop at 50 ops/s: third vs stock",
    ] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
    // figure, stock, the side, Δ, noise ±, verdict: six columns each.
    let headers: Vec<&str> = s.lines().filter(|l| l.starts_with("│ figure")).collect();
    assert_eq!(headers.len(), 4, "{s}"); // two modes, two sides against the baseline
    assert!(headers.iter().all(|l| l.matches('┆').count() == 5), "{s}");
    // The third side has errors, so errors is no longer equal everywhere.
    assert!(s.lines().any(|l| l.starts_with("│ errors ")), "{s}");
}

#[test]
fn html_is_a_fragment_with_verdict_classes_and_escaped_text() {
    let mut runs = before_after();
    runs[1].result.metadata.label = Some("<b>tuned</b> & co".into());
    let html = to_html(&compare(&runs, &opts()).unwrap());
    assert!(html.starts_with("<section class=\"estune-compare\">"));
    assert!(html.contains("<thead><tr><th>op</th><th>figure</th>"));
    assert!(html.contains("<tbody>"));
    assert!(html.contains("&lt;b&gt;tuned&lt;/b&gt; &amp; co"));
    assert!(!html.contains("<b>"));
    for class in ["verdict better", "verdict worse", "verdict noise"] {
        assert!(html.contains(&format!("class=\"{class}\"")), "{class}");
    }
    assert!(!html.contains("<script") && !html.contains("http"));
}

#[test]
fn server_figures_are_the_ones_check_measures() {
    // One reading of the samples (src/window.rs): compare's figures equal
    // the values `estune check` reports for the same run.
    let runs = before_after();
    let c = compare(&runs, &opts()).unwrap();
    let g = &c.groups[0];
    let server = |role: &str| format!("server = \"{role}\"");
    for (metric, extra, require, key) in [
        (
            "replication_lag.p50",
            String::new(),
            "0ms",
            "replication_lag.p50",
        ),
        (
            "replication_lag.p99",
            String::new(),
            "0ms",
            "replication_lag.p99",
        ),
        (
            "replication_lag.max",
            String::new(),
            "0ms",
            "replication_lag.max",
        ),
        (
            "cache_hit_pct",
            server("primary"),
            "0%",
            "cache_hit_pct.primary",
        ),
        (
            "cache_hit_pct",
            server("replica"),
            "0%",
            "cache_hit_pct.replica",
        ),
        (
            "checkpoints.requested",
            String::new(),
            "0",
            "checkpoints.requested",
        ),
    ] {
        let text = format!(
            "[[criterion]]\nname = \"x\"\nmetric = \"{metric}\"\n{extra}\nrequire = \">= {require}\"\n"
        );
        let criteria = crate::check::parse_criteria("t.toml", &text).unwrap();
        let report = crate::check::evaluate(&criteria, &runs[1].result, None);
        let row = g.row("pair", key).unwrap();
        assert_eq!(
            row.values[1].value, report.outcomes[0].measured,
            "{key}: {report:?}"
        );
    }
}

#[test]
fn per_second_series_add_up_to_the_summary() {
    use figures::{Pct, Source};
    let run = &compare_set()[1].result; // 1-stock-rate
    let (rate, stat) = Source::Rate.per_second(run, None).unwrap();
    assert_eq!((rate.len(), stat), (10, bootstrap::Stat::Mean));
    assert_eq!(stat.of(&rate, 1), run.summary.total.achieved_rate);
    // The kinds' seconds add up to all of them.
    let kinds: f64 = run
        .summary
        .ops
        .iter()
        .map(|o| {
            Source::Rate
                .per_second(run, Some(&o.op))
                .unwrap()
                .0
                .iter()
                .sum::<f64>()
        })
        .sum();
    assert_eq!(kinds, rate.iter().sum::<f64>());
    let (late, stat) = Source::Late.per_second(run, None).unwrap();
    assert_eq!(stat.of(&late, 1), run.summary.total.late as f64);
    assert!(Source::Late.per_second(run, Some("AddBookCopy")).is_none());
    // The largest second is the run's maximum, to the series' precision.
    let (max, stat) = Source::Intended(Pct::Max).per_second(run, None).unwrap();
    let whole = Source::Intended(Pct::Max).value(run, None).unwrap();
    assert!(
        (stat.of(&max, 1) - whole).abs() / whole < 0.01,
        "{max:?} {whole}"
    );
    assert!(Source::Intended(Pct::P90).per_second(run, None).is_none());
    assert!(Source::Service(Pct::P99).per_second(run, None).is_none());
}
