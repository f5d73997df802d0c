//! `render --format compose` brought up for real: `docker-compose up -d` on
//! the rendered directory forms a streaming pair (the primary initialises
//! itself, the replica clones it through the planned slot), both servers
//! run with exactly the values of the plan (`checked.setting` of
//! `render --format json` against `pg_settings`), a row written on pg1 is
//! read on pg2, the containers carry the planned memory and CPU limits and
//! publish on 127.0.0.1 only, and `docker-compose down -v` leaves nothing of
//! the project behind. A guard tears the project down (and removes whatever
//! the engine still has of it) even when an assertion fails.
//!
//! Needs Docker, docker-compose (scripts/install-ha.sh) and the image
//! `estune/postgres:15` (docker/build-image.sh): a clear failure when one is
//! missing, never a silent skip — except `ESTUNE_SKIP_DOCKER=1` on developer
//! machines without Docker.

mod support;

use serde_json::Value;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PROJECT_LABEL: &str = "com.docker.compose.project";
/// What the test renders, for the compose files and for the JSON plan alike.
const RENDER: [&str; 9] = [
    "render",
    "--profile",
    "eventstore",
    "--memory",
    "1GiB",
    "--cpus",
    "1",
    "--pg-version",
    "15",
];
/// Parameters a compose pair legitimately sets on the server's command line
/// (start.sh: the container's own address and port, the mounted
/// configuration files) whatever a plan says; not compared if a plan ever
/// carries them.
const SET_BY_START_SH: [&str; 4] = ["listen_addresses", "port", "hba_file", "config_file"];

fn skip() -> bool {
    // For developer machines without Docker only; CI never sets it.
    std::env::var("ESTUNE_SKIP_DOCKER").is_ok_and(|v| v == "1")
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// docker-compose in the rendered directory, which names the project
/// through its `.env` (nothing of the test's own environment may).
fn compose(dir: &Path, args: &[&str]) -> Output {
    Command::new("docker-compose")
        .args(args)
        .current_dir(dir)
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .output()
        .expect("running docker-compose")
}

fn logs(dir: &Path, tail: Option<&str>) -> String {
    let mut args = vec!["logs", "--no-color"];
    if let Some(t) = tail {
        args.extend(["--tail", t]);
    }
    both(&compose(dir, &args))
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("running docker")
}

fn words(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn estune(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "estune {args:?} failed:\n{}",
        both(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the engine has of the project, as (kind, id): containers, networks
/// and volumes labelled with it or named after it (`NAME_…` for
/// docker-compose 1.x, `NAME-…` for Compose v2), and volumes carrying the
/// rendered `estune.cluster` label.
fn remnants(project: &str) -> Vec<(&'static str, String)> {
    let ours = |name: &str, labels: &[&str]| {
        name == project
            || name.starts_with(&format!("{project}_"))
            || name.starts_with(&format!("{project}-"))
            || labels.contains(&project)
    };
    let mut found = Vec::new();
    for (kind, list) in [
        (
            "container",
            &[
                "ps",
                "-a",
                "--format",
                "{{.ID}}\t{{.Names}}\t{{.Label \"com.docker.compose.project\"}}",
            ][..],
        ),
        (
            "network",
            &[
                "network",
                "ls",
                "--format",
                "{{.ID}}\t{{.Name}}\t{{.Label \"com.docker.compose.project\"}}",
            ][..],
        ),
        (
            "volume",
            &[
                "volume",
                "ls",
                "--format",
                "{{.Name}}\t{{.Name}}\t{{.Label \"com.docker.compose.project\"}}\t{{.Label \"estune.cluster\"}}",
            ][..],
        ),
    ] {
        let out = docker(list);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() >= 3 && ours(f[1], &f[2..]) {
                found.push((kind, f[0].to_string()));
            }
        }
    }
    found
}

fn remove(found: &[(&'static str, String)]) {
    for (kind, rm) in [
        ("container", &["rm", "-f", "-v"][..]),
        ("network", &["network", "rm"][..]),
        ("volume", &["volume", "rm", "-f"][..]),
    ] {
        let ids: Vec<&str> = found
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| id.as_str())
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(rm).args(&ids).output();
        }
    }
}

/// The rendered directory and its compose project: torn down on drop
/// (`docker-compose down -v --remove-orphans`, then whatever the engine
/// still has of the project), also when the test fails; the directory goes
/// after that.
struct Project {
    name: String,
    dir: tempfile::TempDir,
}

impl Project {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = compose(
            self.path(),
            &["down", "-v", "--remove-orphans", "--timeout", "20"],
        );
        remove(&remnants(&self.name));
    }
}

/// A port P with P and P + 1 both free on 127.0.0.1 (pg1 and pg2).
fn consecutive_free_ports() -> u16 {
    for _ in 0..100 {
        let p = support::free_port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two consecutive free ports on 127.0.0.1 in 100 tries");
}

/// `KEY=VALUE` lines of secrets.env.
fn secret(dir: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(dir.join("secrets.env")).unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == key))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| panic!("secrets.env has no {key}:\n{text}"))
}

/// A libpq key/value connection string (values quoted).
fn conninfo(port: u16, user: &str, password: &str, db: &str) -> String {
    let q = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    format!(
        "host=127.0.0.1 port={port} user={} password={} dbname={}",
        q(user),
        q(password),
        q(db)
    )
}

/// Connects as soon as the server lets us, or panics at `deadline` with the
/// last error and the project's recent logs.
async fn connect_by(
    url: &str,
    what: &str,
    deadline: Instant,
    dir: &Path,
) -> tokio_postgres::Client {
    loop {
        match estune::db::connect(url, Duration::from_secs(5)).await {
            Ok(c) => return c,
            Err(e) => {
                if Instant::now() > deadline {
                    panic!(
                        "{what} did not accept connections in time (last error: {e})\n\
                         docker-compose logs --tail 50:\n{}",
                        logs(dir, Some("50"))
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn role<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["plan"]["roles"]
        .as_array()
        .expect("plan.roles is a list")
        .iter()
        .find(|r| r["role"] == name)
        .unwrap_or_else(|| panic!("the plan has no role {name}"))
}

fn host_config(container: &str) -> Value {
    let out = docker(&["inspect", container, "--format", "{{json .HostConfig}}"]);
    assert!(
        out.status.success(),
        "docker inspect {container}: {}",
        both(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn project_ids(list: &[&str], project: &str) -> Vec<String> {
    let filter = format!("label={PROJECT_LABEL}={project}");
    let mut args = list.to_vec();
    args.extend(["-q", "--filter", &filter]);
    words(&docker(&args))
}

#[tokio::test]
async fn docker_compose_up_forms_a_streaming_pair_with_the_planned_values() {
    if skip() {
        return;
    }
    let began = Instant::now();
    support::which("docker-compose").unwrap_or_else(|| {
        panic!("docker-compose is needed for this test (not on PATH); run scripts/install-ha.sh")
    });
    let engine = docker(&["version", "--format", "{{.Server.Version}}"]);
    assert!(
        engine.status.success(),
        "this test needs a running Docker engine (`docker version` failed: {}); \
         set ESTUNE_SKIP_DOCKER=1 only on a machine without Docker",
        both(&engine)
    );
    let image = docker(&[
        "image",
        "inspect",
        "estune/postgres:15",
        "--format",
        "{{.Id}}",
    ]);
    assert!(
        image.status.success(),
        "the image estune/postgres:15 is needed; run docker/build-image.sh ({})",
        both(&image)
    );

    // 1-2. A project name, ports and a directory, owned by the guard that
    // tears the project down (created before anything exists).
    let port = consecutive_free_ports();
    let project = Project {
        name: format!("estune-compose-test-{}", std::process::id()),
        dir: tempfile::Builder::new()
            .prefix("estune-compose-")
            .tempdir()
            .unwrap(),
    };
    // What a killed earlier run with this pid may have left goes first;
    // then the pair and the plan are rendered.
    remove(&remnants(&project.name));
    let dir = project.path().to_path_buf();
    let port_s = port.to_string();
    let mut args = RENDER.to_vec();
    args.extend([
        "--format",
        "compose",
        "--name",
        &project.name,
        "--port",
        &port_s,
        "-o",
        dir.to_str().unwrap(),
    ]);
    estune(&args);
    let mut args = RENDER.to_vec();
    args.extend(["--format", "json"]);
    let plan: Value = serde_json::from_str(&estune(&args)).unwrap();
    assert_eq!(plan["schema"], "estune.plan/1");
    let hash = plan["plan"]["hash"].as_str().unwrap();
    let yml = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    assert!(
        yml.contains(&format!("plan {hash}")),
        "the compose file is not of the JSON plan {hash}:\n{yml}"
    );
    let access = &plan["plan"]["access"];
    let (app_user, database, slot) = (
        access["app_user"].as_str().unwrap(),
        access["database"].as_str().unwrap(),
        access["replication_slot"].as_str().unwrap(),
    );

    let up_at = Instant::now();
    let up = compose(&dir, &["up", "-d"]);
    assert!(
        up.status.success(),
        "docker-compose up -d failed:\n{}\ndocker-compose logs:\n{}",
        both(&up),
        logs(&dir, None)
    );
    println!("docker-compose up -d returned after {:?}", up_at.elapsed());

    // The project is the one .env names: both containers carry its label.
    let containers = project_ids(&["ps", "-a"], &project.name);
    assert_eq!(
        containers.len(),
        2,
        "containers of project {}: {containers:?}\n{}",
        project.name,
        both(&compose(&dir, &["ps"]))
    );

    // 3. The primary answers and the replica streams from it.
    let deadline = up_at + Duration::from_secs(90);
    let su = secret(&dir, "ESTUNE_SUPERUSER_PASSWORD");
    let (p_port, r_port) = (port, port + 1);
    let p = connect_by(
        &conninfo(p_port, "postgres", &su, "postgres"),
        "pg1",
        deadline,
        &dir,
    )
    .await;
    loop {
        let rows = p
            .query(
                "SELECT state FROM pg_stat_replication WHERE state = 'streaming'",
                &[],
            )
            .await
            .unwrap();
        if !rows.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            panic!(
                "pg_stat_replication on pg1 shows no streaming replica after 90 s\n\
                 docker-compose logs --tail 50:\n{}",
                logs(&dir, Some("50"))
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("streaming after {:?}", up_at.elapsed());
    let r = connect_by(
        &conninfo(r_port, "postgres", &su, "postgres"),
        "pg2",
        deadline,
        &dir,
    )
    .await;

    // 4. Every checked setting of each role is live on its server.
    let mut mismatches = Vec::new();
    for (name, client) in [("primary", &p), ("replica", &r)] {
        let settings = role(&plan, name)["settings"]
            .as_array()
            .expect("a role's settings are a list");
        let mut compared = Vec::new();
        for s in settings {
            let param = s["name"].as_str().unwrap();
            let want = match &s["checked"]["setting"] {
                Value::Null => continue,
                Value::String(v) => v.clone(),
                other => panic!("{name} {param}: checked.setting is not text: {other}"),
            };
            if SET_BY_START_SH.contains(&param) {
                continue;
            }
            let live: Option<String> = client
                .query_opt("SELECT setting FROM pg_settings WHERE name = $1", &[&param])
                .await
                .unwrap()
                .map(|row| row.get(0));
            if live.as_deref() != Some(want.as_str()) {
                mismatches.push(format!(
                    "{param} on the {name}: live {}, planned {want}",
                    live.as_deref().unwrap_or("(no such parameter)")
                ));
            }
            compared.push(param);
        }
        assert!(
            compared.contains(&"shared_buffers") && compared.contains(&"max_connections"),
            "the plan's {name} settings lost their checked values? compared only {compared:?}"
        );
        println!("{name}: {} planned settings compared", compared.len());
    }
    assert!(
        mismatches.is_empty(),
        "settings that differ from the plan:\n  {}",
        mismatches.join("\n  ")
    );

    // 5. Replication carries data; pg2 is a standby on the planned slot.
    assert!(!p
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get::<_, bool>(0));
    assert!(
        r.query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get::<_, bool>(0),
        "pg2 is not in recovery"
    );
    let active: Option<bool> = p
        .query_opt(
            "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap()
        .map(|row| row.get(0));
    assert_eq!(active, Some(true), "slot {slot} on pg1");
    let app_pw = secret(&dir, "ESTUNE_APP_PASSWORD");
    let app_p = connect_by(
        &conninfo(p_port, app_user, &app_pw, database),
        "pg1 as the app role",
        Instant::now() + Duration::from_secs(10),
        &dir,
    )
    .await;
    let marker = format!("written on pg1 by test {}", std::process::id());
    app_p
        .batch_execute("CREATE TABLE compose_probe (id int PRIMARY KEY, note text NOT NULL)")
        .await
        .unwrap();
    app_p
        .execute(
            "INSERT INTO compose_probe (id, note) VALUES (1, $1)",
            &[&marker],
        )
        .await
        .unwrap();
    let app_r = connect_by(
        &conninfo(r_port, app_user, &app_pw, database),
        "pg2 as the app role",
        Instant::now() + Duration::from_secs(10),
        &dir,
    )
    .await;
    let written = Instant::now();
    loop {
        // Until the table itself has replayed, the query fails: retry.
        let seen = app_r
            .query_opt("SELECT note FROM compose_probe WHERE id = 1", &[])
            .await
            .ok()
            .flatten()
            .map(|row| row.get::<_, String>(0));
        if seen.as_deref() == Some(marker.as_str()) {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(30),
            "the row written on pg1 was not readable on pg2 within 30 s (last: {seen:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("row replayed on pg2 after {:?}", written.elapsed());
    drop((app_p, app_r, p, r));

    for (service, name, published) in [("pg1", "primary", p_port), ("pg2", "replica", r_port)] {
        let id = words(&compose(&dir, &["ps", "-q", service]));
        assert_eq!(id.len(), 1, "docker-compose ps -q {service}: {id:?}");
        let hc = host_config(&id[0]);
        let planned = &role(&plan, name)["inputs"];
        let memory = planned["memory"]["value"].as_u64().unwrap();
        if name == "primary" {
            assert_eq!(memory, 1 << 30, "--memory 1GiB");
        }
        assert_eq!(
            hc["Memory"].as_u64(),
            Some(memory),
            "{service} memory limit"
        );
        assert_eq!(
            hc["MemorySwap"].as_u64(),
            Some(memory),
            "{service}: no swap beyond the limit"
        );
        let cpus = planned["cpus"]["value"].as_f64().unwrap();
        assert_eq!(
            hc["NanoCpus"].as_u64(),
            Some((cpus * 1e9).round() as u64),
            "{service} CPUs"
        );
        let bindings = hc["PortBindings"]
            .as_object()
            .unwrap_or_else(|| panic!("{service}: no port bindings: {hc}"));
        let mut hosts = Vec::new();
        for (_, list) in bindings {
            for b in list.as_array().unwrap() {
                hosts.push((
                    b["HostIp"].as_str().unwrap_or_default().to_string(),
                    b["HostPort"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        assert_eq!(
            hosts,
            vec![("127.0.0.1".to_string(), published.to_string())],
            "{service} publishes on 127.0.0.1:{published} only: {}",
            hc["PortBindings"]
        );
    }

    // 6. Down, and nothing of the project is left.
    let down_at = Instant::now();
    let down = compose(&dir, &["down", "-v"]);
    assert!(
        down.status.success(),
        "docker-compose down -v failed:\n{}",
        both(&down)
    );
    println!("docker-compose down -v took {:?}", down_at.elapsed());
    assert_eq!(
        project_ids(&["ps", "-a"], &project.name),
        Vec::<String>::new()
    );
    assert_eq!(
        project_ids(&["volume", "ls"], &project.name),
        Vec::<String>::new()
    );
    assert_eq!(
        project_ids(&["network", "ls"], &project.name),
        Vec::<String>::new()
    );
    assert_eq!(remnants(&project.name), Vec::new());
    println!("whole test: {:?}", began.elapsed());
}
