//! Operating an existing pair: start, stop and restart either server or
//! both, and `up` on a cluster that exists, which brings it back to the
//! declared state (both running, the replica streaming) and says what it
//! did. Switchover, failover and rebuilds are in `failover`.

use super::{
    bringup, diagnose, ops, Backend, BackendKind, ClusterError, ClusterState, NodeSpec,
    ReplicationAuth, Secrets, StateDir,
};
use crate::tune::Role;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// How long `up` and `start` wait for the replica to stream before they
/// explain why it does not.
pub const STREAM_WAIT: Duration = Duration::from_secs(45);

/// An open cluster: its state, backend, secrets and where progress goes.
pub struct Operator<'a> {
    pub state: ClusterState,
    pub dir: &'a StateDir,
    pub backend: Box<dyn Backend>,
    pub secrets: Secrets,
    pub progress: &'a (dyn Fn(&str) + Sync),
    started: Instant,
}

/// "pg1 (primary, 127.0.0.1:5433)".
pub fn label(node: &NodeSpec) -> String {
    format!(
        "{} ({}, 127.0.0.1:{})",
        node.name, node.role, node.host_port
    )
}

/// Both roles, the primary first, or only `only`.
fn chosen(only: Option<Role>) -> impl Iterator<Item = Role> {
    Role::BOTH
        .into_iter()
        .filter(move |r| only.is_none_or(|o| o == *r))
}

impl<'a> Operator<'a> {
    pub fn open(
        dir: &'a StateDir,
        name: &str,
        progress: &'a (dyn Fn(&str) + Sync),
    ) -> Result<Operator<'a>, ClusterError> {
        let state = dir.load(name)?;
        let backend = ops::open_backend(&state, dir)?;
        let secrets = dir.load_secrets(name)?;
        Ok(Operator {
            state,
            dir,
            backend,
            secrets,
            progress,
            started: Instant::now(),
        })
    }

    pub fn say(&self, line: &str) {
        (self.progress)(&format!(
            "[{:>5.1}s] {line}",
            self.started.elapsed().as_secs_f64()
        ));
    }

    pub fn node(&self, role: Role) -> NodeSpec {
        self.state.node(role).clone()
    }

    pub fn auth(&self) -> ReplicationAuth {
        ReplicationAuth {
            user: self.state.replication_user.clone(),
            password: self.secrets.replication.clone(),
            slot: self.state.replication_slot.clone(),
        }
    }

    pub fn save(&self) -> Result<(), ClusterError> {
        self.dir.save(&self.state)
    }

    pub async fn connect(&self, node: &NodeSpec) -> Result<Client, ClusterError> {
        let dsn = bringup::superuser_conninfo(node, &self.secrets);
        Ok(crate::db::connect(&dsn, Duration::from_secs(5)).await?)
    }

    pub fn sql(node: &NodeSpec) -> impl Fn(tokio_postgres::Error) -> ClusterError {
        let server = label(node);
        move |source| ClusterError::Sql {
            server: server.clone(),
            source,
        }
    }

    /// Starts a stopped node and waits until it accepts connections. A
    /// postmaster killed with -9 leaves children that hold its shared
    /// memory for a moment; the start is retried while they exit.
    pub async fn start_node(&self, node: &NodeSpec) -> Result<Client, ClusterError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.backend.start(node).await?;
            match bringup::wait_ready(self.backend.as_ref(), node, &self.secrets).await {
                Ok(c) => return Ok(c),
                Err(ClusterError::NotReady { log, .. })
                    if attempt < 5 && log.contains("pre-existing shared memory block") =>
                {
                    self.say(&format!(
                        "{}: the old server's processes still hold its shared memory; retrying",
                        node.name
                    ));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts the node unless it runs; says which it was.
    async fn ensure_running(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        let rt = self.backend.runtime(node).await?;
        if rt.running {
            bringup::wait_ready(self.backend.as_ref(), node, &self.secrets).await?;
            self.say(&format!("{}: running, left as is", label(node)));
            return Ok(());
        }
        match &rt.crashed {
            Some(why) => self.say(&format!(
                "{}: crashed ({why}); starting it, crash recovery replays its WAL",
                label(node)
            )),
            None => self.say(&format!("{}: stopped; starting it", label(node))),
        }
        let client = self.start_node(node).await?;
        let recovering: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(Self::sql(node))?
            .get(0);
        if node.role == Role::Replica && !recovering {
            return Err(ClusterError::Diverged {
                node: label(node),
                why: "it runs as a primary, not as the primary's standby".into(),
            });
        }
        self.say(&format!("{}: accepting connections", label(node)));
        Ok(())
    }

    /// `cluster up` on an existing cluster and `cluster start`: starts what
    /// is stopped or crashed (both, or `only`), rejoins a primary a
    /// failover left behind, leaves what runs, and waits for streaming.
    pub async fn converge(&mut self, only: Option<Role>) -> Result<(), ClusterError> {
        self.prepare_shared().await?;
        let mut rejoined = false;
        for role in chosen(only) {
            let node = self.node(role);
            if node.rejoin {
                // Ends with its own wait for streaming.
                self.rejoin().await?;
                rejoined = true;
            } else {
                self.ensure_running(&node).await?;
            }
        }
        if rejoined {
            return Ok(());
        }
        self.check_streaming().await
    }

    /// The docker network (gone after `down`) comes back; if Docker gave
    /// it another subnet, pg_hba.conf follows.
    async fn prepare_shared(&mut self) -> Result<(), ClusterError> {
        let prepared = self.backend.prepare(&self.state.name).await?;
        let old = self.state.prepared.client_networks.clone();
        if self.state.backend != BackendKind::Docker || prepared.client_networks == old {
            return Ok(());
        }
        self.say(&format!(
            "the cluster network's subnet is now {} (was {}); updating pg_hba.conf",
            prepared.client_networks.join(", "),
            old.join(", ")
        ));
        for node in self.state.nodes.clone() {
            if let Some(text) = self.backend.read_config(&node, "pg_hba.conf").await? {
                let mut text = text;
                for (from, to) in old.iter().zip(&prepared.client_networks) {
                    text = text.replace(from.as_str(), to);
                }
                self.backend
                    .write_config(&node, &[("pg_hba.conf".into(), text)])
                    .await?;
            }
        }
        self.state.prepared = prepared;
        self.save()
    }

    /// When both servers run: waits for the replica to stream, and when it
    /// does not, says why (slot missing, WAL removed, timelines apart).
    pub async fn check_streaming(&self) -> Result<(), ClusterError> {
        let (primary, replica) = (self.node(Role::Primary), self.node(Role::Replica));
        for n in [&primary, &replica] {
            if !self.backend.runtime(n).await?.running {
                return Ok(());
            }
        }
        let client = self.connect(&primary).await?;
        let start = Instant::now();
        let mut last_check = Instant::now();
        loop {
            if diagnose::streaming(&client)
                .await
                .map_err(Self::sql(&primary))?
            {
                self.say("replication is streaming");
                return Ok(());
            }
            let waited = start.elapsed();
            if waited > STREAM_WAIT
                || (waited > Duration::from_secs(5)
                    && last_check.elapsed() > Duration::from_secs(2))
            {
                last_check = Instant::now();
                let standby = self.connect(&replica).await.ok();
                let why = diagnose::why_not_streaming(
                    self.backend.as_ref(),
                    &replica,
                    Some(&client),
                    standby.as_ref(),
                    &self.state.replication_slot,
                )
                .await;
                if why.definite || waited > STREAM_WAIT {
                    return Err(ClusterError::NotStreaming {
                        replica: label(&replica),
                        why: why.text,
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Fast shutdown of both (the primary first, so the replica receives
    /// its shutdown checkpoint and both stop at the same point) or `only`.
    pub async fn stop(&self, only: Option<Role>) -> Result<(), ClusterError> {
        for role in chosen(only) {
            let node = self.node(role);
            let rt = self.backend.runtime(&node).await?;
            if rt.running {
                self.backend.stop(&node).await?;
                self.say(&format!("{}: stopped (fast shutdown)", label(&node)));
            } else if let Some(why) = rt.crashed {
                self.say(&format!("{}: not running (crashed: {why})", label(&node)));
            } else {
                self.say(&format!("{}: already stopped", label(&node)));
            }
        }
        Ok(())
    }

    /// Stop and start: both (the primary first, so the replica's hot
    /// standby parameters are checked against the primary's new ones) or
    /// `only`; then waits for streaming.
    pub async fn restart(&mut self, only: Option<Role>) -> Result<(), ClusterError> {
        for role in chosen(only) {
            let node = self.node(role);
            if node.rejoin {
                self.rejoin().await?;
                continue;
            }
            if self.backend.runtime(&node).await?.running {
                self.backend.stop(&node).await?;
                self.say(&format!("{}: stopped", label(&node)));
            }
            self.start_node(&node).await?;
            self.say(&format!("{}: accepting connections", label(&node)));
        }
        self.check_streaming().await
    }
}
