//! The run result against its documented schema (src/bench/SCHEMA.md):
//! every field a real result carries is documented with its unit, and
//! every documented field exists, so the two cannot drift apart.

use async_trait::async_trait;
use estune::bench::{
    run, Arrivals, BenchOptions, Checkpoints, ConnectionCount, EventsTableActivity, MixEntry,
    Outcome, ReplicaLag, RunHooks, RunResult, ServerSample, ServerStats, Worker, WorkerFactory,
    SCHEMA,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

struct Fake(Vec<MixEntry>);
struct FakeWorker(u32);

#[async_trait]
impl Worker for FakeWorker {
    async fn run(&mut self, op: usize) -> Outcome {
        self.0 += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
        match (op, self.0 % 10) {
            (_, 3) => Outcome::Error {
                class: "40001".into(),
                message: "could not serialize".into(),
            },
            (_, 5) => Outcome::Rejected {
                reason: "already lent".into(),
                retries: 0,
            },
            (_, 7) => Outcome::Conflict { retries: 6 },
            _ => Outcome::Ok {
                events: 1,
                retries: 0,
            },
        }
    }
}

#[async_trait]
impl WorkerFactory for Fake {
    type Worker = FakeWorker;
    fn mix(&self) -> &[MixEntry] {
        &self.0
    }
    async fn worker(&self, _id: usize) -> anyhow::Result<FakeWorker> {
        Ok(FakeWorker(0))
    }
}

async fn real_result() -> RunResult {
    let mix = vec![
        MixEntry {
            op: "lend".into(),
            weight: 1.0,
        },
        MixEntry {
            op: "query".into(),
            weight: 1.0,
        },
    ];
    let o = BenchOptions {
        rate: 100.0,
        duration: Duration::from_secs(1),
        workers: 2,
        queue: 10,
        label: Some("schema".into()),
        arrivals: Arrivals::Poisson { seed: 5 },
        ..BenchOptions::default()
    };
    let hooks = RunHooks {
        extra: serde_json::json!({"profile": "test"}),
        ..RunHooks::default()
    };
    let mut r = run(Arc::new(Fake(mix)), &o, hooks).await.unwrap();
    // No database here: one sample as the sampler would produce it.
    let stats = ServerStats {
        cache_hit_ratio: Some(0.99),
        commits: Some(120),
        connections: vec![ConnectionCount {
            state: "idle".into(),
            wait_event: "ClientRead".into(),
            count: 2,
        }],
        checkpoints: Some(Checkpoints {
            timed: 3,
            requested: 1,
            timed_delta: Some(0),
            requested_delta: Some(1),
        }),
        events_table: Some(EventsTableActivity {
            vacuum_phase: None,
            analyze_phase: Some("acquiring sample rows".into()),
            autoanalyze_count: 4,
            autovacuum_count: 2,
            last_autoanalyze: None,
            autoanalyzed: true,
            autovacuumed: false,
        }),
        errors: vec![],
    };
    r.server_samples.push(ServerSample {
        t: 1.0,
        primary: stats.clone(),
        replica: Some(stats),
        replication: vec![ReplicaLag {
            application_name: "replica".into(),
            replay_lag_bytes: Some(0.0),
            replay_lag_ms: Some(1.5),
        }],
    });
    // Filled by `estune bench` after the run; made up here.
    let server = |role: &str| estune::bench::ServerInfo {
        role: role.into(),
        version: "15.18".into(),
        major: 15,
        memory_bytes: Some(4 << 30),
        settings: [("shared_buffers".to_string(), "1GB".to_string())].into(),
        catalog: [("events.fillfactor".to_string(), "100".to_string())].into(),
    };
    r.metadata.target = Some(estune::bench::Target {
        cluster: Some("schema".into()),
        backend: Some("local".into()),
        profile: Some("eventstore".into()),
        plan_hash: Some("5d40f6c4bdab".into()),
        servers: vec![server("primary"), server("replica")],
    });
    r.statements = Some(statements());
    r.verification = Some(estune::bench::Verification {
        events_before: 100,
        events_after: 150,
        acknowledged_events: 50,
        missing_events: 0,
        unacknowledged_events: 0,
        replica_caught_up: Some(true),
        violations: Some(0),
    });
    r
}

/// Filled by `estune bench` from the servers; made up here: a primary
/// that has every part, a replica that has none (and says why).
fn statements() -> estune::bench::Statements {
    use estune::bench::statements::*;
    let top = StatementStats {
        queryid: "-4242".into(),
        role: "eventstore".into(),
        query: "WITH context AS (SELECT MAX(sequence_number) AS max_seq FROM events WHERE …".into(),
        calls: 120,
        total_exec_ms: 60.0,
        mean_exec_ms: 0.5,
        max_exec_ms: Some(4.5),
        stddev_exec_ms: 0.3,
        rows: 120,
        shared_blks_hit: 900,
        shared_blks_read: 12,
        shared_blks_dirtied: 30,
        shared_blks_written: 0,
        temp_blks_read: 0,
        temp_blks_written: 0,
        shared_blk_read_ms: Some(1.5),
        shared_blk_write_ms: Some(0.0),
        wal_bytes: 40_000,
        plans: Some(120),
        total_plan_ms: Some(2.5),
    };
    let primary = ServerStatements {
        role: "primary".into(),
        database: Some("eventstore".into()),
        pg_stat_statements: Some(StatementWindow {
            version: "1.12".into(),
            window_s: 10.0,
            max_scope: "window".into(),
            track_planning: true,
            io_timing: true,
            deallocated: Some(0),
            statements: 14,
            calls: 400,
            total_exec_ms: 80.0,
            top: vec![top],
        }),
        pg_stat_statements_missing: None,
        prepared: Some(PreparedPlans {
            sessions: 2,
            statements: vec![PreparedStatement {
                query: "SELECT event_type FROM events WHERE …".into(),
                sessions: 2,
                generic_plans: 90,
                custom_plans: 10,
            }],
        }),
        prepared_missing: None,
        slow_plans: Some(vec![SlowStatement {
            queryid: Some("-4242".into()),
            query: "WITH context AS …".into(),
            logged: 2,
            slowest: vec![SlowPlan {
                duration_ms: 52.5,
                plan: "Insert on public.events  (cost=0.00..1.00 rows=1 width=80)".into(),
            }],
        }]),
        slow_plans_missing: None,
    };
    let replica = ServerStatements {
        role: "replica".into(),
        database: None,
        pg_stat_statements: None,
        pg_stat_statements_missing: Some(
            "pg_stat_statements is not in shared_preload_libraries".into(),
        ),
        prepared: None,
        prepared_missing: Some("no worker was connected at the end of the run".into()),
        slow_plans: None,
        slow_plans_missing: Some("not asked for".into()),
    };
    Statements {
        top_n: 20,
        explain_slow_ms: Some(50.0),
        app_role: Some("eventstore".into()),
        servers: vec![primary, replica],
    }
}

/// Paths of every field, arrays as `[]`; maps keyed by data (error
/// classes, caller's extra) stop at the map. Same-shaped objects are
/// documented once: `summary.ops[]` as `summary.total`, the replica's
/// stats as the primary's.
fn paths(v: &Value, prefix: &str, out: &mut BTreeMap<String, &'static str>) {
    let kind = match v {
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    if !prefix.is_empty() {
        let mut norm = prefix.replace("summary.ops[]", "summary.total");
        let replica = "server_samples[].replica";
        if norm.starts_with(&format!("{replica}.")) {
            norm = norm.replacen(replica, "server_samples[].primary", 1);
        }
        out.entry(norm).or_insert(kind);
    }
    let keyed_by_data = ["by_class", "extra", ".settings", ".catalog"];
    if keyed_by_data.iter().any(|k| prefix.ends_with(k)) {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                paths(c, &p, out);
            }
        }
        Value::Array(a) => {
            for c in a {
                paths(c, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// `| \`path\` | type | unit | meaning |` rows of SCHEMA.md.
fn documented() -> BTreeMap<String, String> {
    let doc = include_str!("../src/bench/SCHEMA.md");
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| {
            let (path, rest) = l.split_once('`').unwrap();
            let cols: Vec<&str> = rest.split('|').map(str::trim).collect();
            (path.to_string(), cols.get(2).unwrap_or(&"").to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_matches_documented_schema() {
    let r = real_result().await;
    let json: Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
    assert_eq!(json["schema"], SCHEMA);
    assert_eq!(SCHEMA, "estune.bench/3");
    let mut found = BTreeMap::new();
    paths(&json, "", &mut found);
    let doc = documented();
    let undocumented: Vec<_> = found.keys().filter(|p| !doc.contains_key(*p)).collect();
    assert!(
        undocumented.is_empty(),
        "not in SCHEMA.md: {undocumented:#?}"
    );
    let stale: Vec<_> = doc.keys().filter(|p| !found.contains_key(*p)).collect();
    assert!(
        stale.is_empty(),
        "in SCHEMA.md, not in a result: {stale:#?}"
    );
    // Every number has a unit, and the ones people quote have the right one.
    let no_unit: Vec<_> = found
        .iter()
        .filter(|(p, k)| **k == "number" && doc[*p].is_empty())
        .map(|(p, _)| p)
        .collect();
    assert!(no_unit.is_empty(), "numbers without a unit: {no_unit:?}");
    let units: BTreeSet<(&str, &str)> = [
        ("summary.total.achieved_rate", "ops/s"),
        ("summary.total.latency_us.intended.p99", "µs"),
        ("summary.total.latency_us.service.p999", "µs"),
        ("series[].ops[].p99", "µs"),
        ("series[].p99", "µs"),
        ("summary.total.latency_us.intended.spectrum[].us", "µs"),
        ("metadata.target.servers[].memory_bytes", "bytes"),
        ("server_samples[].replication[].replay_lag_bytes", "bytes"),
        ("server_samples[].replication[].replay_lag_ms", "ms"),
        ("metadata.rate", "ops/s"),
        (
            "statements.servers[].pg_stat_statements.top[].mean_exec_ms",
            "ms",
        ),
        (
            "statements.servers[].pg_stat_statements.top[].shared_blks_read",
            "blocks",
        ),
        (
            "statements.servers[].pg_stat_statements.top[].wal_bytes",
            "bytes",
        ),
        (
            "statements.servers[].slow_plans[].slowest[].duration_ms",
            "ms",
        ),
        ("statements.explain_slow_ms", "ms"),
    ]
    .into_iter()
    .collect();
    for (p, u) in units {
        assert_eq!(doc[p], u, "{p}");
    }
    // The figures are real, not placeholders.
    let t = &json["summary"]["total"];
    assert_eq!(t["count"], json["summary"]["scheduled"]);
    assert!(t["count"].as_u64().unwrap() > 50);
    assert!(t["errors"]["by_class"]["40001"].as_u64().unwrap() > 0);
    assert!(t["rejections"].as_u64().unwrap() > 0);
    assert!(t["conflicts"].as_u64().unwrap() > 0);
    assert_eq!(json["metadata"]["extra"]["profile"], "test");
    assert_eq!(
        json["metadata"]["estune_version"],
        env!("CARGO_PKG_VERSION")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_is_written_atomically_and_reads_back() {
    let r = real_result().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out/run.json");
    r.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, r.to_json().unwrap());
    // Loadable as a baseline: parses back into the same result (decimal
    // floats may come back one ulp off, so those are compared loosely).
    let back: RunResult = serde_json::from_str(&text).unwrap();
    assert_eq!(back.metadata, r.metadata);
    assert_eq!(back.series, r.series);
    assert_eq!(back.server_samples, r.server_samples);
    assert_eq!(back.statements, r.statements);
    assert_eq!(back.summary.scheduled, r.summary.scheduled);
    for (a, b) in back.summary.ops.iter().zip(&r.summary.ops) {
        assert_eq!((a.count, a.errors.total), (b.count, b.errors.total));
        assert!((a.error_pct - b.error_pct).abs() < 1e-9);
        assert_eq!(a.latency_us.intended.p99, b.latency_us.intended.p99);
    }
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temp file left: {names:?}");
}

#[test]
fn print_paths_for_docs() {
    if std::env::var("ESTUNE_PRINT_SCHEMA_PATHS").is_err() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(real_result());
    let json: Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
    let mut found = BTreeMap::new();
    paths(&json, "", &mut found);
    for (p, k) in found {
        println!("PATH {p} {k}");
    }
}
