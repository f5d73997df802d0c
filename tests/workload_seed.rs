//! Seeding against a real primary + replica: a consistent history (the
//! replay finds nothing to object to), counts that add up, a clear refusal
//! to write a second history, and appending that continues the first.

mod support;

use estune::bench::{Outcome, Worker, WorkerFactory};
use estune::workload::{
    book_id, reader_id, seed, verify_streams, CommandOutcome, EventStore, Library, SeedOptions,
    Streams, WorkloadError,
};
use estune::workload::{LibraryFactory, Mix};
use support::{client, TestCluster};

async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn seeded_history_is_consistent_and_counts_match() {
    let c = TestCluster::stock("wl-seed");
    let url = c.eventstore_url("primary");
    let db = client(&url).await;
    let opts = SeedOptions {
        events: 20_000,
        books: 1_000,
        readers: 100,
        append: false,
        seed: 42,
    };
    let report = seed(&db, &opts).await.unwrap();
    assert_eq!(report.events, 20_000);
    assert_eq!(
        (report.readers_registered, report.books_added),
        (100, 1_000)
    );
    assert_eq!(
        report.readers_registered + report.books_added + report.lends + report.returns,
        20_000
    );
    assert!(report.indexes_built_after_copy);
    assert!(report.events_per_sec() > 0.0);
    assert_eq!(count(&db, "SELECT count(*) FROM events").await, 20_000);
    // The statistics count each row once (the COPY's counts are flushed
    // before ANALYZE, not added on top of its estimate after it).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _ = db.batch_execute("SELECT pg_stat_force_next_flush()").await;
    let live = count(
        &db,
        "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'events'",
    )
    .await;
    assert_eq!(live, 20_000, "n_live_tup after seeding");
    // Written frozen: every page all-visible, so the first queries do not
    // set hint bits (and write page images to the WAL) page by page.
    let (pages, visible): (i32, i32) = {
        let r = db
            .query_one(
                "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'events'",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(
        pages > 0 && visible == pages,
        "{visible} of {pages} pages all-visible"
    );
    let lent = count(
        &db,
        "SELECT count(*) FROM events WHERE event_type = 'BookCopyLentToReader'",
    )
    .await;
    assert_eq!(lent as u64, report.lends);
    let indexes = count(&db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'events' AND indexname LIKE 'idx_events_%'").await;
    assert_eq!(
        indexes, 4,
        "the four secondary indexes are back after the COPY"
    );

    let v = verify_streams(&db, &Streams::All).await.unwrap();
    assert_eq!(v.total(), 0, "{v:?}");
    assert_eq!(v.events_replayed, 20_000);

    // A second history is refused, clearly.
    let err = seed(&db, &opts).await.unwrap_err();
    assert!(matches!(err, WorkloadError::NotEmpty), "{err}");
    assert!(err.to_string().contains("already holds events"), "{err}");

    // Appending continues the stored state: still no violation.
    let more = seed(
        &db,
        &SeedOptions {
            events: 5_000,
            append: true,
            seed: 7,
            ..opts
        },
    )
    .await
    .unwrap();
    assert_eq!(more.events, 5_000);
    assert_eq!(
        (more.readers_registered, more.books_added),
        (0, 0),
        "all already there"
    );
    assert!(!more.indexes_built_after_copy);
    assert_eq!(count(&db, "SELECT count(*) FROM events").await, 25_000);
    let v = verify_streams(&db, &Streams::All).await.unwrap();
    assert_eq!(v.total(), 0, "{v:?}");

    // The commands agree with the seeded state.
    let mut lib = Library::new(
        EventStore::new(client(&url).await),
        EventStore::new(client(&url).await),
        1,
    );
    let r = lib.register_reader(&reader_id(1), "again").await.unwrap();
    assert_eq!(r.outcome, CommandOutcome::NoOp);
    let r = lib.add_book_copy(&book_id(1)).await.unwrap();
    assert_eq!(r.outcome, CommandOutcome::NoOp);

    // A load run starts from the copies the seed left lent: as many loans
    // as the projection shows, and every one of them returns cleanly.
    let (open, _) = lib.books_lent_out(None).await.unwrap();
    assert!(!open.is_empty());
    let mix = Mix::parse("lend=1,return=1", Some(1_000), Some(100)).unwrap();
    let factory = LibraryFactory::new(&url, &url, mix).unwrap();
    assert_eq!(factory.prime_loans(&db).await.unwrap(), open.len());
    let mut worker = factory.worker(0).await.unwrap();
    for _ in 0..20 {
        let back = worker.run(1).await;
        assert!(matches!(back, Outcome::Ok { events: 1, .. }), "{back:?}");
    }
    // A mix without returns does not read the loans at all.
    let lends = LibraryFactory::new(&url, &url, Mix::parse("lend=1", None, None).unwrap()).unwrap();
    assert_eq!(lends.prime_loans(&db).await.unwrap(), 0);
}

/// Seeding drops the indexes of `events` for the COPY and builds them
/// again; a profile's storage parameters on them (fastupdate off on the GIN
/// indexes) must survive that.
#[tokio::test]
async fn seeding_keeps_the_storage_parameters_of_the_indexes() {
    let c = TestCluster::stock("wl-seed-opts");
    let db = client(&c.eventstore_url("primary")).await;
    estune::workload::install_schema(&db).await.unwrap();
    db.batch_execute(
        "ALTER INDEX idx_events_payload_gin SET (fastupdate = off, gin_pending_list_limit = 512);
         ALTER INDEX idx_events_occurred_at SET (fillfactor = 95)",
    )
    .await
    .unwrap();
    let opts = SeedOptions {
        events: 2_000,
        books: 100,
        readers: 20,
        append: false,
        seed: 1,
    };
    let report = seed(&db, &opts).await.unwrap();
    assert!(report.indexes_built_after_copy);
    let rows = db
        .query(
            "SELECT relname::text, coalesce(array_to_string(reloptions, ','), '') FROM pg_class
              WHERE relname LIKE 'idx_events_%' ORDER BY relname",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let want = [
        ("idx_events_event_type", ""),
        ("idx_events_metadata_gin", ""),
        ("idx_events_occurred_at", "fillfactor=95"),
        (
            "idx_events_payload_gin",
            "fastupdate=off,gin_pending_list_limit=512",
        ),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
}

/// The seed rate (run with `cargo test --release --test workload_seed --
/// --ignored --nocapture`): 100,000 events, index builds included.
#[tokio::test]
#[ignore]
async fn seed_rate_for_100k_events() {
    let c = TestCluster::stock("wl-seedrate");
    let db = client(&c.eventstore_url("primary")).await;
    let opts = SeedOptions {
        events: 100_000,
        books: 1_000,
        readers: 100,
        append: false,
        seed: 1,
    };
    let r = seed(&db, &opts).await.unwrap();
    println!(
        "seeded {} events: {:.0} events/s overall ({:.2} s), COPY alone {:.2} s ({:.0} events/s), indexes {:.2} s, ANALYZE {:.2} s",
        r.events,
        r.events_per_sec(),
        r.total_time.as_secs_f64(),
        r.copy_time.as_secs_f64(),
        r.events as f64 / r.copy_time.as_secs_f64(),
        r.index_time.as_secs_f64(),
        r.analyze_time.as_secs_f64()
    );
}
