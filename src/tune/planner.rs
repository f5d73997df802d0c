//! Planner costs and I/O concurrency, from the storage kind.

use super::builder::{RoleCtx, RoleOut};
use super::plan::Group;
use crate::profile::{Method, Storage};
use crate::value::Value;

#[cfg(test)]
pub const KEYS: &[&str] = &[
    "random_page_cost",
    "effective_io_concurrency",
    "maintenance_io_concurrency",
    "default_statistics_target",
    "jit",
    "io_method",
];

/// PGTune's effective_io_concurrency per storage kind.
fn io_concurrency(s: Storage) -> i64 {
    match s {
        Storage::Hdd => 2,
        Storage::Ssd => 200,
        Storage::San => 300,
        Storage::Nvme => 1000,
    }
}

pub fn recommend(cx: &RoleCtx, out: &mut RoleOut) {
    let who = match cx.method {
        Method::Stock => return,
        Method::PgtuneOltp => "PGTune",
        Method::Eventstore => "storage",
    };
    let kind = cx.storage.as_str();
    if cx.storage != Storage::Hdd {
        let why = if cx.method == Method::Eventstore {
            "1.1 on ssd/nvme/san storage: random reads cost about what sequential ones do. It favours the GIN bitmap plan for boundary reads, right for the small boundaries of a realistic ID space (~75 rows); very large boundaries (~11,000 rows) are faster on the primary-key walk, which no global setting serves both"
        } else {
            "PGTune: 1.1 for ssd/nvme/san storage"
        };
        out.set("random_page_cost", Value::Real(1.1), Group::Planner, why);
    }
    let n = io_concurrency(cx.storage);
    out.set("effective_io_concurrency", Value::Int(n), Group::Planner,
        format!("{who}: {n} concurrent reads for {kind} (PGTune's table: hdd 2, ssd 200, san 300, nvme 1000)"));
    if cx.method == Method::PgtuneOltp {
        out.set(
            "default_statistics_target",
            Value::Int(100),
            Group::Planner,
            "PGTune OLTP: 100",
        );
        return;
    }
    out.set("maintenance_io_concurrency", Value::Int(n), Group::Planner,
        format!("same as effective_io_concurrency for {kind}: vacuum and index builds prefetch as deeply as queries"));
    out.set("jit", Value::Bool(false), Group::Planner,
        "off: event-store statements are short; a misestimated @> (row estimates swung 100 → 30,312 across ANALYZE runs) can push their cost over the JIT threshold and add milliseconds of compilation");
    if cx.target.io_methods.iter().any(|m| m == "worker") {
        out.set("io_method", Value::Text("worker".into()), Group::Planner,
            "worker (PostgreSQL 18): asynchronous reads through I/O workers, which works in any container; io_uring needs a build with liburing and a runtime that permits it");
    }
}
