//! Rules: pure functions from a snapshot and thresholds to findings, one
//! function per area, each finding with its value, the threshold it was
//! judged by and one line saying what to do.

mod indexes;
mod replication;
mod storage;

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
    /// Empty when OK, unless it says how to measure what was not.
    pub recommendation: String,
    pub perf: Option<Perf>,
}

/// CRIT over WARN over UNKNOWN over OK, as Nagios plugins combine;
/// UNKNOWN when there is nothing to judge.
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
    /// Adds a finding; the recommendation is kept only when it is not OK.
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

    /// An OK finding that says what was not measured and how to.
    fn note(&mut self, area: &str, check: &str, value: &str, how: &str) {
        self.push(area, check, Status::Ok, value.into(), String::new(), "")
            .recommendation = how.into();
    }

    /// Graded against `<key>_warn`/`<key>_crit`, higher is worse.
    fn above(&self, key: &str, v: f64) -> Status {
        let (w, c) = self.pair(key);
        grade(v, w, c)
    }

    fn pair(&self, key: &str) -> (f64, f64) {
        let get = |s: &str| self.t.get(&format!("{key}_{s}"));
        (get("warn"), get("crit"))
    }

    fn limits(&self, key: &str) -> String {
        let shown = |s: &str| self.t.shown(&format!("{key}_{s}"));
        format!("warn {} / crit {}", shown("warn"), shown("crit"))
    }

    /// Perfdata for `label`, thresholds of `key` scaled to the value's unit.
    fn perf(&self, label: &str, key: &str, value: f64, uom: &'static str, scale: f64) -> Perf {
        let (w, c) = self.pair(key);
        // Bytes and counts are whole numbers in perfdata.
        let whole = |v: f64| match uom {
            "s" | "%" => v,
            _ => v.round(),
        };
        Perf {
            label: perf_label(&self.server, label),
            value,
            uom,
            warn: Some(whole(w * scale)),
            crit: Some(whole(c * scale)),
        }
    }
}

fn perf_label(server: &str, what: &str) -> String {
    let clean: String = what
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

/// Every finding of a snapshot: per server, then the pair (settings
/// parity and drift, indexes no query reads on either server).
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
            replication::senders(&mut o, s, replica_expected);
            replication::receiver(&mut o, s);
            replication::slots(&mut o, s);
            storage::tables(&mut o, s);
            storage::wraparound(&mut o, s);
            storage::checkpoints(&mut o, s);
            locks(&mut o, s);
            statements(&mut o, s);
            settings(&mut o, s);
        }
        storage::memory(&mut o, s);
        all.extend(o.list);
    }
    let mut o = Out {
        server: "pair".into(),
        t,
        list: Vec::new(),
    };
    if let Some(c) = &snap.config {
        config(&mut o, c);
    }
    indexes::unused(&mut o, snap);
    all.extend(o.list);
    all
}

const REC_LOGIN: &str =
    "fix the credentials or connection string for this server (user, password, pg_hba.conf)";
const REC_DOWN: &str = "start the server or check the host, port and network; \
    `estune cluster status` for a managed pair";
const REC_PROBE: &str =
    "this probe failed; the message says why (a missing privilege, a lock or statement timeout)";

fn server(o: &mut Out, s: &ServerSnapshot) {
    if let Some(u) = &s.unreachable {
        let (status, rec) = match u.kind.as_str() {
            "login" => (Status::Unknown, REC_LOGIN),
            _ => (Status::Crit, REC_DOWN),
        };
        let want = "accepts a superuser connection".to_string();
        o.push("server", "reachable", status, u.message.clone(), want, rec);
        return;
    }
    let version = s.version.as_deref().unwrap_or_default();
    let version = version.split_whitespace().next().unwrap_or_default();
    let standby = if s.in_recovery == Some(true) {
        " (in recovery)"
    } else {
        ""
    };
    let v = format!("PostgreSQL {version}{standby}");
    o.push("server", "reachable", Status::Ok, v, String::new(), "");
    for e in &s.errors {
        let (area, msg) = e.split_once(": ").unwrap_or(("probe", e));
        let msg = msg.to_string();
        o.push(
            "probe",
            area,
            Status::Unknown,
            msg,
            String::new(),
            REC_PROBE,
        );
    }
}

const REC_CONNECTIONS: &str = "put a pooler (PgBouncer) in front or raise max_connections \
    on both servers (the replica's must not be lower)";
const REC_IDLE_TX: &str = "find the client that leaves transactions open (pg_stat_activity); \
    set idle_in_transaction_session_timeout";
const REC_LONG_TX: &str = "long transactions hold back vacuum and replica cleanup; \
    look at pg_stat_activity for the oldest xact_start";

fn connections(o: &mut Out, s: &ServerSnapshot) {
    let Some(c) = &s.connections else { return };
    let used = c.total as f64 / c.available.max(1) as f64;
    let st = o.above("connections.used", used);
    let lim = o.limits("connections.used");
    let v = format!(
        "{} of {} ({}; {} waiting in ClientRead)",
        c.total,
        c.available,
        pct(used),
        c.client_read
    );
    let perf = o.perf(
        "connections",
        "connections.used",
        c.total as f64,
        "",
        c.available as f64,
    );
    o.push("connections", "used", st, v, lim, REC_CONNECTIONS)
        .perf = Some(perf);

    let idle = c.longest_idle_in_transaction_s.unwrap_or(0.0);
    let st = o.above("connections.idle_in_transaction", idle * 1000.0);
    let lim = o.limits("connections.idle_in_transaction");
    let v = format!(
        "{} session(s), longest {}",
        c.idle_in_transaction,
        secs(idle)
    );
    o.push(
        "connections",
        "idle_in_transaction",
        st,
        v,
        lim,
        REC_IDLE_TX,
    );

    let tx = c.longest_transaction_s.unwrap_or(0.0);
    let key = "connections.longest_transaction";
    let st = o.above(key, tx * 1000.0);
    let lim = o.limits(key);
    let perf = o.perf("longest_transaction", key, tx, "s", 0.001);
    o.push(
        "connections",
        "longest_transaction",
        st,
        secs(tx),
        lim,
        REC_LONG_TX,
    )
    .perf = Some(perf);
}

const REC_CACHE: &str = "the working set does not fit shared_buffers: raise shared_buffers \
    (and the memory limit) or reduce what is read";

fn cache(o: &mut Out, s: &ServerSnapshot) {
    let Some(c) = &s.cache else { return };
    let min = o.t.get("cache.min_blocks") as i64;
    let (w, cr) = o.pair("cache.hit_ratio");
    let lim = format!(
        "below warn {} / crit {} (from {min} blocks)",
        o.t.shown("cache.hit_ratio_warn"),
        o.t.shown("cache.hit_ratio_crit")
    );
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
        o.push("cache", &check, st, v, lim.clone(), REC_CACHE).perf = perf;
    };
    let current = s.database.clone().unwrap_or_default();
    for d in &c.databases {
        if d.blocks > 0 || d.database == current {
            judge(format!("hit_ratio {}", d.database), d.hit_ratio, d.blocks);
        }
    }
    for tc in &c.tables {
        let heap = format!("heap_hit_ratio {}", tc.table);
        judge(heap, tc.heap_hit_ratio, tc.heap_blocks);
        let index = format!("index_hit_ratio {}", tc.table);
        judge(index, tc.index_hit_ratio, tc.index_blocks);
    }
}

const REC_LOCKS: &str = "a session holds locks others wait for: find it with \
    pg_blocking_pids() and end its transaction";

fn locks(o: &mut Out, s: &ServerSnapshot) {
    let Some(l) = &s.locks else { return };
    let longest = l
        .blocked
        .iter()
        .filter_map(|b| b.waiting_s)
        .fold(0.0, f64::max);
    let st = match l.blocked.is_empty() {
        true => Status::Ok,
        false => o.above("locks.wait", longest * 1000.0),
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
    o.push("locks", "lock_waits", st, v, lim, REC_LOCKS);
}

fn statements(o: &mut Out, s: &ServerSnapshot) {
    let Some(x) = &s.statements else { return };
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
    let check = "pg_stat_statements";
    o.push("statements", check, Status::Ok, v, String::new(), "");
}

const REC_PENDING: &str =
    "these settings changed but take effect only after a restart of this server";

fn settings(o: &mut Out, s: &ServerSnapshot) {
    let Some(x) = &s.settings else { return };
    let (st, v) = match x.pending_restart.is_empty() {
        true => (Status::Ok, "none".to_string()),
        false => (Status::Warn, x.pending_restart.join(", ")),
    };
    o.push(
        "settings",
        "pending_restart",
        st,
        v,
        "none".into(),
        REC_PENDING,
    );
}

const REC_PARITY: &str = "raise these on the replica first (it pauses recovery or refuses \
    to start below the primary's values)";
const REC_DRIFT: &str = "the servers no longer run the applied profile: \
    `estune apply --profile NAME --dry-run` shows what apply would change";

fn config(o: &mut Out, c: &ConfigCheck) {
    let st = match c.parity.is_empty() {
        true => Status::Ok,
        false => Status::Crit,
    };
    let v = match c.parity.is_empty() {
        true => "replica ≥ primary for every hot-standby setting".to_string(),
        false => c
            .parity
            .iter()
            .map(|g| format!("{}: primary {}, replica {}", g.name, g.primary, g.replica))
            .collect::<Vec<_>>()
            .join("; "),
    };
    let want = "replica ≥ primary".to_string();
    o.push("settings", "standby_parity", st, v, want, REC_PARITY);
    match (&c.profile, &c.drift_note) {
        (_, Some(note)) => o.note("settings", "drift", "not checked", note),
        (Some(p), None) => {
            let (st, v) = match c.drift.is_empty() {
                true => (Status::Ok, format!("live settings match profile {p}")),
                false => (
                    Status::Warn,
                    c.drift
                        .iter()
                        .map(|d| {
                            format!(
                                "{} {}: live {}, planned {}",
                                d.role, d.name, d.live, d.planned
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            };
            o.push(
                "settings",
                "drift",
                st,
                v,
                format!("profile {p}"),
                REC_DRIFT,
            );
        }
        (None, None) => {}
    }
    catalog_drift(o, c);
}

/// The storage parameters and statistics targets of the event tables, and
/// the settings of the application role in its database, against the
/// profile's catalog.sql: a hand change, or what another profile left,
/// makes a comparison run on a catalog it does not name.
fn catalog_drift(o: &mut Out, c: &ConfigCheck) {
    let check = "catalog_drift";
    let Some(p) = &c.profile else { return };
    if let Some(note) = &c.catalog_note {
        o.note("settings", check, "not checked", note);
        return;
    }
    let (st, v) = match c.catalog_drift.is_empty() {
        true => (
            Status::Ok,
            format!("event tables' storage parameters and statistics targets, and the application role's settings, match profile {p}"),
        ),
        false => (
            Status::Warn,
            c.catalog_drift
                .iter()
                .map(|d| {
                    format!(
                        "{} {}: live {}, planned {}",
                        d.relation, d.parameter, d.live, d.planned
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    let how = match c.managed {
        true => format!("`estune apply --profile {p}` re-applies its catalog.sql"),
        false => format!("run the catalog.sql of `estune render --profile {p} -o DIR` on the primary's event-store database"),
    };
    let rec = format!(
        "the catalog state is not profile {p}'s (changed by hand, or left by another profile): {how}, which resets what the profile does not set; role settings reach new connections only, so reconnect the application after"
    );
    o.push("settings", check, st, v, format!("profile {p}"), &rec);
}
