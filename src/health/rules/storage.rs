//! Rules about what the server stores and holds: the event store's
//! tables, GIN pending lists, wraparound, sequence headroom, checkpoints,
//! memory against the limit and the plan's budget.

use super::{bytes, pct, Out, Status};
use crate::health::snapshot::ServerSnapshot;
use crate::tune::budget::human;

const REC_DEAD: &str = "autovacuum does not keep up: lower autovacuum_vacuum_scale_factor \
    for this table or raise autovacuum_vacuum_cost_limit";
const REC_GIN: &str = "the GIN pending list grows faster than it is merged: lower \
    gin_pending_list_limit or vacuum events more often";
const REC_XID: &str = "freezing falls behind: VACUUM (FREEZE) the oldest table, and look \
    for long transactions or stale slots holding the horizon";
const REC_SEQUENCE: &str =
    "the event sequence runs out: plan a move to a sequence with a larger range";
const REC_CHECKPOINTS: &str = "checkpoints are forced by WAL volume: raise max_wal_size";
const REC_MEMORY: &str =
    "the server nears its memory limit: lower work_mem/shared_buffers or raise the limit";
const REC_OOM: &str = "the server exceeded its memory limit: lower the plan's worst case \
    (`estune render --explain`) or raise the limit";
const REC_BUDGET: &str = "the plan's worst case exceeds the limit: lower max_connections or \
    work_mem (`estune render --explain` shows the terms)";

pub(super) fn tables(o: &mut Out, s: &ServerSnapshot) {
    if !s.tables.iter().any(|t| t.table == "events") {
        let db = s.database.as_deref().unwrap_or("?");
        let v = format!("no table events in database {db}");
        o.push("tables", "events", Status::Ok, v, String::new(), "");
    }
    let key = "tables.dead_tuples";
    let min = o.t.get("tables.min_tuples");
    // A standby's tuple counters stay at zero: vacuum runs on the primary.
    let judged = match s.in_recovery {
        Some(true) => &[][..],
        _ => &s.tables[..],
    };
    for x in judged {
        let all = (x.live_tuples + x.dead_tuples) as f64;
        let ratio = if all > 0.0 {
            x.dead_tuples as f64 / all
        } else {
            0.0
        };
        let st = match all >= min {
            true => o.above(key, ratio),
            false => Status::Ok,
        };
        let lim = format!(
            "{} (from {} tuples)",
            o.limits(key),
            o.t.shown("tables.min_tuples")
        );
        let v = format!(
            "{} dead of {} ({}); {} modified since analyze, {} inserted since vacuum",
            x.dead_tuples,
            all,
            pct(ratio),
            x.mod_since_analyze,
            x.ins_since_vacuum
        );
        let check = format!("dead_tuples {}", x.table);
        o.push("tables", &check, st, v, lim, REC_DEAD);
    }
    let Some(g) = &s.gin else { return };
    if let Some(note) = &g.note {
        o.note("tables", "gin_pending", "not measured", note);
    }
    for i in &g.indexes {
        let b = i.pending_pages as f64 * 8192.0;
        let key = "tables.gin_pending";
        let st = o.above(key, b);
        let lim = o.limits(key);
        let v = format!("{} ({} tuples)", bytes(b), i.pending_tuples);
        let check = format!("gin_pending {}", i.index);
        o.push("tables", &check, st, v, lim, REC_GIN);
    }
}

pub(super) fn wraparound(o: &mut Out, s: &ServerSnapshot) {
    if let Some(w) = &s.wraparound {
        let age = w.datfrozenxid_age.max(w.relfrozenxid_age.unwrap_or(0)) as f64;
        let max = w.autovacuum_freeze_max_age.max(1) as f64;
        let key = "wraparound.xid_age";
        let st = o.above(key, age / max);
        let lim = format!("{} of autovacuum_freeze_max_age {max}", o.limits(key));
        let v = format!(
            "{age} ({}; database {}, table {})",
            pct(age / max),
            w.oldest_database,
            w.oldest_table.as_deref().unwrap_or("-")
        );
        let perf = o.perf("xid_age", key, age, "c", max);
        o.push("wraparound", "xid_age", st, v, lim, REC_XID).perf = Some(perf);
    }
    if let Some(q) = &s.sequence {
        let key = "wraparound.sequence_used";
        let st = o.above(key, q.used_ratio);
        let lim = o.limits(key);
        let last = q.last_value.unwrap_or(0);
        let v = format!("{last} of {} used ({})", q.max_value, pct(q.used_ratio));
        o.push("wraparound", "sequence_headroom", st, v, lim, REC_SEQUENCE);
    }
}

pub(super) fn checkpoints(o: &mut Out, s: &ServerSnapshot) {
    let Some(c) = &s.checkpoints else { return };
    let total = c.timed + c.requested;
    let ratio = if total > 0 {
        c.requested as f64 / total as f64
    } else {
        0.0
    };
    let key = "checkpoints.requested";
    let st = match total as f64 >= o.t.get("checkpoints.min_checkpoints") {
        true => o.above(key, ratio),
        false => Status::Ok,
    };
    let min = o.t.shown("checkpoints.min_checkpoints");
    let lim = format!("{} (from {min} checkpoints)", o.limits(key));
    let v = format!(
        "{} requested of {total} ({}); {} buffers written by checkpoints, {} by the bgwriter",
        c.requested,
        pct(ratio),
        c.buffers_checkpoint,
        c.buffers_clean
    );
    o.push(
        "checkpoints",
        "requested_share",
        st,
        v,
        lim,
        REC_CHECKPOINTS,
    );
}

pub(super) fn memory(o: &mut Out, s: &ServerSnapshot) {
    let Some(m) = &s.memory else { return };
    match (m.usage_bytes, m.limit_bytes) {
        (Some(u), Some(l)) => {
            let key = "memory.usage";
            let ratio = u as f64 / l.max(1) as f64;
            let st = o.above(key, ratio);
            let lim = o.limits(key);
            let v = format!("{} of {} ({})", human(u), human(l), pct(ratio));
            let perf = o.perf("memory", key, u as f64, "B", l as f64);
            o.push("memory", "usage", st, v, lim, REC_MEMORY).perf = Some(perf);
        }
        (Some(u), None) => {
            let v = format!("{} (no limit)", human(u));
            o.push("memory", "usage", Status::Ok, v, String::new(), "");
        }
        _ => {}
    }
    if m.oom_killed == Some(true) {
        let (v, want) = ("the container was OOM-killed".into(), "never".into());
        o.push("memory", "oom_killed", Status::Crit, v, want, REC_OOM);
    }
    if let (Some(b), Some(l)) = (m.budget_bytes, m.budget_limit_bytes.or(m.limit_bytes)) {
        let key = "memory.budget";
        let ratio = b as f64 / l.max(1) as f64;
        let st = o.above(key, ratio);
        let lim = o.limits(key);
        let v = format!("{} for a limit of {} ({})", human(b), human(l), pct(ratio));
        o.push("memory", "worst_case_budget", st, v, lim, REC_BUDGET);
    }
    if let Some(n) = &m.note {
        o.note("memory", "note", "not measured", n);
    }
}
