//! `render --format cnpg`: a CloudNativePG `Cluster` manifest for the pair
//! (two instances). The operator gives every instance the same
//! parameters and resources, so where the roles' plans differ one value
//! serves both; it fixes or refuses some parameters, which are left out
//! with the reason; and its admission webhook refuses a memory request
//! below `shared_buffers` or above the limit, which is checked here
//! before anyone applies the manifest.

use super::yaml::{map, n, s};
use super::{params, Export, ExportError, File, Mode, Options, Placement, Target};
use crate::tune::{Plan, Role};
use crate::value::{human, Value};

const FIXED_TSV: &str = include_str!("cnpg-fixed-parameters.tsv");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedKind {
    /// The operator sets it itself.
    Fixed,
    /// The operator refuses it.
    Blocked,
}

/// The parameters the operator does not let a user set, from its source.
pub fn fixed_parameters() -> Vec<(&'static str, FixedKind)> {
    FIXED_TSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, kind) = l.split_once('\t')?;
            let kind = match kind.trim() {
                "fixed" => FixedKind::Fixed,
                "blocked" => FixedKind::Blocked,
                _ => return None,
            };
            Some((name.trim(), kind))
        })
        .collect()
}

/// Parameters a standby alone acts on: where the roles differ, the
/// replica's value serves both instances.
const STANDBY_ONLY: &[&str] = &[
    "hot_standby_feedback",
    "max_standby_streaming_delay",
    "max_standby_archive_delay",
    "wal_receiver_status_interval",
    "wal_receiver_timeout",
    "wal_retrieve_retry_interval",
    "recovery_prefetch",
];

/// Parameters a standby needs at least as large as its primary's
/// (estune's hot-standby parity list), and two a standby needs to follow
/// its primary at all: where the roles differ, the larger serves both.
fn parity(name: &str) -> bool {
    crate::tune::defaults::PARITY.contains(&name)
        || ["wal_level", "track_commit_timestamp"].contains(&name)
}

/// Libraries the operator preloads itself when a parameter of their
/// namespace is set (its "managed extensions").
const MANAGED_LIBRARIES: &[&str] = &[
    "pg_stat_statements",
    "auto_explain",
    "pgaudit",
    "pg_failover_slots",
];

pub fn export(plan: &Plan, opts: &Options) -> Result<Export, ExportError> {
    let fixed = fixed_parameters();
    let mut placements = Vec::new();
    let mut warnings = Vec::new();
    let mut parameters: Vec<(String, String)> = Vec::new();
    let mut preload: Vec<String> = Vec::new();
    const PLACE: &str = "spec.postgresql.parameters";
    for p in params(plan) {
        if p.name == "shared_preload_libraries" {
            let libs = p
                .plain(Role::Primary)
                .or_else(|| p.plain(Role::Replica))
                .unwrap_or_default();
            preload = libs
                .split(',')
                .map(|l| l.trim().trim_matches('"').to_string())
                .filter(|l| !l.is_empty())
                .collect();
            let (managed, other): (Vec<_>, Vec<_>) = preload
                .iter()
                .partition(|l| MANAGED_LIBRARIES.contains(&l.as_str()));
            let mut why = "the operator sets it (fixed)".to_string();
            if !managed.is_empty() {
                why = format!(
                    "{why}; it preloads {} itself because a parameter of their namespace is set",
                    join(&managed)
                );
            }
            if !other.is_empty() {
                warnings.push(format!(
                    "shared_preload_libraries: the operator does not preload {}; \
                     build an image that does, or drop them from the profile",
                    join(&other)
                ));
                why = format!("{why}; {} not preloaded", join(&other));
            }
            placements.push(dropped(p.name, why));
            continue;
        }
        if let Some((_, kind)) = fixed.iter().find(|(f, _)| *f == p.name) {
            let why = match kind {
                FixedKind::Fixed => "the operator sets it (fixed)",
                FixedKind::Blocked => "the operator refuses it (blocked)",
            };
            warnings.push(format!("{} left out: {why}", p.name));
            placements.push(dropped(p.name, why.to_string()));
            continue;
        }
        let (value, why) = if p.same() {
            (p.plain(Role::Primary).unwrap_or_default(), None)
        } else if STANDBY_ONLY.contains(&p.name) {
            (
                p.plain(Role::Replica).unwrap_or_default(),
                Some("acts on a standby only: the replica's value serves both".to_string()),
            )
        } else if parity(p.name) {
            let v = super::larger(p.value(Role::Primary), p.value(Role::Replica))
                .map(Value::to_plain)
                .unwrap_or_default();
            (
                v,
                Some("a standby needs at least its primary's: the larger serves both".to_string()),
            )
        } else if let Some(v) = p.plain(Role::Primary) {
            let replica = p.plain(Role::Replica).unwrap_or_else(|| "unset".into());
            warnings.push(format!(
                "{}: every instance gets the primary's {v} (the replica's plan has {replica}): \
                 the operator gives all instances one configuration",
                p.name
            ));
            (
                v,
                Some("one configuration for all instances: the primary's value".to_string()),
            )
        } else {
            let v = p.plain(Role::Replica).unwrap_or_default();
            warnings.push(format!(
                "{}: every instance gets the replica's {v} (the primary's plan leaves it unset): \
                 the operator gives all instances one configuration",
                p.name
            ));
            (
                v,
                Some("one configuration for all instances: the replica's value".to_string()),
            )
        };
        parameters.push((p.name.to_string(), value.clone()));
        placements.push(Placement {
            name: p.name.to_string(),
            primary: Some(value.clone()),
            replica: Some(value),
            place: PLACE.into(),
            why,
        });
    }
    // pg_stat_statements is preloaded by the operator when a parameter of
    // its namespace is set; the plan's own ones do, else `track` at its
    // default value says "use the extension".
    for lib in preload
        .iter()
        .filter(|l| MANAGED_LIBRARIES.contains(&l.as_str()))
    {
        let prefix = format!("{lib}.");
        if !parameters.iter().any(|(k, _)| k.starts_with(&prefix)) {
            if let Some((k, v)) = namespace_trigger(lib) {
                parameters.push((k.to_string(), v.to_string()));
                placements.push(Placement {
                    name: k.to_string(),
                    primary: Some(v.to_string()),
                    replica: Some(v.to_string()),
                    place: PLACE.into(),
                    why: Some(format!(
                        "its default, written so the operator preloads {lib} (managed extension)"
                    )),
                });
            }
        }
    }
    let res = resources(plan, opts)?;
    check_memory_rules(&parameters, &res)?;
    warnings.extend(res.notes.iter().cloned());
    if opts.image.is_none() {
        warnings.push(format!(
            "no --image: the operator runs its default image, whose PostgreSQL major version \
             may not be {} (the plan's); pass --image with a PostgreSQL {} image",
            plan.pg_version, plan.pg_version
        ));
    }
    let manifest = manifest(plan, opts, &parameters, &res);
    let header = super::comment_header(plan, Target::Cnpg, "CloudNativePG Cluster of the pair");
    Ok(Export {
        target: Target::Cnpg,
        files: vec![File {
            path: "cluster.yaml".into(),
            text: super::yaml::document(&header, &manifest),
            mode: Mode::Public,
        }],
        placements,
        warnings,
    })
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn dropped(name: &str, why: String) -> Placement {
    Placement {
        name: name.to_string(),
        primary: None,
        replica: None,
        place: "left out".into(),
        why: Some(why),
    }
}

/// A parameter, at its PostgreSQL default, that makes the operator
/// preload `lib`.
fn namespace_trigger(lib: &str) -> Option<(&'static str, &'static str)> {
    match lib {
        "pg_stat_statements" => Some(("pg_stat_statements.track", "top")),
        "auto_explain" => Some(("auto_explain.log_min_duration", "-1")),
        "pgaudit" => Some(("pgaudit.log", "none")),
        _ => None,
    }
}

/// The instances' resources: the larger role's limit and request (the
/// operator gives every instance the same), CPUs as both request and
/// limit.
#[derive(Debug)]
struct Resources {
    memory_limit: u64,
    memory_request: u64,
    cpus: f64,
    shm: Option<u64>,
    notes: Vec<String>,
}

fn resources(plan: &Plan, opts: &Options) -> Result<Resources, ExportError> {
    let mut notes = Vec::new();
    let [p, r] = [Role::Primary, Role::Replica].map(|role| {
        let (limit, reservation) = super::memory(plan, opts, role);
        (
            limit,
            reservation.unwrap_or(limit),
            plan.role(role).inputs.cpus.value,
        )
    });
    let memory_limit = p.0.max(r.0);
    let memory_request = p.1.max(r.1);
    let cpus = p.2.max(r.2);
    if p.0 != r.0 || p.2 != r.2 {
        notes.push(format!(
            "resources: the roles differ (primary {} and {} CPUs, replica {} and {} CPUs); \
             every instance gets the larger, {} and {} CPUs",
            human(p.0),
            p.2,
            human(r.0),
            r.2,
            human(memory_limit),
            cpus
        ));
    }
    let shm = [Role::Primary, Role::Replica]
        .iter()
        .filter_map(|role| opts.resources[super::index(*role)].shm_size)
        .max();
    Ok(Resources {
        memory_limit,
        memory_request,
        cpus,
        shm,
        notes,
    })
}

/// The operator's admission rules for resources (its webhook's
/// `validateResources`): the memory request at most the limit and at
/// least `shared_buffers`. A manifest breaking them would be refused at
/// `kubectl apply`; say so now, with what to change.
fn check_memory_rules(parameters: &[(String, String)], res: &Resources) -> Result<(), ExportError> {
    if res.memory_request > res.memory_limit {
        return Err(ExportError::Invalid(format!(
            "CloudNativePG refuses a memory request ({}) above the limit ({}): lower \
             resources.memory_reservation in the profile",
            human(res.memory_request),
            human(res.memory_limit)
        )));
    }
    if let Some((_, sb)) = parameters.iter().find(|(k, _)| k == "shared_buffers") {
        if let Some(bytes) = Value::from_text(sb).as_bytes() {
            if bytes > res.memory_request {
                return Err(ExportError::Invalid(format!(
                    "CloudNativePG refuses shared_buffers ({sb}) above the memory request ({}): \
                     raise resources.memory_reservation (or --memory) or lower shared_buffers",
                    human(res.memory_request)
                )));
            }
        }
    }
    Ok(())
}

/// A Kubernetes quantity of bytes: the largest binary unit that is exact.
pub fn quantity_bytes(b: u64) -> String {
    super::exact_size(b, &["Ti", "Gi", "Mi", "Ki"])
}

/// A Kubernetes CPU quantity: whole CPUs, else millicores.
pub fn quantity_cpus(c: f64) -> String {
    if c.fract() == 0.0 {
        format!("{}", c as u64)
    } else {
        format!("{}m", (c * 1000.0).round() as u64)
    }
}

fn manifest(
    plan: &Plan,
    opts: &Options,
    parameters: &[(String, String)],
    res: &Resources,
) -> serde_norway::Value {
    let a = &plan.access;
    let mut spec = vec![("instances", n(2))];
    if let Some(image) = &opts.image {
        spec.push(("imageName", s(image.clone())));
    }
    spec.push((
        "postgresql",
        map([(
            "parameters",
            map(parameters.iter().map(|(k, v)| (k.clone(), s(v.clone())))),
        )]),
    ));
    spec.push((
        "bootstrap",
        map([(
            "initdb",
            map([
                ("database", s(a.database.clone())),
                ("owner", s(a.app_user.clone())),
                ("dataChecksums", serde_norway::Value::Bool(true)),
            ]),
        )]),
    ));
    let amounts = |memory: u64| {
        map([
            ("memory", s(quantity_bytes(memory))),
            ("cpu", s(quantity_cpus(res.cpus))),
        ])
    };
    spec.push((
        "resources",
        map([
            ("requests", amounts(res.memory_request)),
            ("limits", amounts(res.memory_limit)),
        ]),
    ));
    if let Some(shm) = res.shm {
        spec.push((
            "ephemeralVolumesSizeLimit",
            map([("shm", s(quantity_bytes(shm)))]),
        ));
    }
    spec.push(("storage", map([("size", s(opts.storage_size.clone()))])));
    map([
        ("apiVersion", s("postgresql.cnpg.io/v1")),
        ("kind", s("Cluster")),
        (
            "metadata",
            map([
                ("name", s(opts.name.clone())),
                (
                    "annotations",
                    map([
                        ("estune/profile", s(plan.profile.clone())),
                        ("estune/plan", s(plan.hash.clone())),
                    ]),
                ),
            ]),
        ),
        ("spec", map(spec)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_list_is_read_whole() {
        let f = fixed_parameters();
        assert_eq!(f.len(), 64);
        assert!(f.contains(&("shared_preload_libraries", FixedKind::Fixed)));
        assert!(f.contains(&("listen_addresses", FixedKind::Blocked)));
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes(4 << 30), "4Gi");
        assert_eq!(quantity_bytes(1536 << 20), "1536Mi");
        assert_eq!(quantity_bytes(1000), "1000");
        assert_eq!(quantity_cpus(2.0), "2");
        assert_eq!(quantity_cpus(1.5), "1500m");
    }

    fn res(request: u64, limit: u64) -> Resources {
        Resources {
            memory_limit: limit,
            memory_request: request,
            cpus: 1.0,
            shm: None,
            notes: vec![],
        }
    }

    #[test]
    fn the_webhooks_memory_rules() {
        let sb = |v: &str| vec![("shared_buffers".to_string(), v.to_string())];
        assert!(check_memory_rules(&sb("1GB"), &res(2 << 30, 4 << 30)).is_ok());
        let e = check_memory_rules(&sb("3GB"), &res(2 << 30, 4 << 30))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("shared_buffers (3GB)") && e.contains("(2 GiB)"),
            "{e}"
        );
        let e = check_memory_rules(&sb("1GB"), &res(5 << 30, 4 << 30))
            .unwrap_err()
            .to_string();
        assert!(e.contains("above the limit"), "{e}");
    }
}
