//! What the health checks and bench samplers read: statement statistics,
//! I/O timing, and logs that line up with latency spikes.

use super::builder::{RoleCtx, RoleOut};
use super::plan::Group;
use crate::profile::Method;
use crate::value::Value;

#[cfg(test)]
pub const KEYS: &[&str] = &[
    "shared_preload_libraries",
    "track_io_timing",
    "track_wal_io_timing",
    "log_checkpoints",
    "log_lock_waits",
    "cluster_name",
];

pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    if cx.method == Method::Eventstore || cx.profile.durability.synchronous_standby {
        out.set("cluster_name", Value::Text(cx.role.as_str().into()), Group::Monitoring,
            "the role's name: shows in process titles, and is the replica's application_name in pg_stat_replication");
    }
    if cx.method != Method::Eventstore {
        return;
    }
    out.set(
        "shared_preload_libraries",
        Value::Text("pg_stat_statements".into()),
        Group::Monitoring,
        "pg_stat_statements: per-statement timing for `estune health` (takes effect on restart)",
    );
    out.set("track_io_timing", Value::Bool(true), Group::Monitoring,
        "on: time spent reading blocks shows in pg_stat_statements and EXPLAIN; the clock calls cost little on current hardware");
    out.set("track_wal_io_timing", Value::Bool(true), Group::Monitoring,
        "on: WAL write and sync time shows in pg_stat_wal / pg_stat_io, where WALWrite waits of many concurrent appends appear");
    out.set(
        "log_checkpoints",
        Value::Bool(true),
        Group::Monitoring,
        "on: every checkpoint is logged with its timing, to line up with latency spikes",
    );
    out.set(
        "log_lock_waits",
        Value::Bool(true),
        Group::Monitoring,
        "on: waits longer than deadlock_timeout (1s) are logged with the blocking process",
    );
}
