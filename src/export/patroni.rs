//! `render --format patroni`: one Patroni configuration per node
//! (`patroni-primary.yml` for pg1, `patroni-replica.yml` for pg2), the
//! passwords in `secrets.env` (0600) that Patroni reads from its
//! environment, and `post-bootstrap.sh`, which creates the event store's
//! role and database once, on the first leader.
//!
//! Patroni's rules: the parameters PostgreSQL needs equal on every node
//! (and those Patroni keeps equal because any replica may be promoted) are
//! read only from the DCS, so they go to `bootstrap.dcs.postgresql.parameters`,
//! with the larger of the two roles' values; what Patroni sets itself
//! (listen address, port, cluster name, hot_standby, the standby's
//! connection) is left out; everything else is node-local.

use super::secrets::{self, ExportSecrets, Names};
use super::yaml::{map, n, s, seq};
use super::{params, File, Mode, Options, Placement, Target, NODES};
use super::{Export, ExportError};
use crate::render::Renderer;
use crate::tune::{Plan, Role};
use crate::value::Value as PgValue;
use serde_norway::Value;

/// A parameter Patroni takes only from the DCS and passes on the command
/// line (`CMDLINE_OPTIONS` in its source).
struct DcsParam {
    name: &'static str,
    why: &'static str,
    /// Patroni's value when the DCS has none.
    default: &'static str,
    /// The least value Patroni accepts; below it, Patroni runs its default.
    floor: Option<u64>,
}

const PARITY_WHY: &str = "equal on every node: a standby needs at least its primary's";
const PROMOTE_WHY: &str = "Patroni reads it only from the DCS: any node may be promoted";
const EQUAL_WHY: &str = "equal on every node; Patroni reads it only from the DCS";

const fn dcs(
    name: &'static str,
    why: &'static str,
    default: &'static str,
    floor: Option<u64>,
) -> DcsParam {
    DcsParam {
        name,
        why,
        default,
        floor,
    }
}

const DCS: &[DcsParam] = &[
    dcs("max_connections", PARITY_WHY, "100", Some(25)),
    dcs("max_locks_per_transaction", PARITY_WHY, "64", Some(32)),
    dcs("max_worker_processes", PARITY_WHY, "8", Some(2)),
    dcs("max_prepared_transactions", PARITY_WHY, "0", None),
    dcs("max_wal_senders", PARITY_WHY, "10", Some(3)),
    dcs("max_replication_slots", PROMOTE_WHY, "10", Some(4)),
    dcs("wal_keep_size", PROMOTE_WHY, "128MB", Some(16 << 20)),
    dcs("wal_level", EQUAL_WHY, "replica", None),
    dcs(
        "wal_log_hints",
        "Patroni reads it only from the DCS (and keeps it on for pg_rewind)",
        "on",
        None,
    ),
    dcs("track_commit_timestamp", EQUAL_WHY, "off", None),
];

/// The value Patroni will run: `value`, or its floor when below it.
fn at_least(param: &DcsParam, value: &PgValue) -> Option<(String, String)> {
    let floor = param.floor?;
    let (have, floor_text) = match value {
        PgValue::Int(i) => (u64::try_from(*i).unwrap_or(0), floor.to_string()),
        PgValue::Bytes(b) => (*b, crate::value::format_size(floor)),
        _ => return None,
    };
    (have < floor).then(|| (floor_text, value.to_plain()))
}

/// Parameters Patroni sets itself; a value here would be overwritten.
const MANAGED: &[(&str, &str)] = &[
    ("listen_addresses", "Patroni sets it from postgresql.listen"),
    ("port", "Patroni sets it from postgresql.listen"),
    ("cluster_name", "Patroni sets it to the scope"),
    ("hot_standby", "Patroni keeps it on"),
    (
        "primary_conninfo",
        "Patroni writes the standby's connection",
    ),
    (
        "primary_slot_name",
        "Patroni names the slots after its members",
    ),
    ("restore_command", "Patroni's postgresql.recovery_conf"),
    ("recovery_target_timeline", "Patroni manages recovery"),
    (
        "synchronous_standby_names",
        "Patroni's synchronous_mode sets it",
    ),
    (
        "hba_file",
        "Patroni writes pg_hba.conf from postgresql.pg_hba",
    ),
    ("ident_file", "Patroni manages the data directory's files"),
    ("config_file", "Patroni manages the data directory's files"),
    ("data_directory", "Patroni sets it from postgresql.data_dir"),
];

pub const NAMES: Names = Names {
    superuser: "PATRONI_SUPERUSER_PASSWORD",
    replication: "PATRONI_REPLICATION_PASSWORD",
    app: "ESTUNE_APP_PASSWORD",
};

pub const POST_BOOTSTRAP: &str = "post-bootstrap.sh";

pub fn file_name(role: Role) -> String {
    format!("patroni-{role}.yml")
}

pub fn export(
    plan: &Plan,
    opts: &Options,
    renderer: &Renderer,
    secrets: &ExportSecrets,
) -> Result<Export, ExportError> {
    let hosts = etcd_hosts(&opts.dcs)?;
    let mut placements = Vec::new();
    let mut warnings = Vec::new();
    let mut dcs_params = Vec::new();
    let mut local: [Vec<(String, Value)>; 2] = [Vec::new(), Vec::new()];
    for p in params(plan) {
        if let Some((_, why)) = MANAGED.iter().find(|(m, _)| *m == p.name) {
            placements.push(Placement {
                name: p.name.to_string(),
                primary: None,
                replica: None,
                place: "left out".into(),
                why: Some((*why).to_string()),
            });
            warnings.push(format!("{} left out: {why}", p.name));
            continue;
        }
        if let Some(d) = DCS.iter().find(|d| d.name == p.name) {
            let larger = super::larger(p.value(Role::Primary), p.value(Role::Replica));
            let mut v = larger.map(|v| v.to_plain()).unwrap_or_default();
            let mut why = d.why.to_string();
            if let Some((floor, planned)) = larger.and_then(|l| at_least(d, l)) {
                warnings.push(format!(
                    "{}: Patroni refuses {planned} (below {floor}) and would run its default \
                     instead; {floor} written",
                    p.name
                ));
                why = format!("{why}; raised to Patroni's least value");
                v = floor;
            }
            if !p.same() {
                let msg = format!(
                    "{}: the roles differ (primary {}, replica {}); Patroni needs one value, \
                     both nodes get the larger, {v}",
                    p.name,
                    p.plain(Role::Primary).unwrap_or_else(|| "unset".into()),
                    p.plain(Role::Replica).unwrap_or_else(|| "unset".into()),
                );
                why = format!("{why}; roles differ, the larger serves both");
                warnings.push(msg);
            }
            dcs_params.push((p.name.to_string(), s(v.clone())));
            placements.push(Placement {
                name: p.name.to_string(),
                primary: Some(v.clone()),
                replica: Some(v),
                place: "bootstrap.dcs.postgresql.parameters".into(),
                why: Some(why),
            });
            continue;
        }
        for (i, role) in Role::BOTH.iter().enumerate() {
            if let Some(v) = p.plain(*role) {
                local[i].push((p.name.to_string(), s(v)));
            }
        }
        placements.push(Placement {
            name: p.name.to_string(),
            primary: p.plain(Role::Primary),
            replica: p.plain(Role::Replica),
            place: "postgresql.parameters".into(),
            why: None,
        });
    }
    // The sockets go beside the data directories, which Patroni's OS user
    // owns, rather than to a system directory that may belong to another
    // user (or not exist) on the machine.
    let sockets = opts.data_root.display().to_string();
    if !placements
        .iter()
        .any(|p| p.name == "unix_socket_directories")
    {
        for l in &mut local {
            l.push(("unix_socket_directories".into(), s(sockets.clone())));
        }
        placements.push(Placement {
            name: "unix_socket_directories".into(),
            primary: Some(sockets.clone()),
            replica: Some(sockets),
            place: "postgresql.parameters".into(),
            why: Some(
                "added: the nodes' sockets beside their data directories (--data-dir), which \
                 Patroni's OS user owns"
                    .into(),
            ),
        });
    }
    for d in DCS {
        if !placements.iter().any(|p| p.name == d.name) {
            placements.push(Placement {
                name: d.name.to_string(),
                primary: Some(d.default.to_string()),
                replica: Some(d.default.to_string()),
                place: "Patroni's default".into(),
                why: Some(
                    "not in the plan: Patroni passes its own default on the command line".into(),
                ),
            });
        }
    }
    // Nodes on other machines replicate from, and connect to, each
    // other's address.
    let mut netplan = plan.clone();
    for h in &opts.hosts {
        if let Ok(ip) = h.parse::<std::net::IpAddr>() {
            if !ip.is_loopback() {
                let cidr = format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 });
                if !netplan.access.client_networks.contains(&cidr) {
                    netplan.access.client_networks.push(cidr);
                }
            }
        } else {
            warnings.push(format!(
                "--host {h} is a name: pg_hba.conf admits only loopback and the profile's \
                 access.client_networks, so add the nodes' network there"
            ));
        }
    }
    let mut files = Vec::new();
    for (i, role) in Role::BOTH.iter().enumerate() {
        let hba = hba_lines(&renderer.pg_hba(&netplan, *role)?);
        let doc = node_doc(
            plan,
            opts,
            i,
            &hosts,
            &dcs_params,
            std::mem::take(&mut local[i]),
            hba,
        );
        let header = super::comment_header(
            plan,
            Target::Patroni,
            &format!(
                "Patroni configuration of node {} (the planned {role})",
                NODES[i]
            ),
        );
        let header = format!(
            "{header}# Passwords come from the environment: start Patroni with the variables of\n\
             # {}, e.g. `set -a; . ./{}; set +a; patroni {}`.\n",
            secrets::FILE,
            secrets::FILE,
            file_name(*role)
        );
        files.push(File {
            path: file_name(*role).into(),
            text: super::yaml::document(&header, &doc),
            mode: Mode::Public,
        });
    }
    files.push(File {
        path: POST_BOOTSTRAP.into(),
        text: post_bootstrap(plan, opts),
        mode: Mode::Executable,
    });
    files.push(File {
        path: secrets::FILE.into(),
        text: secrets.env_file(
            &NAMES,
            &format!("Passwords of the Patroni pair `{}`", opts.name),
        ),
        mode: Mode::Secret,
    });
    Ok(Export {
        target: Target::Patroni,
        files,
        placements,
        warnings,
    })
}

/// `http://h1:2379,h2:2379` → `["h1:2379", "h2:2379"]` and the protocol.
fn etcd_hosts(dcs: &str) -> Result<(String, Vec<String>), ExportError> {
    let bad = |why: &str| {
        ExportError::Invalid(format!(
            "--dcs {dcs}: {why}; expected etcd's client URL, e.g. http://127.0.0.1:2379 \
             (several hosts separated by commas)"
        ))
    };
    let (scheme, rest) = dcs.split_once("://").ok_or_else(|| bad("no scheme"))?;
    if scheme != "http" && scheme != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    let hosts: Vec<String> = rest
        .trim_end_matches('/')
        .split(',')
        .map(str::to_string)
        .collect();
    for h in &hosts {
        let (host, port) = h
            .rsplit_once(':')
            .ok_or_else(|| bad(&format!("{h} has no port")))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad(&format!("{h} is not host:port")));
        }
    }
    Ok((scheme.to_string(), hosts))
}

fn node_doc(
    plan: &Plan,
    opts: &Options,
    i: usize,
    (protocol, hosts): &(String, Vec<String>),
    dcs_params: &[(String, Value)],
    local: Vec<(String, Value)>,
    hba: Vec<String>,
) -> Value {
    let node = NODES[i];
    let pg = format!("{}:{}", opts.hosts[i], opts.ports[i]);
    let rest = format!("{}:{}", opts.hosts[i], opts.rest_ports[i]);
    let data_dir = opts.data_root.join(node);
    let a = &plan.access;
    map([
        ("scope", s(opts.name.clone())),
        ("name", s(node)),
        (
            "restapi",
            map([("listen", s(rest.clone())), ("connect_address", s(rest))]),
        ),
        (
            "etcd3",
            map([
                ("protocol", s(protocol.clone())),
                ("hosts", seq(hosts.iter().map(|h| s(h.clone())))),
            ]),
        ),
        (
            "bootstrap",
            map([
                (
                    "dcs",
                    map([
                        ("ttl", n(30)),
                        ("loop_wait", n(10)),
                        ("retry_timeout", n(10)),
                        ("maximum_lag_on_failover", n(1_048_576)),
                        (
                            "postgresql",
                            map([
                                ("use_pg_rewind", Value::Bool(true)),
                                ("use_slots", Value::Bool(true)),
                                ("parameters", map(dcs_params.iter().cloned())),
                            ]),
                        ),
                    ]),
                ),
                (
                    "initdb",
                    seq([map([("encoding", s("UTF8"))]), s("data-checksums")]),
                ),
                (
                    "post_bootstrap",
                    s(opts.output.join(POST_BOOTSTRAP).display().to_string()),
                ),
            ]),
        ),
        (
            "postgresql",
            map([
                ("listen", s(pg.clone())),
                ("connect_address", s(pg)),
                ("data_dir", s(data_dir.display().to_string())),
                ("bin_dir", s(opts.bin_dir.display().to_string())),
                (
                    "pgpass",
                    s(opts
                        .data_root
                        .join(format!("{node}.pgpass"))
                        .display()
                        .to_string()),
                ),
                (
                    "authentication",
                    map([
                        ("superuser", map([("username", s("postgres"))])),
                        (
                            "replication",
                            map([("username", s(a.replication_user.clone()))]),
                        ),
                    ]),
                ),
                ("parameters", map(local)),
                // A replica's base backup starts from a checkpoint: an
                // immediate one, not one spread over checkpoint_timeout.
                ("basebackup", seq([map([("checkpoint", s("fast"))])])),
                ("pg_hba", seq(hba.into_iter().map(s))),
            ]),
        ),
    ])
}

/// pg_hba.conf's rules without comments, one per line, as Patroni's
/// `postgresql.pg_hba` takes them.
fn hba_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Creates the application's role and database on the first leader.
/// Patroni runs it once, with the superuser's connection URL as its
/// argument and its own environment (where ESTUNE_APP_PASSWORD is). The
/// names and the password reach the server through psql variables,
/// quoted by psql (`:"name"`, `:'value'`), never pasted into the SQL.
fn post_bootstrap(plan: &Plan, opts: &Options) -> String {
    let a = &plan.access;
    let header = super::comment_header(
        plan,
        Target::Patroni,
        "Patroni's post_bootstrap: the event store's role and database",
    );
    format!(
        "#!/bin/sh\n{header}set -eu\n\
         : \"${{{app}:?is not set: start Patroni with the variables of {file}}}\"\n\
         exec \"{bin}/psql\" -X -v ON_ERROR_STOP=1 -v app_user='{user}' -v db='{db}' \\\n  \
         -v app_password=\"${app}\" \"$1\" <<'SQL'\n\
         CREATE ROLE :\"app_user\" LOGIN PASSWORD :'app_password';\n\
         CREATE DATABASE :\"db\" OWNER :\"app_user\";\n\
         SQL\n",
        app = NAMES.app,
        file = secrets::FILE,
        bin = opts.bin_dir.display(),
        user = a.app_user,
        db = a.database,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dcs_urls() {
        assert_eq!(
            etcd_hosts("http://127.0.0.1:2379").unwrap(),
            ("http".into(), vec!["127.0.0.1:2379".to_string()])
        );
        assert_eq!(
            etcd_hosts("https://a:1,b:2/").unwrap().1,
            vec!["a:1".to_string(), "b:2".to_string()]
        );
        for bad in ["127.0.0.1:2379", "etcd://a:1", "http://a", "http://a:x"] {
            let e = etcd_hosts(bad).unwrap_err().to_string();
            assert!(e.contains("--dcs") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn hba_rules_lose_comments_and_padding() {
        let t =
            "# c\n\nlocal   all  postgres   peer\nhost all all 127.0.0.1/32  scram-sha-256 # x\n";
        assert_eq!(
            hba_lines(t),
            vec![
                "local all postgres peer".to_string(),
                "host all all 127.0.0.1/32 scram-sha-256".to_string()
            ]
        );
    }
}
