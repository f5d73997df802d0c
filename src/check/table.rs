//! The report for people (a table) and for machines (JSON with the same
//! data). Pure functions of the report.

use super::eval::{Report, Verdict};
use comfy_table::{Cell, Color};

/// One row per criterion and subject, then notes and the verdict line.
/// `colour` paints the verdicts (only wanted on a terminal).
pub fn report_table(r: &Report, colour: bool) -> String {
    let mut t = crate::table::new(&["criterion", "required", "measured", "result", "by how much"]);
    if colour {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    for o in &r.outcomes {
        let name = match &o.subject {
            Some(s) => format!("{} [{s}]", o.criterion),
            None => o.criterion.clone(),
        };
        let colour_of = match o.verdict {
            Verdict::Pass => Color::Green,
            Verdict::Fail => Color::Red,
            Verdict::Unknown => Color::Yellow,
        };
        let mut verdict = Cell::new(o.verdict.label());
        if colour {
            verdict = verdict.fg(colour_of);
        }
        let how = match &o.reason {
            Some(reason) => reason.clone(),
            None => o.margin_text.clone(),
        };
        t.add_row(vec![
            Cell::new(name),
            Cell::new(format!("{} {}", o.metric, o.required_text)),
            Cell::new(&o.measured_text),
            verdict,
            Cell::new(how),
        ]);
    }
    let mut out = format!(
        "criteria {} against {}",
        r.criteria_file,
        if r.result_file.is_empty() {
            "the result"
        } else {
            &r.result_file
        }
    );
    if let Some(b) = &r.baseline_file {
        out.push_str(&format!(" (baseline {b})"));
    }
    out.push_str(&format!("\n{}\n{t}\n", r.run));
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(&verdict_line(r));
    out.push('\n');
    out
}

fn verdict_line(r: &Report) -> String {
    let (pass, fail, unknown) = (
        r.count(Verdict::Pass),
        r.count(Verdict::Fail),
        r.count(Verdict::Unknown),
    );
    let total = r.outcomes.len();
    let mut s = format!("{pass} of {total} passed");
    if fail > 0 {
        s.push_str(&format!(", {fail} failed"));
    }
    if unknown > 0 {
        s.push_str(&format!(", {unknown} unknown (counted as failed)"));
    }
    if r.passed() {
        s.push_str(": PASS");
    } else {
        s.push_str(": FAIL");
    }
    s
}

/// `estune.check/1`: the same rows, numbers in the unit each row names.
pub fn report_json(r: &Report) -> String {
    let doc = serde_json::json!({
        "schema": "estune.check/1",
        "estune_version": env!("CARGO_PKG_VERSION"),
        "criteria_file": r.criteria_file,
        "result_file": r.result_file,
        "baseline_file": r.baseline_file,
        "run": r.run,
        "passed": r.passed(),
        "counts": {
            "pass": r.count(Verdict::Pass),
            "fail": r.count(Verdict::Fail),
            "unknown": r.count(Verdict::Unknown),
        },
        "outcomes": r.outcomes,
        "notes": r.notes,
    });
    serde_json::to_string_pretty(&doc).expect("a report always serializes") + "\n"
}
