//! Parallel query. `max_worker_processes` is decided early with the
//! connections because a hot standby needs at least the primary's.

use super::builder::{RoleCtx, RoleOut};
use super::plan::{Group, Role};
use crate::profile::Method;
use crate::value::Value;

#[cfg(test)]
pub const KEYS: &[&str] = &[
    "max_worker_processes",
    "max_parallel_workers",
    "max_parallel_workers_per_gather",
    "max_parallel_maintenance_workers",
];

/// Stage one: the worker pool size (a parity parameter).
pub fn worker_processes(cx: &RoleCtx, out: &mut RoleOut) {
    let c = cx.whole_cpus();
    match cx.method {
        Method::Stock => {}
        Method::PgtuneOltp if c >= 4 => out.set("max_worker_processes", Value::Int(c), Group::Parallel,
            format!("PGTune: one per CPU ({c}), from 4 CPUs on")),
        Method::PgtuneOltp => {}
        Method::Eventstore => out.set("max_worker_processes", Value::Int(c.max(8)), Group::Parallel,
            format!("one per CPU ({c}), at least the default 8: parallel workers, I/O workers and extensions draw from this pool")),
    }
}

pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    let c = cx.whole_cpus();
    let half = ((c + 1) / 2).min(4);
    match cx.method {
        Method::Stock => {}
        Method::PgtuneOltp => {
            if c < 4 {
                return;
            }
            out.set(
                "max_parallel_workers",
                Value::Int(c),
                Group::Parallel,
                format!("PGTune: CPUs ({c})"),
            );
            out.set(
                "max_parallel_workers_per_gather",
                Value::Int(half),
                Group::Parallel,
                format!("PGTune OLTP: CPUs/2 ({half}), at most 4"),
            );
            out.set(
                "max_parallel_maintenance_workers",
                Value::Int(half),
                Group::Parallel,
                format!("PGTune: CPUs/2 ({half}), at most 4"),
            );
        }
        Method::Eventstore => {
            out.set(
                "max_parallel_workers",
                Value::Int(c),
                Group::Parallel,
                format!("one per CPU ({c})"),
            );
            let (per_gather, why) = if cx.role == Role::Primary || c < 4 {
                (
                    0,
                    if cx.role == Role::Primary {
                        "0 on the primary: commands are short index lookups; a parallel plan only starts when @> is misestimated, and then costs more than it saves".to_string()
                    } else {
                        format!("0 with {c} CPUs: parallel workers would compete with the replay process and other queries for too few CPUs")
                    },
                )
            } else {
                (half.min(c / 4).max(1), format!("CPUs/4, at most 4: the replica's read-side queries over all events (BooksInCirculation) scan large ranges and gain from parallelism; {c} CPUs"))
            };
            out.set(
                "max_parallel_workers_per_gather",
                Value::Int(per_gather),
                Group::Parallel,
                why,
            );
            if c >= 4 {
                out.set(
                    "max_parallel_maintenance_workers",
                    Value::Int(half),
                    Group::Parallel,
                    format!("CPUs/2 ({half}), at most 4: index builds after seeding"),
                );
            }
        }
    }
}
