//! From two sides' figures and a noise threshold to a delta and a verdict.
//! The one rule: a change is better or worse when it is larger than the
//! threshold (for Welch's interval, exactly when the interval excludes 0),
//! and within noise otherwise.

use serde::Serialize;

/// Which way a figure should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// Neither way is better in itself (autovacuum runs, rejections).
    Neutral,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Better,
    Worse,
    WithinNoise,
    /// A neutral figure moved by more than the noise.
    Changed,
    /// The figures differ but there is no threshold to judge them by.
    NoEstimate,
    /// A side has no value for the figure.
    NoData,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::WithinNoise => "within noise",
            Verdict::Changed => "changed",
            Verdict::NoEstimate => "no noise estimate",
            Verdict::NoData => "no data",
        }
    }

    /// The CSS class of a verdict cell in HTML.
    pub fn class(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::WithinNoise => "noise",
            Verdict::Changed => "changed",
            Verdict::NoEstimate | Verdict::NoData => "unknown",
        }
    }
}

/// A side's figure against the baseline's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    /// side − baseline, in the figure's unit.
    pub change: Option<f64>,
    /// The change relative to the baseline, in %; null when the baseline
    /// is 0 (the change is then shown as an absolute one).
    pub change_pct: Option<f64>,
    /// The noise threshold in the figure's unit; null when there is none.
    pub threshold: Option<f64>,
    /// The threshold relative to the baseline, in %.
    pub threshold_pct: Option<f64>,
    pub verdict: Verdict,
    /// Why there is no threshold, when there is none.
    pub note: Option<String>,
}

/// The delta of `side` against `base` with a threshold (or why there is
/// none). Non-finite inputs count as missing, never as a verdict.
pub fn judge(
    direction: Direction,
    base: Option<f64>,
    side: Option<f64>,
    threshold: Result<f64, String>,
) -> Delta {
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    let (Some(b), Some(s)) = (finite(base), finite(side)) else {
        return Delta {
            change: None,
            change_pct: None,
            threshold: None,
            threshold_pct: None,
            verdict: Verdict::NoData,
            note: None,
        };
    };
    let change = s - b;
    let relative = |x: f64| (b != 0.0).then(|| x / b.abs() * 100.0);
    let (threshold, note) = match threshold {
        Ok(t) if t.is_finite() && t >= 0.0 => (Some(t), None),
        Ok(_) => (
            None,
            Some("the threshold could not be computed".to_string()),
        ),
        Err(why) => (None, Some(why)),
    };
    let verdict = match threshold {
        _ if change == 0.0 => Verdict::WithinNoise,
        None => Verdict::NoEstimate,
        Some(t) if change.abs() <= t => Verdict::WithinNoise,
        Some(_) => match direction {
            Direction::Neutral => Verdict::Changed,
            Direction::HigherIsBetter if change > 0.0 => Verdict::Better,
            Direction::LowerIsBetter if change < 0.0 => Verdict::Better,
            _ => Verdict::Worse,
        },
    };
    Delta {
        change: Some(change),
        change_pct: relative(change),
        threshold,
        threshold_pct: threshold.and_then(relative),
        verdict,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::*;
    use Verdict::*;

    /// (direction, baseline, side, threshold, verdict, change %, threshold %)
    type Case = (
        Direction,
        f64,
        f64,
        Result<f64, &'static str>,
        Verdict,
        Option<f64>,
        Option<f64>,
    );

    #[test]
    fn verdicts_at_and_around_the_threshold() {
        let cases: &[Case] = &[
            (
                HigherIsBetter,
                100.0,
                110.0,
                Ok(5.0),
                Better,
                Some(10.0),
                Some(5.0),
            ),
            (
                HigherIsBetter,
                100.0,
                90.0,
                Ok(5.0),
                Worse,
                Some(-10.0),
                Some(5.0),
            ),
            (
                LowerIsBetter,
                100.0,
                90.0,
                Ok(5.0),
                Better,
                Some(-10.0),
                Some(5.0),
            ),
            (
                LowerIsBetter,
                100.0,
                110.0,
                Ok(5.0),
                Worse,
                Some(10.0),
                Some(5.0),
            ),
            // Exactly at the threshold is not beyond it.
            (
                LowerIsBetter,
                100.0,
                105.0,
                Ok(5.0),
                WithinNoise,
                Some(5.0),
                Some(5.0),
            ),
            (
                LowerIsBetter,
                100.0,
                105.001,
                Ok(5.0),
                Worse,
                Some(5.001),
                Some(5.0),
            ),
            (
                HigherIsBetter,
                100.0,
                95.0,
                Ok(5.0),
                WithinNoise,
                Some(-5.0),
                Some(5.0),
            ),
            (Neutral, 4.0, 8.0, Ok(1.0), Changed, Some(100.0), Some(25.0)),
            (
                Neutral,
                4.0,
                4.5,
                Ok(1.0),
                WithinNoise,
                Some(12.5),
                Some(25.0),
            ),
            // A zero threshold: any change is beyond it.
            (
                LowerIsBetter,
                10.0,
                11.0,
                Ok(0.0),
                Worse,
                Some(10.0),
                Some(0.0),
            ),
            // No threshold: equal figures are still within noise.
            (
                LowerIsBetter,
                7.0,
                7.0,
                Err("none"),
                WithinNoise,
                Some(0.0),
                None,
            ),
            (
                LowerIsBetter,
                7.0,
                8.0,
                Err("none"),
                NoEstimate,
                Some(100.0 / 7.0),
                None,
            ),
            // Zero baselines: no percentage, the change stays absolute.
            (LowerIsBetter, 0.0, 3.0, Ok(1.0), Worse, None, None),
            (LowerIsBetter, 0.0, 0.0, Ok(0.0), WithinNoise, None, None),
            (
                HigherIsBetter,
                -4.0,
                -2.0,
                Ok(1.0),
                Better,
                Some(50.0),
                Some(25.0),
            ),
        ];
        for (i, (d, b, s, t, v, pct, tpct)) in cases.iter().enumerate() {
            let got = judge(*d, Some(*b), Some(*s), t.map_err(String::from));
            assert_eq!(got.verdict, *v, "case {i}: {got:?}");
            assert_eq!(got.change, Some(s - b), "case {i}");
            let near = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (a, b) => a == b,
            };
            assert!(near(got.change_pct, *pct), "case {i}: {got:?}");
            assert!(near(got.threshold_pct, *tpct), "case {i}: {got:?}");
        }
    }

    #[test]
    fn missing_or_broken_figures_have_no_verdict() {
        for (b, s) in [
            (None, Some(1.0)),
            (Some(1.0), None),
            (Some(f64::NAN), Some(1.0)),
            (Some(1.0), Some(f64::INFINITY)),
        ] {
            let d = judge(LowerIsBetter, b, s, Ok(1.0));
            assert_eq!((d.verdict, d.change), (NoData, None), "{b:?} {s:?}");
        }
        let d = judge(LowerIsBetter, Some(1.0), Some(2.0), Ok(f64::NAN));
        assert_eq!(d.verdict, NoEstimate);
        assert!(d.note.is_some());
    }
}
