//! The Docker backend against the real engine and the image that
//! `docker/build-image.sh` builds: the lifecycle of one node (network,
//! initdb, configuration, start, limits, stop, removal), a streaming
//! replica made by basebackup, and the two faults a user meets first (no
//! engine, no image). A missing image fails these tests, naming the build
//! command; only ESTUNE_SKIP_DOCKER=1 skips them, for machines without
//! Docker. Every test's objects carry a unique cluster label and are
//! removed by label on drop, also when the test panics.

use bollard::query_parameters::{
    InspectContainerOptions, InspectNetworkOptions, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptions,
};
use bollard::{ClientVersion, Docker};
use estune::cluster::docker::{DockerBackend, BUILD_COMMAND, DEFAULT_IMAGE};
use estune::cluster::{Backend, ClusterError, NodeSpec, ReplicationAuth};
use estune::tune::Role;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
const PASSWORD: &str = "s3cret-Pw_for:tests";

fn skipped() -> bool {
    let skip = std::env::var("ESTUNE_SKIP_DOCKER").as_deref() == Ok("1");
    if skip {
        eprintln!("skipped: ESTUNE_SKIP_DOCKER=1");
    }
    skip
}

fn image() -> String {
    std::env::var("ESTUNE_DOCKER_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_string())
}

async fn backend() -> DockerBackend {
    let image = image();
    let backend = DockerBackend::connect(&image)
        .await
        .unwrap_or_else(|e| panic!("{e} (ESTUNE_SKIP_DOCKER=1 skips the Docker tests)"));
    let present = backend.image_present().await.expect("inspect image");
    assert!(
        present,
        "image {image} is missing: build it with `{BUILD_COMMAND}` (ESTUNE_SKIP_DOCKER=1 skips the Docker tests)"
    );
    backend
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The engine, directly: to check what the backend made and to clean up
/// independently of the code under test.
fn docker() -> Docker {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let version = ClientVersion {
        major_version: 1,
        minor_version: 41,
    };
    Docker::connect_with_unix(&host, 120, &version).expect("docker client")
}

fn label_filter(cluster: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("estune.cluster={cluster}")],
    )])
}

/// Containers (ids), networks and volumes labelled with `cluster`.
#[derive(Debug, Default, PartialEq)]
struct Labelled {
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

async fn labelled(docker: &Docker, cluster: &str) -> Result<Labelled, bollard::errors::Error> {
    let f = label_filter(cluster);
    let all = ListContainersOptionsBuilder::new().all(true).filters(&f);
    let containers = docker.list_containers(Some(all.build())).await?;
    let networks = docker
        .list_networks(Some(ListNetworksOptionsBuilder::new().filters(&f).build()))
        .await?;
    let volumes = docker
        .list_volumes(Some(ListVolumesOptionsBuilder::new().filters(&f).build()))
        .await?;
    Ok(Labelled {
        containers: containers.into_iter().filter_map(|c| c.id).collect(),
        networks: networks.into_iter().filter_map(|n| n.name).collect(),
        volumes: volumes
            .volumes
            .into_iter()
            .flatten()
            .map(|v| v.name)
            .collect(),
    })
}

/// Best effort: this runs on every exit path, failures included.
async fn remove_labelled(docker: &Docker, cluster: &str) {
    let Ok(found) = labelled(docker, cluster).await else {
        return;
    };
    let force = RemoveContainerOptionsBuilder::new().force(true).v(true);
    for id in found.containers {
        let _ = docker
            .remove_container(&id, Some(force.clone().build()))
            .await;
    }
    for name in found.networks {
        let _ = docker.remove_network(&name).await;
    }
    for name in found.volumes {
        let _ = docker
            .remove_volume(&name, None::<RemoveVolumeOptions>)
            .await;
    }
}

/// A unique cluster name whose Docker objects are removed on drop.
struct Guard {
    cluster: String,
}

impl Guard {
    fn new() -> Guard {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Guard {
            cluster: format!("t-{}-{n}", std::process::id()),
        }
    }

    fn node(&self, backend: &DockerBackend, role: Role) -> NodeSpec {
        let name = match role {
            Role::Primary => "pg1",
            Role::Replica => "pg2",
        };
        NodeSpec {
            cluster: self.cluster.clone(),
            name: name.to_string(),
            role,
            rejoin: false,
            host_port: free_port(),
            data_dir: backend.data_dir(&self.cluster, name),
            memory: Some(512 * MIB),
            memory_reservation: Some(256 * MIB),
            shm_size: None,
            cpus: Some(1.0),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime, which cannot block on
        // another future: clean up from a thread with a runtime of its own.
        let cluster = self.cluster.clone();
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for cleanup");
            rt.block_on(remove_labelled(&docker(), &cluster));
        });
        let _ = cleanup.join();
    }
}

fn postgresql_conf(extra: &str) -> String {
    format!(
        "shared_buffers = '64MB'\nmax_connections = 20\nwal_level = replica\n\
         max_wal_senders = 5\nmax_replication_slots = 5\nhot_standby = on\n{extra}"
    )
}

fn pg_hba_conf(subnets: &[String]) -> String {
    let mut hba = "local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n".to_string();
    for s in subnets {
        hba.push_str(&format!("host all all {s} scram-sha-256\n"));
        hba.push_str(&format!("host replication all {s} scram-sha-256\n"));
    }
    hba
}

fn config_files(subnets: &[String]) -> Vec<(String, String)> {
    vec![
        ("postgresql.conf".to_string(), postgresql_conf("")),
        ("pg_hba.conf".to_string(), pg_hba_conf(subnets)),
    ]
}

/// Connects as postgres once the server accepts connections, polling
/// until the deadline.
async fn connect(port: u16, within: Duration) -> tokio_postgres::Client {
    let deadline = Instant::now() + within;
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .password(PASSWORD)
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(2));
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                return client;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no connection to 127.0.0.1:{port} within {within:?}: {e}"),
        }
    }
}

async fn up(
    backend: &DockerBackend,
    node: &NodeSpec,
    subnets: &[String],
) -> tokio_postgres::Client {
    backend.initdb(node, PASSWORD).await.expect("initdb");
    backend
        .write_config(node, &config_files(subnets))
        .await
        .expect("write_config");
    backend.start(node).await.expect("start");
    connect(node.host_port, Duration::from_secs(60)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_named() {
    if skipped() {
        return;
    }
    let socket = "unix:///nonexistent.sock";
    match DockerBackend::connect_with(socket, DEFAULT_IMAGE).await {
        Err(e @ ClusterError::EngineUnreachable { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(socket), "{msg}");
        }
        Err(e) => panic!("expected EngineUnreachable, got {e}"),
        Ok(_) => panic!("connected to {socket}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_names_the_build_command() {
    if skipped() {
        return;
    }
    let missing = "estune/no-such-image:0";
    let backend = DockerBackend::connect(missing).await.expect("connect");
    assert!(!backend.image_present().await.expect("inspect"));
    match backend.preflight().await {
        Err(e @ ClusterError::ImageMissing { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(missing), "{msg}");
            assert!(msg.contains("bash docker/build-image.sh"), "{msg}");
        }
        other => panic!("expected ImageMissing, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_from_initdb_to_removal() {
    if skipped() {
        return;
    }
    let backend = backend().await;
    let guard = Guard::new();
    let docker = docker();
    let version = backend.preflight().await.expect("preflight");
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()),
        "{version}"
    );

    let prepared = backend.prepare(&guard.cluster).await.expect("prepare");
    assert_eq!(
        backend
            .prepare(&guard.cluster)
            .await
            .expect("prepare again"),
        prepared
    );
    assert_eq!(prepared.client_networks.len(), 1, "{prepared:?}");
    let node = guard.node(&backend, Role::Primary);
    let client = up(&backend, &node, &prepared.client_networks).await;
    let one: i32 = client
        .query_one("SELECT 1", &[])
        .await
        .expect("SELECT 1")
        .get(0);
    assert_eq!(one, 1);
    let server_version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .expect("version")
        .get(0);
    assert!(
        server_version.starts_with(&version),
        "{server_version} vs {version}"
    );

    // What Docker holds: the profile's limits, loopback only, the labels.
    let name = DockerBackend::container_name(&guard.cluster, "pg1");
    let inspected = docker
        .inspect_container(&name, None::<InspectContainerOptions>)
        .await
        .expect("inspect");
    let host = inspected.host_config.clone().expect("host config");
    assert_eq!(host.memory, Some(512 * MIB as i64));
    assert_eq!(host.memory_reservation, Some(256 * MIB as i64));
    let bindings = host.port_bindings.expect("port bindings");
    let all: Vec<_> = bindings.values().flatten().flatten().collect();
    assert_eq!(all.len(), 1, "{bindings:?}");
    assert_eq!(all[0].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(all[0].host_port, Some(node.host_port.to_string()));
    let labels = inspected.config.and_then(|c| c.labels).expect("labels");
    assert_eq!(labels["estune.cluster"], guard.cluster);
    assert_eq!(labels["estune.node"], "pg1");
    let network = docker
        .inspect_network(
            &DockerBackend::network_name(&guard.cluster),
            None::<InspectNetworkOptions>,
        )
        .await
        .expect("network");
    assert_eq!(
        network.labels.unwrap_or_default()["estune.cluster"],
        guard.cluster
    );
    let volume = docker
        .inspect_volume(&DockerBackend::volume_name(&guard.cluster, "pg1"))
        .await
        .expect("volume");
    assert_eq!(volume.labels["estune.node"], "pg1");

    // The configuration went in whole and comes back out.
    let hba = backend
        .read_config(&node, "pg_hba.conf")
        .await
        .expect("read");
    assert_eq!(hba, Some(pg_hba_conf(&prepared.client_networks)));
    assert_eq!(
        backend
            .read_config(&node, "no-such.conf")
            .await
            .expect("read"),
        None
    );
    assert!(
        backend.initdb(&node, PASSWORD).await.is_err(),
        "initdb over a cluster"
    );
    assert!(
        backend.start(&node).await.is_err(),
        "starting a running server"
    );

    let rt = backend.runtime(&node).await.expect("runtime");
    assert!(rt.running && rt.pid.is_some(), "{rt:?}");
    assert_eq!(rt.memory_limit, Some(512 * MIB));
    assert_eq!(rt.memory_reservation, Some(256 * MIB));
    assert!(rt.memory_usage.is_some_and(|u| u > 0), "{rt:?}");
    assert_eq!(rt.oom_killed, Some(false));

    backend
        .set_memory(&node, 768 * MIB, Some(384 * MIB))
        .await
        .expect("set_memory");
    let rt = backend.runtime(&node).await.expect("runtime");
    assert_eq!(
        (rt.memory_limit, rt.memory_reservation),
        (Some(768 * MIB), Some(384 * MIB))
    );

    let log = backend.logs(&node, 50).await.expect("logs");
    assert!(log.contains("ready to accept connections"), "{log}");

    backend.stop(&node).await.expect("stop");
    backend.stop(&node).await.expect("stop again");
    let rt = backend.runtime(&node).await.expect("runtime");
    assert!(!rt.running, "{rt:?}");
    assert_eq!(rt.exit_code, Some(0), "fast shutdown exits cleanly: {rt:?}");
    let log = backend.logs(&node, 20).await.expect("logs");
    assert!(log.contains("fast shutdown request"), "{log}");

    // Configuration also goes into a stopped server.
    let files = [(
        "postgresql.conf".to_string(),
        postgresql_conf("work_mem = '8MB'\n"),
    )];
    backend
        .write_config(&node, &files)
        .await
        .expect("write while stopped");
    let conf = backend
        .read_config(&node, "postgresql.conf")
        .await
        .expect("read");
    assert_eq!(conf.as_deref(), Some(files[0].1.as_str()));

    backend
        .remove(&guard.cluster, std::slice::from_ref(&node), true)
        .await
        .expect("remove");
    let left = labelled(&docker, &guard.cluster).await.expect("list");
    assert_eq!(left, Labelled::default());
    backend
        .remove(&guard.cluster, &[node], true)
        .await
        .expect("remove again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_from_basebackup_streams() {
    if skipped() {
        return;
    }
    let backend = backend().await;
    let guard = Guard::new();
    let prepared = backend.prepare(&guard.cluster).await.expect("prepare");
    let subnets = &prepared.client_networks;
    let primary = guard.node(&backend, Role::Primary);
    let replica = guard.node(&backend, Role::Replica);
    let mut client = up(&backend, &primary, subnets).await;

    // SQL values are bound parameters, even inside DDL.
    let auth = ReplicationAuth {
        user: "r".to_string(),
        password: "repl-Pw:1".to_string(),
        slot: "replica_slot".to_string(),
    };
    let tx = client.transaction().await.expect("begin");
    tx.execute(
        "SELECT set_config('estune.pw', $1, true)",
        &[&auth.password],
    )
    .await
    .expect("set_config");
    tx.batch_execute(
        "DO $$ BEGIN EXECUTE format('CREATE ROLE r LOGIN REPLICATION PASSWORD %L', current_setting('estune.pw')); END $$",
    )
    .await
    .expect("create role");
    tx.execute(
        "SELECT pg_create_physical_replication_slot($1)",
        &[&auth.slot],
    )
    .await
    .expect("slot");
    tx.commit().await.expect("commit");

    backend
        .basebackup(&replica, &primary, &auth)
        .await
        .expect("basebackup");
    backend
        .write_config(&replica, &config_files(subnets))
        .await
        .expect("replica config");
    let auto = backend
        .read_config(&replica, "postgresql.auto.conf")
        .await
        .expect("read auto.conf")
        .unwrap_or_default();
    assert!(
        auto.contains("primary_slot_name = 'replica_slot'"),
        "{auto}"
    );
    backend.start(&replica).await.expect("start replica");

    let standby = connect(replica.host_port, Duration::from_secs(60)).await;
    let in_recovery: bool = standby
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .expect("recovery")
        .get(0);
    assert!(in_recovery);

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = client
            .query(
                "SELECT state FROM pg_stat_replication WHERE application_name <> ''",
                &[],
            )
            .await
            .expect("pg_stat_replication");
        let states: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if states.iter().any(|s| s == "streaming") {
            break;
        }
        if Instant::now() > deadline {
            let log = backend.logs(&replica, 30).await.unwrap_or_default();
            panic!("replica not streaming within 60s (states {states:?}); replica log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    backend
        .remove(&guard.cluster, &[primary, replica], true)
        .await
        .expect("remove");
    let left = labelled(&docker(), &guard.cluster).await.expect("list");
    assert_eq!(left, Labelled::default());
}
