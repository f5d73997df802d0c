//! Merging the layers of an `extends` chain (root first, child last) into
//! one validated profile with defaults filled in. Every value that a later
//! error may point at keeps its origin (file, line, column, key).

use super::application::Application;
use super::load::SourceFile;
use super::model::*;
use super::ProfileError;
use crate::tomlfile::line_col;
use crate::value::Value;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub key: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{} (`{}`)",
            self.file, self.line, self.col, self.key
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Located<T> {
    pub value: T,
    pub at: Origin,
}

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    /// The files read, the named profile first.
    pub files: Vec<String>,
    pub description: String,
    pub pg_version: Option<u32>,
    pub method: Method,
    pub allow_overcommit: bool,
    pub durability: Durability,
    pub access: Access,
    pub primary: RoleProfile,
    pub replica: RoleProfile,
    pub tables: BTreeMap<String, TableProfile>,
    pub indexes: BTreeMap<String, BTreeMap<String, Located<Value>>>,
    /// Defaults of the application role's sessions in its database.
    pub application: Application,
}

#[derive(Debug, Clone, Serialize)]
pub struct Durability {
    pub synchronous_commit: SynchronousCommit,
    pub synchronous_standby: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub database: String,
    pub app_user: String,
    pub replication_user: String,
    pub replication_slot: String,
    pub client_networks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleProfile {
    pub resources: Resources,
    pub connections: u32,
    pub workload: Workload,
    pub overrides: BTreeMap<String, Located<Value>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Resources {
    pub memory: Option<u64>,
    pub memory_reservation: Option<u64>,
    pub cpus: Option<f64>,
    pub storage: Option<Storage>,
    pub shm_size: Option<u64>,
    pub wal_disk: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub append_only_share: f64,
    pub read_share: f64,
    pub expected_events: u64,
    pub append_rate: f64,
    pub avg_payload_bytes: u64,
    /// Measured WAL bytes per second, when known.
    pub wal_rate: Option<u64>,
    pub jsonb_containment: bool,
    /// Events a command's boundary typically holds at `expected_events`.
    pub boundary_rows: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableProfile {
    pub options: BTreeMap<String, Located<Value>>,
    pub statistics: BTreeMap<String, Located<i64>>,
}

/// The tables and indexes of the event-store schema (WORKLOAD.md).
pub const TABLES: &[&str] = &["events", "snapshots"];
pub const INDEXES: &[&str] = &[
    "events_pkey",
    "idx_events_event_type",
    "idx_events_occurred_at",
    "idx_events_payload_gin",
    "idx_events_metadata_gin",
    "snapshots_pkey",
    "idx_snapshots_sequence",
    "idx_snapshots_created_at",
];
/// The columns of each table, for statistics targets.
pub const COLUMNS: &[(&str, &[&str])] = &[
    (
        "events",
        &[
            "sequence_number",
            "occurred_at",
            "event_type",
            "payload",
            "metadata",
        ],
    ),
    (
        "snapshots",
        &[
            "projection_type",
            "filter_hash",
            "sequence_number",
            "snapshot_data",
            "created_at",
        ],
    ),
];

fn default_role() -> RoleProfile {
    RoleProfile {
        resources: Resources::default(),
        connections: 50,
        workload: Workload {
            append_only_share: 1.0,
            read_share: 0.5,
            expected_events: 1_000_000,
            append_rate: 300.0,
            avg_payload_bytes: 300,
            wal_rate: None,
            jsonb_containment: true,
            boundary_rows: 100,
        },
        overrides: BTreeMap::new(),
    }
}

/// Merges `files` (child first, as `chain` returns them) and validates.
pub fn resolve(files: &[SourceFile]) -> Result<Profile, ProfileError> {
    let mut p = Profile {
        name: files[0].name.clone(),
        files: files.iter().map(|f| f.label.clone()).collect(),
        description: String::new(),
        pg_version: None,
        method: Method::Eventstore,
        allow_overcommit: false,
        durability: Durability {
            synchronous_commit: SynchronousCommit::On,
            synchronous_standby: false,
        },
        access: Access {
            database: "eventstore".into(),
            app_user: "eventstore".into(),
            replication_user: "replicator".into(),
            replication_slot: "replica_slot".into(),
            client_networks: Vec::new(),
        },
        primary: default_role(),
        replica: default_role(),
        tables: BTreeMap::new(),
        indexes: BTreeMap::new(),
        application: Application::default(),
    };
    for file in files.iter().rev() {
        apply_layer(&mut p, file)?;
    }
    Ok(p)
}

pub(super) struct Ctx<'a> {
    file: &'a SourceFile,
}

impl Ctx<'_> {
    pub(super) fn origin(&self, span: std::ops::Range<usize>, key: String) -> Origin {
        let (line, col) = line_col(&self.file.text, span.start);
        Origin {
            file: self.file.label.clone(),
            line,
            col,
            key,
        }
    }

    fn invalid(&self, key: &str, message: impl Into<String>) -> ProfileError {
        ProfileError::Invalid {
            at: format!("{} (`{key}`)", self.file.label),
            message: message.into(),
        }
    }

    pub(super) fn located_value(
        &self,
        raw: &RawValue,
        key: String,
    ) -> Result<Located<Value>, ProfileError> {
        let at = self.origin(raw.span(), key);
        let value = Value::from_toml(raw.get_ref()).map_err(|m| ProfileError::Invalid {
            at: at.to_string(),
            message: m,
        })?;
        Ok(Located { value, at })
    }
}

fn apply_layer(p: &mut Profile, file: &SourceFile) -> Result<(), ProfileError> {
    let cx = Ctx { file };
    let l = &file.layer;
    if let Some(d) = &l.description {
        p.description = d.trim().to_string();
    }
    if let Some(v) = l.pg_version {
        p.pg_version = Some(v.0);
    }
    if let Some(m) = l.method {
        p.method = m;
    }
    if let Some(a) = l.allow_overcommit {
        p.allow_overcommit = a;
    }
    if let Some(d) = &l.durability {
        if let Some(s) = d.synchronous_commit {
            p.durability.synchronous_commit = s;
        }
        if let Some(s) = d.synchronous_standby {
            p.durability.synchronous_standby = s;
        }
    }
    if let Some(a) = &l.access {
        apply_access(&cx, &mut p.access, a)?;
    }
    if let Some(r) = &l.primary {
        apply_role(&cx, "primary", &mut p.primary, r)?;
    }
    if let Some(r) = &l.replica {
        apply_role(&cx, "replica", &mut p.replica, r)?;
    }
    for (table, t) in l.tables.iter().flatten() {
        apply_table(&cx, p, table, t)?;
    }
    for (index, opts) in l.indexes.iter().flatten() {
        if !INDEXES.contains(&index.as_str()) {
            return Err(cx.invalid(
                &format!("indexes.{index}"),
                format!(
                    "the event-store schema has no index `{index}`; its indexes are {}",
                    INDEXES.join(", ")
                ),
            ));
        }
        let entry = p.indexes.entry(index.clone()).or_default();
        for (k, raw) in opts {
            let v = cx.located_value(raw, format!("indexes.{index}.{k}"))?;
            entry.insert(k.clone(), v);
        }
    }
    if let Some(a) = &l.application {
        super::application::apply(&cx, &mut p.application, a)?;
    }
    Ok(())
}

fn apply_access(cx: &Ctx, acc: &mut Access, a: &AccessLayer) -> Result<(), ProfileError> {
    let names = [
        ("access.database", &a.database, &mut acc.database),
        ("access.app_user", &a.app_user, &mut acc.app_user),
        (
            "access.replication_user",
            &a.replication_user,
            &mut acc.replication_user,
        ),
        (
            "access.replication_slot",
            &a.replication_slot,
            &mut acc.replication_slot,
        ),
    ];
    for (key, given, slot) in names {
        if let Some(v) = given {
            if !is_identifier(v) {
                return Err(cx.invalid(
                    key,
                    format!("`{v}` is not a plain identifier: use lower-case letters, digits and _ (at most 63), starting with a letter"),
                ));
            }
            *slot = v.clone();
        }
    }
    if let Some(nets) = &a.client_networks {
        acc.client_networks.clear();
        for n in nets {
            let at = cx.origin(n.span(), "access.client_networks".into());
            let net = validate_cidr(n.get_ref()).map_err(|message| ProfileError::Invalid {
                at: at.to_string(),
                message,
            })?;
            acc.client_networks.push(net);
        }
    }
    Ok(())
}

/// The rules PostgreSQL imposes on unquoted identifiers, lower-case only so
/// the name means the same quoted or not.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

/// Accepts `a.b.c.d/len` and IPv6 `x::/len`; refuses networks that admit
/// the whole internet.
pub fn validate_cidr(s: &str) -> Result<String, String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not a network: write it as CIDR, e.g. 172.18.0.0/16"))?;
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` in `{s}` is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= max)
        .ok_or_else(|| format!("`{s}`: prefix length must be 0 to {max}"))?;
    if len == 0 {
        return Err(format!(
            "`{s}` admits every address; estune never opens PostgreSQL to the whole internet. Name the clients' network, e.g. 172.18.0.0/16"
        ));
    }
    Ok(format!("{ip}/{len}"))
}

fn apply_role(
    cx: &Ctx,
    role: &str,
    r: &mut RoleProfile,
    l: &RoleLayer,
) -> Result<(), ProfileError> {
    if let Some(res) = &l.resources {
        let key = |k: &str| format!("{role}.resources.{k}");
        if let Some(m) = res.memory {
            r.resources.memory = Some(m.0);
        }
        if let Some(m) = res.memory_reservation {
            r.resources.memory_reservation = Some(m.0);
        }
        if let Some(c) = res.cpus {
            r.resources.cpus = Some(c.0);
        }
        if let Some(s) = res.storage {
            r.resources.storage = Some(s);
        }
        if let Some(s) = res.shm_size {
            r.resources.shm_size = Some(s.0);
        }
        if let Some(s) = res.wal_disk {
            r.resources.wal_disk = Some(s.0);
        }
        if let (Some(lim), Some(res)) = (r.resources.memory, r.resources.memory_reservation) {
            if res > lim {
                return Err(cx.invalid(
                    &key("memory_reservation"),
                    "the reservation is above the memory limit; it must be at most the limit",
                ));
            }
        }
    }
    if let Some(c) = l.connections {
        r.connections = c.0;
    }
    if let Some(w) = &l.workload {
        apply_workload(&mut r.workload, w);
    }
    for (name, raw) in l.overrides.iter().flatten() {
        let v = cx.located_value(raw, format!("{role}.overrides.{name}"))?;
        r.overrides.insert(name.clone(), v);
    }
    Ok(())
}

fn apply_workload(w: &mut Workload, l: &WorkloadLayer) {
    if let Some(v) = l.append_only_share {
        w.append_only_share = v.0;
    }
    if let Some(v) = l.read_share {
        w.read_share = v.0;
    }
    if let Some(v) = l.expected_events {
        w.expected_events = v;
    }
    if let Some(v) = l.append_rate {
        w.append_rate = v.0;
    }
    if let Some(v) = l.avg_payload_bytes {
        w.avg_payload_bytes = v;
    }
    if let Some(v) = l.wal_rate {
        w.wal_rate = Some(v.0);
    }
    if let Some(v) = l.jsonb_containment {
        w.jsonb_containment = v;
    }
    if let Some(v) = l.boundary_rows {
        w.boundary_rows = v.0;
    }
}

fn apply_table(cx: &Ctx, p: &mut Profile, table: &str, t: &TableLayer) -> Result<(), ProfileError> {
    let Some((_, columns)) = COLUMNS.iter().find(|(n, _)| *n == table) else {
        return Err(cx.invalid(
            &format!("tables.{table}"),
            format!(
                "the event-store schema has no table `{table}`; its tables are {}",
                TABLES.join(", ")
            ),
        ));
    };
    let entry = p.tables.entry(table.to_string()).or_default();
    for (k, raw) in t.options.iter().flatten() {
        let v = cx.located_value(raw, format!("tables.{table}.options.{k}"))?;
        entry.options.insert(k.clone(), v);
    }
    for (col, target) in t.statistics.iter().flatten() {
        let key = format!("tables.{table}.statistics.{col}");
        let at = cx.origin(target.span(), key.clone());
        if !columns.contains(&col.as_str()) {
            return Err(ProfileError::Invalid {
                at: at.to_string(),
                message: format!(
                    "table `{table}` has no column `{col}`; its columns are {}",
                    columns.join(", ")
                ),
            });
        }
        let v = *target.get_ref();
        if !(-1..=10_000).contains(&v) {
            return Err(ProfileError::Invalid {
                at: at.to_string(),
                message: format!(
                    "statistics target {v} is out of range: give -1 (the default) to 10000"
                ),
            });
        }
        entry
            .statistics
            .insert(col.clone(), Located { value: v, at });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("172.18.0.0/16", Ok("172.18.0.0/16")),
            ("127.0.0.1/32", Ok("127.0.0.1/32")),
            ("fd00::/8", Ok("fd00::/8")),
            ("0.0.0.0/0", Err("whole internet")),
            ("::/0", Err("whole internet")),
            ("10.0.0.0", Err("CIDR")),
            ("10.0.0.0/33", Err("prefix length")),
            ("banana/8", Err("not an IP")),
        ];
        for (input, want) in cases {
            match (validate_cidr(input), want) {
                (Ok(got), Ok(w)) => assert_eq!(&got, w),
                (Err(got), Err(w)) => assert!(got.contains(w), "{input}: {got}"),
                (got, w) => panic!("{input}: got {got:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn identifiers() {
        for ok in ["eventstore", "replica_slot", "_x1"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "Event", "1abc", "a-b", "a b", "x'; drop"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
