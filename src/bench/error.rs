//! One error type for the engine: bad options are refused before anything
//! runs, and a worker that cannot open its connections stops the run
//! before it starts (a half-sized pool would measure the wrong thing).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("invalid option --{option}: {value} (allowed: {allowed})")]
    InvalidOption {
        option: &'static str,
        value: String,
        allowed: &'static str,
    },
    #[error(
        "the mix is empty or has no positive weight; give at least one operation a weight > 0"
    )]
    EmptyMix,
    #[error("could not open worker {id} before the run: {source:#}")]
    Worker {
        id: usize,
        #[source]
        source: anyhow::Error,
    },
    #[error("stopped while opening the workers; nothing was measured")]
    StoppedBeforeStart,
    #[error("invalid rate list {input:?}: {reason}")]
    InvalidRates { input: String, reason: String },
    #[error("could not write the result to {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not encode the result as JSON: {0}")]
    Json(#[from] serde_json::Error),
}
