//! The comparison laid out as titled grids of text cells, once, so that
//! the terminal table, markdown and HTML say the same thing in the same
//! words and differ only in markup.

use super::model::{Comparison, FigureRow, FigureTable, ModeGroup};
use super::statements::one_line;
use super::verdict::{Delta, Verdict};

/// Characters of a statement's text under its table.
const STATEMENT_CHARS: usize = 200;
use crate::check::Unit;

pub struct Grid {
    pub title: String,
    pub header: Vec<String>,
    /// Columns holding words rather than figures (aligned left).
    pub text_columns: Vec<usize>,
    pub rows: Vec<Vec<Cell>>,
    /// Lines under the grid (how the noise threshold was computed).
    pub below: Vec<String>,
}

pub struct Cell {
    pub text: String,
    /// A verdict cell's class: better, worse, noise, changed, unknown.
    pub class: Option<&'static str>,
}

fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        class: None,
    }
}

/// The lines before the grids: the sides and their files.
pub fn intro(c: &Comparison) -> Vec<String> {
    c.sides
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut what = Vec::new();
            if let Some(p) = &s.profile {
                what.push(format!("profile {p}"));
            }
            if let Some(h) = &s.plan_hash {
                what.push(format!("plan {h}"));
            }
            let what = if what.is_empty() {
                String::new()
            } else {
                format!(" ({})", what.join(", "))
            };
            let role = if i == 0 { "baseline " } else { "" };
            format!("{role}{}{what}: {}", s.label, names(&s.files))
        })
        .collect()
}

/// File names without their folders: the folder is the same for an
/// experiment's runs, and output must not depend on where it was run.
fn names(files: &[std::path::PathBuf]) -> String {
    files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.display().to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per group: which sides ran it and how often.
pub fn group_line(g: &ModeGroup) -> String {
    let sides: Vec<String> = g
        .sides
        .iter()
        .map(|s| {
            let n = s.files.len();
            format!("{} {n} run{}", s.label, if n == 1 { "" } else { "s" })
        })
        .collect();
    format!("{}: {}", g.title, sides.join(", "))
}

/// Every grid: each group's tables, then the settings that differ.
pub fn grids(c: &Comparison) -> Vec<Grid> {
    let mut out: Vec<Grid> = c
        .groups
        .iter()
        .flat_map(|g| g.tables.iter().map(move |t| figure_grid(g, t)))
        .collect();
    out.push(settings_grid(c));
    out
}

/// The verdicts in brief: per group, the figures of all operations
/// together and of the servers. Figures equal on every side (no errors
/// anywhere, say) are named under the grid instead of filling it; with
/// more than two sides each is set against the baseline in a grid of its
/// own, so the table stays narrow enough for a terminal.
pub fn summary_grids(c: &Comparison) -> Vec<Grid> {
    let mut out = Vec::new();
    for g in &c.groups {
        let (same, differ): (Vec<FigureRow>, Vec<FigureRow>) = brief_rows(g)
            .into_iter()
            .partition(|r| r.values.windows(2).all(|w| w[0].value == w[1].value));
        let equal_line = (!same.is_empty()).then(|| {
            let names: Vec<&str> = same.iter().map(|r| r.figure.as_str()).collect();
            format!("equal on every side: {}", names.join(", "))
        });
        let pairs: Vec<usize> = if g.sides.len() > 2 {
            (1..g.sides.len()).collect()
        } else {
            vec![]
        };
        let views: Vec<(ModeGroup, String)> = if pairs.is_empty() {
            vec![(
                g.clone(),
                format!("{}: all operations and the servers", g.title),
            )]
        } else {
            pairs
                .iter()
                .map(|&i| {
                    let title =
                        format!("{}: {} vs {}", g.title, g.sides[i].label, g.sides[0].label);
                    (pick_sides(g, &[0, i]), title)
                })
                .collect()
        };
        for (view, title) in views {
            let keep: Vec<&str> = view.sides.iter().map(|s| s.label.as_str()).collect();
            let rows = differ
                .iter()
                .map(|r| FigureRow {
                    values: r
                        .values
                        .iter()
                        .filter(|v| keep.contains(&v.label.as_str()))
                        .cloned()
                        .collect(),
                    ..r.clone()
                })
                .collect();
            let brief = FigureTable {
                id: "servers",
                title,
                rows,
            };
            let mut grid = figure_grid(&view, &brief);
            grid.below.extend(equal_line.clone());
            grid.below.extend(statement_line(g, &keep));
            out.push(grid);
        }
    }
    out
}

/// The statement with the most execution time and its mean per side, in
/// one line (the full table is in [`grids`]).
fn statement_line(g: &ModeGroup, keep: &[&str]) -> Option<String> {
    let first = g.statements.first()?;
    let subject = format!("{} {}", first.id, first.server);
    let row = g
        .tables
        .iter()
        .flat_map(|t| &t.rows)
        .find(|r| r.subject == subject && r.key == "mean_ms")?;
    let means: Vec<String> = row
        .values
        .iter()
        .filter(|v| keep.contains(&v.label.as_str()))
        .map(|v| {
            let verdict = v
                .delta
                .as_ref()
                .filter(|d| d.verdict != Verdict::NoData)
                .map(|d| format!(" ({})", d.verdict.text()))
                .unwrap_or_default();
            format!("{} {}{verdict}", v.label, value(row.unit, v.value))
        })
        .collect();
    Some(format!(
        "most time in statement {}: {} — mean {}",
        first.server,
        one_line(&first.query, 60),
        means.join(", ")
    ))
}

/// The rows of all operations together and of the servers.
fn brief_rows(g: &ModeGroup) -> Vec<FigureRow> {
    g.tables
        .iter()
        .flat_map(|t| {
            let keep = move |r: &&FigureRow| match t.id {
                "operations" => r.subject == "all",
                "servers" => true,
                _ => false,
            };
            t.rows.iter().filter(keep)
        })
        .cloned()
        .collect()
}

/// The group with only the sides at these positions (the baseline first).
fn pick_sides(g: &ModeGroup, at: &[usize]) -> ModeGroup {
    ModeGroup {
        sides: at.iter().filter_map(|&i| g.sides.get(i).cloned()).collect(),
        tables: Vec::new(),
        ..g.clone()
    }
}

fn figure_grid(g: &ModeGroup, t: &FigureTable) -> Grid {
    let per_subject = t.id != "servers";
    let mut header: Vec<String> = Vec::new();
    if per_subject {
        header.push(
            if t.id == "statements" {
                "statement"
            } else {
                "op"
            }
            .into(),
        );
    }
    header.push("figure".into());
    let mut text_columns: Vec<usize> = (0..header.len()).collect();
    for (i, s) in g.sides.iter().enumerate() {
        header.push(s.label.clone());
        if i > 0 {
            header.extend(["Δ".into(), "noise ±".into(), "verdict".into()]);
            text_columns.push(header.len() - 1);
        }
    }
    let mut rows = Vec::new();
    let mut last_subject = "";
    for r in &t.rows {
        let mut cells = Vec::new();
        if per_subject {
            // The kind's name once, on the first row of its block.
            let name = if r.subject == last_subject {
                ""
            } else {
                &r.subject
            };
            cells.push(cell(name));
            last_subject = &r.subject;
        }
        cells.push(cell(&r.figure));
        for v in &r.values {
            cells.push(cell(value(r.unit, v.value)));
            if let Some(d) = &v.delta {
                cells.extend(delta_cells(r.unit, d));
            }
        }
        rows.push(cells);
    }
    let base = g.sides.first().map(|s| s.label.as_str()).unwrap_or("");
    let mut below: Vec<String> = Vec::new();
    if t.id == "statements" {
        below.extend(g.statements.iter().map(|s| {
            format!(
                "{} {}: {}",
                s.id,
                s.server,
                one_line(&s.query, STATEMENT_CHARS)
            )
        }));
        below.extend(g.statement_notes.iter().cloned());
    }
    if !t.rows.is_empty() {
        below.extend(g.sides.iter().filter_map(|s| {
            let m = s.noise.as_ref()?;
            Some(format!("noise, {} vs {base}: {}", s.label, m.describe()))
        }));
    }
    Grid {
        title: t.title.clone(),
        header,
        text_columns,
        rows,
        below,
    }
}

fn settings_grid(c: &Comparison) -> Grid {
    let mut header: Vec<String> = vec!["role".into(), "setting".into()];
    header.extend(c.sides.iter().map(|s| s.label.clone()));
    let rows = c
        .settings
        .iter()
        .map(|d| {
            let mut cells = vec![cell(&d.role), cell(&d.name)];
            cells.extend(d.values.iter().map(|v| cell(&v.value)));
            cells
        })
        .collect::<Vec<_>>();
    let below = if rows.is_empty() {
        vec!["no setting differs between the sides".to_string()]
    } else {
        vec!["\"default\": not set, so at PostgreSQL's default; names with a dot are storage parameters (relation.parameter), with a colon statistics targets, with an @ role settings".to_string()]
    };
    Grid {
        title: "settings that differ between the sides (as recorded in the results)".into(),
        text_columns: (0..header.len()).collect(),
        header,
        rows,
        below,
    }
}

/// What the columns and verdicts mean, once at the end.
pub const LEGEND: &str = "Δ: the side's figure (the mean of its runs) against the baseline's, in % of the baseline; from a baseline of 0, the change itself. noise ±: how far a change must go to count, the half-width of a 95 % interval of the difference. verdict: better or worse when the change exceeds it, otherwise within noise; \"changed\" for a figure that is neither better nor worse in itself.";

/// Warnings (compared with --force) and notes.
pub fn closing(c: &Comparison) -> Vec<String> {
    let mut out: Vec<String> = c
        .unlike
        .iter()
        .map(|d| {
            format!(
                "warning: not alike (compared with --force): {}",
                d.describe()
            )
        })
        .collect();
    out.extend(c.notes.iter().map(|n| format!("note: {n}")));
    out
}

pub fn value(unit: Unit, v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => unit.show(v),
        _ => "–".into(),
    }
}

fn delta_cells(unit: Unit, d: &Delta) -> [Cell; 3] {
    [
        cell(change(unit, d)),
        cell(threshold(unit, d)),
        Cell {
            text: d.verdict.text().into(),
            class: Some(d.verdict.class()),
        },
    ]
}

/// `+12.3 %`; from a baseline of 0, `+3 (from 0)`; `=` for no change.
pub fn change(unit: Unit, d: &Delta) -> String {
    match (d.change, d.change_pct) {
        (None, _) => "–".into(),
        (Some(0.0), _) => "=".into(),
        (Some(_), Some(p)) => signed_pct(p),
        (Some(c), None) => {
            let sign = if c > 0.0 { "+" } else { "-" };
            format!("{sign}{} (from 0)", unit.show(c.abs()))
        }
    }
}

/// `±4.5 %`, or the absolute threshold when the baseline is 0.
pub fn threshold(unit: Unit, d: &Delta) -> String {
    match (d.threshold, d.threshold_pct) {
        (_, Some(p)) => format!("±{}", pct(p)),
        (Some(t), None) => format!("±{}", unit.show(t)),
        (None, None) if d.verdict == Verdict::NoData => "–".into(),
        (None, None) => "none".into(),
    }
}

/// A percentage with one decimal, two below 1 %, so small changes do not
/// all read 0.0 %.
fn pct(p: f64) -> String {
    if p.abs() < 1.0 {
        format!("{p:.2} %")
    } else {
        format!("{p:.1} %")
    }
}

fn signed_pct(p: f64) -> String {
    let s = pct(p.abs());
    if p > 0.0 {
        format!("+{s}")
    } else {
        format!("-{s}")
    }
}
