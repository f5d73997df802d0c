//! Check verdicts for the report: each non-baseline side's open-loop runs
//! against the criteria, with the baseline side's open-loop run of the
//! same repeat as the baseline (for `improvement.*` criteria). Only
//! open-loop runs: the criteria speak of a fixed arrival rate. The HTML
//! section that shows them is here too.

use super::html::esc;
use super::runs::{own_label, sort_by_start, RunRef};
use crate::check::{self, Criteria, Verdict};
use crate::compare::LoadedRun;

/// One run of a side checked against the criteria.
#[derive(Debug, Clone)]
pub struct SideCheck {
    pub side: String,
    /// 1 for the side's first open-loop run (in the order they ran).
    pub repeat: usize,
    pub report: check::Report,
}

/// A side's open-loop runs in the order they ran.
fn open_loop<'a>(runs: &'a [LoadedRun], side: &str) -> Vec<RunRef<'a>> {
    let mut out: Vec<RunRef<'a>> = runs
        .iter()
        .map(|r| RunRef {
            file: &r.file,
            result: &r.result,
        })
        .filter(|r| r.result.metadata.mode == "open-loop" && own_label(*r) == side)
        .collect();
    sort_by_start(&mut out);
    out
}

/// Checks every open-loop run of `sides[1..]` against `criteria`, repeat
/// i with the baseline's (`sides[0]`) repeat i. A repeat the baseline
/// does not have is checked without one: its `improvement.*` verdicts are
/// UNKNOWN, with the reason.
pub fn checks_against_baseline(
    runs: &[LoadedRun],
    sides: &[String],
    criteria: &Criteria,
) -> Vec<SideCheck> {
    let Some((baseline, others)) = sides.split_first() else {
        return Vec::new();
    };
    let base = open_loop(runs, baseline);
    let mut out = Vec::new();
    for side in others {
        for (i, run) in open_loop(runs, side).into_iter().enumerate() {
            let b = base.get(i);
            let mut report = check::evaluate(criteria, run.result, b.map(|b| b.result));
            report.result_file = run.file.display().to_string();
            report.baseline_file = b.map(|b| b.file.display().to_string());
            out.push(SideCheck {
                side: side.clone(),
                repeat: i + 1,
                report,
            });
        }
    }
    out
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Unknown => "unknown",
    }
}

/// "7 of 9 passed, 2 failed".
fn tally(r: &check::Report) -> String {
    let (p, f, u) = (
        r.count(Verdict::Pass),
        r.count(Verdict::Fail),
        r.count(Verdict::Unknown),
    );
    let mut s = format!("{p} of {} passed", r.outcomes.len());
    if f > 0 {
        s.push_str(&format!(", {f} failed"));
    }
    if u > 0 {
        s.push_str(&format!(", {u} unknown (counted as failed)"));
    }
    s
}

/// The section: how the runs were paired, a summary line per run, then
/// each run's verdicts.
pub fn section(checks: &[SideCheck], baseline: Option<&str>) -> String {
    let mut out = String::from("<section id=\"checks\">\n<h2>Checks</h2>\n");
    let criteria = checks
        .first()
        .map(|c| c.report.criteria_file.as_str())
        .unwrap_or("");
    out.push_str(&format!(
        "<p>Each open-loop run of every side but the baseline was checked against \
         <code>{}</code>. Criteria that compare with a baseline (<code>improvement.*</code>) \
         use the open-loop run of the baseline side ({}) with the same repeat number. \
         A figure that cannot be measured is UNKNOWN and counts as failed.</p>\n",
        esc(criteria),
        esc(baseline.unwrap_or("none"))
    ));
    if checks.is_empty() {
        out.push_str("<p>No side other than the baseline has open-loop runs: nothing was checked.</p>\n</section>\n");
        return out;
    }
    out.push_str("<table>\n<thead><tr><th>side</th><th>repeat</th><th>result</th><th>verdict</th><th>against</th></tr></thead>\n<tbody>\n");
    for c in checks {
        let r = &c.report;
        let (class, word) = if r.passed() {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td><td><a href=\"#check-{}-{}\">{}</a></td><td class=\"verdict {class}\">{word}</td><td>{}</td></tr>\n",
            esc(&c.side),
            c.repeat,
            anchor(&c.side),
            c.repeat,
            esc(&tally(r)),
            esc(&file_name(r.baseline_file.as_deref().unwrap_or("no baseline run")))
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    for c in checks {
        verdicts(&mut out, c);
    }
    out.push_str("</section>\n");
    out
}

fn verdicts(out: &mut String, c: &SideCheck) {
    let r = &c.report;
    out.push_str(&format!(
        "<h3 id=\"check-{}-{}\">{}, repeat {}: {}</h3>\n<p class=\"method\">{} · {}</p>\n",
        anchor(&c.side),
        c.repeat,
        esc(&c.side),
        c.repeat,
        esc(&tally(r)),
        esc(&file_name(&r.result_file)),
        esc(&r.run)
    ));
    out.push_str("<table>\n<thead><tr><th>criterion</th><th>required</th><th>measured</th><th>result</th><th>by how much</th></tr></thead>\n<tbody>\n");
    for o in &r.outcomes {
        let name = match &o.subject {
            Some(s) => format!("{} [{s}]", o.criterion),
            None => o.criterion.clone(),
        };
        let how = o.reason.clone().unwrap_or_else(|| o.margin_text.clone());
        out.push_str(&format!(
            "<tr><td>{}</td><td>{} {}</td><td class=\"num\">{}</td><td class=\"verdict {}\">{}</td><td>{}</td></tr>\n",
            esc(&name),
            esc(o.metric),
            esc(&o.required_text),
            esc(&o.measured_text),
            verdict_class(o.verdict),
            o.verdict.label(),
            esc(&how)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    if !r.notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for n in &r.notes {
            out.push_str(&format!("<li>note: {}</li>\n", esc(n)));
        }
        out.push_str("</ul>\n");
    }
}

/// A label as an id fragment: letters and digits kept, the rest `-`.
fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plots::testdata::run;

    fn loaded(label: &str, mode: &str, started: &str) -> LoadedRun {
        let mut r = run(label, mode, 5);
        r.metadata.started_at = started.into();
        LoadedRun {
            file: format!("{label}-{started}.json").into(),
            result: r,
        }
    }

    const CRITERIA: &str = "[[criterion]]\nname = \"p99\"\nmetric = \"latency.p99\"\nrequire = \"<= 250ms\"\n\n[[criterion]]\nname = \"faster\"\nmetric = \"improvement.latency.p50\"\nrequire = \">= 0%\"\n";

    #[test]
    fn repeats_pair_with_the_baselines_open_loop_run_of_the_same_index() {
        let runs = vec![
            loaded("stock", "open-loop", "2"),
            loaded("tuned", "open-loop", "4"),
            loaded("stock", "open-loop", "1"),
            loaded("tuned", "closed-loop", "0"),
            loaded("tuned", "open-loop", "3"),
            loaded("tuned", "open-loop", "5"),
        ];
        let criteria = check::parse_criteria("c.toml", CRITERIA).unwrap();
        let sides = vec!["stock".to_string(), "tuned".to_string()];
        let got = checks_against_baseline(&runs, &sides, &criteria);
        let pairs: Vec<(usize, &str, Option<&str>)> = got
            .iter()
            .map(|c| {
                (
                    c.repeat,
                    c.report.result_file.as_str(),
                    c.report.baseline_file.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                (1, "tuned-3.json", Some("stock-1.json")),
                (2, "tuned-4.json", Some("stock-2.json")),
                (3, "tuned-5.json", None),
            ]
        );
        // Without a baseline run the improvement criterion is UNKNOWN.
        assert_eq!(got[2].report.count(Verdict::Unknown), 1);
        assert!(checks_against_baseline(&runs, &[], &criteria).is_empty());
    }

    #[test]
    fn the_section_escapes_and_links_each_run() {
        let runs = vec![
            loaded("a&b", "open-loop", "1"),
            loaded("<c>", "open-loop", "2"),
        ];
        let criteria = check::parse_criteria("c.toml", CRITERIA).unwrap();
        let sides = vec!["a&b".to_string(), "<c>".to_string()];
        let checks = checks_against_baseline(&runs, &sides, &criteria);
        let html = section(&checks, Some("a&b"));
        assert!(html.contains("&lt;c&gt;, repeat 1"));
        assert!(html.contains("href=\"#check--c--1\"") && html.contains("id=\"check--c--1\""));
        assert!(!html.contains("<c>"));
        assert!(html.contains("class=\"verdict pass\">PASS"));
    }
}
