//! The noise threshold when a side has a single run: a moving-block
//! bootstrap over the run's measured seconds. Seconds next to each other
//! are alike (a checkpoint, a vacuum, a cold cache last several seconds),
//! so resampling single seconds would understate the noise; blocks of
//! ⌈√n⌉ consecutive seconds keep that dependence. A generator of its own
//! with a fixed seed makes every output reproducible, whatever version of
//! a random-number crate is around.

use crate::window::percentile;

/// Resamples per interval: enough for stable 2.5 % and 97.5 % quantiles.
pub const RESAMPLES: usize = 2000;
/// Every interval starts from this seed, so the same runs always give the
/// same thresholds.
pub const SEED: u64 = 0x0E57_C0DE_5EED;

/// What a side's figure is, computed from its per-second values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// The mean second (rates, latency percentiles, cache hit).
    Mean,
    /// Per-run total: the mean second × seconds per run (counts).
    PerRunTotal,
    /// Nearest-rank percentile of the seconds (replication lag p50/p99).
    Percentile(f64),
    /// The worst second (replication lag max).
    Max,
}

impl Stat {
    /// The statistic of `values`, which come from `runs` runs.
    pub fn of(self, values: &[f64], runs: usize) -> f64 {
        let mean = || values.iter().sum::<f64>() / values.len() as f64;
        match self {
            Stat::Mean => mean(),
            Stat::PerRunTotal => mean() * values.len() as f64 / runs.max(1) as f64,
            Stat::Percentile(p) => percentile(values, p),
            Stat::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// The 95 % interval of `stat(b) − stat(a)` by the bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapInterval {
    pub difference: f64,
    pub half_width: f64,
    /// Seconds per block.
    pub block: usize,
}

/// Fewer seconds than this give no interval worth printing.
pub const MIN_SECONDS: usize = 3;

/// The interval for per-second values of two sides, each a list of runs
/// (blocks never cross from one run into the next). None when a side has
/// fewer than [`MIN_SECONDS`] finite seconds.
pub fn interval(a: &[Vec<f64>], b: &[Vec<f64>], stat: Stat) -> Option<BootstrapInterval> {
    let ok = |runs: &[Vec<f64>]| {
        runs.iter().map(Vec::len).sum::<usize>() >= MIN_SECONDS
            && runs.iter().flatten().all(|x| x.is_finite())
    };
    if !ok(a) || !ok(b) {
        return None;
    }
    let n = |runs: &[Vec<f64>]| runs.iter().map(Vec::len).sum::<usize>();
    let shortest = a.iter().chain(b).map(Vec::len).filter(|&l| l > 0).min()?;
    let block = ((n(a).min(n(b)) as f64).sqrt().ceil() as usize).clamp(1, shortest);
    let (sa, sb) = (Side::new(a, block), Side::new(b, block));
    let mut rng = SplitMix64(SEED);
    let diffs: Vec<f64> = (0..RESAMPLES)
        .map(|_| sb.resample(&mut rng, stat) - sa.resample(&mut rng, stat))
        .collect();
    let low = percentile(&diffs, 2.5);
    let high = percentile(&diffs, 97.5);
    let flat = |runs: &[Vec<f64>]| runs.concat();
    Some(BootstrapInterval {
        difference: stat.of(&flat(b), b.len()) - stat.of(&flat(a), a.len()),
        half_width: ((high - low) / 2.0).max(0.0),
        block,
    })
}

/// One side's seconds and where a block may start.
struct Side {
    values: Vec<f64>,
    runs: usize,
    starts: Vec<usize>,
    block: usize,
}

impl Side {
    fn new(runs: &[Vec<f64>], block: usize) -> Side {
        let mut values = Vec::new();
        let mut starts = Vec::new();
        for run in runs {
            let offset = values.len();
            starts.extend((0..=run.len().saturating_sub(block)).map(|i| offset + i));
            if run.len() < block {
                starts.pop();
            }
            values.extend_from_slice(run);
        }
        Side {
            values,
            runs: runs.len(),
            starts,
            block,
        }
    }

    /// As many seconds as the side has, drawn as whole blocks.
    fn resample(&self, rng: &mut SplitMix64, stat: Stat) -> f64 {
        let n = self.values.len();
        let mut out = Vec::with_capacity(n + self.block);
        while out.len() < n {
            let s = self.starts[rng.below(self.starts.len())];
            out.extend_from_slice(&self.values[s..s + self.block]);
        }
        out.truncate(n);
        stat.of(&out, self.runs)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever,
/// unlike a library's default generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0); the bias of a 64-bit modulus is far below
    /// anything a threshold could show.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wobbly(n: usize, level: f64) -> Vec<f64> {
        (0..n)
            .map(|i| level + [3.0, -1.0, 4.0, -1.0, -5.0][i % 5])
            .collect()
    }

    #[test]
    fn splitmix_gives_its_published_sequence() {
        // First outputs for seed 1234567 from the reference C code.
        let mut r = SplitMix64(1_234_567);
        assert_eq!(r.next(), 6_457_827_717_110_365_317);
        assert_eq!(r.next(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn a_constant_series_has_no_width() {
        let a = vec![vec![50.0; 10]];
        let b = vec![vec![52.0; 10]];
        let i = interval(&a, &b, Stat::Mean).unwrap();
        assert_eq!((i.difference, i.half_width, i.block), (2.0, 0.0, 4));
        let i = interval(&a, &a, Stat::PerRunTotal).unwrap();
        assert_eq!((i.difference, i.half_width), (0.0, 0.0));
    }

    #[test]
    fn the_same_input_gives_the_same_interval() {
        let a = vec![wobbly(10, 100.0)];
        let b = vec![wobbly(12, 90.0)];
        let first = interval(&a, &b, Stat::Mean).unwrap();
        for _ in 0..3 {
            assert_eq!(interval(&a, &b, Stat::Mean).unwrap(), first);
        }
        assert!(first.half_width > 0.0, "{first:?}");
    }

    #[test]
    fn the_width_is_of_the_order_of_the_spread() {
        // Independent seconds, uniform in ±6 (sd 12/√12 ≈ 3.46): the
        // difference of two means of 100 has a standard error of
        // 3.46 × √(2/100) ≈ 0.49, so a 95 % half-width near 0.96. Blocks
        // change little for independent seconds; far off means the
        // resampling is wrong.
        let mut g = SplitMix64(7);
        let mut noise = |level: f64| -> Vec<f64> {
            (0..100)
                .map(|_| level + (g.next() >> 11) as f64 / (1u64 << 53) as f64 * 12.0 - 6.0)
                .collect()
        };
        let (a, b) = (vec![noise(10.0)], vec![noise(20.0)]);
        let i = interval(&a, &b, Stat::Mean).unwrap();
        assert!((i.difference - 10.0).abs() < 2.0, "{i:?}");
        assert!(i.half_width > 0.6 && i.half_width < 1.4, "{i:?}");
    }

    #[test]
    fn statistics_of_the_seconds() {
        let v = [1.0, 2.0, 3.0, 10.0];
        assert_eq!(Stat::Mean.of(&v, 1), 4.0);
        assert_eq!(Stat::PerRunTotal.of(&v, 1), 16.0);
        assert_eq!(Stat::PerRunTotal.of(&v, 2), 8.0);
        assert_eq!(Stat::Percentile(50.0).of(&v, 1), 2.0);
        assert_eq!(Stat::Max.of(&v, 1), 10.0);
    }

    #[test]
    fn blocks_stay_within_a_run_and_short_sides_are_refused() {
        // Runs of 3 seconds cap the block at 3 even though ⌈√12⌉ = 4.
        let a = vec![vec![1.0; 3], vec![1.0; 3], vec![1.0; 3], vec![1.0; 3]];
        let i = interval(&a, &a, Stat::Mean).unwrap();
        assert_eq!(i.block, 3);
        assert_eq!(interval(&[vec![1.0, 2.0]], &a, Stat::Mean), None);
        assert_eq!(interval(&[], &a, Stat::Mean), None);
        assert_eq!(interval(&[vec![1.0, f64::NAN, 3.0]], &a, Stat::Mean), None);
    }
}
