//! What the client itself costs: CPU seconds over the measured window and
//! memory at the end of the run, read from the kernel (getrusage and
//! /proc/self/status), so a benchmark can compare estune with pgbench.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The client's own use of the machine during a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientUsage {
    /// User plus system CPU of the whole estune process over the measured
    /// window (workers, scheduler, aggregation and server sampling).
    pub cpu_s: f64,
    /// `cpu_s` per 1,000 operations finished in the window.
    pub cpu_s_per_1000_ops: f64,
    /// Resident memory when the run ended (VmRSS).
    pub rss_bytes: u64,
    /// The highest resident memory of the process so far (VmHWM).
    pub peak_rss_bytes: u64,
}

/// Total CPU (user + system) this process has used; None where the kernel
/// will not say.
pub fn cpu_time() -> Option<Duration> {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    Some(tv(u.user_time()) + tv(u.system_time()))
}

/// (VmRSS, VmHWM) in bytes from /proc/self/status.
pub fn memory() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status(&text)
}

fn parse_status(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The usage of a window whose CPU clock read `from` at its start and `to`
/// at its end, for `ops` operations; memory is read now.
pub fn window(from: Duration, to: Duration, ops: u64) -> Option<ClientUsage> {
    let cpu = to.saturating_sub(from).as_secs_f64();
    let (rss, peak) = memory()?;
    Some(ClientUsage {
        cpu_s: (cpu * 1000.0).round() / 1000.0,
        cpu_s_per_1000_ops: if ops > 0 {
            (cpu * 1000.0 / ops as f64 * 10_000.0).round() / 10_000.0
        } else {
            0.0
        },
        rss_bytes: rss,
        peak_rss_bytes: peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields() {
        let text = "Name:\testune\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";
        assert_eq!(parse_status(text), Some((10240 * 1024, 20480 * 1024)));
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_is_measured() {
        let before = cpu_time().expect("getrusage works on Linux");
        // Burn a little CPU so the clock moves.
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = cpu_time().unwrap();
        assert!(after >= before);
        let u = window(before, after, 1000).expect("/proc/self/status is readable");
        assert!(u.rss_bytes > 0 && u.peak_rss_bytes >= u.rss_bytes, "{u:?}");
        let u = window(Duration::from_secs(1), Duration::from_secs(3), 4000).unwrap();
        assert_eq!((u.cpu_s, u.cpu_s_per_1000_ops), (2.0, 0.5));
        assert_eq!(window(before, after, 0).unwrap().cpu_s_per_1000_ops, 0.0);
    }
}
