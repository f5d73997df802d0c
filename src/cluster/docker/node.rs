//! The container of one node: postgres as its main process, on the
//! cluster network under its own name, published on 127.0.0.1 only, with
//! the profile's memory limits. Docker restarts a server that dies
//! (`unless-stopped`), while `stop`, `down` and a failover's fence stop it
//! for good.

use super::engine::{docker_error, is_conflict, is_not_found, Engine};
use super::image::ImageFacts;
use super::names::{self, DATA_DIR, PG_PORT, VOLUME_MOUNT};
use super::{oneoff, resources};
use crate::cluster::{ClusterError, NodeRuntime, NodeSpec};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStatsResponse, ContainerUpdateBody,
    EndpointSettings, HealthConfig, HostConfig, Mount, MountTypeEnum, NetworkingConfig,
    PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::io::Write;

const DEFAULT_SHM_SIZE: u64 = 256 * 1024 * 1024;
/// How long `docker stop` lets a fast shutdown (SIGINT) take before it
/// kills: long enough for the shutdown checkpoint of large shared_buffers.
const STOP_TIMEOUT_SECS: i32 = 120;
const SECOND_NS: i64 = 1_000_000_000;

fn bytes(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn body(node: &NodeSpec, image: &str, facts: &ImageFacts) -> ContainerCreateBody {
    let port = format!("{PG_PORT}/tcp");
    let network = names::network(&node.cluster);
    let host_config = HostConfig {
        port_bindings: Some(HashMap::from([(
            port.clone(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".to_string()),
                host_port: Some(node.host_port.to_string()),
            }]),
        )])),
        mounts: Some(vec![Mount {
            typ: Some(MountTypeEnum::VOLUME),
            source: Some(names::volume(&node.cluster, &node.name)),
            target: Some(VOLUME_MOUNT.to_string()),
            ..Default::default()
        }]),
        network_mode: Some(network.clone()),
        memory: node.memory.map(bytes),
        // The same as the limit: no swap, so the limit is what the server
        // really has (Docker's default would add as much swap again).
        memory_swap: node.memory.map(bytes),
        memory_reservation: node.memory_reservation.map(bytes),
        shm_size: Some(bytes(node.shm_size.unwrap_or(DEFAULT_SHM_SIZE))),
        nano_cpus: node.cpus.map(|c| (c * SECOND_NS as f64).round() as i64),
        restart_policy: Some(restart_policy(true)),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(image.to_string()),
        user: Some("postgres".to_string()),
        entrypoint: Some(vec![facts.tool("postgres")]),
        cmd: Some(
            [
                "-D",
                DATA_DIR,
                "-c",
                "listen_addresses=*",
                "-c",
                &format!("port={PG_PORT}"),
            ]
            .map(String::from)
            .to_vec(),
        ),
        labels: Some(names::node_labels(&node.cluster, &node.name)),
        exposed_ports: Some(HashMap::from([(port, HashMap::new())])),
        // postgres takes SIGTERM as a smart shutdown, which waits for every
        // client to leave; SIGINT is the fast shutdown estune wants.
        stop_signal: Some("SIGINT".to_string()),
        stop_timeout: Some(i64::from(STOP_TIMEOUT_SECS)),
        healthcheck: Some(HealthConfig {
            test: Some(vec![
                "CMD".to_string(),
                facts.tool("pg_isready"),
                "-h".to_string(),
                "127.0.0.1".to_string(),
                "-p".to_string(),
                PG_PORT.to_string(),
                "-U".to_string(),
                "postgres".to_string(),
            ]),
            interval: Some(5 * SECOND_NS),
            timeout: Some(5 * SECOND_NS),
            retries: Some(3),
            // Crash recovery or a replica catching up may take a while.
            start_period: Some(60 * SECOND_NS),
            start_interval: None,
        }),
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network,
                EndpointSettings {
                    aliases: Some(vec![node.name.clone()]),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}

/// `unless-stopped` brings back a server that died (crash, OOM kill),
/// never one that was stopped; `no` is the fence of a deposed primary.
fn restart_policy(on: bool) -> RestartPolicy {
    RestartPolicy {
        name: Some(if on {
            RestartPolicyNameEnum::UNLESS_STOPPED
        } else {
            RestartPolicyNameEnum::NO
        }),
        maximum_retry_count: None,
    }
}

/// Turns Docker's restarts of the node's container on or off.
pub async fn set_restart(engine: &Engine, node: &NodeSpec, on: bool) -> Result<(), ClusterError> {
    let name = names::container(&node.cluster, &node.name);
    let update = ContainerUpdateBody {
        restart_policy: Some(restart_policy(on)),
        ..Default::default()
    };
    match engine.api.update_container(&name, update).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(docker_error("update the restart policy of container", name)(e)),
    }
}

pub async fn inspect(
    engine: &Engine,
    name: &str,
) -> Result<Option<ContainerInspectResponse>, ClusterError> {
    match engine
        .api
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(c) => Ok(Some(c)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(docker_error("inspect container", name)(e)),
    }
}

/// Creates the node's container unless it exists; starts nothing.
pub async fn ensure_created(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
) -> Result<String, ClusterError> {
    let name = names::container(&node.cluster, &node.name);
    if inspect(engine, &name).await?.is_some() {
        return Ok(name);
    }
    resources::ensure_volume(engine, node).await?;
    let options = CreateContainerOptionsBuilder::new().name(&name).build();
    match engine
        .api
        .create_container(Some(options), body(node, image, facts))
        .await
    {
        Ok(_) => Ok(name),
        Err(e) if is_conflict(&e) => Ok(name),
        Err(e) => Err(docker_error("create container", name)(e)),
    }
}

pub async fn start(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
) -> Result<(), ClusterError> {
    let name = ensure_created(engine, image, facts, node).await?;
    let running = inspect(engine, &name)
        .await?
        .and_then(|c| c.state)
        .and_then(|s| s.running)
        .unwrap_or(false);
    if running {
        return Err(ClusterError::Command {
            program: format!("docker start {name}"),
            status: "refused".to_string(),
            output: "the container is running already; stop it first".to_string(),
        });
    }
    // A container made before restarts were wanted, or a fenced one.
    set_restart(engine, node, true).await?;
    engine
        .api
        .start_container(
            &name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(docker_error("start container", name))
}

/// Fast shutdown through the container's stop signal; missing or stopped
/// containers are fine. Blocks until the container has exited.
pub async fn stop(engine: &Engine, node: &NodeSpec) -> Result<(), ClusterError> {
    let name = names::container(&node.cluster, &node.name);
    let options = StopContainerOptionsBuilder::new()
        .t(STOP_TIMEOUT_SECS)
        .build();
    match engine.long.stop_container(&name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(docker_error("stop container", name)(e)),
    }
}

pub async fn runtime(engine: &Engine, node: &NodeSpec) -> Result<NodeRuntime, ClusterError> {
    let name = names::container(&node.cluster, &node.name);
    let Some(container) = inspect(engine, &name).await? else {
        return Ok(NodeRuntime {
            location: name,
            ..Default::default()
        });
    };
    let state = container.state.unwrap_or_default();
    let host = container.host_config.unwrap_or_default();
    let running = state.running.unwrap_or(false);
    let positive = |v: Option<i64>| v.filter(|v| *v > 0).and_then(|v| u64::try_from(v).ok());
    let mut runtime = NodeRuntime {
        running,
        pid: state
            .pid
            .filter(|p| *p > 0)
            .and_then(|p| u32::try_from(p).ok()),
        memory_usage: None,
        memory_limit: positive(host.memory),
        memory_reservation: positive(host.memory_reservation),
        oom_killed: state.oom_killed,
        restarts: container.restart_count.and_then(|n| u64::try_from(n).ok()),
        exit_code: if running { None } else { state.exit_code },
        location: name.clone(),
        crashed: None,
    };
    // postgres exits 0 after the fast shutdown `docker stop` asks for;
    // anything else (a kill, an OOM kill, a failed start) is a crash.
    if !running {
        let code = state.exit_code.unwrap_or(0);
        runtime.crashed = if state.oom_killed == Some(true) {
            Some(format!(
                "the kernel killed it for memory (OOM, exit code {code})"
            ))
        } else if code != 0 {
            Some(format!(
                "the container exited with code {code}{}",
                match code {
                    137 => " (SIGKILL)",
                    139 => " (SIGSEGV)",
                    _ => "",
                }
            ))
        } else {
            None
        };
    }
    if running {
        let stats = one_shot_stats(engine, &name).await?;
        let (usage, limit) = memory_of(&stats);
        runtime.memory_usage = usage;
        runtime.memory_limit = limit.or(runtime.memory_limit);
    }
    Ok(runtime)
}

async fn one_shot_stats(
    engine: &Engine,
    name: &str,
) -> Result<ContainerStatsResponse, ClusterError> {
    let options = StatsOptionsBuilder::new()
        .stream(false)
        .one_shot(true)
        .build();
    match engine.api.stats(name, Some(options)).next().await {
        Some(Ok(stats)) => Ok(stats),
        Some(Err(e)) => Err(docker_error("read the stats of container", name)(e)),
        None => Ok(ContainerStatsResponse::default()),
    }
}

/// Usage without the reclaimable page cache, as `docker stats` shows it
/// (cgroup v1 calls it total_inactive_file, v2 inactive_file), and the
/// limit the cgroup enforces.
pub fn memory_of(stats: &ContainerStatsResponse) -> (Option<u64>, Option<u64>) {
    let Some(memory) = &stats.memory_stats else {
        return (None, None);
    };
    let cache = memory.stats.as_ref().and_then(|s| {
        s.get("total_inactive_file")
            .or_else(|| s.get("inactive_file"))
            .copied()
    });
    let usage = memory.usage.map(|u| u.saturating_sub(cache.unwrap_or(0)));
    (usage, memory.limit)
}

pub async fn set_memory(
    engine: &Engine,
    node: &NodeSpec,
    limit: u64,
    reservation: Option<u64>,
) -> Result<(), ClusterError> {
    let name = names::container(&node.cluster, &node.name);
    let update = ContainerUpdateBody {
        memory: Some(bytes(limit)),
        memory_swap: Some(bytes(limit)),
        memory_reservation: reservation.map(bytes),
        ..Default::default()
    };
    engine
        .api
        .update_container(&name, update)
        .await
        .map_err(docker_error("update the memory of container", name))
}

/// The last `lines` lines of the server's output (stdout and stderr).
pub async fn logs(engine: &Engine, node: &NodeSpec, lines: usize) -> Result<String, ClusterError> {
    let name = names::container(&node.cluster, &node.name);
    oneoff::output(engine, &name, &name, &lines.to_string()).await
}

/// Copies the server's output to stdout as it comes, from now on (the
/// caller prints the backlog it wants with `logs` first), until the future
/// is dropped or the container is removed.
pub async fn follow_logs(engine: &Engine, node: &NodeSpec) -> Result<(), ClusterError> {
    let name = names::container(&node.cluster, &node.name);
    let options = LogsOptionsBuilder::new()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .tail("0")
        .build();
    // bollard's timeout covers only the start of the response, so this
    // follows as long as the user wants.
    let mut stream = engine.api.logs(&name, Some(options));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(docker_error("follow the output of container", &name))?;
        // Small writes of a person's terminal: blocking is harmless here.
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(chunk.as_ref())
            .and_then(|()| stdout.flush())
            .map_err(ClusterError::io("writing to stdout"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
