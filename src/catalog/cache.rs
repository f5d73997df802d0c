//! The on-disk cache of probed catalogs, one JSON file per postgres binary
//! in `$XDG_CACHE_HOME/estune/catalogs/` (or `~/.cache/estune/catalogs/`),
//! named by a hash of the binary's path, size and modification time, so an
//! upgraded package is probed again. Anything unreadable is a miss.

use super::Param;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Bumped whenever the file layout or `Param` changes.
const FORMAT: u32 = 1;

/// What identifies one build of postgres on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fingerprint {
    pub postgres: PathBuf,
    pub size: u64,
    pub mtime_ns: u128,
}

impl Fingerprint {
    pub(crate) fn of(postgres: &Path) -> std::io::Result<Fingerprint> {
        let postgres = postgres.canonicalize()?;
        let meta = std::fs::metadata(&postgres)?;
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Fingerprint {
            postgres,
            size: meta.len(),
            mtime_ns,
        })
    }

    fn file_name(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!(
            "{FORMAT}\0{}\0{}\0{}",
            self.postgres.display(),
            self.size,
            self.mtime_ns
        ));
        let hex: String = h
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{hex}.json")
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Entry {
    format: u32,
    fingerprint: Fingerprint,
    pub version: String,
    pub major: u32,
    pub params: Vec<Param>,
}

/// The cache directory for this user, if there is a home to put it in.
pub(crate) fn dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let base = std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })?;
    Some(base.join("estune").join("catalogs"))
}

pub(crate) fn load(dir: &Path, fp: &Fingerprint) -> Option<Entry> {
    let text = std::fs::read_to_string(dir.join(fp.file_name())).ok()?;
    let entry: Entry = serde_json::from_str(&text).ok()?;
    (entry.format == FORMAT && entry.fingerprint == *fp && !entry.params.is_empty())
        .then_some(entry)
}

/// Writes through a temporary file in the same directory and renames it,
/// so a concurrent reader never sees half a file.
pub(crate) fn store(
    dir: &Path,
    fp: &Fingerprint,
    version: &str,
    major: u32,
    params: &[Param],
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let entry = Entry {
        format: FORMAT,
        fingerprint: fp.clone(),
        version: version.to_string(),
        major,
        params: params.to_vec(),
    };
    let path = dir.join(fp.file_name());
    crate::atomic::write_atomic(&path, &serde_json::to_string(&entry)?)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tsv;

    #[test]
    fn round_trip_and_corruption() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("estune/catalogs");
        let bin = home.path().join("postgres");
        std::fs::write(&bin, b"not really postgres").unwrap();
        let fp = Fingerprint::of(&bin).unwrap();
        let params = vec![tsv::parse_line("fsync\tbool\t\t\t\t\tsighup\ton\tc\td").unwrap()];

        assert!(load(&dir, &fp).is_none());
        let path = store(&dir, &fp, "15.18", 15, &params).unwrap();
        assert!(path.starts_with(&dir));
        let hit = load(&dir, &fp).unwrap();
        assert_eq!(
            (hit.version.as_str(), hit.major, hit.params),
            ("15.18", 15, params.clone())
        );

        std::fs::write(&path, b"{ truncated").unwrap();
        assert!(load(&dir, &fp).is_none(), "a corrupt file is a miss");
        store(&dir, &fp, "15.18", 15, &params).unwrap();
        assert!(load(&dir, &fp).is_some(), "and is rewritten");

        std::fs::write(&bin, b"an upgraded postgres binary").unwrap();
        let upgraded = Fingerprint::of(&bin).unwrap();
        assert_ne!(upgraded.file_name(), fp.file_name());
        assert!(load(&dir, &upgraded).is_none());
    }
}
