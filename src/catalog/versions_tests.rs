use super::*;
use crate::catalog::Catalog;
use std::collections::BTreeSet;

fn names(text: &str) -> BTreeSet<String> {
    tsv::parse(text)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// Every difference between the two dumps is explained by the table, so a
/// new dump cannot bring in a parameter the derived versions get wrong.
#[test]
fn the_table_explains_every_difference_between_the_dumps() {
    let (n15, n18) = (names(PG15), names(PG18));
    for name in n18.difference(&n15) {
        let added = ADDED.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert!(
            matches!(added, Some(16..=18)),
            "{name} is new in the 18 dump but not in ADDED (16..=18)"
        );
    }
    for name in n15.difference(&n18) {
        let removed = REMOVED.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        let explained = matches!(removed, Some(15..=17)) || NOT_STANDARD.contains(&name.as_str());
        assert!(
            explained,
            "{name} is only in the 15 dump but not in REMOVED (15..=17)"
        );
    }
    let old = names(OLD_ROWS);
    for (name, _) in ADDED.iter().chain(REMOVED) {
        let known = n15.contains(*name) || n18.contains(*name) || old.contains(*name);
        assert!(known, "{name} is in the table but in no dump");
    }
    for c in CHANGES {
        assert!(
            n15.contains(c.name) || n18.contains(c.name),
            "{} changed but unknown",
            c.name
        );
    }
}

#[test]
fn presence_by_version() {
    let cases: &[(&str, &[u32])] = &[
        ("io_method", &[18]),
        ("io_workers", &[18]),
        ("autovacuum_worker_slots", &[18]),
        ("io_combine_limit", &[17, 18]),
        ("transaction_timeout", &[17, 18]),
        ("summarize_wal", &[17, 18]),
        ("allow_alter_system", &[17, 18]),
        ("transaction_buffers", &[17, 18]),
        ("reserved_connections", &[16, 17, 18]),
        ("vacuum_buffer_usage_limit", &[16, 17, 18]),
        ("debug_parallel_query", &[16, 17, 18]),
        ("force_parallel_mode", &[13, 14, 15]),
        ("vacuum_defer_cleanup_age", &[13, 14, 15]),
        ("promote_trigger_file", &[13, 14, 15]),
        ("stats_temp_directory", &[13, 14]),
        ("recovery_prefetch", &[15, 16, 17, 18]),
        ("archive_library", &[15, 16, 17, 18]),
        ("compute_query_id", &[14, 15, 16, 17, 18]),
        ("enable_memoize", &[14, 15, 16, 17, 18]),
        ("vacuum_failsafe_age", &[14, 15, 16, 17, 18]),
        ("vacuum_cleanup_index_scale_factor", &[13]),
        ("operator_precedence_warning", &[13]),
        ("old_snapshot_threshold", &[13, 14, 15, 16]),
        ("db_user_namespace", &[13, 14, 15, 16]),
        ("ssl_ecdh_curve", &[13, 14, 15, 16, 17]),
        ("ssl_groups", &[18]),
        ("extension_destdir", &[]),
        ("shared_buffers", &[13, 14, 15, 16, 17, 18]),
    ];
    let catalogs: Vec<Catalog> = SUPPORTED.map(|m| Catalog::builtin(m).unwrap()).collect();
    for (name, want) in cases {
        let have: Vec<u32> = catalogs
            .iter()
            .filter(|c| c.get(name).is_some())
            .map(|c| c.major)
            .collect();
        assert_eq!(&have, want, "{name}");
    }
}

#[test]
fn changed_definitions() {
    let get = |major: u32, name: &str| Catalog::builtin(major).unwrap().get(name).unwrap().clone();
    let wal14 = get(14, "wal_compression");
    assert_eq!(
        (wal14.vartype, wal14.boot_val.as_str()),
        (VarType::Bool, "off")
    );
    assert!(wal14.enumvals.is_empty());
    for major in [15, 16, 17, 18] {
        let wal = get(major, "wal_compression");
        assert_eq!(wal.vartype, VarType::Enum);
        assert_eq!(
            wal.enumvals,
            ["pglz", "lz4", "zstd", "on", "off"],
            "{major}"
        );
    }
    for major in 14..=18 {
        assert_eq!(
            get(major, "default_toast_compression").enumvals,
            ["pglz", "lz4"],
            "{major}"
        );
    }
    assert_eq!(get(17, "log_connections").vartype, VarType::Bool);
    assert_eq!(get(18, "log_connections").vartype, VarType::String);
    assert_eq!(get(17, "effective_io_concurrency").boot_val, "1");
    assert_eq!(get(18, "effective_io_concurrency").boot_val, "16");
    assert_eq!(get(16, "vacuum_buffer_usage_limit").boot_val, "256");
    assert_eq!(get(17, "vacuum_buffer_usage_limit").boot_val, "2048");
    assert_eq!(
        get(17, "autovacuum_max_workers").context,
        Context::Postmaster
    );
    assert_eq!(get(18, "autovacuum_max_workers").context, Context::Sighup);
    assert_eq!(get(17, "io_combine_limit").max, Some(32.0));
    assert_eq!(get(14, "log_checkpoints").boot_val, "off");
    assert_eq!(get(15, "log_checkpoints").boot_val, "on");
    assert_eq!(get(13, "password_encryption").boot_val, "md5");
    assert_eq!(get(14, "password_encryption").boot_val, "scram-sha-256");
    assert_eq!(get(18, "ssl_library").boot_val, "OpenSSL");
}

#[test]
fn sources_and_unsupported_versions() {
    for (major, from) in [
        (13, Some(15)),
        (14, Some(15)),
        (15, None),
        (16, Some(18)),
        (17, Some(18)),
        (18, None),
    ] {
        let c = Catalog::builtin(major).unwrap();
        assert_eq!(
            c.source,
            crate::catalog::CatalogSource::Builtin {
                major,
                derived_from: from
            }
        );
    }
    assert_eq!(
        Catalog::builtin(16).unwrap().describe(),
        "built-in catalog for PostgreSQL 16 (derived from the 18 catalog; no server or binary was used)"
    );
    for major in [12, 19, 0] {
        let err = Catalog::builtin(major).unwrap_err().to_string();
        assert!(
            err.contains(&format!("PostgreSQL {major}")) && err.contains("13 to 18"),
            "{err}"
        );
    }
}

#[test]
fn lifetimes_for_messages() {
    assert_eq!(
        lifetime("io_method").as_deref(),
        Some("PostgreSQL 18 and later")
    );
    assert_eq!(
        lifetime("stats_temp_directory").as_deref(),
        Some("PostgreSQL 14 and earlier")
    );
    assert_eq!(lifetime("shared_buffers"), None);
}
