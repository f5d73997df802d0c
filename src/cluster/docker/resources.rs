//! The shared pieces of a cluster (its network, a volume per role) and
//! their removal. Removal goes by label, not by the names estune expects,
//! so whatever a crashed or interrupted run left behind is found too.

use super::engine::{docker_error, is_conflict, is_not_found, Engine};
use super::names;
use super::oneoff;
use crate::cluster::{ClusterError, NodeSpec};
use bollard::models::{NetworkCreateRequest, VolumeCreateOptions};
use bollard::query_parameters::{
    InspectNetworkOptions, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder,
};

/// Creates the cluster's bridge network if missing; returns its IPv4
/// subnets, where published ports' connections come from (the gateway).
pub async fn ensure_network(engine: &Engine, cluster: &str) -> Result<Vec<String>, ClusterError> {
    let name = names::network(cluster);
    if let Some(subnets) = network_subnets(engine, &name).await? {
        return Ok(subnets);
    }
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".to_string()),
        labels: Some(names::cluster_labels(cluster)),
        ..Default::default()
    };
    match engine.api.create_network(request).await {
        Ok(_) => {}
        Err(e) if is_conflict(&e) => {}
        Err(e) => return Err(docker_error("create network", &name)(e)),
    }
    network_subnets(engine, &name)
        .await?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ClusterError::Command {
            program: format!("docker network inspect {name}"),
            status: "no IPv4 subnet".to_string(),
            output: "the network was created but Docker assigned it no IPv4 subnet".to_string(),
        })
}

async fn network_subnets(engine: &Engine, name: &str) -> Result<Option<Vec<String>>, ClusterError> {
    let network = match engine
        .api
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
    {
        Ok(n) => n,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(docker_error("inspect network", name)(e)),
    };
    let subnets = network
        .ipam
        .and_then(|ipam| ipam.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.subnet)
        .filter(|s| s.contains('.'))
        .collect();
    Ok(Some(subnets))
}

/// Creates the node's volume, labelled (Docker would otherwise create it
/// unlabelled on first mount, and `remove` would not find it).
pub async fn ensure_volume(engine: &Engine, node: &NodeSpec) -> Result<String, ClusterError> {
    let name = names::volume(&node.cluster, &node.name);
    let options = VolumeCreateOptions {
        name: Some(name.clone()),
        labels: Some(names::node_labels(&node.cluster, &node.name)),
        ..Default::default()
    };
    // Idempotent in Docker: an existing volume of that name is returned.
    engine
        .api
        .create_volume(options)
        .await
        .map_err(docker_error("create volume", &name))?;
    Ok(name)
}

/// Containers (force), the network, and with `purge` the volumes.
pub async fn remove_cluster(
    engine: &Engine,
    cluster: &str,
    nodes: &[NodeSpec],
    purge: bool,
) -> Result<(), ClusterError> {
    let filter = names::cluster_filter(cluster);
    let listed = engine
        .api
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(docker_error("list containers of cluster", cluster))?;
    let mut containers: Vec<String> = listed.into_iter().filter_map(|c| c.id).collect();
    containers.extend(nodes.iter().map(|n| names::container(&n.cluster, &n.name)));
    for container in containers {
        oneoff::remove(engine, &container).await?;
    }

    let networks = engine
        .api
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filter).build(),
        ))
        .await
        .map_err(docker_error("list networks of cluster", cluster))?;
    for network in networks.into_iter().filter_map(|n| n.id) {
        match engine.api.remove_network(&network).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(docker_error("remove network", network)(e)),
        }
    }

    if purge {
        let volumes = engine
            .api
            .list_volumes(Some(
                ListVolumesOptionsBuilder::new().filters(&filter).build(),
            ))
            .await
            .map_err(docker_error("list volumes of cluster", cluster))?;
        let mut names: Vec<String> = volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        names.extend(nodes.iter().map(|n| names::volume(&n.cluster, &n.name)));
        names.sort();
        names.dedup();
        for volume in names {
            remove_volume(engine, &volume).await?;
        }
    }
    Ok(())
}

async fn remove_volume(engine: &Engine, name: &str) -> Result<(), ClusterError> {
    let options = RemoveVolumeOptionsBuilder::new().force(false).build();
    match engine.api.remove_volume(name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(docker_error("remove volume", name)(e)),
    }
}
