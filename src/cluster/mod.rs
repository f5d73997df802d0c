//! The primary + streaming replica pair: a `Backend` trait with a local
//! (processes on 127.0.0.1) and a Docker implementation, the cluster state
//! file, and the bring-up sequence written once over the trait.

mod backend;
pub mod bringup;
pub mod diagnose;
pub mod docker;
pub mod failover;
pub mod local;
pub mod operate;
pub mod ops;
pub mod standby;
pub mod state;
pub mod status_text;

pub use backend::{Backend, BackendKind, NodeRuntime, NodeSpec, Prepared, ReplicationAuth};
pub use state::{ClusterState, Secrets, StateDir};

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed ({status}):\n{output}")]
    Command {
        program: String,
        status: String,
        output: String,
    },
    #[error("the Docker engine at {socket} does not answer: {reason}. Start it (e.g. `dockerd &` or `systemctl start docker`), or use --backend local")]
    EngineUnreachable { socket: String, reason: String },
    #[error("failed to {action} {object}: {source}")]
    Docker {
        action: &'static str,
        object: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("image {image} is not present and this machine has no registry. Build it with `{build}`, or pass --image with one you have")]
    ImageMissing { image: String, build: String },
    #[error("{what} is not possible with the {backend} backend{}", hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default())]
    Unsupported {
        what: String,
        backend: &'static str,
        hint: Option<String>,
    },
    #[error("port {port} on 127.0.0.1 is in use; pass a free --port or stop what listens there")]
    PortInUse { port: u16 },
    #[error("no cluster `{name}` in {dir}: bring one up with `estune cluster up --cluster {name}`, or pass --primary DSN")]
    NoCluster { name: String, dir: PathBuf },
    #[error("cluster `{name}` already exists in {dir} ({backend}); `estune cluster down --cluster {name} --purge` removes it, or choose another --cluster name")]
    Exists {
        name: String,
        dir: PathBuf,
        backend: &'static str,
    },
    #[error("{server} did not become ready within {secs}s: {reason}\nlast log lines:\n{log}")]
    NotReady {
        server: String,
        secs: u64,
        reason: String,
        log: String,
    },
    #[error("{replica} does not stream from the primary: {why}. `estune cluster rebuild replica` clones it again from the primary")]
    NotStreaming { replica: String, why: String },
    #[error("{node}: {why}. `estune cluster rebuild replica` clones it again from the primary")]
    Diverged { node: String, why: String },
    #[error("{0}")]
    Refused(String),
    #[error("cluster state {path} is unreadable: {reason}")]
    BadState { path: PathBuf, reason: String },
    #[error(transparent)]
    RunAs(#[from] crate::pgbin::RunAsError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("{server}: {source}")]
    Sql {
        server: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

impl ClusterError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
        let what = what.into();
        move |source| ClusterError::Io { what, source }
    }

    /// Errors the user fixes by changing what they asked for (exit code 2).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            ClusterError::NoCluster { .. }
                | ClusterError::Exists { .. }
                | ClusterError::PortInUse { .. }
                | ClusterError::RunAs(_)
                | ClusterError::ImageMissing { .. }
                | ClusterError::Unsupported { .. }
                | ClusterError::Refused(_)
        )
    }
}
