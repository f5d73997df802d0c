//! Facts about PostgreSQL the tuner needs without a catalog: which of the
//! parameters it may emit exist in which major version, their built-in
//! defaults where formulas or the budget read them, and base units. The
//! catalog check verifies every emitted value against the real server.

use super::plan::Group;
use crate::value::Value;

/// (name, group, first major, last major) of every parameter a recommender
/// may emit. Tests loop over this list, so a new key cannot go untested.
pub const PARAMS: &[(&str, Group, u32, u32)] = &[
    ("max_connections", Group::Connections, 13, 99),
    ("password_encryption", Group::Connections, 13, 99),
    ("max_prepared_transactions", Group::Connections, 13, 99),
    ("max_locks_per_transaction", Group::Connections, 13, 99),
    ("shared_buffers", Group::Memory, 13, 99),
    ("effective_cache_size", Group::Memory, 13, 99),
    ("work_mem", Group::Memory, 13, 99),
    ("maintenance_work_mem", Group::Memory, 13, 99),
    ("autovacuum_work_mem", Group::Memory, 13, 99),
    ("wal_buffers", Group::Memory, 13, 99),
    ("temp_buffers", Group::Memory, 13, 99),
    ("huge_pages", Group::Memory, 13, 99),
    ("wal_compression", Group::Wal, 13, 99),
    ("max_wal_size", Group::Wal, 13, 99),
    ("min_wal_size", Group::Wal, 13, 99),
    ("checkpoint_timeout", Group::Wal, 13, 99),
    ("checkpoint_completion_target", Group::Wal, 13, 99),
    ("synchronous_commit", Group::Wal, 13, 99),
    ("wal_level", Group::Replication, 13, 99),
    ("max_wal_senders", Group::Replication, 13, 99),
    ("max_replication_slots", Group::Replication, 13, 99),
    ("wal_keep_size", Group::Replication, 13, 99),
    ("max_slot_wal_keep_size", Group::Replication, 13, 99),
    ("hot_standby", Group::Replication, 13, 99),
    ("hot_standby_feedback", Group::Replication, 13, 99),
    ("synchronous_standby_names", Group::Replication, 13, 99),
    ("autovacuum_naptime", Group::Autovacuum, 13, 99),
    ("autovacuum_vacuum_cost_limit", Group::Autovacuum, 13, 99),
    ("log_autovacuum_min_duration", Group::Autovacuum, 13, 99),
    ("random_page_cost", Group::Planner, 13, 99),
    ("effective_io_concurrency", Group::Planner, 13, 99),
    ("maintenance_io_concurrency", Group::Planner, 13, 99),
    ("default_statistics_target", Group::Planner, 13, 99),
    ("jit", Group::Planner, 13, 99),
    ("io_method", Group::Planner, 18, 99),
    ("max_worker_processes", Group::Parallel, 13, 99),
    ("max_parallel_workers", Group::Parallel, 13, 99),
    ("max_parallel_workers_per_gather", Group::Parallel, 13, 99),
    ("max_parallel_maintenance_workers", Group::Parallel, 13, 99),
    ("bgwriter_lru_maxpages", Group::Bgwriter, 13, 99),
    ("shared_preload_libraries", Group::Monitoring, 13, 99),
    ("track_io_timing", Group::Monitoring, 13, 99),
    ("track_wal_io_timing", Group::Monitoring, 14, 99),
    ("log_checkpoints", Group::Monitoring, 13, 99),
    ("log_lock_waits", Group::Monitoring, 13, 99),
    ("cluster_name", Group::Monitoring, 13, 99),
];

/// Parameters a hot standby must have at least as high as its primary, or
/// it refuses to start (or pauses recovery).
pub const PARITY: &[&str] = &[
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
];

pub fn emitted(name: &str) -> bool {
    PARAMS.iter().any(|(n, ..)| *n == name)
}

/// Whether a parameter the tuner emits exists in `major`.
pub fn exists(name: &str, major: u32) -> bool {
    PARAMS
        .iter()
        .find(|(n, ..)| *n == name)
        .is_some_and(|(_, _, since, until)| (*since..=*until).contains(&major))
}

/// The group an override is listed under: the recommender's, else Other.
pub fn group_of(name: &str) -> Group {
    PARAMS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, g, ..)| *g)
        .unwrap_or(Group::Other)
}

const MB: u64 = 1 << 20;

/// PostgreSQL's defaults for the parameters formulas and the budget read.
pub fn pg_default(name: &str, major: u32) -> Option<Value> {
    Some(match name {
        "max_connections" => Value::Int(100),
        "superuser_reserved_connections" => Value::Int(3),
        "reserved_connections" if major >= 16 => Value::Int(0),
        "max_worker_processes" => Value::Int(8),
        "max_wal_senders" => Value::Int(10),
        "max_prepared_transactions" => Value::Int(0),
        "max_locks_per_transaction" => Value::Int(64),
        "shared_buffers" => Value::Bytes(128 * MB),
        "work_mem" => Value::Bytes(4 * MB),
        "maintenance_work_mem" => Value::Bytes(64 * MB),
        "autovacuum_work_mem" => Value::Int(-1),
        "autovacuum_max_workers" => Value::Int(3),
        "temp_buffers" => Value::Bytes(8 * MB),
        "wal_buffers" => Value::Int(-1),
        "hash_mem_multiplier" => Value::Real(if major >= 15 { 2.0 } else { 1.0 }),
        "max_wal_size" => Value::Bytes(1024 * MB),
        "checkpoint_timeout" => Value::Millis(300_000),
        _ => return None,
    })
}

/// The unit a bare number means for memory parameters, in bytes.
fn base_unit(name: &str) -> Option<u64> {
    Some(match name {
        "shared_buffers" | "wal_buffers" | "temp_buffers" | "effective_cache_size" => 8192,
        "work_mem" | "maintenance_work_mem" | "autovacuum_work_mem" => 1024,
        "max_wal_size" | "min_wal_size" | "wal_keep_size" | "max_slot_wal_keep_size" => MB,
        _ => return None,
    })
}

/// A memory value in bytes, whether written with a unit or as a bare number
/// of the parameter's base unit. `None` for negative ("use the default
/// rule") or non-size values.
pub fn to_bytes(name: &str, v: &Value) -> Option<u64> {
    match v {
        Value::Bytes(b) => Some(*b),
        Value::Int(i) if *i >= 0 => base_unit(name).map(|u| *i as u64 * u),
        Value::Text(t) => match Value::from_text(t) {
            Value::Bytes(b) => Some(b),
            _ => t
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(|i| base_unit(name).map(|u| i * u)),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(exists("io_method", 18));
        assert!(!exists("io_method", 17));
        assert!(!exists("track_wal_io_timing", 13));
        assert!(exists("track_wal_io_timing", 14));
        assert!(!exists("no_such_thing", 15));
    }

    #[test]
    fn bytes() {
        let cases: &[(&str, Value, Option<u64>)] = &[
            ("shared_buffers", Value::Int(16384), Some(128 * MB)),
            ("work_mem", Value::Int(4096), Some(4 * MB)),
            ("work_mem", Value::Text("64MB".into()), Some(64 * MB)),
            ("work_mem", Value::Text("2048".into()), Some(2 * MB)),
            ("wal_buffers", Value::Int(-1), None),
            ("work_mem", Value::Bool(true), None),
            ("max_wal_size", Value::Int(2048), Some(2048 * MB)),
        ];
        for (name, v, want) in cases {
            assert_eq!(to_bytes(name, v), *want, "{name} {v:?}");
        }
    }

    #[test]
    fn defaults_know_hash_mem_multiplier_changed_in_15() {
        assert_eq!(
            pg_default("hash_mem_multiplier", 14),
            Some(Value::Real(1.0))
        );
        assert_eq!(
            pg_default("hash_mem_multiplier", 15),
            Some(Value::Real(2.0))
        );
    }
}
