//! Health output, pure functions of a snapshot and its findings: tables
//! per server grouped by area (colour only on a terminal, which
//! comfy-table decides), the JSON document, and a Nagios plugin line.

use super::rules::{worst, Finding, Status};
use super::snapshot::{Rates, Snapshot};
use comfy_table::{Cell, Color, Table};
use serde::Serialize;

/// Version of the JSON document.
pub const FORMAT: u32 = 1;

fn colour(s: Status) -> Color {
    match s {
        Status::Ok => Color::Green,
        Status::Warn => Color::Yellow,
        Status::Crit => Color::Red,
        Status::Unknown => Color::Magenta,
    }
}

fn table() -> Table {
    crate::table::new(&["area", "check", "status", "value", "threshold"])
}

fn rates_line(r: &Rates, secs: f64) -> String {
    let hit = r
        .cache_hit_ratio
        .map(|h| format!(", cache hit {:.1}%", h * 100.0))
        .unwrap_or_default();
    format!(
        "per second over {secs:.1} s: {} commits, {} rollbacks, {} inserted, {} updated, {} deleted, {} returned, {} fetched{hit}",
        r.commits, r.rollbacks, r.tup_inserted, r.tup_updated, r.tup_deleted, r.tup_returned, r.tup_fetched
    )
}

fn counts(findings: &[Finding]) -> String {
    let n = |s| findings.iter().filter(|f| f.status == s).count();
    format!(
        "{} CRIT, {} WARN, {} UNKNOWN, {} OK",
        n(Status::Crit),
        n(Status::Warn),
        n(Status::Unknown),
        n(Status::Ok)
    )
}

/// One table per server (and one for the pair), then what to do about
/// every finding that is not OK.
pub fn table_text(snap: &Snapshot, findings: &[Finding]) -> String {
    let mut out = String::new();
    let mut groups: Vec<(String, String)> = snap
        .servers
        .iter()
        .map(|s| {
            let what = match (&s.unreachable, &s.version) {
                (Some(_), _) => "not reachable".to_string(),
                (None, Some(v)) => format!(
                    "PostgreSQL {v}{}, probed in {:.0} ms",
                    if s.in_recovery == Some(true) {
                        " (standby)"
                    } else {
                        ""
                    },
                    s.probe_ms
                ),
                (None, None) => String::new(),
            };
            let mut head = format!("{} {} — {what}", s.role, s.label);
            if let (Some(r), Some(secs)) = (&s.rates, snap.interval_s) {
                head += &format!("\n{}", rates_line(r, secs));
            }
            if let Some(c) = &s.connections {
                let waits: Vec<String> = c
                    .by_wait_event
                    .iter()
                    .map(|(w, n)| format!("{}={n}", if w.is_empty() { "running" } else { w }))
                    .collect();
                let states: Vec<String> = c
                    .by_state
                    .iter()
                    .map(|(st, n)| format!("{}={n}", if st.is_empty() { "?" } else { st }))
                    .collect();
                head += &format!(
                    "\nconnections by state: {}; by wait event: {}",
                    states.join(", "),
                    waits.join(", ")
                );
            }
            (s.role.to_string(), head)
        })
        .collect();
    groups.push((
        "pair".into(),
        "pair — settings and index use across both servers".into(),
    ));
    for (server, head) in groups {
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.server == server).collect();
        if mine.is_empty() {
            continue;
        }
        let mut t = table();
        for f in &mine {
            t.add_row(vec![
                Cell::new(&f.area),
                Cell::new(&f.check),
                Cell::new(f.status.as_str()).fg(colour(f.status)),
                Cell::new(&f.value),
                Cell::new(&f.threshold),
            ]);
        }
        out += &format!("{head}\n{t}\n");
        for f in mine.iter().filter(|f| !f.recommendation.is_empty()) {
            out += &format!(
                "  {} {}: {}\n",
                f.status.as_str(),
                f.check,
                f.recommendation
            );
        }
        out.push('\n');
    }
    out += &format!(
        "overall {} ({}); all probes took {:.0} ms\n",
        worst(findings).as_str(),
        counts(findings),
        snap.probe_ms
    );
    out
}

#[derive(Serialize)]
struct Document<'a> {
    format: u32,
    tool_version: &'static str,
    status: Status,
    exit_code: u8,
    /// All probes of all servers, milliseconds.
    probe_ms: f64,
    findings: &'a [Finding],
    snapshot: &'a Snapshot,
}

pub fn json_text(snap: &Snapshot, findings: &[Finding]) -> String {
    let status = worst(findings);
    let doc = Document {
        format: FORMAT,
        tool_version: env!("CARGO_PKG_VERSION"),
        status,
        exit_code: status.exit_code(),
        probe_ms: snap.probe_ms,
        findings,
        snapshot: snap,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
}

fn nagios_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "OK",
        Status::Warn => "WARNING",
        Status::Crit => "CRITICAL",
        Status::Unknown => "UNKNOWN",
    }
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// `ESTUNE HEALTH WARNING - summary | perfdata`, one line, as a Nagios
/// plugin prints it; the exit code is `worst(findings).exit_code()`.
pub fn nagios_line(findings: &[Finding]) -> String {
    let status = worst(findings);
    let mut bad: Vec<&Finding> = findings.iter().filter(|f| f.status != Status::Ok).collect();
    bad.sort_by_key(|f| std::cmp::Reverse(f.status));
    let summary = if bad.is_empty() {
        format!("{} checks OK", findings.len())
    } else {
        bad.iter()
            .map(|f| {
                format!(
                    "{} {} {}: {}",
                    f.status.as_str(),
                    f.server,
                    f.check,
                    f.value
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let perf: Vec<String> = findings
        .iter()
        .filter_map(|f| f.perf.as_ref())
        .map(|p| {
            let t = |x: Option<f64>| x.map(num).unwrap_or_default();
            format!(
                "'{}'={}{};{};{}",
                p.label,
                num(p.value),
                p.uom,
                t(p.warn),
                t(p.crit)
            )
        })
        .collect();
    // A '|' in the text would start the perfdata early.
    let summary = summary.replace('|', "/").replace('\n', " ");
    format!(
        "ESTUNE HEALTH {} - {summary} | {}\n",
        nagios_word(status),
        perf.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::rules::Perf;

    fn finding(server: &str, check: &str, status: Status, rec: &str) -> Finding {
        Finding {
            server: server.into(),
            area: "replication".into(),
            check: check.into(),
            status,
            value: "20 MiB | x".into(),
            threshold: "warn 16MB / crit 256MB".into(),
            recommendation: rec.into(),
            perf: Some(Perf {
                label: format!("{server}_{check}"),
                value: 20971520.0,
                uom: "B",
                warn: Some(16777216.0),
                crit: Some(268435456.0),
            }),
        }
    }

    #[test]
    fn nagios_line_word_summary_and_perfdata() {
        let cases = [
            (
                vec![Status::Ok, Status::Ok],
                "ESTUNE HEALTH OK - 2 checks OK | ",
            ),
            (
                vec![Status::Ok, Status::Warn],
                "ESTUNE HEALTH WARNING - WARN replica c1: 20 MiB / x | ",
            ),
            (
                vec![Status::Warn, Status::Crit],
                "ESTUNE HEALTH CRITICAL - CRIT replica c1: 20 MiB / x; WARN replica c0",
            ),
            (
                vec![Status::Unknown],
                "ESTUNE HEALTH UNKNOWN - UNKNOWN replica c0",
            ),
        ];
        for (statuses, want) in cases {
            let fs: Vec<Finding> = statuses
                .iter()
                .enumerate()
                .map(|(i, s)| finding("replica", &format!("c{i}"), *s, "do this"))
                .collect();
            let line = nagios_line(&fs);
            assert!(line.starts_with(want), "{line}");
            assert!(
                line.contains("'replica_c0'=20971520B;16777216;268435456"),
                "{line}"
            );
            assert_eq!(
                line.matches('|').count(),
                1,
                "the value's '|' is escaped: {line}"
            );
            assert!(line.ends_with('\n') && line.lines().count() == 1);
        }
    }

    #[test]
    fn table_groups_by_server_and_says_what_to_do() {
        let snap = Snapshot::default();
        let fs = vec![
            finding("primary", "standbys", Status::Crit, "check the replica"),
            finding("pair", "drift", Status::Ok, ""),
        ];
        let text = table_text(&snap, &fs);
        assert!(
            text.contains("pair — settings and index use across both servers"),
            "{text}"
        );
        assert!(
            !text.contains("standbys"),
            "no primary in the snapshot, so no primary table: {text}"
        );
        assert!(
            text.ends_with(
                "overall CRIT (1 CRIT, 0 WARN, 0 UNKNOWN, 1 OK); all probes took 0 ms\n"
            ),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&json_text(&snap, &fs)).unwrap();
        assert_eq!(
            (json["status"].as_str(), json["exit_code"].as_u64()),
            (Some("CRIT"), Some(2))
        );
        assert_eq!(json["format"], FORMAT);
    }
}
