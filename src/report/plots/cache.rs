//! Cache hit ratio over time, a panel per server: the share of block
//! reads of the event store's database found in shared buffers, each
//! second. The axis starts just below the lowest value, since the
//! interesting part is usually between 99 % and 100 %.

use super::axis::{Axis, TickUnit};
use super::frame::{self, PlotError, TIME_DESC, WIDTH};
use crate::bench::{RunResult, ServerStats};
use crate::report::runs::{measured_samples, window_s, PlotSide};

type Lines = Vec<Vec<Vec<(f64, f64)>>>;

/// A run's ratio in percent for one server; a second without a ratio (no
/// block read, the server away) is left out and the line joins across.
fn percent(
    run: &RunResult,
    server: fn(&crate::bench::ServerSample) -> Option<&ServerStats>,
) -> Vec<(f64, f64)> {
    measured_samples(run)
        .into_iter()
        .filter_map(|(x, s)| {
            let r = server(s)?.cache_hit_ratio?;
            r.is_finite().then_some((x, r * 100.0))
        })
        .collect()
}

fn primary(s: &crate::bench::ServerSample) -> Option<&ServerStats> {
    Some(&s.primary)
}

fn replica(s: &crate::bench::ServerSample) -> Option<&ServerStats> {
    s.replica.as_ref()
}

/// From a little below the lowest value to 100 %.
fn y_axis(lines: &[&Lines]) -> Axis {
    let low = lines
        .iter()
        .flat_map(|l| l.iter().flatten().flatten())
        .map(|p| p.1)
        .fold(100.0, f64::min)
        .max(0.0);
    let lo = if low >= 99.9 {
        99.5
    } else {
        low - (100.0 - low) * 0.1
    };
    Axis::linear(lo.max(0.0), 100.0, 5, TickUnit::Percent)
}

pub fn cache_hit(mode: &str, sides: &[PlotSide]) -> Result<String, PlotError> {
    let lines = |f| -> Lines {
        sides
            .iter()
            .map(|s| s.runs.iter().map(|r| percent(r, f)).collect())
            .collect()
    };
    let (p, r) = (lines(primary), lines(replica));
    let y = y_axis(&[&p, &r]);
    let x = frame::time_axis(window_s(sides));
    let legend = [frame::side_entries(sides)];
    let has_replica = sides
        .iter()
        .flat_map(|s| &s.runs)
        .any(|run| run.server_samples.iter().any(|s| s.replica.is_some()));
    let height = 590 + frame::legend_height(&legend, WIDTH);
    frame::svg(WIDTH, height, |root| {
        let body = frame::header(root, "Cache hit ratio per server", mode, &legend)?;
        let h = body.dim_in_pixel().1;
        let (upper, lower) = body.split_vertically(h / 2);
        // Room between the upper panel's tick labels and the lower one.
        let lower = lower.margin(16, 0, 0, 0);
        let panels = [
            (&upper, &p, "", "primary: cache hits", true),
            (&lower, &r, TIME_DESC, "replica: cache hits", has_replica),
        ];
        for (area, data, x_desc, y_desc, present) in panels {
            let mut chart = frame::chart(area, &x, &y, x_desc, y_desc)?;
            for (s, runs) in sides.iter().zip(data) {
                for (i, pts) in runs.iter().enumerate() {
                    frame::run_line(&mut chart, pts, frame::side_colour(s.colour), i)?;
                }
            }
            if !present {
                frame::no_data(&chart, "no replica in these runs")?;
            } else if data.iter().flatten().all(|l| l.is_empty()) {
                frame::no_data(&chart, "no block was read, or the server gave no figure")?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{lines_in, run, side, svg_text, two_sides};
    use super::*;

    #[test]
    fn axis_starts_just_below_the_lowest_value() {
        let full: Lines = vec![vec![vec![(0.5, 100.0)]]];
        let a = y_axis(&[&full]);
        assert!(a.lo >= 99.0 && a.lo < 100.0 && a.hi == 100.0);
        let dip: Lines = vec![vec![vec![(0.5, 90.0), (1.5, 100.0)]]];
        let a = y_axis(&[&dip]);
        assert!(a.lo < 90.0 && a.lo >= 85.0, "{a:?}");
        let empty: Lines = vec![];
        assert!(y_axis(&[&empty]).lo < 100.0);
    }

    #[test]
    fn a_panel_per_server_with_each_run() {
        let (a, b) = (
            run("stock", "closed-loop", 4),
            run("tuned", "closed-loop", 4),
        );
        let sides = two_sides(&a, &b);
        let svg = cache_hit("closed-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(lines_in(&doc, "#0072B2"), 2);
        assert_eq!(lines_in(&doc, "#D55E00"), 2);
        let text = svg_text(&doc);
        for want in [
            "primary: cache hits",
            "replica: cache hits",
            "100 %",
            "stock · 1 run",
        ] {
            assert!(text.contains(want), "{want} missing from {text}");
        }
    }

    #[test]
    fn null_ratios_and_no_replica() {
        let mut a = run("stock", "open-loop", 3);
        for s in &mut a.server_samples {
            s.primary.cache_hit_ratio = None;
            s.replica = None;
        }
        let sides = vec![side("stock", 0, vec![&a])];
        let svg = cache_hit("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let text = svg_text(&doc);
        assert!(text.contains("no replica in these runs"));
        assert!(text.contains("no block was read"));
    }
}
