//! A real Patroni pair from `estune render --format patroni`: an etcd and
//! two Patroni nodes on 127.0.0.1 (PostgreSQL 15), started by the test
//! from the rendered files. The pair must form with estune's values in
//! `pg_settings`; `estune health` must judge it and name as drift exactly
//! what the export left to Patroni; `estune bench`, connected through a
//! multi-host URL, must find the new leader after `patronictl
//! switchover` and lose no acknowledged event. Everything started is
//! stopped and removed, even when an assertion fails.

mod support;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn estune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(args)
        .env_remove("PGPASSWORD")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = estune(args);
    assert!(
        out.status.success(),
        "estune {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port whose next one is free too.
fn two_ports() -> u16 {
    loop {
        let p = support::free_port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

fn secret(conf: &Path, key: &str) -> String {
    std::fs::read_to_string(conf.join("secrets.env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("{key} in secrets.env"))
}

/// The Patroni processes and their data: SIGTERM (Patroni stops its
/// server with a fast shutdown and gives up the leader key), SIGKILL after
/// 30 s, then any server left behind is stopped by its pid file.
struct Pair {
    nodes: Vec<Child>,
    data: PathBuf,
    logs: PathBuf,
}

impl Pair {
    fn logs(&self) -> String {
        let mut out = String::new();
        for n in ["pg1", "pg2"] {
            let text =
                std::fs::read_to_string(self.logs.join(format!("{n}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(120).collect();
            out.push_str(&format!("--- {n}.log (last lines)\n"));
            for l in tail.iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for c in &self.nodes {
            support::signal(c.id() as i32, nix::sys::signal::Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for c in &mut self.nodes {
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Patroni double-forks the postmaster: a Patroni that had to be
        // killed leaves it running.
        for n in ["pg1", "pg2"] {
            if let Ok(pid) = std::fs::read_to_string(self.data.join(n).join("postmaster.pid")) {
                if let Some(pid) = pid
                    .lines()
                    .next()
                    .and_then(|l| l.trim().parse::<i32>().ok())
                {
                    support::signal(pid, nix::sys::signal::Signal::SIGQUIT);
                }
            }
        }
    }
}

fn start_node(patroni: &Path, conf: &Path, file: &str, logs: &Path, node: &str) -> Child {
    let log = std::fs::File::create(logs.join(format!("{node}.log"))).unwrap();
    // A clean environment: a stray PGPASSWORD would reach pg_basebackup
    // and win over the pgpass file Patroni writes.
    Command::new("setpriv")
        .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
        .arg(patroni)
        .arg(conf.join(file))
        .current_dir(conf)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/var/lib/postgresql")
        .env("LANG", "C.UTF-8")
        .env(
            "PATRONI_SUPERUSER_PASSWORD",
            secret(conf, "PATRONI_SUPERUSER_PASSWORD"),
        )
        .env(
            "PATRONI_REPLICATION_PASSWORD",
            secret(conf, "PATRONI_REPLICATION_PASSWORD"),
        )
        .env("ESTUNE_APP_PASSWORD", secret(conf, "ESTUNE_APP_PASSWORD"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The settings of `render --explain` whose section heading (e.g. `left
/// out (2):`) and row (its first line) satisfy `pick`.
fn explained(text: &str, pick: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut place = "";
    let mut out = Vec::new();
    for line in text.lines() {
        if line.ends_with("):") && !line.starts_with('│') {
            place = line;
        } else if let Some(row) = line.strip_prefix('│') {
            let name = row.split('┆').next().unwrap_or("").trim();
            if !name.is_empty() && name != "setting" && pick(place, row) {
                out.push(name.to_string());
            }
        }
    }
    out
}

async fn try_client(url: &str) -> Option<tokio_postgres::Client> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(c)
}

/// Polls until `check` holds, or panics with the nodes' logs.
async fn until<F, Fut>(pair: &Pair, what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} within {limit:?}\n{}",
            pair.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn is_leader(url: &str) -> bool {
    match try_client(url).await {
        Some(c) => c
            .query_one("SELECT NOT pg_is_in_recovery()", &[])
            .await
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false),
        None => false,
    }
}

async fn streams_to(leader: &str, member: &str) -> bool {
    match try_client(leader).await {
        Some(c) => c
            .query_one(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
                &[&member],
            )
            .await
            .map(|r| r.get::<_, i64>(0) == 1)
            .unwrap_or(false),
        None => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patroni_pair_runs_the_plan_and_bench_follows_a_switchover() {
    let patroni = support::patroni_bin("patroni");
    let patronictl = support::patroni_bin("patronictl");
    let pg = support::binaries(15);
    let etcd = support::Etcd::start();
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = root.path().join("conf");
    let data = root.path().join("data");
    let logs = root.path().join("logs");
    for d in [&data, &logs] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let (uid, gid) = support::postgres_ids().expect("the postgres OS user");
    for d in [&data, &logs] {
        nix::unistd::chown(d.as_path(), Some(uid), Some(gid)).unwrap();
    }
    let (port, rest) = (two_ports(), two_ports());
    let name = format!("estune-patroni-{}", std::process::id());
    let plan_args = [
        "--profile",
        "eventstore",
        "--memory",
        "2GiB",
        "--cpus",
        "1",
        "--pg-version",
        "15",
    ];
    let render = |extra: &[&str]| {
        let (p, r, dcs) = (port.to_string(), rest.to_string(), etcd.url());
        let args = [
            &["render"][..],
            &plan_args[..],
            &["--format", "patroni", "--name", &name, "--dcs", &dcs][..],
            &["--port", &p, "--restapi-port", &r][..],
            &["--data-dir", data.to_str().unwrap()][..],
            &["--pg-bin", pg.bindir.to_str().unwrap()][..],
            extra,
        ]
        .concat();
        ok(&args)
    };
    render(&["-o", conf.to_str().unwrap()]);
    let explain = render(&["--explain"]);
    // Patroni needs the passwords readable by its OS user.
    nix::unistd::chown(conf.join("secrets.env").as_path(), Some(uid), Some(gid)).unwrap();
    let plan: Value = serde_json::from_str(&ok(&[
        &["render"][..],
        &plan_args[..],
        &["--format", "json"][..],
    ]
    .concat()))
    .unwrap();

    let started = Instant::now();
    let mut pair = Pair {
        nodes: Vec::new(),
        data: data.clone(),
        logs: logs.clone(),
    };
    pair.nodes.push(start_node(
        &patroni,
        &conf,
        "patroni-primary.yml",
        &logs,
        "pg1",
    ));
    let su = secret(&conf, "PATRONI_SUPERUSER_PASSWORD");
    let admin = |p: u16| {
        format!(
            "host=127.0.0.1 port={p} user=postgres password={su} dbname=postgres connect_timeout=3"
        )
    };
    let (pg1, pg2) = (admin(port), admin(port + 1));
    until(&pair, "pg1 leads", Duration::from_secs(60), || {
        is_leader(&pg1)
    })
    .await;
    pair.nodes.push(start_node(
        &patroni,
        &conf,
        "patroni-replica.yml",
        &logs,
        "pg2",
    ));
    until(
        &pair,
        "pg2 streams from pg1",
        Duration::from_secs(90),
        || streams_to(&pg1, "pg2"),
    )
    .await;
    println!(
        "Patroni pair formed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // estune's values in pg_settings, on each node its role's; what the
    // export left to Patroni is skipped (the explain says which).
    let left_to_patroni = explained(&explain, |place, _| place.starts_with("left out"));
    assert!(
        left_to_patroni.iter().any(|n| n == "cluster_name"),
        "{explain}"
    );
    // And what it added for Patroni (the sockets' directory).
    let added = explained(&explain, |_, row| row.contains("added:"));
    assert_eq!(added, ["unix_socket_directories"], "{explain}");
    let mut wrong = Vec::new();
    for (url, role) in [(&pg1, "primary"), (&pg2, "replica")] {
        let c = support::client(url).await;
        let settings = plan["plan"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role"] == role)
            .unwrap()["settings"]
            .as_array()
            .unwrap();
        for s in settings {
            let name = s["name"].as_str().unwrap();
            let Some(want) = s["checked"]["setting"].as_str() else {
                continue;
            };
            if left_to_patroni.iter().any(|n| n == name) {
                continue;
            }
            let live: String = c
                .query_one("SELECT setting FROM pg_settings WHERE name = $1", &[&name])
                .await
                .unwrap()
                .get(0);
            if live != want {
                wrong.push(format!("{role} {name}: live {live}, planned {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // health judges the pair, and its drift is what Patroni manages.
    let app = secret(&conf, "ESTUNE_APP_PASSWORD");
    let hosts = format!("127.0.0.1:{port},127.0.0.1:{}", port + 1);
    let primary_url =
        format!("postgresql://eventstore:{app}@{hosts}/eventstore?target_session_attrs=read-write");
    let replica_url =
        format!("postgresql://eventstore:{app}@{hosts}/eventstore?target_session_attrs=read-only");
    let su_url = |p: u16| format!("postgresql://postgres:{su}@127.0.0.1:{p}/eventstore");
    let out = estune(
        &[
            &["health", "--format", "json"][..],
            &["--primary", &su_url(port), "--replica", &su_url(port + 1)][..],
            &plan_args[..6],
        ]
        .concat(),
    );
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("health JSON: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    let snap = &doc["snapshot"];
    assert_eq!(
        snap["config"]["profile"], "eventstore",
        "{:#}",
        snap["config"]
    );
    for role in ["primary", "replica"] {
        let s = snap["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["role"] == role)
            .unwrap_or_else(|| panic!("{role} in {snap:#}"));
        assert!(s["unreachable"].is_null(), "{s:#}");
    }
    let drift = snap["config"]["drift"].as_array().unwrap();
    for d in drift {
        let n = d["name"].as_str().unwrap();
        assert!(
            left_to_patroni.iter().chain(&added).any(|x| x == n),
            "drift beyond what Patroni manages: {d:#}\n{drift:#?}"
        );
    }
    assert!(
        drift.iter().any(|d| d["name"] == "cluster_name"),
        "Patroni's cluster_name shows as drift: {drift:#?}"
    );

    // bench through the multi-host URL, across a switchover.
    ok(&[
        "seed",
        "--primary",
        &primary_url,
        "--replica",
        &replica_url,
        "--events",
        "3000",
        "--books",
        "100",
        "--readers",
        "20",
    ]);
    let report = root.path().join("bench.json");
    let bench = Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(["bench", "--rate", "30", "--warmup", "1s", "--workers", "4"])
        .args(["--duration", "14s", "--out", report.to_str().unwrap()])
        .args(["--primary", &primary_url, "--replica", &replica_url])
        .env_remove("PGPASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let sw = Command::new(&patronictl)
        .arg("-c")
        .arg(conf.join("patroni-primary.yml"))
        .args([
            "switchover",
            "--leader",
            "pg1",
            "--candidate",
            "pg2",
            "--force",
        ])
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert!(
        sw.status.success(),
        "patronictl switchover: {}{}",
        String::from_utf8_lossy(&sw.stdout),
        String::from_utf8_lossy(&sw.stderr)
    );
    until(&pair, "pg2 leads", Duration::from_secs(60), || {
        is_leader(&pg2)
    })
    .await;
    let count = |url: String| async move {
        support::client(&url)
            .await
            .query_one("SELECT count(*) FROM events", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let at_switch = count(su_url(port + 1)).await;
    let result = tokio::task::spawn_blocking(move || bench.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap_or_default())
        .unwrap_or_else(|_| panic!("the bench report is written: {stderr}"));
    let v = &doc["verification"];
    assert!(v["acknowledged_events"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["missing_events"], 0, "{v}");
    let after = count(su_url(port + 1)).await;
    assert!(
        after > at_switch,
        "the workers appended on the new leader after the switchover ({at_switch} → {after})\n{stderr}\n{:#}\n{v:#}",
        doc["summary"]["total"]
    );
    println!(
        "bench across the switchover: {} acknowledged, {} errors, events on pg2 {at_switch} → {after}",
        v["acknowledged_events"], doc["summary"]["total"]["errors"]["total"]
    );
    until(
        &pair,
        "pg1 streams from pg2",
        Duration::from_secs(90),
        || streams_to(&pg2, "pg1"),
    )
    .await;
    drop(pair);
    drop(etcd);
    let left = Command::new("pgrep")
        .args(["-f", &format!("{}", root.path().display())])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}
