//! Per-second rates from two snapshots of the same servers.

use super::snapshot::{Counters, Rates, Snapshot};

/// `now` with rates per second since `before`, taken `secs` earlier.
/// A server whose counters went backwards (restarted, stats reset) or
/// that was not probed both times gets none.
pub fn with_rates(before: &Snapshot, mut now: Snapshot, secs: f64) -> Snapshot {
    now.interval_s = Some(secs);
    for s in &mut now.servers {
        let prev = before
            .servers
            .iter()
            .find(|p| p.role == s.role)
            .and_then(|p| p.counters.as_ref());
        s.rates = match (prev, &s.counters) {
            (Some(a), Some(b)) => rates(a, b, secs),
            _ => None,
        };
    }
    now
}

pub fn rates(a: &Counters, b: &Counters, secs: f64) -> Option<Rates> {
    let d = |x: i64, y: i64| (y - x) as f64;
    let fields = [
        d(a.commits, b.commits),
        d(a.rollbacks, b.rollbacks),
        d(a.tup_inserted, b.tup_inserted),
        d(a.tup_updated, b.tup_updated),
        d(a.tup_deleted, b.tup_deleted),
        d(a.tup_returned, b.tup_returned),
        d(a.tup_fetched, b.tup_fetched),
        d(a.blks_hit, b.blks_hit),
        d(a.blks_read, b.blks_read),
    ];
    if secs <= 0.0 || fields.iter().any(|f| *f < 0.0) {
        return None;
    }
    let per = |v: f64| (v / secs * 100.0).round() / 100.0;
    let (hit, read) = (fields[7], fields[8]);
    Some(Rates {
        commits: per(fields[0]),
        rollbacks: per(fields[1]),
        tup_inserted: per(fields[2]),
        tup_updated: per(fields[3]),
        tup_deleted: per(fields[4]),
        tup_returned: per(fields[5]),
        tup_fetched: per(fields[6]),
        cache_hit_ratio: (hit + read > 0.0).then(|| hit / (hit + read)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(commits: i64, hit: i64, read: i64) -> Counters {
        Counters {
            commits,
            blks_hit: hit,
            blks_read: read,
            ..Default::default()
        }
    }

    #[test]
    fn rates_per_second_and_none_when_counters_went_back() {
        let cases = [
            (c(10, 0, 0), c(30, 0, 0), 2.0, Some((10.0, None))),
            (c(10, 0, 0), c(10, 90, 10), 1.0, Some((0.0, Some(0.9)))),
            (c(10, 0, 0), c(5, 0, 0), 1.0, None),
            (c(10, 0, 0), c(20, 0, 0), 0.0, None),
        ];
        for (a, b, secs, want) in cases {
            let got = rates(&a, &b, secs).map(|r| (r.commits, r.cache_hit_ratio));
            assert_eq!(got, want, "{a:?} → {b:?} in {secs}s");
        }
    }
}
