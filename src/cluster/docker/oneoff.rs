//! One-off containers: the server's tools (initdb, pg_basebackup, a probe
//! of the image) run in a container of their own on the node's volume,
//! because the node's container runs postgres as its main process and
//! cannot exist before its data directory does. The container is removed
//! afterwards whatever happened; its output is kept for the error.

use super::engine::{docker_error, is_not_found, Engine};
use crate::cluster::ClusterError;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountTypeEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;

/// What to run. Uploads land before the program starts: this is how
/// secrets get in without appearing on a command line, in the environment
/// or in `docker inspect`.
#[derive(Debug, Clone, Default)]
pub struct OneOff {
    /// Container name; a leftover of the same name is removed first.
    pub name: Option<String>,
    /// For error messages: "initdb of estune-x-primary".
    pub what: String,
    pub image: String,
    pub labels: HashMap<String, String>,
    /// A user name or uid as the image knows it.
    pub user: String,
    /// Program and arguments; replaces the image's entrypoint, which
    /// images like the official `postgres:*` use to run their own setup.
    pub command: Vec<String>,
    pub env: Vec<String>,
    /// (volume name, mount point).
    pub volume: Option<(String, String)>,
    pub network: Option<String>,
    pub uploads: Vec<Upload>,
}

/// A tar (see `archive`) extracted into `dir` of the container.
#[derive(Debug, Clone)]
pub struct Upload {
    pub dir: String,
    pub tar: Vec<u8>,
}

pub struct Finished {
    pub exit_code: i64,
    /// stdout and stderr, interleaved as written.
    pub output: String,
}

/// Runs the container to completion and returns its output; a non-zero
/// exit is an error carrying that output.
pub async fn run_ok(engine: &Engine, spec: &OneOff) -> Result<String, ClusterError> {
    let done = run(engine, spec).await?;
    if done.exit_code == 0 {
        Ok(done.output)
    } else {
        Err(ClusterError::Command {
            program: format!("{} (one-off container of {})", spec.what, spec.image),
            status: format!("exit code {}", done.exit_code),
            output: done.output,
        })
    }
}

pub async fn run(engine: &Engine, spec: &OneOff) -> Result<Finished, ClusterError> {
    let label = spec.name.clone().unwrap_or_else(|| spec.what.clone());
    if let Some(name) = &spec.name {
        remove(engine, name).await?;
    }
    let mut options = CreateContainerOptionsBuilder::new();
    if let Some(name) = &spec.name {
        options = options.name(name);
    }
    let id = engine
        .api
        .create_container(Some(options.build()), body(spec))
        .await
        .map_err(docker_error("create container", &label))?
        .id;
    let outcome = upload_start_wait(engine, spec, &id, &label).await;
    let removed = remove(engine, &id).await;
    let finished = outcome?;
    removed?;
    Ok(finished)
}

fn body(spec: &OneOff) -> ContainerCreateBody {
    let mounts = spec.volume.as_ref().map(|(volume, target)| {
        vec![Mount {
            typ: Some(MountTypeEnum::VOLUME),
            source: Some(volume.clone()),
            target: Some(target.clone()),
            ..Default::default()
        }]
    });
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        user: Some(spec.user.clone()),
        entrypoint: Some(spec.command.clone()),
        // An empty Cmd, or the image's CMD would be appended as arguments.
        cmd: Some(Vec::new()),
        env: Some(spec.env.clone()),
        labels: Some(spec.labels.clone()),
        working_dir: Some("/".to_string()),
        host_config: Some(HostConfig {
            mounts,
            network_mode: spec.network.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn upload_start_wait(
    engine: &Engine,
    spec: &OneOff,
    id: &str,
    label: &str,
) -> Result<Finished, ClusterError> {
    for upload in &spec.uploads {
        put_archive(engine, id, label, &upload.dir, upload.tar.clone()).await?;
    }
    engine
        .api
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(docker_error("start container", label))?;
    let wait = WaitContainerOptionsBuilder::new()
        .condition("not-running")
        .build();
    let mut waits = engine.long.wait_container(id, Some(wait));
    let exit_code = match waits.next().await {
        Some(Ok(response)) => response.status_code,
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(docker_error("wait for container", label)(e)),
        None => -1,
    };
    let output = output(engine, id, label, "all").await?;
    Ok(Finished { exit_code, output })
}

/// stdout and stderr of a container, the last `tail` lines ("all" for all).
pub async fn output(
    engine: &Engine,
    id: &str,
    label: &str,
    tail: &str,
) -> Result<String, ClusterError> {
    let options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail(tail)
        .build();
    let mut stream = engine.api.logs(id, Some(options));
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(docker_error("read the output of container", label))?;
        out.extend_from_slice(chunk.as_ref());
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Force-removes a container with its anonymous volumes (images such as
/// `postgres:*` declare a VOLUME); a missing one is fine.
pub async fn remove(engine: &Engine, id: &str) -> Result<(), ClusterError> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match engine.api.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(docker_error("remove container", id)(e)),
    }
}

/// Extracts a tar into `dir` of a container, running or only created.
pub async fn put_archive(
    engine: &Engine,
    id: &str,
    label: &str,
    dir: &str,
    tar: Vec<u8>,
) -> Result<(), ClusterError> {
    let options = UploadToContainerOptionsBuilder::new().path(dir).build();
    engine
        .api
        .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
        .await
        .map_err(docker_error("copy files into container", label))
}
