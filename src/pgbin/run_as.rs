//! Running PostgreSQL's programs as an unprivileged OS user when estune
//! runs as root (PostgreSQL refuses to run as root).

use nix::unistd::{Gid, Uid, User};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum RunAsError {
    #[error("OS user `{user}` does not exist; create it (e.g. `useradd --system postgres`) or name another unprivileged user, because PostgreSQL refuses to run as root")]
    NoSuchUser { user: String },
    #[error("looking up OS user `{user}`: {source}")]
    Lookup {
        user: String,
        #[source]
        source: std::io::Error,
    },
    #[error("OS user `{user}` cannot reach {path}: {reason}. PostgreSQL has to run as that user, so keep its binaries and data where it can reach them (or make the directories traversable with chmod o+x)")]
    Unreachable {
        user: String,
        path: std::path::PathBuf,
        reason: String,
    },
}

/// The unprivileged user the server runs as when we are root.
#[derive(Debug, Clone)]
pub struct RunAs {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
}

impl RunAs {
    /// None when not root: then the server simply runs as the current user.
    pub fn resolve(os_user: &str) -> Result<Option<RunAs>, RunAsError> {
        if !Uid::effective().is_root() {
            return Ok(None);
        }
        match User::from_name(os_user) {
            Ok(Some(u)) => Ok(Some(RunAs {
                name: u.name,
                uid: u.uid,
                gid: u.gid,
            })),
            Ok(None) => Err(RunAsError::NoSuchUser {
                user: os_user.to_string(),
            }),
            Err(e) => Err(RunAsError::Lookup {
                user: os_user.to_string(),
                source: e.into(),
            }),
        }
    }

    pub fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid.as_raw()).gid(self.gid.as_raw());
    }

    /// Fails early, and says which directory is in the way, when the user
    /// cannot execute the binary (e.g. an install under root's home).
    pub fn check_can_run(&self, postgres: &Path) -> Result<(), RunAsError> {
        let mut cmd = Command::new(postgres);
        cmd.arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.apply(&mut cmd);
        match cmd.status() {
            Ok(_) => Ok(()),
            Err(e) => Err(RunAsError::Unreachable {
                user: self.name.clone(),
                path: postgres.to_path_buf(),
                reason: self.blocking_dir(postgres).unwrap_or_else(|| e.to_string()),
            }),
        }
    }

    /// Whether the user can reach `dir` (search permission on every
    /// ancestor); the reason names the first directory in the way.
    pub fn check_can_reach(&self, dir: &Path) -> Result<(), RunAsError> {
        match self.blocking_dir(&dir.join("x")) {
            None => Ok(()),
            Some(reason) => Err(RunAsError::Unreachable {
                user: self.name.clone(),
                path: dir.to_path_buf(),
                reason,
            }),
        }
    }

    fn blocking_dir(&self, path: &Path) -> Option<String> {
        let groups = std::ffi::CString::new(self.name.as_str())
            .ok()
            .and_then(|name| nix::unistd::getgrouplist(&name, self.gid).ok())
            .unwrap_or_else(|| vec![self.gid]);
        path.ancestors()
            .skip(1)
            .filter(|d| !d.as_os_str().is_empty())
            .find_map(|dir| {
                let meta = std::fs::metadata(dir).ok()?;
                let shift = if meta.uid() == self.uid.as_raw() {
                    6
                } else if groups.contains(&Gid::from_raw(meta.gid())) {
                    3
                } else {
                    0
                };
                (meta.mode() >> shift & 0o1 == 0).then(|| {
                    format!(
                        "{} (mode {:o}) is not searchable by it",
                        dir.display(),
                        meta.mode() & 0o7777
                    )
                })
            })
    }
}
