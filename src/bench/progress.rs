//! A progress bar for `estune bench`: elapsed of total seconds with the
//! live rate, p99 and errors. Hidden when stderr is not a terminal, so
//! logs and CI output stay clean.

use super::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct BenchProgressBar {
    bar: ProgressBar,
}

impl BenchProgressBar {
    /// `total_s` is warm-up plus duration.
    pub fn new(total_s: u64) -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self::with_target(total_s, target)
    }

    pub fn hidden(total_s: u64) -> Self {
        Self::with_target(total_s, ProgressDrawTarget::hidden())
    }

    fn with_target(total_s: u64, target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total_s), target);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len}s {msg}").expect("valid template"),
        );
        BenchProgressBar { bar }
    }

    pub fn update(&self, p: &Progress) {
        self.bar.set_position(p.elapsed_s.min(p.total_s));
        self.bar.set_message(message(p));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The text beside the bar; pure so it can be tested.
pub fn message(p: &Progress) -> String {
    let phase = if p.in_warmup { " warm-up" } else { "" };
    format!(
        "{}{phase}  {:.0} ops/s  p99 {:.1} ms  errors {}  dropped {}  late {}  in flight {}",
        p.mode,
        p.rate,
        p.p99_us as f64 / 1000.0,
        p.errors,
        p.dropped,
        p.late,
        p.in_flight
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_mode_and_figures() {
        let p = Progress {
            mode: "closed-loop".into(),
            elapsed_s: 3,
            total_s: 10,
            in_warmup: true,
            rate: 250.0,
            p99_us: 12_345,
            completed: 700,
            errors: 2,
            dropped: 0,
            late: 1,
            in_flight: 4,
        };
        let m = message(&p);
        assert_eq!(
            m,
            "closed-loop warm-up  250 ops/s  p99 12.3 ms  errors 2  dropped 0  late 1  in flight 4"
        );
        let bar = BenchProgressBar::hidden(10);
        bar.update(&p);
        bar.finish();
    }
}
