//! Why a replica does not stream: what the primary's slot says, and what
//! the replica's log said since it last started (the WAL receiver writes
//! its errors there and nowhere else).

use super::{Backend, NodeSpec};
use tokio_postgres::Client;

/// Whether the primary has a streaming standby.
pub async fn streaming(primary: &Client) -> Result<bool, tokio_postgres::Error> {
    let n: i64 = primary
        .query_one(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            &[],
        )
        .await?
        .get(0);
    Ok(n > 0)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Why {
    pub text: String,
    /// A cause that waiting will not cure (slot missing, WAL removed,
    /// timelines apart), as opposed to a receiver still connecting.
    pub definite: bool,
}

/// Log lines since the server last started.
fn since_start(log: &str) -> Vec<&str> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("starting PostgreSQL"))
        .unwrap_or(0);
    lines[start..].to_vec()
}

/// The kinds of cause, each message's first words.
const KINDS: [&str; 3] = ["WAL removed", "slot missing", "timeline mismatch"];

fn kind_of(cause: &str) -> Option<&'static str> {
    KINDS.into_iter().find(|k| cause.starts_with(k))
}

/// Causes found in the replica's log, newest wording PostgreSQL 13–18 use.
pub fn causes_in_log(log: &str) -> Vec<String> {
    let lines = since_start(log);
    let last = |pred: &dyn Fn(&str) -> bool| lines.iter().rev().find(|l| pred(l)).map(|l| l.trim());
    let mut causes = Vec::new();
    if let Some(l) = last(&|l| l.contains("has already been removed")) {
        causes.push(format!(
            "WAL removed: the primary no longer has the WAL the replica needs ({})",
            message_of(l)
        ));
    }
    if let Some(l) = last(&|l| l.contains("replication slot") && l.contains("does not exist")) {
        causes.push(format!("slot missing ({})", message_of(l)));
    }
    if let Some(l) = last(&|l| {
        l.contains("is not a child of this server's history")
            || (l.contains("timeline") && (l.contains("forked off") || l.contains("behind")))
    }) {
        causes.push(format!("timeline mismatch ({})", message_of(l)));
    }
    causes
}

/// The message part of a log line ("FATAL:  could not …").
fn message_of(line: &str) -> &str {
    ["FATAL:", "ERROR:", "LOG:", "DETAIL:"]
        .iter()
        .find_map(|k| line.find(k))
        .map_or(line, |i| line[i..].trim())
}

/// The WAL segment the replica needs next, if the primary removed it.
async fn removed_segment(primary: &Client, replica: &Client) -> Option<String> {
    let lsn: String = replica
        .query_one(
            "SELECT coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text",
            &[],
        )
        .await
        .ok()?
        .try_get(0)
        .ok()?;
    let row = primary
        .query_one(
            "SELECT pg_walfile_name($1::text::pg_lsn),
                    EXISTS (SELECT 1 FROM pg_ls_waldir() WHERE name = pg_walfile_name($1::text::pg_lsn))",
            &[&lsn],
        )
        .await
        .ok()?;
    let (segment, present): (String, bool) = (row.get(0), row.get(1));
    (!present).then_some(segment)
}

pub async fn why_not_streaming(
    backend: &dyn Backend,
    replica: &NodeSpec,
    primary: Option<&Client>,
    replica_client: Option<&Client>,
    slot: &str,
) -> Why {
    let mut causes = Vec::new();
    if let (Some(p), Some(r)) = (primary, replica_client) {
        if let Some(segment) = removed_segment(p, r).await {
            causes.push(format!(
                "WAL removed: the primary no longer has segment {segment}, which the replica needs next"
            ));
        }
    }
    if let Some(p) = primary {
        let row = p
            .query_opt(
                "SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await;
        match row {
            Ok(None) => causes.push(format!(
                "slot missing: the primary has no replication slot `{slot}`"
            )),
            Ok(Some(r)) if r.get::<_, String>(0) == "lost" && causes.is_empty() => causes.push(format!(
                "WAL removed: the primary removed WAL that slot `{slot}` had reserved (wal_status lost)"
            )),
            _ => {}
        }
    }
    let log = backend.logs(replica, 200).await.unwrap_or_default();
    // What the servers say outranks the log's words for the same cause.
    for c in causes_in_log(&log) {
        if !causes.iter().any(|have| kind_of(have) == kind_of(&c)) {
            causes.push(c);
        }
    }
    if causes.is_empty() {
        let last = since_start(&log)
            .into_iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!("; its log's last line: {}", message_of(l)))
            .unwrap_or_default();
        return Why {
            text: format!("its WAL receiver is not streaming{last}"),
            definite: false,
        };
    }
    Why {
        text: causes.join("; "),
        definite: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_wal_and_a_missing_slot_are_named() {
        let log = "\
2026-11-30 LOG:  starting PostgreSQL 15.18
2026-11-30 FATAL:  could not start WAL streaming: ERROR:  replication slot \"estune\" does not exist
2026-11-30 FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment 000000010000000000000003 has already been removed
";
        let causes = causes_in_log(log);
        assert_eq!(causes.len(), 2, "{causes:?}");
        assert!(causes[0].starts_with("WAL removed"), "{causes:?}");
        assert!(causes[0].contains("000000010000000000000003"));
        assert!(causes[1].starts_with("slot missing"), "{causes:?}");
    }

    #[test]
    fn only_lines_since_the_last_start_count() {
        let log = "\
LOG:  starting PostgreSQL 15.18
FATAL:  requested WAL segment 000000010000000000000003 has already been removed
LOG:  starting PostgreSQL 15.18
LOG:  started streaming WAL from primary at 0/5000000 on timeline 1
";
        assert!(causes_in_log(log).is_empty());
    }

    #[test]
    fn timelines_apart_are_named() {
        let log = "LOG:  starting PostgreSQL 18.1\nFATAL:  requested timeline 2 is not a child of this server's history\n";
        let causes = causes_in_log(log);
        assert_eq!(causes.len(), 1);
        assert!(causes[0].starts_with("timeline mismatch"), "{causes:?}");
    }
}
