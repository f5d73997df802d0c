//! Axes whose ticks estune chooses itself, so every plot has round numbers
//! with their unit: plotters' own log axis labels every power with the
//! same weight and prints raw floats. A log axis is drawn as a linear one
//! over log10 of the values; `to_coord` turns a value into its position.

/// What a tick value is, so its label can carry the unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TickUnit {
    /// A plain number with as many decimals as the step needs.
    Number,
    /// Milliseconds shown as "0.5 ms", "20 ms", "2 s".
    Millis,
    /// A percentage shown as "99.9 %".
    Percent,
    /// A percentile position (see `spectrum`): "p99.9".
    Percentile,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Range in coordinates (log10 of the value on a log axis).
    pub lo: f64,
    pub hi: f64,
    /// Labelled ticks and unlabelled grid lines, in coordinates.
    pub ticks: Vec<f64>,
    pub grid: Vec<f64>,
    pub log: bool,
    pub unit: TickUnit,
    /// Decimals a `Number`/`Percent` tick needs to tell ticks apart.
    decimals: usize,
}

/// A step of 1, 2 or 5 times a power of ten giving about `n` intervals.
fn nice_step(span: f64, n: usize) -> f64 {
    let raw = span / n.max(1) as f64;
    let pow = 10f64.powf(raw.log10().floor());
    let m = raw / pow;
    let k = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    k * pow
}

fn decimals_for(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil().clamp(0.0, 6.0) as usize
    }
}

impl Axis {
    /// A linear axis from `lo` to at least `hi` (rounded up to a tick),
    /// with about `n` labelled ticks. A degenerate range gets some room.
    pub fn linear(lo: f64, hi: f64, n: usize, unit: TickUnit) -> Axis {
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let mut hi = if hi.is_finite() { hi } else { lo + 1.0 };
        if hi <= lo {
            hi = lo + if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        }
        let step = nice_step(hi - lo, n);
        let first = (lo / step).floor() * step;
        let last = (hi / step - 1e-9).ceil() * step;
        let count = ((last - first) / step).round() as usize;
        let ticks: Vec<f64> = (0..=count).map(|i| first + i as f64 * step).collect();
        Axis {
            lo: first,
            hi: last.max(first + step),
            grid: Vec::new(),
            ticks,
            log: false,
            unit,
            decimals: decimals_for(step),
        }
    }

    /// A log10 axis covering `lo..hi` (positive values; anything else is
    /// clamped to a tenth of `hi`), widened to whole 1-2-5 ticks. Grid
    /// lines at 1..9 times each power, labels at 1, 2, 5 when the range
    /// spans at most three decades, else at powers of ten only.
    pub fn log(lo: f64, hi: f64, unit: TickUnit) -> Axis {
        let hi = if hi.is_finite() && hi > 0.0 { hi } else { 1.0 };
        let lo = if lo.is_finite() && lo > 0.0 && lo < hi {
            lo
        } else {
            hi / 10.0
        };
        let (p_lo, p_hi) = (lo.log10().floor() as i32, (hi.log10() - 1e-9).ceil() as i32);
        let p_hi = p_hi.max(p_lo + 1);
        let labelled: &[f64] = if p_hi - p_lo <= 3 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0]
        };
        let (mut ticks, mut grid) = (Vec::new(), Vec::new());
        for p in p_lo..=p_hi {
            for m in 1..=9 {
                let v = m as f64 * 10f64.powi(p);
                if p == p_hi && m > 1 {
                    break;
                }
                if labelled.contains(&(m as f64)) {
                    ticks.push(v.log10());
                } else {
                    grid.push(v.log10());
                }
            }
        }
        // Trim whole decades that hold no data at either end.
        let (c_lo, c_hi) = (nearest_below(lo, labelled), nearest_above(hi, labelled));
        ticks.retain(|t| *t >= c_lo - 1e-9 && *t <= c_hi + 1e-9);
        grid.retain(|t| *t > c_lo && *t < c_hi);
        let decimals = (-p_lo).max(0) as usize;
        Axis {
            lo: c_lo,
            hi: c_hi,
            ticks,
            grid,
            log: true,
            unit,
            decimals,
        }
    }

    /// A linear axis with ticks and grid lines chosen by the caller.
    pub fn fixed(lo: f64, hi: f64, ticks: Vec<f64>, grid: Vec<f64>, unit: TickUnit) -> Axis {
        Axis {
            lo,
            hi,
            ticks,
            grid,
            log: false,
            unit,
            decimals: 2,
        }
    }

    /// The position of a value on this axis; None for a value a log axis
    /// cannot show (zero or negative).
    pub fn to_coord(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        if self.log {
            (v > 0.0).then(|| v.log10().clamp(self.lo, self.hi))
        } else {
            Some(v)
        }
    }

    /// The label of a tick at coordinate `c`.
    pub fn label(&self, c: f64) -> String {
        let v = if self.log { 10f64.powf(c) } else { c };
        match self.unit {
            TickUnit::Millis => millis(v),
            TickUnit::Number => number(v, self.decimals),
            TickUnit::Percent => format!("{} %", number(v, self.decimals)),
            TickUnit::Percentile => super::spectrum::percentile_label(c),
        }
    }
}

/// log10 of the largest 1-2-5 tick (of those labelled) at or below `v`.
fn nearest_below(v: f64, labelled: &[f64]) -> f64 {
    let p = v.log10().floor();
    let m = v / 10f64.powf(p);
    let best = labelled
        .iter()
        .copied()
        .filter(|k| *k <= m * (1.0 + 1e-9))
        .fold(1.0, f64::max);
    (best * 10f64.powf(p)).log10()
}

/// log10 of the smallest labelled tick at or above `v`.
fn nearest_above(v: f64, labelled: &[f64]) -> f64 {
    let p = v.log10().floor();
    let m = v / 10f64.powf(p);
    match labelled.iter().copied().find(|k| *k >= m * (1.0 - 1e-9)) {
        Some(k) => (k * 10f64.powf(p)).log10(),
        None => p + 1.0,
    }
}

/// A number with `decimals` decimals, trailing zeros dropped.
pub fn number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Milliseconds for a tick: "0.5 ms", "20 ms", "1.5 s".
pub fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", number(ms / 1000.0, 1))
    } else if ms >= 1.0 {
        format!("{} ms", number(ms, 1))
    } else {
        format!("{} ms", number(ms, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_cover_the_data() {
        for (lo, hi, want) in [
            (0.0, 10.0, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
            (0.0, 97.0, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
            (0.0, 0.0, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
            (99.2, 100.0, vec![99.2, 99.4, 99.6, 99.8, 100.0]),
        ] {
            let a = Axis::linear(lo, hi, 5, TickUnit::Number);
            let got: Vec<f64> = a
                .ticks
                .iter()
                .map(|t| (t * 1000.0).round() / 1000.0)
                .collect();
            assert_eq!(got, want, "{lo}..{hi}");
            assert!(a.lo <= lo && a.hi >= hi);
        }
    }

    #[test]
    fn linear_axis_survives_nonsense() {
        let a = Axis::linear(f64::NAN, f64::INFINITY, 5, TickUnit::Number);
        assert!(a.lo < a.hi && !a.ticks.is_empty());
    }

    #[test]
    fn log_ticks_use_one_two_five_over_few_decades() {
        let a = Axis::log(3.0, 45.0, TickUnit::Millis);
        let labels: Vec<String> = a.ticks.iter().map(|t| a.label(*t)).collect();
        assert_eq!(labels, ["2 ms", "5 ms", "10 ms", "20 ms", "50 ms"]);
        assert!(a.to_coord(3.0).unwrap() > a.lo && a.to_coord(45.0).unwrap() < a.hi);
        assert_eq!(a.to_coord(0.0), None);
    }

    #[test]
    fn log_ticks_are_powers_of_ten_over_many_decades() {
        let a = Axis::log(0.2, 60_000.0, TickUnit::Millis);
        let labels: Vec<String> = a.ticks.iter().map(|t| a.label(*t)).collect();
        assert_eq!(
            labels,
            ["0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s", "100 s"]
        );
        assert!(!a.grid.is_empty());
    }

    #[test]
    fn log_axis_of_a_single_value_has_room() {
        let a = Axis::log(7.0, 7.0, TickUnit::Millis);
        assert!(a.lo < a.to_coord(7.0).unwrap() || a.hi > a.to_coord(7.0).unwrap());
        assert!(a.lo < a.hi);
    }

    #[test]
    fn tick_labels_carry_units() {
        assert_eq!(millis(0.5), "0.5 ms");
        assert_eq!(millis(250.0), "250 ms");
        assert_eq!(millis(1500.0), "1.5 s");
        let a = Axis::linear(99.0, 100.0, 5, TickUnit::Percent);
        assert_eq!(a.label(99.5), "99.5 %");
        assert_eq!(number(-0.0001, 2), "0");
    }
}
