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

/// Defines a number type whose range is checked while the file is parsed,
/// so a bad value is reported with its line and column.
macro_rules! checked_number {
    ($name:ident, $inner:ty, $ok:expr, $msg:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <$inner>::deserialize(d)?;
                let ok: fn($inner) -> bool = $ok;
                if ok(v) {
                    Ok($name(v))
                } else {
                    Err(serde::de::Error::custom(format!($msg, v)))
                }
            }
        }
    };
}

checked_number!(
    PgVersion,
    u32,
    |v| (13..=18).contains(&v),
    "PostgreSQL {} is not supported; estune knows 13 to 18"
);
checked_number!(
    Cpus,
    f64,
    |v| v > 0.0 && v <= 1024.0,
    "{} CPUs: give a number above 0, e.g. 2 or 0.5"
);
checked_number!(
    Share,
    f64,
    |v| (0.0..=1.0).contains(&v),
    "{} is a share: give 0.0 to 1.0"
);
checked_number!(
    Rate,
    f64,
    |v| v >= 0.0 && v.is_finite(),
    "{} events/s: give a rate of 0 or more"
);
checked_number!(
    BoundaryRows,
    u64,
    |v| (1..=1_000_000_000).contains(&v),
    "{} rows: a boundary holds at least 1 event; give the typical number of events one command reads"
);
checked_number!(
    Connections,
    u32,
    |v| (1..=100_000).contains(&v),
    "{} connections: give 1 to 100000"
);

/// A memory limit: a size of at least 64MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryLimit(pub u64);

impl<'de> Deserialize<'de> for MemoryLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Size(b) = Size::deserialize(d)?;
        if b < 64 << 20 {
            return Err(serde::de::Error::custom(
                "a memory limit below 64MB cannot hold a PostgreSQL server; give at least 256MB",
            ));
        }
        Ok(MemoryLimit(b))
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
    pub pg_version: Option<PgVersion>,
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
    /// What the application's own sessions get.
    pub application: Option<ApplicationLayer>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationLayer {
    /// Defaults of the sessions of `access.app_user` in `access.database`
    /// (`ALTER ROLE … IN DATABASE … SET`), on the primary and the replica:
    /// the narrowest scope for a setting only this workload needs.
    pub settings: Option<BTreeMap<String, RawValue>>,
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
    pub connections: Option<Connections>,
    pub workload: Option<WorkloadLayer>,
    /// Settings that always win over formulas (still validated).
    pub overrides: Option<BTreeMap<String, RawValue>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesLayer {
    /// Container memory limit; absent → `--memory`, cgroup limit, host RAM.
    pub memory: Option<MemoryLimit>,
    /// Memory reservation (soft limit) for the container.
    pub memory_reservation: Option<Size>,
    pub cpus: Option<Cpus>,
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
    pub append_only_share: Option<Share>,
    /// Share of statements that only read.
    pub read_share: Option<Share>,
    /// Events the store is expected to hold.
    pub expected_events: Option<u64>,
    /// Events appended per second at the design rate.
    pub append_rate: Option<Rate>,
    pub avg_payload_bytes: Option<u64>,
    /// WAL written per second, measured (LSN delta over a run, as `estune
    /// bench` reports it); replaces the estimate from the append rate.
    pub wal_rate: Option<Size>,
    /// Boundary queries use JSONB containment (`payload @> …`).
    pub jsonb_containment: Option<bool>,
    /// Events a command's boundary typically holds when the store holds
    /// `expected_events` (the rows its boundary query returns).
    pub boundary_rows: Option<BoundaryRows>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableLayer {
    /// Storage parameters (`ALTER TABLE … SET (…)`).
    pub options: Option<BTreeMap<String, RawValue>>,
    /// Column statistics targets (`ALTER COLUMN … SET STATISTICS`).
    pub statistics: Option<BTreeMap<String, Spanned<i64>>>,
}
