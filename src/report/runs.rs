//! The runs of a report arranged for plotting: sides (baseline first),
//! each side's repeats in the order they ran, split by mode; and the part
//! of each run that belongs in a plot, the measured window, with every
//! row and sample placed at the middle of the second it describes.

use crate::bench::{RunResult, SecondRow, ServerSample};
use std::path::Path;

/// A run and the file it was read from.
#[derive(Debug, Clone, Copy)]
pub struct RunRef<'a> {
    pub file: &'a Path,
    pub result: &'a RunResult,
}

/// One side's runs of one mode, with the side's place in the report (its
/// colour stays the same in every plot).
#[derive(Debug, Clone)]
pub struct PlotSide<'a> {
    pub label: String,
    /// Index of the side among all sides of the report, baseline 0.
    pub colour: usize,
    /// Repeats in the order they ran.
    pub runs: Vec<&'a RunResult>,
}

/// A side of the report: its label and its runs of every mode.
#[derive(Debug, Clone)]
pub struct Side<'a> {
    pub label: String,
    pub runs: Vec<RunRef<'a>>,
}

/// The side a run belongs to, named as `estune compare` names it: its
/// `--label`, else its file name without the extension.
pub fn own_label(run: RunRef) -> String {
    if let Some(l) = &run.result.metadata.label {
        return l.clone();
    }
    run.file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| run.file.display().to_string())
}

/// Sides in the order their label first appears.
pub fn sides_by_label<'a>(runs: &[RunRef<'a>]) -> Vec<Side<'a>> {
    let mut sides: Vec<Side<'a>> = Vec::new();
    for r in runs {
        let label = own_label(*r);
        match sides.iter_mut().find(|s| s.label == label) {
            Some(s) => s.runs.push(*r),
            None => sides.push(Side {
                label,
                runs: vec![*r],
            }),
        }
    }
    for s in &mut sides {
        sort_by_start(&mut s.runs);
    }
    sides
}

/// Repeats in the order they ran (RFC 3339 UTC times sort as text).
pub fn sort_by_start(runs: &mut [RunRef]) {
    runs.sort_by(|a, b| {
        a.result
            .metadata
            .started_at
            .cmp(&b.result.metadata.started_at)
    });
}

/// The modes present, capacity (closed-loop) first, each with the sides
/// that have runs of it.
pub fn by_mode<'a>(sides: &[Side<'a>]) -> Vec<(String, Vec<PlotSide<'a>>)> {
    let mut modes: Vec<String> = sides
        .iter()
        .flat_map(|s| s.runs.iter().map(|r| r.result.metadata.mode.clone()))
        .collect();
    modes.sort_by_key(|m| (mode_rank(m), m.clone()));
    modes.dedup();
    modes
        .into_iter()
        .map(|mode| {
            let plot_sides = sides
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let runs: Vec<&RunResult> = s
                        .runs
                        .iter()
                        .filter(|r| r.result.metadata.mode == mode)
                        .map(|r| r.result)
                        .collect();
                    (!runs.is_empty()).then(|| PlotSide {
                        label: s.label.clone(),
                        colour: i,
                        runs,
                    })
                })
                .collect();
            (mode, plot_sides)
        })
        .collect()
}

fn mode_rank(mode: &str) -> u8 {
    match mode {
        "closed-loop" => 0,
        "open-loop" => 1,
        _ => 2,
    }
}

/// What a mode's plots are about, for titles.
pub fn mode_title(mode: &str) -> String {
    match mode {
        "closed-loop" => "closed loop (capacity)".into(),
        "open-loop" => "open loop (fixed rate)".into(),
        other => other.to_string(),
    }
}

/// Seconds of the measured window the run actually ran.
pub fn measured_s(run: &RunResult) -> f64 {
    let s = run.summary.measured_s;
    if s.is_finite() && s > 0.0 {
        s
    } else {
        run.metadata.duration_s.max(0.0)
    }
}

/// Rows of the measured window (as `crate::window` reads it) at the
/// middle of their second, counted from the window's start (a row holds
/// ops intended in [t, t+1)).
pub fn measured_rows(run: &RunResult) -> Vec<(f64, &SecondRow)> {
    let w = run.metadata.warmup_s;
    crate::window::seconds(run)
        .map(|r| (r.t as f64 - w + 0.5, r))
        .collect()
}

/// Samples of the measured window, the ones check and compare count
/// (`crate::window`), at the middle of the second before them (the one
/// their deltas cover); the sample taken as the warm-up ended is put at
/// the window's start.
pub fn measured_samples(run: &RunResult) -> Vec<(f64, &ServerSample)> {
    let w = run.metadata.warmup_s;
    crate::window::server_samples(run)
        .filter(|s| s.t.is_finite())
        .map(|s| ((s.t - w - 0.5).max(0.0), s))
        .collect()
}

/// The longest measured window among these sides' runs, or its last
/// sample when that is later (at least 1 s).
pub fn window_s(sides: &[PlotSide]) -> f64 {
    let last = |r: &RunResult| {
        let s = measured_samples(r).last().map(|(x, _)| *x).unwrap_or(0.0);
        measured_s(r).max(s)
    };
    sides
        .iter()
        .flat_map(|s| s.runs.iter())
        .map(|r| last(r))
        .fold(1.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plots::testdata::{run, sample};

    #[test]
    fn sides_keep_first_appearance_and_repeats_run_order() {
        let (a1, b1, b2, a2) = (
            run("stock", "open-loop", 10),
            run("tuned", "open-loop", 10),
            run("tuned", "closed-loop", 10),
            run("stock", "closed-loop", 10),
        );
        let mut a2 = a2;
        a2.metadata.started_at = "2026-01-01T00:00:00Z".into();
        let p = Path::new("x.json");
        let refs: Vec<RunRef> = [&a1, &b1, &b2, &a2]
            .iter()
            .map(|r| RunRef { file: p, result: r })
            .collect();
        let sides = sides_by_label(&refs);
        assert_eq!(sides.len(), 2);
        assert_eq!(sides[0].label, "stock");
        assert_eq!(sides[0].runs[0].result.metadata.mode, "closed-loop");
        let modes = by_mode(&sides);
        let names: Vec<&str> = modes.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(names, ["closed-loop", "open-loop"]);
        assert_eq!(modes[0].1[1].colour, 1);
    }

    #[test]
    fn window_drops_warmup_and_centres_seconds() {
        let mut r = run("a", "open-loop", 3);
        r.series.insert(0, Default::default()); // t = 0: warm-up
        r.server_samples = vec![sample(3.001), sample(4.002), sample(6.003), sample(9.0)];
        let rows: Vec<f64> = measured_rows(&r).iter().map(|(x, _)| *x).collect();
        assert_eq!(rows, [0.5, 1.5, 2.5]);
        let xs: Vec<f64> = measured_samples(&r).iter().map(|(x, _)| *x).collect();
        let want = [0.0, 0.502, 2.503, 5.5];
        assert!(
            xs.iter().zip(want).all(|(x, w)| (x - w).abs() < 1e-9),
            "{xs:?}"
        );
        let side = PlotSide {
            label: "a".into(),
            colour: 0,
            runs: vec![&r],
        };
        assert_eq!(window_s(&[side]), 5.5);
    }

    #[test]
    fn unlabelled_runs_are_named_after_their_file() {
        let mut r = run("x", "open-loop", 1);
        r.metadata.label = None;
        let p = Path::new("dir/7-run.json");
        assert_eq!(
            own_label(RunRef {
                file: p,
                result: &r
            }),
            "7-run"
        );
    }
}
