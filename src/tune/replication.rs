//! Streaming replication: what every method needs (wal_level, senders,
//! slots, hot_standby), eventstore's retention and standby settings, and
//! hot-standby parity between the two roles.

use super::builder::{RoleCtx, RoleOut};
use super::defaults::PARITY;
use super::plan::{Group, Role, Source};
use super::wal;
use super::TuneError;
use crate::profile::Method;
use crate::value::Value;

#[cfg(test)]
pub const KEYS: &[&str] = &[
    "wal_level",
    "max_wal_senders",
    "max_replication_slots",
    "wal_keep_size",
    "max_slot_wal_keep_size",
    "hot_standby",
    "hot_standby_feedback",
    "synchronous_standby_names",
];

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// Stage one: what every method needs for streaming, including the
/// parity parameter max_wal_senders.
pub fn senders(cx: &RoleCtx, out: &mut RoleOut) {
    // Both roles get the sender settings: after a failover the replica is
    // the primary, and a standby needs max_wal_senders ≥ the primary's.
    out.set("wal_level", Value::Text("replica".into()), Group::Replication,
        "replica: the least WAL detail streaming replication works with (PostgreSQL's default, stated because replication depends on it)");
    out.set("max_wal_senders", Value::Int(10), Group::Replication,
        "10: the replica's stream, pg_basebackup's two, and room for a second standby (the default, stated because replication depends on it)");
    out.set("max_replication_slots", Value::Int(10), Group::Replication,
        "10: the replica's physical slot and room to add more (the default, stated because replication depends on it)");
    if cx.role == Role::Replica {
        out.set(
            "hot_standby",
            Value::Bool(true),
            Group::Replication,
            "on: the replica serves the read side while it replays",
        );
    }
    if cx.is_primary() && cx.profile.durability.synchronous_standby {
        out.set("synchronous_standby_names", Value::Text("replica".into()), Group::Replication,
            "durability.synchronous_standby = true: commits wait for the standby whose cluster_name is `replica`");
    }
}

/// Stage two: WAL retention and standby behaviour, once max_wal_size is known.
pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    if cx.method != Method::Eventstore {
        return;
    }
    let (rate, _) = wal::wal_rate(cx);
    let keep = ((rate * 600.0) as u64).div_ceil(64 * MB) * 64 * MB;
    out.set("wal_keep_size", Value::Bytes(keep.max(256 * MB)), Group::Replication,
        "10 minutes of WAL at the WAL rate, at least 256MB: a replica re-cloned without its slot, or whose slot was dropped, can still catch up after a short outage");
    let max_wal = out.bytes("max_wal_size").unwrap_or(GB);
    let (retain, rule) = match cx.rp.resources.wal_disk {
        Some(disk) => (
            disk.saturating_sub(max_wal).saturating_sub(disk / 10) / GB * GB,
            "the WAL disk less max_wal_size and 10% headroom: a replica that falls further behind is cut off (and must be re-cloned) before the primary's disk fills",
        ),
        None => (
            4 * max_wal,
            "4 × max_wal_size: a replica that falls further behind is cut off (and must be re-cloned) before WAL fills the disk; set resources.wal_disk to size it from the disk",
        ),
    };
    if cx.is_primary() {
        out.set(
            "max_slot_wal_keep_size",
            Value::Bytes(retain.max(GB)),
            Group::Replication,
            rule,
        );
    } else {
        out.set("hot_standby_feedback", Value::Bool(true), Group::Replication,
            "on: read-side queries are not cancelled when vacuum on the primary removes rows they still see; the append-only store has few dead rows, so the bloat this can cause is small");
    }
}

/// Raises each parity parameter on the replica to the primary's value when
/// it comes from a formula; refuses a replica override that is lower.
pub fn enforce_parity(primary: &RoleOut, replica: &mut RoleOut) -> Result<(), TuneError> {
    for name in PARITY {
        let (Some(p), Some(r)) = (primary.int(name), replica.int(name)) else {
            continue;
        };
        if r >= p {
            continue;
        }
        let replica_override = replica
            .settings
            .iter()
            .find(|s| s.name == *name)
            .and_then(|s| match &s.source {
                Source::Override { at, .. } => Some(at.clone()),
                Source::Formula => None,
            });
        if let Some(at) = replica_override {
            return Err(TuneError::Parity {
                name: name.to_string(),
                primary: p,
                replica: r,
                at: at.to_string(),
            });
        }
        replica.set(name, Value::Int(p), super::defaults::group_of(name),
            format!("raised to the primary's {p}: a hot standby with a lower {name} than its primary refuses to start"));
    }
    Ok(())
}
