//! The parameter catalog of one PostgreSQL build or server: names, types,
//! units, ranges, enum values and contexts, read from `pg_settings`, never guessed.
//!
//! Three sources, from best to worst: a live server ([`Catalog::from_client`]),
//! a throwaway server started from the exact binaries ([`Catalog::from_binary`],
//! cached), and the built-in dumps of PostgreSQL 15 and 18 from which the other
//! supported majors are derived by an explicit table of release differences
//! ([`Catalog::builtin`]). Every setting the tool writes goes through
//! [`Catalog::check`], which reads a value the way the server would.

mod cache;
mod check;
mod param;
mod parse;
mod probe;
mod server;
mod tsv;
mod versions;

#[cfg(test)]
mod check_tests;

pub use check::{CheckError, Checked};
pub use param::{Context, Param, VarType};

use crate::pgbin::PgBinaries;
use std::collections::BTreeMap;
use std::path::PathBuf;
use thiserror::Error;

/// Where a catalog came from, so reports can say how much to trust it.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogSource {
    /// Embedded data; `derived_from` names the dump it was derived from when
    /// `major` has no dump of its own.
    Builtin {
        major: u32,
        derived_from: Option<u32>,
    },
    /// A throwaway server started from these binaries.
    Binary { bindir: PathBuf, version: String },
    /// A running server; `server` is host:port/db and never holds a password.
    Server { server: String, version: String },
}

#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("there is no built-in parameter catalog for PostgreSQL {major}; supported versions are {supported}. Pass --pg-bin DIR or a connection string so the catalog can be read from the real binaries or server")]
    UnsupportedVersion { major: u32, supported: String },
    #[error("built-in catalog pg{major}.tsv, line {line}: {reason} (this is a bug in estune)")]
    BadBuiltin {
        major: u32,
        line: usize,
        reason: String,
    },
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    RunAs(#[from] crate::pgbin::RunAsError),
    #[error("{program} failed ({status}) while probing the parameter catalog:\n{output}")]
    Command {
        program: PathBuf,
        status: String,
        output: String,
    },
    #[error("the throwaway PostgreSQL server in {dir} {what}; its log ends with:\n{log}")]
    ServerStart {
        dir: PathBuf,
        what: String,
        log: String,
    },
    #[error("could not read pg_settings from {server}")]
    Query {
        server: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "{server} returned a pg_settings row estune cannot read (parameter `{name}`): {reason}"
    )]
    BadRow {
        server: String,
        name: String,
        reason: String,
    },
}

impl CatalogError {
    /// True when the user can fix it by changing what they asked for (the
    /// version, the OS user, where the binaries are), as opposed to a
    /// failing environment or a bug; the CLI exits 2 for these.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            CatalogError::UnsupportedVersion { .. }
                | CatalogError::RunAs(
                    crate::pgbin::RunAsError::NoSuchUser { .. }
                        | crate::pgbin::RunAsError::Unreachable { .. }
                )
        )
    }
}

/// The parameter catalog of one PostgreSQL major version or build.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub major: u32,
    pub source: CatalogSource,
    /// Keyed by lower-case name: PostgreSQL parameter names are case-insensitive.
    params: BTreeMap<String, Param>,
}

impl Catalog {
    pub(crate) fn new(major: u32, source: CatalogSource, params: Vec<Param>) -> Catalog {
        let params = params
            .into_iter()
            .map(|p| (p.name.to_ascii_lowercase(), p))
            .collect();
        Catalog {
            major,
            source,
            params,
        }
    }

    /// The built-in catalog of a supported major version (13 to 18).
    pub fn builtin(major: u32) -> Result<Catalog, CatalogError> {
        let (params, derived_from) = versions::builtin_params(major)?;
        Ok(Catalog::new(
            major,
            CatalogSource::Builtin {
                major,
                derived_from,
            },
            params,
        ))
    }

    /// The catalog of exactly these binaries, which is the truth for this
    /// build (enum values such as lz4 depend on build options). Starts a
    /// throwaway server as `os_user` when running as root; the result is
    /// cached per binary (path, size, modification time).
    pub fn from_binary(bin: &PgBinaries, os_user: &str) -> Result<Catalog, CatalogError> {
        let postgres = bin.postgres();
        let fingerprint = cache::Fingerprint::of(&postgres).map_err(|source| CatalogError::Io {
            what: format!("cannot read {}", postgres.display()),
            source,
        })?;
        let cache_dir = cache::dir();
        let hit = cache_dir
            .as_deref()
            .and_then(|dir| cache::load(dir, &fingerprint));
        let (version, major, params) = match hit {
            Some(hit) => (hit.version, hit.major, hit.params),
            None => {
                let probed = probe::probe(bin, os_user)?;
                // A cache that cannot be written only costs the next run a
                // second probe, so it is not worth failing for.
                if let Some(dir) = &cache_dir {
                    let _ = cache::store(
                        dir,
                        &fingerprint,
                        &probed.version,
                        probed.major,
                        &probed.params,
                    );
                }
                (probed.version, probed.major, probed.params)
            }
        };
        let source = CatalogSource::Binary {
            bindir: bin.bindir.clone(),
            version,
        };
        Ok(Catalog::new(major, source, params))
    }

    /// The catalog of a running server, from its `pg_settings`.
    pub async fn from_client(
        client: &tokio_postgres::Client,
        server_label: &str,
    ) -> Result<Catalog, CatalogError> {
        let read = server::read_settings(client, server_label).await?;
        let source = CatalogSource::Server {
            server: server_label.to_string(),
            version: read.version,
        };
        Ok(Catalog::new(read.major, source, read.params))
    }

    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.get(&name.to_ascii_lowercase())
    }

    /// All parameters, ordered by name.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        self.params.values()
    }

    /// One line for people saying where the catalog came from.
    pub fn describe(&self) -> String {
        match &self.source {
            CatalogSource::Builtin { major, derived_from: None } => {
                format!("built-in catalog for PostgreSQL {major} (no server or binary was used)")
            }
            CatalogSource::Builtin { major, derived_from: Some(from) } => format!(
                "built-in catalog for PostgreSQL {major} (derived from the {from} catalog; no server or binary was used)"
            ),
            CatalogSource::Binary { bindir, version } => {
                format!("catalog of {} (PostgreSQL {version})", bindir.join("postgres").display())
            }
            CatalogSource::Server { server, version } => {
                format!("catalog of the server at {server} (PostgreSQL {version})")
            }
        }
    }

    /// The known parameter nearest to a misspelt name, if it is close enough
    /// to be what was meant.
    pub fn suggest(&self, name: &str) -> Option<String> {
        let wanted = name.to_ascii_lowercase();
        self.params
            .iter()
            .map(|(key, p)| {
                (
                    strsim::jaro_winkler(&wanted, key),
                    strsim::damerau_levenshtein(&wanted, key),
                    p,
                )
            })
            .filter(|(jw, dl, _)| *dl <= 2 || *jw >= 0.93)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, _, p)| p.name.clone())
    }

    /// The compiled-in default in the form people write it: "128MB", "5min", "on".
    pub fn default_display(&self, name: &str) -> Option<String> {
        self.get(name).map(check::default_display)
    }

    /// A base-unit setting (as pg_settings shows it) in the form people
    /// write it; unknown parameters are shown as given.
    pub fn display(&self, name: &str, setting: &str) -> String {
        self.get(name)
            .map(|p| check::display(p, setting))
            .unwrap_or_else(|| setting.to_string())
    }

    /// Whether two base-unit settings of `name` mean the same value.
    pub fn same(&self, name: &str, a: &str, b: &str) -> bool {
        self.get(name).map_or(a == b, |p| check::same(p, a, b))
    }

    /// Reads `value` the way the server would for parameter `name`: the
    /// setting it will show in `pg_settings`, or why it would be refused.
    pub fn check(&self, name: &str, value: &crate::value::Value) -> Result<Checked, CheckError> {
        let param = self.get(name).ok_or_else(|| CheckError::UnknownParameter {
            name: name.to_string(),
            major: self.major,
            suggestion: self.suggest(name),
        })?;
        check::check(param, value)
    }
}
