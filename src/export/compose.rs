//! `render --format compose`: a docker-compose file for the pair, as the
//! original project kept one next to its code. Each service runs the
//! role's rendered `postgresql.conf` and `pg_hba.conf` (mounted), with the
//! role's memory limit and reservation, shm size and CPUs; ports are
//! published on the chosen host address only. The primary initialises
//! itself on its first start (data checksums, the roles, the database and
//! the replication slot); the replica clones it with `pg_basebackup`
//! through the slot. Passwords come from `secrets.env` (0600).
//!
//! Compose file format 2.4: what docker-compose 1.x honours for memory
//! limits and health-gated `depends_on` outside a swarm; Docker Compose v2
//! reads it too.

use super::secrets::{self, ExportSecrets, Names};
use super::yaml::{map, n, s, seq};
use super::{params, Export, ExportError, File, Mode, Options, Placement, Target, NODES};
use crate::render::Renderer;
use crate::tune::{Plan, Role};

pub const NAMES: Names = Names {
    superuser: "ESTUNE_SUPERUSER_PASSWORD",
    replication: "ESTUNE_REPLICATION_PASSWORD",
    app: "ESTUNE_APP_PASSWORD",
};

/// The default image: the one `docker/build-image.sh` builds.
pub const DEFAULT_IMAGE: &str = "estune/postgres:15";

const START: &str = "start.sh";
/// Inside the container: the server's home, owned by `postgres` in the
/// image, so the volume mounted there is too.
const HOME: &str = "/var/lib/postgresql";
const PGDATA: &str = "/var/lib/postgresql/data";
const CONF: &str = "/etc/estune";
const PORT: u16 = 5432;

pub fn export(
    plan: &Plan,
    opts: &Options,
    renderer: &Renderer,
    secrets: &ExportSecrets,
) -> Result<Export, ExportError> {
    let image = opts.image.clone().unwrap_or_else(|| DEFAULT_IMAGE.into());
    // The compose network's addresses (the replica, and the gateway
    // where published ports arrive from) are whatever Docker hands out:
    // `samenet` admits the subnets the server is directly attached to.
    let mut netplan = plan.clone();
    netplan.access.client_networks.push("samenet".into());
    let mut files = Vec::new();
    for role in Role::BOTH {
        let dir = std::path::PathBuf::from(role.as_str());
        files.push(File {
            path: dir.join("postgresql.conf"),
            text: renderer.postgresql_conf(plan, role)?,
            mode: Mode::Public,
        });
        files.push(File {
            path: dir.join("pg_hba.conf"),
            text: renderer.pg_hba(&netplan, role)?,
            mode: Mode::Public,
        });
    }
    files.push(File {
        path: START.into(),
        text: start_script(plan),
        mode: Mode::Executable,
    });
    files.push(File {
        path: secrets::FILE.into(),
        text: secrets.env_file(
            &NAMES,
            &format!("Passwords of the compose pair `{}`", opts.name),
        ),
        mode: Mode::Secret,
    });
    files.push(File {
        path: ".env".into(),
        text: format!(
            "# docker-compose's project name for the pair (its containers, network and\n\
             # volumes are named after it). Rendered by estune.\n\
             COMPOSE_PROJECT_NAME={}\n",
            opts.name
        ),
        mode: Mode::Public,
    });
    let header = super::comment_header(plan, Target::Compose, "docker-compose file of the pair");
    let header = format!(
        "{header}# Start: docker-compose up -d (in this directory). The primary initialises\n\
         # itself on its first start; the replica clones it. Passwords: {}.\n",
        secrets::FILE
    );
    files.insert(
        0,
        File {
            path: "docker-compose.yml".into(),
            text: super::yaml::document(&header, &compose(plan, opts, &image)),
            mode: Mode::Public,
        },
    );
    let placements = params(plan)
        .iter()
        .map(|p| Placement {
            name: p.name.to_string(),
            primary: p.plain(Role::Primary),
            replica: p.plain(Role::Replica),
            place: match (p.primary.is_some(), p.replica.is_some()) {
                (true, true) => "primary/ and replica/postgresql.conf",
                (true, false) => "primary/postgresql.conf",
                _ => "replica/postgresql.conf",
            }
            .into(),
            why: None,
        })
        .collect();
    Ok(Export {
        target: Target::Compose,
        files,
        placements,
        warnings: Vec::new(),
    })
}

/// Docker's size syntax, exact: `4g`, `1536m`, or bytes.
fn docker_size(b: u64) -> String {
    super::exact_size(b, &["g", "m", "k"])
}

fn compose(plan: &Plan, opts: &Options, image: &str) -> serde_norway::Value {
    let bin = format!("/usr/lib/postgresql/{}/bin", plan.pg_version);
    let mut services = Vec::new();
    for (i, role) in Role::BOTH.iter().enumerate() {
        let node = NODES[i];
        let (limit, reservation) = super::memory(plan, opts, *role);
        let res = &opts.resources[i];
        let mut svc = vec![
            ("image", s(image)),
            ("user", s("postgres")),
            (
                "command",
                seq([s("/bin/sh"), s(format!("{CONF}/{START}")), s(role.as_str())]),
            ),
            ("env_file", seq([s(secrets::FILE)])),
            (
                "volumes",
                seq([
                    s(format!("{node}-data:{HOME}")),
                    s(format!("./{}:{CONF}/conf:ro", role.as_str())),
                    s(format!("./{START}:{CONF}/{START}:ro")),
                ]),
            ),
            (
                "ports",
                seq([s(format!("{}:{}:{PORT}", opts.hosts[0], opts.ports[i]))]),
            ),
            ("mem_limit", s(docker_size(limit))),
            // No swap: the limit is what the server really has.
            ("memswap_limit", s(docker_size(limit))),
        ];
        if let Some(r) = reservation {
            svc.push(("mem_reservation", s(docker_size(r))));
        }
        svc.push((
            "shm_size",
            s(docker_size(res.shm_size.unwrap_or(256 << 20))),
        ));
        svc.push((
            "cpus",
            serde_norway::Value::Number(plan.role(*role).inputs.cpus.value.into()),
        ));
        svc.push(("stop_signal", s("SIGINT")));
        svc.push(("stop_grace_period", s("60s")));
        svc.push(("restart", s("unless-stopped")));
        svc.push((
            "healthcheck",
            map([
                (
                    "test",
                    seq([
                        s("CMD"),
                        s(format!("{bin}/pg_isready")),
                        s("-h"),
                        s("127.0.0.1"),
                        s("-p"),
                        s(PORT.to_string()),
                        s("-U"),
                        s("postgres"),
                    ]),
                ),
                ("interval", s("5s")),
                ("timeout", s("5s")),
                ("retries", n(3)),
                ("start_period", s("60s")),
            ]),
        ));
        if *role == Role::Replica {
            svc.push((
                "depends_on",
                map([(NODES[0], map([("condition", s("service_healthy"))]))]),
            ));
        }
        services.push((node.to_string(), map(svc)));
    }
    map([
        ("version", s("2.4")),
        ("services", map(services)),
        (
            "volumes",
            map(NODES.iter().map(|node| {
                (
                    format!("{node}-data"),
                    map([(
                        "labels",
                        map([
                            ("estune.cluster", s(opts.name.clone())),
                            ("estune.node", s(*node)),
                        ]),
                    )]),
                )
            })),
        ),
    ])
}

/// The services' entry point: `start.sh primary|replica`. A first start
/// initialises the data directory; every start then runs the server with
/// the mounted configuration. Names reach psql as variables and are
/// quoted by psql (`:"name"`, `:'value'`), never pasted into SQL.
fn start_script(plan: &Plan) -> String {
    let a = &plan.access;
    let header = super::comment_header(
        plan,
        Target::Compose,
        "entry point of the pair's services: start.sh primary|replica",
    );
    format!(
        r#"#!/bin/sh
{header}set -eu
role=${{1:?usage: start.sh primary|replica}}
export PATH="/usr/lib/postgresql/{v}/bin:$PATH"
export PGDATA={PGDATA}
: "${{{su}:?is not set: the service reads {file}}}"
: "${{{repl}:?is not set: the service reads {file}}}"
: "${{{app}:?is not set: the service reads {file}}}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  case "$role" in
  primary)
    echo "estune: initialising the primary (data checksums on)"
    pw=$(mktemp)
    printf '%s\n' "${su}" >"$pw"
    initdb --data-checksums --encoding=UTF8 --username=postgres --pwfile="$pw" \
      --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    rm -f "$pw"
    # A server on a private socket only, until the roles exist.
    sock=$(mktemp -d)
    pg_ctl -w -o "-c listen_addresses='' -c unix_socket_directories=$sock" start >/dev/null
    psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -h "$sock" -U postgres -d postgres \
      -v repl_user='{repl_user}' -v repl_password="${repl}" \
      -v app_user='{app_user}' -v app_password="${app}" \
      -v db='{db}' -v slot='{slot}' <<'SQL'
CREATE ROLE :"repl_user" LOGIN REPLICATION PASSWORD :'repl_password';
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER :"app_user";
SELECT pg_create_physical_replication_slot(:'slot');
SQL
    pg_ctl -w -m fast stop >/dev/null
    rmdir "$sock"
    ;;
  replica)
    echo "estune: cloning the primary {primary} through slot {slot}"
    until pg_isready -q -h {primary} -p {port}; do sleep 1; done
    PGPASSWORD="${repl}" pg_basebackup -h {primary} -p {port} -U '{repl_user}' \
      -D "$PGDATA" -X stream -S '{slot}' -R --checkpoint=fast
    ;;
  *)
    echo "start.sh: unknown role $role (primary or replica)" >&2
    exit 2
    ;;
  esac
fi
exec postgres -D "$PGDATA" -c config_file={CONF}/conf/postgresql.conf \
  -c hba_file={CONF}/conf/pg_hba.conf -c listen_addresses='*' -c port={port}
"#,
        v = plan.pg_version,
        su = NAMES.superuser,
        repl = NAMES.replication,
        app = NAMES.app,
        file = secrets::FILE,
        repl_user = a.replication_user,
        app_user = a.app_user,
        db = a.database,
        slot = a.replication_slot,
        primary = NODES[0],
        port = PORT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_sizes_are_exact() {
        assert_eq!(docker_size(4 << 30), "4g");
        assert_eq!(docker_size(1536 << 20), "1536m");
        assert_eq!(docker_size(1000), "1000");
    }
}
