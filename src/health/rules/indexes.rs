//! Indexes no query reads: every insert into their table maintains them
//! (and writes their WAL, which the replica replays) for nothing. Judged
//! on the pair, because the read side runs on the replica and counts its
//! index scans there; a recommendation the user confirms, never a change
//! estune makes.

use super::{bytes, perf_label, Out, Perf, Status};
use crate::health::snapshot::{IndexScans, IndexUsage, Snapshot};
use crate::tune::Role;
use crate::value::grouped;

const KEY: &str = "tables.unused_index_min_inserts";

/// The replica's counters, or why its reads are not counted.
fn replica_usage(snap: &Snapshot) -> Result<&IndexUsage, &'static str> {
    match snap.server(Role::Replica) {
        None => Err("no replica was probed"),
        Some(r) if r.unreachable.is_some() => Err("the replica did not answer"),
        Some(r) => r
            .index_usage
            .as_ref()
            .ok_or("the replica's index statistics could not be read"),
    }
}

/// Scans of `i` on a server; an index the replica does not list (its
/// creation not replayed yet) was read by none of its queries.
fn scans_on(u: &IndexUsage, i: &IndexScans) -> i64 {
    u.indexes
        .iter()
        .find(|x| x.index == i.index && x.table == i.table)
        .map_or(0, |x| x.scans)
}

fn ago(s: f64) -> String {
    match s {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} d", s / 86400.0),
    }
}

/// Since when the counters of every server counted cover: the later of
/// their beginnings, with which server and why it began then.
fn since(counted: &[(&str, &IndexUsage)]) -> String {
    let Some((role, u)) = counted
        .iter()
        .min_by(|a, b| a.1.counted_s.total_cmp(&b.1.counted_s))
    else {
        return String::new();
    };
    let ago = ago(u.counted_s);
    match &u.stats_reset {
        Some(t) => format!("since the {role}'s statistics were reset at {t} ({ago} ago)"),
        None => format!(
            "since the {role} started at {} ({ago} ago)",
            u.server_started
        ),
    }
}

pub(super) fn unused(o: &mut Out, snap: &Snapshot) {
    let primary = snap.server(Role::Primary);
    // Inserts are counted where they run: without the primary's counters
    // there is nothing to weigh the reads against.
    let Some(p) = primary.and_then(|s| s.index_usage.as_ref()) else {
        return;
    };
    if p.tables.is_empty() {
        return;
    }
    let replica = replica_usage(snap);
    let mut counted = vec![("primary", p)];
    counted.extend(replica.iter().map(|r| ("replica", *r)));
    let since = since(&counted);
    let min = o.t.get(KEY);
    let (on, unread_where, not_counted) = match replica {
        Ok(_) => ("on primary and replica", "on either server", String::new()),
        Err(why) => (
            "on the primary only",
            "on the primary",
            format!(" (from the primary only: {why})"),
        ),
    };
    let lim = format!("idx_scan 0 {on}, from {} inserts", o.t.shown(KEY));
    let mut summary = Vec::new();
    let mut reported = 0;
    for t in &p.tables {
        let own: Vec<&IndexScans> = p
            .indexes
            .iter()
            .filter(|i| i.table == t.table && !i.backs_constraint)
            .collect();
        let inserts = grouped(t.inserted.max(0) as u64);
        if own.is_empty() {
            summary.push(format!("{}: no index outside its constraints", t.table));
            continue;
        }
        if (t.inserted as f64) < min {
            summary.push(format!(
                "{}: {inserts} inserts, too few inserts to judge",
                t.table
            ));
            continue;
        }
        let unread: Vec<&IndexScans> = own
            .iter()
            .copied()
            .filter(|i| counted.iter().all(|(_, u)| scans_on(u, i) == 0))
            .collect();
        summary.push(format!(
            "{}: {} of {} indexes read ({inserts} inserts)",
            t.table,
            own.len() - unread.len(),
            own.len()
        ));
        for i in unread {
            reported += 1;
            let size = i
                .size_bytes
                .map_or("size unknown".into(), |b| bytes(b as f64));
            let v = format!(
                "{} ({size}) was not read by any query {unread_where} {since}, while {} took \
                 {inserts} inserts: every append maintains it{not_counted}",
                i.index, t.table
            );
            let what = match i.columns.is_empty() {
                true => "its columns".to_string(),
                false => i.columns.join(", "),
            };
            let replica_first = match replica {
                Ok(_) => "",
                Err(_) => "; the replica's queries were not counted, so check its pg_stat_user_indexes first",
            };
            let rec = format!(
                "if no query of the application filters on {what}, drop it \
                 (`DROP INDEX CONCURRENTLY {};` — estune never drops an index itself); \
                 a query that runs rarely (a monthly report) may not have run in that time{replica_first}",
                i.index
            );
            let check = format!("unused_index {}", i.index);
            o.push("tables", &check, Status::Warn, v, lim.clone(), &rec);
        }
    }
    let v = format!("{}; counted {since}{not_counted}", summary.join("; "));
    let perf = Perf {
        label: perf_label(&o.server, "unused_indexes"),
        value: reported as f64,
        uom: "",
        warn: Some(1.0),
        crit: None,
    };
    o.push("tables", "index_usage", Status::Ok, v, lim, "").perf = Some(perf);
}
