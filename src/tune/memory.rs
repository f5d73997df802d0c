//! Memory: shared_buffers, effective_cache_size, work_mem and friends.
//!
//! The eventstore method sizes everything from the container limit and
//! then derives work_mem from what the worst-case budget leaves, so the
//! budget holds by construction; PGTune's formulas are reproduced as
//! published, and the budget check then says whether they fit.

use super::budget::{self, PER_BACKEND_OVERHEAD, PER_QUERY_NODES};
use super::builder::{RoleCtx, RoleOut};
use super::plan::Group;
use crate::profile::Method;
use crate::value::{format_size, Value};

#[cfg(test)]
pub const KEYS: &[&str] = &[
    "shared_buffers",
    "effective_cache_size",
    "maintenance_work_mem",
    "autovacuum_work_mem",
    "wal_buffers",
    "temp_buffers",
    "work_mem",
    "huge_pages",
];

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;
/// Share of the limit the formulas plan for; the rest is headroom for the
/// postmaster, shared structures besides buffers, and the page cache.
pub const TARGET_SHARE: f64 = 0.9;
/// The lowest work_mem the eventstore method will set before it caps
/// connections instead.
pub const WORK_MEM_FLOOR: u64 = MB;
/// Above this, more work_mem only raises the worst case: the largest
/// boundary measured (~11,000 rows, ids1k) sorts in memory at 64MB and
/// spilled to disk at PGTune's 2.6MB.
pub const WORK_MEM_CAP: u64 = 64 * MB;

fn pct(mem: u64, share: f64) -> u64 {
    round_down_mb((mem as f64 * share) as u64)
}

fn round_down_mb(b: u64) -> u64 {
    if b >= MB {
        b / MB * MB
    } else {
        b / 1024 * 1024
    }
}

pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    match cx.method {
        Method::Stock => {}
        Method::PgtuneOltp => pgtune(cx, out),
        Method::Eventstore => eventstore(cx, out),
    }
}

/// The parts of the budget that do not scale with connections, as the
/// eventstore method sets them. Also used to cap max_connections.
fn eventstore_fixed(cx: &RoleCtx, out: &mut RoleOut) {
    let mem = cx.memory;
    let lim = budget::human(mem);
    out.set("shared_buffers", Value::Bytes(pct(mem, 0.25)), Group::Memory,
        format!("25% of the {lim} limit: the hot tail of events and its indexes stay in shared memory; the rest of the limit serves the page cache and backends"));
    let sb = out.bytes("shared_buffers").unwrap_or(128 * MB);
    out.set("effective_cache_size", Value::Bytes(pct(mem, 0.75)), Group::Memory,
        format!("75% of the {lim} limit: shared_buffers plus the page cache the container may keep (a planner estimate, allocates nothing)"));
    out.set(
        "maintenance_work_mem",
        Value::Bytes(round_down_mb((mem / 16).min(2 * GB))),
        Group::Memory,
        format!(
            "1/16 of the {lim} limit, at most 2GB: index builds after seeding and manual VACUUM"
        ),
    );
    out.set("autovacuum_work_mem", Value::Bytes(round_down_mb((mem / 32).min(512 * MB)).max(MB)), Group::Memory,
        format!("1/32 of the {lim} limit, at most 512MB: the append-only events table leaves few dead tuples to track, and each of the autovacuum workers may take this much"));
    let wb = round_down_mb((sb / 32).clamp(MB, 64 * MB));
    out.set("wal_buffers", Value::Bytes(wb), Group::Memory,
        format!("1/32 of shared_buffers ({}), 1MB to 64MB: room for the WAL of concurrent appends between flushes (the automatic setting stops at 16MB)", format_size(sb)));
    out.set("temp_buffers", Value::Bytes(MB), Group::Memory,
        "1MB: the event store creates no temporary tables; this bounds what an ad-hoc session may take per connection in the worst case");
}

/// Memory left for per-connection use at the target share of the limit.
fn per_connection_room(cx: &RoleCtx, out: &RoleOut, conns: u64) -> i128 {
    let fixed = out.bytes("shared_buffers").unwrap_or(128 * MB)
        + budget::wal_buffers_bytes(out)
        + out.int("autovacuum_max_workers").unwrap_or(3).max(0) as u64
            * budget::autovacuum_work_mem_bytes(out)
        + out.bytes("maintenance_work_mem").unwrap_or(64 * MB)
        + conns * (out.bytes("temp_buffers").unwrap_or(8 * MB) + PER_BACKEND_OVERHEAD);
    (cx.memory as f64 * TARGET_SHARE) as i128 - fixed as i128
}

fn hash_mem(out: &RoleOut) -> f64 {
    out.real("hash_mem_multiplier").unwrap_or(1.0) * PER_QUERY_NODES
}

/// How many connections fit under the target share with work_mem at its
/// floor. Sets the fixed memory settings as a side effect (they are the
/// same ones `recommend` would set).
pub fn affordable_connections(cx: &RoleCtx, out: &mut RoleOut) -> i64 {
    eventstore_fixed(cx, out);
    let per_conn = WORK_MEM_FLOOR as f64 * hash_mem(out)
        + (out.bytes("temp_buffers").unwrap_or(8 * MB) + PER_BACKEND_OVERHEAD) as f64;
    let room = per_connection_room(cx, out, 0);
    ((room as f64 / per_conn).floor() as i64).max(0)
}

fn eventstore(cx: &RoleCtx, out: &mut RoleOut) {
    eventstore_fixed(cx, out);
    let conns = out.int("max_connections").unwrap_or(100).max(1) as u64;
    let room = per_connection_room(cx, out, conns).max(0) as f64;
    let hmm = hash_mem(out);
    let raw = (room / (conns as f64 * hmm)) as u64;
    let wm = round_down_mb(raw).clamp(WORK_MEM_FLOOR, WORK_MEM_CAP);
    let rule = if raw >= WORK_MEM_CAP {
        format!("64MB cap: the largest measured boundary sort fits in memory; the budget would allow {}", format_size(round_down_mb(raw)))
    } else {
        format!(
            "what the worst-case budget leaves: ({:.0}% of the limit − shared memory, maintenance and per-backend terms) / ({conns} connections × hash_mem_multiplier {hmm:.1})",
            TARGET_SHARE * 100.0
        )
    };
    out.set("work_mem", Value::Bytes(wm), Group::Memory, rule);
    if wm < 4 * MB {
        out.warn(format!(
            "work_mem is {} (below PostgreSQL's 4MB default): boundary reads of big streams will sort on disk; give the server more memory or fewer connections",
            format_size(wm)
        ));
    }
}

fn pgtune(cx: &RoleCtx, out: &mut RoleOut) {
    let mem = cx.memory;
    let lim = budget::human(mem);
    let sb = pct(mem, 0.25);
    out.set(
        "shared_buffers",
        Value::Bytes(sb),
        Group::Memory,
        format!("PGTune: RAM/4 ({lim} limit)"),
    );
    out.set(
        "effective_cache_size",
        Value::Bytes(pct(mem, 0.75)),
        Group::Memory,
        format!("PGTune: 3/4 of RAM ({lim})"),
    );
    out.set(
        "maintenance_work_mem",
        Value::Bytes(round_down_mb((mem / 16).min(8 * GB))),
        Group::Memory,
        format!("PGTune: RAM/16 ({lim}), at most 8GB"),
    );
    let sb = out.bytes("shared_buffers").unwrap_or(sb);
    let mut wb = (sb as f64 * 0.03) as u64;
    if wb > 14 * MB {
        wb = 16 * MB;
    }
    out.set(
        "wal_buffers",
        Value::Bytes(round_down_mb(wb.max(32 << 10))),
        Group::Memory,
        "PGTune: 3% of shared_buffers, 16MB when above 14MB",
    );
    let conns = out.int("max_connections").unwrap_or(100).max(1) as f64;
    let workers = out.int("max_worker_processes").unwrap_or(8).max(0) as f64;
    let mut wm = (mem.saturating_sub(sb)) as f64 / ((conns + workers) * 3.0);
    let data =
        cx.rp.workload.expected_events as f64 * (cx.rp.workload.avg_payload_bytes as f64 + 500.0);
    let mut adj = "";
    if data < mem as f64 {
        wm *= 1.3;
        adj = " × 1.3 (data smaller than RAM)";
    } else if data > 3.0 * mem as f64 {
        wm *= 0.9;
        adj = " × 0.9 (data over 3× RAM)";
    }
    let wm = ((wm as u64) / 1024 * 1024).max(4 * MB);
    out.set("work_mem", Value::Bytes(wm), Group::Memory,
        format!("PGTune: (RAM − shared_buffers) / ((max_connections {conns} + max_worker_processes {workers}) × 3){adj}, at least 4MB"));
    if sb >= 2 * GB {
        out.set(
            "huge_pages",
            Value::Text("try".into()),
            Group::Memory,
            "PGTune: try huge pages from 2GB of shared_buffers",
        );
    }
}
