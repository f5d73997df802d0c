//! From loaded runs to a [`Comparison`]: sides by label, groups by mode,
//! the like-for-like check, and for every figure its values, delta, noise
//! threshold and verdict.

use super::bootstrap::{self, RESAMPLES, SEED};
use super::figures::{self, Source};
use super::model::*;
use super::stats::{self, mean_of_known as mean, CONFIDENCE};
use super::verdict::{judge, Direction};
use super::{alike, settings, CompareError, CompareOptions, LoadedRun};
use crate::bench::RunResult;

/// A side of a group: its label and runs.
type Side<'a> = (&'a str, Vec<&'a LoadedRun>);

/// Compares the runs side by side. Errors are the user's: fewer than two
/// sides, an unknown baseline, or runs not run alike (without `force`).
pub fn compare(runs: &[LoadedRun], opts: &CompareOptions) -> Result<Comparison, CompareError> {
    let labels = side_labels(runs, opts)?;
    let sides: Vec<Side> = labels
        .iter()
        .map(|l| (l.as_str(), runs.iter().filter(|r| label(r) == *l).collect()))
        .collect();
    let mut notes = Vec::new();
    let mut groups = Vec::new();
    let mut unlike = Vec::new();
    for mode in modes(runs) {
        let in_mode: Vec<Side> = sides
            .iter()
            .map(|(l, rs)| {
                (
                    *l,
                    rs.iter()
                        .copied()
                        .filter(|r| r.result.metadata.mode == mode)
                        .collect(),
                )
            })
            .filter(|(_, rs): &Side| !rs.is_empty())
            .collect();
        if let Some(why) = not_comparable(&mode, &labels[0], &in_mode) {
            notes.push(why);
            continue;
        }
        let (d, n) = alike::differences(&mode, &results(&in_mode));
        unlike.extend(d);
        notes.extend(n);
        groups.push(group(&mode, &in_mode));
    }
    if groups.is_empty() {
        return Err(CompareError::NothingToCompare {
            reason: notes.join("; "),
        });
    }
    if !unlike.is_empty() && !opts.force {
        return Err(CompareError::Unlike {
            differences: unlike,
        });
    }
    let (settings, setting_notes) = settings::diff(&results(&sides));
    notes.extend(setting_notes);
    notes.extend(run_notes(&sides));
    Ok(Comparison {
        schema: SCHEMA,
        estune_version: env!("CARGO_PKG_VERSION"),
        sides: sides.iter().map(side_info).collect(),
        groups,
        settings,
        forced: opts.force && !unlike.is_empty(),
        unlike,
        notes,
    })
}

/// The sides with their results only.
fn results<'a>(sides: &[Side<'a>]) -> Vec<(&'a str, Vec<&'a RunResult>)> {
    sides
        .iter()
        .map(|(l, rs)| (*l, rs.iter().map(|r| &r.result).collect()))
        .collect()
}

/// A run's side: its label, or its file's name when it has none.
fn label(r: &LoadedRun) -> String {
    r.result.metadata.label.clone().unwrap_or_else(|| {
        r.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| r.file.display().to_string())
    })
}

/// The labels in the order first seen, the baseline first.
fn side_labels(runs: &[LoadedRun], opts: &CompareOptions) -> Result<Vec<String>, CompareError> {
    let mut labels: Vec<String> = Vec::new();
    for r in runs {
        let l = label(r);
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    if labels.is_empty() {
        return Err(CompareError::NoRuns);
    }
    if let Some(asked) = &opts.baseline {
        let Some(i) = labels.iter().position(|l| l == asked) else {
            return Err(CompareError::UnknownBaseline {
                asked: asked.clone(),
                known: labels.join(", "),
            });
        };
        let b = labels.remove(i);
        labels.insert(0, b);
    }
    if labels.len() < 2 {
        return Err(CompareError::OneSide {
            label: labels.remove(0),
        });
    }
    Ok(labels)
}

/// Closed loop first (capacity), then open loop (fixed rate), then any
/// other mode a result names.
fn modes(runs: &[LoadedRun]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in runs {
        if !v.contains(&r.result.metadata.mode) {
            v.push(r.result.metadata.mode.clone());
        }
    }
    let rank = |m: &str| match m {
        "closed-loop" => 0,
        "open-loop" => 1,
        _ => 2,
    };
    v.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    v
}

fn not_comparable(mode: &str, baseline: &str, sides: &[Side]) -> Option<String> {
    let others: Vec<&str> = sides
        .iter()
        .map(|s| s.0)
        .filter(|l| *l != baseline)
        .collect();
    if sides.iter().all(|s| s.0 != baseline) {
        Some(format!(
            "the {mode} runs of {} have no {baseline} run to be compared with: not compared",
            others.join(", ")
        ))
    } else if others.is_empty() {
        Some(format!(
            "only {baseline} has {mode} runs: nothing to compare them with"
        ))
    } else {
        None
    }
}

fn side_info(s: &Side) -> SideInfo {
    let target = s.1.iter().find_map(|r| r.result.metadata.target.as_ref());
    SideInfo {
        label: s.0.to_string(),
        profile: target.and_then(|t| t.profile.clone()),
        plan_hash: target.and_then(|t| t.plan_hash.clone()),
        files: s.1.iter().map(|r| r.file.clone()).collect(),
    }
}

/// Interrupted runs, and sides whose runs ran different plans.
fn run_notes(sides: &[Side]) -> Vec<String> {
    let mut out = Vec::new();
    for (label, runs) in sides {
        for r in runs {
            let s = &r.result.summary;
            if s.interrupted {
                out.push(format!(
                    "{} was interrupted: {} s measured of {} s asked",
                    r.file.display(),
                    s.measured_s,
                    r.result.metadata.duration_s
                ));
            }
        }
        let mut hashes: Vec<&str> = runs
            .iter()
            .filter_map(|r| r.result.metadata.target.as_ref()?.plan_hash.as_deref())
            .collect();
        hashes.sort();
        hashes.dedup();
        if hashes.len() > 1 {
            out.push(format!(
                "the runs of {label} ran different plans ({})",
                hashes.join(", ")
            ));
        }
    }
    out
}

fn group(mode: &str, sides: &[Side]) -> ModeGroup {
    let closed = mode == "closed-loop";
    let title = if closed {
        "closed-loop capacity".to_string()
    } else if mode == "open-loop" {
        let mut rates: Vec<String> = Vec::new();
        for r in sides.iter().flat_map(|s| &s.1) {
            let rate = format!("{}", r.result.metadata.rate);
            if !rates.contains(&rate) {
                rates.push(rate);
            }
        }
        format!("open-loop at {} ops/s", rates.join(" and "))
    } else {
        mode.to_string()
    };
    let methods: Vec<Option<NoiseMethod>> = sides
        .iter()
        .enumerate()
        .map(|(i, s)| (i > 0).then(|| method(&sides[0], s)))
        .collect();
    let mut tables = vec![FigureTable {
        id: "operations",
        title: format!("{title}: operations, latency from the intended start"),
        rows: subject_rows(sides, &methods, &figures::operation_rows(closed), closed),
    }];
    if !closed {
        // In a closed loop an operation starts when intended: the service
        // time is the latency above.
        tables.push(FigureTable {
            id: "service",
            title: format!("{title}: service time (latency from the actual start)"),
            rows: subject_rows(sides, &methods, &figures::service_rows(), closed),
        });
    }
    tables.push(FigureTable {
        id: "servers",
        title: format!("{title}: servers"),
        rows: figures::server_rows()
            .into_iter()
            .map(|src| row(src, (None, "pair"), sides, &methods, closed))
            .collect(),
    });
    let (table, statements, statement_notes) =
        super::statements::table(&title, &results(sides), &methods);
    tables.push(table);
    ModeGroup {
        mode: mode.to_string(),
        title,
        sides: sides
            .iter()
            .zip(methods)
            .map(|(s, noise)| GroupSide {
                label: s.0.to_string(),
                files: s.1.iter().map(|r| r.file.clone()).collect(),
                noise_text: noise.as_ref().map(NoiseMethod::describe),
                noise,
            })
            .collect(),
        tables,
        statements,
        statement_notes,
    }
}

/// Welch with two runs a side or more; otherwise the bootstrap, its block
/// length from the measured seconds of the shorter side.
fn method(base: &Side, side: &Side) -> NoiseMethod {
    let (baseline_runs, runs) = (base.1.len(), side.1.len());
    if baseline_runs >= 2 && runs >= 2 {
        return NoiseMethod::Welch {
            confidence: CONFIDENCE,
            baseline_runs,
            runs,
        };
    }
    let seconds = |s: &Side| -> Vec<usize> {
        s.1.iter()
            .map(|r| crate::window::seconds(&r.result).count())
            .collect()
    };
    let (a, b) = (seconds(base), seconds(side));
    let n = a.iter().sum::<usize>().min(b.iter().sum());
    let shortest = a
        .iter()
        .chain(&b)
        .copied()
        .filter(|&l| l > 0)
        .min()
        .unwrap_or(1);
    NoiseMethod::BlockBootstrap {
        confidence: CONFIDENCE,
        baseline_runs,
        runs,
        resamples: RESAMPLES,
        seed: SEED,
        block_s: ((n as f64).sqrt().ceil() as usize).clamp(1, shortest),
    }
}

/// The rows of every subject (all together, then each kind).
fn subject_rows(
    sides: &[Side],
    methods: &[Option<NoiseMethod>],
    sources: &[Source],
    closed: bool,
) -> Vec<FigureRow> {
    let mut subjects: Vec<Option<String>> = vec![None];
    for r in sides.iter().flat_map(|s| &s.1) {
        for o in &r.result.summary.ops {
            if !subjects.contains(&Some(o.op.clone())) {
                subjects.push(Some(o.op.clone()));
            }
        }
    }
    let mut rows = Vec::new();
    for subject in &subjects {
        for &src in sources {
            let op = subject.as_deref();
            let r = row(src, (op, op.unwrap_or("all")), sides, methods, closed);
            let all_zero = r
                .values
                .iter()
                .flat_map(|v| &v.runs)
                .all(|v| v.unwrap_or(0.0) == 0.0);
            if !(figures::shown_only_when_nonzero(src) && all_zero) {
                rows.push(r);
            }
        }
    }
    rows
}

/// One figure for every side; `subject` is (operation kind or None for
/// all together, the subject's name in the table).
fn row(
    src: Source,
    subject: (Option<&str>, &str),
    sides: &[Side],
    methods: &[Option<NoiseMethod>],
    closed: bool,
) -> FigureRow {
    let op = subject.0;
    let (key, figure) = src.names(closed);
    let values = side_values(
        sides,
        methods,
        src.direction(),
        |runs| runs.iter().map(|r| src.value(&r.result, op)).collect(),
        |i, base, base_mean, runs, m| {
            threshold(src, op, (&sides[0], base, base_mean), (&sides[i], runs), m)
        },
    );
    FigureRow {
        subject: subject.1.to_string(),
        key,
        figure,
        unit: src.unit(),
        direction: src.direction(),
        values,
    }
}

/// Each side's runs of one figure, their mean and, against the first
/// side's (the baseline), the delta and verdict: `runs_of` reads a side's
/// runs, `threshold(i, base_runs, base_mean, side_runs, method)` is the
/// noise threshold of side `i` (a side without a method is the baseline).
pub(super) fn side_values<T>(
    sides: &[(&str, Vec<T>)],
    methods: &[Option<NoiseMethod>],
    direction: Direction,
    runs_of: impl Fn(&[T]) -> Vec<Option<f64>>,
    threshold: impl Fn(
        usize,
        &[Option<f64>],
        Option<f64>,
        &[Option<f64>],
        &NoiseMethod,
    ) -> Result<f64, String>,
) -> Vec<SideValue> {
    let base = runs_of(&sides[0].1);
    let base_mean = mean(&base);
    sides
        .iter()
        .zip(methods)
        .enumerate()
        .map(|(i, (s, m))| {
            let runs = runs_of(&s.1);
            let value = mean(&runs);
            let delta = m.as_ref().map(|m| {
                judge(
                    direction,
                    base_mean,
                    value,
                    threshold(i, &base, base_mean, &runs, m),
                )
            });
            SideValue {
                label: s.0.to_string(),
                value,
                runs,
                delta,
            }
        })
        .collect()
}

/// The noise threshold of a figure in its unit, or why there is none.
fn threshold(
    src: Source,
    op: Option<&str>,
    base: (&Side, &[Option<f64>], Option<f64>),
    side: (&Side, &[Option<f64>]),
    method: &NoiseMethod,
) -> Result<f64, String> {
    if let NoiseMethod::Welch { .. } = method {
        let known = |v: &[Option<f64>]| -> Vec<f64> { v.iter().flatten().copied().collect() };
        return stats::welch(&known(base.1), &known(side.1))
            .map(|w| w.half_width)
            .ok_or_else(|| "fewer than 2 runs a side have this figure".to_string());
    }
    let series = |s: &Side| -> Option<(Vec<Vec<f64>>, bootstrap::Stat)> {
        let mut stat = None;
        let mut runs = Vec::new();
        for r in &s.1 {
            let (v, st) = src.per_second(&r.result, op)?;
            stat = Some(st);
            runs.push(v);
        }
        Some((runs, stat?))
    };
    let none = "no per-second series of this figure: no noise estimate from a single run";
    let ((a, stat), (b, _)) = (series(base.0).ok_or(none)?, series(side.0).ok_or(none)?);
    let i = bootstrap::interval(&a, &b, stat)
        .ok_or("fewer than 3 seconds with this figure on a side: no noise estimate")?;
    // The seconds' statistic stands in for the figure (the mean second's
    // p99 for the run's p99): its relative noise is carried over.
    let stat_a = stat.of(&a.concat(), a.len());
    Ok(match base.2 {
        Some(m) if stat_a != 0.0 && stat_a.is_finite() => i.half_width * (m / stat_a).abs(),
        _ => i.half_width,
    })
}
