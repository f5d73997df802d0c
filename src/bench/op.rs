//! The contract between the load engine and what it runs. The engine knows
//! nothing of the event store's rules: it asks a `WorkerFactory` for one
//! `Worker` per pool slot (each with its own connections) and tells it
//! which operation of the mix to run; the worker reports an `Outcome`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One named operation of a mix and its weight (relative, not a share).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixEntry {
    pub op: String,
    pub weight: f64,
}

/// What an operation came to. Business rejections and conflicts are normal
/// outcomes of the workload, counted apart from errors of the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Done; `events` appended (0 for queries and idempotent no-ops).
    Ok { events: u32, retries: u32 },
    /// The domain refused (e.g. lending a book already lent); its `…Failed`
    /// event was appended.
    Rejected { reason: String, retries: u32 },
    /// The boundary kept changing: the append gave up after all retries.
    Conflict { retries: u32 },
    /// The operation did not finish within the per-operation timeout.
    Timeout,
    /// The server or the connection failed; `class` is the SQLSTATE (e.g.
    /// "40001", "57P01") or "connection" / "other".
    Error { class: String, message: String },
}

impl Outcome {
    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Timeout | Outcome::Error { .. })
    }

    /// The worker's connection is gone: lost (`connection`), a connection
    /// exception (SQLSTATE class 08), or ended by the server for an
    /// operator's reason (57P01 admin shutdown when a primary stops for a
    /// switchover, 57P02 crash, 57P03 not accepting connections yet).
    pub fn lost_connection(&self) -> bool {
        match self {
            Outcome::Error { class, .. } => {
                class == "connection" || class.starts_with("08") || class.starts_with("57P")
            }
            _ => false,
        }
    }

    /// Events the worker was told are committed: the appended ones, and a
    /// rejection's `…Failed` event. A timeout or error acknowledges none
    /// (it may still have committed; that shows as extra rows, never as
    /// missing ones).
    pub fn acknowledged_events(&self) -> u64 {
        match self {
            Outcome::Ok { events, .. } => *events as u64,
            Outcome::Rejected { .. } => 1,
            _ => 0,
        }
    }
}

/// Runs operations on its own connections, one at a time.
#[async_trait]
pub trait Worker: Send {
    /// Runs the operation at `op` (an index into the mix the factory was
    /// built for). Must not panic; must return within a reasonable time
    /// (the engine applies its own timeout around it and counts Timeout).
    async fn run(&mut self, op: usize) -> Outcome;

    /// Once after the run, never on the hot path: each prepared statement
    /// of the worker's sessions and how often it used a generic or a custom
    /// plan (`pg_prepared_statements` shows a session only its own). None
    /// when the worker cannot say; Err with the reason when asking failed.
    async fn plan_counts(&mut self) -> Option<Result<Vec<super::SessionPlans>, String>> {
        None
    }
}

#[async_trait]
pub trait WorkerFactory: Send + Sync {
    type Worker: Worker + 'static;
    /// The operations this factory's workers can run, in mix order.
    fn mix(&self) -> &[MixEntry];
    /// Opens a worker (its connections). Errors name the server.
    async fn worker(&self, id: usize) -> anyhow::Result<Self::Worker>;
}
