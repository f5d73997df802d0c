//! Where the time goes, on real pairs (PostgreSQL 15 and 18): a bench on
//! the eventstore profile records its window's statements from
//! pg_stat_statements (the guard of the conditional append among them,
//! with its blocks), the plan-cache counts of the workers' sessions, and
//! with `--explain-slow` the plans of slow executions, leaving no role
//! setting behind, also when the run fails; on the stock profile, which
//! does not preload pg_stat_statements, the statements are null with the
//! reason.

mod support;

use serde_json::Value;
use support::{client, TestCluster};

const GUARD: &str = "WITH context AS (SELECT MAX(sequence_number)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg15_statements_of_the_window() {
    statements_of_the_window(15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg18_statements_of_the_window() {
    statements_of_the_window(18).await;
}

/// A short bench; the result as JSON, or the failure's stderr.
fn bench(c: &TestCluster, extra: &[&str]) -> Result<Value, String> {
    let path = c.state_dir().join("run.json");
    let _ = std::fs::remove_file(&path);
    let mut args = vec![
        "bench",
        // Lends append under the guard; the circulation query reads every
        // event of its types, slow enough to pass a 1 ms threshold.
        "--mix",
        "lend=3,circulation=1",
        "--books",
        "500",
        "--readers",
        "100",
        "--rate",
        "40",
        "--duration",
        "4s",
        "--warmup",
        "1s",
        "--workers",
        "3",
        "--out",
        path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = c.run(&args);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap())
}

fn server<'a>(doc: &'a Value, role: &str) -> &'a Value {
    doc["statements"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == role)
        .unwrap_or_else(|| panic!("no {role} in {:#}", doc["statements"]))
}

/// The role settings `--explain-slow` makes, wherever they are.
async fn role_settings(c: &TestCluster) -> Vec<String> {
    let su = client(&c.url("primary")).await;
    su.query(
        "SELECT c FROM pg_db_role_setting, unnest(setconfig) c
          WHERE c LIKE 'session_preload_libraries=%' OR c LIKE 'auto_explain.%'
             OR c LIKE 'estune.%' ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn statements_of_the_window(major: u32) {
    let c = TestCluster::new(&format!("stmts{major}"));
    let v = major.to_string();
    c.up(&[
        "--profile",
        "eventstore",
        "--pg-version",
        &v,
        "--memory",
        "4GiB",
    ]);
    c.ok(&[
        "seed",
        "--events",
        "20000",
        "--books",
        "500",
        "--readers",
        "100",
    ]);
    let doc = bench(&c, &["--explain-slow", "1ms"]).unwrap();
    assert_eq!(doc["schema"], "estune.bench/3");
    assert_eq!(doc["statements"]["explain_slow_ms"], 1.0);

    // The guard of the conditional append, with calls and blocks.
    let primary = server(&doc, "primary");
    assert_eq!(primary["database"], "eventstore");
    let w = &primary["pg_stat_statements"];
    assert!(w.is_object(), "{:#}", primary);
    let want_scope = if major >= 17 { "window" } else { "rises" };
    assert_eq!(w["max_scope"], want_scope);
    let top = w["top"].as_array().unwrap();
    let guard = top
        .iter()
        .find(|s| s["query"].as_str().unwrap().starts_with(GUARD))
        .unwrap_or_else(|| panic!("no guard among {top:#?}"));
    assert!(guard["calls"].as_i64().unwrap() > 0, "{guard:#}");
    let blocks =
        guard["shared_blks_hit"].as_i64().unwrap() + guard["shared_blks_read"].as_i64().unwrap();
    assert!(blocks > 0, "{guard:#}");
    assert_eq!(guard["role"], "eventstore");
    assert!(guard["mean_exec_ms"].as_f64().unwrap() > 0.0);
    if major >= 17 {
        assert!(guard["max_exec_ms"].as_f64().unwrap() > 0.0, "{guard:#}");
    }
    // The replica runs the read side.
    let replica = server(&doc, "replica");
    assert!(
        replica["pg_stat_statements"]["calls"].as_i64().unwrap() > 0,
        "{replica:#}"
    );

    // Plan-cache counts of the workers' sessions: the guard is prepared on
    // the primary in every session.
    let prepared = &primary["prepared"];
    assert_eq!(prepared["sessions"], 3, "{primary:#}");
    let p = prepared["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["query"].as_str().unwrap().starts_with(GUARD))
        .unwrap_or_else(|| panic!("{prepared:#}"));
    let plans = p["generic_plans"].as_i64().unwrap() + p["custom_plans"].as_i64().unwrap();
    assert!(plans > 0, "{p:#}");

    // Slow executions' plans, from the logs of the window.
    let slow: Vec<&Value> = ["primary", "replica"]
        .iter()
        .flat_map(|r| server(&doc, r)["slow_plans"].as_array().unwrap())
        .collect();
    assert!(
        !slow.is_empty(),
        "no plan logged above 1 ms: {:#}",
        doc["statements"]
    );
    let plan = slow[0]["slowest"][0]["plan"].as_str().unwrap();
    assert!(plan.contains("(cost="), "{plan}");
    assert!(slow[0]["slowest"][0]["duration_ms"].as_f64().unwrap() >= 1.0);
    assert_eq!(role_settings(&c).await, Vec::<String>::new());

    // A run that fails after the settings were made still takes them away:
    // the role may open fewer connections than the workers need.
    let app = c.ok(&["cluster", "url", "primary"]).trim().to_string();
    let app_role = app
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .get_user()
        .unwrap()
        .to_string();
    let su = client(&c.url("primary")).await;
    su.batch_execute(&format!("ALTER ROLE \"{app_role}\" CONNECTION LIMIT 2"))
        .await
        .unwrap();
    let err = bench(&c, &["--explain-slow", "1ms"]).unwrap_err();
    assert!(err.contains("worker"), "{err}");
    assert_eq!(role_settings(&c).await, Vec::<String>::new(), "{err}");
    su.batch_execute(&format!("ALTER ROLE \"{app_role}\" CONNECTION LIMIT -1"))
        .await
        .unwrap();

    // Settings a killed run left behind are removed by the next run.
    su.batch_execute(&format!(
        "ALTER ROLE \"{app_role}\" IN DATABASE eventstore SET session_preload_libraries = 'auto_explain';
         ALTER ROLE \"{app_role}\" IN DATABASE eventstore SET estune.explain_slow = 'left'"
    ))
    .await
    .unwrap();
    let doc = bench(&c, &[]).unwrap();
    assert_eq!(role_settings(&c).await, Vec::<String>::new());
    let missing = server(&doc, "primary")["slow_plans_missing"]
        .as_str()
        .unwrap();
    assert!(missing.contains("--explain-slow"), "{missing}");

    // The stock profile does not preload pg_stat_statements.
    c.ok(&["apply", "--profile", "stock", "--memory", "4GiB"]);
    let doc = bench(&c, &[]).unwrap();
    for role in ["primary", "replica"] {
        let s = server(&doc, role);
        assert!(s["pg_stat_statements"].is_null(), "{s:#}");
        let why = s["pg_stat_statements_missing"].as_str().unwrap();
        assert!(why.contains("shared_preload_libraries"), "{why}");
        // Plan-cache counts do not need the extension.
        assert!(s["prepared"]["sessions"].as_u64().unwrap() > 0, "{s:#}");
    }
}

#[test]
fn explain_slow_is_refused_for_a_pair_given_by_dsn_and_below_1ms() {
    // No server listens there: both are refused before connecting.
    let dsn = format!("postgresql://u:p@127.0.0.1:{}/db", support::free_port());
    for (threshold, needle) in [("50ms", "managed cluster"), ("0ms", "1ms or more")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_estune"))
            .args(["bench", "--primary", &dsn, "--replica", &dsn])
            .args(["--explain-slow", threshold])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{threshold}: {err}");
        assert!(err.contains(needle), "{threshold}: {err}");
    }
}
