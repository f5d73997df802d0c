//! The load engine: an open-loop scheduler, a worker pool behind a bounded
//! queue, latency histograms and per-second series, server samplers, and
//! the versioned run result. Knows nothing of the domain's rules.

mod op;

pub use op::{MixEntry, Outcome, Worker, WorkerFactory};
