//! One state directory per named cluster: `state.json` (what exists and
//! where) and `secrets.json` (generated passwords, mode 0600, never
//! printed unless asked). Both are written atomically.

use super::{BackendKind, ClusterError, NodeSpec, Prepared};
use crate::tune::Role;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Format version of state.json; bumped on incompatible changes.
/// 2: nodes have names and roles that move between them (format 1 is
/// read and upgraded: its nodes are named after their roles).
pub const STATE_FORMAT: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterState {
    pub format: u32,
    pub name: String,
    pub backend: BackendKind,
    /// "15.18"
    pub pg_version: String,
    pub major: u32,
    /// Docker image, for the docker backend.
    pub image: Option<String>,
    /// Server binaries and the OS user running them, for the local backend.
    pub bindir: Option<PathBuf>,
    pub os_user: Option<String>,
    pub nodes: Vec<NodeSpec>,
    pub prepared: Prepared,
    pub database: String,
    pub app_user: String,
    pub replication_user: String,
    pub replication_slot: String,
    /// The profile and plan last applied.
    pub profile: String,
    pub plan_hash: String,
    pub created: String,
    pub applied: String,
}

impl ClusterState {
    pub fn node(&self, role: Role) -> &NodeSpec {
        self.nodes
            .iter()
            .find(|n| n.role == role)
            .expect("a cluster state always has both nodes")
    }

    pub fn node_mut(&mut self, role: Role) -> &mut NodeSpec {
        self.nodes
            .iter_mut()
            .find(|n| n.role == role)
            .expect("a cluster state always has both nodes")
    }

    /// Swaps the roles of the two nodes (switchover, failover). The
    /// container limits that the plan sets per role go with the role.
    pub fn swap_roles(&mut self) {
        for n in &mut self.nodes {
            n.role = match n.role {
                Role::Primary => Role::Replica,
                Role::Replica => Role::Primary,
            };
        }
        let [a, b] = &mut self.nodes[..] else {
            return;
        };
        std::mem::swap(&mut a.memory, &mut b.memory);
        std::mem::swap(&mut a.memory_reservation, &mut b.memory_reservation);
        // The primary first, as every listing shows them.
        self.nodes.sort_by_key(|n| n.role != Role::Primary);
    }

    /// Reads format 1 (nodes named after their fixed roles).
    fn upgrade(mut self) -> ClusterState {
        for n in &mut self.nodes {
            if n.name.is_empty() {
                n.name = n.role.as_str().to_string();
            }
        }
        self.format = STATE_FORMAT;
        self
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    /// Password of the `postgres` superuser.
    pub superuser: String,
    pub app: String,
    pub replication: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(…)")
    }
}

impl Secrets {
    /// 32 random characters from a URL-safe alphabet: no quoting needed in
    /// connection strings, pgpass files or SQL literals.
    pub fn generate() -> Secrets {
        use rand::Rng;
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        let one = || -> String {
            let mut rng = rand::rng();
            (0..32)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        };
        Secrets {
            superuser: one(),
            app: one(),
            replication: one(),
        }
    }
}

/// Where cluster states live: `--state-dir`, else `$ESTUNE_STATE_DIR`,
/// else `$XDG_STATE_HOME/estune`, else `./.estune` — or, for root, where
/// the servers' OS user can reach (see `fallback`).
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
    /// Chosen by the user (flag or environment): never moved elsewhere.
    pub explicit: bool,
}

/// Where root keeps cluster states when `./.estune` is out of the server
/// user's reach (a home directory of mode 700), as Debian keeps server
/// data under /var/lib/postgresql.
pub const ROOT_FALLBACK: &str = "/var/lib/estune";

impl StateDir {
    pub fn resolve(flag: Option<&Path>) -> StateDir {
        let from_env = |k: &str| {
            std::env::var_os(k)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let chosen = flag
            .map(Path::to_path_buf)
            .or_else(|| from_env("ESTUNE_STATE_DIR"))
            .or_else(|| from_env("XDG_STATE_HOME").map(|p| p.join("estune")));
        let explicit = chosen.is_some();
        let root = chosen.unwrap_or_else(|| PathBuf::from(".estune"));
        let root = std::path::absolute(&root).unwrap_or(root);
        StateDir { root, explicit }
    }

    /// The directory that holds cluster `name`: the default one, unless
    /// the cluster lives in the root fallback (made there by `cluster up`).
    pub fn resolve_for(flag: Option<&Path>, name: &str) -> StateDir {
        let dir = StateDir::resolve(flag);
        if dir.explicit || dir.exists(name) {
            return dir;
        }
        let fallback = StateDir {
            root: PathBuf::from(ROOT_FALLBACK),
            explicit: false,
        };
        if fallback.exists(name) {
            fallback
        } else {
            dir
        }
    }

    /// For a new cluster whose servers run as `user`: the default
    /// directory if `user` can reach it, else the root fallback, with the
    /// reason. An explicit directory is never replaced (the caller's
    /// reachability check then fails with its message).
    pub fn reachable_by(self, user: &crate::pgbin::RunAs) -> (StateDir, Option<String>) {
        if self.explicit {
            return (self, None);
        }
        match user.check_can_reach(&self.root) {
            Ok(()) => (self, None),
            Err(e) => {
                let reason = match e {
                    crate::pgbin::RunAsError::Unreachable { reason, .. } => reason,
                    other => other.to_string(),
                };
                let fallback = StateDir {
                    root: PathBuf::from(ROOT_FALLBACK),
                    explicit: false,
                };
                let why = format!(
                    "state directory: OS user `{}` cannot reach {} ({reason}); using {} instead (--state-dir chooses another)",
                    user.name,
                    self.root.display(),
                    fallback.root.display()
                );
                (fallback, Some(why))
            }
        }
    }

    pub fn cluster_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn state_path(&self, name: &str) -> PathBuf {
        self.cluster_dir(name).join("state.json")
    }

    fn secrets_path(&self, name: &str) -> PathBuf {
        self.cluster_dir(name).join("secrets.json")
    }

    pub fn exists(&self, name: &str) -> bool {
        self.state_path(name).is_file()
    }

    pub fn load(&self, name: &str) -> Result<ClusterState, ClusterError> {
        let path = self.state_path(name);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ClusterError::NoCluster {
                name: name.to_string(),
                dir: self.root.clone(),
            },
            _ => ClusterError::Io {
                what: format!("reading {}", path.display()),
                source: e,
            },
        })?;
        let state: ClusterState =
            serde_json::from_str(&text).map_err(|e| ClusterError::BadState {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if !(1..=STATE_FORMAT).contains(&state.format) {
            return Err(ClusterError::BadState {
                path,
                reason: format!(
                    "format {} is newer than the {STATE_FORMAT} this estune reads; use the estune that made it",
                    state.format
                ),
            });
        }
        Ok(state.upgrade())
    }

    pub fn save(&self, state: &ClusterState) -> Result<(), ClusterError> {
        let path = self.state_path(&state.name);
        let text = serde_json::to_string_pretty(state).expect("state serializes") + "\n";
        write_private(&path, &text)
    }

    pub fn load_secrets(&self, name: &str) -> Result<Secrets, ClusterError> {
        let path = self.secrets_path(name);
        let text = std::fs::read_to_string(&path)
            .map_err(ClusterError::io(format!("reading {}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| ClusterError::BadState {
            path,
            reason: e.to_string(),
        })
    }

    pub fn save_secrets(&self, name: &str, secrets: &Secrets) -> Result<(), ClusterError> {
        let text = serde_json::to_string_pretty(secrets).expect("secrets serialize") + "\n";
        write_private(&self.secrets_path(name), &text)
    }

    /// Removes the cluster's state directory (after `down --purge`).
    pub fn remove(&self, name: &str) -> Result<(), ClusterError> {
        let dir = self.cluster_dir(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClusterError::Io {
                what: format!("removing {}", dir.display()),
                source: e,
            }),
        }
    }
}

/// Atomic write with mode 0600 (set on the temp file before the rename).
fn write_private(path: &Path, text: &str) -> Result<(), ClusterError> {
    crate::atomic::write_atomic_mode(path, text.as_bytes(), 0o600)
        .map_err(ClusterError::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secrets_are_private_and_never_debug_printed() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::resolve(Some(dir.path()));
        let s = Secrets::generate();
        assert_eq!(s.superuser.len(), 32);
        assert_ne!(s.superuser, s.app);
        sd.save_secrets("c", &s).unwrap();
        let mode = std::fs::metadata(dir.path().join("c/secrets.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(sd.load_secrets("c").unwrap().app, s.app);
        assert!(!format!("{s:?}").contains(&s.app));
    }

    #[test]
    fn missing_cluster_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = StateDir::resolve(Some(dir.path()))
            .load("nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("estune cluster up --cluster nope"), "{err}");
    }
}
