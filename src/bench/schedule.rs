//! When each operation should start and which one it is. Intended start
//! times come from the run's start alone (`i / rate`, or cumulative
//! exponential gaps), never from when the previous operation finished:
//! that is what keeps a slow server from silently slowing the load down
//! (coordinated omission, as wrk2 and pgbench `-R` avoid it).

use super::{Arrivals, BenchError, MixEntry};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// Offsets from the run's start of the intended start of op 0, 1, 2, …
pub struct OpenLoopSchedule {
    rate: f64,
    index: u64,
    /// Poisson only: the running sum of gaps, in seconds.
    elapsed: f64,
    rng: Option<StdRng>,
}

impl OpenLoopSchedule {
    pub fn new(rate: f64, arrivals: Arrivals) -> Self {
        let rng = match arrivals {
            Arrivals::Uniform => None,
            Arrivals::Poisson { seed } => Some(StdRng::seed_from_u64(seed)),
        };
        OpenLoopSchedule {
            rate,
            index: 0,
            elapsed: 0.0,
            rng,
        }
    }
}

impl Iterator for OpenLoopSchedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let secs = match &mut self.rng {
            // Multiplying (not adding 1/rate each time) keeps float error
            // from accumulating over millions of operations.
            None => self.index as f64 / self.rate,
            Some(rng) => {
                let now = self.elapsed;
                // 1 - u is in (0, 1], so ln never sees 0.
                let u: f64 = rng.random();
                self.elapsed += -(1.0 - u).ln() / self.rate;
                now
            }
        };
        self.index += 1;
        Some(Duration::from_secs_f64(secs))
    }
}

/// Picks an operation of the mix by weight, from a seeded generator.
pub struct MixChooser {
    cumulative: Vec<f64>,
    rng: StdRng,
}

impl MixChooser {
    pub fn new(mix: &[MixEntry], seed: u64) -> Result<Self, BenchError> {
        let mut sum = 0.0;
        let cumulative: Vec<f64> = mix
            .iter()
            .map(|e| {
                if e.weight.is_finite() && e.weight > 0.0 {
                    sum += e.weight;
                }
                sum
            })
            .collect();
        if sum <= 0.0 {
            return Err(BenchError::EmptyMix);
        }
        Ok(MixChooser {
            cumulative,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    pub fn choose(&mut self) -> usize {
        let total = *self.cumulative.last().expect("checked non-empty");
        let x = self.rng.random::<f64>() * total;
        // First entry whose cumulative weight exceeds x; zero-weight entries
        // share their predecessor's cumulative value and are never chosen.
        self.cumulative
            .iter()
            .position(|c| x < *c)
            .unwrap_or(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: &str, weight: f64) -> MixEntry {
        MixEntry {
            op: op.into(),
            weight,
        }
    }

    #[test]
    fn uniform_offsets_are_i_over_rate() {
        let s: Vec<_> = OpenLoopSchedule::new(4.0, Arrivals::Uniform)
            .take(5)
            .collect();
        let ms: Vec<u128> = s.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![0, 250, 500, 750, 1000]);
    }

    #[test]
    fn poisson_mean_gap_is_one_over_rate_and_seeded() {
        let a: Vec<_> = OpenLoopSchedule::new(100.0, Arrivals::Poisson { seed: 7 })
            .take(20_001)
            .collect();
        let b: Vec<_> = OpenLoopSchedule::new(100.0, Arrivals::Poisson { seed: 7 })
            .take(20_001)
            .collect();
        assert_eq!(a, b);
        let mean = a.last().unwrap().as_secs_f64() / 20_000.0;
        assert!((mean - 0.01).abs() < 0.0005, "mean gap {mean}");
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn mix_follows_weights() {
        let mix = [entry("a", 20.0), entry("none", 0.0), entry("b", 80.0)];
        let mut c = MixChooser::new(&mix, 3).unwrap();
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[c.choose()] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((1_800..2_200).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn empty_or_zero_mix_is_refused() {
        assert!(MixChooser::new(&[], 1).is_err());
        assert!(MixChooser::new(&[entry("a", 0.0)], 1).is_err());
        assert!(MixChooser::new(&[entry("a", f64::NAN)], 1).is_err());
    }
}
