//! Routing and the engine's view, on a real primary + replica: read-side
//! queries are observed on the replica (its own commit counter moves), can
//! be sent to the primary instead, and a `LibraryWorker` runs every
//! operation of a mix without a system error.

mod support;

use estune::bench::{Outcome, Worker, WorkerFactory};
use estune::workload::{
    book_id, install_schema, reader_id, EventStore, Library, LibraryFactory, Mix, Op, Route,
    Routing,
};
use std::time::{Duration, Instant};
use support::{client, TestCluster};

/// Committed transactions of the eventstore database on one server.
async fn commits(url: &str) -> i64 {
    let c = client(url).await;
    c.query_one(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = 'eventstore'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// Waits (with a deadline, stats are flushed asynchronously) until the
/// counter has grown by at least `by`; returns the growth seen.
async fn grown(url: &str, before: i64, by: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let delta = commits(url).await - before;
        if delta >= by || Instant::now() > deadline {
            return delta;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the replica has replayed everything the primary wrote.
async fn caught_up(primary: &str, replica: &str) {
    let lsn: String = client(primary)
        .await
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    let r = client(replica).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done: bool = r
            .query_one(
                "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                &[&lsn],
            )
            .await
            .unwrap()
            .get(0);
        assert!(Instant::now() < deadline, "the replica did not catch up");
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn library(primary: &str, replica: &str, routing: Routing) -> Library {
    let mut lib = Library::new(
        EventStore::new(client(primary).await),
        EventStore::new(client(replica).await),
        3,
    );
    lib.routing = routing;
    lib
}

#[tokio::test]
async fn queries_run_on_the_replica_unless_routed_to_the_primary() {
    let c = TestCluster::stock("wl-route");
    let (p, r) = (c.eventstore_url("primary"), c.eventstore_url("replica"));
    install_schema(&client(&p).await).await.unwrap();
    let mut lib = library(&p, &r, Routing::default()).await;
    lib.register_reader(&reader_id(1), "One").await.unwrap();
    lib.add_book_copy(&book_id(1)).await.unwrap();
    lib.lend(&book_id(1), &reader_id(1)).await.unwrap();
    drop(lib);
    caught_up(&p, &r).await;

    const QUERIES: i64 = 100;
    let before = commits(&r).await;
    let before_primary = commits(&p).await;
    let mut lib = library(&p, &r, Routing::default()).await;
    for _ in 0..QUERIES / 4 {
        assert_eq!(
            lib.books_lent_by_reader(&reader_id(1)).await.unwrap().0,
            vec![book_id(1)]
        );
        assert_eq!(
            lib.books_in_circulation(None).await.unwrap().0,
            vec![book_id(1)]
        );
        assert_eq!(lib.books_lent_out(None).await.unwrap().0.len(), 1);
        let (readers, max) = lib.registered_readers(None).await.unwrap();
        assert_eq!(readers, vec![reader_id(1)]);
        // A bound past the last event leaves nothing to read.
        assert!(lib
            .registered_readers(Some(max))
            .await
            .unwrap()
            .0
            .is_empty());
    }
    // Closing the connections flushes their statistics.
    drop(lib);
    let delta = grown(&r, before, QUERIES).await;
    assert!(
        delta >= QUERIES,
        "the replica committed {delta} transactions, expected ≥ {QUERIES}"
    );
    let on_primary = commits(&p).await - before_primary;
    assert!(
        on_primary < QUERIES / 2,
        "the primary committed {on_primary} meanwhile"
    );

    let before_primary = commits(&p).await;
    let routing = Routing {
        commands: Route::Primary,
        queries: Route::Primary,
    };
    let mut lib = library(&p, &r, routing).await;
    for _ in 0..QUERIES {
        lib.books_lent_by_reader(&reader_id(1)).await.unwrap();
    }
    drop(lib);
    let delta = grown(&p, before_primary, QUERIES).await;
    assert!(
        delta >= QUERIES,
        "the primary committed {delta}, expected ≥ {QUERIES}"
    );
}

#[tokio::test]
async fn a_worker_runs_every_operation_and_maps_outcomes() {
    let c = TestCluster::stock("wl-worker");
    let (p, r) = (c.eventstore_url("primary"), c.eventstore_url("replica"));
    install_schema(&client(&p).await).await.unwrap();
    caught_up(&p, &r).await;
    let mix = Mix {
        name: "all".into(),
        books: 5,
        readers: 3,
        ops: Op::ALL.iter().map(|op| (*op, 1.0)).collect(),
    };
    let factory = LibraryFactory::new(&p, &r, mix).unwrap();
    assert_eq!(factory.mix().len(), Op::ALL.len());
    assert_eq!(factory.mix()[2].op, "LendBookCopyToReader");
    let mut worker = factory.worker(0).await.unwrap();
    let (mut ok, mut rejected) = (0, 0);
    for round in 0..20 {
        for i in 0..Op::ALL.len() {
            match worker.run(i).await {
                Outcome::Ok { .. } => ok += 1,
                Outcome::Rejected { .. } => rejected += 1,
                other => panic!("round {round}, {}: {other:?}", Op::ALL[i].name()),
            }
        }
    }
    assert!(ok > 0 && rejected > 0, "{ok} ok, {rejected} rejected");
    match worker.run(99).await {
        Outcome::Error { class, .. } => assert_eq!(class, "other"),
        other => panic!("{other:?}"),
    }

    // Type-only queries bounded to a window near the store's head.
    let mut windowed = LibraryFactory::new(&p, &r, factory.mix.clone()).unwrap();
    windowed.type_query_window = Some(10);
    let mut worker = windowed.worker(1).await.unwrap();
    for op in [
        Op::BooksInCirculation,
        Op::BooksLentOut,
        Op::RegisteredReaders,
    ] {
        let i = Op::ALL.iter().position(|o| *o == op).unwrap();
        for _ in 0..3 {
            assert!(matches!(worker.run(i).await, Outcome::Ok { events: 0, .. }));
        }
    }

    // Returns give back what the pool lent, whichever worker lent it. One
    // copy and 50 registered readers: every lend succeeds, and a return
    // drawn at random would hit the right reader once in 50; ten rounds in
    // a row, alternating which worker lends, tell them apart.
    let pair = Mix {
        name: "lend-return".into(),
        books: 1,
        readers: 50,
        ops: vec![
            (Op::LendBookCopyToReader, 1.0),
            (Op::ReturnBookCopyFromReader, 1.0),
        ],
    };
    let factory = LibraryFactory::new(&p, &r, pair).unwrap();
    let mut worker = factory.worker(2).await.unwrap();
    let mut other = factory.worker(3).await.unwrap();
    for n in 1..=50 {
        worker
            .library
            .register_reader(&reader_id(n), &format!("Reader {n}"))
            .await
            .unwrap();
    }
    worker.library.add_book_copy(&book_id(1)).await.unwrap();
    for round in 0..10 {
        let (lender, returner) = if round % 2 == 0 {
            (&mut worker, &mut other)
        } else {
            (&mut other, &mut worker)
        };
        assert!(
            matches!(lender.run(0).await, Outcome::Ok { events: 1, .. }),
            "round {round}: lend"
        );
        let back = returner.run(1).await;
        assert!(
            matches!(back, Outcome::Ok { events: 1, .. }),
            "round {round}: the loan is returned, got {back:?}"
        );
    }

    // A worker whose replica is gone fails with a named server.
    let bad = LibraryFactory::new(
        &p,
        "postgresql://x:y@127.0.0.1:1/eventstore",
        Mix::named("worker-pool-2025").unwrap(),
    )
    .unwrap();
    let err = bad.worker(1).await.err().expect("no replica, no worker");
    assert!(format!("{err:#}").contains("replica"), "{err:#}");
}
