//! Planner settings for the application's sessions only, from the size of
//! the command boundaries. The conditional append guards with
//! `MAX(sequence_number) … WHERE <boundary>`; with index scans allowed
//! PostgreSQL plans that as a walk back along the primary key, filtering
//! rows until one belongs to the boundary, whenever it believes matches
//! are common, which it does because it cannot estimate `@>` on the
//! payload (every boundary gets the same guess). The walk reads about
//! `expected_events / boundary_rows` rows (the distance between two events
//! of one boundary), all of the table for a boundary that went quiet; the
//! GIN bitmap that the boundary query uses reads `boundary_rows`. So small
//! boundaries in a large store want the bitmap, and only index scans off
//! stop the walk; big boundaries want the walk.

use super::application::AppSettings;
use crate::profile::{Method, Profile};
use crate::value::{grouped, Value};

/// What one measured store showed, quoted in the rule.
const MEASURED: &str = "Measured on 1,000,000 events, boundaries of ~90 rows (scripts/experiments/guard-plans.sh, 150 boundaries): the guard as PostgreSQL plans it after five executions read 27,356 shared buffers per call on average (p99 138,926), 103 (p99 139) with index scans off; capacity with 8 workers 480 and 702 ops/s → 1,487 and 1,511 ops/s. With ~11,000-row boundaries the walk reads 10 buffers and the bitmap 10,007, so index scans stay on there";

/// Index scans off for the application's sessions when a boundary is
/// smaller than the square root of the store (the bitmap reads fewer rows
/// than the walk); left to the server otherwise.
pub fn recommend(profile: &Profile, out: &mut AppSettings) {
    if profile.method != Method::Eventstore {
        return;
    }
    let w = &profile.primary.workload;
    if !w.jsonb_containment {
        return;
    }
    let (rows, events) = (w.boundary_rows.max(1), w.expected_events);
    if rows.saturating_mul(rows) >= events {
        return;
    }
    let walk = grouped(events / rows);
    let (rows, events) = (grouped(rows), grouped(events));
    out.set(
        "enable_indexscan",
        Value::Bool(false),
        format!(
            "off for the application only: boundaries of ~{rows} rows in {events} events are read by the GIN bitmap in ~{rows} rows, while the append's MAX(sequence_number) guard, planned with index scans, walks the primary key back ~{walk} rows (the whole table for a quiet boundary). {MEASURED}. Other sessions keep index scans"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eventstore(rows: u64, events: u64) -> Profile {
        let mut p = crate::profile::load("eventstore", None).unwrap();
        for r in [&mut p.primary, &mut p.replica] {
            r.workload.boundary_rows = rows;
            r.workload.expected_events = events;
        }
        p
    }

    fn planned(p: &Profile) -> Option<(Value, String)> {
        let mut out = AppSettings::default();
        recommend(p, &mut out);
        out.into_vec()
            .into_iter()
            .find(|s| s.name == "enable_indexscan")
            .map(|s| (s.value, s.rule))
    }

    #[test]
    fn index_scans_off_while_a_boundary_is_below_the_square_root_of_the_store() {
        // (boundary rows, events, off?)
        let cases = [
            (90, 1_000_000, true),      // library-scale: walk ~11,111 rows
            (999, 1_000_000, true),     // 999² < 10⁶
            (1_000, 1_000_000, false),  // the walk and the bitmap read alike
            (11_000, 1_000_000, false), // worker-pool-2025: walk ~90 rows
            (100, 100_000_000, true),
            (1, 1, false),
        ];
        for (rows, events, off) in cases {
            let got = planned(&eventstore(rows, events));
            assert_eq!(
                got.is_some(),
                off,
                "{rows} rows in {events} events: {got:?}"
            );
            if let Some((v, rule)) = got {
                assert_eq!(v, Value::Bool(false));
                let walk = format!("~{} rows", grouped(events / rows));
                assert!(rule.contains(&walk) && rule.contains("27,356"), "{rule}");
            }
        }
    }

    #[test]
    fn only_the_eventstore_method_with_containment_queries() {
        let mut p = eventstore(90, 1_000_000);
        p.primary.workload.jsonb_containment = false;
        assert_eq!(planned(&p), None);
        for name in ["stock", "pgtune-oltp", "des-benchmark"] {
            let mut p = crate::profile::load(name, None).unwrap();
            p.primary.workload.boundary_rows = 90;
            assert_eq!(planned(&p), None, "{name}");
        }
    }
}
