//! Client connections by wait event over time: small multiples, a row per
//! side and a column per server, each a stack of bands (one per wait
//! event, the mean of the side's runs each second), all on one y scale so
//! panels compare. The busiest wait events get their own band, the rest
//! share "other".

use super::axis::{Axis, TickUnit};
use super::frame::{self, item, LegendItem, Mark, PlotError, TIME_DESC, WIDTH};
use crate::bench::{RunResult, ServerSample, ServerStats};
use crate::report::runs::{measured_samples, window_s, PlotSide};
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Bands with their own colour; more wait events than this share "other".
const TOP: usize = 6;
const OTHER: &str = "other";
/// Paul Tol's muted scheme, apart from the side colours of other plots;
/// "running" is always green and ClientRead always light grey.
const BAND_COLOURS: [RGBColor; 6] = [
    RGBColor(0x33, 0x22, 0x88),
    RGBColor(0x88, 0xCC, 0xEE),
    RGBColor(0xCC, 0x66, 0x77),
    RGBColor(0xDD, 0xCC, 0x77),
    RGBColor(0xAA, 0x44, 0x99),
    RGBColor(0x88, 0x22, 0x55),
];
const RUNNING: RGBColor = RGBColor(0x11, 0x77, 0x33);
const CLIENT_READ: RGBColor = RGBColor(0xBB, 0xBB, 0xBB);
const OTHER_COLOUR: RGBColor = RGBColor(0x44, 0x44, 0x44);

type Server = fn(&ServerSample) -> Option<&ServerStats>;
const SERVERS: [(&str, Server); 2] = [
    ("primary", |s| Some(&s.primary)),
    ("replica", |s| s.replica.as_ref()),
];

/// Mean backends per wait event for each second of a side's runs on one
/// server: second index → wait event → mean count.
fn side_means(runs: &[&RunResult], server: Server) -> BTreeMap<u64, BTreeMap<String, f64>> {
    let mut sums: BTreeMap<u64, (BTreeMap<String, f64>, usize)> = BTreeMap::new();
    for run in runs {
        for (x, s) in measured_samples(run) {
            let Some(stats) = server(s) else { continue };
            let slot = sums.entry(x.floor().max(0.0) as u64).or_default();
            slot.1 += 1;
            for c in &stats.connections {
                *slot.0.entry(c.wait_event.clone()).or_default() += c.count.max(0) as f64;
            }
        }
    }
    sums.into_iter()
        .map(|(k, (m, n))| (k, m.into_iter().map(|(w, v)| (w, v / n as f64)).collect()))
        .collect()
}

/// The wait events with a band of their own, bottom to top: on CPU
/// first, then the busiest other waits, "other", and ClientRead (idle,
/// waiting for the client) on top, so the busy part of the stack sits on
/// the axis.
fn bands(all: &[BTreeMap<u64, BTreeMap<String, f64>>]) -> Vec<String> {
    let mut total: BTreeMap<&str, f64> = BTreeMap::new();
    for m in all {
        for (w, v) in m.values().flatten() {
            *total.entry(w.as_str()).or_default() += v;
        }
    }
    let (running, client) = (total.remove(""), total.remove("ClientRead"));
    let mut ranked: Vec<(&str, f64)> = total.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let room = TOP - usize::from(running.is_some()) - usize::from(client.is_some());
    let mut out: Vec<String> = running.map(|_| String::new()).into_iter().collect();
    out.extend(ranked.iter().take(room).map(|(w, _)| w.to_string()));
    if ranked.len() > room {
        out.push(OTHER.into());
    }
    out.extend(client.map(|_| "ClientRead".to_string()));
    out
}

fn band_name(w: &str) -> String {
    match w {
        "" => "running (no wait event)".into(),
        "ClientRead" => "ClientRead (waiting for the client)".into(),
        other => other.to_string(),
    }
}

fn band_colour(bands: &[String], i: usize) -> RGBColor {
    match bands[i].as_str() {
        "" => RUNNING,
        "ClientRead" => CLIENT_READ,
        OTHER => OTHER_COLOUR,
        _ => {
            let k = bands[..i]
                .iter()
                .filter(|w| !w.is_empty() && *w != "ClientRead")
                .count();
            BAND_COLOURS[k % BAND_COLOURS.len()]
        }
    }
}

/// Cumulative tops of each band per second: stacks[band] = [(x, top)].
fn stack(means: &BTreeMap<u64, BTreeMap<String, f64>>, bands: &[String]) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new(); bands.len()];
    for (k, m) in means {
        let mut acc = 0.0;
        for (i, b) in bands.iter().enumerate() {
            acc += if b == OTHER {
                m.iter()
                    .filter(|(w, _)| !bands.contains(w))
                    .map(|(_, v)| v)
                    .sum()
            } else {
                m.get(b).copied().unwrap_or(0.0)
            };
            out[i].push((*k as f64 + 0.5, acc));
        }
    }
    out
}

pub fn connections(mode: &str, sides: &[PlotSide]) -> Result<String, PlotError> {
    let servers: Vec<(&str, Server)> = SERVERS
        .into_iter()
        .filter(|(name, f)| {
            *name == "primary"
                || sides
                    .iter()
                    .flat_map(|s| &s.runs)
                    .any(|r| r.server_samples.iter().any(|s| f(s).is_some()))
        })
        .collect();
    let means: Vec<Vec<_>> = sides
        .iter()
        .map(|s| {
            servers
                .iter()
                .map(|(_, f)| side_means(&s.runs, *f))
                .collect()
        })
        .collect();
    let flat: Vec<_> = means.iter().flatten().cloned().collect();
    let bands = bands(&flat);
    let stacks: Vec<Vec<_>> = means
        .iter()
        .map(|row| row.iter().map(|m| stack(m, &bands)).collect())
        .collect();
    let top = stacks
        .iter()
        .flatten()
        .flatten()
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let (x, y) = (
        frame::time_axis(window_s(sides)),
        Axis::linear(0.0, top.max(1.0), 4, TickUnit::Number),
    );
    let legend: [Vec<LegendItem>; 1] = [(0..bands.len())
        .map(|i| item(Mark::Block(band_colour(&bands, i)), band_name(&bands[i])))
        .collect()];
    let rows = sides.len().max(1);
    let height = 80 + 230 * rows as u32 + frame::legend_height(&legend, WIDTH);
    frame::svg(WIDTH, height, |root| {
        let body = frame::header(root, "Client connections by wait event", mode, &legend)?;
        let cells = body.split_evenly((rows, servers.len()));
        for (r, side) in sides.iter().enumerate() {
            for (c, (server, _)) in servers.iter().enumerate() {
                let runs = match side.runs.len() {
                    1 => "1 run".to_string(),
                    n => format!("mean of {n} runs"),
                };
                let title = format!("{} · {server} · {runs}", side.label);
                let area = {
                    let cell = cells[r * servers.len() + c].margin(12, 0, 0, 0);
                    cell.titled(&title, frame::font(frame::LABEL + 1.0))?
                };
                let x_desc = if r + 1 == rows { TIME_DESC } else { "" };
                let chart = frame::chart(&area, &x, &y, x_desc, "backends")?;
                draw_bands(&chart, &stacks[r][c], &bands)?;
                if stacks[r][c].iter().all(|b| b.is_empty()) {
                    frame::no_data(&chart, "no sample of this server")?;
                }
            }
        }
        Ok(())
    })
}

/// Each band as a polygon between its top and the one below it.
fn draw_bands(
    chart: &frame::Chart,
    stacks: &[Vec<(f64, f64)>],
    bands: &[String],
) -> Result<(), PlotError> {
    let area = chart.plotting_area();
    for (i, upper) in stacks.iter().enumerate() {
        if upper.is_empty() {
            continue;
        }
        let lower: Vec<(f64, f64)> = match i {
            0 => upper.iter().map(|(x, _)| (*x, 0.0)).collect(),
            _ => stacks[i - 1].clone(),
        };
        if upper.iter().zip(&lower).all(|(u, l)| u.1 - l.1 <= 1e-9) {
            continue;
        }
        let mut outline = upper.clone();
        outline.extend(lower.iter().rev());
        area.draw(&Polygon::new(outline, band_colour(bands, i).filled()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{conn, run, side, svg_elements, svg_text};
    use super::*;

    #[test]
    fn means_over_runs_and_stacks() {
        let (a, mut b) = (run("s", "open-loop", 2), run("s", "open-loop", 2));
        for s in &mut b.server_samples {
            s.primary.connections = vec![conn("idle", "ClientRead", 2), conn("active", "Lock", 4)];
        }
        let m = side_means(&[&a, &b], SERVERS[0].1);
        assert_eq!(m.len(), 2);
        let sec = &m[&0];
        assert_eq!(sec["ClientRead"], 4.0); // (6 + 2) / 2
        assert_eq!(sec["Lock"], 2.0);
        let bands = bands(std::slice::from_ref(&m));
        assert_eq!(bands, ["", "Lock", "WALSync", "ClientRead"]);
        let s = stack(&m, &bands);
        assert_eq!(s.last().unwrap()[0].1, 1.0 + 4.0 + 0.5 + 2.0);
    }

    #[test]
    fn rare_wait_events_share_other() {
        let mut m: BTreeMap<u64, BTreeMap<String, f64>> = BTreeMap::new();
        let sec = m.entry(0).or_default();
        for (i, w) in ["", "ClientRead", "A", "B", "C", "D", "E", "F"]
            .iter()
            .enumerate()
        {
            sec.insert(w.to_string(), 10.0 - i as f64);
        }
        let b = bands(std::slice::from_ref(&m));
        assert_eq!(b, ["", "A", "B", "C", "D", OTHER, "ClientRead"]);
        let s = stack(&m, &b);
        assert_eq!(s.last().unwrap()[0].1, (3..=10).sum::<i32>() as f64);
    }

    #[test]
    fn a_panel_per_side_and_server() {
        let (a, b) = (run("stock", "open-loop", 4), run("tuned", "open-loop", 4));
        let sides = vec![side("stock", 0, vec![&a]), side("tuned", 1, vec![&b, &a])];
        let svg = connections("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let text = svg_text(&doc);
        for want in [
            "stock · primary · 1 run",
            "tuned · replica · mean of 2 runs",
            "ClientRead (waiting for the client)",
            "running (no wait event)",
            "WALSync",
        ] {
            assert!(text.contains(want), "{want} missing from {text}");
        }
        let green = svg_elements(&doc, "polygon")
            .iter()
            .filter(|p| p.attribute("fill") == Some("#117733"))
            .count();
        assert_eq!(green, 4);
    }

    #[test]
    fn no_replica_means_one_column() {
        let mut a = run("stock", "open-loop", 2);
        for s in &mut a.server_samples {
            s.replica = None;
        }
        let sides = vec![side("stock", 0, vec![&a])];
        let svg = connections("open-loop", &sides).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(!svg_text(&doc).contains("replica"));
    }
}
