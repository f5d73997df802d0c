//! Is the pair healthy? SQL probes take a [`Snapshot`] of each server, and
//! rules turn it into findings (OK / WARN / CRIT / UNKNOWN) against
//! thresholds from `checks/health.toml`. Nothing here prints: the CLI
//! renders findings with [`format`].

pub mod format;
mod managed;
mod probe;
mod rates;
mod rules;
mod snapshot;
mod thresholds;

pub use managed::{add_cluster_facts, add_profile_drift};
pub use probe::{probe_pair, Target};
pub use rates::with_rates;
pub use rules::{evaluate, worst, Finding, Perf, Status};
pub use snapshot::*;
pub use thresholds::{ThresholdError, Thresholds};

#[cfg(test)]
mod rules_tests;
