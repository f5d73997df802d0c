//! The plans `auto_explain` wrote to a server's log during the measured
//! window (pure). The window is found by the markers the probe logs when
//! it opens and closes (`estune-window-open TOKEN`); a plan is a
//! `duration: X ms  plan:` line and the tab-indented lines under it, as
//! PostgreSQL writes a multi-line message to its log.

use super::{truncate, SlowPlan, SlowStatement, QUERY_CHARS};
use std::collections::BTreeMap;

/// Statements kept per server, the slowest first.
pub const SLOW_STATEMENTS: usize = 10;
/// Plans kept per statement, the slowest first.
pub const PLANS_PER_STATEMENT: usize = 3;
/// Longest plan kept (characters).
const PLAN_CHARS: usize = 8000;

pub fn open_marker(token: &str) -> String {
    format!("estune-window-open {token}")
}

pub fn close_marker(token: &str) -> String {
    format!("estune-window-close {token}")
}

/// The lines of `log` between the window's markers (to the end when the
/// closing one is missing); Err when the opening one is not in it.
pub fn window_text<'a>(log: &'a str, token: &str) -> Result<&'a str, String> {
    let open = open_marker(token);
    let Some(at) = log.find(&open) else {
        return Err(format!(
            "the start of the window (`{open}`) is not in the part of the server log that was read"
        ));
    };
    let from = log[at..].find('\n').map_or(log.len(), |n| at + n + 1);
    let rest = &log[from..];
    let to = rest
        .find(&close_marker(token))
        .map(|c| rest[..c].rfind('\n').map_or(0, |n| n + 1))
        .unwrap_or(rest.len());
    Ok(&rest[..to])
}

/// One logged plan.
struct Logged {
    duration_ms: f64,
    query: String,
    queryid: Option<String>,
    plan: String,
}

/// `duration: 52.123 ms  plan:` → 52.123.
fn duration_of(line: &str) -> Option<f64> {
    let rest = line.split_once("duration: ")?.1;
    let (ms, tail) = rest.split_once(" ms")?;
    if tail.trim() != "plan:" {
        return None;
    }
    ms.trim().parse().ok()
}

/// A plan's root node: not indented, with the planner's estimate.
fn is_root(line: &str) -> bool {
    !line.starts_with(' ') && line.contains("  (cost=")
}

fn logged(duration_ms: f64, body: &[&str]) -> Logged {
    let mut query = Vec::new();
    let mut plan = Vec::new();
    let mut queryid = None;
    let mut in_query = false;
    for line in body {
        if let Some(q) = line.strip_prefix("Query Text: ") {
            in_query = true;
            query.push(q);
            continue;
        }
        if in_query && (is_root(line) || line.starts_with("Query Parameters: ")) {
            in_query = false;
        }
        if in_query {
            query.push(line);
        } else if let Some(id) = line.strip_prefix("Query Identifier: ") {
            queryid = Some(id.trim().to_string());
        } else {
            plan.push(*line);
        }
    }
    Logged {
        duration_ms,
        query: truncate(query.join("\n").trim(), QUERY_CHARS),
        queryid,
        plan: truncate(&plan.join("\n"), PLAN_CHARS),
    }
}

/// Every plan in `text`, grouped by statement (its query identifier when
/// the plan shows one, else its text): the [`SLOW_STATEMENTS`] with the
/// slowest executions, each with its [`PLANS_PER_STATEMENT`] slowest
/// plans.
pub fn parse_slow_plans(text: &str) -> Vec<SlowStatement> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(ms) = duration_of(lines[i]) else {
            i += 1;
            continue;
        };
        let mut body = Vec::new();
        i += 1;
        while let Some(l) = lines.get(i).and_then(|l| l.strip_prefix('\t')) {
            body.push(l);
            i += 1;
        }
        found.push(logged(ms, &body));
    }
    let mut groups: BTreeMap<String, Vec<Logged>> = BTreeMap::new();
    for l in found {
        let key = match &l.queryid {
            Some(id) => format!("id {id}"),
            None => format!("text {}", l.query),
        };
        groups.entry(key).or_default().push(l);
    }
    let mut out: Vec<SlowStatement> = groups
        .into_values()
        .map(|mut plans| {
            plans.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
            let logged = plans.len() as u64;
            SlowStatement {
                queryid: plans[0].queryid.clone(),
                query: plans[0].query.clone(),
                logged,
                slowest: plans
                    .into_iter()
                    .take(PLANS_PER_STATEMENT)
                    .map(|p| SlowPlan {
                        duration_ms: p.duration_ms,
                        plan: p.plan,
                    })
                    .collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let slowest = |s: &SlowStatement| s.slowest.first().map_or(0.0, |p| p.duration_ms);
        slowest(b).total_cmp(&slowest(a))
    });
    out.truncate(SLOW_STATEMENTS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As PostgreSQL 18 logs it (auto_explain.log_verbose on).
    const LOG: &str = "\
2026-01-01 10:00:00.000 UTC [10] LOG:  duration: 90.000 ms  plan:
\tQuery Text: SELECT 1 -- warm-up, before the window
\tResult  (cost=0.00..0.01 rows=1 width=4)
2026-01-01 10:00:01.000 UTC [11] LOG:  estune-window-open abc
2026-01-01 10:00:01.100 UTC [12] LOG:  duration: 52.500 ms  plan:
\tQuery Text: WITH context AS (SELECT MAX(sequence_number) AS max_seq FROM events WHERE event_type = ANY($1))
\tINSERT INTO events SELECT 1
\tInsert on public.events  (cost=0.00..1.00 rows=1 width=80)
\t  ->  Result  (cost=0.00..1.00 rows=1 width=80)
\t        Output: 1
\tQuery Identifier: -42
2026-01-01 10:00:01.200 UTC [13] LOG:  checkpoint starting: time
2026-01-01 10:00:01.300 UTC [12] LOG:  duration: 75.250 ms  plan:
\tQuery Text: WITH context AS (SELECT MAX(sequence_number) AS max_seq FROM events WHERE event_type = ANY($1))
\tINSERT INTO events SELECT 1
\tQuery Parameters: $1 = '{BookCopyLent}'
\tInsert on public.events  (cost=0.00..2.00 rows=1 width=80)
\tQuery Identifier: -42
2026-01-01 10:00:01.400 UTC [14] LOG:  duration: 60.000 ms  plan:
\tQuery Text: SELECT event_type FROM events WHERE payload @> $1
\tBitmap Heap Scan on public.events  (cost=1.00..9.00 rows=5 width=32)
2026-01-01 10:00:01.500 UTC [14] LOG:  duration: 61.000 ms  statement: SELECT 2
2026-01-01 10:00:02.000 UTC [11] LOG:  estune-window-close abc
2026-01-01 10:00:02.100 UTC [12] LOG:  duration: 99.000 ms  plan:
\tQuery Text: SELECT 3 -- after the window
\tResult  (cost=0.00..0.01 rows=1 width=4)
";

    #[test]
    fn the_window_lies_between_the_markers() {
        let w = window_text(LOG, "abc").unwrap();
        assert!(w.starts_with("2026-01-01 10:00:01.100"), "{w}");
        assert!(!w.contains("warm-up") && !w.contains("after the window"));
        assert!(w.contains("SELECT 2"));
        let e = window_text(LOG, "other").unwrap_err();
        assert!(e.contains("estune-window-open other"), "{e}");
        // No closing marker (the run ended in a failure): to the end.
        let cut = &LOG[..LOG.find("2026-01-01 10:00:02.000").unwrap()];
        assert!(window_text(cut, "abc").unwrap().ends_with("SELECT 2\n"));
    }

    #[test]
    fn plans_group_by_statement_slowest_first() {
        let got = parse_slow_plans(window_text(LOG, "abc").unwrap());
        assert_eq!(got.len(), 2, "{got:#?}");
        let append = &got[0];
        assert_eq!(append.queryid.as_deref(), Some("-42"));
        assert_eq!(append.logged, 2);
        assert!(append
            .query
            .starts_with("WITH context AS (SELECT MAX(sequence_number)"));
        assert!(
            append.query.ends_with("\nINSERT INTO events SELECT 1"),
            "a query of two lines stays whole: {}",
            append.query
        );
        let ms: Vec<f64> = append.slowest.iter().map(|p| p.duration_ms).collect();
        assert_eq!(ms, vec![75.25, 52.5]);
        assert!(append.slowest[0].plan.starts_with("Query Parameters: $1"));
        assert!(append.slowest[1]
            .plan
            .starts_with("Insert on public.events  (cost=0.00..1.00"));
        assert!(
            !append.slowest[1].plan.contains("Query Identifier"),
            "kept as queryid instead"
        );
        assert!(append.slowest[1].plan.ends_with("        Output: 1"));
        let read = &got[1];
        assert_eq!((read.queryid.as_deref(), read.logged), (None, 1));
        assert_eq!(
            read.query,
            "SELECT event_type FROM events WHERE payload @> $1"
        );
    }

    #[test]
    fn many_plans_keep_the_slowest() {
        let mut log = String::new();
        for i in 0..(SLOW_STATEMENTS + 5) {
            for d in [1.0, 7.0, 3.0, 5.0] {
                log.push_str(&format!(
                    "x LOG:  duration: {} ms  plan:\n\tQuery Text: SELECT {i}\n\tResult  (cost=0.00..0.01 rows=1 width=4)\n",
                    d + i as f64 * 10.0
                ));
            }
        }
        let got = parse_slow_plans(&log);
        assert_eq!(got.len(), SLOW_STATEMENTS);
        let top = SLOW_STATEMENTS + 4;
        assert_eq!(got[0].query, format!("SELECT {top}"));
        assert_eq!(got[0].logged, 4);
        let ms: Vec<f64> = got[0].slowest.iter().map(|p| p.duration_ms).collect();
        let base = top as f64 * 10.0;
        assert_eq!(ms, vec![base + 7.0, base + 5.0, base + 3.0]);
        assert!(parse_slow_plans("no plans here\n").is_empty());
    }
}
