//! Replication rules: standbys seen from the primary, the WAL receiver
//! and replay on the replica, replication slots.

use super::{bytes, perf_label, secs, Out, Perf, Status};
use crate::health::snapshot::ServerSnapshot;

const REC_NO_STANDBY: &str = "the replica is down or cannot connect: check its log \
    (`estune cluster logs replica`) and its primary_conninfo";
const REC_STATE: &str = "the standby is catching up or starting; if it stays so, check its log";
const REC_SENDER_LAG: &str = "the standby does not keep up: check its I/O and CPU, \
    replay conflicts, or a paused replay";
const REC_SENDER_DELAY: &str = "the standby replays late: check its I/O, long queries \
    conflicting with replay, or a paused replay";
const REC_RECEIVER: &str = "the replica receives no WAL: check that the primary is up, \
    primary_conninfo and the replica's log";
const REC_PAUSED: &str = "resume with SELECT pg_wal_replay_resume() on the replica";
const REC_REPLICA_LAG: &str = "the replica is behind: check its I/O and CPU, replay \
    conflicts, a paused replay or a stopped WAL receiver";
const REC_DELAY: &str = "transactions wait on the replica: replay is slow, paused or \
    blocked by conflicting queries";
const REC_SLOT: &str = "an inactive slot keeps WAL forever: bring its consumer back or \
    drop the slot; set max_slot_wal_keep_size";

fn lag_bytes(o: &mut Out, check: &str, gap: f64, rec: &str) {
    let key = "replication.lag_bytes";
    let st = o.above(key, gap);
    let lim = o.limits(key);
    let perf = o.perf(check, key, gap, "B", 1.0);
    o.push("replication", check, st, bytes(gap), lim, rec).perf = Some(perf);
}

pub(super) fn senders(o: &mut Out, s: &ServerSnapshot, replica_expected: bool) {
    if s.in_recovery != Some(false) {
        return;
    }
    if s.senders.is_empty() && replica_expected {
        let (v, want) = ("no standby connected".into(), "1 streaming standby".into());
        o.push(
            "replication",
            "standbys",
            Status::Crit,
            v,
            want,
            REC_NO_STANDBY,
        );
    }
    for x in &s.senders {
        let name = match x.application_name.as_str() {
            "" => "standby",
            n => n,
        };
        let st = match x.state.as_str() {
            "streaming" => Status::Ok,
            _ => Status::Warn,
        };
        let b = |v: Option<f64>| bytes(v.unwrap_or(0.0));
        let v = format!(
            "{} ({}); behind by sent {} / write {} / flush {}",
            x.state,
            x.sync_state,
            b(x.sent_lag_bytes),
            b(x.write_lag_bytes),
            b(x.flush_lag_bytes)
        );
        let check = format!("state {name}");
        o.push("replication", &check, st, v, "streaming".into(), REC_STATE);
        let check = format!("replay_lag_bytes {name}");
        lag_bytes(o, &check, x.replay_lag_bytes.unwrap_or(0.0), REC_SENDER_LAG);
        // replay_lag is null once the standby caught up: no delay then.
        let key = "replication.replay_delay";
        let st = o.above(key, x.replay_lag_ms.unwrap_or(0.0));
        let lim = o.limits(key);
        let ms = |v: Option<f64>| secs(v.unwrap_or(0.0) / 1000.0);
        let v = match (x.write_lag_ms, x.flush_lag_ms, x.replay_lag_ms) {
            (None, None, None) => "caught up".to_string(),
            (w, f, r) => format!("write {} / flush {} / replay {}", ms(w), ms(f), ms(r)),
        };
        let check = format!("replay_lag {name}");
        o.push("replication", &check, st, v, lim, REC_SENDER_DELAY);
    }
}

pub(super) fn receiver(o: &mut Out, s: &ServerSnapshot) {
    let Some(r) = &s.receiver else { return };
    let (st, v) = match r.status.as_deref() {
        Some("streaming") => (Status::Ok, "streaming".to_string()),
        Some(other) => (Status::Warn, other.to_string()),
        None => (Status::Crit, "no WAL receiver running".to_string()),
    };
    o.push(
        "replication",
        "wal_receiver",
        st,
        v,
        "streaming".into(),
        REC_RECEIVER,
    );
    if r.replay_paused {
        let (v, want) = ("replay is paused".into(), "not paused".into());
        o.push(
            "replication",
            "replay_paused",
            Status::Warn,
            v,
            want,
            REC_PAUSED,
        );
    }
    // The primary's position when it was probed; without a primary, only
    // what the replica received and has not replayed.
    let (gap, check) = match r.primary_gap_bytes {
        Some(g) => (g, "lag_bytes"),
        None => (
            r.receive_replay_gap_bytes.unwrap_or(0.0),
            "lag_bytes received_not_replayed",
        ),
    };
    lag_bytes(o, check, gap, REC_REPLICA_LAG);
    // The age of the last replayed transaction grows on an idle primary
    // too: it is a delay only while WAL waits to be replayed.
    let key = "replication.replay_delay";
    let min_gap = o.t.get("replication.delay_min_gap");
    let min_shown = o.t.shown("replication.delay_min_gap");
    let lim = format!("{} (judged from a {min_shown} gap)", o.limits(key));
    match r.last_replay_age_s {
        Some(age) if gap >= min_gap && gap > 0.0 => {
            let st = o.above(key, age * 1000.0);
            let perf = o.perf("replay_delay", key, age, "s", 0.001);
            o.push("replication", "replay_delay", st, secs(age), lim, REC_DELAY)
                .perf = Some(perf);
        }
        _ => {
            let v = format!("no lag ({} behind)", bytes(gap));
            o.push("replication", "replay_delay", Status::Ok, v, lim, REC_DELAY);
        }
    }
}

pub(super) fn slots(o: &mut Out, s: &ServerSnapshot) {
    let Some(sl) = &s.slots else { return };
    for x in &sl.slots {
        let retained = x.retained_bytes.unwrap_or(0.0);
        let (st, lim) = match sl.max_slot_wal_keep_size_bytes {
            Some(max) if max > 0.0 => {
                let key = "replication.slot_retained";
                let lim = format!("{} of max_slot_wal_keep_size {}", o.limits(key), bytes(max));
                (o.above(key, retained / max), lim)
            }
            _ => {
                let key = "replication.slot_retained_bytes";
                let lim = format!("{} (max_slot_wal_keep_size unlimited)", o.limits(key));
                (o.above(key, retained), lim)
            }
        };
        let st = match x.wal_status.as_deref() {
            Some("lost") => Status::Crit,
            Some("unreserved") => st.max(Status::Warn),
            _ => st,
        };
        let st = match x.active {
            true => st,
            false => st.max(Status::Warn),
        };
        let wal = x
            .wal_status
            .as_deref()
            .map(|w| format!(", wal_status {w}"))
            .unwrap_or_default();
        let active = if x.active { "active" } else { "INACTIVE" };
        let v = format!("{active}, retains {}{wal}", bytes(retained));
        let check = format!("slot {}", x.name);
        let perf = Perf {
            label: perf_label(&o.server, &check),
            value: retained,
            uom: "B",
            warn: None,
            crit: None,
        };
        o.push("replication", &check, st, v, lim, REC_SLOT).perf = Some(perf);
    }
}
