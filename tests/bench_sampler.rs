//! The server sampler against real servers (PostgreSQL 15, whose
//! checkpoint counters live in pg_stat_bgwriter, and 18, in
//! pg_stat_checkpointer): every figure filled, and a server that goes
//! away recorded as errors while sampling goes on, then reconnected; and replication lag
//! on a real primary + streaming replica.

mod support;

use estune::bench::ServerSampler;
use std::time::Duration;
use support::{ScratchServer, TestCluster};

async fn connect(dsn: &str) -> tokio_postgres::Client {
    estune::db::connect(dsn, Duration::from_secs(10))
        .await
        .unwrap()
}

async fn sample_a_server(major: u32) {
    let mut server = ScratchServer::init(major);
    server.start().unwrap();
    let setup = connect(&server.dsn()).await;
    setup
        .batch_execute(
            "CREATE TABLE events (seq bigserial PRIMARY KEY, payload jsonb);
             INSERT INTO events (payload) SELECT '{}' FROM generate_series(1, 100);",
        )
        .await
        .unwrap();
    let dsn = server.dsn();
    let mut sampler = ServerSampler::connect(&dsn, Some(&dsn)).await.unwrap();
    let first = sampler.sample(1.0).await;
    assert!(
        first.primary.errors.is_empty(),
        "{:?}",
        first.primary.errors
    );
    assert_eq!(first.primary.commits, None, "no delta on the first sample");
    setup
        .batch_execute("INSERT INTO events (payload) VALUES ('{}'); SELECT count(*) FROM events;")
        .await
        .unwrap();
    // Backends publish their counters at most once a second: poll, with
    // a deadline, until the commit shows in a delta.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (mut commits, mut ratio) = (0, None);
    let second = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = sampler.sample(2.0).await;
        assert!(
            s.primary.errors.is_empty(),
            "PG {major}: {:?}",
            s.primary.errors
        );
        commits += s.primary.commits.unwrap();
        ratio = ratio.or(s.primary.cache_hit_ratio);
        if (commits >= 1 && ratio.is_some()) || tokio::time::Instant::now() > deadline {
            break s;
        }
    };
    assert!(commits >= 1, "PG {major}: no commit seen");
    assert!(ratio.is_some_and(|r| (0.0..=1.0).contains(&r)), "{ratio:?}");
    let p = &second.primary;
    let cp = p.checkpoints.as_ref().unwrap();
    assert!(cp.timed_delta.is_some() && cp.requested_delta.is_some());
    // The idle setup connection waits for its client: ClientRead.
    assert!(
        p.connections
            .iter()
            .any(|c| c.state == "idle" && c.wait_event == "ClientRead" && c.count >= 1),
        "PG {major}: {:?}",
        p.connections
    );
    let ev = p.events_table.as_ref().expect("events exists");
    assert!(!ev.autoanalyzed);
    assert!(second.replica.as_ref().unwrap().errors.is_empty());
    assert!(second.replication.is_empty(), "no standby here");

    server.stop();
    let gone = sampler.sample(3.0).await;
    assert!(!gone.primary.errors.is_empty(), "PG {major}: {gone:?}");
    assert!(!gone.replica.unwrap().errors.is_empty());
    assert_eq!(gone.t, 3.0);

    // Back up: the sampler reconnects, and starts its deltas afresh.
    server.start().unwrap();
    let back = sampler.sample(4.0).await;
    assert!(back.primary.errors.is_empty(), "PG {major}: {back:?}");
    assert_eq!(back.primary.commits, None);
    assert!(back.replica.unwrap().errors.is_empty());
}

#[tokio::test]
async fn samples_postgres_15() {
    sample_a_server(15).await;
}

#[tokio::test]
async fn samples_postgres_18() {
    sample_a_server(18).await;
}

#[tokio::test]
async fn samples_replication_on_a_primary_replica_pair() {
    let c = TestCluster::stock("bench-sampler");
    let primary = connect(&c.url("primary")).await;
    primary
        .batch_execute(
            "CREATE TABLE events (seq bigserial PRIMARY KEY, payload jsonb);
             INSERT INTO events (payload) SELECT '{}' FROM generate_series(1, 1000);",
        )
        .await
        .unwrap();
    let mut sampler = ServerSampler::new(
        connect(&c.url("primary")).await,
        Some(connect(&c.url("replica")).await),
    );
    // The standby shows in pg_stat_replication once it has connected.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let s = loop {
        let s = sampler.sample(1.0).await;
        if !s.replication.is_empty() || tokio::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(s.primary.errors.is_empty(), "{:?}", s.primary.errors);
    assert_eq!(s.replication.len(), 1, "{s:?}");
    let lag = &s.replication[0];
    assert!(lag.replay_lag_bytes.is_some_and(|b| b >= 0.0), "{lag:?}");
    let replica = s.replica.as_ref().unwrap();
    assert!(replica.errors.is_empty(), "{:?}", replica.errors);
}
