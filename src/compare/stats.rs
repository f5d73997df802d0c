//! The statistics behind a noise threshold when each side has several
//! runs: Welch's interval on the difference of two means, with its own
//! Student t quantile (Welch–Satterthwaite degrees of freedom are not
//! whole numbers, so a table of t values would not do).

/// Two-sided 95 %: the quantile is 0.975.
pub const CONFIDENCE: f64 = 0.95;

/// Mean of the values; NaN for none.
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Mean of the runs that have the figure (finite values); None for none.
pub fn mean_of_known(v: &[Option<f64>]) -> Option<f64> {
    let known: Vec<f64> = v
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    (!known.is_empty()).then(|| mean(&known))
}

/// Sample variance (n − 1 in the denominator); NaN for fewer than 2.
pub fn variance(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)
}

/// Welch's interval on `mean(b) − mean(a)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchInterval {
    pub difference: f64,
    /// Half the width of the 95 % interval: t × standard error.
    pub half_width: f64,
    /// Welch–Satterthwaite degrees of freedom; None when both samples are
    /// constant (the interval is then the point itself).
    pub df: Option<f64>,
}

/// None unless both samples have at least 2 finite values.
pub fn welch(a: &[f64], b: &[f64]) -> Option<WelchInterval> {
    let finite = |v: &[f64]| v.len() >= 2 && v.iter().all(|x| x.is_finite());
    if !finite(a) || !finite(b) {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (variance(a) / na, variance(b) / nb);
    let difference = mean(b) - mean(a);
    let se2 = va + vb;
    if se2 == 0.0 {
        return Some(WelchInterval {
            difference,
            half_width: 0.0,
            df: None,
        });
    }
    let df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let t = t_quantile(0.5 + CONFIDENCE / 2.0, df)?;
    Some(WelchInterval {
        difference,
        half_width: t * se2.sqrt(),
        df: Some(df),
    })
}

/// The p-quantile of Student's t with `df` degrees of freedom (df > 0,
/// 0.5 <= p < 1), by bisection on the distribution function. None for
/// arguments outside that range.
pub fn t_quantile(p: f64, df: f64) -> Option<f64> {
    if !(0.5..1.0).contains(&p) || df.is_nan() || df <= 0.0 || df.is_infinite() {
        return None;
    }
    let mut hi = 1.0;
    while t_cdf(hi, df) < p {
        hi *= 2.0;
        if hi > 1e12 {
            return None;
        }
    }
    let mut lo = 0.0;
    // Halving 100 times takes any bracket below f64 resolution.
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((lo + hi) / 2.0)
}

/// P(T <= t) for t >= 0: 1 − I_x(df/2, 1/2) / 2 with x = df / (df + t²).
fn t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    1.0 - 0.5 * incomplete_beta(x, df / 2.0, 0.5)
}

/// The regularised incomplete beta function I_x(a, b), by its continued
/// fraction (Numerical Recipes, `betai`), using the symmetry
/// I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

/// Lentz's evaluation of the incomplete beta's continued fraction.
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ] {
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine coefficients: about 15
/// significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        sum += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_printed_table() {
        // Two-sided 95 % (p = 0.975) and 90 % (p = 0.95) critical values
        // from any statistics table, to the 4 decimals printed there.
        for (p, df, want) in [
            (0.975, 1.0, 12.7062),
            (0.975, 2.0, 4.3027),
            (0.975, 3.0, 3.1824),
            (0.975, 4.0, 2.7764),
            (0.975, 5.0, 2.5706),
            (0.975, 10.0, 2.2281),
            (0.975, 30.0, 2.0423),
            (0.975, 1000.0, 1.9623),
            (0.95, 1.0, 6.3138),
            (0.95, 9.0, 1.8331),
            (0.5, 7.0, 0.0),
        ] {
            let t = t_quantile(p, df).unwrap();
            assert!(close(t, want, 6e-5), "t({p}, {df}) = {t}, table {want}");
        }
    }

    #[test]
    fn t_quantile_between_whole_df_lies_between_their_values() {
        // Non-integer df (Welch's) falls between its neighbours; 4.5 by
        // numerical integration of the density (Simpson, 2 × 10^5
        // steps): 2.65891.
        let t = t_quantile(0.975, 4.5).unwrap();
        assert!(t < 2.7764 && t > 2.5706, "{t}");
        assert!(close(t, 2.65891, 1e-4), "{t}");
    }

    #[test]
    fn t_quantile_refuses_what_it_cannot_answer() {
        for (p, df) in [(0.4, 3.0), (1.0, 3.0), (0.975, 0.0), (0.975, f64::NAN)] {
            assert_eq!(t_quantile(p, df), None, "p {p} df {df}");
        }
    }

    #[test]
    fn welch_on_equal_variances() {
        // a = 10, 12, 14 (mean 12, s² 4); b = 14, 16, 18 (mean 16, s² 4).
        // se² = 4/3 + 4/3 = 8/3; df = (8/3)² / (2 × (4/3)² / 2) = 4;
        // t(0.975, 4) = 2.7764; half-width = 2.7764 × √(8/3) = 4.5339.
        let w = welch(&[10.0, 12.0, 14.0], &[14.0, 16.0, 18.0]).unwrap();
        assert_eq!(w.difference, 4.0);
        assert!(close(w.df.unwrap(), 4.0, 1e-12));
        assert!(close(w.half_width, 4.5339, 1e-4), "{w:?}");
    }

    #[test]
    fn welch_on_unequal_variances_and_sizes() {
        // a = 1, 2, 3 (mean 2, s² 1); b = 5, 7, 9, 11 (mean 8, s² 20/3).
        // se² = 1/3 + 5/3 = 2; df = 4 / ((1/3)²/2 + (5/3)²/3) = 4.0755;
        // t(0.975, 4.0755) = 2.75628 (Simpson integration of the
        // density); half-width = 2.75628 × √2 = 3.89798: the interval
        // 6 ± 3.90 excludes 0.
        let w = welch(&[1.0, 2.0, 3.0], &[5.0, 7.0, 9.0, 11.0]).unwrap();
        assert_eq!(w.difference, 6.0);
        assert!(close(w.df.unwrap(), 4.0755, 1e-4), "{w:?}");
        assert!(close(w.half_width, 3.89798, 1e-4), "{w:?}");
    }

    #[test]
    fn welch_on_constant_samples_has_no_width() {
        let w = welch(&[50.0, 50.0], &[50.0, 50.0, 50.0]).unwrap();
        assert_eq!((w.difference, w.half_width, w.df), (0.0, 0.0, None));
        let w = welch(&[0.0, 0.0], &[3.0, 3.0]).unwrap();
        assert_eq!((w.difference, w.half_width), (3.0, 0.0));
    }

    #[test]
    fn welch_needs_two_finite_values_a_side() {
        assert_eq!(welch(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(welch(&[1.0, 2.0], &[]), None);
        assert_eq!(welch(&[1.0, f64::NAN], &[1.0, 2.0]), None);
    }
}
