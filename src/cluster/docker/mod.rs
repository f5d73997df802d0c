//! The Docker backend: one network, one volume and one container per node,
//! all labelled with the cluster name, driven through the Engine API.
//!
//! Image-agnostic: it needs PostgreSQL server binaries, a `postgres` user
//! and `/bin/sh` in the image, and never uses the image's entrypoint, so
//! the official `postgres:*` images work as well as the registry-free one
//! that `docker/build-image.sh` builds. estune runs initdb and
//! pg_basebackup itself, in one-off containers on the node's volume.

mod archive;
mod datadir;
mod engine;
mod image;
mod names;
mod node;
mod oneoff;
mod resources;

use super::backend::{Backend, BackendKind, NodeRuntime, NodeSpec, Prepared, ReplicationAuth};
use super::ClusterError;
use async_trait::async_trait;
use engine::Engine;
use image::ImageFacts;
use tokio::sync::OnceCell;

/// The image `docker/build-image.sh` builds, and the default.
pub const DEFAULT_IMAGE: &str = "estune/postgres:15";
/// What to run when the image is missing (this machine has no registry).
pub const BUILD_COMMAND: &str = "bash docker/build-image.sh";
pub use engine::DEFAULT_HOST;
pub use names::{CLUSTER_LABEL, DATA_DIR, NODE_LABEL};

/// `DockerBackend::new` as a trait object, for code choosing a backend.
pub fn open(image: &str) -> Result<Box<dyn Backend>, ClusterError> {
    Ok(Box::new(DockerBackend::new(image)?))
}

pub struct DockerBackend {
    engine: Engine,
    image: String,
    /// Asked of the image once (a one-off container), then reused.
    facts: OnceCell<ImageFacts>,
}

impl DockerBackend {
    /// Connects to the engine at DOCKER_HOST, else the standard socket,
    /// and checks that it answers.
    pub async fn connect(image: &str) -> Result<DockerBackend, ClusterError> {
        Self::connect_with(&engine::default_host(), image).await
    }

    /// Connects to the engine at `host`: `unix:///path/docker.sock`, a
    /// socket path, or `tcp://host:port`.
    pub async fn connect_with(host: &str, image: &str) -> Result<DockerBackend, ClusterError> {
        Ok(DockerBackend {
            engine: Engine::connect(host).await?,
            image: image.to_string(),
            facts: OnceCell::new(),
        })
    }

    /// Like `connect`, but without talking to the engine yet (so it need
    /// not be async); `preflight` checks that it answers.
    pub fn new(image: &str) -> Result<DockerBackend, ClusterError> {
        Ok(DockerBackend {
            engine: Engine::new(&engine::default_host())?,
            image: image.to_string(),
            facts: OnceCell::new(),
        })
    }

    /// The engine's address, for messages.
    pub fn socket(&self) -> &str {
        &self.engine.host
    }

    pub fn image(&self) -> &str {
        &self.image
    }

    /// Whether the image is present, without running anything: what
    /// `--backend auto` needs to decide.
    pub async fn image_present(&self) -> Result<bool, ClusterError> {
        match image::check_present(&self.engine, &self.image).await {
            Ok(()) => Ok(true),
            Err(ClusterError::ImageMissing { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The container of a node, for people (`docker logs NAME`).
    pub fn container_name(cluster: &str, node: &str) -> String {
        names::container(cluster, node)
    }

    pub fn network_name(cluster: &str) -> String {
        names::network(cluster)
    }

    pub fn volume_name(cluster: &str, node: &str) -> String {
        names::volume(cluster, node)
    }

    async fn facts(&self) -> Result<&ImageFacts, ClusterError> {
        self.facts
            .get_or_try_init(|| image::probe(&self.engine, &self.image))
            .await
    }
}

#[async_trait]
impl Backend for DockerBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Docker
    }

    fn data_dir(&self, _cluster: &str, _node: &str) -> String {
        DATA_DIR.to_string()
    }

    async fn preflight(&self) -> Result<String, ClusterError> {
        engine::ping(&self.engine.api, &self.engine.host).await?;
        image::check_present(&self.engine, &self.image).await?;
        Ok(self.facts().await?.version.clone())
    }

    async fn prepare(&self, cluster: &str) -> Result<Prepared, ClusterError> {
        let client_networks = resources::ensure_network(&self.engine, cluster).await?;
        Ok(Prepared { client_networks })
    }

    async fn initdb(&self, node: &NodeSpec, superuser_password: &str) -> Result<(), ClusterError> {
        let facts = self.facts().await?;
        datadir::initdb(&self.engine, &self.image, facts, node, superuser_password).await
    }

    async fn basebackup(
        &self,
        replica: &NodeSpec,
        primary: &NodeSpec,
        auth: &ReplicationAuth,
    ) -> Result<(), ClusterError> {
        let facts = self.facts().await?;
        datadir::basebackup(&self.engine, &self.image, facts, replica, primary, auth).await
    }

    async fn write_config(
        &self,
        node: &NodeSpec,
        files: &[(String, String)],
    ) -> Result<(), ClusterError> {
        let facts = self.facts().await?;
        datadir::write_config(&self.engine, &self.image, facts, node, files).await
    }

    async fn read_config(
        &self,
        node: &NodeSpec,
        name: &str,
    ) -> Result<Option<String>, ClusterError> {
        let facts = self.facts().await?;
        datadir::read_config(&self.engine, &self.image, facts, node, name).await
    }

    async fn start(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        let facts = self.facts().await?;
        node::start(&self.engine, &self.image, facts, node).await
    }

    async fn stop(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        node::stop(&self.engine, node).await
    }

    async fn fence(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        node::set_restart(&self.engine, node, false).await
    }

    async fn control_data(&self, node: &NodeSpec) -> Result<String, ClusterError> {
        let facts = self.facts().await?;
        datadir::control_data(&self.engine, &self.image, facts, node).await
    }

    async fn rewind(
        &self,
        target: &NodeSpec,
        source: &NodeSpec,
        superuser_password: &str,
    ) -> Result<String, ClusterError> {
        let facts = self.facts().await?;
        datadir::rewind(
            &self.engine,
            &self.image,
            facts,
            target,
            source,
            superuser_password,
        )
        .await
    }

    async fn clear_data(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        let facts = self.facts().await?;
        datadir::clear_data(&self.engine, &self.image, facts, node).await
    }

    async fn standby_conninfo(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        auth: &ReplicationAuth,
    ) -> Result<String, ClusterError> {
        let facts = self.facts().await?;
        datadir::standby_conninfo(&self.engine, &self.image, facts, node, primary, auth).await
    }

    async fn logs(&self, node: &NodeSpec, lines: usize) -> Result<String, ClusterError> {
        node::logs(&self.engine, node, lines).await
    }

    async fn follow_logs(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        node::follow_logs(&self.engine, node).await
    }

    async fn runtime(&self, node: &NodeSpec) -> Result<NodeRuntime, ClusterError> {
        node::runtime(&self.engine, node).await
    }

    async fn set_memory(
        &self,
        node: &NodeSpec,
        limit: u64,
        reservation: Option<u64>,
    ) -> Result<(), ClusterError> {
        node::set_memory(&self.engine, node, limit, reservation).await
    }

    async fn remove(
        &self,
        cluster: &str,
        nodes: &[NodeSpec],
        purge: bool,
    ) -> Result<(), ClusterError> {
        resources::remove_cluster(&self.engine, cluster, nodes, purge).await
    }
}
