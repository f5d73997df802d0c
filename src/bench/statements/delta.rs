//! From two snapshots of `pg_stat_statements` to the window's figures
//! (pure). Counters subtract; the mean is the window's total over its
//! calls; the standard deviation is rebuilt from each snapshot's sum of
//! squares (n·σ² + T²/n), which subtract exactly where deviations do not;
//! a maximum cannot be subtracted at all, so it is known only when the
//! window has a maximum of its own (see [`WindowOptions::max_in_window`]).

use super::{StatementStats, StatementWindow};
use std::collections::BTreeMap;

/// An entry of `pg_stat_statements` within one database (top-level
/// statements only, so `toplevel` is not part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub userid: u32,
    pub queryid: i64,
}

/// One entry's cumulative counters as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// The role name of `userid`.
    pub role: String,
    pub calls: i64,
    pub total_exec_ms: f64,
    pub max_exec_ms: f64,
    /// Population deviation over all the entry's calls, as reported.
    pub stddev_exec_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub shared_blks_dirtied: i64,
    pub shared_blks_written: i64,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    pub shared_blk_read_ms: f64,
    pub shared_blk_write_ms: f64,
    pub wal_bytes: i64,
    pub plans: i64,
    pub total_plan_ms: f64,
    /// `stats_since` (extension 1.11+): a new value means the entry was
    /// evicted and made again, so its counters started over.
    pub since: Option<String>,
}

/// One reading of the view and of `pg_stat_statements_info`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub entries: BTreeMap<Key, Counters>,
    /// `pg_stat_statements_info.dealloc` (1.9+).
    pub dealloc: Option<i64>,
    /// `pg_stat_statements_info.stats_reset` (1.9+).
    pub stats_reset: Option<String>,
}

/// What the window's figures depend on besides the two snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowOptions {
    pub version: String,
    pub window_s: f64,
    pub top_n: usize,
    /// Min and max were reset when the window opened (extension 1.11+,
    /// `minmax_only`), so the end snapshot's maximum is the window's.
    pub max_in_window: bool,
    pub track_planning: bool,
    pub io_timing: bool,
}

/// Sum of squares of an entry's execution times, from what the view says.
fn sum_of_squares(c: &Counters) -> f64 {
    if c.calls <= 0 {
        return 0.0;
    }
    let n = c.calls as f64;
    n * c.stddev_exec_ms * c.stddev_exec_ms + c.total_exec_ms * c.total_exec_ms / n
}

/// The window's figures, and the key of each statement of `top` (for
/// reading its text afterwards). Err when the statistics were reset
/// during the window, since every figure would then cover only part of it.
pub fn window_delta(
    start: &Snapshot,
    end: &Snapshot,
    o: &WindowOptions,
) -> Result<(StatementWindow, Vec<Key>), String> {
    if start.stats_reset != end.stats_reset {
        return Err(format!(
            "pg_stat_statements was reset during the window (stats_reset {} → {}): its figures would cover only part of it",
            start.stats_reset.as_deref().unwrap_or("?"),
            end.stats_reset.as_deref().unwrap_or("?")
        ));
    }
    let zero = Counters::default();
    let mut all: Vec<(Key, StatementStats)> = Vec::new();
    for (key, e) in &end.entries {
        let before = start.entries.get(key);
        // An entry new in the window, or made anew after an eviction, has
        // only the window's calls.
        let fresh = before.is_none_or(|s| e.calls < s.calls || e.since != s.since);
        let s = if fresh {
            &zero
        } else {
            before.unwrap_or(&zero)
        };
        let calls = e.calls - s.calls;
        if calls <= 0 {
            continue;
        }
        let total = e.total_exec_ms - s.total_exec_ms;
        let mean = total / calls as f64;
        let variance = (sum_of_squares(e) - sum_of_squares(s)) / calls as f64 - mean * mean;
        let max_exec_ms = if o.max_in_window || fresh || e.max_exec_ms > s.max_exec_ms {
            Some(e.max_exec_ms)
        } else {
            None
        };
        all.push((
            *key,
            StatementStats {
                queryid: key.queryid.to_string(),
                role: e.role.clone(),
                query: String::new(),
                calls,
                total_exec_ms: total,
                mean_exec_ms: mean,
                max_exec_ms,
                // Rounding can leave a tiny negative variance.
                stddev_exec_ms: variance.max(0.0).sqrt(),
                rows: e.rows - s.rows,
                shared_blks_hit: e.shared_blks_hit - s.shared_blks_hit,
                shared_blks_read: e.shared_blks_read - s.shared_blks_read,
                shared_blks_dirtied: e.shared_blks_dirtied - s.shared_blks_dirtied,
                shared_blks_written: e.shared_blks_written - s.shared_blks_written,
                temp_blks_read: e.temp_blks_read - s.temp_blks_read,
                temp_blks_written: e.temp_blks_written - s.temp_blks_written,
                shared_blk_read_ms: o
                    .io_timing
                    .then_some(e.shared_blk_read_ms - s.shared_blk_read_ms),
                shared_blk_write_ms: o
                    .io_timing
                    .then_some(e.shared_blk_write_ms - s.shared_blk_write_ms),
                wal_bytes: e.wal_bytes - s.wal_bytes,
                plans: o.track_planning.then_some(e.plans - s.plans),
                total_plan_ms: o
                    .track_planning
                    .then_some(e.total_plan_ms - s.total_plan_ms),
            },
        ));
    }
    let statements = all.len() as u64;
    let calls = all.iter().map(|(_, s)| s.calls).sum();
    let total_exec_ms = all.iter().map(|(_, s)| s.total_exec_ms).sum();
    all.sort_by(|a, b| {
        b.1.total_exec_ms
            .total_cmp(&a.1.total_exec_ms)
            .then(a.0.cmp(&b.0))
    });
    all.truncate(o.top_n);
    let (keys, top) = all.into_iter().unzip();
    let deallocated = match (start.dealloc, end.dealloc) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let window = StatementWindow {
        version: o.version.clone(),
        window_s: o.window_s,
        max_scope: if o.max_in_window { "window" } else { "rises" }.to_string(),
        track_planning: o.track_planning,
        io_timing: o.io_timing,
        deallocated,
        statements,
        calls,
        total_exec_ms,
        top,
    };
    Ok((window, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(q: i64) -> Key {
        Key {
            userid: 10,
            queryid: q,
        }
    }

    /// Counters of `times` (ms) run one after another, as the view shows
    /// them: total, max and the population deviation.
    fn counters(times: &[f64]) -> Counters {
        let n = times.len() as f64;
        let total: f64 = times.iter().sum();
        let mean = if n > 0.0 { total / n } else { 0.0 };
        let var = if n > 0.0 {
            times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n
        } else {
            0.0
        };
        Counters {
            role: "app".into(),
            calls: times.len() as i64,
            total_exec_ms: total,
            max_exec_ms: times.iter().copied().fold(0.0, f64::max),
            stddev_exec_ms: var.sqrt(),
            rows: 3 * times.len() as i64,
            shared_blks_hit: 10 * times.len() as i64,
            shared_blks_read: times.len() as i64,
            shared_blk_read_ms: 0.5 * n,
            plans: 1,
            total_plan_ms: 0.25,
            ..Counters::default()
        }
    }

    fn snap(entries: &[(i64, Counters)]) -> Snapshot {
        Snapshot {
            entries: entries.iter().map(|(q, c)| (key(*q), c.clone())).collect(),
            dealloc: Some(2),
            stats_reset: Some("2026-01-01".into()),
        }
    }

    fn opts(max_in_window: bool) -> WindowOptions {
        WindowOptions {
            version: "1.10".into(),
            window_s: 10.0,
            top_n: 20,
            max_in_window,
            track_planning: false,
            io_timing: true,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_window_is_the_difference_and_its_deviation_is_exact() {
        // Before: 1, 2, 3 ms. In the window: 10 and 20 ms (mean 15,
        // population deviation 5), a new maximum.
        let before = [1.0, 2.0, 3.0];
        let after = [1.0, 2.0, 3.0, 10.0, 20.0];
        let (w, keys) = window_delta(
            &snap(&[(7, counters(&before))]),
            &snap(&[(7, counters(&after))]),
            &opts(false),
        )
        .unwrap();
        assert_eq!(keys, vec![key(7)]);
        let s = &w.top[0];
        assert_eq!((s.calls, s.rows, s.shared_blks_hit), (2, 6, 20));
        assert!(close(s.total_exec_ms, 30.0) && close(s.mean_exec_ms, 15.0));
        assert!(close(s.stddev_exec_ms, 5.0), "{}", s.stddev_exec_ms);
        assert_eq!(s.max_exec_ms, Some(20.0));
        assert_eq!(s.shared_blk_read_ms, Some(1.0));
        assert_eq!((s.plans, s.total_plan_ms), (None, None));
        assert_eq!((w.statements, w.calls), (1, 2));
        assert_eq!((w.deallocated, w.max_scope.as_str()), (Some(0), "rises"));
        assert_eq!(s.queryid, "7");
    }

    #[test]
    fn a_maximum_is_known_only_when_the_window_has_its_own() {
        // Cases: (times before, times in the window, max_in_window, want).
        type Case<'a> = (&'a [f64], &'a [f64], bool, Option<f64>);
        let cases: &[Case] = &[
            // Older servers: the old 50 ms hides the window's 5 ms.
            (&[50.0], &[5.0], false, None),
            // ...unless the window beat it.
            (&[50.0], &[60.0], false, Some(60.0)),
            // A statement first run in the window: its max is the window's.
            (&[], &[4.0, 8.0], false, Some(8.0)),
            // 17+: min/max reset at the window's start (the end snapshot
            // then holds the window's own maximum, modelled here).
            (&[50.0], &[5.0], true, Some(5.0)),
        ];
        for (i, (before, window, reset, want)) in cases.iter().enumerate() {
            let all: Vec<f64> = before.iter().chain(window.iter()).copied().collect();
            let mut end = counters(&all);
            if *reset {
                end.max_exec_ms = window.iter().copied().fold(0.0, f64::max);
            }
            let start = if before.is_empty() {
                snap(&[])
            } else {
                snap(&[(1, counters(before))])
            };
            let (w, _) = window_delta(&start, &snap(&[(1, end)]), &opts(*reset)).unwrap();
            assert_eq!(w.top[0].max_exec_ms, *want, "case {i}");
        }
    }

    #[test]
    fn an_entry_made_anew_counts_from_zero() {
        // Evicted and made again: fewer calls than at the start.
        let (w, _) = window_delta(
            &snap(&[(3, counters(&[1.0; 40]))]),
            &snap(&[(3, counters(&[2.0, 4.0]))]),
            &opts(false),
        )
        .unwrap();
        assert_eq!(w.top[0].calls, 2);
        assert!(close(w.top[0].mean_exec_ms, 3.0));
        assert_eq!(w.top[0].max_exec_ms, Some(4.0));
        // The same seen through stats_since (17+), with more calls.
        let mut start = counters(&[1.0]);
        start.since = Some("t0".into());
        let mut end = counters(&[2.0, 2.0, 2.0]);
        end.since = Some("t1".into());
        let (w, _) = window_delta(&snap(&[(3, start)]), &snap(&[(3, end)]), &opts(false)).unwrap();
        assert_eq!(w.top[0].calls, 3);
    }

    #[test]
    fn top_n_by_total_time_and_idle_statements_left_out() {
        let start = snap(&[(1, counters(&[1.0])), (2, counters(&[1.0]))]);
        let end = snap(&[
            (1, counters(&[1.0])),           // no call in the window
            (2, counters(&[1.0, 5.0])),      // 5 ms
            (3, counters(&[9.0])),           // 9 ms, new
            (4, counters(&[2.0, 2.0, 2.0])), // 6 ms, new
        ]);
        let mut o = opts(false);
        o.top_n = 2;
        let (w, keys) = window_delta(&start, &end, &o).unwrap();
        assert_eq!(keys, vec![key(3), key(4)]);
        assert_eq!(w.statements, 3, "counted before the cut");
        assert_eq!(w.calls, 1 + 1 + 3);
        assert!(close(w.total_exec_ms, 5.0 + 9.0 + 6.0));
    }

    #[test]
    fn figures_a_setting_turned_off_are_null_and_a_reset_refuses() {
        let mut o = opts(false);
        o.io_timing = false;
        o.track_planning = true;
        let (w, _) = window_delta(
            &snap(&[(1, counters(&[1.0]))]),
            &snap(&[(1, counters(&[1.0, 1.0]))]),
            &o,
        )
        .unwrap();
        assert_eq!(w.top[0].shared_blk_read_ms, None);
        assert_eq!(
            (w.top[0].plans, w.top[0].total_plan_ms),
            (Some(0), Some(0.0))
        );
        let mut end = snap(&[]);
        end.stats_reset = Some("2026-02-02".into());
        let e = window_delta(&snap(&[]), &end, &o).unwrap_err();
        assert!(e.contains("reset during the window"), "{e}");
        // Without pg_stat_statements_info nothing is known of evictions.
        let mut a = snap(&[]);
        a.dealloc = None;
        let (w, _) = window_delta(&a, &snap(&[]), &o).unwrap();
        assert_eq!(w.deallocated, None);
    }
}
