//! max_connections. Runs before the other groups because replica parity
//! and the memory formulas depend on it.

use super::builder::{RoleCtx, RoleOut};
use super::memory;
use super::plan::Group;
use crate::profile::Method;
use crate::value::Value;

#[cfg(test)]
pub const KEYS: &[&str] = &["max_connections", "password_encryption"];

/// Connections kept free for tooling besides the application's pool:
/// estune's samplers, psql sessions, backups, monitoring agents.
pub const TOOLING_HEADROOM: i64 = 10;

pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    out.set("password_encryption", Value::Text("scram-sha-256".into()), Group::Connections,
        "scram-sha-256: the rendered pg_hba.conf accepts only SCRAM, so passwords must be stored that way (the default from PostgreSQL 14)");
    let pool = cx.rp.connections as i64;
    let reserved = out.int("superuser_reserved_connections").unwrap_or(3)
        + out.int("reserved_connections").unwrap_or(0);
    match cx.method {
        Method::Stock => {
            let max = out.int("max_connections").unwrap_or(100);
            if pool > max - reserved {
                out.warn(format!(
                    "the pool of {pool} connections exceeds what max_connections = {max} leaves after {reserved} reserved; clients will be refused"
                ));
            }
        }
        Method::PgtuneOltp => out.set(
            "max_connections",
            Value::Int(pool),
            Group::Connections,
            format!("PGTune: the connections you expect ({pool})"),
        ),
        Method::Eventstore => {
            let wanted = pool + TOOLING_HEADROOM + reserved;
            let affordable = memory::affordable_connections(cx, out);
            let mut rule = format!(
                "pool {pool} + {TOOLING_HEADROOM} for tooling + {reserved} reserved for superusers"
            );
            let value = if wanted > affordable {
                out.warn(format!(
                    "{} affords only {affordable} connections with work_mem at its {} floor; the pool ({pool}) + tooling + reserve needs {wanted}. Put a pooler (PgBouncer) in front or give the server more memory",
                    super::budget::human(cx.memory),
                    crate::value::format_size(memory::WORK_MEM_FLOOR)
                ));
                rule = format!(
                    "{rule} = {wanted}, capped at {affordable}: what the memory limit affords"
                );
                affordable
            } else {
                wanted
            };
            out.set(
                "max_connections",
                Value::Int(value),
                Group::Connections,
                rule,
            );
        }
    }
}
