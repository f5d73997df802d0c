//! Runs for the plot tests: a real recorded result (its metadata and
//! summary) with series and samples made to order.

use super::super::runs::PlotSide;
use crate::bench::{
    Checkpoints, ConnectionCount, EventsTableActivity, ReplicaLag, RunResult, SecondRow,
    ServerSample, ServerStats,
};

const FIXTURE: &str = include_str!("../../../tests/fixtures/compare/1-stock-rate.json");

/// A run labelled `label` of `mode` with `seconds` measured seconds after
/// a 3 s warm-up: a second row each (latency rising with t) and a sample
/// each, primary and replica.
pub fn run(label: &str, mode: &str, seconds: u64) -> RunResult {
    let mut r: RunResult = serde_json::from_str(FIXTURE).expect("the fixture is a result");
    r.metadata.label = Some(label.into());
    r.metadata.mode = mode.into();
    r.summary.mode = mode.into();
    r.metadata.warmup_s = 3.0;
    r.metadata.duration_s = seconds as f64;
    r.summary.measured_s = seconds as f64;
    r.series = (0..seconds)
        .map(|i| SecondRow {
            t: 3 + i,
            completed: 50 + i,
            p50: 2_000 + 100 * i,
            p99: 10_000 + 1_000 * i,
            max: 20_000,
            ..Default::default()
        })
        .collect();
    r.server_samples = (0..=seconds).map(|i| sample(3.001 + i as f64)).collect();
    r
}

/// A sample at `t` with connections on both servers, some replication lag
/// and nothing else going on.
pub fn sample(t: f64) -> ServerSample {
    let stats = |hit: f64| ServerStats {
        cache_hit_ratio: Some(hit),
        connections: vec![
            conn("idle", "ClientRead", 6),
            conn("active", "", 2),
            conn("active", "WALSync", 1),
        ],
        checkpoints: Some(Checkpoints {
            timed_delta: Some(0),
            requested_delta: Some(0),
            ..Default::default()
        }),
        events_table: Some(EventsTableActivity::default()),
        ..Default::default()
    };
    ServerSample {
        t,
        primary: stats(0.999),
        replica: Some(stats(0.98)),
        replication: vec![ReplicaLag {
            application_name: "walreceiver".into(),
            replay_lag_bytes: Some(2048.0),
            replay_lag_ms: Some(1.5),
        }],
    }
}

pub fn conn(state: &str, wait: &str, count: i64) -> ConnectionCount {
    ConnectionCount {
        state: state.into(),
        wait_event: wait.into(),
        count,
    }
}

/// Parses an SVG and returns its elements named `tag`, failing the test
/// when it is not XML.
pub fn svg_elements<'a>(doc: &'a roxmltree::Document, tag: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.tag_name().name() == tag)
        .collect()
}

/// All text of an SVG's `<text>` elements, one per line.
pub fn svg_text(doc: &roxmltree::Document) -> String {
    svg_elements(doc, "text")
        .iter()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polylines drawn in `colour` (`#RRGGBB`).
pub fn lines_in(doc: &roxmltree::Document, colour: &str) -> usize {
    svg_elements(doc, "polyline")
        .iter()
        .filter(|n| n.attribute("stroke") == Some(colour))
        .count()
}

/// A side of the plot tests: its label, colour index and runs.
pub fn side<'a>(label: &str, colour: usize, runs: Vec<&'a RunResult>) -> PlotSide<'a> {
    PlotSide {
        label: label.into(),
        colour,
        runs,
    }
}

/// Two sides, `stock` (the baseline's colour) and `tuned`, one run each.
pub fn two_sides<'a>(stock: &'a RunResult, tuned: &'a RunResult) -> Vec<PlotSide<'a>> {
    vec![side("stock", 0, vec![stock]), side("tuned", 1, vec![tuned])]
}
