//! The measured window of a run result, read the one way every reader
//! (check's criteria, compare's tables) must read it: server samples from
//! the end of the warm-up on, and the per-second server figures taken
//! from them. Pure; depends only on the result's types.

use crate::bench::{RunResult, SecondRow, ServerSample, ServerStats};

/// Server samples of the measured window (warm-up excluded).
pub fn server_samples(r: &RunResult) -> impl Iterator<Item = &ServerSample> {
    let from = r.metadata.warmup_s;
    r.server_samples.iter().filter(move |s| s.t >= from)
}

/// Series rows of the measured window. The engine writes only those
/// today; the filter keeps a reader right if a writer ever adds warm-up
/// rows.
pub fn seconds(r: &RunResult) -> impl Iterator<Item = &SecondRow> {
    let from = r.metadata.warmup_s;
    r.series.iter().filter(move |row| row.t as f64 >= from)
}

/// The stats of the primary, or of the replica when there is one.
pub fn stats(s: &ServerSample, replica: bool) -> Option<&ServerStats> {
    if replica {
        s.replica.as_ref()
    } else {
        Some(&s.primary)
    }
}

/// Why the window has no server samples, when it has none.
pub fn no_samples(r: &RunResult) -> Option<String> {
    if r.server_samples.is_empty() {
        Some("the result has no server samples (it was run without a sampler)".into())
    } else if server_samples(r).next().is_none() {
        Some("no server sample falls in the measured window".into())
    } else {
        None
    }
}

/// Cache hit ratio × 100 of each sample that has one (null when no block
/// was read that second), for the primary or the replica.
pub fn cache_hit_pct(r: &RunResult, replica: bool) -> Vec<f64> {
    server_samples(r)
        .filter_map(|s| stats(s, replica).and_then(|st| st.cache_hit_ratio))
        .map(|x| x * 100.0)
        .collect()
}

/// Replay lag per sample, in ms or in WAL bytes: the worst standby of
/// each sample that has one. A standby with nothing to replay reports no
/// replay_lag (null) and 0 bytes behind: lag 0.
pub fn replay_lag(r: &RunResult, bytes: bool) -> Vec<f64> {
    server_samples(r)
        .filter_map(|s| {
            s.replication
                .iter()
                .filter_map(|l| {
                    if bytes {
                        l.replay_lag_bytes
                    } else {
                        l.replay_lag_ms
                            .or((l.replay_lag_bytes == Some(0.0)).then_some(0.0))
                    }
                })
                .reduce(f64::max)
        })
        .collect()
}

/// The primary's checkpoints per sample (requested or timed) for the
/// samples that know the counters.
pub fn checkpoint_deltas(r: &RunResult, requested: bool) -> Vec<i64> {
    server_samples(r)
        .filter_map(|s| s.primary.checkpoints.as_ref())
        .filter_map(|c| {
            if requested {
                c.requested_delta
            } else {
                c.timed_delta
            }
        })
        .collect()
}

/// Nearest-rank percentile of unsorted values (p in 0..=100); NaN for no
/// values.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [5.0, 1.0, 4.0, 2.0, 3.0];
        for (p, want) in [
            (0.0, 1.0),
            (20.0, 1.0),
            (21.0, 2.0),
            (50.0, 3.0),
            (99.0, 5.0),
        ] {
            assert_eq!(percentile(&v, p), want, "p{p}");
        }
        assert!(percentile(&[], 50.0).is_nan());
    }
}
