//! The background writer, on the primary only: the replica's writes come
//! from replay and restartpoints.

use super::builder::{RoleCtx, RoleOut};
use super::plan::Group;
use crate::profile::Method;
use crate::value::Value;

#[cfg(test)]
pub const KEYS: &[&str] = &["bgwriter_lru_maxpages"];

pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    if cx.method != Method::Eventstore || !cx.is_primary() {
        return;
    }
    out.set("bgwriter_lru_maxpages", Value::Int(400), Group::Bgwriter,
        "400 (4× the default): appends dirty new pages quickly; the background writer, not the backends serving commands, should clean buffers (at most 400 × 8kB per 200ms round, 16MB/s)");
}
