//! What the probes saw, as data: one [`ServerSnapshot`] per server plus
//! what only the pair tells (settings parity, drift from the plan). The
//! JSON output is this structure, so every figure is named and unit-bearing
//! (`_bytes`, `_ms`, `_s`).

use crate::tune::Role;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// RFC 3339, when the probes started.
    pub taken_at: String,
    /// Wall time of all probes of both servers, milliseconds.
    pub probe_ms: f64,
    /// Seconds between the two samples that `rates` come from.
    pub interval_s: Option<f64>,
    pub servers: Vec<ServerSnapshot>,
    pub config: Option<ConfigCheck>,
}

impl Snapshot {
    pub fn server(&self, role: Role) -> Option<&ServerSnapshot> {
        self.servers.iter().find(|s| s.role == role)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerSnapshot {
    pub role: Role,
    /// host:port/dbname, never a password.
    pub label: String,
    /// Why the server could not be probed at all (down, refused login).
    pub unreachable: Option<Unreachable>,
    pub version: Option<String>,
    pub version_num: Option<i32>,
    pub in_recovery: Option<bool>,
    pub database: Option<String>,
    /// pg_current_wal_lsn() on a primary.
    pub wal_lsn: Option<String>,
    pub probe_ms: f64,
    pub connections: Option<Connections>,
    pub counters: Option<Counters>,
    /// Per second between two samples (`--interval`, `--watch`).
    pub rates: Option<Rates>,
    pub cache: Option<Cache>,
    /// pg_stat_replication rows (on a primary).
    pub senders: Vec<Sender>,
    /// The WAL receiver side (on a replica).
    pub receiver: Option<Receiver>,
    pub slots: Option<Slots>,
    /// `events` and `snapshots`, when they exist in `database`.
    pub tables: Vec<TableHealth>,
    pub gin: Option<GinPending>,
    /// How often queries on this server read each index of `events` and
    /// `snapshots`, and the inserts those tables took.
    pub index_usage: Option<IndexUsage>,
    pub wraparound: Option<Wraparound>,
    pub sequence: Option<SequenceHeadroom>,
    pub checkpoints: Option<Checkpoints>,
    pub locks: Option<Locks>,
    pub statements: Option<Statements>,
    pub settings: Option<Settings>,
    /// From the cluster backend (managed clusters only).
    pub memory: Option<Memory>,
    /// Probes that failed, "area: message"; the others still ran.
    pub errors: Vec<String>,
}

impl ServerSnapshot {
    pub fn new(role: Role, label: String) -> Self {
        ServerSnapshot {
            role,
            label,
            unreachable: None,
            version: None,
            version_num: None,
            in_recovery: None,
            database: None,
            wal_lsn: None,
            probe_ms: 0.0,
            connections: None,
            counters: None,
            rates: None,
            cache: None,
            senders: Vec::new(),
            receiver: None,
            slots: None,
            tables: Vec::new(),
            gin: None,
            index_usage: None,
            wraparound: None,
            sequence: None,
            checkpoints: None,
            locks: None,
            statements: None,
            settings: None,
            memory: None,
            errors: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreachable {
    /// "down" (refused, no answer) or "login" (rejected credentials, a bad
    /// connection string): health is unknown then, not bad.
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Connections {
    /// Client backends, this probe's own included.
    pub total: i64,
    pub max_connections: i64,
    /// superuser_reserved_connections (+ reserved_connections on 16+).
    pub reserved: i64,
    /// max_connections - reserved: what ordinary roles can use.
    pub available: i64,
    pub by_state: BTreeMap<String, i64>,
    /// "Type:Event" → count; "" when not waiting.
    pub by_wait_event: BTreeMap<String, i64>,
    /// Backends waiting for their client to send (ClientRead).
    pub client_read: i64,
    pub idle_in_transaction: i64,
    pub longest_idle_in_transaction_s: Option<f64>,
    pub longest_transaction_s: Option<f64>,
}

/// Cumulative counters of pg_stat_database, summed over databases.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counters {
    pub commits: i64,
    pub rollbacks: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
    pub tup_returned: i64,
    pub tup_fetched: i64,
    pub blks_hit: i64,
    pub blks_read: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rates {
    pub commits: f64,
    pub rollbacks: f64,
    pub tup_inserted: f64,
    pub tup_updated: f64,
    pub tup_deleted: f64,
    pub tup_returned: f64,
    pub tup_fetched: f64,
    /// Hit ratio of the blocks read in the interval; null when none.
    pub cache_hit_ratio: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Cache {
    /// Since the statistics were reset.
    pub databases: Vec<DatabaseCache>,
    pub tables: Vec<TableCache>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseCache {
    pub database: String,
    /// Null for a database never read.
    pub hit_ratio: Option<f64>,
    /// Blocks hit + read.
    pub blocks: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableCache {
    pub table: String,
    pub heap_hit_ratio: Option<f64>,
    pub heap_blocks: i64,
    pub index_hit_ratio: Option<f64>,
    pub index_blocks: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Sender {
    pub application_name: String,
    pub state: String,
    pub sync_state: String,
    /// Primary's current LSN minus each position, bytes.
    pub sent_lag_bytes: Option<f64>,
    pub write_lag_bytes: Option<f64>,
    pub flush_lag_bytes: Option<f64>,
    pub replay_lag_bytes: Option<f64>,
    /// write_lag/flush_lag/replay_lag; null once the standby caught up.
    pub write_lag_ms: Option<f64>,
    pub flush_lag_ms: Option<f64>,
    pub replay_lag_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Receiver {
    /// pg_stat_wal_receiver.status; null when no WAL receiver runs.
    pub status: Option<String>,
    pub receive_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    /// Received but not yet replayed, bytes.
    pub receive_replay_gap_bytes: Option<f64>,
    /// The primary's current LSN (probed at about the same time) minus
    /// this replay LSN; null without a primary.
    pub primary_gap_bytes: Option<f64>,
    pub replay_paused: bool,
    /// now() - pg_last_xact_replay_timestamp(): grows on an idle primary
    /// too, so only meaningful when a byte gap exists.
    pub last_replay_age_s: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Slots {
    /// max_slot_wal_keep_size in bytes; null when unlimited (-1).
    pub max_slot_wal_keep_size_bytes: Option<f64>,
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Slot {
    pub name: String,
    pub slot_type: String,
    pub active: bool,
    pub retained_bytes: Option<f64>,
    pub wal_status: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableHealth {
    pub table: String,
    /// Null when the table was locked exclusively at the time.
    pub total_bytes: Option<i64>,
    pub live_tuples: i64,
    pub dead_tuples: i64,
    pub mod_since_analyze: i64,
    pub ins_since_vacuum: i64,
    pub last_vacuum: Option<String>,
    pub last_autovacuum: Option<String>,
    pub last_analyze: Option<String>,
    pub last_autoanalyze: Option<String>,
    pub vacuum_count: i64,
    pub autovacuum_count: i64,
    pub analyze_count: i64,
    pub autoanalyze_count: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GinPending {
    /// pgstattuple, pageinspect, or null when neither is installed.
    pub via: Option<String>,
    pub note: Option<String>,
    pub indexes: Vec<GinIndex>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GinIndex {
    pub index: String,
    pub pending_pages: i64,
    pub pending_tuples: i64,
}

/// Cumulative counters since this database's statistics began: they
/// survive a clean restart and start again at `pg_stat_reset()` or crash
/// recovery (an immediate shutdown, a base backup's first start).
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexUsage {
    /// pg_stat_database.stats_reset of this database, RFC 3339; null when
    /// never reset.
    pub stats_reset: Option<String>,
    /// pg_postmaster_start_time(), RFC 3339.
    pub server_started: String,
    /// Seconds the counters cover at least: since `stats_reset`, or since
    /// the server started when never reset (they may reach further back).
    pub counted_s: f64,
    /// pg_stat_user_tables.n_tup_ins (zero on a standby: inserts are
    /// counted where they run).
    pub tables: Vec<TableInserts>,
    pub indexes: Vec<IndexScans>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableInserts {
    pub table: String,
    pub inserted: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexScans {
    /// As DDL names it (schema-qualified when off the search path).
    pub index: String,
    pub table: String,
    /// Its key columns (`expression` for one that is not a column).
    pub columns: Vec<String>,
    /// Null when the index was locked exclusively at the time.
    pub size_bytes: Option<i64>,
    /// pg_stat_user_indexes.idx_scan: scans by queries on this server.
    pub scans: i64,
    /// Enforces a primary key, unique or exclusion constraint, or is the
    /// replica identity: never a candidate to drop.
    pub backs_constraint: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Wraparound {
    pub oldest_database: String,
    pub datfrozenxid_age: i64,
    /// Oldest table of the probed database.
    pub oldest_table: Option<String>,
    pub relfrozenxid_age: Option<i64>,
    pub autovacuum_freeze_max_age: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SequenceHeadroom {
    pub sequence: String,
    /// Null before the first nextval().
    pub last_value: Option<i64>,
    pub max_value: i64,
    /// last_value / max_value.
    pub used_ratio: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Checkpoints {
    /// pg_stat_checkpointer (17+) or pg_stat_bgwriter.
    pub source: String,
    pub timed: i64,
    pub requested: i64,
    pub buffers_checkpoint: i64,
    pub buffers_clean: i64,
    pub maxwritten_clean: i64,
    /// Buffers client backends wrote themselves (pg_stat_io on 16+).
    pub buffers_backend: Option<i64>,
    pub buffers_alloc: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Locks {
    pub waiting: i64,
    pub blocked: Vec<BlockedBackend>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BlockedBackend {
    pub pid: i32,
    pub blocked_by: Vec<i32>,
    pub wait_event: String,
    pub waiting_s: Option<f64>,
    /// The first 120 characters.
    pub query: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Statements {
    pub installed: bool,
    /// Why there are no rows (not installed, not preloaded).
    pub note: Option<String>,
    pub top: Vec<Statement>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Statement {
    pub queryid: Option<i64>,
    pub calls: i64,
    pub total_ms: f64,
    pub mean_ms: f64,
    pub rows: i64,
    pub query: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    /// The hot-standby-sensitive settings (tune::defaults::PARITY).
    pub parity: BTreeMap<String, String>,
    pub pending_restart: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    pub usage_bytes: Option<u64>,
    pub limit_bytes: Option<u64>,
    pub oom_killed: Option<bool>,
    /// The plan's worst case (tune::budget) for this role, and the memory
    /// it was planned for (the container limit, or what a local server
    /// was sized for).
    pub budget_bytes: Option<u64>,
    pub budget_limit_bytes: Option<u64>,
    pub note: Option<String>,
}

/// What needs both servers or the plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigCheck {
    /// Settings where the replica is below the primary (hot standby
    /// refuses to start or pauses recovery).
    pub parity: Vec<ParityGap>,
    /// The profile last applied (managed clusters) and its plan hash.
    pub profile: Option<String>,
    /// A managed cluster (`estune apply` can fix drift), not a pair given
    /// by connection strings.
    pub managed: bool,
    pub plan_hash: Option<String>,
    /// Live settings that differ from that plan.
    pub drift: Vec<Drift>,
    /// Why drift was not checked.
    pub drift_note: Option<String>,
    /// Storage parameters and statistics targets of the event-store
    /// tables and indexes, and settings of the application role in its
    /// database, that differ from that plan's catalog.sql.
    pub catalog_drift: Vec<CatalogDrift>,
    /// Why the catalog was not checked.
    pub catalog_note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogDrift {
    /// Where it was read (the primary, or the replica when the primary
    /// does not answer: the catalog is the same on both).
    pub role: String,
    /// The table or index, or `role R in database D`.
    pub relation: String,
    /// A storage parameter, `column statistics`, or a role setting.
    pub parameter: String,
    /// The value, or `default` (`default (-1)` for a statistics target,
    /// `not set` for a role setting).
    pub live: String,
    pub planned: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ParityGap {
    pub name: String,
    pub primary: String,
    pub replica: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Drift {
    pub role: String,
    pub name: String,
    pub live: String,
    pub planned: String,
}
