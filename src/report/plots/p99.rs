//! p99 latency (from intended start) per second with the server events
//! that cause periodic spikes marked on each run's line: checkpoints of
//! the primary (requested or timed), autovacuum and autoanalyze of
//! `events`. The view the original team looked for on a dashboard.

use super::axis::{Axis, TickUnit};
use super::frame::{self, item, Glyph, Mark, PlotError, INK, TIME_DESC, WIDTH};
use crate::bench::RunResult;
use crate::report::runs::{measured_rows, measured_samples, window_s, PlotSide};
use plotters::prelude::*;

/// A server event the sampler saw finish in the second before a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    CheckpointRequested,
    CheckpointTimed,
    Autovacuum,
    Autoanalyze,
}

const KINDS: [(EventKind, Glyph, &str); 4] = [
    (
        EventKind::CheckpointRequested,
        Glyph::Triangle,
        "checkpoint requested",
    ),
    (
        EventKind::CheckpointTimed,
        Glyph::Square,
        "checkpoint timed",
    ),
    (EventKind::Autovacuum, Glyph::Cross, "autovacuum of events"),
    (EventKind::Autoanalyze, Glyph::Ring, "autoanalyze of events"),
];

/// The events of a run's measured window, at the second they cover.
pub fn events(run: &RunResult) -> Vec<(f64, EventKind)> {
    let mut out = Vec::new();
    for (x, s) in measured_samples(run) {
        if let Some(c) = &s.primary.checkpoints {
            if c.requested_delta.unwrap_or(0) > 0 {
                out.push((x, EventKind::CheckpointRequested));
            }
            if c.timed_delta.unwrap_or(0) > 0 {
                out.push((x, EventKind::CheckpointTimed));
            }
        }
        if let Some(e) = &s.primary.events_table {
            if e.autovacuumed {
                out.push((x, EventKind::Autovacuum));
            }
            if e.autoanalyzed {
                out.push((x, EventKind::Autoanalyze));
            }
        }
    }
    out
}

/// A run's p99 per second in ms; seconds where nothing finished have no
/// p99 and are left out.
fn p99_line(run: &RunResult) -> Vec<(f64, f64)> {
    measured_rows(run)
        .into_iter()
        .filter(|(_, r)| r.completed > 0 && r.p99 > 0)
        .map(|(x, r)| (x, r.p99 as f64 / 1000.0))
        .collect()
}

/// Linear from 0 unless the highest second is far above the typical one,
/// when a log axis keeps both readable.
fn value_axis(values: &[f64]) -> Axis {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
    v.sort_by(f64::total_cmp);
    let (median, top) = (v.get(v.len() / 2).copied(), v.last().copied());
    match (median, top) {
        (Some(m), Some(t)) if t / m > 20.0 => Axis::log(v[0], t, TickUnit::Millis),
        (_, t) => Axis::linear(0.0, t.unwrap_or(1.0) * 1.05, 6, TickUnit::Millis),
    }
}

pub fn p99(mode: &str, sides: &[PlotSide]) -> Result<String, PlotError> {
    let lines: Vec<Vec<Vec<(f64, f64)>>> = sides
        .iter()
        .map(|s| s.runs.iter().map(|r| p99_line(r)).collect())
        .collect();
    let all: Vec<f64> = lines.iter().flatten().flatten().map(|p| p.1).collect();
    let (x, y) = (frame::time_axis(window_s(sides)), value_axis(&all));
    let y_desc = if y.log {
        "p99 latency from intended start (log scale)"
    } else {
        "p99 latency from intended start"
    };
    let mut markers = Vec::new();
    for (kind, glyph, name) in KINDS {
        let n: usize = sides
            .iter()
            .flat_map(|s| &s.runs)
            .map(|r| events(r).iter().filter(|e| e.1 == kind).count())
            .sum();
        markers.push(item(Mark::Glyph(glyph, INK), format!("{name} ({n})")));
    }
    let legend = [frame::side_entries(sides), markers];
    let height = 430 + frame::legend_height(&legend, WIDTH);
    frame::svg(WIDTH, height, |root| {
        let body = frame::header(root, "p99 latency per second", mode, &legend)?;
        let mut chart = frame::chart(&body, &x, &y, TIME_DESC, y_desc)?;
        let mapped = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
            pts.iter()
                .filter_map(|(px, v)| Some((*px, y.to_coord(*v)?)))
                .collect()
        };
        for (s, runs) in sides.iter().zip(&lines) {
            for (i, pts) in runs.iter().enumerate() {
                frame::run_line(&mut chart, &mapped(pts), frame::side_colour(s.colour), i)?;
            }
        }
        for (s, runs) in sides.iter().zip(&lines) {
            for (run, pts) in s.runs.iter().zip(runs) {
                mark_events(
                    &mut chart,
                    &y,
                    run,
                    &mapped(pts),
                    frame::side_colour(s.colour),
                )?;
            }
        }
        if all.is_empty() {
            frame::no_data(&chart, "no operation finished in the measured window")?;
        }
        Ok(())
    })
}

/// A faint vertical line and a glyph on the run's line at each event;
/// events of the same second stack upwards.
fn mark_events(
    chart: &mut frame::Chart,
    y: &Axis,
    run: &RunResult,
    line: &[(f64, f64)],
    colour: RGBColor,
) -> Result<(), PlotError> {
    let mut last: Option<(f64, i32)> = None;
    for (x, kind) in events(run) {
        let glyph = KINDS
            .iter()
            .find(|k| k.0 == kind)
            .map(|k| k.1)
            .unwrap_or(Glyph::Cross);
        let second = x.floor() + 0.5;
        let at_y = line
            .iter()
            .find(|p| (p.0 - second).abs() < 0.01)
            .map(|p| p.1)
            .unwrap_or(y.hi);
        let stack = match last {
            Some((lx, n)) if (lx - x).abs() < 0.01 => n + 1,
            _ => 0,
        };
        last = Some((x, stack));
        if stack == 0 {
            // A rectangle, not a path: the runs' lines stay the only
            // polylines of the plot.
            let faint = colour.mix(0.4).filled();
            let area = chart.plotting_area();
            area.draw(
                &(EmptyElement::at((second, y.hi))
                    + Rectangle::new([(0, 0), (1, area.dim_in_pixel().1 as i32)], faint)),
            )?;
        }
        frame::draw_glyph(
            chart.plotting_area(),
            glyph,
            (second, at_y),
            colour,
            -14 * stack,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{lines_in, run, side, svg_elements, svg_text, two_sides};
    use super::*;

    #[test]
    fn events_of_the_window_are_found() {
        let mut r = run("a", "open-loop", 5);
        // The sample at the warm-up's end (3.001) counts, as for check and
        // compare, at the window's start; 5.001 covers its second 1.
        r.server_samples[0]
            .primary
            .checkpoints
            .as_mut()
            .unwrap()
            .requested_delta = Some(1);
        r.server_samples[2]
            .primary
            .checkpoints
            .as_mut()
            .unwrap()
            .timed_delta = Some(1);
        let ev = r.server_samples[2].primary.events_table.as_mut().unwrap();
        ev.autovacuumed = true;
        ev.autoanalyzed = true;
        let got = events(&r);
        let kinds: Vec<EventKind> = got.iter().map(|e| e.1).collect();
        assert_eq!(
            kinds,
            [
                EventKind::CheckpointRequested,
                EventKind::CheckpointTimed,
                EventKind::Autovacuum,
                EventKind::Autoanalyze
            ]
        );
        assert_eq!(got[0].0, 0.0);
        assert!((got[1].0 - 1.501).abs() < 1e-9);
    }

    #[test]
    fn lines_glyphs_and_legend() {
        let mut a = run("stock", "open-loop", 8);
        a.server_samples[3]
            .primary
            .checkpoints
            .as_mut()
            .unwrap()
            .requested_delta = Some(2);
        let b = run("tuned", "open-loop", 8);
        let sides = two_sides(&a, &b);
        let svg = p99("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(lines_in(&doc, "#0072B2"), 1);
        assert_eq!(lines_in(&doc, "#D55E00"), 1);
        let text = svg_text(&doc);
        for want in [
            "stock · 1 run",
            "tuned · 1 run",
            "checkpoint requested (1)",
            "autovacuum of events (0)",
            " ms",
        ] {
            assert!(text.contains(want), "{want} missing from {text}");
        }
        // The legend's filled triangle and the one on stock's line.
        let filled = svg_elements(&doc, "polygon")
            .iter()
            .filter(|p| p.attribute("fill") == Some("#0072B2"))
            .count();
        assert_eq!(filled, 1);
    }

    #[test]
    fn a_spike_far_above_the_rest_gets_a_log_axis() {
        assert!(value_axis(&[5.0, 6.0, 5.5, 4000.0, 5.2]).log);
        assert!(!value_axis(&[5.0, 6.0, 9.0]).log);
        assert!(!value_axis(&[]).log);
    }

    #[test]
    fn no_finished_operation_says_so() {
        let mut a = run("stock", "open-loop", 3);
        for r in &mut a.series {
            r.completed = 0;
        }
        let sides = vec![side("stock", 0, vec![&a])];
        let svg = p99("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(svg_text(&doc).contains("no operation finished"));
    }
}
