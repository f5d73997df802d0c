//! The load engine: an open-loop scheduler, a worker pool behind a bounded
//! queue, latency histograms and per-second series, server samplers, and
//! the versioned run result. Knows nothing of the domain's rules.

mod aggregate;
mod engine;
mod error;
mod op;
mod options;
mod progress;
mod result;
mod sampler;
mod schedule;
pub mod statements;
mod sweep;
mod table;
mod usage;

pub use aggregate::Progress;
pub use engine::{run, RunHooks, StopToken};
pub use error::BenchError;
pub use op::{MixEntry, Outcome, Worker, WorkerFactory};
pub use options::{Arrivals, BenchOptions, LATE_TOLERANCE};
pub use progress::BenchProgressBar;
pub use result::{
    ErrorCounts, Host, Latencies, LatencyStats, Metadata, OpSummary, PercentileValue, RunResult,
    SecondOp, SecondRow, ServerInfo, Summary, Target, Verification, SCHEMA, SPECTRUM,
};
pub use sampler::{
    Checkpoints, ConnectionCount, EventsTableActivity, ReplicaLag, ServerSample, ServerSampler,
    ServerStats,
};
pub use schedule::{MixChooser, OpenLoopSchedule};
pub use statements::{SessionPlans, StatementProbe, Statements};
pub use sweep::{evaluate, parse_rates, sweep, SweepCriteria, SweepReport, SweepRow};
pub use table::{headline, summary_table, sweep_table};
pub use usage::ClientUsage;
