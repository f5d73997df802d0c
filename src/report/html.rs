//! The report page: one self-contained `index.html` (inline style sheet,
//! no script, nothing fetched: the plots are SVG files beside it under
//! `plots/`, and result files are relative links). Every text from a
//! result or a file name is escaped. Pure: a function of [`Page`].

use super::plots::Plot;
use super::runs::{mode_title, Side};
use crate::bench::RunResult;
use std::collections::BTreeSet;

/// Everything the page shows.
pub struct Page<'a> {
    /// Baseline first.
    pub sides: &'a [Side<'a>],
    /// Compare's verdicts in brief (all operations and the servers).
    pub summary: Option<String>,
    /// Compare's HTML fragment (verdict tables and the settings diff).
    pub comparison: Option<String>,
    /// The checks section, when criteria were given.
    pub checks: Option<String>,
    pub notes: &'a [String],
    /// Plots per mode, in the order they are shown.
    pub plots: &'a [(String, Vec<Plot>)],
    /// Result files: link (relative to the page), side.
    pub files: Vec<(String, &'a str, &'a RunResult)>,
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:0 auto;max-width:1040px;padding:0 20px 40px;line-height:1.45}
h1{font-size:1.7em;margin:24px 0 4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
h3{margin:22px 0 8px}nav a{margin-right:14px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:.92em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict.better,.verdict.pass{color:#006d2c;font-weight:600}
.verdict.worse,.verdict.fail{color:#b2182b;font-weight:600}
.verdict.noise,.verdict.changed{color:#555}.verdict.unknown{color:#8a6d00;font-weight:600}
p.method,p.legend,.sub{color:#555;font-size:.9em}
figure{margin:18px 0 30px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:.92em;margin-top:4px}code{background:#f4f4f4;padding:0 3px}
";

pub use crate::escape::html as esc;

/// A relative path as an `href`: bytes outside the unreserved set and
/// `/` percent-encoded (`:` too), so no file name can make it a URL or
/// break out of the attribute.
pub fn href(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn page(p: &Page) -> String {
    let labels: Vec<&str> = p.sides.iter().map(|s| s.label.as_str()).collect();
    let title = format!("estune report: {}", labels.join(" vs "));
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    out.push_str(&format!(
        "<h1>{}</h1>\n<p class=\"sub\">{} runs · written by estune {}</p>\n",
        esc(&title),
        p.files.len(),
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(&nav(p));
    out.push_str(&what_was_run(p));
    // What a reader came for first: the verdicts, the criteria, the plots;
    // every operation kind and the settings after them.
    out.push_str("<section id=\"verdicts\">\n<h2>Verdicts</h2>\n");
    match &p.summary {
        Some(fragment) => out.push_str(fragment),
        None => out.push_str("<p>No comparison was made for this report.</p>\n"),
    }
    out.push_str("</section>\n");
    if let Some(checks) = &p.checks {
        out.push_str(checks);
    }
    out.push_str(&plots(p.plots));
    if let Some(fragment) = &p.comparison {
        out.push_str("<section id=\"comparison\">\n<h2>Every operation kind, service time and the settings</h2>\n");
        out.push_str(fragment);
        out.push_str("</section>\n");
    }
    out.push_str(&files(p));
    out.push_str("</body>\n</html>\n");
    out
}

fn nav(p: &Page) -> String {
    let mut links = vec![("runs", "What was run"), ("verdicts", "Verdicts")];
    if p.checks.is_some() {
        links.push(("checks", "Checks"));
    }
    links.push(("plots", "Plots"));
    if p.comparison.is_some() {
        links.push(("comparison", "Every kind and the settings"));
    }
    links.push(("files", "Result files"));
    let items: Vec<String> = links
        .iter()
        .map(|(id, name)| format!("<a href=\"#{id}\">{name}</a>"))
        .collect();
    format!("<nav>{}</nav>\n", items.join(""))
}

/// Distinct values in order of first appearance, joined.
fn distinct(values: impl IntoIterator<Item = String>) -> String {
    let mut seen = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    if seen.is_empty() {
        "unknown".into()
    } else {
        seen.join(", ")
    }
}

fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

fn what_was_run(p: &Page) -> String {
    let mut out = String::from("<section id=\"runs\">\n<h2>What was run</h2>\n");
    if !p.notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for n in p.notes {
            out.push_str(&format!("<li>{}</li>\n", esc(n)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<table>\n<thead><tr><th>side</th><th>profile</th><th>plan hash</th><th>runs</th><th>PostgreSQL (primary, replica)</th><th>memory planned (primary)</th></tr></thead>\n<tbody>\n");
    for (i, s) in p.sides.iter().enumerate() {
        let rs: Vec<&RunResult> = s.runs.iter().map(|r| r.result).collect();
        let target = |f: fn(&crate::bench::Target) -> Option<String>| {
            distinct(
                rs.iter()
                    .filter_map(|r| r.metadata.target.as_ref().and_then(f)),
            )
        };
        let mut modes: Vec<&str> = Vec::new();
        for r in &rs {
            if !modes.contains(&r.metadata.mode.as_str()) {
                modes.push(&r.metadata.mode);
            }
        }
        let count: Vec<String> = modes
            .iter()
            .map(|m| {
                format!(
                    "{} {m}",
                    rs.iter().filter(|r| r.metadata.mode == *m).count()
                )
            })
            .collect();
        let servers = |f: &dyn Fn(&crate::bench::ServerInfo) -> Option<String>| {
            distinct(rs.iter().flat_map(|r| {
                r.metadata
                    .target
                    .iter()
                    .flat_map(|t| t.servers.iter().filter_map(f))
            }))
        };
        out.push_str(&format!(
            "<tr><td>{}{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&s.label),
            if i == 0 { " (baseline)" } else { "" },
            esc(&target(|t| t.profile.clone())),
            esc(&target(|t| t.plan_hash.clone())),
            esc(&count.join(", ")),
            esc(&servers(&|s| Some(s.version.clone()))),
            esc(&servers(&|s| (s.role == "primary").then_some(s.memory_bytes.map(gib)).flatten())),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out.push_str(&conditions(p));
    out.push_str("</section>\n");
    out
}

/// How the runs of each mode were run: the load, its length, the client
/// machine and when.
fn conditions(p: &Page) -> String {
    let mut out = String::from("<table>\n<thead><tr><th>mode</th><th>rate</th><th>measured</th><th>warm-up</th><th>workers</th><th>workload</th><th>client machine</th><th>runs started (UTC)</th></tr></thead>\n<tbody>\n");
    for (mode, _) in p.plots {
        let rs: Vec<&RunResult> = p
            .files
            .iter()
            .map(|f| f.2)
            .filter(|r| &r.metadata.mode == mode)
            .collect();
        let m = |f: &dyn Fn(&RunResult) -> String| distinct(rs.iter().map(|r| f(r)));
        let rate = if mode == "open-loop" {
            m(&|r| format!("{} ops/s", r.metadata.rate))
        } else {
            "as fast as the workers go".into()
        };
        let dates: BTreeSet<&str> = rs.iter().map(|r| r.metadata.started_at.as_str()).collect();
        let when = span(dates.first().copied(), dates.last().copied());
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&mode_title(mode)),
            esc(&rate),
            esc(&m(&|r| format!("{} s", r.summary.measured_s))),
            esc(&m(&|r| format!("{} s", r.metadata.warmup_s))),
            esc(&m(&|r| format!("{} (queue {})", r.metadata.workers, r.metadata.queue))),
            esc(&m(&workload)),
            esc(&m(&|r| format!("{} CPUs, {}", r.metadata.host.cpus, gib(r.metadata.host.memory_bytes)))),
            esc(&when),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// "2026-11-30 10:03 to 10:05" from RFC 3339 times (the date once when
/// it is the same); anything else as it is.
fn span(first: Option<&str>, last: Option<&str>) -> String {
    let minute = |t: &str| {
        t.get(..16)
            .map(|m| m.replacen('T', " ", 1))
            .unwrap_or_else(|| t.to_string())
    };
    match (first, last) {
        (Some(a), Some(b)) => {
            let (a, b) = (minute(a), minute(b));
            match (a.split_once(' '), b.split_once(' ')) {
                _ if a == b => a,
                (Some((da, _)), Some((db, tb))) if da == db => format!("{a} to {tb}"),
                _ => format!("{a} to {b}"),
            }
        }
        _ => "unknown".into(),
    }
}

/// The mix and the workload's options as the caller recorded them.
fn workload(r: &RunResult) -> String {
    let mix: Vec<String> = r
        .metadata
        .mix
        .iter()
        .map(|e| format!("{} {}", e.op, e.weight))
        .collect();
    let mut parts = Vec::new();
    if let Some(extra) = r.metadata.extra.as_object() {
        for (k, v) in extra {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => v.to_string(),
                _ => continue,
            };
            parts.push(format!("{k} {v}"));
        }
    }
    parts.push(format!("mix: {}", mix.join(", ")));
    parts.join("; ")
}

fn plots(modes: &[(String, Vec<Plot>)]) -> String {
    let mut out = String::from("<section id=\"plots\">\n<h2>Plots</h2>\n");
    out.push_str("<p class=\"sub\">Each side has one colour in every plot; a side's later repeats are drawn lighter. Time is counted from the start of the measured window (warm-up left out).</p>\n");
    for (mode, plots) in modes {
        out.push_str(&format!("<h3>{}</h3>\n", esc(&mode_title(mode))));
        for p in plots {
            out.push_str(&format!(
                "<figure>\n<img src=\"plots/{}\" alt=\"{}\" width=\"960\">\n<figcaption><b>{}.</b> {}</figcaption>\n</figure>\n",
                href(&p.file),
                esc(&p.title),
                esc(&p.title),
                esc(&p.caption)
            ));
        }
    }
    out.push_str("</section>\n");
    out
}

fn files(p: &Page) -> String {
    let mut out = String::from("<section id=\"files\">\n<h2>Result files</h2>\n<ul>\n");
    for (link, side, r) in &p.files {
        let name = link.rsplit('/').next().unwrap_or(link);
        out.push_str(&format!(
            "<li><a href=\"{}\">{}</a> — {}: {}, started {}</li>\n",
            href(link),
            esc(name),
            esc(side),
            esc(&crate::bench::headline(r)),
            esc(&r.metadata.started_at)
        ));
    }
    out.push_str("</ul>\n</section>\n");
    out
}
