//! Tables for people: pure functions of a run result or a sweep report,
//! so the CLI only prints and tests need no terminal. Latencies are shown
//! in milliseconds (the JSON keeps µs); the mode heads every table so a
//! closed-loop figure is never mistaken for an open-loop one.

use super::{OpSummary, RunResult, SweepReport};
use comfy_table::Table;

fn table(header: &[&str]) -> Table {
    crate::table::numeric(header)
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

/// One line saying what was run.
pub fn headline(r: &RunResult) -> String {
    let m = &r.metadata;
    let mut s = m.mode.clone();
    if m.mode == "open-loop" {
        let arrivals = match m.arrivals {
            super::Arrivals::Uniform => "uniform",
            super::Arrivals::Poisson { .. } => "poisson",
        };
        s += &format!(", {} ops/s target ({arrivals})", m.rate);
    }
    s += &format!(
        ", {} s measured of {} s",
        r.summary.measured_s, m.duration_s
    );
    if m.warmup_s > 0.0 {
        s += &format!(" after {} s warm-up", m.warmup_s);
    }
    s += &format!(", {} workers, queue {}", m.workers, m.queue);
    if let Some(l) = &m.label {
        s += &format!(", label {l}");
    }
    if r.summary.interrupted {
        s += " — INTERRUPTED";
    }
    s
}

fn op_row(o: &OpSummary) -> Vec<String> {
    let i = &o.latency_us.intended;
    vec![
        o.op.clone(),
        o.count.to_string(),
        format!("{:.1}", o.achieved_rate),
        format!("{:.2}", o.error_pct),
        o.errors.timeout.to_string(),
        o.conflicts.to_string(),
        o.rejections.to_string(),
        o.dropped.to_string(),
        o.late.to_string(),
        ms(i.p50),
        ms(i.p90),
        ms(i.p99),
        ms(i.p999),
        ms(i.max),
        ms(o.latency_us.service.p99),
    ]
}

/// The run's summary: one row per op kind and a total.
pub fn summary_table(r: &RunResult) -> String {
    let mut t = table(&[
        "op",
        "count",
        "ops/s",
        "errors %",
        "timeouts",
        "conflicts",
        "rejections",
        "dropped",
        "late",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "service p99 ms",
    ]);
    for o in &r.summary.ops {
        t.add_row(op_row(o));
    }
    t.add_row(op_row(&r.summary.total));
    let client = match &r.summary.client {
        Some(c) => format!(
            "client: {:.2} s CPU in the window ({:.3} s per 1,000 ops), {:.1} MiB resident\n",
            c.cpu_s,
            c.cpu_s_per_1000_ops,
            c.rss_bytes as f64 / (1u64 << 20) as f64
        ),
        None => String::new(),
    };
    format!(
        "{}\nlatency from intended start unless marked service\n{t}\n{client}",
        headline(r)
    )
}

/// The sweep's table and its verdict.
pub fn sweep_table(s: &SweepReport) -> String {
    let mut t = table(&[
        "target ops/s",
        "achieved ops/s",
        "errors %",
        "backpressure %",
        "p50 ms",
        "p99 ms",
        "sustainable",
    ]);
    for r in &s.rows {
        let verdict = if r.sustainable {
            "yes".to_string()
        } else {
            format!("no: {}", r.reasons.join("; "))
        };
        t.add_row(vec![
            format!("{}", r.target),
            format!("{:.1}", r.achieved),
            format!("{:.2}", r.error_pct),
            format!("{:.2}", r.backpressure_pct),
            ms(r.p50_us),
            ms(r.p99_us),
            verdict,
        ]);
    }
    let verdict = match s.highest_sustainable {
        Some(rate) => format!("highest sustainable rate: {rate} ops/s"),
        None => "no rate was sustainable".to_string(),
    };
    let interrupted = if s.interrupted { " (interrupted)" } else { "" };
    format!("open-loop sweep{interrupted}\n{t}\n{verdict}\n")
}
