//! The report folder from recorded fixtures: what is written, what the
//! page references, and that nothing is written when drawing fails.

use super::*;
use crate::compare::{compare, load_runs, CompareOptions};

fn fixtures() -> Vec<LoadedRun> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare");
    load_runs(&[dir]).expect("the compare fixtures load")
}

fn input<'a>(runs: &'a [LoadedRun], c: Option<&'a Comparison>) -> ReportInput<'a> {
    ReportInput {
        runs,
        comparison: c,
        checks: Vec::new(),
        notes: vec!["rate: <fixed> at 50 ops/s".into()],
    }
}

#[test]
fn writes_every_plot_and_a_page_referencing_them() {
    let runs = fixtures();
    let c = compare(&runs, &CompareOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let files = write(&out, &input(&runs, Some(&c))).unwrap();
    assert_eq!(files.plots.len(), 12, "six families for each of two modes");
    let page = std::fs::read_to_string(&files.index).unwrap();
    for p in &files.plots {
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(page.contains(&format!("src=\"plots/{name}\"")), "{name}");
        roxmltree::Document::parse(&std::fs::read_to_string(p).unwrap()).unwrap();
    }
    for forbidden in ["<script", "http://", "https://", "@import", "url("] {
        assert!(!page.contains(forbidden), "{forbidden}");
    }
    // Sides in the comparison's order, its tables, the caller's notes
    // escaped, and relative links to the results.
    let stock = page.find("<td>stock (baseline)</td>").unwrap();
    assert!(stock < page.find("<td>eventstore</td>").unwrap());
    assert!(page.contains("class=\"estune-compare\""));
    let note = page.find("rate: &lt;fixed&gt; at 50 ops/s").unwrap();
    assert!(note < stock, "the caller's notes come first");
    assert!(page.contains("href=\"../"));
    assert!(page.contains("1-stock-capacity.json</a>"));
}

#[test]
fn a_second_report_in_the_same_folder_replaces_the_first() {
    let runs = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("plots/odd-mode-p99.svg");
    crate::atomic::write_atomic(&stale, "<svg/>").unwrap();
    let open: Vec<LoadedRun> = runs
        .into_iter()
        .filter(|r| r.result.metadata.mode == "open-loop")
        .collect();
    let files = write(dir.path(), &input(&open, None)).unwrap();
    assert_eq!(files.plots.len(), 6);
    assert!(!stale.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path().join("plots"))
        .unwrap()
        .collect();
    assert_eq!(left.len(), 6);
}

#[test]
fn no_runs_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    assert!(matches!(
        write(&out, &input(&[], None)),
        Err(ReportError::NoRuns)
    ));
    assert!(!out.exists());
}

#[test]
fn runs_without_samples_or_series_still_make_a_report() {
    let mut runs = fixtures();
    runs.truncate(2);
    for r in &mut runs {
        r.result.series.clear();
        r.result.server_samples.clear();
        r.result.summary.total.latency_us.intended.spectrum.clear();
        r.result.metadata.target = None;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = write(dir.path(), &input(&runs, None)).unwrap();
    assert_eq!(files.plots.len(), 12);
    let page = std::fs::read_to_string(&files.index).unwrap();
    assert!(page.contains("No comparison was made"));
}

#[test]
fn relative_links_climb_and_descend() {
    let rel = |a: &str, b: &str| relative(Path::new(a), Path::new(b));
    assert_eq!(rel("/w/out/report", "/w/runs/1.json"), "../../runs/1.json");
    assert_eq!(rel("/w/out", "/w/out/runs/1.json"), "runs/1.json");
    let dir = tempfile::tempdir().unwrap();
    let missing = resolve(&dir.path().join("not/yet"));
    assert!(missing.is_absolute() && missing.ends_with("not/yet"));
}

#[test]
fn hrefs_and_text_cannot_escape() {
    assert_eq!(html::href("../a b/x:y\".json"), "../a%20b/x%3Ay%22.json");
    assert_eq!(
        html::esc("<b>\"x\" & 'y'</b>"),
        "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
    );
}
