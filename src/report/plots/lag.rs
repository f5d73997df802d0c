//! Replication lag over time, two panels: `replay_lag` in milliseconds
//! (0 when the standby had nothing to replay; PostgreSQL gives no time
//! for some seconds, and the line has a gap there) and the WAL not yet
//! replayed in bytes. With several standbys, the worst each second.

use super::axis::{Axis, TickUnit};
use super::frame::{self, PlotError, TIME_DESC, WIDTH};
use crate::bench::{RunResult, ServerSample};
use crate::report::runs::{measured_samples, window_s, PlotSide};

/// Runs of consecutive known values, so an unknown second breaks the line
/// rather than being drawn as zero.
fn segments(run: &RunResult, value: impl Fn(&ServerSample) -> Option<f64>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut last_x = f64::NEG_INFINITY;
    for (x, s) in measured_samples(run) {
        match value(s).filter(|v| v.is_finite()) {
            Some(v) => {
                if x - last_x > 1.5 || out.is_empty() {
                    out.push(Vec::new());
                }
                out.last_mut().expect("pushed above").push((x, v));
                last_x = x;
            }
            None => last_x = f64::NEG_INFINITY,
        }
    }
    out
}

fn worst(s: &ServerSample, f: impl Fn(&crate::bench::ReplicaLag) -> Option<f64>) -> Option<f64> {
    s.replication.iter().filter_map(f).reduce(f64::max)
}

/// As `crate::window::replay_lag` reads it: a standby with nothing to
/// replay reports no replay_lag and 0 bytes behind, which is lag 0.
fn lag_ms(s: &ServerSample) -> Option<f64> {
    worst(s, |r| {
        r.replay_lag_ms
            .or((r.replay_lag_bytes == Some(0.0)).then_some(0.0))
    })
}

fn lag_bytes(s: &ServerSample) -> Option<f64> {
    worst(s, |r| r.replay_lag_bytes)
}

/// The binary unit that keeps the largest value under 1024 of it.
fn byte_unit(max: f64) -> (f64, &'static str) {
    [
        (1.0, "bytes"),
        (1024.0, "KiB"),
        (1048576.0, "MiB"),
        (1073741824.0, "GiB"),
    ]
    .into_iter()
    .take_while(|(d, _)| max >= *d)
    .last()
    .unwrap_or((1.0, "bytes"))
}

type Lines = Vec<Vec<Vec<Vec<(f64, f64)>>>>;

fn lines(sides: &[PlotSide], value: fn(&ServerSample) -> Option<f64>) -> Lines {
    sides
        .iter()
        .map(|s| s.runs.iter().map(|r| segments(r, value)).collect())
        .collect()
}

fn top(lines: &Lines) -> f64 {
    lines
        .iter()
        .flatten()
        .flatten()
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max)
}

pub fn replication_lag(mode: &str, sides: &[PlotSide]) -> Result<String, PlotError> {
    let (ms, bytes) = (lines(sides, lag_ms), lines(sides, lag_bytes));
    let (div, unit) = byte_unit(top(&bytes));
    let x = frame::time_axis(window_s(sides));
    let y_ms = Axis::linear(0.0, top(&ms) * 1.05, 4, TickUnit::Millis);
    let y_b = Axis::linear(0.0, top(&bytes) / div * 1.05, 4, TickUnit::Number);
    let no_standby = sides.iter().flat_map(|s| &s.runs).all(|r| {
        measured_samples(r)
            .iter()
            .all(|(_, s)| s.replication.is_empty())
    });
    let legend = [frame::side_entries(sides)];
    let height = 590 + frame::legend_height(&legend, WIDTH);
    frame::svg(WIDTH, height, |root| {
        let body = frame::header(root, "Replication lag", mode, &legend)?;
        let h = body.dim_in_pixel().1;
        let (upper, lower) = body.split_vertically(h / 2);
        // Room between the upper panel's tick labels and the lower one.
        let lower = lower.margin(16, 0, 0, 0);
        let panels = [
            (&upper, &ms, &y_ms, "", "replay_lag (time)".to_string(), 1.0),
            (
                &lower,
                &bytes,
                &y_b,
                TIME_DESC,
                format!("WAL not replayed ({unit})"),
                div,
            ),
        ];
        for (area, data, y, x_desc, y_desc, div) in panels {
            let mut chart = frame::chart_aligned(area, &x, y, x_desc, &y_desc, &[&y_ms, &y_b])?;
            for (s, runs) in sides.iter().zip(data) {
                for (i, segs) in runs.iter().enumerate() {
                    for seg in segs {
                        let pts: Vec<(f64, f64)> = seg.iter().map(|(x, v)| (*x, v / div)).collect();
                        frame::run_line(&mut chart, &pts, frame::side_colour(s.colour), i)?;
                    }
                }
            }
            if no_standby {
                frame::no_data(
                    &chart,
                    "no standby in pg_stat_replication during these runs",
                )?;
            } else if data.iter().flatten().flatten().all(|s| s.is_empty()) {
                frame::no_data(&chart, "PostgreSQL reported no replay lag for these runs")?;
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
    fn unknown_seconds_break_the_line() {
        let mut r = run("a", "open-loop", 6);
        r.server_samples[3].replication[0].replay_lag_ms = None;
        let segs = segments(&r, lag_ms);
        let lens: Vec<usize> = segs.iter().map(|s| s.len()).collect();
        assert_eq!(lens, [3, 3]); // samples 0-2 (the first at the warm-up's end), 4-6
        assert_eq!(segments(&r, lag_bytes).len(), 1);
    }

    #[test]
    fn bytes_get_a_readable_unit() {
        assert_eq!(byte_unit(0.0), (1.0, "bytes"));
        assert_eq!(byte_unit(2048.0).1, "KiB");
        assert_eq!(byte_unit(5e6).1, "MiB");
    }

    #[test]
    fn both_panels_draw_each_run() {
        let (a, b) = (run("stock", "open-loop", 5), run("tuned", "open-loop", 5));
        let sides = two_sides(&a, &b);
        let svg = replication_lag("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(lines_in(&doc, "#0072B2"), 2);
        assert_eq!(lines_in(&doc, "#D55E00"), 2);
        let text = svg_text(&doc);
        for want in [
            "stock · 1 run",
            "tuned · 1 run",
            "WAL not replayed (KiB)",
            "1.5 ms",
        ] {
            assert!(text.contains(want), "{want} missing from {text}");
        }
    }

    #[test]
    fn a_run_without_replica_says_so() {
        let mut a = run("stock", "open-loop", 3);
        for s in &mut a.server_samples {
            s.replication.clear();
            s.replica = None;
        }
        let sides = vec![side("stock", 0, vec![&a])];
        let svg = replication_lag("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(svg_text(&doc).contains("no standby"));
    }
}
