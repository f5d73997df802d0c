//! Generic against custom plans of the workload's prepared statements.
//! `pg_prepared_statements` shows a session only its own statements, so
//! each worker reads its sessions' after the run (off the hot path, see
//! [`crate::bench::Worker::plan_counts`]) and the counts are summed here
//! per server and statement text (pure).

use super::{truncate, PreparedPlans, PreparedStatement, Statements, QUERY_CHARS};
use crate::bench::Worker;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One prepared statement of one session, as `pg_prepared_statements`
/// shows it (PostgreSQL 14+).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionPlans {
    /// `primary` or `replica`: the server the session is on.
    pub server: String,
    pub statement: String,
    pub generic_plans: i64,
    pub custom_plans: i64,
}

/// Per server, the statements of every session that reported: how many
/// sessions had each, and its generic and custom plans summed. `reports`
/// holds one entry per worker: its sessions' statements, or why it could
/// not say. A server none of whose sessions reported gets the first
/// reason given.
pub fn aggregate_prepared(
    reports: &[Result<Vec<SessionPlans>, String>],
    servers: &[&str],
) -> BTreeMap<String, Result<PreparedPlans, String>> {
    let mut out = BTreeMap::new();
    for server in servers {
        let mut sessions = 0;
        let mut by_text: BTreeMap<&str, PreparedStatement> = BTreeMap::new();
        let mut why = None;
        for report in reports {
            match report {
                Ok(plans) => {
                    sessions += 1;
                    for p in plans.iter().filter(|p| p.server == *server) {
                        let s = by_text.entry(&p.statement).or_default();
                        s.sessions += 1;
                        s.generic_plans += p.generic_plans;
                        s.custom_plans += p.custom_plans;
                    }
                }
                Err(e) => {
                    why.get_or_insert_with(|| e.clone());
                }
            }
        }
        let entry = if sessions == 0 {
            Err(why.unwrap_or_else(|| "no worker was connected at the end of the run".into()))
        } else {
            let mut statements: Vec<PreparedStatement> = by_text
                .into_iter()
                .map(|(text, s)| PreparedStatement {
                    query: truncate(text, QUERY_CHARS),
                    ..s
                })
                .collect();
            statements.sort_by(|a, b| {
                (b.generic_plans + b.custom_plans)
                    .cmp(&(a.generic_plans + a.custom_plans))
                    .then(a.query.cmp(&b.query))
            });
            Ok(PreparedPlans {
                sessions,
                statements,
            })
        };
        out.insert(server.to_string(), entry);
    }
    out
}

/// A worker that does not answer must not hold the result back.
const ASK_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// Asks every worker left at the end of the run for its sessions' plan
/// counts (a few at a time) and records them per server in `s`.
pub async fn with_plan_counts<W: Worker>(mut s: Statements, workers: Vec<W>) -> Statements {
    use futures_util::StreamExt;
    let asked = workers.len();
    let answers: Vec<Option<Result<Vec<SessionPlans>, String>>> =
        futures_util::stream::iter(workers)
            .map(|mut w| async move {
                tokio::time::timeout(ASK_BUDGET, w.plan_counts())
                    .await
                    .unwrap_or_else(|_| Some(Err("no answer within 5 s".into())))
            })
            .buffer_unordered(8)
            .collect()
            .await;
    if asked > 0 && answers.iter().all(Option::is_none) {
        // The workload cannot say: the servers keep the probe's reason.
        return s;
    }
    let reports: Vec<Result<Vec<SessionPlans>, String>> = answers.into_iter().flatten().collect();
    let roles: Vec<String> = s.servers.iter().map(|x| x.role.clone()).collect();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let mut by_role = aggregate_prepared(&reports, &roles);
    for server in &mut s.servers {
        match by_role.remove(&server.role) {
            Some(Ok(p)) => {
                server.prepared = Some(p);
                server.prepared_missing = None;
            }
            Some(Err(e)) => server.prepared_missing = Some(e),
            None => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(server: &str, statement: &str, generic: i64, custom: i64) -> SessionPlans {
        SessionPlans {
            server: server.into(),
            statement: statement.into(),
            generic_plans: generic,
            custom_plans: custom,
        }
    }

    #[test]
    fn sessions_sum_by_server_and_text() {
        let reports = vec![
            Ok(vec![
                plans("primary", "SELECT a", 10, 5),
                plans("primary", "INSERT b", 0, 7),
                plans("replica", "SELECT a", 3, 5),
            ]),
            Ok(vec![plans("primary", "SELECT a", 20, 5)]),
            Err("connection closed".into()),
        ];
        let got = aggregate_prepared(&reports, &["primary", "replica"]);
        let p = got["primary"].as_ref().unwrap();
        assert_eq!(p.sessions, 2, "the failed worker is not a session");
        assert_eq!(p.statements.len(), 2);
        assert_eq!(p.statements[0].query, "SELECT a", "most executed first");
        assert_eq!(
            (
                p.statements[0].sessions,
                p.statements[0].generic_plans,
                p.statements[0].custom_plans
            ),
            (2, 30, 10)
        );
        let r = got["replica"].as_ref().unwrap();
        assert_eq!(
            (r.statements[0].sessions, r.statements[0].generic_plans),
            (1, 3)
        );
    }

    #[test]
    fn no_session_means_a_reason() {
        let got = aggregate_prepared(&[Err("PostgreSQL 13".into())], &["primary"]);
        assert_eq!(got["primary"], Err("PostgreSQL 13".to_string()));
        let got = aggregate_prepared(&[], &["primary"]);
        assert!(got["primary"].as_ref().unwrap_err().contains("no worker"));
    }
}
