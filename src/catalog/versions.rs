//! The built-in catalogs. PostgreSQL 15 and 18 are real `pg_settings` dumps;
//! 13 and 14 are derived from 15, 16 and 17 from 18, by the explicit table
//! of release differences below (from the release notes), so a parameter
//! that a major version does not have is absent from its catalog.
//!
//! The built-in catalogs describe a standard build of the latest minor
//! release. The dumps came from particular builds (Debian's 15, a PG 18
//! built without lz4, zstd or OpenSSL), so build-dependent values are put
//! back to what a standard build has; for the exact build, use
//! `Catalog::from_binary`.

use super::{tsv, CatalogError, Context, Param, VarType};

const PG15: &str = include_str!("builtin/pg15.tsv");
const PG18: &str = include_str!("builtin/pg18.tsv");

pub(crate) const SUPPORTED: std::ops::RangeInclusive<u32> = 13..=18;

/// First major version with the parameter, for those newer than 13.
pub(crate) const ADDED: &[(&str, u32)] = &[
    ("client_connection_check_interval", 14),
    ("compute_query_id", 14),
    ("debug_discard_caches", 14),
    ("default_toast_compression", 14),
    ("enable_async_append", 14),
    ("enable_memoize", 14),
    ("huge_page_size", 14),
    ("idle_session_timeout", 14),
    ("in_hot_standby", 14),
    ("log_recovery_conflict_waits", 14),
    ("min_dynamic_shared_memory", 14),
    ("recovery_init_sync_method", 14),
    ("remove_temp_files_after_crash", 14),
    ("ssl_crl_dir", 14),
    ("track_wal_io_timing", 14),
    ("vacuum_failsafe_age", 14),
    ("vacuum_multixact_failsafe_age", 14),
    ("archive_library", 15),
    ("log_startup_progress_interval", 15),
    ("recovery_prefetch", 15),
    ("recursive_worktable_factor", 15),
    ("shared_memory_size", 15),
    ("shared_memory_size_in_huge_pages", 15),
    ("stats_fetch_consistency", 15),
    ("wal_decode_buffer_size", 15),
    ("createrole_self_grant", 16),
    ("debug_io_direct", 16),
    ("debug_logical_replication_streaming", 16),
    ("debug_parallel_query", 16),
    ("enable_presorted_aggregate", 16),
    ("gss_accept_delegation", 16),
    ("icu_validation_level", 16),
    ("max_parallel_apply_workers_per_subscription", 16),
    ("reserved_connections", 16),
    ("scram_iterations", 16),
    ("send_abort_for_crash", 16),
    ("send_abort_for_kill", 16),
    ("vacuum_buffer_usage_limit", 16),
    // Added in minor releases of 16, 17 and 18 (file_extend_method in
    // 16.12/17.8/18.2, output_plugin_libraries as a security fix), hence
    // absent from the 15 dump but present in the latest 16 and 17.
    ("file_extend_method", 16),
    ("output_plugin_libraries", 16),
    ("allow_alter_system", 17),
    ("commit_timestamp_buffers", 17),
    ("enable_group_by_reordering", 17),
    ("event_triggers", 17),
    ("huge_pages_status", 17),
    ("io_combine_limit", 17),
    ("max_notify_queue_pages", 17),
    ("multixact_member_buffers", 17),
    ("multixact_offset_buffers", 17),
    ("notify_buffers", 17),
    ("serializable_buffers", 17),
    ("subtransaction_buffers", 17),
    ("summarize_wal", 17),
    ("sync_replication_slots", 17),
    ("synchronized_standby_slots", 17),
    ("trace_connection_negotiation", 17),
    ("transaction_buffers", 17),
    ("transaction_timeout", 17),
    ("wal_summary_keep_time", 17),
    ("autovacuum_vacuum_max_threshold", 18),
    ("autovacuum_worker_slots", 18),
    ("enable_distinct_reordering", 18),
    ("enable_self_join_elimination", 18),
    ("extension_control_path", 18),
    ("file_copy_method", 18),
    ("idle_replication_slot_timeout", 18),
    ("io_max_combine_limit", 18),
    ("io_max_concurrency", 18),
    ("io_method", 18),
    ("io_workers", 18),
    ("log_lock_failures", 18),
    ("max_active_replication_origins", 18),
    ("md5_password_warnings", 18),
    ("num_os_semaphores", 18),
    ("oauth_validator_libraries", 18),
    ("ssl_groups", 18),
    ("ssl_tls13_ciphers", 18),
    ("track_cost_delay_timing", 18),
    ("vacuum_max_eager_freeze_failure_rate", 18),
    ("vacuum_truncate", 18),
];

/// Last major version with the parameter (renamed or removed after it).
pub(crate) const REMOVED: &[(&str, u32)] = &[
    ("operator_precedence_warning", 13),
    ("vacuum_cleanup_index_scale_factor", 13),
    ("stats_temp_directory", 14),
    ("force_parallel_mode", 15), // renamed debug_parallel_query
    ("lc_collate", 15),
    ("lc_ctype", 15),
    ("promote_trigger_file", 15),
    ("vacuum_defer_cleanup_age", 15),
    ("db_user_namespace", 16),
    ("old_snapshot_threshold", 16),
    ("trace_recovery_messages", 16),
    ("ssl_ecdh_curve", 17), // renamed ssl_groups (the old name is a hidden alias)
];

/// Patches not in any standard build: Debian adds extension_destdir.
const NOT_STANDARD: &[&str] = &["extension_destdir"];

/// Definitions of parameters that neither dump has (removed before 15).
const OLD_ROWS: &str = "\
operator_precedence_warning\tbool\t\t\t\t\tuser\toff\tVersion and Platform Compatibility / Previous PostgreSQL Versions\tEmit a warning for constructs that changed meaning since PostgreSQL 9.4.
stats_temp_directory\tstring\t\t\t\t\tsighup\tpg_stat_tmp\tStatistics / Query and Index Statistics Collector\tWrites temporary statistics files to the specified directory.
vacuum_cleanup_index_scale_factor\treal\t\t0\t1e+10\t\tuser\t0.1\tClient Connection Defaults / Statement Behavior\tNumber of tuple inserts prior to index cleanup as a fraction of reltuples.
";

/// A change to an existing parameter in the majors of `majors`.
struct Change {
    name: &'static str,
    majors: std::ops::RangeInclusive<u32>,
    patch: Patch,
}

enum Patch {
    Boot(&'static str),
    Context(Context),
    Min(f64),
    Max(f64),
    /// The parameter was a plain boolean.
    Bool {
        boot: &'static str,
        desc: &'static str,
    },
}

const fn change(name: &'static str, majors: std::ops::RangeInclusive<u32>, patch: Patch) -> Change {
    Change {
        name,
        majors,
        patch,
    }
}

const CHANGES: &[Change] = &[
    change(
        "wal_compression",
        13..=14,
        Patch::Bool {
            boot: "off",
            desc: "Compresses full-page writes written in WAL file.",
        },
    ),
    change(
        "log_connections",
        13..=17,
        Patch::Bool {
            boot: "off",
            desc: "Logs each successful connection.",
        },
    ),
    change("password_encryption", 13..=13, Patch::Boot("md5")),
    change("checkpoint_completion_target", 13..=13, Patch::Boot("0.5")),
    change("vacuum_cost_page_miss", 13..=13, Patch::Boot("10")),
    change("log_checkpoints", 13..=14, Patch::Boot("off")),
    change("log_autovacuum_min_duration", 13..=14, Patch::Boot("-1")),
    change("hash_mem_multiplier", 13..=14, Patch::Boot("1")),
    change("vacuum_buffer_usage_limit", 16..=16, Patch::Boot("256")),
    change("effective_io_concurrency", 13..=17, Patch::Boot("1")),
    change("maintenance_io_concurrency", 13..=17, Patch::Boot("10")),
    change(
        "autovacuum_max_workers",
        13..=17,
        Patch::Context(Context::Postmaster),
    ),
    change("io_combine_limit", 17..=17, Patch::Max(32.0)),
    change("maintenance_work_mem", 13..=17, Patch::Min(1024.0)),
    change("log_rotation_size", 13..=17, Patch::Max(2097151.0)),
];

/// The parameters of the built-in catalog for `major`, and the dump it was
/// derived from when it has none of its own.
pub(crate) fn builtin_params(major: u32) -> Result<(Vec<Param>, Option<u32>), CatalogError> {
    if !SUPPORTED.contains(&major) {
        return Err(CatalogError::UnsupportedVersion {
            major,
            supported: format!("{} to {}", SUPPORTED.start(), SUPPORTED.end()),
        });
    }
    let base = if major <= 15 { 15 } else { 18 };
    let mut params = dump(base)?;
    standard_build(&mut params);
    if major != base {
        let donors = if base == 18 {
            dump(15)?
        } else {
            dump_text(13, OLD_ROWS)?
        };
        derive(&mut params, major, &donors);
    }
    Ok((params, Some(base).filter(|b| *b != major)))
}

fn dump(major: u32) -> Result<Vec<Param>, CatalogError> {
    dump_text(major, if major == 15 { PG15 } else { PG18 })
}

fn dump_text(major: u32, text: &str) -> Result<Vec<Param>, CatalogError> {
    tsv::parse(text).map_err(|(line, reason)| CatalogError::BadBuiltin {
        major,
        line,
        reason,
    })
}

/// Puts build-dependent values back to a standard build's.
fn standard_build(params: &mut Vec<Param>) {
    params.retain(|p| !NOT_STANDARD.contains(&p.name.as_str()));
    for p in params.iter_mut() {
        match p.name.as_str() {
            // lz4 and zstd are optional at build time but in every packaged build.
            "wal_compression" => {
                p.enumvals = ["pglz", "lz4", "zstd", "on", "off"]
                    .map(String::from)
                    .to_vec()
            }
            "default_toast_compression" => p.enumvals = ["pglz", "lz4"].map(String::from).to_vec(),
            // Without OpenSSL these read "none"/"".
            "ssl_ciphers" => p.boot_val = "HIGH:MEDIUM:+3DES:!aNULL".into(),
            "ssl_groups" => p.boot_val = "X25519:prime256v1".into(),
            "ssl_library" => p.boot_val = "OpenSSL".into(),
            _ => {}
        }
    }
}

/// Turns the catalog of a neighbouring major into that of `major`.
fn derive(params: &mut Vec<Param>, major: u32, donors: &[Param]) {
    params.retain(|p| exists_in(&p.name, major));
    for (name, last) in REMOVED {
        let missing = !params.iter().any(|p| p.name == *name);
        if major <= *last && exists_in(name, major) && missing {
            params.extend(donors.iter().find(|p| p.name == *name).cloned());
        }
    }
    for c in CHANGES.iter().filter(|c| c.majors.contains(&major)) {
        if let Some(p) = params.iter_mut().find(|p| p.name == c.name) {
            apply(p, &c.patch);
        }
    }
    params.sort_by(|a, b| a.name.cmp(&b.name));
}

fn apply(p: &mut Param, patch: &Patch) {
    match patch {
        Patch::Boot(b) => p.boot_val = b.to_string(),
        Patch::Context(c) => p.context = *c,
        Patch::Min(m) => p.min = Some(*m),
        Patch::Max(m) => p.max = Some(*m),
        Patch::Bool { boot, desc } => {
            p.vartype = VarType::Bool;
            p.enumvals.clear();
            p.boot_val = boot.to_string();
            p.short_desc = desc.to_string();
        }
    }
}

fn exists_in(name: &str, major: u32) -> bool {
    let added = ADDED
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, v)| *v);
    let removed = REMOVED
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(u32::MAX, |(_, v)| *v);
    (added..=removed).contains(&major)
}

/// The majors that have a parameter, in words ("PostgreSQL 18 and later"),
/// when the table knows it was added or removed within the supported range.
pub(crate) fn lifetime(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let added = ADDED.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let removed = REMOVED.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    match (added, removed) {
        (Some(a), None) => Some(format!("PostgreSQL {a} and later")),
        (None, Some(r)) => Some(format!("PostgreSQL {r} and earlier")),
        (Some(a), Some(r)) => Some(format!("PostgreSQL {a} to {r}")),
        (None, None) => None,
    }
}

#[cfg(test)]
#[path = "versions_tests.rs"]
mod tests;
