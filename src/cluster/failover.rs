//! Moving the primary role and repairing the standby: switchover (planned,
//! nothing acknowledged is lost), failover (the primary is gone), the
//! rejoin of a former primary with pg_rewind, and the rebuild of a replica
//! that can no longer catch up. The state file records the roles as soon
//! as a promotion succeeded, so every later command follows them, and each
//! role's configuration files move with the role.

use super::operate::{label, Operator};
use super::{bringup, standby, ClusterError, NodeSpec};
use crate::tune::Role;
use std::time::Duration;
use tokio_postgres::Client;

/// How long the replica may take to replay the old primary's last WAL.
const REPLAY_WAIT: Duration = Duration::from_secs(60);

type Files = Vec<(String, String)>;

/// "Latest checkpoint location" and "Database cluster state" of
/// pg_controldata's output.
pub fn control_fields(text: &str) -> (Option<String>, Option<String>) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim_start_matches(':').trim().to_string())
    };
    (
        field("Latest checkpoint location"),
        field("Database cluster state"),
    )
}

impl Operator<'_> {
    fn mark_rejoin(&mut self, node: &str, rejoin: bool) {
        for n in self.state.nodes.iter_mut().filter(|n| n.name == node) {
            n.rejoin = rejoin;
        }
    }

    /// Promotes the running replica and waits until it takes writes; a
    /// checkpoint follows, so pg_rewind reads the new timeline from it.
    async fn promote(&self, node: &NodeSpec, client: &Client) -> Result<(), ClusterError> {
        self.say(&format!("promoting {}", label(node)));
        let done: bool = client
            .query_one("SELECT pg_promote(true, 60)", &[])
            .await
            .map_err(Self::sql(node))?
            .get(0);
        if !done {
            return Err(ClusterError::Refused(format!(
                "{} did not finish its promotion within 60 s; see `estune cluster logs replica`",
                label(node)
            )));
        }
        client
            .batch_execute("CHECKPOINT")
            .await
            .map_err(Self::sql(node))?;
        Ok(())
    }

    /// The just-promoted node as the primary: no standby settings, the
    /// slot the standby will use, the primary role's configuration
    /// (reloaded, or a restart when a changed setting needs one), and the
    /// role's container limits.
    async fn become_primary(
        &self,
        node: &NodeSpec,
        client: &Client,
        files: Option<Files>,
    ) -> Result<(), ClusterError> {
        let sql = Self::sql(node);
        for reset in [
            "ALTER SYSTEM RESET primary_conninfo",
            "ALTER SYSTEM RESET primary_slot_name",
        ] {
            client.batch_execute(reset).await.map_err(&sql)?;
        }
        ensure_slot(client, node, &self.state.replication_slot).await?;
        self.set_limits(node).await?;
        let Some(files) = files else {
            self.say(&format!(
                "{}: the primary role's configuration files could not be read from the old primary; it keeps the replica's (`estune apply` writes the primary's)",
                label(node)
            ));
            return Ok(());
        };
        self.backend.write_config(node, &files).await?;
        client
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .map_err(&sql)?;
        // The reload reaches every backend at its next command; a fresh
        // session sees what is pending.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let fresh = self.connect(node).await?;
        let pending: Vec<String> = fresh
            .query(
                "SELECT name FROM pg_settings WHERE pending_restart ORDER BY name",
                &[],
            )
            .await
            .map_err(&sql)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if pending.is_empty() {
            self.say(&format!(
                "{}: the primary role's configuration is in effect (reloaded)",
                label(node)
            ));
            return Ok(());
        }
        self.say(&format!(
            "{}: restarting for the primary role's {}",
            label(node),
            pending.join(", ")
        ));
        self.backend.stop(node).await?;
        self.start_node(node).await?;
        Ok(())
    }

    /// Docker: the role's memory limit goes with the role.
    async fn set_limits(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        if let Some(limit) = node.memory {
            match self
                .backend
                .set_memory(node, limit, node.memory_reservation)
                .await
            {
                Ok(()) | Err(ClusterError::Unsupported { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Makes a stopped (or running) node the standby of the primary:
    /// pg_rewind first when `rewind` (it copies the primary's files, so
    /// the role's own are written afterwards), the replica role's files,
    /// the standby settings, a start, and the wait for streaming.
    async fn attach_standby(
        &mut self,
        node: &NodeSpec,
        files: Option<Files>,
        rewind: bool,
    ) -> Result<(), ClusterError> {
        let primary = self.node(Role::Primary);
        let p = self.connect(&primary).await?;
        ensure_slot(&p, &primary, &self.state.replication_slot).await?;
        drop(p);
        if self.backend.runtime(node).await?.running {
            self.backend.stop(node).await?;
        }
        if rewind {
            self.say(&format!(
                "rewinding {} to {} (pg_rewind)",
                label(node),
                primary.name
            ));
            let out = self
                .backend
                .rewind(node, &primary, &self.secrets.superuser)
                .await
                .map_err(|e| ClusterError::Diverged {
                    node: label(node),
                    why: format!("pg_rewind failed: {e}"),
                })?;
            const SAID: [&str; 5] = [
                "diverged",
                "no rewind required",
                "rewinding from",
                "crash recovery",
                "Done",
            ];
            for line in out.lines().filter(|l| SAID.iter().any(|s| l.contains(s))) {
                let line = line.trim().trim_start_matches("backend> ");
                self.say(&format!(
                    "  pg_rewind: {}",
                    line.strip_prefix("pg_rewind: ").unwrap_or(line)
                ));
            }
        }
        self.set_limits(node).await?;
        if let Some(files) = &files {
            self.backend.write_config(node, files).await?;
        }
        standby::configure(self.backend.as_ref(), node, &primary, &self.auth()).await?;
        self.say(&format!(
            "starting {} as the standby of {}",
            label(node),
            primary.name
        ));
        let client = self.start_node(node).await?;
        // A former primary still has the slot its standby used; on a
        // standby nobody uses it, and it would hold WAL back forever.
        if let Err(e) = drop_inactive_slot(&client, &self.state.replication_slot).await {
            self.say(&format!(
                "{}: its old replication slot stays ({e})",
                node.name
            ));
        }
        self.mark_rejoin(&node.name, false);
        self.save()?;
        self.check_streaming().await
    }

    /// Planned: stop writes (fast shutdown of the primary, which sends its
    /// last WAL to the replica first), wait until the replica replayed the
    /// shutdown checkpoint, promote it, and attach the old primary as its
    /// standby. Nothing acknowledged is lost; clients see their
    /// connections end and reconnect to the new primary.
    pub async fn switchover(&mut self) -> Result<(), ClusterError> {
        let (old, new) = (self.node(Role::Primary), self.node(Role::Replica));
        if old.rejoin || new.rejoin {
            return Err(ClusterError::Refused(
                "a node waits to rejoin after a failover; `estune cluster up` first".into(),
            ));
        }
        let p = self.connect(&old).await.map_err(|e| {
            ClusterError::Refused(format!(
                "the primary {} does not answer ({e}). When it is gone, `estune cluster failover` promotes the replica",
                label(&old)
            ))
        })?;
        if !super::diagnose::streaming(&p)
            .await
            .map_err(Self::sql(&old))?
        {
            return Err(ClusterError::Refused(format!(
                "{} does not stream from the primary, so it may lack acknowledged writes; `estune cluster status` says why",
                label(&new)
            )));
        }
        let r = self.connect(&new).await?;
        let primary_files = standby::read_role_files(self.backend.as_ref(), &old).await?;
        let replica_files = standby::read_role_files(self.backend.as_ref(), &new).await?;
        drop(p);
        self.say(&format!(
            "switchover: {} becomes the primary, {} its standby",
            new.name, old.name
        ));
        self.say(&format!(
            "stopping writes: fast shutdown of {} (its last WAL goes to the replica first)",
            label(&old)
        ));
        self.backend.stop(&old).await?;
        let ctl = self.backend.control_data(&old).await?;
        let (checkpoint, cluster_state) = control_fields(&ctl);
        let (Some(checkpoint), Some("shut down")) = (checkpoint.clone(), cluster_state.as_deref())
        else {
            self.abort_switchover(&old).await;
            return Err(ClusterError::Refused(format!(
                "{} did not shut down cleanly (pg_controldata: state {cluster_state:?}, checkpoint {checkpoint:?}); the switchover stopped and it runs again as the primary",
                label(&old)
            )));
        };
        self.say(&format!(
            "waiting until {} has replayed the shutdown checkpoint at {checkpoint}",
            new.name
        ));
        if let Err(e) = wait_replayed_past(&r, &checkpoint, &new).await {
            self.abort_switchover(&old).await;
            return Err(e);
        }
        self.promote(&new, &r).await?;
        // From here the old primary is a node to rejoin until it streams:
        // should anything below fail, `cluster up` finishes the job.
        self.state.swap_roles();
        self.mark_rejoin(&old.name, true);
        self.save()?;
        let (old, new) = (self.node(Role::Replica), self.node(Role::Primary));
        self.become_primary(&new, &r, Some(primary_files)).await?;
        self.attach_standby(&old, Some(replica_files), true).await?;
        self.say(&format!(
            "switchover done: {} is the primary, {} streams from it",
            label(&new),
            old.name
        ));
        Ok(())
    }

    /// The primary is started again after a switchover that could not
    /// promote safely; nothing changed.
    async fn abort_switchover(&self, old: &NodeSpec) {
        self.say(&format!("aborting: starting {} again", label(old)));
        if let Err(e) = self.start_node(old).await {
            self.say(&format!("{} did not start again: {e}", old.name));
        }
    }

    /// Unplanned: the primary is down. Fences it (Docker stops restarting
    /// it), promotes the replica and records the old primary as waiting to
    /// rejoin; `cluster up` rewinds it later. Writes the replica had not
    /// received when the primary died are lost: replication is
    /// asynchronous.
    pub async fn failover(&mut self, force: bool) -> Result<(), ClusterError> {
        let (old, new) = (self.node(Role::Primary), self.node(Role::Replica));
        if new.rejoin {
            return Err(ClusterError::Refused(format!(
                "{} is a former primary waiting to rejoin, not a standby to promote; `estune cluster up` rejoins it",
                label(&new)
            )));
        }
        let rt = self.backend.runtime(&old).await?;
        if rt.running {
            if !force {
                return Err(ClusterError::Refused(format!(
                    "the primary {} is running: a failover now would leave two primaries. Use `estune cluster switchover`, or stop it first (`estune cluster stop primary`), or pass --force to stop it here",
                    label(&old)
                )));
            }
            self.say(&format!("stopping {} (--force)", label(&old)));
            self.backend.stop(&old).await?;
        }
        self.backend.fence(&old).await?;
        let r = self.connect(&new).await.map_err(|e| {
            ClusterError::Refused(format!(
                "the replica {} does not answer ({e}); there is nothing to promote",
                label(&new)
            ))
        })?;
        let recovering: bool = r
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(Self::sql(&new))?
            .get(0);
        if !recovering {
            return Err(ClusterError::Refused(format!(
                "{} is not in recovery: it is no standby to promote",
                label(&new)
            )));
        }
        let primary_files = match standby::read_role_files(self.backend.as_ref(), &old).await {
            Ok(f) => Some(f),
            Err(e) => {
                self.say(&format!("{}: {e}", old.name));
                None
            }
        };
        let replica_files = standby::read_role_files(self.backend.as_ref(), &new).await?;
        self.say(&format!(
            "failover: {} is down ({}); {} takes over",
            label(&old),
            rt.crashed.as_deref().unwrap_or("stopped"),
            new.name
        ));
        self.promote(&new, &r).await?;
        self.state.swap_roles();
        self.mark_rejoin(&old.name, true);
        self.save()?;
        let new = self.node(Role::Primary);
        self.become_primary(&new, &r, primary_files).await?;
        // The left-behind node keeps the replica role's files for its
        // rejoin; it may be unreachable now, which the rejoin tolerates.
        let old = self.node(Role::Replica);
        if let Err(e) = self.backend.write_config(&old, &replica_files).await {
            self.say(&format!("{}: {e}", old.name));
        }
        self.say(&format!(
            "failover done: {} is the primary. {} waits to rejoin: `estune cluster up` rewinds it and attaches it as the standby",
            label(&new),
            old.name
        ));
        Ok(())
    }

    /// A former primary left behind by a failover becomes the standby.
    pub async fn rejoin(&mut self) -> Result<(), ClusterError> {
        let node = self.node(Role::Replica);
        let primary = self.node(Role::Primary);
        if !self.backend.runtime(&primary).await?.running {
            return Err(ClusterError::Refused(format!(
                "{} must rejoin as the standby of {}, which is not running; `estune cluster start primary` first",
                node.name,
                label(&primary)
            )));
        }
        self.say(&format!(
            "{}: former primary, rejoining as the standby of {}",
            label(&node),
            primary.name
        ));
        let files = standby::read_role_files(self.backend.as_ref(), &node)
            .await
            .ok();
        self.attach_standby(&node, files, true).await
    }

    /// Clones the replica again from the primary through the slot (a new
    /// one if it was dropped or lost its WAL), keeping its configuration.
    pub async fn rebuild_replica(&mut self) -> Result<(), ClusterError> {
        let node = self.node(Role::Replica);
        let primary = self.node(Role::Primary);
        let p = self.connect(&primary).await.map_err(|e| {
            ClusterError::Refused(format!(
                "the primary {} does not answer ({e}); a replica is cloned from it",
                label(&primary)
            ))
        })?;
        let files = match standby::read_role_files(self.backend.as_ref(), &node).await {
            Ok(f) => f,
            Err(e) => {
                self.say(&format!(
                    "{}: {e}; it gets the primary's configuration files",
                    node.name
                ));
                standby::read_role_files(self.backend.as_ref(), &primary).await?
            }
        };
        self.say(&format!(
            "rebuilding {} from {}",
            label(&node),
            primary.name
        ));
        self.backend.stop(&node).await?;
        self.backend.clear_data(&node).await?;
        self.say(&format!("{}: data directory emptied", node.name));
        let slot = &self.state.replication_slot;
        // A slot that lost its WAL is no use: a new one reserves from now.
        drop_inactive_slot(&p, slot)
            .await
            .map_err(Self::sql(&primary))?;
        ensure_slot(&p, &primary, slot).await?;
        self.say(&format!(
            "slot `{slot}` created on {}; pg_basebackup",
            primary.name
        ));
        let auth = self.auth();
        {
            let copy = self.backend.basebackup(&node, &primary, &auth);
            let progress = report_basebackup(&p, self);
            tokio::select! {
                r = copy => r?,
                () = progress => {}
            }
        }
        self.attach_standby(&node, Some(files), false).await?;
        self.say(&format!("{} rebuilt and streaming", label(&node)));
        Ok(())
    }
}

/// Drops the slot unless a WAL receiver uses it.
async fn drop_inactive_slot(server: &Client, slot: &str) -> Result<u64, tokio_postgres::Error> {
    server
        .execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
             WHERE slot_name = $1 AND NOT active",
            &[&slot],
        )
        .await
}

/// Creates the physical slot on the primary unless it exists.
async fn ensure_slot(primary: &Client, node: &NodeSpec, slot: &str) -> Result<(), ClusterError> {
    primary
        .execute(
            "SELECT pg_create_physical_replication_slot($1, true)
             WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
            &[&slot],
        )
        .await
        .map_err(Operator::sql(node))?;
    Ok(())
}

/// Prints pg_basebackup's progress as the primary reports it, every 2 s.
async fn report_basebackup(primary: &Client, op: &Operator<'_>) {
    let mut last = String::new();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let row = primary
            .query_opt(
                "SELECT phase, backup_streamed, backup_total FROM pg_stat_progress_basebackup LIMIT 1",
                &[],
            )
            .await;
        if let Ok(Some(r)) = row {
            let (phase, done, total): (String, i64, Option<i64>) = (r.get(0), r.get(1), r.get(2));
            let line = match total.filter(|t| *t > 0) {
                Some(t) => format!(
                    "  pg_basebackup: {phase}, {} of {} ({:.0} %)",
                    crate::value::human(done.max(0) as u64),
                    crate::value::human(t as u64),
                    100.0 * done as f64 / t as f64
                ),
                None => format!(
                    "  pg_basebackup: {phase}, {} copied",
                    crate::value::human(done.max(0) as u64)
                ),
            };
            if line != last {
                op.say(&line);
                last = line;
            }
        }
    }
}

/// Waits until `replica` has replayed past `lsn`, the start of the old
/// primary's shutdown checkpoint.
async fn wait_replayed_past(
    replica: &Client,
    lsn: &str,
    node: &NodeSpec,
) -> Result<(), ClusterError> {
    let reached = bringup::replay_reaches(replica, lsn, true, REPLAY_WAIT)
        .await
        .map_err(Operator::sql(node))?;
    if reached {
        return Ok(());
    }
    Err(ClusterError::Refused(format!(
        "{} did not replay the old primary's WAL up to {lsn} within {} s; the switchover stopped",
        label(node),
        REPLAY_WAIT.as_secs()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_data_fields_are_read() {
        let text = "pg_control version number:            1300\nDatabase cluster state:               shut down\nLatest checkpoint location:           0/3000060\nLatest checkpoint's REDO location:    0/3000060\n";
        assert_eq!(
            control_fields(text),
            (Some("0/3000060".into()), Some("shut down".into()))
        );
        assert_eq!(control_fields(""), (None, None));
    }
}
