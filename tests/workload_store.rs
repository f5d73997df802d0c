//! The event store and the library's rules against a real primary +
//! replica: every rejection path of every command, guarded appends,
//! snapshots, the statement cache.

mod support;

use estune::workload::{
    book_id, install_schema, reader_id, verify_streams, CommandOutcome, EventStore, Filter,
    FilterItem, Guard, Library, Match, NewEvent, Rejection, Streams,
};
use serde_json::json;
use std::time::Duration;
use support::TestCluster;

async fn store(url: &str) -> EventStore {
    EventStore::new(
        estune::db::connect(url, Duration::from_secs(10))
            .await
            .unwrap(),
    )
}

async fn library(c: &TestCluster) -> Library {
    let primary = store(&c.eventstore_url("primary")).await;
    install_schema(primary.client()).await.unwrap();
    let replica = store(&c.eventstore_url("replica")).await;
    Library::new(primary, replica, 1)
}

#[tokio::test]
async fn every_rule_of_every_command() {
    let c = TestCluster::stock("wl-rules");
    let mut lib = library(&c).await;
    let (b1, b2, b9) = (book_id(1), book_id(2), book_id(9));
    let (r1, r2, r9) = (reader_id(1), reader_id(2), reader_id(9));
    use CommandOutcome::*;
    use Rejection::*;

    let expect = |got: estune::workload::CommandResult, want: CommandOutcome, what: &str| {
        assert_eq!(got.outcome, want, "{what}");
        assert_eq!(got.retries, 0, "{what}: no concurrency, no retries");
    };
    expect(
        lib.lend(&b1, &r1).await.unwrap(),
        Rejected(ReaderNotRegistered),
        "lend: reader not registered",
    );
    expect(
        lib.return_copy(&b1, &r1).await.unwrap(),
        Rejected(ReaderUnknown),
        "return: reader unknown",
    );
    expect(
        lib.cancel_reader_contract(&r1).await.unwrap(),
        Rejected(ReaderUnknown),
        "cancel: unknown",
    );
    expect(
        lib.register_reader(&r1, "One").await.unwrap(),
        Appended(1),
        "register",
    );
    expect(
        lib.register_reader(&r1, "One").await.unwrap(),
        NoOp,
        "register again",
    );
    expect(
        lib.register_reader(&r2, "Two").await.unwrap(),
        Appended(1),
        "register r2",
    );
    expect(
        lib.lend(&b1, &r1).await.unwrap(),
        Rejected(BookNotInCirculation),
        "lend: never added",
    );
    expect(
        lib.return_copy(&b1, &r1).await.unwrap(),
        Rejected(BookUnknown),
        "return: book unknown",
    );
    expect(
        lib.remove_book_copy(&b9).await.unwrap(),
        Rejected(BookNeverAdded),
        "remove: never added",
    );
    expect(lib.add_book_copy(&b1).await.unwrap(), Appended(1), "add");
    expect(lib.add_book_copy(&b1).await.unwrap(), NoOp, "add again");
    expect(
        lib.return_copy(&b1, &r1).await.unwrap(),
        Rejected(BookNotLentToReader),
        "return: not lent",
    );
    expect(lib.lend(&b1, &r1).await.unwrap(), Appended(1), "lend");
    expect(
        lib.lend(&b1, &r1).await.unwrap(),
        NoOp,
        "lend again to the same reader",
    );
    expect(
        lib.lend(&b1, &r2).await.unwrap(),
        Rejected(BookLentToAnotherReader),
        "lend: lent to another",
    );
    expect(
        lib.remove_book_copy(&b1).await.unwrap(),
        Rejected(BookCurrentlyLent),
        "remove: lent",
    );
    expect(
        lib.cancel_reader_contract(&r1).await.unwrap(),
        Rejected(BooksOutstanding),
        "cancel: holding",
    );
    expect(
        lib.return_copy(&b1, &r2).await.unwrap(),
        Rejected(BookNotLentToReader),
        "return: lent to another",
    );
    expect(
        lib.return_copy(&b1, &r1).await.unwrap(),
        Appended(1),
        "return",
    );
    expect(
        lib.return_copy(&b1, &r1).await.unwrap(),
        NoOp,
        "return again",
    );
    expect(
        lib.remove_book_copy(&b1).await.unwrap(),
        Appended(1),
        "remove",
    );
    expect(
        lib.remove_book_copy(&b1).await.unwrap(),
        NoOp,
        "remove again",
    );
    expect(
        lib.lend(&b1, &r1).await.unwrap(),
        Rejected(BookNotInCirculation),
        "lend: removed",
    );
    // Ten books is the limit; the eleventh is refused.
    for n in 10..20 {
        expect(
            lib.add_book_copy(&book_id(n)).await.unwrap(),
            Appended(1),
            "add for the limit",
        );
        expect(
            lib.lend(&book_id(n), &r2).await.unwrap(),
            Appended(1),
            "lend up to ten",
        );
    }
    expect(lib.add_book_copy(&b2).await.unwrap(), Appended(1), "add b2");
    expect(
        lib.lend(&b2, &r2).await.unwrap(),
        Rejected(ReaderAtLimit),
        "lend: eleventh book",
    );
    expect(
        lib.cancel_reader_contract(&r1).await.unwrap(),
        Appended(1),
        "cancel",
    );
    expect(
        lib.cancel_reader_contract(&r1).await.unwrap(),
        NoOp,
        "cancel again",
    );
    expect(
        lib.lend(&b2, &r1).await.unwrap(),
        Rejected(ReaderNotRegistered),
        "lend: canceled reader",
    );
    let _ = r9;

    // Rejections are recorded as …Failed events with their FailureInfo.
    let primary = lib.store(estune::workload::Route::Primary);
    let failed = Filter::of(vec![FilterItem::new(
        &["LendingBookToReaderFailed"],
        &[],
        Match::AnyOf,
    )]);
    let (events, _) = primary.query(&failed).await.unwrap();
    assert_eq!(events.len(), 6, "{events:?}");
    assert!(events.iter().all(|e| e.payload["FailureInfo"].is_string()));
    assert!(events
        .iter()
        .all(|e| e.payload["EventType"] == "LendingBookToReaderFailed"));
    for k in ["MessageID", "CausationID", "CorrelationID"] {
        assert!(uuid::Uuid::parse_str(events[0].metadata[k].as_str().unwrap()).is_ok());
    }
    // A handful of filter shapes, however many IDs: the cache stays small.
    assert!(
        primary.prepared() <= 10,
        "{} statements",
        primary.prepared()
    );

    let v = verify_streams(primary.client(), &Streams::All)
        .await
        .unwrap();
    assert_eq!(v.total(), 0, "{v:?}");
    assert_eq!(
        v.events_replayed, 28,
        "library events, not the …Failed ones"
    );
}

/// One guard's appends, on a boundary of its own (`key`): a stale read max
/// conflicts, an event outside the boundary does not move it, several
/// events go in all or none and in order, and an append from another
/// session after the read is a conflict for one event or several.
async fn guarded_appends(s: &mut EventStore, other: &mut EventStore, guard: Guard, key: &str) {
    let f = Filter::of(vec![FilterItem::new(&["T"], &[("K", key)], Match::AnyOf)]);
    let ev = |k: &str| NewEvent::new("T", json!({"K": k}));

    let (events, max) = s.query(&f).await.unwrap();
    assert_eq!((events.len(), max), (0, 0));
    assert_eq!(s.append_with(guard, &f, 0, &[ev(key)]).await.unwrap(), 1);
    assert_eq!(
        s.append_with(guard, &f, 0, &[ev(key)]).await.unwrap(),
        0,
        "{guard:?}: stale read max: conflict"
    );
    let (events, max) = s.query(&f).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(max, events[0].sequence_number);
    assert_eq!(events[0].payload["EventType"], "T");
    // An event outside the boundary does not move its max.
    assert_eq!(
        s.append_with(guard, &Filter::default(), max, &[ev("b")])
            .await
            .unwrap(),
        1,
        "{guard:?}"
    );
    assert_eq!(s.query(&f).await.unwrap().1, max);
    // Several events: all or nothing, in order.
    let three = [ev(key), ev(key), ev(key)];
    assert_eq!(s.append_with(guard, &f, max, &three).await.unwrap(), 3);
    assert_eq!(
        s.append_with(guard, &f, max, &three).await.unwrap(),
        0,
        "{guard:?}"
    );
    let (events, max) = s.query(&f).await.unwrap();
    assert_eq!(events.len(), 4);
    let seqs: Vec<i64> = events.iter().map(|e| e.sequence_number).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        events[1].occurred_at, three[0].occurred_at,
        "microseconds survive"
    );
    // Another session appends to the boundary after this one read it.
    assert_eq!(
        other.append_with(guard, &f, max, &[ev(key)]).await.unwrap(),
        1
    );
    for events in [&three[..], &three[..1]] {
        assert_eq!(
            s.append_with(guard, &f, max, events).await.unwrap(),
            0,
            "{guard:?}, {} events after another session's append",
            events.len()
        );
    }
    assert_eq!(s.query(&f).await.unwrap().0.len(), 5);
}

#[tokio::test]
async fn guarded_appends_and_snapshots() {
    let c = TestCluster::stock("wl-store");
    let mut s = store(&c.eventstore_url("primary")).await;
    let mut other = store(&c.eventstore_url("primary")).await;
    install_schema(s.client()).await.unwrap();
    install_schema(s.client()).await.unwrap(); // idempotent
    guarded_appends(&mut s, &mut other, Guard::MaxEquals, "a").await;
    guarded_appends(&mut s, &mut other, Guard::NoneNewerThan, "n").await;
    // The original's append is prepared once; the newer-than-read one is
    // never prepared, so it is planned with its read max every time.
    let prepared: Vec<String> = s
        .client()
        .query("SELECT statement FROM pg_prepared_statements", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        prepared.iter().any(|p| p.contains("MAX(sequence_number)")),
        "{prepared:?}"
    );
    assert!(
        !prepared.iter().any(|p| p.contains("NOT EXISTS")),
        "{prepared:?}"
    );
    let f = Filter::of(vec![FilterItem::new(&["T"], &[("K", "a")], Match::AnyOf)]);
    let ev = |k: &str| NewEvent::new("T", json!({"K": k}));
    // `append` is the original's guard.
    let max = s.query(&f).await.unwrap().1;
    assert_eq!(s.append(&f, max - 1, &[ev("a")]).await.unwrap(), 0);
    assert_eq!(s.append(&f, max, &[ev("a")]).await.unwrap(), 1);
    // Where the two guards differ: a read max above the boundary's max,
    // which no read of an append-only store gives. The original's equality
    // refuses it; "none newer than read" finds nothing newer.
    let max = s.query(&f).await.unwrap().1;
    assert_eq!(
        s.append_with(Guard::MaxEquals, &f, max + 1_000, &[ev("a")])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.append_with(Guard::NoneNewerThan, &f, max + 1_000, &[ev("a")])
            .await
            .unwrap(),
        1
    );
    // Bounds.
    let all = s.query(&f).await.unwrap().0;
    let after = s
        .query(&f.clone().after(Some(all[1].sequence_number)))
        .await
        .unwrap()
        .0;
    assert_eq!(after.len(), all.len() - 2);

    // Snapshots only move forward.
    s.save_snapshot("P", "h", 10, &json!({"v": 10}))
        .await
        .unwrap();
    s.save_snapshot("P", "h", 5, &json!({"v": 5}))
        .await
        .unwrap();
    let snap = s.load_snapshot("P", "h").await.unwrap().unwrap();
    assert_eq!(
        (snap.sequence_number, snap.data.clone()),
        (10, json!({"v": 10}))
    );
    s.save_snapshot("P", "h", 12, &json!({"v": 12}))
        .await
        .unwrap();
    assert_eq!(
        s.load_snapshot("P", "h").await.unwrap().unwrap().data,
        json!({"v": 12})
    );
    assert!(s.delete_snapshot("P", "h").await.unwrap());
    assert!(!s.delete_snapshot("P", "h").await.unwrap());
    assert!(s.load_snapshot("P", "h").await.unwrap().is_none());

    let names: Vec<String> = s
        .client()
        .query(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('events','snapshots') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for want in [
        "idx_events_event_type",
        "idx_events_metadata_gin",
        "idx_events_occurred_at",
        "idx_events_payload_gin",
        "idx_snapshots_created_at",
        "idx_snapshots_sequence",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
}
