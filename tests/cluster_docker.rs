//! The docker backend end to end through the CLI, against the image that
//! `docker/build-image.sh` builds: `--backend auto` picks it, containers
//! carry the profile's limits and labels and publish on 127.0.0.1 only,
//! replication works, apply reloads or restarts as needed, down twice is
//! fine, and a profile too small for its plan creates nothing.

mod support;

use std::process::Command;
use std::time::Duration;
use support::TestCluster;

/// Removes whatever the engine still has for the cluster, should the CLI's
/// own `down --purge` (run by TestCluster) not have.
struct DockerLeftovers(String);

impl Drop for DockerLeftovers {
    fn drop(&mut self) {
        let label = format!("label=estune.cluster={}", self.0);
        let ids = |kind: &[&str]| -> Vec<String> {
            let out = Command::new("docker")
                .args(kind)
                .args(["-q", "--filter", &label])
                .output();
            out.map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
        };
        for (list, rm) in [
            (&["ps", "-a"][..], &["rm", "-f", "-v"][..]),
            (&["network", "ls"][..], &["network", "rm"][..]),
            (&["volume", "ls"][..], &["volume", "rm", "-f"][..]),
        ] {
            let found = ids(list);
            if !found.is_empty() {
                let _ = Command::new("docker").args(rm).args(&found).output();
            }
        }
    }
}

fn skip() -> bool {
    // For developer machines without Docker only; CI never sets it.
    std::env::var("ESTUNE_SKIP_DOCKER").is_ok_and(|v| v == "1")
}

fn inspect(name: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", name, "--format", format])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker inspect {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn labelled(cluster: &str) -> usize {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=estune.cluster={cluster}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .count()
}

fn volumes(cluster: &str) -> usize {
    let out = Command::new("docker")
        .args([
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=estune.cluster={cluster}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .count()
}

async fn start_time(url: &str) -> String {
    let c = estune::db::connect(url, Duration::from_secs(5))
        .await
        .unwrap();
    c.query_one("SELECT pg_postmaster_start_time()::text", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn docker_pair_from_up_to_down() {
    if skip() {
        return;
    }
    let c = TestCluster::new("dk");
    let _leftovers = DockerLeftovers(c.name.clone());
    let profile = c.state_dir().join("dk.toml");
    std::fs::write(
        &profile,
        "extends = \"eventstore\"\n\
         [primary]\nconnections = 20\n[primary.resources]\nmemory = \"1GiB\"\nmemory_reservation = \"512MiB\"\nshm_size = \"256MiB\"\ncpus = 1\n\
         [replica]\nconnections = 20\n[replica.resources]\nmemory = \"1536MiB\"\nmemory_reservation = \"768MiB\"\ncpus = 1\n",
    )
    .unwrap();
    let profile = profile.to_str().unwrap();
    let err = c.up(&["--backend", "auto", "--profile", profile]);
    assert!(err.contains("backend: the Docker engine answers"), "{err}");
    assert!(err.contains("replication is streaming"), "{err}");

    let primary = format!("estune-{}-pg1", c.name);
    let replica = format!("estune-{}-pg2", c.name);
    assert_eq!(
        inspect(
            &primary,
            "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.ShmSize}}"
        ),
        "1073741824 536870912 268435456"
    );
    assert_eq!(
        inspect(
            &replica,
            "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}}"
        ),
        "1610612736 805306368"
    );
    let bindings = inspect(&primary, "{{json .HostConfig.PortBindings}}");
    assert!(
        bindings.contains("\"HostIp\":\"127.0.0.1\"") && !bindings.contains("0.0.0.0"),
        "{bindings}"
    );
    assert_eq!(
        inspect(&primary, "{{index .Config.Labels \"estune.cluster\"}}"),
        c.name
    );
    assert_eq!(
        inspect(&replica, "{{index .Config.Labels \"estune.node\"}}"),
        "pg2"
    );

    // A row written on the primary is readable on the replica.
    let p = estune::db::connect(&c.url("primary"), Duration::from_secs(5))
        .await
        .unwrap();
    let r = estune::db::connect(&c.url("replica"), Duration::from_secs(5))
        .await
        .unwrap();
    p.batch_execute("CREATE TABLE t (v int); INSERT INTO t VALUES (7)")
        .await
        .unwrap();
    let start = std::time::Instant::now();
    while r
        .query("SELECT v FROM t", &[])
        .await
        .map(|rows| rows.len())
        .unwrap_or(0)
        != 1
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the row did not reach the replica within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let status = c.ok(&["cluster", "status", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        doc["nodes"][0]["runtime"]["memory_limit"], 1073741824u64,
        "{status}"
    );
    assert!(
        doc["nodes"][0]["runtime"]["memory_usage"].as_u64().unwrap() > 0,
        "{status}"
    );

    // Reload only: random_page_cost.
    let before = start_time(&c.url("primary")).await;
    let reload = c.state_dir().join("reload.toml");
    std::fs::write(&reload, format!("extends = \"{profile}\"\n[primary.overrides]\nrandom_page_cost = 1.3\n[replica.overrides]\nrandom_page_cost = 1.3\n")).unwrap();
    let out = c.ok(&["apply", "--profile", reload.to_str().unwrap()]);
    assert!(out.contains("reloaded"), "{out}");
    assert_eq!(
        start_time(&c.url("primary")).await,
        before,
        "a reload keeps the postmaster"
    );

    // More memory: shared_buffers grows (restart) and the limit follows.
    let out = c.ok(&[
        "apply",
        "--profile",
        reload.to_str().unwrap(),
        "--memory",
        "2GiB",
    ]);
    assert!(
        out.contains("restarted") && out.contains("memory limit changed"),
        "{out}"
    );
    assert_ne!(
        start_time(&c.url("primary")).await,
        before,
        "a restart starts a new postmaster"
    );
    assert_eq!(inspect(&primary, "{{.HostConfig.Memory}}"), "2147483648");

    // down removes the containers and keeps the data volumes.
    c.ok(&["cluster", "down"]);
    assert_eq!(labelled(&c.name), 0);
    assert_eq!(volumes(&c.name), 2, "the data stays");
    c.ok(&["cluster", "down"]);
    c.ok(&["cluster", "down", "--purge"]);
    assert_eq!(volumes(&c.name), 0);
    c.ok(&["cluster", "down", "--purge"]);
}

#[test]
fn too_small_a_container_is_refused_before_anything_exists() {
    if skip() {
        return;
    }
    let c = TestCluster::new("dksmall");
    let _leftovers = DockerLeftovers(c.name.clone());
    let profile = c.state_dir().join("small.toml");
    std::fs::write(&profile, "extends = \"eventstore\"\n[primary.resources]\nmemory = \"256MiB\"\n[primary.overrides]\nwork_mem = \"64MB\"\nmax_connections = 100\n").unwrap();
    let out = c.run(&[
        "cluster",
        "up",
        "--backend",
        "docker",
        "--profile",
        profile.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("worst-case memory") && err.contains("256 MiB"),
        "{err}"
    );
    assert_eq!(labelled(&c.name), 0, "no container may be created");
}
