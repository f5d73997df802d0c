//! After the runs: read the results back from the report folder, compare
//! the sides, check the criteria, write the report, and say it all in a
//! few lines. Runs also after a stop or a failure, on what was measured.

use super::{Manifest, Options, PhaseError, Progress};
use crate::compare::{self, CompareOptions, Comparison, LoadedRun};
use crate::report::{self, ReportInput, SideCheck};
use std::path::PathBuf;

/// What the experiment leaves: where, what it found, and how it ended.
pub struct Finished {
    pub dir: PathBuf,
    /// Results measured.
    pub runs: usize,
    /// The verdicts for people: the comparison's headline, the tables, the
    /// criteria per side, where the report is.
    pub text: String,
    pub comparison: Option<Comparison>,
    /// `index.html`, when the report could be written.
    pub index: Option<PathBuf>,
    /// What could not be done after the runs (compare, report).
    pub problems: Vec<String>,
    pub interrupted: bool,
    pub failed: Option<PhaseError>,
}

pub fn finish(o: &Options, m: &Manifest, p: &Progress) -> Finished {
    let mut f = Finished {
        dir: o.out.clone(),
        runs: 0,
        text: String::new(),
        comparison: None,
        index: None,
        problems: Vec::new(),
        interrupted: false,
        failed: None,
    };
    let mut runs = Vec::new();
    for r in &m.runs {
        let file = o.out.join(&r.file);
        match crate::check::load_result(&file) {
            Ok(result) => runs.push(LoadedRun { file, result }),
            Err(e) => f.problems.push(e.to_string()),
        }
    }
    f.runs = runs.len();
    if runs.is_empty() {
        f.text = "nothing was measured, so there is nothing to compare or report (the report folder is not kept)\n".into();
        return f;
    }
    let baseline = m.profiles.first().cloned();
    p.say(
        "compare",
        &format!(
            "{} results, baseline {}",
            runs.len(),
            baseline.as_deref().unwrap_or("?")
        ),
    );
    match compare::compare(
        &runs,
        &CompareOptions {
            baseline,
            force: false,
        },
    ) {
        Ok(c) => {
            write_text(o, "compare.txt", &compare::to_table(&c), &mut f.problems);
            write_text(o, "compare.md", &compare::to_markdown(&c), &mut f.problems);
            f.text.push_str(&compare::to_summary(&c));
            f.text.push_str(&format!(
                "every operation kind, service time and the settings: {}\n",
                o.out.join("compare.txt").display()
            ));
            f.comparison = Some(c);
        }
        Err(e) => f.problems.push(format!("compare: {e}")),
    }
    let sides: Vec<String> = m
        .profiles
        .iter()
        .filter(|name| {
            runs.iter()
                .any(|r| r.result.metadata.label.as_ref() == Some(*name))
        })
        .cloned()
        .collect();
    let checks = match &o.criteria {
        Some(c) if sides.len() > 1 => report::checks_against_baseline(&runs, &sides, c),
        _ => Vec::new(),
    };
    f.text.push_str(&check_lines(o, &checks));
    let notes = notes(m);
    p.say("report", &format!("writing {}", o.out.display()));
    let input = ReportInput {
        runs: &runs,
        comparison: f.comparison.as_ref(),
        checks,
        notes,
    };
    match report::write(&o.out, &input) {
        Ok(files) => f.index = Some(files.index),
        Err(e) => f.problems.push(format!("report: {e}")),
    }
    f
}

fn write_text(o: &Options, name: &str, text: &str, problems: &mut Vec<String>) {
    let path = o.out.join(name);
    if let Err(e) = crate::atomic::write_atomic(&path, text) {
        problems.push(format!("cannot write {}: {e}", path.display()));
    }
}

/// What the report should say about how the runs were made.
fn notes(m: &Manifest) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(pair) = &m.pair {
        v.push(format!("pair: {pair}"));
    }
    if let Some(seed) = &m.seed {
        v.push(seed.clone());
    }
    v.push(format!(
        "{} round{} over {}, interleaved (the order alternates between rounds); before every run the profile was applied and both servers restarted, then {} s of warm-up and {} s measured",
        m.repeat,
        if m.repeat == 1 { "" } else { "s" },
        m.profiles.join(", "),
        m.warmup_s,
        m.duration_s
    ));
    v.push(format!(
        "capacity runs: closed loop, {} workers; rate runs: open loop, {} workers, {} queue slots",
        m.capacity_workers, m.workers, m.queue
    ));
    if let Some(rate) = &m.rate_note {
        v.push(format!("rate: {rate}"));
    }
    v.push(format!("outcome: {} after {:.0} s", m.outcome, m.seconds));
    v
}

/// One line per side and round: how many criteria passed, and which not.
fn check_lines(o: &Options, checks: &[SideCheck]) -> String {
    let Some(c) = &o.criteria else {
        return String::new();
    };
    if checks.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "\ncriteria {} (each side's rate run against the baseline's of the same round):\n",
        c.file
    );
    for sc in checks {
        let r = &sc.report;
        let failed: Vec<String> = r
            .outcomes
            .iter()
            .filter(|x| x.verdict != crate::check::Verdict::Pass)
            .map(|x| match &x.subject {
                Some(sub) => format!("{} [{sub}]", x.criterion),
                None => x.criterion.clone(),
            })
            .collect();
        s.push_str(&format!(
            "  {} round {}: {} of {} passed",
            sc.side,
            sc.repeat,
            r.count(crate::check::Verdict::Pass),
            r.outcomes.len()
        ));
        if !failed.is_empty() {
            s.push_str(&format!("; not met: {}", failed.join(", ")));
        }
        s.push('\n');
    }
    s
}
