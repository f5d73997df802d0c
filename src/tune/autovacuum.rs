//! Global autovacuum settings. Per-table settings for the append-only
//! events table live in `tables`, because the global knobs mostly do not
//! reach an insert-only table.

use super::builder::{RoleCtx, RoleOut};
use super::plan::Group;
use crate::profile::{Method, Storage};
use crate::value::Value;

#[cfg(test)]
pub const KEYS: &[&str] = &[
    "autovacuum_naptime",
    "autovacuum_vacuum_cost_limit",
    "log_autovacuum_min_duration",
];

pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    if cx.method != Method::Eventstore {
        return;
    }
    out.set("autovacuum_naptime", Value::Millis(15_000), Group::Autovacuum,
        "15s: the insert-driven analyze of events runs close to its threshold instead of up to a minute late, so each run has less to sample");
    if cx.storage != Storage::Hdd {
        out.set("autovacuum_vacuum_cost_limit", Value::Int(2000), Group::Autovacuum, format!(
            "2000 (10× the default 200): {} storage absorbs the I/O, and a vacuum that finishes quickly holds back less",
            cx.storage.as_str()));
    }
    out.set("log_autovacuum_min_duration", Value::Millis(1000), Group::Autovacuum,
        "1s: every vacuum or analyze that may show as a latency spike is logged, with its timing, to line up with bench results");
}
