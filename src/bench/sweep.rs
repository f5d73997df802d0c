//! Finds the highest sustainable rate: one bench run per target rate, each
//! judged by fixed criteria (the table the original project compiled by
//! hand from Grafana), so "how much can it take" has one reproducible
//! answer.

use super::engine::{run, RunHooks, StopToken};
use super::{BenchError, BenchOptions, RunResult, WorkerFactory};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Cap on the number of rates in one sweep, against `1..1000000:1`.
const MAX_STEPS: usize = 1_000;

/// Parses `100..400:25` (inclusive, step 25) or `100,200,300`.
pub fn parse_rates(input: &str) -> Result<Vec<f64>, BenchError> {
    let bad = |reason: &str| BenchError::InvalidRates {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let num = |s: &str, what: &str| -> Result<f64, BenchError> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| bad(&format!("{what} {:?} is not a number", s.trim())))?;
        if !(v > 0.0 && v <= 1_000_000.0) {
            return Err(bad(&format!("{what} {v} is outside 0 < rate <= 1000000")));
        }
        Ok(v)
    };
    let rates = if let Some((range, step)) = input.split_once(':') {
        let (from, to) = range
            .split_once("..")
            .ok_or_else(|| bad("expected FROM..TO:STEP, e.g. 100..400:25"))?;
        let (from, to, step) = (num(from, "start")?, num(to, "end")?, num(step, "step")?);
        if to < from {
            return Err(bad("the end is below the start"));
        }
        let steps = ((to - from) / step + 1e-9).floor() as usize + 1;
        if steps > MAX_STEPS {
            return Err(bad(&format!("{steps} steps; at most {MAX_STEPS}")));
        }
        (0..steps).map(|i| from + i as f64 * step).collect()
    } else if input.contains("..") {
        return Err(bad("a range needs a step, e.g. 100..400:25"));
    } else {
        input
            .split(',')
            .map(|s| num(s, "rate"))
            .collect::<Result<Vec<_>, _>>()?
    };
    if rates.is_empty() {
        return Err(bad("no rate given"));
    }
    Ok(rates)
}

/// What "sustainable" means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepCriteria {
    /// Achieved at least this share of the target, percent.
    pub min_achieved_pct: f64,
    /// Errors below this share of operations, percent.
    pub max_error_pct: f64,
    /// p99 latency from intended start, all ops, must stay under this.
    pub slo_p99: Option<Duration>,
}

impl Default for SweepCriteria {
    fn default() -> Self {
        SweepCriteria {
            min_achieved_pct: 99.0,
            max_error_pct: 0.5,
            slo_p99: None,
        }
    }
}

/// One line of the sweep table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    pub target: f64,
    pub achieved: f64,
    pub error_pct: f64,
    /// Dropped for a full queue, as a share of scheduled ops, percent.
    pub backpressure_pct: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub sustainable: bool,
    /// Why not, in words; empty when sustainable.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub criteria: SweepCriteria,
    pub rows: Vec<SweepRow>,
    /// The highest target judged sustainable.
    pub highest_sustainable: Option<f64>,
    pub interrupted: bool,
    pub runs: Vec<RunResult>,
}

/// Judges one run against the criteria. Pure.
pub fn evaluate(target: f64, r: &RunResult, c: &SweepCriteria) -> SweepRow {
    let t = &r.summary.total;
    let scheduled = r.summary.scheduled.max(1) as f64;
    let backpressure_pct = 100.0 * t.dropped as f64 / scheduled;
    let lat = &t.latency_us.intended;
    let mut reasons = Vec::new();
    if t.achieved_rate < target * c.min_achieved_pct / 100.0 {
        reasons.push(format!(
            "achieved {:.1} ops/s < {}% of {target}",
            t.achieved_rate, c.min_achieved_pct
        ));
    }
    if t.error_pct >= c.max_error_pct {
        reasons.push(format!(
            "errors {:.2}% >= {}%",
            t.error_pct, c.max_error_pct
        ));
    }
    if t.dropped > 0 {
        reasons.push(format!("{} dropped (queue full)", t.dropped));
    }
    if let Some(slo) = c.slo_p99 {
        if lat.p99 as u128 >= slo.as_micros() {
            reasons.push(format!("p99 {} µs >= SLO {} µs", lat.p99, slo.as_micros()));
        }
    }
    if r.summary.interrupted {
        reasons.push("interrupted".into());
    }
    SweepRow {
        target,
        achieved: t.achieved_rate,
        error_pct: t.error_pct,
        backpressure_pct,
        p50_us: lat.p50,
        p99_us: lat.p99,
        sustainable: reasons.is_empty(),
        reasons,
    }
}

/// Runs `base` at each rate in turn. A stop request ends the sweep after
/// the current run, which is kept (marked interrupted). `on_row` sees each
/// row as it is judged, for live output.
pub async fn sweep<F: WorkerFactory + 'static>(
    factory: Arc<F>,
    base: &BenchOptions,
    rates: &[f64],
    criteria: SweepCriteria,
    stop: StopToken,
    mut on_row: impl FnMut(&SweepRow),
) -> Result<SweepReport, BenchError> {
    let mut report = SweepReport {
        criteria,
        rows: Vec::new(),
        highest_sustainable: None,
        interrupted: false,
        runs: Vec::new(),
    };
    for &rate in rates {
        if stop.is_stopped() {
            report.interrupted = true;
            break;
        }
        let options = BenchOptions {
            rate,
            closed_loop: false,
            ..base.clone()
        };
        let hooks = RunHooks {
            stop: stop.clone(),
            ..RunHooks::default()
        };
        let result = run(factory.clone(), &options, hooks).await?;
        let row = evaluate(rate, &result, &report.criteria);
        on_row(&row);
        report.interrupted |= result.summary.interrupted;
        if row.sustainable {
            let best = report.highest_sustainable.unwrap_or(0.0);
            report.highest_sustainable = Some(best.max(rate));
        }
        report.rows.push(row);
        report.runs.push(result);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_list_table() {
        let ok: &[(&str, &[f64])] = &[
            (
                "100..400:25",
                &[
                    100., 125., 150., 175., 200., 225., 250., 275., 300., 325., 350., 375., 400.,
                ],
            ),
            ("100..150:20", &[100., 120., 140.]),
            ("5..5:1", &[5.]),
            ("0.5..1.5:0.5", &[0.5, 1.0, 1.5]),
            ("100,200, 300", &[100., 200., 300.]),
            ("42", &[42.]),
        ];
        for (input, want) in ok {
            assert_eq!(parse_rates(input).unwrap(), want.to_vec(), "{input}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "not a number"),
            ("100..400", "needs a step"),
            ("400..100:25", "below the start"),
            ("100..400:0", "step 0"),
            ("0..400:25", "start 0"),
            ("-5", "rate -5"),
            ("abc", "not a number"),
            ("100..x:5", "end \"x\""),
            ("100-400:5", "FROM..TO:STEP"),
            ("1..1000000:1", "at most 1000"),
            ("100,,200", "not a number"),
        ];
        for (input, want) in bad {
            let e = parse_rates(input).unwrap_err().to_string();
            assert!(e.contains(want), "{input}: {e}");
        }
    }
}
