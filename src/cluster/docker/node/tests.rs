use super::*;
use crate::cluster::docker::archive::Owner;
use crate::tune::Role;
use bollard::models::ContainerMemoryStats;

fn facts() -> ImageFacts {
    ImageFacts {
        bindir: "/pg/bin".into(),
        version: "15.20".into(),
        owner: Owner { uid: 100, gid: 102 },
    }
}

fn node(memory: Option<u64>, shm: Option<u64>, cpus: Option<f64>) -> NodeSpec {
    NodeSpec {
        cluster: "c1".into(),
        name: "pg2".into(),
        role: Role::Replica,
        rejoin: false,
        host_port: 15434,
        data_dir: DATA_DIR.into(),
        memory,
        memory_reservation: memory.map(|m| m / 2),
        shm_size: shm,
        cpus,
    }
}

#[test]
fn the_port_is_published_on_loopback_only() {
    let body = body(&node(None, None, None), "img", &facts());
    let host = body.host_config.expect("host config");
    let bindings = host.port_bindings.expect("bindings");
    assert_eq!(
        bindings["5432/tcp"],
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some("15434".into()),
        }])
    );
    assert_eq!(bindings.len(), 1);
}

#[test]
fn postgres_runs_from_the_image_bindir_as_postgres() {
    let body = body(&node(None, None, None), "img", &facts());
    assert_eq!(body.entrypoint, Some(vec!["/pg/bin/postgres".to_string()]));
    assert_eq!(body.user.as_deref(), Some("postgres"));
    assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
    let cmd = body.cmd.expect("cmd").join(" ");
    assert_eq!(
        cmd,
        "-D /var/lib/postgresql/estune/data -c listen_addresses=* -c port=5432"
    );
    let check = body.healthcheck.and_then(|h| h.test).expect("healthcheck");
    assert_eq!(
        check[0..2],
        ["CMD".to_string(), "/pg/bin/pg_isready".to_string()]
    );
    let labels = body.labels.expect("labels");
    assert_eq!(labels["estune.cluster"], "c1");
    assert_eq!(labels["estune.node"], "pg2");
    let endpoints = body
        .networking_config
        .and_then(|n| n.endpoints_config)
        .expect("endpoints");
    assert_eq!(
        endpoints["estune-c1"].aliases,
        Some(vec!["pg2".to_string()])
    );
}

#[test]
fn limits_follow_the_node() {
    // (memory, shm, cpus) → (memory, swap, reservation, shm, nano cpus)
    type Given = (Option<u64>, Option<u64>, Option<f64>);
    type Limits = [Option<i64>; 5];
    const G: i64 = 1 << 30;
    let cases: [(Given, Limits); 3] = [
        (
            (None, None, None),
            [None, None, None, Some(256 << 20), None],
        ),
        (
            (Some(4 << 30), Some(1 << 30), Some(1.5)),
            [
                Some(4 * G),
                Some(4 * G),
                Some(2 * G),
                Some(G),
                Some(1_500_000_000),
            ],
        ),
        (
            (Some(6 << 30), None, Some(0.25)),
            [
                Some(6 * G),
                Some(6 * G),
                Some(3 * G),
                Some(256 << 20),
                Some(250_000_000),
            ],
        ),
    ];
    for ((memory, shm, cpus), want) in cases {
        let host = body(&node(memory, shm, cpus), "img", &facts())
            .host_config
            .expect("host config");
        let got = [
            host.memory,
            host.memory_swap,
            host.memory_reservation,
            host.shm_size,
            host.nano_cpus,
        ];
        assert_eq!(got, want, "{memory:?} {shm:?} {cpus:?}");
        assert_eq!(
            host.restart_policy.and_then(|p| p.name),
            Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            "Docker brings a crashed server back"
        );
    }
}

#[test]
fn memory_usage_leaves_out_the_page_cache() {
    let stats = |usage: u64, key: &str, cache: u64| ContainerStatsResponse {
        memory_stats: Some(ContainerMemoryStats {
            usage: Some(usage),
            limit: Some(1000),
            stats: Some(HashMap::from([(key.to_string(), cache)])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let cases = [
        (
            stats(500, "total_inactive_file", 100),
            (Some(400), Some(1000)),
        ),
        (stats(500, "inactive_file", 50), (Some(450), Some(1000))),
        (stats(500, "other", 50), (Some(500), Some(1000))),
        (stats(10, "inactive_file", 50), (Some(0), Some(1000))),
        (ContainerStatsResponse::default(), (None, None)),
    ];
    for (stats, want) in cases {
        assert_eq!(memory_of(&stats), want);
    }
}
