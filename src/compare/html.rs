//! The comparison as an HTML fragment for the report page: the same grids
//! as the terminal table, with `better`/`worse`/`noise` classes on the
//! verdict cells for the page's style sheet. No scripts, no external
//! resources, every text escaped.

use super::grid::{self, Grid};
use super::model::Comparison;
use crate::escape::html as esc;

/// The verdicts in brief (see [`super::to_summary`]): per mode, the
/// figures of all operations together and of the servers.
pub fn to_summary_html(c: &Comparison) -> String {
    let mut out = String::from("<section class=\"estune-compare-summary\">\n");
    for g in grid::summary_grids(c) {
        grid_html(&mut out, &g);
    }
    out.push_str(&format!("<p class=\"legend\">{}</p>\n", esc(grid::LEGEND)));
    out.push_str("</section>\n");
    out
}

/// A grid's title, table and the lines under it.
fn grid_html(out: &mut String, g: &Grid) {
    out.push_str(&format!("<h3>{}</h3>\n", esc(&g.title)));
    if !g.rows.is_empty() {
        table(out, g);
    }
    for line in &g.below {
        out.push_str(&format!("<p class=\"method\">{}</p>\n", esc(line)));
    }
}

pub fn to_html(c: &Comparison) -> String {
    let mut out = String::from("<section class=\"estune-compare\">\n");
    out.push_str("<ul class=\"sides\">\n");
    for line in grid::intro(c) {
        out.push_str(&format!("<li>{}</li>\n", esc(&line)));
    }
    for g in &c.groups {
        out.push_str(&format!("<li>{}</li>\n", esc(&grid::group_line(g))));
    }
    out.push_str("</ul>\n");
    for g in grid::grids(c) {
        grid_html(&mut out, &g);
    }
    out.push_str(&format!("<p class=\"legend\">{}</p>\n", esc(grid::LEGEND)));
    let closing = grid::closing(c);
    if !closing.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for line in closing {
            out.push_str(&format!("<li>{}</li>\n", esc(&line)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

fn table(out: &mut String, g: &Grid) {
    out.push_str("<table>\n<thead><tr>");
    for h in &g.header {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &g.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let class = match (c.class, g.text_columns.contains(&i)) {
                (Some(v), _) => format!(" class=\"verdict {v}\""),
                (None, false) => " class=\"num\"".to_string(),
                (None, true) => String::new(),
            };
            out.push_str(&format!("<td{class}>{}</td>", esc(&c.text)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}
