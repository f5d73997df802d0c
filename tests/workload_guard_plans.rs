//! What the two append guards cost, from PostgreSQL's own plans on a seeded
//! store: EXPLAIN (ANALYZE, BUFFERS) of each guard's append, planned with
//! the values (custom, as estune sends the newer-than-read append) and
//! generic (as a prepared statement is after five executions), for a
//! boundary whose last event is recent and one whose last event is old.
//!
//! The assertions hold the newer-than-read guard to its promise: planned
//! with the values it reads a few buffers whether the boundary is recent or
//! old, answering a recent boundary from the newest rows of `events_pkey`.
//! The figures are printed (`-- --nocapture`); `scripts/bench/append-guards.sh`
//! runs this test with a larger store and every profile for
//! docs/workload.md. Knobs: ESTUNE_GUARD_PLAN_PROFILES (default "stock"),
//! ESTUNE_GUARD_PLAN_EVENTS (default 60000).

mod support;

use estune::workload::{
    append_sql, lend_filter, seed, EventStore, Filter, FilterItem, Guard, Match, NewEvent,
    SeedOptions,
};
use serde_json::{json, Value};
use std::time::Duration;
use support::TestCluster;
use tokio_postgres::types::{ToSql, Type};

/// A guard's part of one EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON).
#[derive(Debug)]
struct GuardPlan {
    /// Shared buffers (hit + read) of the statement's input: the guard's
    /// scan, plus the sequence's page that the new row's number comes from.
    buffers: i64,
    /// Every index the plan scans, with its index condition.
    indexes: Vec<(String, String)>,
    execution_ms: f64,
    planning_ms: f64,
}

fn buffers(node: &Value) -> i64 {
    node["Shared Hit Blocks"].as_i64().unwrap_or(0)
        + node["Shared Read Blocks"].as_i64().unwrap_or(0)
}

fn indexes(node: &Value, out: &mut Vec<(String, String)>) {
    if let Some(name) = node["Index Name"].as_str() {
        let cond = node["Index Cond"].as_str().unwrap_or("").to_string();
        out.push((name.to_string(), cond));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        indexes(child, out);
    }
}

fn guard_plan(explain: &Value) -> GuardPlan {
    let top = &explain[0];
    let insert = &top["Plan"];
    assert_eq!(insert["Operation"], "Insert", "{explain}");
    // The Insert's inputs: the guard (an InitPlan, or the CTE's scan) and
    // the row it produces; the largest holds the guard's work.
    let children = insert["Plans"].as_array().expect("the insert has inputs");
    let mut found = Vec::new();
    indexes(insert, &mut found);
    GuardPlan {
        buffers: children.iter().map(buffers).max().unwrap_or(0),
        indexes: found,
        execution_ms: top["Execution Time"].as_f64().unwrap_or(f64::NAN),
        planning_ms: top["Planning Time"].as_f64().unwrap_or(f64::NAN),
    }
}

/// The append of one event under `filter` with `guard`, its parameters
/// with their types.
fn typed<'a>(
    filter_params: &'a [estune::workload::Param],
    event: &'a NewEvent,
    read_max: &'a i64,
) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    let mut v: Vec<(&(dyn ToSql + Sync), Type)> = filter_params
        .iter()
        .map(|p| (p.as_sql(), p.sql_type()))
        .collect();
    v.extend([
        (&event.event_type as &(dyn ToSql + Sync), Type::TEXT),
        (&event.occurred_at, Type::TIMESTAMPTZ),
        (&event.payload, Type::JSONB),
        (&event.metadata, Type::JSONB),
        (read_max, Type::INT8),
    ]);
    v
}

/// EXPLAIN ANALYZE of the append, rolled back: planned with the values
/// (`generic` false) or as a prepared statement's generic plan.
async fn explain(
    s: &EventStore,
    guard: Guard,
    f: &Filter,
    read_max: i64,
    generic: bool,
) -> GuardPlan {
    let c = s.client();
    let (sql, params) = append_sql(guard, f, 1);
    let event = NewEvent::new("PlanProbe", json!({"Probe": true}));
    let values = typed(&params, &event, &read_max);
    let explain = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)";
    c.batch_execute("BEGIN").await.unwrap();
    let rows = if generic {
        // EXECUTE's arguments cannot refer to the protocol's parameters:
        // the values go through transaction-local settings instead, bound
        // like any value, and come back with their types.
        let types: Vec<&str> = values.iter().map(|(_, t)| t.name()).collect();
        let n = values.len();
        let set: Vec<String> = (1..=n)
            .map(|i| format!("set_config('probe.p{i}', ${i}::text, true)"))
            .collect();
        c.query_typed(&format!("SELECT {}", set.join(", ")), &values)
            .await
            .unwrap();
        let args: Vec<String> = (1..=n)
            .map(|i| format!("current_setting('probe.p{i}')::{}", types[i - 1]))
            .collect();
        c.batch_execute(&format!(
            "SET LOCAL plan_cache_mode = force_generic_plan; PREPARE probe({}) AS {sql}",
            types.join(", ")
        ))
        .await
        .unwrap();
        let rows = c
            .query(
                &format!("{explain} EXECUTE probe({})", args.join(", ")),
                &[],
            )
            .await
            .unwrap();
        c.batch_execute("DEALLOCATE probe").await.unwrap();
        rows
    } else {
        c.query_typed(&format!("{explain} {sql}"), &values)
            .await
            .unwrap()
    };
    c.batch_execute("ROLLBACK").await.unwrap();
    guard_plan(&rows[0].get::<_, Value>(0))
}

fn uses_pkey_range(p: &GuardPlan) -> bool {
    p.indexes
        .iter()
        .any(|(name, cond)| name == "events_pkey" && cond.contains("sequence_number >"))
}

#[tokio::test]
async fn the_newer_than_read_guard_reads_a_few_buffers_whether_the_boundary_is_recent_or_old() {
    let profiles = std::env::var("ESTUNE_GUARD_PLAN_PROFILES").unwrap_or("stock".into());
    let events: u64 = std::env::var("ESTUNE_GUARD_PLAN_EVENTS")
        .ok()
        .map(|v| v.parse().expect("ESTUNE_GUARD_PLAN_EVENTS: a number"))
        .unwrap_or(60_000);
    for profile in profiles.split_whitespace() {
        guard_plans(profile, events).await;
    }
}

async fn guard_plans(profile: &str, events: u64) {
    let c = TestCluster::new(&format!("wl-plans-{profile}"));
    // The servers are sized for 4 GiB; a profile's worst case over its
    // connection limit may exceed it, which an EXPLAIN never comes near.
    c.up(&[
        "--profile",
        profile,
        "--pg-version",
        "15",
        "--memory",
        "4GiB",
        "--allow-overcommit",
    ]);
    let url = c.eventstore_url("primary");
    let mut s = EventStore::new(
        estune::db::connect(&url, Duration::from_secs(10))
            .await
            .unwrap(),
    );
    let opts = SeedOptions {
        events,
        books: 1_000,
        readers: 100,
        append: false,
        seed: 1,
    };
    seed(s.client(), &opts).await.unwrap();

    // Recent: the lend boundary of the store's last lend. Old: the
    // AddBookCopy boundary of the first copy added, whose only event is
    // among the store's first.
    let row = s
        .client()
        .query_one(
            "SELECT payload->>'BookID', payload->>'ReaderID' FROM events \
             WHERE event_type = 'BookCopyLentToReader' ORDER BY sequence_number DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let recent = lend_filter(row.get(0), row.get(1));
    let first: String = s
        .client()
        .query_one(
            "SELECT payload->>'BookID' FROM events \
             WHERE event_type = 'BookCopyAddedToCirculation' ORDER BY sequence_number LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let old = Filter::of(vec![FilterItem::new(
        &[
            "BookCopyAddedToCirculation",
            "BookCopyRemovedFromCirculation",
        ],
        &[("BookID", &first)],
        Match::AnyOf,
    )]);
    let last: i64 = s
        .client()
        .query_one("SELECT max(sequence_number) FROM events", &[])
        .await
        .unwrap()
        .get(0);

    let mut got = Vec::new();
    for (boundary, f) in [("recent", &recent), ("old", &old)] {
        let read_max = s.query(f).await.unwrap().1;
        for guard in [Guard::MaxEquals, Guard::NoneNewerThan] {
            for (plan, generic) in [("custom", false), ("generic", true)] {
                let p = explain(&s, guard, f, read_max, generic).await;
                let scans: Vec<String> = p
                    .indexes
                    .iter()
                    .map(|(name, cond)| match name.as_str() {
                        "events_pkey" => format!("{name} {cond}"),
                        _ => name.clone(),
                    })
                    .collect();
                eprintln!(
                    "{profile:<13} {events:>8} events  {boundary:<6} (max read {read_max:>8} of {last:>8})  \
                     {guard:<13?} {plan:<7}  {:>6} buffers  {:>8.3} ms (planning {:.3} ms)  {}",
                    p.buffers,
                    p.execution_ms,
                    p.planning_ms,
                    scans.join(", ")
                );
                got.push(((boundary, guard, plan), p));
            }
        }
    }
    // Which plan PostgreSQL itself chooses for the original's append as
    // estune prepares it: twelve appends on the recent boundary (rolled
    // back), then the statement's counts. Printed, not asserted: the
    // choice is the server's and differs by profile.
    let read_max = s.query(&recent).await.unwrap().1;
    let probe = NewEvent::new("PlanProbe", json!({"Probe": true}));
    s.control("BEGIN").await.unwrap();
    for _ in 0..12 {
        s.append(&recent, read_max, std::slice::from_ref(&probe))
            .await
            .unwrap();
    }
    s.control("ROLLBACK").await.unwrap();
    let counts = s
        .client()
        .query_one(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE 'WITH context AS%'",
            &[],
        )
        .await
        .unwrap();
    eprintln!(
        "{profile:<13} {events:>8} events  the prepared MaxEquals append, 12 executions: \
         {} generic plans, {} custom",
        counts.get::<_, i64>(0),
        counts.get::<_, i64>(1)
    );
    let plan = |b, g, p| {
        &got.iter()
            .find(|(k, _)| *k == (b, g, p))
            .expect("measured")
            .1
    };
    use Guard::NoneNewerThan as New;
    // Planned with the values, as estune sends it: a few buffers either way.
    for boundary in ["recent", "old"] {
        let p = plan(boundary, New, "custom");
        assert!(p.buffers <= 40, "{profile}, {boundary}: {p:?}");
    }
    // A recent boundary: from the newest rows, custom and generic.
    for kind in ["custom", "generic"] {
        let p = plan("recent", New, kind);
        assert!(uses_pkey_range(p), "{profile}, recent, {kind}: {p:?}");
        assert!(p.buffers <= 40, "{profile}, recent, {kind}: {p:?}");
    }
    // Why it is not prepared: a generic plan cannot see how far back the
    // read max is, and reads far more for the old boundary.
    let (generic, custom) = (plan("old", New, "generic"), plan("old", New, "custom"));
    assert!(
        generic.buffers > 10 * custom.buffers,
        "{profile}: generic {generic:?}, custom {custom:?}"
    );
}
