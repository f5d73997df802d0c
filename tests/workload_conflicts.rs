//! Boundary integrity under concurrency, on a real primary + replica. The
//! original's append (READ COMMITTED) lets two overlapping commands through
//! — forced here, and caught by the replay — while `serializable` and
//! `advisory-lock` keep concurrent lends of one copy valid.

mod support;

use estune::workload::{
    book_id, install_schema, reader_id, verify_streams, AppendMode, CommandOutcome, EventStore,
    Filter, FilterItem, Library, Match, NewEvent, Streams, ViolationKind,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::TestCluster;
use tokio::sync::Barrier;

async fn store(url: &str) -> EventStore {
    EventStore::new(
        estune::db::connect(url, Duration::from_secs(10))
            .await
            .unwrap(),
    )
}

fn lend_boundary(book: &str, reader: &str) -> Filter {
    Filter::of(vec![FilterItem::new(
        &[
            "BookCopyAddedToCirculation",
            "BookCopyRemovedFromCirculation",
            "BookCopyLentToReader",
            "BookCopyReturnedByReader",
            "ReaderRegistered",
            "ReaderContractCanceled",
        ],
        &[("BookID", book), ("ReaderID", reader)],
        Match::AnyOf,
    )])
}

/// Readers 1..=n registered and book 1 added (last, so every lend boundary
/// of book 1 has the same max sequence number).
async fn prepare(url: &str, readers: u64) {
    let primary = store(url).await;
    install_schema(primary.client()).await.unwrap();
    let replica = store(url).await;
    let mut lib = Library::new(primary, replica, 0);
    for n in 1..=readers {
        let r = lib.register_reader(&reader_id(n), "R").await.unwrap();
        assert_eq!(r.outcome, CommandOutcome::Appended(1));
    }
    lib.add_book_copy(&book_id(1)).await.unwrap();
}

#[tokio::test]
async fn as_original_lets_a_forced_race_through_and_the_replay_catches_it() {
    let c = TestCluster::stock("wl-race");
    let url = c.eventstore_url("primary");
    prepare(&url, 2).await;
    let (book, r1, r2) = (book_id(1), reader_id(1), reader_id(2));

    // Both commands read their boundary and decide before either appends.
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for (i, reader) in [r1.clone(), r2.clone()].into_iter().enumerate() {
        let (url, book, barrier) = (url.clone(), book.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = store(&url).await;
            let f = lend_boundary(&book, &reader);
            let (_, max) = s.query(&f).await.unwrap();
            barrier.wait().await; // both have read
            let lent = NewEvent::new(
                "BookCopyLentToReader",
                json!({"BookID": book, "ReaderID": reader}),
            );
            // The first holds its insert open across the second's: the
            // overlap READ COMMITTED allows. The second's snapshot does not
            // see the first's uncommitted row, so both guards pass.
            let n = if i == 0 {
                s.control("BEGIN").await.unwrap();
                let n = s.append(&f, max, &[lent]).await.unwrap();
                barrier.wait().await; // first appended, uncommitted
                barrier.wait().await; // second appended
                s.control("COMMIT").await.unwrap();
                n
            } else {
                barrier.wait().await;
                let n = s.append(&f, max, &[lent]).await.unwrap();
                barrier.wait().await;
                n
            };
            (max, n)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(
        results[0].0, results[1].0,
        "both decided on the same max_seq"
    );
    assert_eq!((results[0].1, results[1].1), (1, 1), "both guards passed");

    let s = store(&url).await;
    let v = verify_streams(s.client(), &Streams::All).await.unwrap();
    assert_eq!(v.count(ViolationKind::LentWhileLent), 1, "{v:?}");
    assert_eq!(v.total(), 1, "{v:?}");
    let scoped = Streams::Ids {
        books: vec![book.clone()],
        readers: vec![],
    };
    assert_eq!(
        verify_streams(s.client(), &scoped)
            .await
            .unwrap()
            .count(ViolationKind::LentWhileLent),
        1
    );
}

/// Eight workers lend and return the same copy, each to its own reader;
/// returns the retries the guard caused and the violations the replay found.
async fn hammer(mode: AppendMode, tag: &str) -> (u32, u64) {
    let c = TestCluster::stock(tag);
    let url = c.eventstore_url("primary");
    const WORKERS: u64 = 8;
    prepare(&url, WORKERS).await;
    let barrier = Arc::new(Barrier::new(WORKERS as usize));
    let mut tasks = Vec::new();
    for w in 1..=WORKERS {
        let (url, barrier) = (url.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut lib = Library::new(store(&url).await, store(&url).await, w);
            lib.mode = mode;
            let (book, reader) = (book_id(1), reader_id(w));
            let mut outcomes = Vec::new();
            barrier.wait().await;
            for _ in 0..15 {
                outcomes.push(lib.lend(&book, &reader).await.unwrap());
                outcomes.push(lib.return_copy(&book, &reader).await.unwrap());
            }
            outcomes
        }));
    }
    let mut lends = 0;
    let mut retries = 0;
    for t in tasks {
        for r in t.await.unwrap() {
            retries += r.retries;
            if r.outcome == CommandOutcome::Appended(1) {
                lends += 1;
            }
        }
    }
    assert!(lends > 0, "some commands went through");
    let s = store(&url).await;
    let v = verify_streams(s.client(), &Streams::All).await.unwrap();
    (retries, v.total())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn as_original_under_contention_retries_or_lets_the_race_through() {
    // Either the guard catches an overlap (a retry) or the overlap slips
    // through (a violation): with 240 commands on one boundary, never
    // neither. Which one is up to the scheduler.
    let (retries, violations) = hammer(AppendMode::AsOriginal, "wl-orig").await;
    assert!(
        retries + violations as u32 > 0,
        "{retries} retries, {violations} violations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serializable_keeps_concurrent_lends_valid() {
    let (retries, violations) = hammer(AppendMode::Serializable, "wl-ser").await;
    assert_eq!(violations, 0, "serializable, after {retries} retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn advisory_lock_keeps_concurrent_lends_valid() {
    let (retries, violations) = hammer(AppendMode::AdvisoryLock, "wl-lock").await;
    assert_eq!(violations, 0, "advisory-lock, after {retries} retries");
    assert_eq!(
        retries, 0,
        "the locks serialise the commands: nothing to retry"
    );
}

#[tokio::test]
async fn serializable_refuses_the_same_forced_race() {
    let c = TestCluster::stock("wl-ser-race");
    let url = c.eventstore_url("primary");
    prepare(&url, 2).await;
    let book = book_id(1);
    let (mut a, mut b) = (store(&url).await, store(&url).await);
    let (fa, fb) = (
        lend_boundary(&book, &reader_id(1)),
        lend_boundary(&book, &reader_id(2)),
    );
    a.control("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await
        .unwrap();
    b.control("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await
        .unwrap();
    let (_, max_a) = a.query(&fa).await.unwrap();
    let (_, max_b) = b.query(&fb).await.unwrap();
    assert_eq!(max_a, max_b);
    let lent = |r: u64| {
        NewEvent::new(
            "BookCopyLentToReader",
            json!({"BookID": book, "ReaderID": reader_id(r)}),
        )
    };
    assert_eq!(a.append(&fa, max_a, &[lent(1)]).await.unwrap(), 1);
    let second = async {
        b.append(&fb, max_b, &[lent(2)]).await?;
        b.control("COMMIT").await
    };
    let first = a.control("COMMIT").await;
    let second = second.await;
    assert!(first.is_ok(), "{first:?}");
    let err = second.expect_err("the second transaction must not commit");
    assert_eq!(err.class(), "40001", "{err:?}");
    assert!(err.is_serialization_failure());

    let v = verify_streams(a.client(), &Streams::All).await.unwrap();
    assert_eq!(v.total(), 0, "{v:?}");
}

#[tokio::test]
async fn a_command_abandoned_mid_transaction_is_rolled_back_by_the_next() {
    let c = TestCluster::stock("wl-abandon");
    let url = c.eventstore_url("primary");
    prepare(&url, 1).await;
    let mut lib = Library::new(store(&url).await, store(&url).await, 9);
    lib.mode = AppendMode::AdvisoryLock;
    let blocker = store(&url).await;
    blocker
        .control("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    // The engine's per-operation timeout drops the command while it waits
    // inside its transaction.
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        lib.lend(&book_id(1), &reader_id(1)),
    )
    .await;
    assert!(dropped.is_err(), "the command was blocked");
    blocker.control("ROLLBACK").await.unwrap();
    let open = || async {
        let n: i64 = blocker
            .client()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'eventstore' \
                 AND state LIKE 'idle in transaction%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        n
    };
    // The hazard: the abandoned transaction stays open on the connection.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while open().await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned transaction never showed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let r = lib.lend(&book_id(1), &reader_id(1)).await.unwrap();
    assert_eq!(r.outcome, CommandOutcome::Appended(1));
    assert_eq!(open().await, 0, "no transaction left open");
    let v = verify_streams(blocker.client(), &Streams::All)
        .await
        .unwrap();
    assert_eq!(v.total(), 0, "{v:?}");
    let lends: i64 = blocker
        .client()
        .query_one(
            "SELECT count(*) FROM events WHERE event_type = 'BookCopyLentToReader'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(lends, 1, "the abandoned attempt appended nothing");
}
