//! The Docker backend (bollard). Being written; until it lands, choosing
//! it reports that plainly instead of pretending.

use super::{Backend, ClusterError};

pub const DEFAULT_IMAGE: &str = "estune/postgres:15";

pub fn open(_image: &str) -> Result<Box<dyn Backend>, ClusterError> {
    Err(ClusterError::Unsupported {
        what: "running the pair in containers".into(),
        backend: "docker",
        hint: Some(
            "this build of estune does not include the Docker backend yet; use --backend local"
                .into(),
        ),
    })
}
