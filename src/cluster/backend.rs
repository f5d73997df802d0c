//! What a backend must do for the bring-up and apply sequences, which are
//! written once (in `bringup` and `crate::apply`) over this trait.
//!
//! Operations are at the level of PostgreSQL tasks (initdb, base backup,
//! configuration files, start/stop) rather than "run a command", because a
//! Docker node runs postgres as the container's main process: its initdb
//! and base backup run in one-off containers on the same volume.

use super::ClusterError;
use crate::tune::Role;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Local,
    Docker,
}

impl BackendKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::Docker => "docker",
        }
    }
}

/// Everything a backend needs to know about one server of the pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub cluster: String,
    /// The node's own name ("pg1", "pg2"): its container, volume and
    /// directory are named after it, because the role moves between nodes
    /// on a switchover or failover. Clusters made before roles could move
    /// have their first role's name here.
    #[serde(default)]
    pub name: String,
    /// What the node is now. Changed by switchover and failover only.
    pub role: Role,
    /// A former primary that a failover left behind: its timeline forked
    /// from the new primary's, so it may run again only after pg_rewind
    /// made it the new primary's standby (`cluster up` does that).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejoin: bool,
    /// Port on 127.0.0.1 of the host, where estune and clients connect.
    pub host_port: u16,
    /// The data directory as the server sees it (a host path for local, a
    /// path inside the container for docker).
    pub data_dir: String,
    /// Container limits (docker only; local records them for the budget).
    pub memory: Option<u64>,
    pub memory_reservation: Option<u64>,
    pub shm_size: Option<u64>,
    pub cpus: Option<f64>,
}

/// What `prepare` found or created that the configuration must know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    /// Networks (CIDR) that client and replication connections come from
    /// besides loopback: the Docker network's subnet, as published ports
    /// arrive from its gateway. Empty for local.
    pub client_networks: Vec<String>,
}

/// What the server's host says about it, beyond what SQL can.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRuntime {
    pub running: bool,
    /// OS process id of the postmaster (local) or the container's main pid.
    pub pid: Option<u32>,
    pub memory_usage: Option<u64>,
    pub memory_limit: Option<u64>,
    pub memory_reservation: Option<u64>,
    pub oom_killed: Option<bool>,
    pub restarts: Option<u64>,
    pub exit_code: Option<i64>,
    /// Container name or data directory, for people.
    pub location: String,
    /// Why the server is down although nobody stopped it: a stale
    /// postmaster.pid, a container's non-zero exit code or OOM kill.
    /// `None` while running or after a clean stop.
    pub crashed: Option<String>,
}

/// Credentials for `basebackup`.
#[derive(Debug, Clone)]
pub struct ReplicationAuth {
    pub user: String,
    pub password: String,
    pub slot: String,
}

#[async_trait]
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// Where a node's data directory lives, as the server sees it.
    fn data_dir(&self, cluster: &str, node: &str) -> String;

    /// Checks, before anything is created, that the backend can work:
    /// binaries found (local), engine reachable and image present (docker).
    /// Returns the PostgreSQL version the nodes will run ("15.18").
    async fn preflight(&self) -> Result<String, ClusterError>;

    /// Creates what the nodes share (the Docker network). Idempotent.
    async fn prepare(&self, cluster: &str) -> Result<Prepared, ClusterError>;

    /// Creates the node's data directory with initdb (scram-sha-256, data
    /// checksums, superuser `postgres` with this password). Starts nothing.
    /// Fails if the data directory already holds a cluster.
    async fn initdb(&self, node: &NodeSpec, superuser_password: &str) -> Result<(), ClusterError>;

    /// Fills the replica's empty data directory from the running primary:
    /// `pg_basebackup -R -S slot -X stream`, connecting the way the replica
    /// will connect later (so primary_conninfo is right for this backend).
    async fn basebackup(
        &self,
        replica: &NodeSpec,
        primary: &NodeSpec,
        auth: &ReplicationAuth,
    ) -> Result<(), ClusterError>;

    /// Writes files (postgresql.conf, pg_hba.conf, …) into the data
    /// directory, owned by the server's OS user, mode 0600, each replaced
    /// whole. The server may be running or not.
    async fn write_config(
        &self,
        node: &NodeSpec,
        files: &[(String, String)],
    ) -> Result<(), ClusterError>;

    /// Reads a file of the data directory; `None` when it does not exist.
    async fn read_config(
        &self,
        node: &NodeSpec,
        name: &str,
    ) -> Result<Option<String>, ClusterError>;

    /// Starts the server on its port (listen address and port are set by
    /// the backend on the command line, so config files need not know
    /// them). Returns once the process runs; the caller polls readiness
    /// through SQL with a deadline. Starting a running server is an error.
    async fn start(&self, node: &NodeSpec) -> Result<(), ClusterError>;

    /// Fast shutdown; waits until the server is down. Idempotent.
    async fn stop(&self, node: &NodeSpec) -> Result<(), ClusterError>;

    /// Makes sure nothing restarts a stopped server behind estune's back
    /// (docker: restart policy `no`; `start` sets it back). A failover
    /// fences the old primary this way, so it cannot come back as a
    /// second primary. Local servers are never restarted by anyone.
    async fn fence(&self, node: &NodeSpec) -> Result<(), ClusterError>;

    /// The output of pg_controldata on the node's data directory (the
    /// server may run or not).
    async fn control_data(&self, node: &NodeSpec) -> Result<String, ClusterError>;

    /// Rewinds a stopped former primary to `source`, the running new
    /// primary, with pg_rewind (a server that did not shut down cleanly
    /// gets crash recovery first). Returns pg_rewind's output.
    async fn rewind(
        &self,
        target: &NodeSpec,
        source: &NodeSpec,
        superuser_password: &str,
    ) -> Result<String, ClusterError>;

    /// Deletes the data directory of a stopped node, for a new base
    /// backup. Keeps the node (container, volume, directory).
    async fn clear_data(&self, node: &NodeSpec) -> Result<(), ClusterError>;

    /// Stores the replication password where `node`'s WAL receiver reads
    /// it and returns the primary_conninfo that reaches `primary` from
    /// `node` (127.0.0.1 and the host port locally, the container's name
    /// on the cluster network for docker).
    async fn standby_conninfo(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        auth: &ReplicationAuth,
    ) -> Result<String, ClusterError>;

    /// The last `lines` lines of the server's log.
    async fn logs(&self, node: &NodeSpec, lines: usize) -> Result<String, ClusterError>;

    /// Streams the log to stdout until the future is dropped (Ctrl-C).
    async fn follow_logs(&self, node: &NodeSpec) -> Result<(), ClusterError>;

    async fn runtime(&self, node: &NodeSpec) -> Result<NodeRuntime, ClusterError>;

    /// Changes the memory limit and reservation of a running node (docker
    /// update). Local: `ClusterError::Unsupported`.
    async fn set_memory(
        &self,
        node: &NodeSpec,
        limit: u64,
        reservation: Option<u64>,
    ) -> Result<(), ClusterError>;

    /// Removes the nodes and shared resources. Keeps data (directories,
    /// volumes) unless `purge`. Idempotent: missing pieces are not errors.
    async fn remove(
        &self,
        cluster: &str,
        nodes: &[NodeSpec],
        purge: bool,
    ) -> Result<(), ClusterError>;
}
