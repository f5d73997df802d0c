//! Boundary integrity under concurrency, on a real primary + replica. The
//! original's append (READ COMMITTED) lets two overlapping commands through
//! — forced here, and caught by the replay — while `serializable` and
//! `advisory-lock` keep concurrent lends of one copy valid. Each holds with
//! either guard: the newer-than-read guard refuses what the original's
//! refuses and lets the same race through.

mod support;

use estune::workload::{
    book_id, install_schema, reader_id, verify_streams, AppendMode, CommandOutcome, CommandResult,
    EventStore, Filter, FilterItem, Guard, Library, Match, NewEvent, Rejection, RetryPolicy,
    Streams, ViolationKind,
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
    forced_race(Guard::MaxEquals, "wl-race").await;
}

#[tokio::test]
async fn newer_than_read_lets_the_same_forced_race_through() {
    // A cheaper guard, the same isolation: under READ COMMITTED the second
    // insert does not see the first's uncommitted row, whichever question
    // its guard asks.
    forced_race(Guard::NoneNewerThan, "wl-race-ntr").await;
}

/// Two lends of one copy to two readers, with `guard`: both read, then the
/// first inserts and holds its transaction open across the second's insert.
/// Both guards pass and the replay finds the copy lent twice.
async fn forced_race(guard: Guard, tag: &str) {
    let c = TestCluster::stock(tag);
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
                let n = s.append_with(guard, &f, max, &[lent]).await.unwrap();
                barrier.wait().await; // first appended, uncommitted
                barrier.wait().await; // second appended
                s.control("COMMIT").await.unwrap();
                n
            } else {
                barrier.wait().await;
                let n = s.append_with(guard, &f, max, &[lent]).await.unwrap();
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
async fn newer_than_read_under_contention_retries_or_lets_the_race_through() {
    let (retries, violations) = hammer(AppendMode::NewerThanRead, "wl-ntr").await;
    assert!(
        retries + violations as u32 > 0,
        "{retries} retries, {violations} violations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serializable_keeps_concurrent_lends_valid() {
    for (mode, tag) in [
        (AppendMode::Serializable, "wl-ser"),
        (AppendMode::SerializableNewerThanRead, "wl-ser-ntr"),
    ] {
        let (retries, violations) = hammer(mode, tag).await;
        assert_eq!(violations, 0, "{mode}, after {retries} retries");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn advisory_lock_keeps_concurrent_lends_valid() {
    for (mode, tag) in [
        (AppendMode::AdvisoryLock, "wl-lock"),
        (AppendMode::AdvisoryLockNewerThanRead, "wl-lock-ntr"),
    ] {
        let (retries, violations) = hammer(mode, tag).await;
        assert_eq!(violations, 0, "{mode}, after {retries} retries");
        assert_eq!(
            retries, 0,
            "{mode}: the locks serialise the commands: nothing to retry"
        );
    }
}

#[tokio::test]
async fn serializable_refuses_the_same_forced_race() {
    serializable_forced_race(Guard::MaxEquals, "wl-ser-race").await;
}

#[tokio::test]
async fn serializable_refuses_the_same_forced_race_with_the_newer_than_read_guard() {
    serializable_forced_race(Guard::NoneNewerThan, "wl-ser-race-ntr").await;
}

async fn serializable_forced_race(guard: Guard, tag: &str) {
    let c = TestCluster::stock(tag);
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
    assert_eq!(
        a.append_with(guard, &fa, max_a, &[lent(1)]).await.unwrap(),
        1
    );
    let second = async {
        b.append_with(guard, &fb, max_b, &[lent(2)]).await?;
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

#[tokio::test]
async fn a_conflicting_append_from_another_session_is_refused_and_retried() {
    let c = TestCluster::stock("wl-other");
    let url = c.eventstore_url("primary");
    prepare(&url, 2).await;
    let mut admin = Library::new(store(&url).await, store(&url).await, 0);
    for book in 2..=4 {
        admin.add_book_copy(&book_id(book)).await.unwrap();
    }
    let one_try = RetryPolicy {
        max_tries: 1,
        ..RetryPolicy::default()
    };
    for (mode, retried, exhausted) in [
        (AppendMode::AsOriginal, 1, 2),
        (AppendMode::NewerThanRead, 3, 4),
    ] {
        // The guard sees the other session's lend: the attempt conflicts,
        // the retry re-reads the copy as lent to reader 2 and refuses.
        let r = lend_behind_another_session(&url, mode, RetryPolicy::default(), retried).await;
        assert_eq!(
            r,
            CommandResult {
                outcome: CommandOutcome::Rejected(Rejection::BookLentToAnotherReader),
                retries: 1
            },
            "{mode}"
        );
        // With one try in all, the conflict is the outcome.
        let r = lend_behind_another_session(&url, mode, one_try, exhausted).await;
        assert_eq!(
            r,
            CommandResult {
                outcome: CommandOutcome::Conflict,
                retries: 0
            },
            "{mode}"
        );
    }
    let s = store(&url).await;
    let v = verify_streams(s.client(), &Streams::All).await.unwrap();
    assert_eq!(v.total(), 0, "{v:?}");
    let lends: Vec<(String, String)> = s
        .client()
        .query(
            "SELECT event_type, payload->>'ReaderID' FROM events \
             WHERE event_type IN ('BookCopyLentToReader', 'LendingBookToReaderFailed') \
             ORDER BY sequence_number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let (lent, failed) = (
        "BookCopyLentToReader".to_string(),
        "LendingBookToReaderFailed".to_string(),
    );
    let (r1, r2) = (reader_id(1), reader_id(2));
    assert_eq!(
        lends,
        [
            (lent.clone(), r2.clone()),
            (failed.clone(), r1.clone()),
            (lent.clone(), r2.clone()),
            (lent.clone(), r2.clone()),
            (failed, r1),
            (lent, r2),
        ],
        "only the other session's lends, and the refusals after a retry"
    );
}

/// `mode`'s lend of `book` to reader 1, whose append waits behind a table
/// lock until another session has lent the copy to reader 2 and committed.
async fn lend_behind_another_session(
    url: &str,
    mode: AppendMode,
    retry: RetryPolicy,
    book: u64,
) -> CommandResult {
    let other = store(url).await;
    // EXCLUSIVE lets the lend read its boundary and stops its INSERT.
    other
        .control("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let mut lib = Library::new(store(url).await, store(url).await, book);
    lib.mode = mode;
    lib.retry = retry;
    let lend = tokio::spawn(async move { lib.lend(&book_id(book), &reader_id(1)).await });
    // Watched from a session of its own: inside `other`'s transaction
    // pg_stat_activity would show the same snapshot at every poll.
    let watch = store(url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = watch
            .client()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO events%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{mode}: the lend never waited to append"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let e = NewEvent::new(
        "BookCopyLentToReader",
        json!({"BookID": book_id(book), "ReaderID": reader_id(2)}),
    );
    other
        .client()
        .execute(
            "INSERT INTO events (event_type, occurred_at, payload, metadata) VALUES ($1, $2, $3, $4)",
            &[&e.event_type, &e.occurred_at, &e.payload, &e.metadata],
        )
        .await
        .unwrap();
    other.control("COMMIT").await.unwrap();
    lend.await.unwrap().unwrap()
}
