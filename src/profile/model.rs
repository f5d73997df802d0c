//! The profile file format: every field optional, so that a profile that
//! `extends` another states only what differs. One file deserializes into a
//! [`ProfileLayer`]; layers merge child-over-parent into the resolved
//! [`super::Profile`].

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

/// How values are computed before overrides apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// PostgreSQL's defaults, plus only what streaming replication needs.
    Stock,
    /// PGTune's OLTP formulas, as a comparison baseline.
    PgtuneOltp,
    /// estune's recommendation for the event-store workload.
    Eventstore,
}

impl Method {
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Stock => "stock",
            Method::PgtuneOltp => "pgtune-oltp",
            Method::Eventstore => "eventstore",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    Hdd,
    Ssd,
    Nvme,
    San,
}

impl Storage {
    pub fn as_str(&self) -> &'static str {
        match self {
            Storage::Hdd => "hdd",
            Storage::Ssd => "ssd",
            Storage::Nvme => "nvme",
            Storage::San => "san",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SynchronousCommit {
    On,
    Off,
    Local,
    RemoteWrite,
    RemoteApply,
}

impl SynchronousCommit {
    pub fn as_str(&self) -> &'static str {
        match self {
            SynchronousCommit::On => "on",
            SynchronousCommit::Off => "off",
            SynchronousCommit::Local => "local",
            SynchronousCommit::RemoteWrite => "remote_write",
            SynchronousCommit::RemoteApply => "remote_apply",
        }
    }
}

/// A size written as text with a unit (`"4GiB"`), parsed at load time so the
/// error points at the line that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::value::parse_size(&s)
            .map(Size)
            .map_err(serde::de::Error::custom)
    }
}

/// Any TOML scalar with its position, for overrides and storage parameters
/// whose meaning is only known once the catalog is consulted.
pub type RawValue = Spanned<toml::Value>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileLayer {
    pub extends: Option<String>,
    pub description: Option<String>,
    /// Target PostgreSQL major version (13–18).
    pub pg_version: Option<u32>,
    pub method: Option<Method>,
    /// Accept a worst-case memory budget above the limit (warning, not error).
    pub allow_overcommit: Option<bool>,
    pub durability: Option<DurabilityLayer>,
    pub access: Option<AccessLayer>,
    pub primary: Option<RoleLayer>,
    pub replica: Option<RoleLayer>,
    /// Storage parameters and statistics targets per table of the schema.
    pub tables: Option<BTreeMap<String, TableLayer>>,
    /// Storage parameters per index of the schema.
    pub indexes: Option<BTreeMap<String, BTreeMap<String, RawValue>>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurabilityLayer {
    pub synchronous_commit: Option<SynchronousCommit>,
    /// Make the replica a synchronous standby (commits wait for it).
    pub synchronous_standby: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLayer {
    pub database: Option<String>,
    pub app_user: Option<String>,
    pub replication_user: Option<String>,
    pub replication_slot: Option<String>,
    /// Networks (CIDR) besides loopback that may connect, e.g. the cluster's
    /// own Docker network. `0.0.0.0/0` and `::/0` are refused.
    pub client_networks: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleLayer {
    pub resources: Option<ResourcesLayer>,
    /// Client connections the application's pool opens to this server.
    pub connections: Option<u32>,
    pub workload: Option<WorkloadLayer>,
    /// Settings that always win over formulas (still validated).
    pub overrides: Option<BTreeMap<String, RawValue>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesLayer {
    /// Container memory limit; absent → `--memory`, cgroup limit, host RAM.
    pub memory: Option<Size>,
    /// Memory reservation (soft limit) for the container.
    pub memory_reservation: Option<Size>,
    pub cpus: Option<f64>,
    pub storage: Option<Storage>,
    /// Size of /dev/shm in the container (Docker's default 64MB is too small
    /// for parallel queries' dynamic shared memory).
    pub shm_size: Option<Size>,
    /// Space for WAL; bounds max_wal_size and slot retention when known.
    pub wal_disk: Option<Size>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadLayer {
    /// Share of writes that are inserts never updated (events: 1.0).
    pub append_only_share: Option<f64>,
    /// Share of statements that only read.
    pub read_share: Option<f64>,
    /// Events the store is expected to hold.
    pub expected_events: Option<u64>,
    /// Events appended per second at the design rate.
    pub append_rate: Option<f64>,
    pub avg_payload_bytes: Option<u64>,
    /// WAL written per second, measured (LSN delta over a run, as `estune
    /// bench` reports it); replaces the estimate from the append rate.
    pub wal_rate: Option<Size>,
    /// Boundary queries use JSONB containment (`payload @> …`).
    pub jsonb_containment: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableLayer {
    /// Storage parameters (`ALTER TABLE … SET (…)`).
    pub options: Option<BTreeMap<String, RawValue>>,
    /// Column statistics targets (`ALTER COLUMN … SET STATISTICS`).
    pub statistics: Option<BTreeMap<String, Spanned<i64>>>,
}
