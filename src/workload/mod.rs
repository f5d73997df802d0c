//! The workload estune runs: the DCB-style event store of WORKLOAD.md (schema,
//! parameterised filters, guarded appends, snapshots) and its library domain
//! (commands, read-side queries, seeding, invariant replay), plus the
//! `WorkerFactory` that hands it to the load engine.

mod events;
mod factory;
mod filter;
mod library;
mod rules;
mod schema;
mod seed;
mod store;
mod verify;

pub use events::{
    book_id, reader_id, LibraryEvent, NewEvent, StoredEvent, ID_NAMESPACE, MAX_BOOKS_PER_READER,
};
pub use factory::{LibraryFactory, LibraryWorker, Mix, Op};
pub use filter::{Filter, FilterItem, Match, Param};
pub use library::{
    lend_filter, AppendMode, CommandOutcome, CommandResult, Library, RetryPolicy, Route, Routing,
};
pub use rules::{Rejection, Verdict};
pub use schema::{install_schema, install_statement_stats, StatementStats, EVENT_INDEXES};
pub use seed::{seed, seed_with, seed_with_progress, SeedOptions, SeedReport};
pub use store::{append_one_sql, append_sql, query_sql, EventStore, Guard, Snapshot};
pub use verify::{verify_streams, Streams, ViolationKind, Violations};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum WorkloadError {
    #[error("{context}")]
    Db {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("the events table already holds events; seeding refuses to write a second history into it (append to it on purpose, or start from an empty table)")]
    NotEmpty,
    #[error("invalid workload option: {0}")]
    Invalid(String),
    #[error("unknown mix `{name}`; the named mixes are worker-pool-2025 and library-scale, or give weights such as lend=40,return=40,add=10,remove=10")]
    UnknownMix { name: String },
    #[error("cannot connect to the {role}")]
    Connect {
        role: &'static str,
        #[source]
        source: crate::db::DbError,
    },
}

impl WorkloadError {
    /// The SQLSTATE, "connection" for a lost connection, "other" otherwise:
    /// how the load engine classifies errors.
    pub fn class(&self) -> String {
        match self {
            WorkloadError::Db { source, .. } => match source.code() {
                Some(code) => code.code().to_string(),
                None if source.is_closed() => "connection".to_string(),
                None => {
                    let io = std::error::Error::source(source)
                        .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
                    if io { "connection" } else { "other" }.to_string()
                }
            },
            WorkloadError::Connect { .. } => "connection".to_string(),
            _ => "other".to_string(),
        }
    }

    pub fn is_serialization_failure(&self) -> bool {
        self.class() == "40001" || self.class() == "40P01"
    }
}
