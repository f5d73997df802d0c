//! The latency percentile spectrum of each run (p50 … p99.99, from the
//! intended start): x is log10(1 / (1 − p)), so each step right is ten
//! times rarer, and latency is on a log axis, so the tail is as readable
//! as the median.

use super::axis::{Axis, TickUnit};
use super::frame::{self, PlotError, WIDTH};
use crate::bench::RunResult;
use crate::report::runs::PlotSide;
use plotters::prelude::*;

const FIRST: f64 = 50.0;
const LAST: f64 = 99.99;

/// Where percentile `p` (0..100) sits on the x axis.
fn position(p: f64) -> f64 {
    -(1.0 - p / 100.0).log10()
}

/// "p99.9" for the position of the 99.9th percentile.
pub fn percentile_label(c: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-c));
    format!("p{}", super::axis::number(p, 3))
}

/// The run's spectrum points in range, latency in ms.
fn points(run: &RunResult) -> Vec<(f64, f64)> {
    run.summary
        .total
        .latency_us
        .intended
        .spectrum
        .iter()
        .filter(|p| p.percentile >= FIRST - 1e-9 && p.percentile <= LAST + 1e-9 && p.us > 0)
        .map(|p| (position(p.percentile), p.us as f64 / 1000.0))
        .collect()
}

fn x_axis() -> Axis {
    let at = |ps: &[f64]| ps.iter().map(|p| position(*p)).collect::<Vec<f64>>();
    Axis::fixed(
        position(FIRST) - 0.1,
        position(LAST) + 0.1,
        at(&[50.0, 90.0, 99.0, 99.9, 99.99]),
        at(&[75.0, 95.0, 99.5, 99.95]),
        TickUnit::Percentile,
    )
}

pub fn spectrum(mode: &str, sides: &[PlotSide]) -> Result<String, PlotError> {
    let lines: Vec<Vec<Vec<(f64, f64)>>> = sides
        .iter()
        .map(|s| s.runs.iter().map(|r| points(r)).collect())
        .collect();
    let values: Vec<f64> = lines.iter().flatten().flatten().map(|p| p.1).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let (x, y) = (x_axis(), Axis::log(lo, hi, TickUnit::Millis));
    let legend = [frame::side_entries(sides)];
    let height = 430 + frame::legend_height(&legend, WIDTH);
    frame::svg(WIDTH, height, |root| {
        let body = frame::header(root, "Latency percentile spectrum", mode, &legend)?;
        let mut chart = frame::chart(
            &body,
            &x,
            &y,
            "percentile of operations (each step right: ten times rarer)",
            "latency from intended start (log scale)",
        )?;
        for (s, runs) in sides.iter().zip(&lines) {
            let colour = frame::side_colour(s.colour);
            for (i, pts) in runs.iter().enumerate() {
                let pts: Vec<(f64, f64)> = pts
                    .iter()
                    .filter_map(|(px, v)| Some((*px, y.to_coord(*v)?)))
                    .collect();
                frame::run_line(&mut chart, &pts, colour, i)?;
                let dot = colour.mix(frame::repeat_alpha(i)).filled();
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, dot)))?;
            }
        }
        if values.is_empty() {
            frame::no_data(&chart, "no latency spectrum in these results")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{lines_in, run, side, svg_text};
    use super::*;

    #[test]
    fn positions_and_labels_round_trip() {
        for (p, want) in [
            (50.0, "p50"),
            (90.0, "p90"),
            (99.9, "p99.9"),
            (99.99, "p99.99"),
        ] {
            assert_eq!(percentile_label(position(p)), want);
        }
        assert!((position(99.0) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn each_run_is_a_line_through_its_percentiles() {
        let a = run("stock", "open-loop", 3);
        let (b1, b2) = (run("tuned", "open-loop", 3), run("tuned", "open-loop", 3));
        assert_eq!(points(&a).len(), 9); // 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99
        let sides = vec![side("stock", 0, vec![&a]), side("tuned", 1, vec![&b1, &b2])];
        let svg = spectrum("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(lines_in(&doc, "#0072B2"), 1);
        assert_eq!(lines_in(&doc, "#D55E00"), 2);
        let text = svg_text(&doc);
        for want in [
            "p50",
            "p99.99",
            "stock · 1 run",
            "tuned · 2 runs",
            " ms",
            "log scale",
        ] {
            assert!(text.contains(want), "{want} missing from {text}");
        }
    }

    #[test]
    fn an_empty_spectrum_says_so() {
        let mut a = run("stock", "open-loop", 3);
        a.summary.total.latency_us.intended.spectrum.clear();
        let sides = vec![side("stock", 0, vec![&a])];
        let svg = spectrum("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(svg_text(&doc).contains("no latency spectrum"));
    }
}
