//! Operations finished per second, every run of every side overlaid; in
//! open loop the target rate as a dashed line, so falling behind shows.

use super::axis::{Axis, TickUnit};
use super::frame::{self, item, Mark, PlotError, MUTED, TIME_DESC, WIDTH};
use crate::report::runs::{measured_rows, window_s, PlotSide};
use plotters::prelude::*;

pub fn throughput(mode: &str, sides: &[PlotSide]) -> Result<String, PlotError> {
    let lines: Vec<Vec<Vec<(f64, f64)>>> = sides
        .iter()
        .map(|s| {
            s.runs
                .iter()
                .map(|r| {
                    measured_rows(r)
                        .into_iter()
                        .map(|(x, row)| (x, row.completed as f64))
                        .collect()
                })
                .collect()
        })
        .collect();
    let targets = target_rates(mode, sides);
    let top = lines
        .iter()
        .flatten()
        .flatten()
        .map(|p| p.1)
        .chain(targets.iter().copied())
        .fold(0.0, f64::max);
    let x = frame::time_axis(window_s(sides));
    let y = Axis::linear(0.0, top * 1.05, 6, TickUnit::Number);
    let mut legend = frame::side_entries(sides);
    for t in &targets {
        legend.push(item(
            Mark::Dashed(MUTED),
            format!("target {} ops/s", super::axis::number(*t, 1)),
        ));
    }
    let legend = [legend];
    let height = 430 + frame::legend_height(&legend, WIDTH);
    frame::svg(WIDTH, height, |root| {
        let body = frame::header(root, "Throughput per second", mode, &legend)?;
        let mut chart = frame::chart(
            &body,
            &x,
            &y,
            TIME_DESC,
            "operations finished per second (ops/s)",
        )?;
        for (s, runs) in sides.iter().zip(&lines) {
            for (i, pts) in runs.iter().enumerate() {
                frame::run_line(&mut chart, pts, frame::side_colour(s.colour), i)?;
            }
        }
        // The target on top, dashed, so runs right on it still show.
        for t in &targets {
            chart.draw_series(DashedLineSeries::new(
                [(x.lo, *t), (x.hi, *t)],
                8,
                6,
                MUTED.stroke_width(2),
            ))?;
        }
        if lines.iter().flatten().all(|l| l.is_empty()) {
            frame::no_data(&chart, "no second of the measured window was recorded")?;
        }
        Ok(())
    })
}

/// The distinct target rates of open-loop runs (closed loop has none).
fn target_rates(mode: &str, sides: &[PlotSide]) -> Vec<f64> {
    if mode != "open-loop" {
        return Vec::new();
    }
    let mut rates: Vec<f64> = sides
        .iter()
        .flat_map(|s| s.runs.iter().map(|r| r.metadata.rate))
        .filter(|r| r.is_finite() && *r > 0.0)
        .collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    rates
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{lines_in, run, svg_text};
    use super::*;

    fn sides<'a>(
        a: &'a [crate::bench::RunResult],
        b: &'a [crate::bench::RunResult],
    ) -> Vec<PlotSide<'a>> {
        vec![
            PlotSide {
                label: "stock".into(),
                colour: 0,
                runs: a.iter().collect(),
            },
            PlotSide {
                label: "tuned".into(),
                colour: 1,
                runs: b.iter().collect(),
            },
        ]
    }

    #[test]
    fn each_run_is_a_line_in_its_sides_colour() {
        let a = [run("stock", "open-loop", 10), run("stock", "open-loop", 10)];
        let b = [run("tuned", "open-loop", 10)];
        let svg = throughput("open-loop", &sides(&a, &b)).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(lines_in(&doc, "#0072B2"), 2);
        assert_eq!(lines_in(&doc, "#D55E00"), 1);
        let text = svg_text(&doc);
        for want in [
            "stock · 2 runs",
            "tuned · 1 run",
            "target 50 ops/s",
            "(ops/s)",
            "(s)",
        ] {
            assert!(text.contains(want), "{want} missing from {text}");
        }
    }

    #[test]
    fn closed_loop_has_no_target_and_empty_runs_say_so() {
        let mut a = [run("stock", "closed-loop", 10)];
        a[0].series.clear();
        let svg = throughput("closed-loop", &sides(&a, &[])).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let text = svg_text(&doc);
        assert!(!text.contains("target"));
        assert!(text.contains("no second of the measured window"));
    }

    #[test]
    fn a_single_second_is_a_dot() {
        let a = [run("stock", "open-loop", 1)];
        let svg = throughput("open-loop", &sides(&a, &[])).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let dots = super::super::testdata::svg_elements(&doc, "circle");
        assert!(dots.iter().any(|c| c.attribute("fill") == Some("#0072B2")));
    }
}
