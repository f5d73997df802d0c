//! What the servers were doing during a run, sampled once a second on
//! connections of its own, so that a latency spike can be lined up with a
//! checkpoint, an autovacuum or replication falling behind. Independent of
//! the engine (`estune health` can take single samples); a failing query
//! is recorded for that second and sampling goes on, because a replica
//! going away mid-run is exactly what the samples must show.

use super::StopToken;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;
use tokio_postgres::Client;

/// PostgreSQL 17 moved checkpoint counters to pg_stat_checkpointer.
const PG17: i32 = 170_000;
/// A server that stops answering (rather than refusing) must not stall
/// the sampling of the next seconds.
const QUERY_BUDGET: Duration = Duration::from_millis(900);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// Seconds since the run's start (warm-up included), as in the series.
    pub t: f64,
    pub primary: ServerStats,
    pub replica: Option<ServerStats>,
    /// One row per standby in pg_stat_replication on the primary.
    pub replication: Vec<ReplicaLag>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaLag {
    pub application_name: String,
    /// pg_current_wal_lsn() - replay_lsn on the primary, bytes.
    pub replay_lag_bytes: Option<f64>,
    /// replay_lag, milliseconds (null when the standby is idle).
    pub replay_lag_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    /// blks_hit / (blks_hit + blks_read) since the previous sample, 0..1;
    /// null for the first sample or when no block was read.
    pub cache_hit_ratio: Option<f64>,
    /// xact_commit since the previous sample.
    pub commits: Option<i64>,
    pub connections: Vec<ConnectionCount>,
    pub checkpoints: Option<Checkpoints>,
    pub events_table: Option<EventsTableActivity>,
    /// Queries that failed this second ("server gone" shows up here).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionCount {
    pub state: String,
    pub wait_event: String,
    pub count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoints {
    /// Cumulative counters since the statistics were reset.
    pub timed: i64,
    pub requested: i64,
    /// Since the previous sample.
    pub timed_delta: Option<i64>,
    pub requested_delta: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventsTableActivity {
    /// Phase of a running (auto)vacuum on `events`, from pg_stat_progress_vacuum.
    pub vacuum_phase: Option<String>,
    /// Phase of a running (auto)analyze, from pg_stat_progress_analyze.
    pub analyze_phase: Option<String>,
    pub autoanalyze_count: i64,
    pub autovacuum_count: i64,
    pub last_autoanalyze: Option<String>,
    /// True when autoanalyze_count grew since the previous sample.
    pub autoanalyzed: bool,
    pub autovacuumed: bool,
}

/// Counters kept between samples to turn them into deltas.
#[derive(Default)]
struct Previous {
    blks: Option<(i64, i64)>,
    commits: Option<i64>,
    checkpoints: Option<(i64, i64)>,
    analyze_vacuum: Option<(i64, i64)>,
}

struct Server {
    /// None after a failed reconnection.
    client: Option<Client>,
    /// When known, a lost connection is reopened at the next sample, so a
    /// restarted replica is sampled again.
    dsn: Option<String>,
    version: Option<i32>,
    prev: Previous,
}

pub struct ServerSampler {
    primary: Server,
    replica: Option<Server>,
    table: String,
}

fn err(e: tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| format!("{}: {}", d.code().code(), d.message()))
        .unwrap_or_else(|| e.to_string())
}

impl ServerSampler {
    /// Samples on the given connections; a lost one stays lost.
    pub fn new(primary: Client, replica: Option<Client>) -> Self {
        ServerSampler {
            primary: Server::new(Some(primary), None),
            replica: replica.map(|c| Server::new(Some(c), None)),
            table: "events".to_string(),
        }
    }

    /// Connects to both servers (an error names the server), and reconnects
    /// to either whenever its connection was lost.
    pub async fn connect(primary: &str, replica: Option<&str>) -> Result<Self, crate::db::DbError> {
        let limit = Duration::from_secs(10);
        let p = crate::db::connect(primary, limit).await?;
        let p = Server::new(Some(p), Some(primary.to_string()));
        let r = match replica {
            Some(dsn) => {
                let c = crate::db::connect(dsn, limit).await?;
                Some(Server::new(Some(c), Some(dsn.to_string())))
            }
            None => None,
        };
        Ok(ServerSampler {
            primary: p,
            replica: r,
            table: "events".to_string(),
        })
    }

    /// Takes one sample of every server; never fails, errors are recorded.
    pub async fn sample(&mut self, t: f64) -> ServerSample {
        let primary = self.primary.stats(&self.table).await;
        let lag = match &self.primary.client {
            Some(c) => tokio::time::timeout(QUERY_BUDGET, replication(c))
                .await
                .unwrap_or_else(|_| Err("no answer within 900 ms".into())),
            None => Err("not connected".into()),
        };
        let replication = match lag {
            Ok(r) => r,
            Err(e) => {
                let mut p = primary;
                p.errors.push(format!("pg_stat_replication: {e}"));
                return ServerSample {
                    t,
                    primary: p,
                    replica: self.sample_replica().await,
                    replication: Vec::new(),
                };
            }
        };
        ServerSample {
            t,
            primary,
            replica: self.sample_replica().await,
            replication,
        }
    }

    async fn sample_replica(&mut self) -> Option<ServerStats> {
        match &mut self.replica {
            Some(r) => Some(r.stats(&self.table).await),
            None => None,
        }
    }

    /// Samples once a second (tagged with seconds since `start`) until
    /// `over` is stopped, then returns the samples.
    pub async fn run_until(mut self, start: Instant, over: StopToken) -> Vec<ServerSample> {
        let mut out = Vec::new();
        let mut every =
            tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = over.stopped() => break,
                _ = every.tick() => {
                    let t = start.elapsed().as_secs_f64();
                    out.push(self.sample((t * 1000.0).round() / 1000.0).await);
                }
            }
        }
        out
    }
}

async fn replication(c: &Client) -> Result<Vec<ReplicaLag>, String> {
    let rows = c
        .query(
            "SELECT coalesce(application_name, ''), \
                    pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8, \
                    (extract(epoch FROM replay_lag) * 1000)::float8 \
             FROM pg_stat_replication ORDER BY application_name",
            &[],
        )
        .await
        .map_err(err)?;
    Ok(rows
        .iter()
        .map(|r| ReplicaLag {
            application_name: r.get(0),
            replay_lag_bytes: r.get(1),
            replay_lag_ms: r.get(2),
        })
        .collect())
}

impl Server {
    fn new(client: Option<Client>, dsn: Option<String>) -> Self {
        Server {
            client,
            dsn,
            version: None,
            prev: Previous::default(),
        }
    }

    /// The connection to sample on, reopened first if it was lost and the
    /// DSN is known.
    async fn ensure_client(&mut self) -> Result<&Client, String> {
        let lost = self.client.as_ref().is_none_or(|c| c.is_closed());
        if lost {
            if let Some(dsn) = &self.dsn {
                self.client = None;
                let c = crate::db::connect(dsn, QUERY_BUDGET)
                    .await
                    .map_err(|e| format!("reconnect: {e}"))?;
                // Deltas across a restart would mix two servers' counters.
                self.prev = Previous::default();
                self.version = None;
                self.client = Some(c);
            }
        }
        self.client
            .as_ref()
            .ok_or_else(|| "not connected".to_string())
    }

    async fn stats(&mut self, table: &str) -> ServerStats {
        let mut s = ServerStats::default();
        if let Err(e) = self.ensure_client().await {
            s.errors.push(e);
            return s;
        }
        if tokio::time::timeout(QUERY_BUDGET, self.collect(table, &mut s))
            .await
            .is_err()
        {
            s.errors.push("no answer within 900 ms".into());
        }
        s
    }

    async fn collect(&mut self, table: &str, s: &mut ServerStats) {
        if let Err(e) = self.database(s).await {
            s.errors.push(format!("pg_stat_database: {e}"));
        }
        match self.connections().await {
            Ok(c) => s.connections = c,
            Err(e) => s.errors.push(format!("pg_stat_activity: {e}")),
        }
        match self.checkpoints().await {
            Ok(c) => s.checkpoints = Some(c),
            Err(e) => s.errors.push(format!("checkpoints: {e}")),
        }
        match self.events_table(table).await {
            Ok(a) => s.events_table = a,
            Err(e) => s.errors.push(format!("{table} activity: {e}")),
        }
    }

    fn client(&self) -> Result<&Client, String> {
        self.client
            .as_ref()
            .ok_or_else(|| "not connected".to_string())
    }

    async fn database(&mut self, s: &mut ServerStats) -> Result<(), String> {
        let row = self
            .client()?
            .query_one(
                "SELECT blks_hit, blks_read, xact_commit FROM pg_stat_database \
                 WHERE datname = current_database()",
                &[],
            )
            .await
            .map_err(err)?;
        let (hit, read, commits): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if let Some((h0, r0)) = self.prev.blks {
            let (dh, dr) = (hit - h0, read - r0);
            s.cache_hit_ratio = (dh + dr > 0).then(|| dh as f64 / (dh + dr) as f64);
        }
        s.commits = self.prev.commits.map(|c0| commits - c0);
        self.prev.blks = Some((hit, read));
        self.prev.commits = Some(commits);
        Ok(())
    }

    async fn connections(&self) -> Result<Vec<ConnectionCount>, String> {
        let rows = self
            .client()?
            .query(
                "SELECT coalesce(state, ''), coalesce(wait_event, ''), count(*) \
                 FROM pg_stat_activity \
                 WHERE backend_type = $1 AND pid <> pg_backend_pid() \
                 GROUP BY 1, 2 ORDER BY 1, 2",
                &[&"client backend"],
            )
            .await
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| ConnectionCount {
                state: r.get(0),
                wait_event: r.get(1),
                count: r.get(2),
            })
            .collect())
    }

    async fn checkpoints(&mut self) -> Result<Checkpoints, String> {
        let version = match self.version {
            Some(v) => v,
            None => {
                let row = self
                    .client()?
                    .query_one("SELECT current_setting($1)::int4", &[&"server_version_num"])
                    .await
                    .map_err(err)?;
                *self.version.insert(row.get(0))
            }
        };
        let sql = if version >= PG17 {
            "SELECT num_timed, num_requested FROM pg_stat_checkpointer"
        } else {
            "SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter"
        };
        let row = self.client()?.query_one(sql, &[]).await.map_err(err)?;
        let (timed, requested): (i64, i64) = (row.get(0), row.get(1));
        let prev = self.prev.checkpoints.replace((timed, requested));
        Ok(Checkpoints {
            timed,
            requested,
            timed_delta: prev.map(|p| timed - p.0),
            requested_delta: prev.map(|p| requested - p.1),
        })
    }

    async fn events_table(&mut self, table: &str) -> Result<Option<EventsTableActivity>, String> {
        let row = self
            .client()?
            .query_one("SELECT to_regclass($1)::oid", &[&table])
            .await
            .map_err(err)?;
        let Some(oid): Option<u32> = row.get(0) else {
            return Ok(None);
        };
        let client = self.client()?;
        let phase = |sql: &'static str| async move {
            client
                .query_opt(sql, &[&oid])
                .await
                .map(|r| r.map(|r| r.get::<_, String>(0)))
                .map_err(err)
        };
        let vacuum_phase =
            phase("SELECT phase FROM pg_stat_progress_vacuum WHERE relid = $1 LIMIT 1").await?;
        let analyze_phase =
            phase("SELECT phase FROM pg_stat_progress_analyze WHERE relid = $1 LIMIT 1").await?;
        let row = self
            .client()?
            .query_opt(
                "SELECT autoanalyze_count, autovacuum_count, last_autoanalyze::text \
                 FROM pg_stat_user_tables WHERE relid = $1",
                &[&oid],
            )
            .await
            .map_err(err)?;
        let (aa, av, last): (i64, i64, Option<String>) = match row {
            Some(r) => (r.get(0), r.get(1), r.get(2)),
            None => (0, 0, None),
        };
        let prev = self.prev.analyze_vacuum.replace((aa, av));
        Ok(Some(EventsTableActivity {
            vacuum_phase,
            analyze_phase,
            autoanalyze_count: aa,
            autovacuum_count: av,
            last_autoanalyze: last,
            autoanalyzed: prev.is_some_and(|p| aa > p.0),
            autovacuumed: prev.is_some_and(|p| av > p.1),
        }))
    }
}
