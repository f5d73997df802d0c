//! The comparison as an HTML fragment for the report page: the same grids
//! as the terminal table, with `better`/`worse`/`noise` classes on the
//! verdict cells for the page's style sheet. No scripts, no external
//! resources, every text escaped.

use super::grid::{self, Grid};
use super::model::Comparison;

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
        out.push_str(&format!("<h3>{}</h3>\n", esc(&g.title)));
        if !g.rows.is_empty() {
            table(&mut out, &g);
        }
        for line in &g.below {
            out.push_str(&format!("<p class=\"method\">{}</p>\n", esc(line)));
        }
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

/// Escapes text for element content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
