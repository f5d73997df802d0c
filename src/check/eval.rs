//! Criteria against a result (and a baseline): one outcome per criterion
//! and subject. Pure: the same inputs give the same report. A figure the
//! result cannot give (no server samples, no replica, no such operation)
//! is UNKNOWN with the reason, and counts as a failure.

use super::metric::{Scope, Unit};
use super::spec::{Cmp, Criteria, Criterion, OpSel, ServerSel};
use crate::bench::{LatencyStats, OpSummary, RunResult, ServerStats};
use crate::window::{self, no_samples, percentile, stats};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Unknown,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Unknown => "UNKNOWN",
        }
    }
}

/// One verdict: a criterion for one subject (an operation kind, a server).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub criterion: String,
    pub metric: &'static str,
    /// The operation kind or server the row is about; null for a criterion
    /// with a single subject.
    pub subject: Option<String>,
    /// Line of the criterion in its file.
    pub line: usize,
    /// `>=`, `<=`, `>`, `<`, `=`, `!=`.
    pub op: &'static str,
    /// The required value in `unit`.
    pub required: f64,
    /// As written in the file.
    pub required_text: String,
    /// `ms`, `%`, `/s`, `x`, `B` or empty for counts.
    pub unit: &'static str,
    /// The measured value in `unit`; null when unknown or infinite.
    #[serde(serialize_with = "finite")]
    pub measured: Option<f64>,
    /// The measured value for people, with what it was computed from.
    pub measured_text: String,
    pub verdict: Verdict,
    /// How far the measured value is on the passing side (negative: short
    /// of the requirement), in `unit`; null when unknown.
    #[serde(serialize_with = "finite")]
    pub margin: Option<f64>,
    pub margin_text: String,
    /// Why the verdict is UNKNOWN.
    pub reason: Option<String>,
}

fn finite<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v.filter(|v| v.is_finite()) {
        Some(v) => s.serialize_f64(v),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub criteria_file: String,
    /// The result and baseline files as named on the command line (the
    /// caller fills them in).
    pub result_file: String,
    pub baseline_file: Option<String>,
    /// What was run, in one line.
    pub run: String,
    pub outcomes: Vec<Outcome>,
    /// Things a reader of the verdicts should know (an interrupted run, a
    /// baseline run under other conditions).
    pub notes: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.verdict == Verdict::Pass)
    }

    pub fn count(&self, v: Verdict) -> usize {
        self.outcomes.iter().filter(|o| o.verdict == v).count()
    }
}

/// A measured figure, or why there is none.
type Measure = Result<(f64, String), String>;

/// Evaluates every criterion. A criterion needing a baseline when none is
/// given is UNKNOWN here; the CLI refuses that case before.
pub fn evaluate(criteria: &Criteria, result: &RunResult, baseline: Option<&RunResult>) -> Report {
    let mut outcomes = Vec::new();
    for c in &criteria.criteria {
        let mut rows = measure(c, result, baseline);
        if rows.is_empty() {
            // Never a criterion that silently passes by having no subject.
            rows.push((None, Err("the result lists no operation kinds".into())));
        }
        for (subject, m) in rows {
            outcomes.push(outcome(c, subject, m));
        }
    }
    Report {
        criteria_file: criteria.file.clone(),
        result_file: String::new(),
        baseline_file: None,
        run: crate::bench::headline(result),
        outcomes,
        notes: notes(criteria, result, baseline),
    }
}

fn outcome(c: &Criterion, subject: Option<String>, m: Measure) -> Outcome {
    let unit = c.metric.unit;
    let r = &c.require;
    let base = Outcome {
        criterion: c.name.clone(),
        metric: c.metric.name,
        subject,
        line: c.line,
        op: r.cmp.symbol(),
        required: r.value,
        required_text: r.text.clone(),
        unit: unit.symbol(),
        measured: None,
        measured_text: "-".into(),
        verdict: Verdict::Unknown,
        margin: None,
        margin_text: "-".into(),
        reason: None,
    };
    match m {
        Err(reason) => Outcome {
            measured_text: "unknown".into(),
            reason: Some(reason),
            ..base
        },
        Ok((v, text)) => {
            let pass = r.cmp.holds(v, r.value);
            // + 0.0 turns a -0 (an `=` met exactly) into 0.
            let margin = r.cmp.margin(v, r.value) + 0.0;
            Outcome {
                measured: Some(v),
                measured_text: text,
                verdict: if pass { Verdict::Pass } else { Verdict::Fail },
                margin: Some(margin),
                margin_text: margin_text(unit, r.cmp, pass, margin, r.value),
                ..base
            }
        }
    }
}

fn margin_text(unit: Unit, cmp: Cmp, pass: bool, margin: f64, required: f64) -> String {
    if margin.is_infinite() {
        return if pass { "∞ to spare" } else { "∞ short" }.into();
    }
    if cmp == Cmp::Eq && pass {
        return "equal".into();
    }
    // A difference of percentages is in percentage points.
    let abs = match unit {
        Unit::Percent => format!("{} pp", unit.show(margin.abs()).trim_end_matches(" %")),
        _ => unit.show(margin.abs()),
    };
    let rel = if required != 0.0 && unit != Unit::Percent {
        format!(" ({:.0} %)", margin.abs() / required.abs() * 100.0)
    } else {
        String::new()
    };
    match (pass, margin == 0.0) {
        (true, true) => "exactly at the limit".into(),
        (true, false) => format!("{abs}{rel} to spare"),
        (false, true) => "at the limit (must be strictly beyond)".into(),
        (false, false) if cmp == Cmp::Eq => format!("{abs}{rel} off"),
        (false, false) => format!("{abs}{rel} short"),
    }
}

fn notes(criteria: &Criteria, r: &RunResult, baseline: Option<&RunResult>) -> Vec<String> {
    let mut out = Vec::new();
    if r.summary.interrupted {
        out.push(format!(
            "the run was interrupted: {} s measured of {} s asked",
            r.summary.measured_s, r.metadata.duration_s
        ));
    }
    if r.metadata.mode != "open-loop" {
        out.push(format!(
            "the run was {}: rates and latencies are not those of a fixed arrival rate",
            r.metadata.mode
        ));
    }
    if let (Some(b), true) = (baseline, criteria.needing_baseline().is_some()) {
        let mix = |x: &RunResult| {
            x.metadata
                .mix
                .iter()
                .map(|m| format!("{}={}", m.op, m.weight))
                .collect::<Vec<_>>()
                .join(",")
        };
        if b.metadata.rate != r.metadata.rate || b.metadata.mode != r.metadata.mode {
            out.push(format!(
                "the baseline ran {} at {} ops/s, this result {} at {} ops/s: the comparison mixes two loads",
                b.metadata.mode, b.metadata.rate, r.metadata.mode, r.metadata.rate
            ));
        }
        if mix(b) != mix(r) {
            out.push(format!(
                "the baseline's mix ({}) differs from this result's ({})",
                mix(b),
                mix(r)
            ));
        }
    }
    out
}

/// The subjects of a criterion and their measures.
fn measure(c: &Criterion, r: &RunResult, b: Option<&RunResult>) -> Vec<(Option<String>, Measure)> {
    match c.metric.scope {
        Scope::Op => ops(&c.op, r)
            .into_iter()
            .map(|(s, o)| (s, o.and_then(|o| op_metric(c.metric.name, o, r))))
            .collect(),
        Scope::Baseline => ops(&c.op, r)
            .into_iter()
            .map(|(s, o)| {
                (
                    s.clone(),
                    o.and_then(|o| improvement(c, o, b, s.as_deref())),
                )
            })
            .collect(),
        Scope::Server => servers(c.server)
            .into_iter()
            .map(|(name, which)| {
                (
                    Some(name.to_string()),
                    cache_hit(c.metric.name, r, which, name),
                )
            })
            .collect(),
        Scope::Replication => vec![(None, replication(c.metric.name, r))],
        Scope::Balance => vec![(None, balance(&c.state, r))],
        Scope::Checkpoints => vec![(None, checkpoints(c.metric.name, r))],
        Scope::Spike => spike_subjects(&c.op, r)
            .into_iter()
            .map(|(s, name)| (s, spike(c, r, name.as_deref())))
            .collect(),
        Scope::Trend => spike_subjects(&c.op, r)
            .into_iter()
            .map(|(s, name)| (s, super::trend::p99_trend(r, name.as_deref())))
            .collect(),
        Scope::Verification => vec![(None, verification(c.metric.name, r))],
    }
}

/// `op`: the total, every kind, or one kind.
fn ops<'a>(sel: &OpSel, r: &'a RunResult) -> Vec<(Option<String>, Result<&'a OpSummary, String>)> {
    match sel {
        OpSel::Total => vec![(None, Ok(&r.summary.total))],
        OpSel::Each if r.summary.ops.is_empty() => {
            vec![(None, Err("the result lists no operation kinds".into()))]
        }
        OpSel::Each => r
            .summary
            .ops
            .iter()
            .map(|o| (Some(o.op.clone()), Ok(o)))
            .collect(),
        OpSel::Named(n) => vec![(
            Some(n.clone()),
            r.summary
                .ops
                .iter()
                .find(|o| &o.op == n)
                .ok_or_else(|| not_in_mix(n, r)),
        )],
    }
}

fn not_in_mix(n: &str, r: &RunResult) -> String {
    let have: Vec<&str> = r.summary.ops.iter().map(|o| o.op.as_str()).collect();
    format!(
        "no {n} operations in this result (its kinds: {})",
        if have.is_empty() {
            "none".into()
        } else {
            have.join(", ")
        }
    )
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

fn latency_stat(l: &LatencyStats, stat: &str) -> f64 {
    match stat {
        "p50" => ms(l.p50),
        "p90" => ms(l.p90),
        "p99" => ms(l.p99),
        "p999" => ms(l.p999),
        "max" => ms(l.max),
        _ => l.mean / 1000.0,
    }
}

/// A figure of `summary.total` or `summary.ops[]`.
fn op_metric(name: &str, o: &OpSummary, r: &RunResult) -> Measure {
    let u = |v: f64, unit: Unit| Ok((v, unit.show(v)));
    let none = |what: &str| {
        Err(format!(
            "no {} operations finished, so {what} is undefined",
            label(o)
        ))
    };
    match name {
        "achieved_rate" => Ok((
            o.achieved_rate,
            format!(
                "{} ({} in {} s)",
                Unit::Rate.show(o.achieved_rate),
                o.count,
                r.summary.measured_s
            ),
        )),
        "count" => u(o.count as f64, Unit::Count),
        "ok" => u(o.ok as f64, Unit::Count),
        "error_pct" => match pct(o.errors.total, o.count) {
            Some(p) => Ok((
                p,
                format!(
                    "{} ({} of {})",
                    Unit::Percent.show(p),
                    o.errors.total,
                    o.count
                ),
            )),
            None => none("the error share"),
        },
        "errors.total" => u(o.errors.total as f64, Unit::Count),
        "errors.timeout" => u(o.errors.timeout as f64, Unit::Count),
        "errors.connection" => u(o.errors.connection as f64, Unit::Count),
        "errors.other" => u(o.errors.other as f64, Unit::Count),
        "rejections" => u(o.rejections as f64, Unit::Count),
        "conflicts" => u(o.conflicts as f64, Unit::Count),
        "dropped" => u(o.dropped as f64, Unit::Count),
        "late" => u(o.late as f64, Unit::Count),
        "dropped_pct" => match pct(o.dropped, o.count + o.dropped) {
            Some(p) => Ok((
                p,
                format!(
                    "{} ({} of {})",
                    Unit::Percent.show(p),
                    o.dropped,
                    o.count + o.dropped
                ),
            )),
            None => Err(format!("no {} operations were scheduled", label(o))),
        },
        "late_pct" => match pct(o.late, o.count) {
            Some(p) => Ok((
                p,
                format!("{} ({} of {})", Unit::Percent.show(p), o.late, o.count),
            )),
            None => none("the late share"),
        },
        _ => {
            // latency.* and service_latency.*
            let (kind, stat) = name.split_once('.').expect("catalog names have a dot");
            if o.count == 0 {
                return none("its latency");
            }
            let l = if kind == "service_latency" {
                &o.latency_us.service
            } else {
                &o.latency_us.intended
            };
            let v = latency_stat(l, stat);
            Ok((v, format!("{} ({} ops)", Unit::Duration.show(v), o.count)))
        }
    }
}

fn label(o: &OpSummary) -> &str {
    if o.op == "all" {
        "measured"
    } else {
        &o.op
    }
}

/// `improvement.*`: how much better than the baseline, in percent.
fn improvement(
    c: &Criterion,
    o: &OpSummary,
    b: Option<&RunResult>,
    subject: Option<&str>,
) -> Measure {
    let b = b.ok_or("no --baseline given")?;
    let bo = match subject {
        None => &b.summary.total,
        Some(n) => b
            .summary
            .ops
            .iter()
            .find(|x| x.op == n)
            .ok_or_else(|| format!("the baseline has no {n} operations"))?,
    };
    let inner = c
        .metric
        .name
        .strip_prefix("improvement.")
        .expect("baseline metrics start with improvement.");
    if inner == "achieved_rate" {
        if bo.achieved_rate <= 0.0 {
            return Err("the baseline's achieved rate is 0".into());
        }
        let v = (o.achieved_rate - bo.achieved_rate) / bo.achieved_rate * 100.0;
        return Ok((
            v,
            format!(
                "{} ({} → {})",
                Unit::Percent.show(v),
                Unit::Rate.show(bo.achieved_rate),
                Unit::Rate.show(o.achieved_rate)
            ),
        ));
    }
    if o.count == 0 || bo.count == 0 {
        return Err("no operations finished in one of the two results".into());
    }
    let (kind, stat) = inner.split_once('.').expect("latency metrics have a dot");
    let pick = |x: &OpSummary| {
        latency_stat(
            if kind == "service_latency" {
                &x.latency_us.service
            } else {
                &x.latency_us.intended
            },
            stat,
        )
    };
    let (before, after) = (pick(bo), pick(o));
    if before <= 0.0 {
        return Err(format!("the baseline's {inner} is 0"));
    }
    let v = (before - after) / before * 100.0;
    Ok((
        v,
        format!(
            "{} ({stat} {} → {})",
            Unit::Percent.show(v),
            Unit::Duration.show(before),
            Unit::Duration.show(after)
        ),
    ))
}

fn servers(sel: ServerSel) -> Vec<(&'static str, bool)> {
    match sel {
        ServerSel::Primary => vec![("primary", false)],
        ServerSel::Replica => vec![("replica", true)],
        ServerSel::Both => vec![("primary", false), ("replica", true)],
    }
}

fn cache_hit(metric: &str, r: &RunResult, replica: bool, name: &str) -> Measure {
    if let Some(why) = no_samples(r) {
        return Err(why);
    }
    let total = window::server_samples(r).count();
    let v = window::cache_hit_pct(r, replica);
    if v.is_empty() {
        if replica && window::server_samples(r).all(|s| s.replica.is_none()) {
            return Err("the samples have no replica".into());
        }
        return Err(format!(
            "none of the {total} samples of the {name} has a cache hit ratio (null: no block was read in the sampled database that second)"
        ));
    }
    let (value, how) = if metric.ends_with(".min") {
        (v.iter().copied().fold(f64::INFINITY, f64::min), "worst")
    } else {
        (v.iter().sum::<f64>() / v.len() as f64, "mean")
    };
    Ok((
        value,
        format!(
            "{} ({how} of {} of {total} samples)",
            Unit::Percent.show(value),
            v.len()
        ),
    ))
}

fn replication(metric: &str, r: &RunResult) -> Measure {
    if let Some(why) = no_samples(r) {
        return Err(why);
    }
    let bytes = metric.starts_with("replication_lag_bytes");
    let total = window::server_samples(r).count();
    let v = window::replay_lag(r, bytes);
    if v.is_empty() {
        return Err(format!(
            "none of the {total} samples has a replay lag (no standby in pg_stat_replication, or its lag was unknown)"
        ));
    }
    let stat = metric.rsplit('.').next().unwrap_or("max");
    let value = match stat {
        "p50" => percentile(&v, 50.0),
        "p99" => percentile(&v, 99.0),
        "mean" => v.iter().sum::<f64>() / v.len() as f64,
        _ => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };
    let unit = if bytes { Unit::Bytes } else { Unit::Duration };
    Ok((
        value,
        format!(
            "{} ({stat} of {} of {total} samples)",
            unit.show(value),
            v.len()
        ),
    ))
}

fn balance(state: &str, r: &RunResult) -> Measure {
    if let Some(why) = no_samples(r) {
        return Err(why);
    }
    let counts = |st: &ServerStats| -> Option<f64> {
        if st.connections.is_empty() && !st.errors.is_empty() {
            return None; // the query failed that second
        }
        Some(
            st.connections
                .iter()
                .filter(|c| match state {
                    "all" => true,
                    "busy" => c.state != "idle",
                    s => c.state == s,
                })
                .map(|c| c.count as f64)
                .sum(),
        )
    };
    let mean = |replica: bool| -> Option<(f64, usize)> {
        let v: Vec<f64> = window::server_samples(r)
            .filter_map(|s| stats(s, replica).and_then(counts))
            .collect();
        (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64, v.len()))
    };
    let (p, np) = mean(false).ok_or("no sample of the primary's connections")?;
    let (q, nq) = mean(true).ok_or("no sample of the replica's connections (no replica?)")?;
    let (hi, lo) = (p.max(q), p.min(q));
    let ratio = if hi == 0.0 {
        1.0
    } else if lo == 0.0 {
        f64::INFINITY
    } else {
        hi / lo
    };
    let which = if state == "all" {
        String::new()
    } else {
        format!(" {state}")
    };
    Ok((
        ratio,
        format!(
            "{} (mean{which} connections: primary {p:.1} over {np} samples, replica {q:.1} over {nq})",
            Unit::Ratio.show(ratio)
        ),
    ))
}

fn checkpoints(metric: &str, r: &RunResult) -> Measure {
    if let Some(why) = no_samples(r) {
        return Err(why);
    }
    let requested = metric.ends_with("requested");
    let v = window::checkpoint_deltas(r, requested);
    if v.is_empty() {
        return Err("no sample has the primary's checkpoint counters".into());
    }
    let n: i64 = v.iter().sum();
    Ok((n as f64, format!("{n} ({} samples)", v.len())))
}

fn spike_subjects(sel: &OpSel, r: &RunResult) -> Vec<(Option<String>, Option<String>)> {
    match sel {
        OpSel::Total => vec![(None, None)],
        OpSel::Each => r
            .summary
            .ops
            .iter()
            .map(|o| (Some(o.op.clone()), Some(o.op.clone())))
            .collect(),
        OpSel::Named(n) => vec![(Some(n.clone()), Some(n.clone()))],
    }
}

/// Runs of seconds whose p99 (of one kind, or the worst kind's for all)
/// exceeds factor × the median second's, lasting at least min_duration.
fn spike(c: &Criterion, r: &RunResult, op: Option<&str>) -> Measure {
    let p = c.spike.as_ref().expect("spike criteria have parameters");
    if let Some(n) = op {
        if !r.summary.ops.iter().any(|o| o.op == n) {
            return Err(not_in_mix(n, r));
        }
    }
    let per_second: Vec<(u64, f64)> = r
        .series
        .iter()
        .filter_map(|row| {
            row.ops
                .iter()
                .filter(|o| o.count > 0 && op.is_none_or(|n| o.op == n))
                .map(|o| ms(o.p99))
                .reduce(f64::max)
                .map(|v| (row.t, v))
        })
        .collect();
    if per_second.len() < 2 {
        return Err(format!(
            "the series has {} second(s) with finished operations; spikes need at least 2",
            per_second.len()
        ));
    }
    let values: Vec<f64> = per_second.iter().map(|(_, v)| *v).collect();
    let median = percentile(&values, 50.0);
    let limit = median * p.factor;
    // Runs of consecutive spike seconds (a gap in t ends a run).
    let mut runs: Vec<(u64, u64, f64)> = Vec::new(); // start, length, peak
    for &(t, v) in &per_second {
        if v > limit {
            match runs.last_mut() {
                Some(run) if run.0 + run.1 == t => {
                    run.1 += 1;
                    run.2 = run.2.max(v);
                }
                _ => runs.push((t, 1, v)),
            }
        }
    }
    let counted: Vec<_> = runs.iter().filter(|r| r.1 >= p.min_seconds).collect();
    let peak = values.iter().copied().fold(0.0, f64::max);
    let mut text = format!(
        "{} (p99 per second: median {}, limit {}× = {}, peak {})",
        counted.len(),
        Unit::Duration.show(median),
        p.factor,
        Unit::Duration.show(limit),
        Unit::Duration.show(peak)
    );
    if let Some(longest) = counted.iter().max_by_key(|r| r.1) {
        text.push_str(&format!("; longest {} s from t={} s", longest.1, longest.0));
    }
    Ok((counted.len() as f64, text))
}

fn verification(metric: &str, r: &RunResult) -> Measure {
    let v = r
        .verification
        .as_ref()
        .ok_or("the result has no verification (null)")?;
    let n = if metric.ends_with("missing_events") {
        v.missing_events
    } else {
        v.violations
            .ok_or("the streams could not be replayed (verification.violations is null)")?
    };
    Ok((n as f64, n.to_string()))
}
