//! The worst-case memory of one server, term by term, against its limit.
//!
//! Worst case = shared_buffers + wal_buffers
//!   + max_connections × work_mem × hash_mem_multiplier × PER_QUERY_NODES
//!   + autovacuum_max_workers × autovacuum_work_mem (or maintenance_work_mem)
//!   + one maintenance operation × maintenance_work_mem
//!   + max_connections × (temp_buffers + PER_BACKEND_OVERHEAD).
//!
//! It is a bound, not a forecast: it is what the server may take if every
//! connection runs its most memory-hungry query at once, which is what an
//! out-of-memory kill in a container punishes.

use super::builder::RoleOut;
use crate::value::format_size;
use serde::Serialize;

/// Sort or hash nodes one query runs at once. The event-store statements
/// have one each (the boundary read sorts, the append aggregates).
pub const PER_QUERY_NODES: f64 = 1.0;
/// Private memory of an idle backend: catalog and plan caches, its share of
/// lock tables.
pub const PER_BACKEND_OVERHEAD: u64 = 4 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct BudgetTerm {
    pub label: String,
    /// The setting to lower to shrink this term.
    pub lower: &'static str,
    /// The arithmetic, e.g. "73 × 24MB × 2.0 × 1".
    pub formula: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryBudget {
    pub limit: u64,
    pub terms: Vec<BudgetTerm>,
    pub total: u64,
    pub fits: bool,
}

impl MemoryBudget {
    /// The term to lower first: the largest.
    pub fn largest(&self) -> Option<&BudgetTerm> {
        self.terms.iter().max_by_key(|t| t.bytes)
    }

    /// The arithmetic, one term a line, for errors and `--explain`.
    pub fn arithmetic(&self) -> String {
        let mut s = String::new();
        for (i, t) in self.terms.iter().enumerate() {
            let op = if i == 0 { "  " } else { "+ " };
            s.push_str(&format!(
                "  {op}{:<56} {:>10}  ({})\n",
                t.label,
                human(t.bytes),
                t.formula
            ));
        }
        s.push_str(&format!(
            "  = worst case {} against a limit of {} ({:.0}%)",
            human(self.total),
            human(self.limit),
            100.0 * self.total as f64 / self.limit.max(1) as f64
        ));
        s
    }
}

pub use crate::value::human;

/// wal_buffers = -1 means 1/32 of shared_buffers, at least 64kB, at most
/// one WAL segment (16MB).
pub fn wal_buffers_bytes(out: &RoleOut) -> u64 {
    let sb = out.bytes("shared_buffers").unwrap_or(128 << 20);
    out.bytes("wal_buffers")
        .unwrap_or_else(|| (sb / 32).clamp(64 << 10, 16 << 20))
}

pub fn autovacuum_work_mem_bytes(out: &RoleOut) -> u64 {
    out.bytes("autovacuum_work_mem")
        .or_else(|| out.bytes("maintenance_work_mem"))
        .unwrap_or(64 << 20)
}

pub fn compute(out: &RoleOut, limit: u64) -> MemoryBudget {
    let conns = out.int("max_connections").unwrap_or(100).max(0) as u64;
    let sb = out.bytes("shared_buffers").unwrap_or(128 << 20);
    let wb = wal_buffers_bytes(out);
    let wm = out.bytes("work_mem").unwrap_or(4 << 20);
    let hmm = out.real("hash_mem_multiplier").unwrap_or(1.0);
    let av_workers = out.int("autovacuum_max_workers").unwrap_or(3).max(0) as u64;
    let avwm = autovacuum_work_mem_bytes(out);
    let mwm = out.bytes("maintenance_work_mem").unwrap_or(64 << 20);
    let tb = out.bytes("temp_buffers").unwrap_or(8 << 20);
    let query_mem = (conns as f64 * wm as f64 * hmm * PER_QUERY_NODES) as u64;
    let terms = vec![
        term("shared_buffers", "shared_buffers", format_size(sb), sb),
        term("wal_buffers", "wal_buffers", format_size(wb), wb),
        term(
            "max_connections × work_mem × hash_mem_multiplier × nodes",
            "work_mem",
            format!(
                "{conns} × {} × {hmm:.1} × {PER_QUERY_NODES}",
                format_size(wm)
            ),
            query_mem,
        ),
        term(
            "autovacuum_max_workers × autovacuum_work_mem",
            "autovacuum_work_mem",
            format!("{av_workers} × {}", format_size(avwm)),
            av_workers * avwm,
        ),
        term(
            "one maintenance operation × maintenance_work_mem",
            "maintenance_work_mem",
            format_size(mwm),
            mwm,
        ),
        term(
            "max_connections × (temp_buffers + backend overhead)",
            "max_connections",
            format!(
                "{conns} × ({} + {})",
                format_size(tb),
                format_size(PER_BACKEND_OVERHEAD)
            ),
            conns * (tb + PER_BACKEND_OVERHEAD),
        ),
    ];
    let total = terms.iter().map(|t| t.bytes).sum();
    MemoryBudget {
        limit,
        terms,
        total,
        fits: total <= limit,
    }
}

fn term(label: &str, lower: &'static str, formula: String, bytes: u64) -> BudgetTerm {
    BudgetTerm {
        label: label.to_string(),
        lower,
        formula,
        bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{self};
    use crate::value::Value;

    fn out_with(pairs: &[(&str, Value)]) -> RoleOut {
        let p = profile::load("stock", None).unwrap();
        let mut out = RoleOut::with_overrides(&p.primary, 15);
        for (n, v) in pairs {
            out.set(n, v.clone(), super::super::plan::Group::Memory, "test");
        }
        out
    }

    #[test]
    fn postgres_defaults_at_100_connections() {
        let b = compute(&out_with(&[]), 4 << 30);
        // 128MB + 4MB + 100×4MB×2.0 + 3×64MB + 64MB + 100×(8MB+4MB)
        let want = (128 + 4 + 800 + 192 + 64 + 1200) << 20;
        assert_eq!(b.total, want, "{}", b.arithmetic());
        assert!(b.fits);
    }

    #[test]
    fn original_replica_is_far_over() {
        let mb = |m: u64| Value::Bytes(m << 20);
        let out = out_with(&[
            ("max_connections", Value::Int(200)),
            ("shared_buffers", mb(1536)),
            ("work_mem", mb(96)),
            ("maintenance_work_mem", mb(384)),
            ("wal_buffers", mb(48)),
        ]);
        let b = compute(&out, 6144 << 20);
        assert!(!b.fits);
        assert_eq!(b.largest().unwrap().bytes, (200 * 96 * 2) << 20);
        assert!(
            b.arithmetic().contains("200 × 96MB × 2.0 × 1"),
            "{}",
            b.arithmetic()
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(4 << 30), "4 GiB");
        assert_eq!(human(1536 << 20), "1.5 GiB");
        assert_eq!(human(100), "100 B");
    }
}
