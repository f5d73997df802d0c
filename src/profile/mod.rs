//! Workload profiles: the TOML model, `extends`, and validation with errors
//! that name the file, line, column and key. Never talks to a server.

mod application;
mod load;
mod model;
mod resolve;

pub use application::{is_parameter_name, Application};
pub use load::{available, BUILTIN};
pub use model::{Method, Storage, SynchronousCommit};
pub use resolve::{
    is_identifier, Access, Durability, Located, Origin, Profile, Resources, RoleProfile,
    TableProfile, Workload, COLUMNS, INDEXES, TABLES,
};

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Parse(#[from] crate::tomlfile::TomlError),
    #[error("no profile named `{name}`; available: {}. Pass a path (e.g. ./my-profile.toml) for your own", available.join(", "))]
    NotFound {
        name: String,
        available: Vec<String>,
    },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
    #[error("profiles extend each other in a cycle: {}", chain.join(" → "))]
    Cycle { chain: Vec<String> },
}

/// Loads a profile by name (searched in `search_dir`, then the built-in
/// ones) or by path, follows `extends`, and validates the result.
pub fn load(spec: &str, search_dir: Option<&Path>) -> Result<Profile, ProfileError> {
    let files = load::chain(spec, search_dir)?;
    resolve::resolve(&files)
}
