//! Whether latency grows as a run goes on (the store grows with every
//! append): a line through each minute's p99, least squares. A minute's
//! p99 is the median of its seconds' p99s, which a slow second cannot
//! move much, so one checkpoint does not make a trend.

use super::metric::Unit;
use crate::bench::RunResult;

/// Seconds a minute needs to count: most of it.
const FULL_MINUTE: usize = 45;

/// The slope in ms per minute, for one kind or (None) the worst kind of
/// each second, with what it was computed from.
pub fn p99_trend(r: &RunResult, op: Option<&str>) -> Result<(f64, String), String> {
    if let Some(n) = op {
        if !r.summary.ops.iter().any(|o| o.op == n) {
            return Err(format!("no {n} operations in this result"));
        }
    }
    let from = r.metadata.warmup_s.max(0.0) as u64;
    let mut minutes: Vec<Vec<f64>> = Vec::new();
    for row in crate::window::seconds(r) {
        let p99 = match op {
            Some(n) => row
                .ops
                .iter()
                .find(|o| o.op == n && o.count > 0)
                .map(|o| o.p99),
            None => (row.completed > 0).then_some(row.p99),
        };
        let Some(us) = p99 else { continue };
        let m = ((row.t.saturating_sub(from)) / 60) as usize;
        if minutes.len() <= m {
            minutes.resize(m + 1, Vec::new());
        }
        minutes[m].push(us as f64 / 1000.0);
    }
    let points: Vec<(f64, f64)> = minutes
        .iter_mut()
        .enumerate()
        .filter(|(_, s)| s.len() >= FULL_MINUTE)
        .map(|(i, s)| (i as f64, median(s)))
        .collect();
    if points.len() < 2 {
        return Err(format!(
            "the series has {} minute(s) with at least {FULL_MINUTE} seconds of finished operations; a trend needs 2 (run for longer)",
            points.len()
        ));
    }
    let slope = least_squares_slope(&points);
    let (first, last) = (points[0].1, points[points.len() - 1].1);
    Ok((
        slope,
        format!(
            "{} per minute over {} minutes (minute p99 {} first, {} last)",
            Unit::Duration.show(slope),
            points.len(),
            Unit::Duration.show(first),
            Unit::Duration.show(last)
        ),
    ))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Slope of the least-squares line through the points (at least two with
/// distinct x).
fn least_squares_slope(p: &[(f64, f64)]) -> f64 {
    let n = p.len() as f64;
    let mx = p.iter().map(|(x, _)| x).sum::<f64>() / n;
    let my = p.iter().map(|(_, y)| y).sum::<f64>() / n;
    let sxy: f64 = p.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = p.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    sxy / sxx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{SecondOp, SecondRow};

    fn run(p99_ms: impl Fn(u64) -> u64, seconds: u64) -> RunResult {
        let fixture = include_str!("../../tests/fixtures/check/after.json");
        let mut r = crate::check::parse_result("after.json", fixture).unwrap();
        r.metadata.warmup_s = 10.0;
        r.series = (10..10 + seconds)
            .map(|t| SecondRow {
                t,
                completed: 5,
                p99: p99_ms(t - 10) * 1000,
                ops: vec![SecondOp {
                    op: "LendBookCopyToReader".into(),
                    count: 5,
                    p99: 2 * p99_ms(t - 10) * 1000,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        r
    }

    #[test]
    fn slopes_by_hand() {
        // Flat: 20 ms every second for 3 minutes.
        let (s, _) = p99_trend(&run(|_| 20, 180), None).unwrap();
        assert_eq!(s, 0.0);
        // Minute medians 10, 20, 30 ms: 10 ms per minute; the lend kind
        // runs at twice that.
        let rising = run(|t| 10 + 10 * (t / 60), 180);
        assert_eq!(p99_trend(&rising, None).unwrap().0, 10.0);
        assert_eq!(
            p99_trend(&rising, Some("LendBookCopyToReader")).unwrap().0,
            20.0
        );
        // One slow second a minute does not move a median.
        let spiky = run(|t| if t % 60 == 30 { 900 } else { 20 }, 180);
        assert_eq!(p99_trend(&spiky, None).unwrap().0, 0.0);
        // Medians 30, 10, 20: least squares gives -5 ms per minute.
        let wavy = run(|t| [30, 10, 20][(t / 60) as usize], 180);
        let (s, text) = p99_trend(&wavy, None).unwrap();
        assert_eq!(s, -5.0);
        assert!(
            text.contains("over 3 minutes") && text.contains("30 ms first"),
            "{text}"
        );
    }

    #[test]
    fn too_short_or_unknown_kinds_say_why() {
        let e = p99_trend(&run(|_| 20, 100), None).unwrap_err();
        assert!(e.contains("1 minute(s)") && e.contains("needs 2"), "{e}");
        // A last minute of 40 seconds does not count.
        assert!(p99_trend(&run(|_| 20, 160), None).is_ok());
        let e = p99_trend(&run(|_| 20, 180), Some("Nope")).unwrap_err();
        assert!(e.contains("no Nope operations"), "{e}");
    }
}
