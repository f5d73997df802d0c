//! `estune report`: SVG plots of a set of runs and a self-contained
//! `index.html` holding them with the comparison, the check verdicts and
//! the settings diff. Plots ([`plots`]) and the page ([`html`]) are pure
//! functions of the results; [`write`] is the only I/O.

mod checks;
pub mod html;
pub mod plots;
pub mod runs;

pub use checks::{checks_against_baseline, SideCheck};

use crate::compare::{Comparison, LoadedRun};
use runs::{by_mode, own_label, sides_by_label, sort_by_start, RunRef, Side};
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

/// What a report is made of.
pub struct ReportInput<'a> {
    pub runs: &'a [LoadedRun],
    /// The comparison of these runs: its sides (baseline first) order the
    /// report, and its tables and settings diff are shown. Without one the
    /// sides are the labels in the order they first appear.
    pub comparison: Option<&'a Comparison>,
    /// Check verdicts to show (see [`checks_against_baseline`]); none, no
    /// checks section.
    pub checks: Vec<SideCheck>,
    /// Lines the caller wants read first, e.g. "rate: auto = 70 % of the
    /// lowest capacity of round 1 (123 ops/s)".
    pub notes: Vec<String>,
}

/// The files a report wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFiles {
    pub index: PathBuf,
    pub plots: Vec<PathBuf>,
}

#[derive(Debug, Error)]
pub enum ReportError {
    #[error(
        "no runs to report on: give result files of `estune bench --out FILE`, or a folder of them"
    )]
    NoRuns,
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
    #[error("cannot write the report to {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `plots/*.svg` and then `index.html` into `dir` (created if
/// missing), each file atomically. Everything is drawn before the first
/// write, so bad data leaves nothing behind; `.svg` files under `plots/`
/// that this report did not write (an earlier report's) are removed, so
/// the folder holds one report.
pub fn write(dir: &Path, input: &ReportInput) -> Result<ReportFiles, ReportError> {
    if input.runs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let refs: Vec<RunRef> = input
        .runs
        .iter()
        .map(|r| RunRef {
            file: &r.file,
            result: &r.result,
        })
        .collect();
    let sides = match input.comparison {
        Some(c) => sides_of(c, &refs),
        None => sides_by_label(&refs),
    };
    let mut plots = Vec::new();
    for (mode, plot_sides) in by_mode(&sides) {
        let drawn = plots::mode_plots(&mode, &plot_sides)?;
        plots.push((mode, drawn));
    }
    let base = resolve(dir);
    let files = sides
        .iter()
        .flat_map(|s| {
            s.runs.iter().map(|r| {
                let link = relative(&base, &resolve(r.file));
                (link, s.label.as_str(), r.result)
            })
        })
        .collect();
    let baseline = sides.first().map(|s| s.label.as_str());
    let page = html::Page {
        sides: &sides,
        summary: input.comparison.map(crate::compare::to_summary_html),
        comparison: input.comparison.map(crate::compare::to_html),
        checks: (!input.checks.is_empty()).then(|| checks::section(&input.checks, baseline)),
        notes: &input.notes,
        plots: &plots,
        files,
    };
    let index_html = html::page(&page);
    store(dir, &plots, &index_html)
}

fn store(
    dir: &Path,
    plots: &[(String, Vec<plots::Plot>)],
    index_html: &str,
) -> Result<ReportFiles, ReportError> {
    let failed = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReportError::Write { path, source }
    };
    let mut written = Vec::new();
    for p in plots.iter().flat_map(|(_, ps)| ps) {
        let path = dir.join("plots").join(&p.file);
        crate::atomic::write_atomic(&path, &p.svg).map_err(failed(&path))?;
        written.push(path);
    }
    let index = dir.join("index.html");
    crate::atomic::write_atomic(&index, index_html).map_err(failed(&index))?;
    remove_stale(&dir.join("plots"), &written).map_err(failed(&dir.join("plots")))?;
    Ok(ReportFiles {
        index,
        plots: written,
    })
}

fn remove_stale(plots_dir: &Path, keep: &[PathBuf]) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(plots_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "svg") && !keep.contains(&path) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// The comparison's sides with their runs; a run it does not list (it
/// should list all) joins a side by its own label at the end.
fn sides_of<'a>(c: &Comparison, refs: &[RunRef<'a>]) -> Vec<Side<'a>> {
    let mut sides: Vec<Side<'a>> = c
        .sides()
        .iter()
        .map(|info| {
            let mut runs: Vec<RunRef<'a>> = refs
                .iter()
                .filter(|r| info.files.iter().any(|f| f == r.file))
                .copied()
                .collect();
            sort_by_start(&mut runs);
            Side {
                label: info.label.clone(),
                runs,
            }
        })
        .collect();
    let listed = |r: &RunRef| {
        sides
            .iter()
            .any(|s| s.runs.iter().any(|x| x.file == r.file))
    };
    let rest: Vec<RunRef<'a>> = refs.iter().filter(|r| !listed(r)).copied().collect();
    for extra in sides_by_label(&rest) {
        match sides
            .iter_mut()
            .find(|s| s.label == own_label(extra.runs[0]))
        {
            Some(s) => s.runs.extend(extra.runs),
            None => sides.push(extra),
        }
    }
    sides.retain(|s| !s.runs.is_empty());
    sides
}

/// An absolute path with symbolic links resolved as far as it exists (the
/// report folder may not exist yet).
fn resolve(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(c, |acc: PathBuf, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

/// `to` relative to the folder `from` (both absolute), with `/`.
fn relative(from: &Path, to: &Path) -> String {
    let (a, b): (Vec<Component>, Vec<Component>) =
        (from.components().collect(), to.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests;
