//! The one collector of measurements. Workers send small plain records
//! through one channel and never touch a histogram, so measuring costs the
//! hot path one channel send (goose's and oha's design). Memory stays
//! bounded however long the run: a histogram per op kind and one row per
//! second, whose own histograms are folded into figures once the second is
//! old enough that few records can still arrive for it.

use super::options::LATE_TOLERANCE;
use super::result::{
    ErrorCounts, Latencies, LatencyStats, OpSummary, PercentileValue, SecondOp, SecondRow, SPECTRUM,
};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

const MAX_US: u64 = 60_000_000;
/// A second's histograms are folded after this many wall seconds; records
/// arriving later still count, and raise its max, but not its percentiles.
const FOLD_AFTER_S: u64 = 10;
/// Distinct error classes kept by name; past it they count as "other"
/// only, so a worker reporting free text cannot grow memory without bound.
const MAX_CLASSES: usize = 64;

/// How an operation ended, without the payload the report does not need.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Ok,
    Rejected,
    Conflict,
    Timeout,
    Error(String),
}

impl From<&super::Outcome> for Kind {
    fn from(o: &super::Outcome) -> Kind {
        use super::Outcome as O;
        match o {
            O::Ok { .. } => Kind::Ok,
            O::Rejected { .. } => Kind::Rejected,
            O::Conflict { .. } => Kind::Conflict,
            O::Timeout => Kind::Timeout,
            O::Error { class, .. } => Kind::Error(class.clone()),
        }
    }
}

/// Times are offsets from the run's start.
#[derive(Debug, Clone)]
pub(crate) struct OpRecord {
    pub op: usize,
    pub intended: Duration,
    pub start: Duration,
    pub end: Duration,
    pub kind: Kind,
    /// Events the outcome acknowledged as committed.
    pub appended: u64,
}

pub(crate) enum Event {
    Done(OpRecord),
    Dropped { op: usize, intended: Duration },
    Replaced,
}

/// What the progress bar shows, once a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub mode: String,
    pub elapsed_s: u64,
    pub total_s: u64,
    pub in_warmup: bool,
    /// Operations finished per second since the previous snapshot.
    pub rate: f64,
    /// p99 from intended start over the last wall-clock second, µs.
    pub p99_us: u64,
    pub completed: u64,
    pub errors: u64,
    pub dropped: u64,
    pub late: u64,
    pub in_flight: u64,
}

fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, sigfig).expect("valid histogram bounds")
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_US)
}

#[derive(Debug, Clone, Default)]
struct Counts {
    count: u64,
    ok: u64,
    rejections: u64,
    conflicts: u64,
    dropped: u64,
    late: u64,
    errors: ErrorCounts,
}

impl Counts {
    fn add_kind(&mut self, kind: &Kind, late: bool) {
        self.count += 1;
        self.late += late as u64;
        match kind {
            Kind::Ok => self.ok += 1,
            Kind::Rejected => self.rejections += 1,
            Kind::Conflict => self.conflicts += 1,
            Kind::Timeout => {
                self.errors.total += 1;
                self.errors.timeout += 1;
            }
            Kind::Error(class) => {
                self.errors.total += 1;
                if is_connection_class(class) {
                    self.errors.connection += 1;
                } else {
                    self.errors.other += 1;
                }
                let known = self.errors.by_class.contains_key(class);
                if known || self.errors.by_class.len() < MAX_CLASSES {
                    *self.errors.by_class.entry(class.clone()).or_default() += 1;
                }
            }
        }
    }

    fn merge(&mut self, o: &Counts) {
        self.count += o.count;
        self.ok += o.ok;
        self.rejections += o.rejections;
        self.conflicts += o.conflicts;
        self.dropped += o.dropped;
        self.late += o.late;
        self.errors.total += o.errors.total;
        self.errors.timeout += o.errors.timeout;
        self.errors.connection += o.errors.connection;
        self.errors.other += o.errors.other;
        for (k, v) in &o.errors.by_class {
            *self.errors.by_class.entry(k.clone()).or_default() += v;
        }
    }
}

/// SQLSTATE class 08 (connection exception) and the 57P0x shutdowns mean
/// the server or the link went away, not that the statement was wrong.
fn is_connection_class(class: &str) -> bool {
    class == "connection" || class.starts_with("08") || class.starts_with("57P0")
}

struct OpAcc {
    counts: Counts,
    intended: Histogram<u64>,
    service: Histogram<u64>,
}

struct RowAcc {
    counts: Counts,
    in_flight: u64,
    queued: u64,
    /// Per op kind, then all kinds together, until folded; then None and
    /// `folded` / `all` hold the figures.
    hists: Option<Vec<Histogram<u64>>>,
    folded: Vec<SecondOp>,
    all: SecondOp,
}

pub(crate) struct Aggregator {
    names: Vec<String>,
    mode: String,
    warmup: Duration,
    total: Duration,
    ops: Vec<OpAcc>,
    rows: BTreeMap<u64, RowAcc>,
    replaced: u64,
    /// Acknowledged events of every operation, warm-up included: what the
    /// events table must have gained.
    acknowledged: u64,
    window: Histogram<u64>,
    window_count: u64,
    last_tick: Duration,
}

impl Aggregator {
    pub fn new(names: Vec<String>, mode: &str, warmup: Duration, total: Duration) -> Self {
        let ops = names
            .iter()
            .map(|_| OpAcc {
                counts: Counts::default(),
                intended: histogram(3),
                service: histogram(3),
            })
            .collect();
        Aggregator {
            names,
            mode: mode.to_string(),
            warmup,
            total,
            ops,
            rows: BTreeMap::new(),
            replaced: 0,
            acknowledged: 0,
            window: histogram(2),
            window_count: 0,
            last_tick: Duration::ZERO,
        }
    }

    fn row(&mut self, t: u64) -> &mut RowAcc {
        let n = self.names.len();
        self.rows.entry(t).or_insert_with(|| RowAcc {
            counts: Counts::default(),
            in_flight: 0,
            queued: 0,
            hists: Some((0..=n).map(|_| histogram(2)).collect()),
            folded: Vec::new(),
            all: SecondOp::default(),
        })
    }

    pub fn handle(&mut self, ev: Event) {
        match ev {
            Event::Replaced => self.replaced += 1,
            Event::Dropped { op, intended } => {
                if intended < self.warmup {
                    return;
                }
                self.ops[op].counts.dropped += 1;
                self.row(intended.as_secs()).counts.dropped += 1;
            }
            Event::Done(r) => self.record(r),
        }
    }

    pub fn acknowledged_events(&self) -> u64 {
        self.acknowledged
    }

    fn record(&mut self, r: OpRecord) {
        self.acknowledged += r.appended;
        let from_intended = us(r.end.saturating_sub(r.intended));
        self.window.saturating_record(from_intended);
        self.window_count += 1;
        if r.intended < self.warmup {
            return;
        }
        let late = r.start.saturating_sub(r.intended) > LATE_TOLERANCE;
        let acc = &mut self.ops[r.op];
        acc.counts.add_kind(&r.kind, late);
        acc.intended.saturating_record(from_intended);
        acc.service
            .saturating_record(us(r.end.saturating_sub(r.start)));
        let row = self.row(r.intended.as_secs());
        row.counts.add_kind(&r.kind, late);
        match &mut row.hists {
            Some(h) => {
                h[r.op].saturating_record(from_intended);
                if let Some(all) = h.last_mut() {
                    all.saturating_record(from_intended);
                }
            }
            None => {
                for f in row.folded.get_mut(r.op).into_iter().chain([&mut row.all]) {
                    f.count += 1;
                    f.max = f.max.max(from_intended);
                }
            }
        }
    }

    /// Once a wall-clock second: gauges into that second's row, old rows
    /// folded, and the figures for the progress bar.
    pub fn tick(&mut self, elapsed: Duration, in_flight: u64, queued: u64) -> Progress {
        let t = elapsed.as_secs().saturating_sub(1);
        // Only seconds that overlap the measured window get a row.
        if Duration::from_secs(t + 1) > self.warmup && Duration::from_secs(t) < self.total {
            let row = self.row(t);
            row.in_flight = row.in_flight.max(in_flight);
            row.queued = row.queued.max(queued);
        }
        let old: Vec<u64> = self
            .rows
            .range(..elapsed.as_secs().saturating_sub(FOLD_AFTER_S))
            .filter(|(_, r)| r.hists.is_some())
            .map(|(t, _)| *t)
            .collect();
        for t in old {
            self.fold(t);
        }
        let totals = self.totals();
        // Per the time actually elapsed: a tick can come late under load.
        let window_s = elapsed
            .saturating_sub(self.last_tick)
            .as_secs_f64()
            .max(0.001);
        self.last_tick = elapsed;
        let p = Progress {
            mode: self.mode.clone(),
            elapsed_s: elapsed.as_secs(),
            total_s: self.total.as_secs(),
            in_warmup: elapsed < self.warmup,
            rate: (self.window_count as f64 / window_s).round(),
            p99_us: self.window.value_at_quantile(0.99),
            completed: totals.count,
            errors: totals.errors.total,
            dropped: totals.dropped,
            late: totals.late,
            in_flight,
        };
        self.window.reset();
        self.window_count = 0;
        p
    }

    fn fold(&mut self, t: u64) {
        let names = &self.names;
        if let Some(row) = self.rows.get_mut(&t) {
            if let Some(h) = row.hists.take() {
                let figures = |name: &str, h: &Histogram<u64>| SecondOp {
                    op: name.to_string(),
                    count: h.len(),
                    p50: h.value_at_quantile(0.5),
                    p99: h.value_at_quantile(0.99),
                    max: h.max(),
                };
                row.folded = names.iter().zip(&h).map(|(n, h)| figures(n, h)).collect();
                row.all = figures("all", &h[names.len()]);
            }
        }
    }

    fn totals(&self) -> Counts {
        let mut c = Counts::default();
        for o in &self.ops {
            c.merge(&o.counts);
        }
        c
    }

    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Per-op summaries, then the total over all ops.
    pub fn summaries(&self, measured_s: f64) -> (Vec<OpSummary>, OpSummary) {
        let ops = self
            .names
            .iter()
            .zip(&self.ops)
            .map(|(n, a)| op_summary(n, &a.counts, &a.intended, &a.service, measured_s))
            .collect();
        let mut intended = histogram(3);
        let mut service = histogram(3);
        for a in &self.ops {
            intended.add(&a.intended).expect("same bounds");
            service.add(&a.service).expect("same bounds");
        }
        let total = op_summary("all", &self.totals(), &intended, &service, measured_s);
        (ops, total)
    }

    pub fn into_series(mut self) -> Vec<SecondRow> {
        let ts: Vec<u64> = self.rows.keys().copied().collect();
        for t in ts {
            self.fold(t);
        }
        self.rows
            .into_iter()
            .map(|(t, r)| SecondRow {
                t,
                completed: r.counts.count,
                dropped: r.counts.dropped,
                late: r.counts.late,
                rejections: r.counts.rejections,
                conflicts: r.counts.conflicts,
                errors: r.counts.errors,
                in_flight: r.in_flight,
                queued: r.queued,
                p50: r.all.p50,
                p99: r.all.p99,
                max: r.all.max,
                ops: r.folded,
            })
            .collect()
    }
}

fn stats(h: &Histogram<u64>) -> LatencyStats {
    if h.is_empty() {
        return LatencyStats::default();
    }
    LatencyStats {
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        mean: (h.mean() * 10.0).round() / 10.0,
        spectrum: SPECTRUM
            .iter()
            .map(|&p| PercentileValue {
                percentile: p,
                us: h.value_at_quantile(p / 100.0),
            })
            .collect(),
    }
}

fn op_summary(
    name: &str,
    c: &Counts,
    intended: &Histogram<u64>,
    service: &Histogram<u64>,
    measured_s: f64,
) -> OpSummary {
    // Three decimals are plenty for people and keep the JSON short.
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let pct = |n: u64| {
        if c.count == 0 {
            0.0
        } else {
            round(100.0 * n as f64 / c.count as f64)
        }
    };
    OpSummary {
        op: name.to_string(),
        count: c.count,
        ok: c.ok,
        achieved_rate: if measured_s > 0.0 {
            round(c.count as f64 / measured_s)
        } else {
            0.0
        },
        error_pct: pct(c.errors.total),
        errors: c.errors.clone(),
        rejections: c.rejections,
        conflicts: c.conflicts,
        dropped: c.dropped,
        late: c.late,
        latency_us: Latencies {
            intended: stats(intended),
            service: stats(service),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(op: usize, intended_ms: u64, start_ms: u64, end_ms: u64, kind: Kind) -> Event {
        let ms = Duration::from_millis;
        Event::Done(OpRecord {
            op,
            intended: ms(intended_ms),
            start: ms(start_ms),
            end: ms(end_ms),
            kind,
            appended: 0,
        })
    }

    #[test]
    fn warmup_records_are_discarded_and_kinds_counted() {
        let mut a = Aggregator::new(
            vec!["a".into(), "b".into()],
            "open-loop",
            Duration::from_secs(1),
            Duration::from_secs(3),
        );
        a.handle(rec(0, 500, 500, 510, Kind::Ok));
        a.handle(rec(0, 1_000, 1_000, 1_010, Kind::Ok));
        a.handle(rec(1, 1_100, 1_150, 1_160, Kind::Timeout));
        a.handle(rec(1, 2_100, 2_100, 2_101, Kind::Error("08006".into())));
        a.handle(rec(1, 2_200, 2_200, 2_201, Kind::Error("23505".into())));
        a.handle(rec(0, 2_300, 2_300, 2_301, Kind::Rejected));
        a.handle(Event::Dropped {
            op: 0,
            intended: Duration::from_millis(900),
        });
        a.handle(Event::Dropped {
            op: 0,
            intended: Duration::from_millis(2_900),
        });
        let (ops, total) = a.summaries(2.0);
        assert_eq!(total.count, 5);
        assert_eq!(total.dropped, 1);
        assert_eq!(total.late, 1);
        assert_eq!(total.errors.timeout, 1);
        assert_eq!(total.errors.connection, 1);
        assert_eq!(total.errors.other, 1);
        assert_eq!(total.errors.by_class["23505"], 1);
        assert_eq!(ops[0].rejections, 1);
        assert_eq!(total.achieved_rate, 2.5);
        assert_eq!(total.error_pct, 60.0);
        let series = a.into_series();
        assert_eq!(series.iter().map(|r| r.t).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(series[1].completed, 3);
        assert_eq!(series[1].dropped, 1);
        // All kinds together, to the histogram's 2 significant digits:
        // second 1 took 10 ms and 60 ms, second 2 took 1 ms three times.
        let near = |v: u64, want: u64| v.abs_diff(want) * 100 <= want;
        assert!(near(series[0].p50, 10_000) && near(series[0].max, 60_000));
        assert!(near(series[1].p50, 1_000) && near(series[1].max, 1_000));
        let spectrum = &total.latency_us.intended.spectrum;
        assert_eq!(spectrum.len(), SPECTRUM.len());
        assert_eq!(spectrum.last().unwrap().us, total.latency_us.intended.max);
        assert!(spectrum.windows(2).all(|w| w[0].us <= w[1].us));
    }
}
