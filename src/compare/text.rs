//! The comparison for people (a terminal table, markdown, a headline) and
//! for machines (JSON). Pure functions of a [`Comparison`].

use super::grid::{self, Grid};
use super::model::{Comparison, ModeGroup};
use comfy_table::CellAlignment;

/// Tables in estune's style, each with its noise method under it.
pub fn to_table(c: &Comparison) -> String {
    let mut out = String::new();
    push_lines(&mut out, grid::intro(c));
    push_lines(&mut out, c.groups.iter().map(grid::group_line));
    for g in grid::grids(c) {
        out.push('\n');
        push_grid(&mut out, &g);
    }
    out.push('\n');
    out.push_str(grid::LEGEND);
    out.push('\n');
    push_lines(&mut out, grid::closing(c));
    out
}

/// A grid's title, its table (when it has rows) and the lines under it.
fn push_grid(out: &mut String, g: &Grid) {
    out.push_str(&g.title);
    out.push('\n');
    if !g.rows.is_empty() {
        out.push_str(&table(g).to_string());
        out.push('\n');
    }
    push_lines(out, g.below.iter().cloned());
}

fn push_lines(out: &mut String, lines: impl IntoIterator<Item = String>) {
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
}

/// The verdicts in brief for a terminal: one table per mode with the
/// figures of all operations together and of the servers; `to_table` has
/// every kind, service time and the settings that differ.
pub fn to_summary(c: &Comparison) -> String {
    let mut out = String::new();
    for g in grid::summary_grids(c) {
        push_grid(&mut out, &g);
        out.push('\n');
    }
    let n = c.settings.len();
    out.push_str(&format!(
        "{n} setting{} differ between the sides\n",
        if n == 1 { "" } else { "s" }
    ));
    push_lines(&mut out, grid::closing(c));
    out
}

fn table(g: &Grid) -> comfy_table::Table {
    let header: Vec<&str> = g.header.iter().map(String::as_str).collect();
    let mut t = crate::table::numeric(&header);
    for &i in &g.text_columns {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Left);
        }
    }
    for row in &g.rows {
        t.add_row(row.iter().map(|c| c.text.as_str()));
    }
    t
}

/// GitHub-flavoured markdown: a heading and a table per grid.
pub fn to_markdown(c: &Comparison) -> String {
    let mut out = String::from("## estune compare\n\n");
    for line in grid::intro(c) {
        out.push_str(&format!("- {}\n", md(&line)));
    }
    out.push('\n');
    for g in &c.groups {
        out.push_str(&format!("- {}\n", md(&grid::group_line(g))));
    }
    for g in grid::grids(c) {
        out.push_str(&format!("\n### {}\n\n", md(&g.title)));
        if !g.rows.is_empty() {
            markdown_table(&mut out, &g);
            out.push('\n');
        }
        for line in &g.below {
            out.push_str(&format!("*{}*\n\n", md(line)));
        }
    }
    out.push_str(&format!("{}\n", md(grid::LEGEND)));
    let closing = grid::closing(c);
    if !closing.is_empty() {
        out.push('\n');
        for line in closing {
            out.push_str(&format!("- {}\n", md(&line)));
        }
    }
    out
}

fn markdown_table(out: &mut String, g: &Grid) {
    let row = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    out.push_str(&row(g.header.iter().map(|h| md(h)).collect()));
    out.push_str(&row((0..g.header.len())
        .map(|i| {
            if g.text_columns.contains(&i) {
                ":--"
            } else {
                "--:"
            }
            .to_string()
        })
        .collect()));
    for r in &g.rows {
        out.push_str(&row(r.iter().map(|c| md(&c.text)).collect()));
    }
}

/// Text safe in a markdown table cell or paragraph (`$` too: GitHub
/// reads `$…$` as mathematics, and statements are full of `$1`).
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(
            ch,
            '\\' | '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '$'
        ) {
            out.push('\\');
        }
        out.push(if ch == '\n' { ' ' } else { ch });
    }
    out
}

/// `estune.compare/1` JSON, with a final newline.
pub fn to_json(c: &Comparison) -> String {
    // Plain structs with string keys and no maps of other keys: serde_json
    // cannot fail on them (non-finite numbers become null).
    let mut s = serde_json::to_string_pretty(c).expect("a comparison serialises");
    s.push('\n');
    s
}

/// A few lines for a terminal: per mode and side, the rate (capacity in a
/// closed loop) and p99 against the baseline, with verdicts.
pub fn headline(c: &Comparison) -> String {
    let mut out = String::new();
    for g in &c.groups {
        let base = g.sides.first().map(|s| s.label.as_str()).unwrap_or("");
        for (i, side) in g.sides.iter().enumerate().skip(1) {
            let parts: Vec<String> = [rate_key(g), "latency.p99"]
                .iter()
                .filter_map(|key| headline_part(g, key, i))
                .collect();
            out.push_str(&format!(
                "{}, {} vs {base}: {}\n",
                g.title,
                side.label,
                parts.join(", ")
            ));
        }
    }
    out
}

fn rate_key(g: &ModeGroup) -> &'static str {
    if g.mode == "closed-loop" {
        "capacity"
    } else {
        "achieved_rate"
    }
}

fn headline_part(g: &ModeGroup, key: &str, side: usize) -> Option<String> {
    let row = g.row("all", key)?;
    let v = row.values.get(side)?;
    let d = v.delta.as_ref()?;
    Some(format!(
        "{} {} → {} ({}, {}; noise {})",
        row.figure,
        grid::value(row.unit, row.values.first()?.value),
        grid::value(row.unit, v.value),
        grid::change(row.unit, d),
        d.verdict.text(),
        grid::threshold(row.unit, d)
    ))
}
