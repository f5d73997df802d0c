//! Rules: pure functions from a snapshot and thresholds to findings, one
//! function per area, each finding with its value, the threshold it was
//! judged by and one line saying what to do.

use super::snapshot::*;
use super::thresholds::Thresholds;
use crate::tune::budget::human;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok,
    Unknown,
    Warn,
    Crit,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Unknown => "UNKNOWN",
            Status::Warn => "WARN",
            Status::Crit => "CRIT",
        }
    }

    /// Nagios plugin exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warn => 1,
            Status::Crit => 2,
            Status::Unknown => 3,
        }
    }
}

/// Nagios perfdata of a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Perf {
    pub label: String,
    pub value: f64,
    /// "", "%", "B", "s" or "c" (a counter).
    pub uom: &'static str,
    pub warn: Option<f64>,
    pub crit: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// primary, replica or pair.
    pub server: String,
    pub area: String,
    pub check: String,
    pub status: Status,
    pub value: String,
    pub threshold: String,
    pub recommendation: String,
    pub perf: Option<Perf>,
}

/// CRIT over WARN over UNKNOWN over OK, as Nagios plugins combine.
pub fn worst(findings: &[Finding]) -> Status {
    findings
        .iter()
        .map(|f| f.status)
        .max()
        .unwrap_or(Status::Unknown)
}

/// One server's findings under construction.
struct Out<'a> {
    server: String,
    t: &'a Thresholds,
    list: Vec<Finding>,
}

impl Out<'_> {
    fn push(
        &mut self,
        area: &str,
        check: &str,
        status: Status,
        value: String,
        threshold: String,
        rec: &str,
    ) -> &mut Finding {
        self.list.push(Finding {
            server: self.server.clone(),
            area: area.into(),
            check: check.into(),
            status,
            value,
            threshold,
            recommendation: if status == Status::Ok {
                String::new()
            } else {
                rec.into()
            },
            perf: None,
        });
        self.list.last_mut().expect("just pushed")
    }

    /// Graded against `<key>_warn`/`<key>_crit`, higher is worse.
    fn above(&self, key: &str, v: f64) -> Status {
        grade(
            v,
            self.t.get(&format!("{key}_warn")),
            self.t.get(&format!("{key}_crit")),
        )
    }

    fn limits(&self, key: &str) -> String {
        format!(
            "warn {} / crit {}",
            self.t.shown(&format!("{key}_warn")),
            self.t.shown(&format!("{key}_crit"))
        )
    }

    /// Perfdata for `check`, thresholds of `key` scaled to the value's unit.
    fn perf(
        &self,
        check: &str,
        key: &str,
        value: f64,
        uom: &'static str,
        scale: f64,
    ) -> Option<Perf> {
        Some(Perf {
            label: perf_label(&self.server, check),
            value,
            uom,
            warn: Some(self.t.get(&format!("{key}_warn")) * scale),
            crit: Some(self.t.get(&format!("{key}_crit")) * scale),
        })
    }
}

fn perf_label(server: &str, check: &str) -> String {
    let clean: String = check
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{server}_{clean}")
}

pub fn grade(v: f64, warn: f64, crit: f64) -> Status {
    if v >= crit {
        Status::Crit
    } else if v >= warn {
        Status::Warn
    } else {
        Status::Ok
    }
}

pub fn grade_below(v: f64, warn: f64, crit: f64) -> Status {
    if v < crit {
        Status::Crit
    } else if v < warn {
        Status::Warn
    } else {
        Status::Ok
    }
}

fn pct(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn secs(s: f64) -> String {
    if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

fn bytes(b: f64) -> String {
    human(b.max(0.0) as u64)
}

/// Every finding of a snapshot: per server, then the pair.
pub fn evaluate(snap: &Snapshot, t: &Thresholds) -> Vec<Finding> {
    let mut all = Vec::new();
    let replica_expected = snap.server(crate::tune::Role::Replica).is_some();
    for s in &snap.servers {
        let mut o = Out {
            server: s.role.to_string(),
            t,
            list: Vec::new(),
        };
        server(&mut o, s);
        if s.unreachable.is_none() {
            connections(&mut o, s);
            cache(&mut o, s);
            senders(&mut o, s, replica_expected);
            receiver(&mut o, s);
            slots(&mut o, s);
            tables(&mut o, s);
            wraparound(&mut o, s);
            checkpoints(&mut o, s);
            locks(&mut o, s);
            extensions(&mut o, s);
            settings(&mut o, s);
        }
        memory(&mut o, s);
        all.extend(o.list);
    }
    if let Some(c) = &snap.config {
        let mut o = Out {
            server: "pair".into(),
            t,
            list: Vec::new(),
        };
        config(&mut o, c);
        all.extend(o.list);
    }
    all
}

fn server(o: &mut Out, s: &ServerSnapshot) {
    if let Some(u) = &s.unreachable {
        let (status, rec) = if u.kind == "login" {
            (Status::Unknown, "fix the credentials or connection string for this server (user, password, pg_hba.conf)")
        } else {
            (Status::Crit, "start the server or check the host, port and network; `estune cluster status` for a managed pair")
        };
        o.push(
            "server",
            "reachable",
            status,
            u.message.clone(),
            "accepts a superuser connection".into(),
            rec,
        );
        return;
    }
    let v = format!(
        "{} {}",
        s.version.clone().unwrap_or_default(),
        if s.in_recovery == Some(true) {
            "(in recovery)"
        } else {
            ""
        }
    );
    o.push(
        "server",
        "reachable",
        Status::Ok,
        v.trim().to_string(),
        String::new(),
        "",
    );
    for e in &s.errors {
        let (area, msg) = e.split_once(": ").unwrap_or(("probe", e));
        o.push(
            "probe",
            area,
            Status::Unknown,
            msg.to_string(),
            String::new(),
            "this probe failed; the message says why (a missing privilege or a statement timeout)",
        );
    }
}

fn connections(o: &mut Out, s: &ServerSnapshot) {
    let Some(c) = &s.connections else { return };
    let used = c.total as f64 / c.available.max(1) as f64;
    let st = o.above("connections.used", used);
    let lim = o.limits("connections.used");
    let perf = o.perf(
        "used",
        "connections.used",
        c.total as f64,
        "",
        c.available as f64,
    );
    o.push(
        "connections", "used", st,
        format!("{} of {} ({}; {} waiting in ClientRead)", c.total, c.available, pct(used), c.client_read),
        lim,
        "put a pooler (PgBouncer) in front or raise max_connections on both servers (the replica's must not be lower)",
    ).perf = perf;

    let idle = c.longest_idle_in_transaction_s.unwrap_or(0.0);
    let st = o.above("connections.idle_in_transaction", idle * 1000.0);
    let lim = o.limits("connections.idle_in_transaction");
    o.push("connections", "idle_in_transaction", st,
        format!("{} session(s), longest {}", c.idle_in_transaction, secs(idle)), lim,
        "find the client that leaves transactions open (pg_stat_activity); set idle_in_transaction_session_timeout");
    let tx = c.longest_transaction_s.unwrap_or(0.0);
    let st = o.above("connections.longest_transaction", tx * 1000.0);
    let lim = o.limits("connections.longest_transaction");
    let perf = o.perf(
        "longest_transaction",
        "connections.longest_transaction",
        tx,
        "s",
        0.001,
    );
    o.push("connections", "longest_transaction", st, secs(tx), lim,
        "long transactions hold back vacuum and replica cleanup; look at pg_stat_activity for the oldest xact_start").perf = perf;
}

fn cache(o: &mut Out, s: &ServerSnapshot) {
    let Some(c) = &s.cache else { return };
    let min = o.t.get("cache.min_blocks") as i64;
    let (w, cr) = (
        o.t.get("cache.hit_ratio_warn"),
        o.t.get("cache.hit_ratio_crit"),
    );
    let lim = format!(
        "below warn {} / crit {} (from {min} blocks)",
        o.t.shown("cache.hit_ratio_warn"),
        o.t.shown("cache.hit_ratio_crit")
    );
    let rec = "the working set does not fit shared_buffers: raise shared_buffers (and the memory limit) or reduce what is read";
    let mut judge = |check: String, ratio: Option<f64>, blocks: i64| {
        let (st, v) = match ratio {
            Some(r) if blocks >= min => (grade_below(r, w, cr), pct(r)),
            Some(r) => (
                Status::Ok,
                format!("{} ({blocks} blocks, too few to judge)", pct(r)),
            ),
            None => (Status::Ok, "no blocks read yet".into()),
        };
        let perf = ratio.map(|r| Perf {
            label: perf_label(&o.server, &check),
            value: (r * 1e4).round() / 100.0,
            uom: "%",
            warn: Some(w * 100.0),
            crit: Some(cr * 100.0),
        });
        o.push("cache", &check, st, v, lim.clone(), rec).perf = perf;
    };
    let current = s.database.clone().unwrap_or_default();
    for d in &c.databases {
        if d.blocks > 0 || d.database == current {
            judge(format!("hit_ratio {}", d.database), d.hit_ratio, d.blocks);
        }
    }
    for tc in &c.tables {
        judge(
            format!("heap_hit_ratio {}", tc.table),
            tc.heap_hit_ratio,
            tc.heap_blocks,
        );
        judge(
            format!("index_hit_ratio {}", tc.table),
            tc.index_hit_ratio,
            tc.index_blocks,
        );
    }
}

fn lag_bytes(o: &mut Out, check: &str, gap: f64, rec: &str) {
    let st = o.above("replication.lag_bytes", gap);
    let lim = o.limits("replication.lag_bytes");
    let perf = o.perf(check, "replication.lag_bytes", gap, "B", 1.0);
    o.push("replication", check, st, bytes(gap), lim, rec).perf = perf;
}

fn senders(o: &mut Out, s: &ServerSnapshot, replica_expected: bool) {
    if s.in_recovery != Some(false) {
        return;
    }
    if s.senders.is_empty() && replica_expected {
        o.push("replication", "standbys", Status::Crit, "no standby connected".into(), "1 streaming standby".into(),
            "the replica is down or cannot connect: check its log (`estune cluster logs replica`) and primary_conninfo");
    }
    for x in &s.senders {
        let name = if x.application_name.is_empty() {
            "standby"
        } else {
            &x.application_name
        };
        let st = if x.state == "streaming" {
            Status::Ok
        } else {
            Status::Warn
        };
        o.push(
            "replication",
            &format!("state {name}"),
            st,
            format!("{} ({})", x.state, x.sync_state),
            "streaming".into(),
            "the standby is catching up or starting; if it stays so, check its log",
        );
        lag_bytes(o, &format!("replay_lag_bytes {name}"), x.replay_lag_bytes.unwrap_or(0.0),
            "the standby does not keep up: check its I/O and CPU, replay conflicts, or a paused replay");
        let ms = x.replay_lag_ms.unwrap_or(0.0);
        let st = o.above("replication.replay_delay", ms);
        let lim = o.limits("replication.replay_delay");
        let v = match (x.write_lag_ms, x.flush_lag_ms, x.replay_lag_ms) {
            (None, None, None) => "caught up".to_string(),
            (w, f, r) => format!(
                "write {} / flush {} / replay {}",
                secs(w.unwrap_or(0.0) / 1000.0),
                secs(f.unwrap_or(0.0) / 1000.0),
                secs(r.unwrap_or(0.0) / 1000.0)
            ),
        };
        o.push("replication", &format!("replay_lag {name}"), st, v, lim,
            "the standby replays late: check its I/O, long queries conflicting with replay, or a paused replay");
    }
}

fn receiver(o: &mut Out, s: &ServerSnapshot) {
    let Some(r) = &s.receiver else { return };
    let (st, v) = match r.status.as_deref() {
        Some("streaming") => (Status::Ok, "streaming".to_string()),
        Some(other) => (Status::Warn, other.to_string()),
        None => (Status::Crit, "no WAL receiver running".to_string()),
    };
    o.push("replication", "wal_receiver", st, v, "streaming".into(),
        "the replica receives no WAL: check that the primary is up, primary_conninfo and the replica's log");
    if r.replay_paused {
        o.push(
            "replication",
            "replay_paused",
            Status::Warn,
            "replay is paused".into(),
            "not paused".into(),
            "resume with SELECT pg_wal_replay_resume() on the replica",
        );
    }
    // The primary's position when it was probed; else only what the
    // replica received but has not replayed.
    let (gap, check) = match r.primary_gap_bytes {
        Some(g) => (g, "lag_bytes"),
        None => (
            r.receive_replay_gap_bytes.unwrap_or(0.0),
            "lag_bytes received_not_replayed",
        ),
    };
    lag_bytes(o, check, gap, "the replica is behind: check its I/O and CPU, replay conflicts, a paused replay or a stopped WAL receiver");
    let min_gap = o.t.get("replication.delay_min_gap");
    let lim = format!(
        "{} (judged from a {} gap)",
        o.limits("replication.replay_delay"),
        o.t.shown("replication.delay_min_gap")
    );
    let rec = "transactions wait on the replica: replay is slow, paused or blocked by conflicting queries";
    match r.last_replay_age_s {
        Some(age) if gap >= min_gap && gap > 0.0 => {
            let st = o.above("replication.replay_delay", age * 1000.0);
            let perf = o.perf("replay_delay", "replication.replay_delay", age, "s", 0.001);
            o.push("replication", "replay_delay", st, secs(age), lim, rec)
                .perf = perf;
        }
        _ => {
            o.push(
                "replication",
                "replay_delay",
                Status::Ok,
                format!("no lag ({} behind)", bytes(gap)),
                lim,
                rec,
            );
        }
    }
}

fn slots(o: &mut Out, s: &ServerSnapshot) {
    let Some(sl) = &s.slots else { return };
    for x in &sl.slots {
        let retained = x.retained_bytes.unwrap_or(0.0);
        let (st, lim) = match sl.max_slot_wal_keep_size_bytes {
            Some(max) if max > 0.0 => (
                o.above("replication.slot_retained", retained / max),
                format!(
                    "{} of max_slot_wal_keep_size {}",
                    o.limits("replication.slot_retained"),
                    bytes(max)
                ),
            ),
            _ => (
                o.above("replication.slot_retained_bytes", retained),
                format!(
                    "{} (max_slot_wal_keep_size unlimited)",
                    o.limits("replication.slot_retained_bytes")
                ),
            ),
        };
        let st = match x.wal_status.as_deref() {
            Some("lost") => Status::Crit,
            Some("unreserved") => st.max(Status::Warn),
            _ => st,
        };
        let st = if x.active { st } else { st.max(Status::Warn) };
        let v = format!(
            "{}, retains {}{}",
            if x.active { "active" } else { "INACTIVE" },
            bytes(retained),
            x.wal_status
                .as_deref()
                .map(|w| format!(", wal_status {w}"))
                .unwrap_or_default()
        );
        let check = format!("slot {}", x.name);
        let perf = Some(Perf {
            label: perf_label(&o.server, &check),
            value: retained,
            uom: "B",
            warn: None,
            crit: None,
        });
        o.push("replication", &check, st, v, lim,
            "an inactive slot keeps WAL forever: bring its consumer back or drop the slot; set max_slot_wal_keep_size").perf = perf;
    }
}

fn tables(o: &mut Out, s: &ServerSnapshot) {
    if !s.tables.iter().any(|t| t.table == "events") {
        let db = s.database.as_deref().unwrap_or("?");
        o.push(
            "tables",
            "events",
            Status::Ok,
            format!("no table events in database {db}"),
            String::new(),
            "",
        );
    }
    let min = o.t.get("tables.min_tuples");
    for x in &s.tables {
        let all = (x.live_tuples + x.dead_tuples) as f64;
        let ratio = if all > 0.0 {
            x.dead_tuples as f64 / all
        } else {
            0.0
        };
        let st = if all >= min {
            o.above("tables.dead_tuples", ratio)
        } else {
            Status::Ok
        };
        let lim = format!(
            "{} (from {} tuples)",
            o.limits("tables.dead_tuples"),
            o.t.shown("tables.min_tuples")
        );
        let v = format!(
            "{} dead of {} ({}); {} modified since analyze, {} inserted since vacuum",
            x.dead_tuples,
            x.live_tuples + x.dead_tuples,
            pct(ratio),
            x.mod_since_analyze,
            x.ins_since_vacuum
        );
        o.push("tables", &format!("dead_tuples {}", x.table), st, v, lim,
            "autovacuum does not keep up: lower autovacuum_vacuum_scale_factor for this table or raise autovacuum_vacuum_cost_limit");
    }
    if let Some(g) = &s.gin {
        if let Some(note) = &g.note {
            o.push(
                "tables",
                "gin_pending",
                Status::Ok,
                "not measured".into(),
                String::new(),
                "",
            );
            o.list.last_mut().expect("pushed").recommendation = note.clone();
        }
        for i in &g.indexes {
            let b = i.pending_pages as f64 * 8192.0;
            let st = o.above("tables.gin_pending", b);
            let lim = o.limits("tables.gin_pending");
            o.push("tables", &format!("gin_pending {}", i.index), st, format!("{} ({} tuples)", bytes(b), i.pending_tuples), lim,
                "the GIN pending list grows faster than it is merged: lower gin_pending_list_limit or vacuum events more often");
        }
    }
}

fn wraparound(o: &mut Out, s: &ServerSnapshot) {
    if let Some(w) = &s.wraparound {
        let age = w.datfrozenxid_age.max(w.relfrozenxid_age.unwrap_or(0)) as f64;
        let ratio = age / w.autovacuum_freeze_max_age.max(1) as f64;
        let st = o.above("wraparound.xid_age", ratio);
        let lim = format!(
            "{} of autovacuum_freeze_max_age {}",
            o.limits("wraparound.xid_age"),
            w.autovacuum_freeze_max_age
        );
        let v = format!(
            "{} ({}; database {}, table {})",
            age as i64,
            pct(ratio),
            w.oldest_database,
            w.oldest_table.as_deref().unwrap_or("-")
        );
        let perf = o.perf(
            "xid_age",
            "wraparound.xid_age",
            age,
            "c",
            w.autovacuum_freeze_max_age as f64,
        );
        o.push("wraparound", "xid_age", st, v, lim,
            "freezing falls behind: VACUUM (FREEZE) the oldest table, and look for long transactions or stale slots holding the horizon").perf = perf;
    }
    if let Some(q) = &s.sequence {
        let st = o.above("wraparound.sequence_used", q.used_ratio);
        let lim = o.limits("wraparound.sequence_used");
        o.push(
            "wraparound",
            "sequence_headroom",
            st,
            format!(
                "{} of {} used ({})",
                q.last_value.unwrap_or(0),
                q.max_value,
                pct(q.used_ratio)
            ),
            lim,
            "the event sequence runs out: plan a move to a bigint sequence with a larger range",
        );
    }
}

fn checkpoints(o: &mut Out, s: &ServerSnapshot) {
    let Some(c) = &s.checkpoints else { return };
    let total = c.timed + c.requested;
    let ratio = if total > 0 {
        c.requested as f64 / total as f64
    } else {
        0.0
    };
    let min = o.t.get("checkpoints.min_checkpoints");
    let st = if total as f64 >= min {
        o.above("checkpoints.requested", ratio)
    } else {
        Status::Ok
    };
    let lim = format!(
        "{} (from {} checkpoints)",
        o.limits("checkpoints.requested"),
        o.t.shown("checkpoints.min_checkpoints")
    );
    o.push(
        "checkpoints",
        "requested_share",
        st,
        format!(
            "{} requested of {} ({}); {} buffers written by checkpoints, {} by the bgwriter",
            c.requested,
            total,
            pct(ratio),
            c.buffers_checkpoint,
            c.buffers_clean
        ),
        lim,
        "checkpoints are forced by WAL volume: raise max_wal_size",
    );
}

fn locks(o: &mut Out, s: &ServerSnapshot) {
    let Some(l) = &s.locks else { return };
    let longest = l
        .blocked
        .iter()
        .filter_map(|b| b.waiting_s)
        .fold(0.0, f64::max);
    let st = if l.blocked.is_empty() {
        Status::Ok
    } else {
        o.above("locks.wait", longest * 1000.0)
    };
    let lim = o.limits("locks.wait");
    let v = match l.blocked.first() {
        None => format!("{} waiting lock(s), no blocked backend", l.waiting),
        Some(b) => format!(
            "{} blocked, longest {}; pid {} blocked by {:?}",
            l.blocked.len(),
            secs(longest),
            b.pid,
            b.blocked_by
        ),
    };
    o.push("locks", "lock_waits", st, v, lim, "a session holds locks others wait for: find it with pg_blocking_pids() and end its transaction");
}

fn extensions(o: &mut Out, s: &ServerSnapshot) {
    if let Some(x) = &s.statements {
        let v = match (&x.note, x.top.first()) {
            (Some(n), _) => n.clone(),
            (None, Some(t)) => format!(
                "top by total time: {:.0} ms in {} calls: {}",
                t.total_ms,
                t.calls,
                t.query.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            (None, None) => "no statements recorded".into(),
        };
        o.push(
            "statements",
            "pg_stat_statements",
            Status::Ok,
            v,
            String::new(),
            "",
        );
    }
}

fn settings(o: &mut Out, s: &ServerSnapshot) {
    let Some(x) = &s.settings else { return };
    let st = if x.pending_restart.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    let v = if x.pending_restart.is_empty() {
        "none".to_string()
    } else {
        x.pending_restart.join(", ")
    };
    o.push(
        "settings",
        "pending_restart",
        st,
        v,
        "none".into(),
        "these settings changed but take effect only after a restart of this server",
    );
}

fn memory(o: &mut Out, s: &ServerSnapshot) {
    let Some(m) = &s.memory else { return };
    if let (Some(u), Some(l)) = (m.usage_bytes, m.limit_bytes) {
        let ratio = u as f64 / l.max(1) as f64;
        let st = o.above("memory.usage", ratio);
        let lim = o.limits("memory.usage");
        let perf = o.perf("usage", "memory.usage", u as f64, "B", l as f64);
        o.push(
            "memory",
            "usage",
            st,
            format!("{} of {} ({})", human(u), human(l), pct(ratio)),
            lim,
            "the server nears its memory limit: lower work_mem/shared_buffers or raise the limit",
        )
        .perf = perf;
    } else if let Some(u) = m.usage_bytes {
        o.push(
            "memory",
            "usage",
            Status::Ok,
            format!("{} (no limit)", human(u)),
            String::new(),
            "",
        );
    }
    if m.oom_killed == Some(true) {
        o.push("memory", "oom_killed", Status::Crit, "the container was OOM-killed".into(), "never".into(),
            "the server exceeded its memory limit: lower the plan's worst case (`estune render --explain`) or raise the limit");
    }
    if let (Some(b), Some(l)) = (m.budget_bytes, m.budget_limit_bytes.or(m.limit_bytes)) {
        let ratio = b as f64 / l.max(1) as f64;
        let st = o.above("memory.budget", ratio);
        let lim = o.limits("memory.budget");
        o.push("memory", "worst_case_budget", st, format!("{} for a limit of {} ({})", human(b), human(l), pct(ratio)), lim,
            "the plan's worst case exceeds the limit: lower max_connections or work_mem (`estune render --explain` shows the terms)");
    }
    if let Some(n) = &m.note {
        o.push("memory", "note", Status::Ok, n.clone(), String::new(), "");
    }
}

fn config(o: &mut Out, c: &ConfigCheck) {
    let st = if c.parity.is_empty() {
        Status::Ok
    } else {
        Status::Crit
    };
    let v = if c.parity.is_empty() {
        "replica ≥ primary for every hot-standby setting".to_string()
    } else {
        c.parity
            .iter()
            .map(|g| format!("{}: primary {}, replica {}", g.name, g.primary, g.replica))
            .collect::<Vec<_>>()
            .join("; ")
    };
    o.push("settings", "standby_parity", st, v, "replica ≥ primary".into(),
        "raise these on the replica first (it pauses recovery or refuses to start below the primary's values)");
    match (&c.profile, &c.drift_note) {
        (_, Some(note)) => {
            o.push(
                "settings",
                "drift",
                Status::Ok,
                "not checked".into(),
                String::new(),
                "",
            );
            o.list.last_mut().expect("pushed").recommendation = note.clone();
        }
        (Some(p), None) => {
            let st = if c.drift.is_empty() {
                Status::Ok
            } else {
                Status::Warn
            };
            let v = if c.drift.is_empty() {
                format!("live settings match profile {p}")
            } else {
                c.drift
                    .iter()
                    .map(|d| {
                        format!(
                            "{} {}: live {}, planned {}",
                            d.role, d.name, d.live, d.planned
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            o.push("settings", "drift", st, v, format!("profile {p}"),
                "the servers no longer run the applied profile: `estune apply --profile ... --dry-run` shows the changes");
        }
        (None, None) => {}
    }
}
