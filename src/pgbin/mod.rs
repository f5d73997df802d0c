//! Locating PostgreSQL server binaries (postgres, initdb, pg_ctl, ...) on
//! this machine and telling their versions apart.
//!
//! Search order: an explicit `--pg-bin` directory; directories on `PATH`
//! holding `postgres`; `pg_config --bindir`; Debian's
//! `/usr/lib/postgresql/*/bin`; the PGDG RPM `/usr/pgsql-*/bin`; estune's
//! own `/opt/estune/pg*/bin` (scripts/install-pg18.sh as root), and
//! `$XDG_CACHE_HOME/estune/pg*/bin` and `~/.cache/estune/pg*/bin`.

mod run_as;
pub use run_as::{RunAs, RunAsError};

use std::path::{Path, PathBuf};
use std::process::Command;
use thiserror::Error;

/// One installation's server binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub bindir: PathBuf,
    pub major: u32,
    /// As `postgres --version` prints it, without the packager's suffix: "15.18", "18.6".
    pub version: String,
}

impl PgBinaries {
    pub fn postgres(&self) -> PathBuf {
        self.bindir.join("postgres")
    }

    /// Another program of the same installation: initdb, pg_ctl, pg_basebackup, psql...
    pub fn tool(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    /// Reads the version of `bindir/postgres`. A symlinked postgres (such
    /// as /usr/local/bin/postgres) stands for the directory it points into,
    /// where initdb, pg_basebackup and the rest of its installation live.
    pub fn at(bindir: &Path) -> Result<PgBinaries, String> {
        let link = bindir.join("postgres");
        if !link.is_file() {
            return Err(format!("{} does not exist", link.display()));
        }
        let postgres = link
            .canonicalize()
            .map_err(|e| format!("cannot resolve {}: {e}", link.display()))?;
        let bindir = postgres.parent().unwrap_or(bindir);
        let out = Command::new(&postgres)
            .arg("--version")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", postgres.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "{} --version failed ({})",
                postgres.display(),
                out.status
            ));
        }
        let (major, version) = parse_version(&text)
            .ok_or_else(|| format!("cannot read the version in `{}`", text.trim()))?;
        Ok(PgBinaries {
            bindir: bindir.to_path_buf(),
            major,
            version,
        })
    }
}

#[derive(Debug, Error)]
pub enum PgBinError {
    #[error("--pg-bin {dir}: {reason}. Pass the directory that holds the PostgreSQL server programs (postgres, initdb), e.g. /usr/lib/postgresql/15/bin")]
    Explicit { dir: PathBuf, reason: String },
    #[error("--pg-bin {dir} holds PostgreSQL {found}, not {wanted}; pass the bin directory of a PostgreSQL {wanted} installation")]
    ExplicitWrongMajor {
        dir: PathBuf,
        found: String,
        wanted: u32,
    },
    #[error("{}", not_found_message(.wanted, .searched, .found))]
    NotFound {
        wanted: Option<u32>,
        searched: Vec<PathBuf>,
        found: Vec<(String, PathBuf)>,
    },
}

fn not_found_message(
    wanted: &Option<u32>,
    searched: &[PathBuf],
    found: &[(String, PathBuf)],
) -> String {
    let what = wanted.map_or("PostgreSQL server binaries".to_string(), |m| {
        format!("PostgreSQL {m} server binaries")
    });
    let places: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
    let mut msg = format!(
        "no {what} found (searched PATH, pg_config and: {})",
        places.join(", ")
    );
    if !found.is_empty() {
        let others: Vec<String> = found
            .iter()
            .map(|(v, d)| format!("{v} in {}", d.display()))
            .collect();
        msg.push_str(&format!("; found {}", others.join(", ")));
    }
    let pkg = wanted.map_or("postgresql-NN".to_string(), |m| format!("postgresql-{m}"));
    msg.push_str(&format!(
        ". Install {pkg} (e.g. apt-get install {pkg}) or pass --pg-bin DIR"
    ));
    msg
}

/// Finds server binaries: `explicit` if given (it must be usable), else
/// the first installation of `want_major` in search order, or the highest
/// version found.
pub fn find(explicit: Option<&Path>, want_major: Option<u32>) -> Result<PgBinaries, PgBinError> {
    if let Some(dir) = explicit {
        let bin = PgBinaries::at(dir).map_err(|reason| PgBinError::Explicit {
            dir: dir.to_path_buf(),
            reason,
        })?;
        return match want_major {
            Some(wanted) if wanted != bin.major => Err(PgBinError::ExplicitWrongMajor {
                dir: dir.to_path_buf(),
                found: bin.version,
                wanted,
            }),
            _ => Ok(bin),
        };
    }
    let all = find_all();
    let pick = match want_major {
        Some(m) => all.iter().find(|b| b.major == m),
        // max_by_key keeps the last of equals; reversing keeps search order.
        None => all.iter().rev().max_by_key(|b| version_key(&b.version)),
    };
    pick.cloned().ok_or_else(|| PgBinError::NotFound {
        wanted: want_major,
        searched: fixed_places(),
        found: all
            .iter()
            .map(|b| (b.version.clone(), b.bindir.clone()))
            .collect(),
    })
}

/// Every usable installation, in search order, each directory once.
pub fn find_all() -> Vec<PgBinaries> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for dir in candidates() {
        let Ok(real) = dir.join("postgres").canonicalize() else {
            continue;
        };
        if seen.contains(&real) {
            continue;
        }
        seen.push(real);
        out.extend(PgBinaries::at(&dir));
    }
    out
}

fn candidates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.join("postgres").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.extend(pg_config_bindir());
    dirs.extend(globbed(Path::new("/usr/lib/postgresql"), "", "bin"));
    dirs.extend(globbed(Path::new("/usr"), "pgsql-", "bin"));
    for cache in cache_roots() {
        dirs.extend(globbed(&cache, "pg", "bin"));
    }
    dirs
}

/// The fixed places searched besides PATH and pg_config, for error messages.
fn fixed_places() -> Vec<PathBuf> {
    let mut places = vec![
        PathBuf::from("/usr/lib/postgresql/*/bin"),
        PathBuf::from("/usr/pgsql-*/bin"),
    ];
    places.extend(cache_roots().into_iter().map(|c| c.join("pg*/bin")));
    places
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

fn cache_roots() -> Vec<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    // Where scripts/install-pg18.sh puts binaries when run as root.
    let mut roots = vec![PathBuf::from("/opt/estune")];
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        roots.push(xdg.join("estune"));
    }
    if let Some(home) = std::env::var_os("HOME").and_then(absolute) {
        roots.push(home.join(".cache").join("estune"));
    }
    roots.dedup();
    roots
}

/// `parent/prefix*/sub`, newest version first (by the number in the name).
fn globbed(parent: &Path, prefix: &str, sub: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u64>, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(prefix)?;
            let dir = e.path().join(sub);
            dir.is_dir().then(|| (version_key(rest), dir))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, d)| d).collect()
}

/// "15.18" → [15, 18]; "18beta1" → [18]; for ordering versions.
fn version_key(v: &str) -> Vec<u64> {
    v.split('.')
        .map_while(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// Reads `postgres --version`: "postgres (PostgreSQL) 15.18 (Debian
/// 15.18-0+deb12u1)" → (15, "15.18"); "postgres (PostgreSQL) 18.6" →
/// (18, "18.6"); "18beta1" → (18, "18beta1").
pub fn parse_version(text: &str) -> Option<(u32, String)> {
    let line = text.lines().next()?;
    let after = line
        .split_once("(PostgreSQL)")
        .map_or(line, |(_, rest)| rest);
    let version = after.split_whitespace().next()?;
    let major: String = version.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, version.to_string()))
}

#[cfg(test)]
mod tests;
