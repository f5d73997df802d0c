//! Takes the two snapshots of the measured window on connections of its
//! own (the servers' superuser, on the event store's database), so the
//! workers' sessions never wait for it. Nothing here fails a run: what
//! cannot be read is recorded as the reason its figures are null.

use super::delta::{window_delta, Snapshot, WindowOptions};
use super::snapshot::{self, Source};
use super::{plans, truncate, ServerStatements, Statements, QUERY_CHARS};
use std::time::Duration;
use tokio::time::Instant;
use tokio_postgres::Client;

/// A server that stops answering must not hold the run's end for long.
const QUERY_BUDGET: Duration = Duration::from_secs(10);

struct ProbeServer {
    role: String,
    client: Option<Client>,
    database: Option<String>,
    /// How to read the view, or why it cannot be read.
    source: Result<Source, String>,
}

/// Connections to every server, ready to open the window.
pub struct StatementProbe {
    servers: Vec<ProbeServer>,
    top_n: usize,
    /// `--explain-slow`: the token of the window's log markers and the
    /// threshold the plans were logged at.
    explain: Option<(String, f64)>,
}

/// The probe after the window's first snapshot.
pub struct OpenWindow {
    probe: StatementProbe,
    /// Per server: the start snapshot, whether min/max were reset with it,
    /// and when it was taken; or why there is none.
    starts: Vec<Result<(Snapshot, bool, Instant), String>>,
}

async fn within<T>(f: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(QUERY_BUDGET, f)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", QUERY_BUDGET.as_secs())))
}

impl StatementProbe {
    /// Connects to each `(role, dsn)`; a server that cannot be reached, or
    /// cannot show its statements, is recorded with the reason.
    pub async fn connect(servers: &[(&str, &str)], top_n: usize) -> StatementProbe {
        let mut out = Vec::new();
        for (role, dsn) in servers {
            let mut s = ProbeServer {
                role: role.to_string(),
                client: None,
                database: None,
                source: Err(String::new()),
            };
            s.source = match crate::db::connect(dsn, QUERY_BUDGET).await {
                Err(e) => Err(format!("cannot connect: {e}")),
                Ok(c) => {
                    let db = within(async {
                        c.query_one("SELECT current_database()::text", &[])
                            .await
                            .map(|r| r.get::<_, String>(0))
                            .map_err(snapshot::err)
                    })
                    .await;
                    let source = match &db {
                        Ok(name) => within(snapshot::locate(&c, name)).await,
                        Err(e) => Err(e.clone()),
                    };
                    s.database = db.ok();
                    s.client = Some(c);
                    source
                }
            };
            out.push(s);
        }
        StatementProbe {
            servers: out,
            top_n,
            explain: None,
        }
    }

    /// Marks the window's start and end in each server's log with `token`
    /// (for the plans `auto_explain` logs at `threshold_ms`).
    pub fn with_log_markers(mut self, token: String, threshold_ms: f64) -> StatementProbe {
        self.explain = Some((token, threshold_ms));
        self
    }

    /// The first snapshot, when the measured window opens.
    pub async fn open(self) -> OpenWindow {
        let mut starts = Vec::new();
        for s in &self.servers {
            if let (Some((token, _)), Some(c)) = (&self.explain, &s.client) {
                // A missing marker shows later as plans that cannot be
                // found, with the reason.
                let _ = within(snapshot::log_line(c, &plans::open_marker(token))).await;
            }
            let start = match (&s.source, &s.client) {
                (Ok(source), Some(c)) => {
                    let reset = source.minmax_reset
                        && within(snapshot::reset_minmax(c, source)).await.is_ok();
                    let at = Instant::now();
                    within(snapshot::read(c, source))
                        .await
                        .map(|snap| (snap, reset, at))
                }
                (Err(e), _) => Err(e.clone()),
                (Ok(_), None) => Err("not connected".into()),
            };
            starts.push(start);
        }
        OpenWindow {
            probe: self,
            starts,
        }
    }

    /// What a result says when the window never opened (a stop during the
    /// warm-up).
    pub fn not_opened(self, why: &str) -> Statements {
        let servers = self
            .servers
            .iter()
            .map(|s| self.server_base(s, Err(why.to_string())))
            .collect();
        self.statements(servers)
    }

    fn statements(&self, servers: Vec<ServerStatements>) -> Statements {
        Statements {
            top_n: self.top_n,
            explain_slow_ms: self.explain.as_ref().map(|e| e.1),
            app_role: None,
            servers,
        }
    }

    fn server_base(
        &self,
        s: &ProbeServer,
        window: Result<super::StatementWindow, String>,
    ) -> ServerStatements {
        let (pg_stat_statements, pg_stat_statements_missing) = match window {
            Ok(w) => (Some(w), None),
            Err(e) => (None, Some(e)),
        };
        ServerStatements {
            role: s.role.clone(),
            database: s.database.clone(),
            pg_stat_statements,
            pg_stat_statements_missing,
            prepared: None,
            prepared_missing: Some(
                "the workload does not report its sessions' prepared statements".into(),
            ),
            slow_plans: None,
            slow_plans_missing: Some(match &self.explain {
                Some(_) => "the plans were not read from the server log".into(),
                None => "not asked for (estune bench --explain-slow THRESHOLD logs the plans of slow executions)".into(),
            }),
        }
    }
}

impl OpenWindow {
    /// The second snapshot, when the measured window closes, and the
    /// window's figures.
    pub async fn close(self) -> Statements {
        let OpenWindow { probe, starts } = self;
        let mut servers = Vec::new();
        for (s, start) in probe.servers.iter().zip(starts) {
            if let (Some((token, _)), Some(c)) = (&probe.explain, &s.client) {
                let _ = within(snapshot::log_line(c, &plans::close_marker(token))).await;
            }
            let window = match (start, &s.source, &s.client) {
                (Ok(start), Ok(source), Some(c)) => {
                    within(close_one(c, source, start, probe.top_n)).await
                }
                (Err(e), _, _) => Err(e),
                _ => Err("not connected".into()),
            };
            servers.push(probe.server_base(s, window));
        }
        probe.statements(servers)
    }
}

async fn close_one(
    c: &Client,
    source: &Source,
    (start, reset, at): (Snapshot, bool, Instant),
    top_n: usize,
) -> Result<super::StatementWindow, String> {
    let end = snapshot::read(c, source).await?;
    let o = WindowOptions {
        version: source.version.clone(),
        window_s: (at.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        top_n,
        max_in_window: reset,
        track_planning: source.track_planning,
        io_timing: source.io_timing,
    };
    let (mut window, keys) = window_delta(&start, &end, &o)?;
    let texts = snapshot::texts(c, source, &keys).await?;
    for (stat, key) in window.top.iter_mut().zip(&keys) {
        let text = texts.get(key).map(String::as_str).unwrap_or("");
        stat.query = truncate(text, QUERY_CHARS);
    }
    Ok(window)
}
