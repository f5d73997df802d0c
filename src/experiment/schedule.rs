//! The order of the runs. Every profile gets a closed-loop capacity run
//! and an open-loop run at the rate in each round; the order alternates
//! between rounds (A B, then B A) so that the store's growth and the
//! machine's drift weigh on every side alike. Within a round the capacity
//! runs come first, so that `--rate auto` knows every capacity of the
//! first round before its first open-loop run; the open-loop runs then go
//! in the reverse order (A-cap B-cap B-rate A-rate).

use serde::Serialize;

/// Which of the two runs of a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// Closed loop with the capacity workers: the most the pair does.
    Capacity,
    /// Open loop at the experiment's rate with the original's pool.
    Rate,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Capacity => "capacity",
            RunKind::Rate => "rate",
        }
    }
}

/// One run of the experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// 1-based.
    pub round: usize,
    pub profile: String,
    pub kind: RunKind,
}

/// Every run of the kinds asked for, in the order they are made.
pub fn schedule(profiles: &[String], repeat: usize, kinds: &[RunKind]) -> Vec<Step> {
    let mut steps = Vec::new();
    for round in 1..=repeat {
        let mut order: Vec<&String> = profiles.iter().collect();
        if round % 2 == 0 {
            order.reverse();
        }
        let step = |p: &&String, kind| Step {
            round,
            profile: (*p).clone(),
            kind,
        };
        steps.extend(order.iter().map(|p| step(p, RunKind::Capacity)));
        steps.extend(order.iter().rev().map(|p| step(p, RunKind::Rate)));
    }
    steps.retain(|s| kinds.contains(&s.kind));
    steps
}

/// `--rate auto`: this share of the lowest capacity of the first round,
/// meant to leave every side headroom so that latency compares service and
/// not queueing. The capacity comes from a closed loop of few workers; the
/// open loop runs more, and a side whose latency grows with concurrency
/// can still be overloaded there.
pub const AUTO_RATE_SHARE: f64 = 0.7;

/// The open-loop rate from the first round's capacities (ops/s), rounded
/// down to a whole operation per second and at least 1; None without any
/// capacity measured.
pub fn auto_rate(capacities: &[f64]) -> Option<f64> {
    let lowest = capacities
        .iter()
        .copied()
        .filter(|c| c.is_finite() && *c > 0.0)
        .reduce(f64::min)?;
    Some((lowest * AUTO_RATE_SHARE).floor().max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &[RunKind] = &[RunKind::Capacity, RunKind::Rate];

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn short(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| format!("{}{}{}", s.round, s.profile, &s.kind.as_str()[..1]))
            .collect()
    }

    #[test]
    fn rounds_alternate_and_capacities_come_first() {
        let s = schedule(&names(&["A", "B"]), 2, BOTH);
        assert_eq!(
            short(&s),
            ["1Ac", "1Bc", "1Br", "1Ar", "2Bc", "2Ac", "2Ar", "2Br"]
        );
        let s = schedule(&names(&["A", "B", "C"]), 3, BOTH);
        assert_eq!(s.len(), 18);
        assert_eq!(short(&s[6..12]), ["2Cc", "2Bc", "2Ac", "2Ar", "2Br", "2Cr"]);
        // Over two rounds every profile runs each kind once early and
        // once late.
        let s = schedule(&names(&["A", "B"]), 2, BOTH);
        let pos = |p: &str, k: RunKind| -> usize {
            s.iter()
                .enumerate()
                .filter(|(_, x)| x.profile == p && x.kind == k)
                .map(|(i, _)| i)
                .sum()
        };
        assert_eq!(pos("A", RunKind::Capacity), pos("B", RunKind::Capacity));
        assert_eq!(pos("A", RunKind::Rate), pos("B", RunKind::Rate));
    }

    #[test]
    fn one_kind_only_keeps_its_order() {
        let s = schedule(&names(&["A", "B"]), 2, &[RunKind::Rate]);
        assert_eq!(short(&s), ["1Br", "1Ar", "2Ar", "2Br"]);
        let s = schedule(&names(&["A", "B"]), 2, &[RunKind::Capacity]);
        assert_eq!(short(&s), ["1Ac", "1Bc", "2Bc", "2Ac"]);
    }

    #[test]
    fn one_round_and_none() {
        assert_eq!(
            short(&schedule(&names(&["A", "B"]), 1, BOTH)),
            ["1Ac", "1Bc", "1Br", "1Ar"]
        );
        assert!(schedule(&names(&["A", "B"]), 0, BOTH).is_empty());
    }

    #[test]
    fn boundary_rows_are_a_books_events_plus_a_readers() {
        use super::super::boundary_rows;
        // library-scale: 1,000,000 / 60,000 + 1,000,000 / 14,000
        assert_eq!(boundary_rows(1_000_000, 60_000, 14_000), 88);
        // worker-pool-2025: 1,000 books and 100 readers
        assert_eq!(boundary_rows(1_000_000, 1_000, 100), 11_000);
        assert_eq!(boundary_rows(10, 60_000, 14_000), 1);
        assert_eq!(boundary_rows(0, 0, 0), 1);
    }

    #[test]
    fn auto_rate_is_seventy_percent_of_the_lowest() {
        assert_eq!(auto_rate(&[183.0, 114.6]), Some(80.0));
        assert_eq!(auto_rate(&[1.0]), Some(1.0));
        assert_eq!(auto_rate(&[0.0, f64::NAN]), None);
        assert_eq!(auto_rate(&[]), None);
    }
}
