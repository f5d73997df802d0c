//! What goes into a node's data directory: initdb and pg_basebackup in
//! one-off containers on the node's volume, configuration files copied in
//! and out through the archive API. Secrets travel as files (mode 0600,
//! owned by the server's user), never on a command line or in the
//! environment, where `docker inspect` and `ps` would show them.

use super::archive::{self, Entry};
use super::engine::{docker_error, is_not_found, Engine};
use super::image::ImageFacts;
use super::names::{self, DATA_DIR, PG_PORT, SECRETS_DIR, TASK_LABEL, VOLUME_MOUNT};
use super::node;
use super::oneoff::{self, OneOff, Upload};
use super::resources;
use crate::cluster::standby::pgpass_line;
use crate::cluster::{ClusterError, NodeSpec, ReplicationAuth};
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::StreamExt;
use std::path::Path;

const PWFILE: &str = "estune-pwfile";
const PGPASS: &str = "pgpass";

/// The data directory's name inside the volume.
fn data_subdir() -> &'static str {
    Path::new(DATA_DIR)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("data")
}

/// A one-off container for `task` on the node's volume, with an empty
/// data directory owned by the server's user (the volume's root belongs
/// to root, so the user could not create it). `tmp_files` go to
/// `SECRETS_DIR` and vanish with the container; `volume_files` go next to
/// the data directory and stay.
async fn task(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
    task: &str,
    tmp_files: &[(&str, &str)],
    volume_files: &[(&str, &str)],
) -> Result<OneOff, ClusterError> {
    let volume = resources::ensure_volume(engine, node).await?;
    let pack = |entries: &[Entry<'_>]| {
        archive::pack(entries, facts.owner).map_err(ClusterError::io("packing files for Docker"))
    };
    let mut in_volume = vec![Entry::Dir {
        name: data_subdir(),
    }];
    in_volume.extend(archive::file_entries(volume_files));
    let mut uploads = vec![Upload {
        dir: VOLUME_MOUNT.to_string(),
        tar: pack(&in_volume)?,
    }];
    if !tmp_files.is_empty() {
        uploads.push(Upload {
            dir: SECRETS_DIR.to_string(),
            tar: pack(&archive::file_entries(tmp_files))?,
        });
    }
    let mut labels = names::node_labels(&node.cluster, &node.name);
    labels.insert(TASK_LABEL.to_string(), task.to_string());
    Ok(OneOff {
        name: Some(names::task_container(&node.cluster, &node.name, task)),
        what: format!("{task} of {}", names::container(&node.cluster, &node.name)),
        image: image.to_string(),
        labels,
        user: "postgres".to_string(),
        volume: Some((volume, VOLUME_MOUNT.to_string())),
        uploads,
        ..Default::default()
    })
}

pub async fn initdb(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
    password: &str,
) -> Result<(), ClusterError> {
    let secret = format!("{password}\n");
    // The superuser's password is needed once: it stays out of the volume.
    let mut spec = task(
        engine,
        image,
        facts,
        node,
        "initdb",
        &[(PWFILE, &secret)],
        &[],
    )
    .await?;
    spec.command = vec![
        facts.tool("initdb"),
        "-D".into(),
        DATA_DIR.into(),
        "--auth-local=peer".into(),
        "--auth-host=scram-sha-256".into(),
        "--data-checksums".into(),
        "-U".into(),
        "postgres".into(),
        format!("--pwfile={SECRETS_DIR}/{PWFILE}"),
        // Fixed rather than the image's LANG, so every image gives the
        // same collation and encoding.
        "--encoding=UTF8".into(),
        "--locale=C.UTF-8".into(),
    ];
    oneoff::run_ok(engine, &spec).await.map(drop)
}

pub async fn basebackup(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    replica: &NodeSpec,
    primary: &NodeSpec,
    auth: &ReplicationAuth,
) -> Result<(), ClusterError> {
    let host = names::container(&primary.cluster, &primary.name);
    // Any host: after a switchover the same file serves the other node.
    let pgpass = pgpass_line("*", PG_PORT, &auth.user, &auth.password);
    // The walreceiver reads the password from this file later too: -R
    // records the passfile, not the password, in primary_conninfo. It is
    // on the volume, beside the data directory, so the node's container
    // sees it at the same path.
    let pgpass_file = [(PGPASS, pgpass.as_str())];
    let mut spec = task(
        engine,
        image,
        facts,
        replica,
        "basebackup",
        &[],
        &pgpass_file,
    )
    .await?;
    spec.network = Some(names::network(&replica.cluster));
    spec.env = vec![
        format!("PGPASSFILE={VOLUME_MOUNT}/{PGPASS}"),
        format!("ESTUNE_DATA={DATA_DIR}"),
    ];
    // The replica connects later the same way (-R writes this host into
    // primary_conninfo): by the primary's name on the cluster network.
    let mut command: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        r#""$@" && chmod 0700 "$ESTUNE_DATA""#.into(),
        "sh".into(),
    ];
    command.extend(
        [
            &facts.tool("pg_basebackup"),
            "-h",
            &host,
            "-p",
            &PG_PORT.to_string(),
            "-U",
            &auth.user,
            "-D",
            DATA_DIR,
            "-R",
            "-S",
            &auth.slot,
            "-X",
            "stream",
            "-c",
            "fast",
            // Never wait for a password prompt nobody can answer.
            "-w",
        ]
        .map(String::from),
    );
    spec.command = command;
    oneoff::run_ok(engine, &spec).await.map(drop)
}

/// pg_controldata on the node's volume (its server may run or not).
pub async fn control_data(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
) -> Result<String, ClusterError> {
    let mut spec = task(engine, image, facts, node, "controldata", &[], &[]).await?;
    spec.command = vec![facts.tool("pg_controldata"), "-D".into(), DATA_DIR.into()];
    oneoff::run_ok(engine, &spec).await
}

/// pg_rewind of the node's data directory from `source`, reached by its
/// name on the cluster network; the superuser's password travels in a
/// file that vanishes with the one-off container.
pub async fn rewind(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    target: &NodeSpec,
    source: &NodeSpec,
    password: &str,
) -> Result<String, ClusterError> {
    let host = names::container(&source.cluster, &source.name);
    let pgpass = pgpass_line(&host, PG_PORT, "postgres", password);
    let mut spec = task(
        engine,
        image,
        facts,
        target,
        "rewind",
        &[(PGPASS, &pgpass)],
        &[],
    )
    .await?;
    spec.network = Some(names::network(&target.cluster));
    spec.env = vec![format!("ESTUNE_DATA={DATA_DIR}")];
    // The node's container is stopped (the caller made sure), so a
    // postmaster.pid is a killed server's; it names PID 1, which in this
    // container is alive, and would stop the crash recovery pg_rewind runs.
    spec.command = vec![
        "/bin/sh".into(),
        "-c".into(),
        r#"rm -f "$ESTUNE_DATA/postmaster.pid" && exec "$@""#.into(),
        "sh".into(),
        facts.tool("pg_rewind"),
        format!("--target-pgdata={DATA_DIR}"),
        format!(
            "--source-server=host={host} port={PG_PORT} user=postgres dbname=postgres passfile={SECRETS_DIR}/{PGPASS}"
        ),
        "--progress".into(),
    ];
    oneoff::run_ok(engine, &spec).await
}

/// Empties the node's data directory (the server is stopped), keeping the
/// directory itself for the next base backup.
pub async fn clear_data(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
) -> Result<(), ClusterError> {
    let mut spec = task(engine, image, facts, node, "clear", &[], &[]).await?;
    spec.env = vec![format!("ESTUNE_DATA={DATA_DIR}")];
    spec.command = vec![
        "/bin/sh".into(),
        "-c".into(),
        r#"find "$ESTUNE_DATA" -mindepth 1 -delete"#.into(),
    ];
    oneoff::run_ok(engine, &spec).await.map(drop)
}

/// The replication password where the node's WAL receiver reads it (the
/// volume, beside the data directory) and the primary_conninfo naming
/// the primary's container on the cluster network.
pub async fn standby_conninfo(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
    primary: &NodeSpec,
    auth: &ReplicationAuth,
) -> Result<String, ClusterError> {
    let container = node::ensure_created(engine, image, facts, node).await?;
    let line = pgpass_line("*", PG_PORT, &auth.user, &auth.password);
    let tar = archive::pack_files(&[(PGPASS, line.as_str())], facts.owner)
        .map_err(ClusterError::io("packing the password file"))?;
    oneoff::put_archive(engine, &container, &container, VOLUME_MOUNT, tar).await?;
    Ok(format!(
        "host={} port={PG_PORT} user={} passfile={VOLUME_MOUNT}/{PGPASS} application_name={} connect_timeout=5",
        names::container(&primary.cluster, &primary.name),
        auth.user,
        node.name
    ))
}

fn check_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), ClusterError> {
    match names.into_iter().find(|n| !archive::is_plain_name(n)) {
        None => Ok(()),
        Some(bad) => Err(ClusterError::Unsupported {
            what: format!("writing `{bad}` (not a plain file name) into the data directory"),
            backend: "docker",
            hint: None,
        }),
    }
}

pub async fn write_config(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
    files: &[(String, String)],
) -> Result<(), ClusterError> {
    check_names(files.iter().map(|(n, _)| n.as_str()))?;
    let container = node::ensure_created(engine, image, facts, node).await?;
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_str()))
        .collect();
    let tar = archive::pack_files(&files, facts.owner)
        .map_err(ClusterError::io("packing configuration files"))?;
    oneoff::put_archive(engine, &container, &container, DATA_DIR, tar).await
}

pub async fn read_config(
    engine: &Engine,
    image: &str,
    facts: &ImageFacts,
    node: &NodeSpec,
    name: &str,
) -> Result<Option<String>, ClusterError> {
    check_names([name])?;
    let container = node::ensure_created(engine, image, facts, node).await?;
    let path = format!("{DATA_DIR}/{name}");
    let options = DownloadFromContainerOptionsBuilder::new()
        .path(&path)
        .build();
    let mut stream = engine
        .api
        .download_from_container(&container, Some(options));
    let mut tar = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => tar.extend_from_slice(&bytes),
            // The container exists (created above), so 404 is the file.
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(docker_error("copy a file out of container", path)(e)),
        }
    }
    let contents = archive::first_file(&tar)
        .map_err(ClusterError::io(format!("reading {path} from {container}")))?;
    Ok(contents.map(|c| String::from_utf8_lossy(&c).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_reach_the_data_directory() {
        assert!(check_names(["postgresql.conf", "pg_hba.conf"]).is_ok());
        let msg = check_names(["ok", "../../etc/x"]).unwrap_err().to_string();
        assert!(msg.contains("../../etc/x"), "{msg}");
        assert_eq!(data_subdir(), "data");
    }
}
