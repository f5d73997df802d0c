//! WAL and checkpoints: compression, checkpoint spacing, and WAL sizes
//! from the WAL rate (measured when the profile gives it, else estimated
//! from the append rate and payload size).

use super::builder::{RoleCtx, RoleOut};
use super::plan::Group;
use crate::profile::Method;
use crate::value::{format_size, Value};

#[cfg(test)]
pub const KEYS: &[&str] = &[
    "wal_compression",
    "checkpoint_timeout",
    "checkpoint_completion_target",
    "max_wal_size",
    "min_wal_size",
    "synchronous_commit",
];

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;
/// Checkpoint spacing of the eventstore method.
pub const CHECKPOINT_TIMEOUT_MS: u64 = 15 * 60 * 1000;
/// WAL bytes per event besides its payload: heap tuple and record
/// headers, metadata, three B-tree entries and the GIN entries of the
/// payload and metadata keys.
const WAL_PER_EVENT_OVERHEAD: f64 = 1024.0;
/// Full-page images after each checkpoint roughly double the WAL of
/// randomly placed GIN index updates.
const FULL_PAGE_FACTOR: f64 = 2.0;

/// WAL bytes per second and how that figure was obtained.
pub fn wal_rate(cx: &RoleCtx) -> (f64, String) {
    let w = &cx.rp.workload;
    if let Some(measured) = w.wal_rate {
        return (
            measured as f64,
            format!("{}/s measured (workload.wal_rate)", format_size(measured)),
        );
    }
    let per_event = (w.avg_payload_bytes as f64 + WAL_PER_EVENT_OVERHEAD) * FULL_PAGE_FACTOR;
    let rate = w.append_rate * per_event;
    (
        rate,
        format!(
            "{:.0} events/s × ~{:.1}kB each (estimated; measure with `estune bench` and set workload.wal_rate)",
            w.append_rate,
            per_event / 1024.0
        ),
    )
}

fn round_up(b: u64, step: u64) -> u64 {
    b.div_ceil(step) * step
}

pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    let sc = cx.profile.durability.synchronous_commit.as_str();
    if cx.is_primary() && (sc != "on" || cx.method == Method::Eventstore) {
        out.set(
            "synchronous_commit",
            Value::Text(sc.into()),
            Group::Wal,
            format!(
                "durability.synchronous_commit = {sc} in the profile{}",
                if sc == "on" {
                    ": an acknowledged append survives a crash of the primary"
                } else {
                    ""
                }
            ),
        );
    }
    match cx.method {
        Method::Stock => {}
        Method::PgtuneOltp => {
            out.set(
                "min_wal_size",
                Value::Bytes(2 * GB),
                Group::Wal,
                "PGTune OLTP: 2GB",
            );
            out.set(
                "max_wal_size",
                Value::Bytes(8 * GB),
                Group::Wal,
                "PGTune OLTP: 8GB",
            );
            out.set(
                "checkpoint_completion_target",
                Value::Real(0.9),
                Group::Wal,
                "PGTune: 0.9",
            );
            if cx.major >= 15 && cx.target.wal_compression.iter().any(|m| m == "lz4") {
                out.set(
                    "wal_compression",
                    Value::Text("lz4".into()),
                    Group::Wal,
                    "PGTune: lz4 on PostgreSQL 15+",
                );
            }
        }
        Method::Eventstore => eventstore(cx, out),
    }
}

fn eventstore(cx: &RoleCtx, out: &mut RoleOut) {
    if cx.major >= 15 && cx.target.wal_compression.iter().any(|m| m == "lz4") {
        out.set(
            "wal_compression",
            Value::Text("lz4".into()),
            Group::Wal,
            "lz4: full-page images of JSONB pages compress well, at a CPU cost far below pglz's",
        );
    }
    out.set("checkpoint_timeout", Value::Millis(CHECKPOINT_TIMEOUT_MS), Group::Wal,
        "15min: fewer checkpoints mean fewer full-page images of the randomly updated GIN pages; crash recovery replays at most ~15 minutes of WAL");
    out.set("checkpoint_completion_target", Value::Real(0.9), Group::Wal,
        "0.9: spread checkpoint writes over 90% of the interval so they do not show as latency spikes");
    let (rate, how) = wal_rate(cx);
    let timeout_s = out
        .effective("checkpoint_timeout")
        .and_then(|v| match v {
            Value::Millis(ms) => Some(ms as f64 / 1000.0),
            Value::Int(s) => Some(s as f64),
            _ => None,
        })
        .unwrap_or(CHECKPOINT_TIMEOUT_MS as f64 / 1000.0);
    let per_cycle = rate * timeout_s;
    let mut max_wal = round_up((2.0 * per_cycle) as u64, GB).max(GB);
    let mut cap_note = String::new();
    if let Some(disk) = cx.rp.resources.wal_disk {
        let cap = (disk / 4 / GB * GB).max(GB);
        if max_wal > cap {
            max_wal = cap;
            cap_note = format!(", capped at 1/4 of the {} WAL disk", format_size(disk));
        }
    }
    out.set("max_wal_size", Value::Bytes(max_wal), Group::Wal, format!(
        "2 × one checkpoint interval of WAL ({}), rounded up to GB, at least 1GB{cap_note}: checkpoints come from the timer, not from WAL volume; WAL rate {how}",
        super::budget::human(per_cycle as u64)));
    let max_wal = out.bytes("max_wal_size").unwrap_or(max_wal);
    out.set(
        "min_wal_size",
        Value::Bytes(round_up(max_wal / 4, 64 * MB).max(80 * MB)),
        Group::Wal,
        "1/4 of max_wal_size: recycled segments absorb bursts without creating new files",
    );
}
