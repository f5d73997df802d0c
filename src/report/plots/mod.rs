//! The report's plots: pure functions from the runs of one mode, grouped
//! by side, to an SVG document. One file per family of plots; `frame`
//! holds what they share and `axis` the ticks.

mod axis;
mod cache;
mod connections;
mod frame;
mod lag;
mod p99;
pub(crate) mod spectrum;
mod throughput;

#[cfg(test)]
pub(crate) mod testdata;

pub use cache::cache_hit;
pub use connections::connections;
pub use frame::PlotError;
pub use lag::replication_lag;
pub use p99::p99;
pub use spectrum::spectrum;
pub use throughput::throughput;

use super::runs::PlotSide;

/// One plot of the report.
#[derive(Debug, Clone)]
pub struct Plot {
    /// File name under `plots/`, e.g. `open-loop-p99.svg`.
    pub file: String,
    pub title: String,
    /// One line saying how to read it.
    pub caption: String,
    pub svg: String,
}

type PlotFn = fn(&str, &[PlotSide]) -> Result<String, PlotError>;

/// The plot families in the order the page shows them: name in the file,
/// title, caption, function.
const FAMILIES: &[(&str, &str, &str, PlotFn)] = &[
    (
        "throughput",
        "Throughput per second",
        "Operations finished per second of intended start; in open loop a \
         line below the dashed target means the pair fell behind, in closed \
         loop the line is the capacity with this many workers (higher is \
         better).",
        throughput,
    ),
    (
        "p99",
        "p99 latency per second, with checkpoints and autovacuum",
        "99th percentile from the intended start, each second; a glyph on a \
         run's line marks the second a checkpoint, an autovacuum or an \
         autoanalyze of events finished there: spikes that line up with \
         glyphs are the periodic spikes.",
        p99,
    ),
    (
        "spectrum",
        "Latency percentile spectrum",
        "Latency from the intended start at each percentile of the whole \
         window; further right is rarer, lower is better; both axes are \
         logarithmic.",
        spectrum,
    ),
    (
        "replication-lag",
        "Replication lag",
        "How far the replica is behind each second: replay_lag in time (0 \
         when it had nothing to replay, a gap when PostgreSQL gave no time) \
         and WAL not yet replayed in bytes; the worst standby.",
        replication_lag,
    ),
    (
        "cache-hit",
        "Cache hit ratio per server",
        "Share of block reads served from shared buffers each second, per \
         server; 100 % is best, and a dip is a read from the OS or disk.",
        cache_hit,
    ),
    (
        "connections",
        "Client connections by wait event",
        "Client backends each second by what they wait for, stacked (mean \
         of a side's runs): ClientRead is waiting for the client, running \
         is on CPU; one panel per side and server.",
        connections,
    ),
];

/// Every plot of one mode.
pub fn mode_plots(mode: &str, sides: &[PlotSide]) -> Result<Vec<Plot>, PlotError> {
    let what = super::runs::mode_title(mode);
    FAMILIES
        .iter()
        .map(|(name, title, caption, f)| {
            Ok(Plot {
                file: format!("{}-{name}.svg", file_safe(mode)),
                title: format!("{title}: {what}"),
                caption: (*caption).to_string(),
                svg: f(mode, sides)?,
            })
        })
        .collect()
}

/// A mode name as a file name (modes come from result files).
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::testdata::{run, two_sides};
    use super::*;

    #[test]
    fn every_family_makes_a_parseable_file_per_mode() {
        let (a, b) = (run("stock", "open-loop", 5), run("tuned", "open-loop", 5));
        let sides = two_sides(&a, &b);
        let plots = mode_plots("open-loop", &sides).unwrap();
        assert_eq!(plots.len(), FAMILIES.len());
        for p in &plots {
            assert!(p.file.starts_with("open-loop-") && p.file.ends_with(".svg"));
            roxmltree::Document::parse(&p.svg).unwrap_or_else(|e| panic!("{}: {e}", p.file));
        }
        assert_eq!(file_safe("odd mode/../x"), "odd_mode____x");
    }

    #[test]
    fn many_sides_or_none_still_draw() {
        let runs: Vec<_> = (0..12)
            .map(|i| run(&format!("a rather long side label {i}"), "closed-loop", 3))
            .collect();
        let sides: Vec<PlotSide> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| PlotSide {
                label: r.metadata.label.clone().unwrap(),
                colour: i,
                runs: vec![r],
            })
            .collect();
        for p in mode_plots("closed-loop", &sides).unwrap() {
            let doc = roxmltree::Document::parse(&p.svg).unwrap();
            let text = testdata::svg_text(&doc);
            assert!(text.contains("a rather long side label 11"), "{}", p.file);
        }
        for p in mode_plots("open-loop", &[]).unwrap() {
            roxmltree::Document::parse(&p.svg).unwrap();
        }
    }
}
