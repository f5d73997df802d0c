use super::*;
use crate::catalog::Catalog;
use crate::profile::{self, Profile};
use crate::value::Value;
use proptest::prelude::*;

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

fn res(memory: u64, cpus: f64) -> Resources {
    Resources::fixed(memory, cpus, "test")
}

/// plan + enforce_budget, as the CLI runs them.
fn planned(
    p: &Profile,
    primary: Resources,
    replica: Resources,
    target: &Target,
    allow: bool,
) -> Result<Plan, TuneError> {
    let mut pl = plan(p, primary, replica, target)?;
    enforce_budget(&mut pl, allow || p.allow_overcommit)?;
    Ok(pl)
}

fn load(name: &str) -> Profile {
    profile::load(name, None).unwrap()
}

fn plan_of(p: &Profile, mem: u64, cpus: f64, major: u32) -> Result<Plan, TuneError> {
    planned(
        p,
        res(mem, cpus),
        res(mem, cpus),
        &Target::standard(major),
        false,
    )
}

fn val(plan: &Plan, role: Role, name: &str) -> Option<Value> {
    plan.role(role).get(name).map(|s| s.value.clone())
}

fn all_keys() -> Vec<&'static str> {
    [
        connections::KEYS,
        memory::KEYS,
        wal::KEYS,
        replication::KEYS,
        autovacuum::KEYS,
        planner::KEYS,
        parallel::KEYS,
        bgwriter::KEYS,
        monitoring::KEYS,
    ]
    .concat()
}

#[test]
fn every_key_is_listed_with_its_versions() {
    for k in all_keys() {
        assert!(defaults::emitted(k), "{k} missing from defaults::PARAMS");
    }
    for (name, ..) in defaults::PARAMS {
        let parity_only = defaults::PARITY.contains(name);
        assert!(
            all_keys().contains(name) || parity_only,
            "{name} is listed but no recommender emits it"
        );
    }
}

#[test]
fn every_key_is_emitted_by_some_method_and_checked_by_the_catalog() {
    let mut seen = std::collections::BTreeSet::new();
    for major in 13..=18 {
        let cat = Catalog::builtin(major).unwrap();
        for name in ["stock", "pgtune-oltp", "eventstore"] {
            let mut p = load(name);
            p.durability.synchronous_standby = true;
            for (mem, cpus) in [(4 * GB, 2.0), (64 * GB, 16.0)] {
                let mut pl = planned(
                    &p,
                    res(mem, cpus),
                    res(mem, cpus),
                    &Target::standard(major),
                    true,
                )
                .unwrap();
                validate(&mut pl, &cat).unwrap_or_else(|e| panic!("{name} on {major}: {e}"));
                for r in &pl.roles {
                    seen.extend(r.settings.iter().map(|s| s.name.clone()));
                }
            }
        }
    }
    for k in all_keys() {
        assert!(
            seen.contains(k),
            "no method, role or version ever emits {k}"
        );
    }
}

#[test]
fn eventstore_memory_at_4gib() {
    let p = load("eventstore");
    let pl = plan_of(&p, 4 * GB, 2.0, 15).unwrap();
    let cases: &[(&str, Value)] = &[
        ("max_connections", Value::Int(73)),
        ("shared_buffers", Value::Bytes(GB)),
        ("effective_cache_size", Value::Bytes(3 * GB)),
        ("maintenance_work_mem", Value::Bytes(256 * MB)),
        ("autovacuum_work_mem", Value::Bytes(128 * MB)),
        ("wal_buffers", Value::Bytes(32 * MB)),
        ("temp_buffers", Value::Bytes(MB)),
        // (0.9 × 4096 − 1024 − 32 − 3×128 − 256 − 73×(1+4)) / (73 × 2.0) = 11.3
        ("work_mem", Value::Bytes(11 * MB)),
    ];
    for (name, want) in cases {
        assert_eq!(val(&pl, Role::Primary, name).as_ref(), Some(want), "{name}");
    }
    let b = &pl.role(Role::Primary).budget;
    assert!(
        b.fits && b.total as f64 <= 0.9 * b.limit as f64,
        "{}",
        b.arithmetic()
    );
}

#[test]
fn eventstore_work_mem_is_capped_and_floored() {
    let p = load("eventstore");
    let big = plan_of(&p, 256 * GB, 32.0, 16).unwrap();
    assert_eq!(
        val(&big, Role::Primary, "work_mem"),
        Some(Value::Bytes(64 * MB))
    );
    let mut crowded = load("eventstore");
    crowded.primary.connections = 5000;
    crowded.replica.connections = 5000;
    let small = plan_of(&crowded, 512 * MB, 1.0, 16).unwrap();
    let r = small.role(Role::Primary);
    assert!(matches!(r.get("max_connections").unwrap().value, Value::Int(n) if n < 100));
    assert!(
        r.warnings.iter().any(|w| w.contains("pooler")),
        "{:?}",
        r.warnings
    );
    assert!(r.budget.fits, "{}", r.budget.arithmetic());
}

/// One row per recommender decision: (profile, role, memory, cpus,
/// storage, major, setting, expected value or absent).
#[test]
fn recommenders_by_case() {
    use crate::profile::Storage::*;
    use Role::*;
    let t = |s: &str| Some(Value::Text(s.into()));
    type Case = (
        &'static str,
        Role,
        u64,
        f64,
        crate::profile::Storage,
        u32,
        &'static str,
        Option<Value>,
    );
    let cases: &[Case] = &[
        // wal
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "checkpoint_timeout",
            Some(Value::Millis(900_000)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "max_wal_size",
            Some(Value::Bytes(2 * GB)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "min_wal_size",
            Some(Value::Bytes(512 * MB)),
        ),
        (
            "eventstore",
            Replica,
            4 * GB,
            2.0,
            Ssd,
            15,
            "synchronous_commit",
            None,
        ),
        (
            "stock",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "synchronous_commit",
            None,
        ),
        // replication
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "max_slot_wal_keep_size",
            Some(Value::Bytes(8 * GB)),
        ),
        (
            "eventstore",
            Replica,
            4 * GB,
            2.0,
            Ssd,
            15,
            "max_slot_wal_keep_size",
            None,
        ),
        (
            "eventstore",
            Replica,
            4 * GB,
            2.0,
            Ssd,
            15,
            "hot_standby_feedback",
            Some(Value::Bool(true)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "hot_standby_feedback",
            None,
        ),
        (
            "stock",
            Replica,
            4 * GB,
            2.0,
            Ssd,
            15,
            "hot_standby",
            Some(Value::Bool(true)),
        ),
        ("stock", Primary, 4 * GB, 2.0, Ssd, 15, "hot_standby", None),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "wal_keep_size",
            Some(Value::Bytes(512 * MB)),
        ),
        // autovacuum
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "autovacuum_naptime",
            Some(Value::Millis(15_000)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "autovacuum_vacuum_cost_limit",
            Some(Value::Int(2000)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Hdd,
            15,
            "autovacuum_vacuum_cost_limit",
            None,
        ),
        (
            "pgtune-oltp",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "autovacuum_naptime",
            None,
        ),
        // planner
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Hdd,
            15,
            "random_page_cost",
            None,
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Nvme,
            15,
            "effective_io_concurrency",
            Some(Value::Int(1000)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            San,
            15,
            "effective_io_concurrency",
            Some(Value::Int(300)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Hdd,
            15,
            "effective_io_concurrency",
            Some(Value::Int(2)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "jit",
            Some(Value::Bool(false)),
        ),
        ("pgtune-oltp", Primary, 4 * GB, 2.0, Ssd, 15, "jit", None),
        (
            "pgtune-oltp",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "default_statistics_target",
            Some(Value::Int(100)),
        ),
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            18,
            "io_method",
            t("worker"),
        ),
        // parallel
        (
            "eventstore",
            Primary,
            16 * GB,
            8.0,
            Ssd,
            16,
            "max_parallel_workers_per_gather",
            Some(Value::Int(0)),
        ),
        (
            "eventstore",
            Replica,
            16 * GB,
            8.0,
            Ssd,
            16,
            "max_parallel_workers_per_gather",
            Some(Value::Int(2)),
        ),
        (
            "eventstore",
            Replica,
            16 * GB,
            2.0,
            Ssd,
            16,
            "max_parallel_workers_per_gather",
            Some(Value::Int(0)),
        ),
        (
            "eventstore",
            Primary,
            16 * GB,
            16.0,
            Ssd,
            16,
            "max_worker_processes",
            Some(Value::Int(16)),
        ),
        (
            "eventstore",
            Primary,
            16 * GB,
            2.0,
            Ssd,
            16,
            "max_worker_processes",
            Some(Value::Int(8)),
        ),
        (
            "eventstore",
            Primary,
            16 * GB,
            8.0,
            Ssd,
            16,
            "max_parallel_maintenance_workers",
            Some(Value::Int(4)),
        ),
        (
            "eventstore",
            Primary,
            16 * GB,
            0.5,
            Ssd,
            16,
            "max_parallel_workers",
            Some(Value::Int(1)),
        ),
        // bgwriter
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "bgwriter_lru_maxpages",
            Some(Value::Int(400)),
        ),
        (
            "eventstore",
            Replica,
            4 * GB,
            2.0,
            Ssd,
            15,
            "bgwriter_lru_maxpages",
            None,
        ),
        // monitoring
        (
            "eventstore",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "shared_preload_libraries",
            t("pg_stat_statements"),
        ),
        (
            "eventstore",
            Replica,
            4 * GB,
            2.0,
            Ssd,
            15,
            "cluster_name",
            t("replica"),
        ),
        ("stock", Primary, 4 * GB, 2.0, Ssd, 15, "cluster_name", None),
        (
            "stock",
            Primary,
            4 * GB,
            2.0,
            Ssd,
            15,
            "shared_preload_libraries",
            None,
        ),
    ];
    for (name, role, mem, cpus, storage, major, setting, want) in cases {
        let mut p = load(name);
        p.primary.resources.storage = Some(*storage);
        p.replica.resources.storage = Some(*storage);
        let pl = planned(
            &p,
            res(*mem, *cpus),
            res(*mem, *cpus),
            &Target::standard(*major),
            true,
        )
        .unwrap();
        assert_eq!(
            &val(&pl, *role, setting),
            want,
            "{name} {role} {storage:?} {cpus} CPUs PG{major}: {setting}"
        );
    }
}

#[test]
fn synchronous_standby_names_the_replica() {
    let mut p = load("stock");
    p.durability.synchronous_standby = true;
    let pl = planned(
        &p,
        res(4 * GB, 2.0),
        res(4 * GB, 2.0),
        &Target::standard(15),
        false,
    )
    .unwrap();
    assert_eq!(
        val(&pl, Role::Primary, "synchronous_standby_names"),
        Some(Value::Text("replica".into()))
    );
    assert_eq!(
        val(&pl, Role::Replica, "cluster_name"),
        Some(Value::Text("replica".into()))
    );
}

#[test]
fn measured_wal_rate_and_disk_size_the_wal() {
    let mut p = load("eventstore");
    p.primary.workload.wal_rate = Some(10 * MB); // 10MB/s × 900s × 2 = 17.6GB → 18GB
    let pl = planned(
        &p,
        res(4 * GB, 2.0),
        res(4 * GB, 2.0),
        &Target::standard(15),
        false,
    )
    .unwrap();
    assert_eq!(
        val(&pl, Role::Primary, "max_wal_size"),
        Some(Value::Bytes(18 * GB))
    );
    p.primary.resources.wal_disk = Some(20 * GB);
    let pl = planned(
        &p,
        res(4 * GB, 2.0),
        res(4 * GB, 2.0),
        &Target::standard(15),
        false,
    )
    .unwrap();
    assert_eq!(
        val(&pl, Role::Primary, "max_wal_size"),
        Some(Value::Bytes(5 * GB))
    );
    // 20GB − 5GB − 2GB headroom
    assert_eq!(
        val(&pl, Role::Primary, "max_slot_wal_keep_size"),
        Some(Value::Bytes(13 * GB))
    );
}

#[test]
fn pgtune_formulas_at_4gib() {
    let p = load("pgtune-oltp");
    let pl = planned(
        &p,
        res(4 * GB, 2.0),
        res(4 * GB, 2.0),
        &Target::standard(15),
        true,
    )
    .unwrap();
    let cases: &[(&str, Option<Value>)] = &[
        ("max_connections", Some(Value::Int(100))),
        ("shared_buffers", Some(Value::Bytes(GB))),
        ("effective_cache_size", Some(Value::Bytes(3 * GB))),
        ("maintenance_work_mem", Some(Value::Bytes(256 * MB))),
        ("wal_buffers", Some(Value::Bytes(16 * MB))),
        // 3072MB / ((100 + 8) × 3) × 1.3 (1M events of ~800B < RAM)
        ("work_mem", Some(Value::Bytes(12621 * 1024))),
        ("min_wal_size", Some(Value::Bytes(2 * GB))),
        ("max_wal_size", Some(Value::Bytes(8 * GB))),
        ("random_page_cost", Some(Value::Real(1.1))),
        ("effective_io_concurrency", Some(Value::Int(200))),
        ("wal_compression", Some(Value::Text("lz4".into()))),
        ("max_parallel_workers_per_gather", None), // fewer than 4 CPUs
        ("huge_pages", None),                      // below 2GB shared_buffers
    ];
    for (name, want) in cases {
        assert_eq!(&val(&pl, Role::Primary, name), want, "{name}");
    }
    let eight = planned(
        &p,
        res(16 * GB, 8.0),
        res(16 * GB, 8.0),
        &Target::standard(15),
        true,
    )
    .unwrap();
    assert_eq!(
        val(&eight, Role::Primary, "max_parallel_workers_per_gather"),
        Some(Value::Int(4))
    );
    assert_eq!(
        val(&eight, Role::Primary, "huge_pages"),
        Some(Value::Text("try".into()))
    );
}

#[test]
fn pgtune_trips_the_budget_it_never_checks() {
    let err = plan_of(&load("pgtune-oltp"), 4 * GB, 2.0, 15).unwrap_err();
    assert!(matches!(err, TuneError::OverBudget(_)), "{err}");
}

#[test]
fn stock_sets_only_what_replication_and_access_need() {
    let pl = plan_of(&load("stock"), 4 * GB, 2.0, 15).unwrap();
    let names = |r| -> Vec<String> { pl.role(r).settings.iter().map(|s| s.name.clone()).collect() };
    assert_eq!(
        names(Role::Primary),
        [
            "password_encryption",
            "wal_level",
            "max_wal_senders",
            "max_replication_slots"
        ]
    );
    assert_eq!(
        names(Role::Replica),
        [
            "password_encryption",
            "wal_level",
            "max_wal_senders",
            "max_replication_slots",
            "hot_standby"
        ]
    );
    assert!(pl.relations.is_empty());
}

#[test]
fn version_awareness() {
    let p = load("eventstore");
    let cases: &[(u32, Target, &str, bool)] = &[
        (13, Target::standard(13), "wal_compression", false),
        (15, Target::standard(15), "wal_compression", true),
        (
            18,
            Target {
                major: 18,
                wal_compression: vec!["pglz".into(), "on".into(), "off".into()],
                io_methods: vec!["sync".into(), "worker".into()],
            },
            "wal_compression",
            false,
        ),
        (13, Target::standard(13), "track_wal_io_timing", false),
        (14, Target::standard(14), "track_wal_io_timing", true),
        (17, Target::standard(17), "io_method", false),
        (18, Target::standard(18), "io_method", true),
    ];
    for (major, target, name, present) in cases {
        let pl = planned(&p, res(4 * GB, 2.0), res(4 * GB, 2.0), target, false).unwrap();
        assert_eq!(
            pl.role(Role::Primary).get(name).is_some(),
            *present,
            "{name} on {major}"
        );
    }
}

#[test]
fn replica_parity_is_raised_or_refused() {
    let mut p = load("eventstore");
    p.replica.connections = 10;
    let pl = plan_of(&p, 4 * GB, 2.0, 16).unwrap();
    let pc = val(&pl, Role::Primary, "max_connections");
    assert_eq!(val(&pl, Role::Replica, "max_connections"), pc);
    assert!(pl
        .role(Role::Replica)
        .get("max_connections")
        .unwrap()
        .rule
        .contains("raised to the primary's"));

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.toml");
    std::fs::write(
        &f,
        "extends = \"eventstore\"\n[replica.overrides]\nmax_connections = 20\n",
    )
    .unwrap();
    let p = profile::load(f.to_str().unwrap(), None).unwrap();
    let err = plan_of(&p, 4 * GB, 2.0, 16).unwrap_err().to_string();
    assert!(
        err.contains("max_connections = 20") && err.contains("p.toml:3:19"),
        "{err}"
    );
}

#[test]
fn original_setup_trips_the_budget_on_the_replica() {
    let p = load("des-benchmark");
    let err = planned(
        &p,
        res(4096 * MB, 2.0),
        res(6144 * MB, 2.0),
        &Target::standard(17),
        false,
    )
    .unwrap_err();
    let TuneError::OverBudget(over) = &err else {
        panic!("{err}")
    };
    assert_eq!(
        over.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        [Role::Primary, Role::Replica]
    );
    let msg = err.to_string();
    assert!(
        msg.contains("200 × 96MB × 2.0 × 1") && msg.contains("--allow-overcommit"),
        "{msg}"
    );
    let pl = planned(
        &p,
        res(4096 * MB, 2.0),
        res(6144 * MB, 2.0),
        &Target::standard(17),
        true,
    )
    .unwrap();
    assert_eq!(
        val(&pl, Role::Replica, "work_mem"),
        Some(Value::Bytes(96 * MB))
    );
    assert!(pl.roles.iter().all(|r| !r.warnings.is_empty()));
}

#[test]
fn eventstore_catalog_tuning() {
    let pl = plan_of(&load("eventstore"), 4 * GB, 2.0, 15).unwrap();
    let events = pl.relations.iter().find(|r| r.name == "events").unwrap();
    let opt = |n: &str| {
        events
            .options
            .iter()
            .find(|o| o.name == n)
            .map(|o| o.value.clone())
    };
    assert_eq!(
        opt("autovacuum_vacuum_insert_threshold"),
        Some(Value::Int(90_000))
    );
    assert_eq!(
        opt("autovacuum_analyze_threshold"),
        Some(Value::Int(36_000))
    );
    assert_eq!(
        opt("autovacuum_analyze_scale_factor"),
        Some(Value::Real(0.0))
    );
    assert_eq!(events.statistics[0].name, "payload");
    let gin = pl
        .relations
        .iter()
        .find(|r| r.name == "idx_events_payload_gin")
        .unwrap();
    assert_eq!(gin.options[0].value, Value::Bool(false));
}

#[test]
fn overrides_win_and_keep_the_formula() {
    let pl = planned(
        &load("des-benchmark"),
        res(4096 * MB, 2.0),
        res(6144 * MB, 2.0),
        &Target::standard(17),
        true,
    )
    .unwrap();
    let s = pl.role(Role::Primary).get("shared_buffers").unwrap();
    assert_eq!(s.value, Value::Bytes(1024 * MB));
    assert!(
        matches!(&s.source, Source::Override { at, .. } if at.key == "primary.overrides.shared_buffers")
    );
    let events = pl.relations.iter().find(|r| r.name == "events").unwrap();
    assert_eq!(
        events
            .options
            .iter()
            .find(|o| o.name == "fillfactor")
            .unwrap()
            .value,
        Value::Int(98)
    );
}

#[test]
fn every_schema_relation_is_owned_and_only_schema_names_pass() {
    let pl = plan_of(&load("eventstore"), 4 * GB, 2.0, 15).unwrap();
    let owned = super::owned(&pl.relations, 15).unwrap();
    let names: Vec<&str> = owned.iter().map(|r| r.schema.name).collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert_eq!(&names[..2], ["events", "snapshots"]);
    let events = &owned[0];
    // What the plan sets is not reset; everything else the version has is.
    for o in events.options {
        assert!(!events.reset.contains(&o.name.as_str()), "{}", o.name);
    }
    assert_eq!(
        events.options.len() + events.reset.len(),
        super::reloptions::names_in(super::reloptions::RelKind::Table, 15).len()
    );
    assert!(!events.default_statistics.contains(&"payload"));
    assert!(events.default_statistics.contains(&"metadata"));
    let stock = plan_of(&load("stock"), 4 * GB, 2.0, 15).unwrap();
    let owned = super::owned(&stock.relations, 15).unwrap();
    assert!(owned
        .iter()
        .all(|r| r.options.is_empty() && r.statistics.is_empty()));
    assert_eq!(owned[0].default_statistics.len(), 5);

    let mut bad = pl.relations.clone();
    bad[0].name = "events; DROP TABLE events".into();
    assert!(super::owned(&bad, 15)
        .unwrap_err()
        .contains("not a relation of the event-store schema"));
    let mut bad = pl.relations.clone();
    bad[0].options[0].name = "autovacuum_vacuum_max_threshold".into();
    assert!(super::owned(&bad, 15)
        .unwrap_err()
        .contains("in PostgreSQL 15"));
    let mut bad = pl.relations.clone();
    bad[0].statistics[0].name = "nosuch".into();
    assert!(super::owned(&bad, 15)
        .unwrap_err()
        .contains("has no column `nosuch`"));
}

#[test]
fn hash_changes_with_any_value() {
    let p = load("eventstore");
    let a = plan_of(&p, 4 * GB, 2.0, 15).unwrap();
    let b = plan_of(&p, 4 * GB, 2.0, 15).unwrap();
    let c = plan_of(&p, 8 * GB, 2.0, 15).unwrap();
    assert_eq!(a.hash, b.hash);
    assert_ne!(a.hash, c.hash);
    assert_eq!(a.hash.len(), 12);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn eventstore_plans_always_validate_and_fit(
        mem_mib in 256u64..=(1u64 << 20),
        cpus in 1u32..=128,
        conns in 10u32..=5000,
        replica_conns in 10u32..=5000,
        major in 13u32..=18,
    ) {
        let mut p = load("eventstore");
        p.primary.connections = conns;
        p.replica.connections = replica_conns;
        let mem = mem_mib * MB;
        let mut pl = planned(&p, res(mem, cpus as f64), res(mem, cpus as f64), &Target::standard(major), false)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for r in &pl.roles {
            prop_assert!(r.budget.fits, "{}: {}", r.role, r.budget.arithmetic());
        }
        let cat = Catalog::builtin(major).unwrap();
        validate(&mut pl, &cat).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}
