//! Health probes against one real server, PostgreSQL 15 and 18 (the
//! checkpoint counters moved to pg_stat_checkpointer in 17, backend
//! writes to pg_stat_io in 16): every area filled without a probe error,
//! the event store's tables, GIN pending lists through pgstattuple and
//! pageinspect, pg_stat_statements, index usage (read while a table is
//! locked), a lock waiting on another, an idle transaction, and commits
//! that rise between two snapshots.

mod support;

use estune::health::{self, ServerSnapshot, Snapshot, Status, Target, Thresholds};
use estune::tune::Role;
use std::time::Duration;
use support::{client, ScratchServer};

const SCHEMA: &str = "
CREATE TABLE events (
  sequence_number BIGSERIAL PRIMARY KEY,
  occurred_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
  event_type      TEXT NOT NULL,
  payload         JSONB NOT NULL);
CREATE INDEX idx_events_payload_gin ON events USING gin (payload jsonb_path_ops)
  WITH (fastupdate = on);
CREATE TABLE snapshots (k text PRIMARY KEY, v jsonb);
INSERT INTO events (event_type, payload)
  SELECT 'Lent', jsonb_build_object('book', i) FROM generate_series(1, 500) i;
ANALYZE events;
";

/// Backends publish their statistics when idle, up to 10 s later; this
/// makes the next transaction end publish them (PostgreSQL 15+).
const FLUSH: &str = "SELECT pg_stat_force_next_flush(); SELECT 1";

async fn probe(dsn: &str) -> Snapshot {
    let t = Target {
        role: Role::Primary,
        dsn: dsn.to_string(),
    };
    health::probe_pair(&[t], Duration::from_secs(10)).await
}

/// Probes until `done` holds or 15 s passed (the asserts say what is missing).
async fn probe_until(dsn: &str, done: impl Fn(&ServerSnapshot) -> bool) -> Snapshot {
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(15);
    loop {
        let s = probe(dsn).await;
        if done(&s.servers[0]) || tokio::time::Instant::now() > deadline {
            println!("waited {:?} for the statistics", start.elapsed());
            return s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn only(s: &Snapshot) -> &ServerSnapshot {
    assert_eq!(s.servers.len(), 1);
    let p = &s.servers[0];
    assert!(p.unreachable.is_none(), "{:?}", p.unreachable);
    p
}

async fn one_server(major: u32) {
    let mut server = ScratchServer::init(major);
    server.write(
        "postgresql.auto.conf",
        "shared_preload_libraries = 'pg_stat_statements'\n",
    );
    server.start().unwrap();
    let dsn = server.dsn();
    let setup = client(&dsn).await;
    setup.batch_execute(SCHEMA).await.unwrap();
    setup.batch_execute(FLUSH).await.unwrap();

    // Backends publish their statistics at most once a second.
    let first = probe_until(&dsn, |p| {
        let read = p.cache.as_ref().is_some_and(|c| {
            c.tables
                .iter()
                .any(|t| t.table == "events" && t.heap_hit_ratio.is_some())
        });
        read && p.tables.iter().any(|t| t.live_tuples == 500)
    })
    .await;
    let p = only(&first);
    println!("PG {major}: probes took {} ms", first.probe_ms);
    assert!(p.errors.is_empty(), "PG {major}: {:?}", p.errors);
    assert_eq!(p.version_num.unwrap() / 10000, major as i32);
    assert_eq!(p.in_recovery, Some(false));
    assert!(p.wal_lsn.is_some());
    let c = p.connections.as_ref().unwrap();
    assert!(c.total >= 2, "the setup connection and the probe's: {c:?}");
    assert_eq!(c.available, c.max_connections - c.reserved);
    assert!(c.reserved >= 3, "superuser_reserved_connections: {c:?}");
    assert!(c.client_read >= 1, "the idle setup connection: {c:?}");
    let cache = p.cache.as_ref().unwrap();
    assert!(cache
        .databases
        .iter()
        .any(|d| d.database == "postgres" && d.blocks > 0));
    let ev = cache.tables.iter().find(|t| t.table == "events").unwrap();
    assert!(ev.heap_hit_ratio.is_some_and(|r| (0.0..=1.0).contains(&r)));
    let events = p.tables.iter().find(|t| t.table == "events").unwrap();
    assert_eq!(events.live_tuples, 500);
    assert!(events.total_bytes.unwrap() > 0 && events.analyze_count == 1);
    assert!(p.tables.iter().any(|t| t.table == "snapshots"));
    assert!(p.senders.is_empty() && p.receiver.is_none());
    assert!(p.slots.as_ref().unwrap().slots.is_empty());
    let w = p.wraparound.as_ref().unwrap();
    assert!(w.datfrozenxid_age > 0 && w.autovacuum_freeze_max_age == 200_000_000);
    let seq = p.sequence.as_ref().unwrap();
    assert_eq!(seq.sequence, "public.events_sequence_number_seq");
    assert_eq!((seq.last_value, seq.max_value), (Some(500), i64::MAX));
    let cp = p.checkpoints.as_ref().unwrap();
    let source = if major >= 17 {
        "pg_stat_checkpointer"
    } else {
        "pg_stat_bgwriter"
    };
    assert_eq!(cp.source, source);
    assert!(cp.buffers_backend.is_some(), "PG {major}: {cp:?}");
    let st = p.statements.as_ref().unwrap();
    assert!(!st.installed && st.note.as_ref().unwrap().contains("not installed"));
    let gin = p.gin.as_ref().unwrap();
    assert!(
        gin.via.is_none()
            && gin
                .note
                .as_ref()
                .unwrap()
                .contains("available but not installed"),
        "{gin:?}"
    );
    let set = p.settings.as_ref().unwrap();
    assert_eq!(set.parity.len(), estune::tune::defaults::PARITY.len());
    assert!(set.pending_restart.is_empty());

    // Extensions: statements ranked by total time, GIN pending lists.
    setup
        .batch_execute(
            "CREATE EXTENSION pg_stat_statements; CREATE EXTENSION pgstattuple;
             INSERT INTO events (event_type, payload)
               SELECT 'Returned', jsonb_build_object('book', i) FROM generate_series(1, 50) i;",
        )
        .await
        .unwrap();
    // An idle transaction holding a lock, and a backend waiting for it.
    let holder = client(&dsn).await;
    holder
        .batch_execute("BEGIN; LOCK TABLE snapshots;")
        .await
        .unwrap();
    let waiter = client(&dsn).await;
    let blocked =
        tokio::spawn(async move { waiter.query("SELECT count(*) FROM snapshots", &[]).await });
    let second = probe_until(&dsn, |p| {
        let locked = p.locks.as_ref().is_some_and(|l| !l.blocked.is_empty());
        let counted = p.statements.as_ref().is_some_and(|s| !s.top.is_empty());
        locked && counted
    })
    .await;
    let p = only(&second);
    assert!(p.errors.is_empty(), "PG {major}: {:?}", p.errors);
    let locks = p.locks.as_ref().unwrap();
    assert!(locks.waiting >= 1, "{locks:?}");
    assert_eq!(locks.blocked.len(), 1, "{locks:?}");
    assert!(locks.blocked[0].query.contains("snapshots"));
    let snapshots = p.tables.iter().find(|t| t.table == "snapshots").unwrap();
    assert_eq!(snapshots.total_bytes, None, "locked: no size, and no wait");
    assert_eq!(locks.blocked[0].blocked_by.len(), 1);
    // Index usage is read without waiting for the locked table either.
    let usage = p.index_usage.as_ref().unwrap();
    let events = usage.tables.iter().find(|t| t.table == "events").unwrap();
    assert!(events.inserted >= 500, "{usage:?}");
    let index = |name: &str| usage.indexes.iter().find(|i| i.index == name).unwrap();
    assert!(index("events_pkey").backs_constraint && index("snapshots_pkey").backs_constraint);
    let gin = index("idx_events_payload_gin");
    assert!(
        !gin.backs_constraint && gin.size_bytes.unwrap() > 0,
        "{gin:?}"
    );
    assert_eq!(gin.columns, ["payload"]);
    assert!(
        usage.counted_s >= 0.0 && usage.stats_reset.is_none(),
        "{usage:?}"
    );
    let c = p.connections.as_ref().unwrap();
    assert_eq!(c.idle_in_transaction, 1, "{c:?}");
    assert!(c.longest_idle_in_transaction_s.is_some());
    let st = p.statements.as_ref().unwrap();
    assert!(st.installed && st.note.is_none(), "{st:?}");
    assert!(!st.top.is_empty() && st.top[0].total_ms >= st.top.last().unwrap().total_ms);
    let gin = p.gin.as_ref().unwrap();
    assert_eq!(gin.via.as_deref(), Some("pgstattuple"));
    let idx = &gin.indexes[0];
    assert_eq!(idx.index, "idx_events_payload_gin");
    assert!(
        idx.pending_tuples >= 50,
        "fastupdate puts new entries in the pending list: {idx:?}"
    );
    // With a 1s lock-wait threshold the waiting backend is a finding.
    let mut t = Thresholds::defaults().unwrap();
    t.set("locks.wait_warn=1ms").unwrap();
    t.set("connections.idle_in_transaction_warn=1ms").unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let f = health::evaluate(&probe(&dsn).await, &t);
    let status = |check: &str| f.iter().find(|f| f.check == check).map(|f| f.status);
    assert_eq!(status("lock_waits"), Some(Status::Warn), "{f:#?}");
    assert_eq!(status("idle_in_transaction"), Some(Status::Warn), "{f:#?}");
    holder.batch_execute("COMMIT").await.unwrap();
    blocked.await.unwrap().unwrap();

    // pageinspect reads the same pending list.
    setup
        .batch_execute("DROP EXTENSION pgstattuple; CREATE EXTENSION pageinspect;")
        .await
        .unwrap();
    let s = probe(&dsn).await;
    let gin = only(&s).gin.as_ref().unwrap();
    assert_eq!(gin.via.as_deref(), Some("pageinspect"), "{gin:?}");
    assert_eq!(gin.indexes[0].pending_tuples, idx.pending_tuples);

    // Commits show up in the counters (published at most once a second).
    let before = only(&s).counters.clone().unwrap();
    setup
        .batch_execute("INSERT INTO events (event_type, payload) VALUES ('Lent', '{}')")
        .await
        .unwrap();
    setup.batch_execute(FLUSH).await.unwrap();
    let after = probe_until(&dsn, |p| {
        p.counters
            .as_ref()
            .is_some_and(|c| c.tup_inserted > before.tup_inserted)
    })
    .await;
    let with = health::with_rates(&s, after, 1.0);
    let c = only(&with).counters.clone().unwrap();
    assert!(c.commits > before.commits && c.tup_inserted > before.tup_inserted);
    let r = only(&with).rates.clone().unwrap();
    assert!(r.commits >= 1.0 && r.tup_inserted >= 1.0, "{r:?}");
    server.stop();
}

#[tokio::test]
async fn probes_on_postgres_15() {
    one_server(15).await;
}

#[tokio::test]
async fn probes_on_postgres_18() {
    one_server(18).await;
}

#[tokio::test]
async fn a_stopped_server_is_crit_a_bad_password_unknown_and_nothing_hangs() {
    let mut server = ScratchServer::init(15);
    server.start().unwrap();
    let good = server.dsn();
    let bad_password = good.replace(&server.password, "wrong");
    let targets = [
        Target {
            role: Role::Primary,
            dsn: good.clone(),
        },
        Target {
            role: Role::Replica,
            dsn: bad_password,
        },
    ];
    let s = health::probe_pair(&targets, Duration::from_secs(5)).await;
    let f = health::evaluate(&s, &Thresholds::defaults().unwrap());
    let reach = |server: &str| {
        f.iter()
            .find(|f| f.server == server && f.check == "reachable")
            .unwrap()
    };
    assert_eq!(reach("primary").status, Status::Ok);
    assert_eq!(reach("replica").status, Status::Unknown);
    assert!(
        !reach("replica").value.contains("wrong"),
        "no password in output"
    );
    // The primary has no standby streaming, as the replica given is not one.
    let standbys = f.iter().find(|f| f.check == "standbys").unwrap();
    assert_eq!(standbys.status, Status::Crit);
    assert_eq!(health::worst(&f), Status::Crit);
    assert!(
        s.servers[0].connections.is_some(),
        "the other server is still probed"
    );

    server.stop();
    let s = health::probe_pair(&targets[..1], Duration::from_secs(5)).await;
    let f = health::evaluate(&s, &Thresholds::defaults().unwrap());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].check.as_str(), f[0].status),
        ("reachable", Status::Crit)
    );
    assert!(f[0].value.contains("connection refused"), "{}", f[0].value);
}

#[tokio::test]
async fn a_server_that_never_answers_costs_the_timeout_not_a_hang() {
    // Accepts connections (the kernel does) but never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let t = Target {
        role: Role::Replica,
        dsn: format!("postgresql://postgres:x@127.0.0.1:{port}/postgres"),
    };
    let s = health::probe_pair(&[t], Duration::from_millis(500)).await;
    let f = health::evaluate(&s, &Thresholds::defaults().unwrap());
    assert_eq!(
        (f[0].check.as_str(), f[0].status),
        ("reachable", Status::Crit)
    );
    assert!(f[0].value.contains("no answer"), "{}", f[0].value);
    assert!(!f[0].value.contains(":x@"), "no password in output");
    drop(silent);
}
