//! Every rule against a table of cases at, below and above its
//! thresholds (the defaults of checks/health.toml).

use super::rules::{evaluate, grade, grade_below, worst, Finding, Status};
use super::snapshot::*;
use super::thresholds::Thresholds;
use crate::tune::Role;
use Status::*;

const MB: f64 = 1048576.0;

fn base(role: Role) -> ServerSnapshot {
    let mut s = ServerSnapshot::new(role, "127.0.0.1:5433/postgres".into());
    s.version = Some("15.8".into());
    s.in_recovery = Some(role == Role::Replica);
    s.database = Some("eventstore".into());
    s
}

fn findings(s: ServerSnapshot) -> Vec<Finding> {
    findings_of(Snapshot {
        servers: vec![s],
        ..Default::default()
    })
}

fn findings_of(snap: Snapshot) -> Vec<Finding> {
    evaluate(&snap, &Thresholds::defaults().unwrap())
}

/// Status of the one finding whose check starts with `check`.
fn status(fs: &[Finding], check: &str) -> Option<Status> {
    let hits: Vec<_> = fs.iter().filter(|f| f.check.starts_with(check)).collect();
    assert!(hits.len() <= 1, "several findings for {check}: {hits:#?}");
    hits.first().map(|f| f.status)
}

#[test]
fn grading_is_inclusive_at_the_threshold() {
    let cases = [
        (0.5, Ok),
        (0.8, Warn),
        (0.9, Warn),
        (0.95, Crit),
        (2.0, Crit),
    ];
    for (v, want) in cases {
        assert_eq!(grade(v, 0.8, 0.95), want, "{v}");
    }
    let cases = [(0.99, Ok), (0.95, Ok), (0.94, Warn), (0.89, Crit)];
    for (v, want) in cases {
        assert_eq!(grade_below(v, 0.95, 0.9), want, "{v}");
    }
}

#[test]
fn unreachable_server_is_crit_when_down_and_unknown_when_the_login_fails() {
    let cases = [("down", Crit), ("login", Unknown)];
    for (kind, want) in cases {
        let mut s = base(Role::Primary);
        s.unreachable = Some(Unreachable {
            kind: kind.into(),
            message: "x".into(),
        });
        let fs = findings(s);
        assert_eq!(status(&fs, "reachable"), Some(want), "{kind}");
        assert_eq!(fs.len(), 1, "nothing else is judged: {fs:#?}");
    }
    let mut s = base(Role::Primary);
    s.errors.push("locks: permission denied".into());
    let fs = findings(s);
    assert_eq!(status(&fs, "reachable"), Some(Ok));
    assert_eq!(status(&fs, "locks"), Some(Unknown));
}

#[test]
fn connections_used_idle_in_transaction_and_longest_transaction() {
    // (total of 97 available, idle-in-transaction s, longest xact s)
    let cases = [
        (10, None, None, [Ok, Ok, Ok]),
        (78, Some(59.0), Some(299.0), [Warn, Ok, Ok]),
        (93, Some(60.0), Some(300.0), [Crit, Warn, Warn]),
        (5, Some(601.0), Some(1801.0), [Ok, Crit, Crit]),
    ];
    for (total, idle, tx, want) in cases {
        let mut s = base(Role::Primary);
        s.connections = Some(Connections {
            total,
            max_connections: 100,
            reserved: 3,
            available: 97,
            longest_idle_in_transaction_s: idle,
            longest_transaction_s: tx,
            ..Default::default()
        });
        let fs = findings(s);
        let got =
            ["used", "idle_in_transaction", "longest_transaction"].map(|c| status(&fs, c).unwrap());
        assert_eq!(got, want, "{total} {idle:?} {tx:?}");
    }
}

#[test]
fn cache_hit_ratio_below_thresholds_only_with_enough_blocks() {
    let cases = [
        (Some(0.99), 100_000, Ok),
        (Some(0.94), 100_000, Warn),
        (Some(0.5), 100_000, Crit),
        (Some(0.5), 100, Ok),
        (None, 0, Ok),
    ];
    for (ratio, blocks, want) in cases {
        let mut s = base(Role::Primary);
        s.cache = Some(Cache {
            databases: vec![DatabaseCache {
                database: "eventstore".into(),
                hit_ratio: ratio,
                blocks,
            }],
            tables: vec![TableCache {
                table: "events".into(),
                heap_hit_ratio: ratio,
                heap_blocks: blocks,
                index_hit_ratio: Some(1.0),
                index_blocks: blocks,
            }],
        });
        let fs = findings(s);
        assert_eq!(status(&fs, "hit_ratio"), Some(want), "{ratio:?} {blocks}");
        assert_eq!(
            status(&fs, "heap_hit_ratio"),
            Some(want),
            "{ratio:?} {blocks}"
        );
        assert_eq!(status(&fs, "index_hit_ratio"), Some(Ok));
    }
}

fn sender(state: &str, replay_bytes: f64, replay_ms: Option<f64>) -> Sender {
    Sender {
        application_name: "replica".into(),
        state: state.into(),
        sync_state: "async".into(),
        replay_lag_bytes: Some(replay_bytes),
        replay_lag_ms: replay_ms,
        ..Default::default()
    }
}

#[test]
fn senders_on_the_primary() {
    // (senders, replica given, standbys, state, lag bytes, lag time)
    let cases = [
        (vec![], true, Some(Crit), None, None, None),
        (vec![], false, None, None, None, None),
        (
            vec![sender("streaming", 0.0, None)],
            true,
            None,
            Some(Ok),
            Some(Ok),
            Some(Ok),
        ),
        (
            vec![sender("catchup", 20.0 * MB, Some(40_000.0))],
            true,
            None,
            Some(Warn),
            Some(Warn),
            Some(Warn),
        ),
        (
            vec![sender("streaming", 300.0 * MB, Some(400_000.0))],
            true,
            None,
            Some(Ok),
            Some(Crit),
            Some(Crit),
        ),
    ];
    for (senders, replica, standbys, state, bytes, time) in cases {
        let mut p = base(Role::Primary);
        p.senders = senders;
        let mut servers = vec![p];
        if replica {
            servers.push(base(Role::Replica));
        }
        let fs: Vec<_> = findings_of(Snapshot {
            servers,
            ..Default::default()
        })
        .into_iter()
        .filter(|f| f.server == "primary")
        .collect();
        let got = (
            status(&fs, "standbys"),
            status(&fs, "state"),
            status(&fs, "replay_lag_bytes"),
            status(&fs, "replay_lag replica"),
        );
        assert_eq!(got, (standbys, state, bytes, time), "{fs:#?}");
    }
}

#[test]
fn replica_delay_needs_a_byte_gap_so_an_idle_primary_is_no_lag() {
    // (receiver status, gap to the primary, received-not-replayed,
    //  age of the last replayed xact s, paused) → (receiver, bytes, delay, paused)
    let cases = [
        // Idle primary, caught-up replica, last transaction an hour ago.
        (
            Some("streaming"),
            Some(0.0),
            0.0,
            Some(3600.0),
            false,
            (Ok, Ok, Ok, None),
        ),
        // A few bytes of WAL without a transaction (below delay_min_gap).
        (
            Some("streaming"),
            Some(200.0),
            0.0,
            Some(3600.0),
            false,
            (Ok, Ok, Ok, None),
        ),
        (
            Some("streaming"),
            Some(1.0 * MB),
            0.0,
            Some(45.0),
            false,
            (Ok, Ok, Warn, None),
        ),
        (
            Some("streaming"),
            Some(20.0 * MB),
            20.0 * MB,
            Some(400.0),
            true,
            (Ok, Warn, Crit, Some(Warn)),
        ),
        (
            None,
            Some(300.0 * MB),
            0.0,
            Some(10.0),
            false,
            (Crit, Crit, Ok, None),
        ),
        // No primary probed: only what was received and not replayed.
        (
            Some("streaming"),
            None,
            17.0 * MB,
            Some(31.0),
            false,
            (Ok, Warn, Warn, None),
        ),
        (
            Some("waiting"),
            None,
            0.0,
            None,
            false,
            (Warn, Ok, Ok, None),
        ),
    ];
    for (status_, gap, unreplayed, age, paused, want) in cases {
        let mut r = base(Role::Replica);
        r.receiver = Some(Receiver {
            status: status_.map(String::from),
            primary_gap_bytes: gap,
            receive_replay_gap_bytes: Some(unreplayed),
            last_replay_age_s: age,
            replay_paused: paused,
            ..Default::default()
        });
        let fs = findings(r);
        let got = (
            status(&fs, "wal_receiver").unwrap(),
            status(&fs, "lag_bytes").unwrap(),
            status(&fs, "replay_delay").unwrap(),
            status(&fs, "replay_paused"),
        );
        assert_eq!(
            got, want,
            "{status_:?} {gap:?} {unreplayed} {age:?} {paused}"
        );
    }
}

#[test]
fn slots_inactive_lost_and_retaining_too_much() {
    // (active, retained, max_slot_wal_keep_size, wal_status)
    let cases = [
        (true, 1.0 * MB, None, Some("reserved"), Ok),
        (false, 1.0 * MB, None, Some("reserved"), Warn),
        (true, 2048.0 * MB, None, Some("extended"), Warn),
        (true, 9000.0 * MB, None, Some("extended"), Crit),
        (true, 600.0 * MB, Some(1024.0 * MB), Some("reserved"), Warn),
        (
            true,
            900.0 * MB,
            Some(1024.0 * MB),
            Some("unreserved"),
            Crit,
        ),
        (true, 10.0 * MB, Some(1024.0 * MB), Some("unreserved"), Warn),
        (false, 0.0, Some(1024.0 * MB), Some("lost"), Crit),
    ];
    for (active, retained, max, wal, want) in cases {
        let mut p = base(Role::Primary);
        p.slots = Some(Slots {
            max_slot_wal_keep_size_bytes: max,
            slots: vec![Slot {
                name: "replica".into(),
                slot_type: "physical".into(),
                active,
                retained_bytes: Some(retained),
                wal_status: wal.map(String::from),
            }],
        });
        let fs = findings(p);
        assert_eq!(
            status(&fs, "slot replica"),
            Some(want),
            "{active} {retained} {max:?} {wal:?}"
        );
    }
}

#[test]
fn dead_tuples_and_gin_pending_lists() {
    let cases = [
        (900_000, 100_000, Ok),
        (800_000, 200_000, Warn),
        (400_000, 600_000, Crit),
        (100, 900, Ok),
    ];
    for (live, dead, want) in cases {
        let mut s = base(Role::Primary);
        s.tables = vec![TableHealth {
            table: "events".into(),
            live_tuples: live,
            dead_tuples: dead,
            ..Default::default()
        }];
        assert_eq!(
            status(&findings(s), "dead_tuples events"),
            Some(want),
            "{live} {dead}"
        );
    }
    let cases = [(512, Ok), (1024, Warn), (8192, Crit)];
    for (pages, want) in cases {
        let mut s = base(Role::Primary);
        s.gin = Some(GinPending {
            via: Some("pgstattuple".into()),
            note: None,
            indexes: vec![GinIndex {
                index: "idx_events_payload_gin".into(),
                pending_pages: pages,
                pending_tuples: 1,
            }],
        });
        assert_eq!(
            status(&findings(s), "gin_pending idx"),
            Some(want),
            "{pages}"
        );
    }
    let mut s = base(Role::Primary);
    s.gin = Some(GinPending {
        via: None,
        note: Some("neither pgstattuple nor pageinspect".into()),
        indexes: vec![],
    });
    let fs = findings(s);
    let f = fs.iter().find(|f| f.check == "gin_pending").unwrap();
    assert_eq!((f.status, f.value.as_str()), (Ok, "not measured"));
    assert!(f.recommendation.contains("pgstattuple"), "says why");
}

#[test]
fn wraparound_age_and_sequence_headroom() {
    let cases = [
        (100_000_000, Some(150_000_000), Ok),
        (100_000_000, Some(200_000_000), Warn),
        (1_000_000_000, None, Crit),
    ];
    for (dat, rel, want) in cases {
        let mut s = base(Role::Primary);
        s.wraparound = Some(Wraparound {
            oldest_database: "eventstore".into(),
            datfrozenxid_age: dat,
            oldest_table: rel.map(|_| "events".into()),
            relfrozenxid_age: rel,
            autovacuum_freeze_max_age: 200_000_000,
        });
        assert_eq!(status(&findings(s), "xid_age"), Some(want), "{dat} {rel:?}");
    }
    let cases = [
        (None, Ok),
        (Some(10), Ok),
        (Some(i64::MAX / 2), Warn),
        (Some(i64::MAX / 10 * 9), Crit),
    ];
    for (last, want) in cases {
        let mut s = base(Role::Primary);
        let max = i64::MAX;
        s.sequence = Some(SequenceHeadroom {
            sequence: "public.events_sequence_number_seq".into(),
            last_value: last,
            max_value: max,
            used_ratio: last.unwrap_or(0) as f64 / max as f64,
        });
        assert_eq!(
            status(&findings(s), "sequence_headroom"),
            Some(want),
            "{last:?}"
        );
    }
}

#[test]
fn checkpoints_requested_share_from_enough_checkpoints() {
    let cases = [
        (0, 2, Ok),
        (90, 10, Ok),
        (65, 35, Warn),
        (30, 70, Crit),
        (1, 8, Ok),
    ];
    for (timed, requested, want) in cases {
        let mut s = base(Role::Primary);
        s.checkpoints = Some(Checkpoints {
            source: "pg_stat_bgwriter".into(),
            timed,
            requested,
            ..Default::default()
        });
        assert_eq!(
            status(&findings(s), "requested_share"),
            Some(want),
            "{timed} {requested}"
        );
    }
}

#[test]
fn lock_waits_by_the_longest_blocked_backend() {
    let cases = [
        (vec![], Ok),
        (vec![Some(2.0)], Ok),
        (vec![Some(1.0), Some(10.0)], Warn),
        (vec![Some(61.0)], Crit),
    ];
    for (waits, want) in cases {
        let mut s = base(Role::Primary);
        s.locks = Some(Locks {
            waiting: waits.len() as i64,
            blocked: waits
                .iter()
                .map(|w| BlockedBackend {
                    pid: 42,
                    blocked_by: vec![7],
                    waiting_s: *w,
                    ..Default::default()
                })
                .collect(),
        });
        assert_eq!(status(&findings(s), "lock_waits"), Some(want), "{waits:?}");
    }
}

#[test]
fn pending_restart_and_statements() {
    let cases = [(vec![], Ok), (vec!["shared_buffers".to_string()], Warn)];
    for (pending, want) in cases {
        let mut s = base(Role::Primary);
        s.settings = Some(Settings {
            pending_restart: pending.clone(),
            ..Default::default()
        });
        assert_eq!(
            status(&findings(s), "pending_restart"),
            Some(want),
            "{pending:?}"
        );
    }
    let mut s = base(Role::Primary);
    s.statements = Some(Statements {
        installed: false,
        note: Some("not installed".into()),
        top: vec![],
    });
    assert_eq!(
        status(&findings(s), "pg_stat_statements"),
        Some(Ok),
        "information only"
    );
}

#[test]
fn memory_usage_oom_and_budget() {
    const GB: u64 = 1 << 30;
    // (usage, limit, oom, budget) → (usage, oom, budget)
    let cases = [
        (
            Some(GB),
            Some(4 * GB),
            Some(false),
            Some(3 * GB),
            (Some(Ok), None, Some(Ok)),
        ),
        (
            Some(3 * GB + GB / 2),
            Some(4 * GB),
            Some(false),
            Some(5 * GB),
            (Some(Warn), None, Some(Warn)),
        ),
        (
            Some(4 * GB),
            Some(4 * GB),
            Some(true),
            Some(7 * GB),
            (Some(Crit), Some(Crit), Some(Crit)),
        ),
        (Some(GB), None, None, Some(7 * GB), (Some(Ok), None, None)),
        (None, None, None, None, (None, None, None)),
    ];
    for (usage, limit, oom, budget, want) in cases {
        let mut s = base(Role::Primary);
        s.memory = Some(Memory {
            usage_bytes: usage,
            limit_bytes: limit,
            oom_killed: oom,
            budget_bytes: budget,
            budget_limit_bytes: None,
            note: None,
        });
        let fs = findings(s);
        let got = (
            status(&fs, "usage"),
            status(&fs, "oom_killed"),
            status(&fs, "worst_case_budget"),
        );
        assert_eq!(got, want, "{usage:?} {limit:?} {oom:?} {budget:?}");
    }
}

#[test]
fn pair_parity_and_drift() {
    let gap = ParityGap {
        name: "max_connections".into(),
        primary: "200".into(),
        replica: "100".into(),
    };
    let drift = Drift {
        role: "primary".into(),
        name: "work_mem".into(),
        live: "4MB".into(),
        planned: "16MB".into(),
    };
    // (parity gaps, profile, drift, note) → (parity, drift)
    let cases = [
        (vec![], Some("stock"), vec![], None, (Some(Ok), Some(Ok))),
        (
            vec![gap.clone()],
            Some("stock"),
            vec![drift.clone()],
            None,
            (Some(Crit), Some(Warn)),
        ),
        (vec![], None, vec![], None, (Some(Ok), None)),
        (
            vec![],
            None,
            vec![],
            Some("no managed cluster"),
            (Some(Ok), Some(Ok)),
        ),
    ];
    for (parity, profile, drift, note, want) in cases {
        let snap = Snapshot {
            config: Some(ConfigCheck {
                parity,
                profile: profile.map(String::from),
                drift,
                drift_note: note.map(String::from),
                ..Default::default()
            }),
            ..Default::default()
        };
        let fs = findings_of(snap);
        assert!(fs.iter().all(|f| f.server == "pair"));
        assert_eq!(
            (status(&fs, "standby_parity"), status(&fs, "drift")),
            want,
            "{fs:#?}"
        );
    }
}

#[test]
fn catalog_drift_names_relation_parameter_values_and_the_fix() {
    let hand = CatalogDrift {
        role: "primary".into(),
        relation: "events".into(),
        parameter: "fillfactor".into(),
        live: "50".into(),
        planned: "default".into(),
    };
    let role = CatalogDrift {
        role: "primary".into(),
        relation: "role eventstore in database eventstore".into(),
        parameter: "enable_seqscan".into(),
        live: "off".into(),
        planned: "not set".into(),
    };
    // (profile, managed, drift, note) → (status, value contains, recommendation contains)
    let cases = [
        (
            Some("eventstore"),
            true,
            vec![hand.clone(), role],
            None,
            Some((
                Warn,
                "events fillfactor: live 50, planned default; role eventstore in database eventstore enable_seqscan: live off, planned not set",
                "reconnect the application",
            )),
        ),
        (None, true, vec![hand.clone()], None, None),
        (
            Some("stock"),
            true,
            vec![],
            None,
            Some((Ok, "match profile stock", "")),
        ),
        (
            Some("stock"),
            true,
            vec![hand.clone()],
            None,
            Some((
                Warn,
                "events fillfactor: live 50, planned default",
                "`estune apply --profile stock` re-applies",
            )),
        ),
        (
            Some("eventstore"),
            false,
            vec![hand.clone()],
            None,
            Some((Warn, "live 50", "estune render --profile eventstore -o DIR")),
        ),
        (
            Some("stock"),
            true,
            vec![],
            Some("catalog not checked: no event-store tables"),
            Some((Ok, "not checked", "no event-store tables")),
        ),
    ];
    for (profile, managed, drift, note, want) in cases {
        let snap = Snapshot {
            config: Some(ConfigCheck {
                profile: profile.map(String::from),
                managed,
                catalog_drift: drift,
                catalog_note: note.map(String::from),
                ..Default::default()
            }),
            ..Default::default()
        };
        let fs = findings_of(snap);
        let got = fs.iter().find(|f| f.check == "catalog_drift");
        match (got, want) {
            (None, None) => {}
            (Some(f), Some((st, value, rec))) => {
                assert_eq!(f.status, st, "{f:#?}");
                assert!(f.value.contains(value), "{f:#?}");
                assert!(f.recommendation.contains(rec), "{f:#?}");
            }
            (got, want) => panic!("got {got:#?}, want {want:?}"),
        }
    }
}

#[test]
fn worst_status_and_nagios_exit_codes() {
    let f = |status| Finding {
        server: "primary".into(),
        area: "a".into(),
        check: "c".into(),
        status,
        value: String::new(),
        threshold: String::new(),
        recommendation: String::new(),
        perf: None,
    };
    let cases = [
        (vec![], Unknown, 3),
        (vec![Ok, Ok], Ok, 0),
        (vec![Ok, Unknown], Unknown, 3),
        (vec![Unknown, Warn], Warn, 1),
        (vec![Warn, Crit, Unknown], Crit, 2),
    ];
    for (statuses, want, code) in cases {
        let fs: Vec<_> = statuses.into_iter().map(f).collect();
        assert_eq!(worst(&fs), want);
        assert_eq!(worst(&fs).exit_code(), code);
    }
}

#[test]
fn ok_findings_carry_no_recommendation_and_others_do() {
    let mut s = base(Role::Primary);
    s.settings = Some(Settings {
        pending_restart: vec!["shared_buffers".into()],
        ..Default::default()
    });
    s.locks = Some(Locks::default());
    for f in findings(s) {
        assert_eq!(f.recommendation.is_empty(), f.status == Ok, "{f:#?}");
    }
}

/// Counters of one server: `events` took `inserted` inserts; its primary
/// key (never read here) and the given indexes with their scans.
fn usage(inserted: i64, scans: &[(&str, i64)]) -> IndexUsage {
    let index = |name: &str, scans: i64, backs_constraint: bool| IndexScans {
        index: name.into(),
        table: "events".into(),
        columns: vec![name.trim_start_matches("idx_events_").replace("_gin", "")],
        size_bytes: Some(1288490189),
        scans,
        backs_constraint,
    };
    let mut indexes = vec![index("events_pkey", 0, true)];
    indexes.extend(scans.iter().map(|(n, s)| index(n, *s, false)));
    IndexUsage {
        stats_reset: None,
        server_started: "2026-01-05T08:00:00Z".into(),
        counted_s: 7200.0,
        tables: vec![TableInserts {
            table: "events".into(),
            inserted,
        }],
        indexes,
    }
}

/// A pair whose primary counted `p` and whose replica `r` (None: it did
/// not answer).
fn pair_usage(p: IndexUsage, r: Option<IndexUsage>) -> Vec<Finding> {
    let mut primary = base(Role::Primary);
    primary.index_usage = Some(p);
    let mut replica = base(Role::Replica);
    match r {
        Some(u) => replica.index_usage = Some(u),
        None => {
            replica.unreachable = Some(Unreachable {
                kind: "down".into(),
                message: "connection refused".into(),
            })
        }
    }
    findings_of(Snapshot {
        servers: vec![primary, replica],
        ..Default::default()
    })
    .into_iter()
    .filter(|f| f.server == "pair")
    .collect()
}

fn unused_reported(fs: &[Finding]) -> Vec<&str> {
    fs.iter()
        .filter_map(|f| f.check.strip_prefix("unused_index "))
        .collect()
}

#[test]
fn an_index_no_query_reads_on_either_server_is_a_warning_with_the_drop_to_confirm() {
    let (gin, payload) = ("idx_events_metadata_gin", "idx_events_payload_gin");
    // (primary inserts and scans, replica scans or down) → reported
    let cases = [
        // Read on the replica only (the read side): not reported.
        (1_234_567, [0, 0], Some([0, 12]), vec![gin]),
        (1_234_567, [0, 5], Some([7, 0]), vec![]),
        // Unread on both: reported, the primary key never.
        (1_234_567, [0, 0], Some([0, 0]), vec![gin, payload]),
        // Too few inserts to judge, at and below the threshold.
        (9_999, [0, 0], Some([0, 0]), vec![]),
        (10_000, [0, 3], Some([0, 0]), vec![gin]),
        // The replica did not answer: from the primary only.
        (1_234_567, [0, 5], None, vec![gin]),
    ];
    for (inserted, p, r, want) in cases {
        let scans = |s: [i64; 2]| usage(inserted, &[(gin, s[0]), (payload, s[1])]);
        let fs = pair_usage(scans(p), r.map(scans));
        assert_eq!(
            unused_reported(&fs),
            want,
            "{inserted} {p:?} {r:?}: {fs:#?}"
        );
        assert!(fs.iter().all(|f| f.check != "unused_index events_pkey"));
        let summary = fs.iter().find(|f| f.check == "index_usage").unwrap();
        assert_eq!(summary.status, Ok, "{summary:#?}");
        let perf = summary.perf.as_ref().unwrap();
        assert_eq!(
            (perf.label.as_str(), perf.value),
            ("pair_unused_indexes", want.len() as f64)
        );
        if inserted < 10_000 {
            assert!(
                summary
                    .value
                    .contains("9,999 inserts, too few inserts to judge"),
                "{summary:#?}"
            );
        }
        for f in fs.iter().filter(|f| f.status != Ok) {
            assert_eq!(f.status, Warn);
            assert_eq!(
                r.is_none(),
                f.value
                    .contains("from the primary only: the replica did not answer"),
                "{f:#?}"
            );
            assert_eq!(
                r.is_none(),
                f.recommendation
                    .contains("check its pg_stat_user_indexes first"),
                "{f:#?}"
            );
        }
    }

    let fs = pair_usage(
        usage(1_234_567, &[(gin, 0), (payload, 9)]),
        Some(usage(0, &[(gin, 0), (payload, 0)])),
    );
    let f = fs
        .iter()
        .find(|f| f.check == "unused_index idx_events_metadata_gin")
        .unwrap();
    assert_eq!(
        f.value,
        "idx_events_metadata_gin (1.2 GiB) was not read by any query on either server since \
         the primary started at 2026-01-05T08:00:00Z (2.0 h ago), while events took 1,234,567 \
         inserts: every append maintains it"
    );
    assert_eq!(
        f.recommendation,
        "if no query of the application filters on metadata, drop it \
         (`DROP INDEX CONCURRENTLY idx_events_metadata_gin;` — estune never drops an index itself); \
         a query that runs rarely (a monthly report) may not have run in that time"
    );
    assert_eq!(
        f.threshold,
        "idx_scan 0 on primary and replica, from 10000 inserts"
    );
}

#[test]
fn unused_indexes_are_counted_from_the_later_start_and_the_threshold_is_overridable() {
    let gin = "idx_events_metadata_gin";
    let p = usage(50_000, &[(gin, 0)]);
    let mut r = usage(0, &[(gin, 0)]);
    r.stats_reset = Some("2026-01-05T09:30:00Z".into());
    r.counted_s = 1800.0;
    let fs = pair_usage(p.clone(), Some(r));
    let f = fs
        .iter()
        .find(|f| f.check.starts_with("unused_index"))
        .unwrap();
    assert!(
        f.value.contains(
            "since the replica's statistics were reset at 2026-01-05T09:30:00Z (30 min ago)"
        ),
        "{f:#?}"
    );

    // A replica listing no index statistics, and no replica at all.
    let mut primary = base(Role::Primary);
    primary.index_usage = Some(p.clone());
    for servers in [
        vec![primary.clone(), base(Role::Replica)],
        vec![primary.clone()],
    ] {
        let fs = findings_of(Snapshot {
            servers,
            ..Default::default()
        });
        assert_eq!(status(&fs, "unused_index"), Some(Warn));
        assert!(status(&fs, "index_usage").is_some());
        assert!(
            fs.iter().any(|f| f.value.contains("from the primary only")),
            "{fs:#?}"
        );
    }
    // Without the primary's counters there is nothing to judge.
    let mut replica = base(Role::Replica);
    replica.index_usage = Some(p.clone());
    let fs = findings_of(Snapshot {
        servers: vec![replica],
        ..Default::default()
    });
    assert_eq!(
        (status(&fs, "unused_index"), status(&fs, "index_usage")),
        (None, None)
    );

    let mut t = Thresholds::defaults().unwrap();
    t.set("tables.unused_index_min_inserts=100000").unwrap();
    let snap = Snapshot {
        servers: vec![primary],
        ..Default::default()
    };
    let fs = evaluate(&snap, &t);
    assert_eq!(status(&fs, "unused_index"), None);
    let f = fs.iter().find(|f| f.check == "index_usage").unwrap();
    assert!(
        f.value
            .contains("events: 50,000 inserts, too few inserts to judge"),
        "{f:#?}"
    );
    assert!(f.threshold.contains("from 100000 inserts"), "{f:#?}");
}
