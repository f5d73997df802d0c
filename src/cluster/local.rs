//! The local backend: each server is an ordinary process on 127.0.0.1,
//! run by pg_ctl as an unprivileged OS user (never root), with its data
//! directory, log and socket directory under the cluster's state directory.

use super::standby::pgpass_line;
use super::{Backend, BackendKind, ClusterError, NodeRuntime, NodeSpec, Prepared, ReplicationAuth};
use crate::pgbin::{PgBinaries, RunAs};
use async_trait::async_trait;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct LocalBackend {
    pub bins: PgBinaries,
    /// Where cluster directories live (the state directory's root).
    root: PathBuf,
    run_as: Option<RunAs>,
}

impl LocalBackend {
    pub fn new(
        bins: PgBinaries,
        state_root: &Path,
        os_user: &str,
    ) -> Result<LocalBackend, ClusterError> {
        let run_as = RunAs::resolve(os_user)?;
        Ok(LocalBackend {
            bins,
            root: state_root.to_path_buf(),
            run_as,
        })
    }

    /// The node's own directory: data/, server.log, run/ (socket), .pgpass.
    fn node_dir(&self, node: &NodeSpec) -> PathBuf {
        Path::new(&node.data_dir)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.join(&node.cluster).join(&node.name))
    }

    fn log_path(&self, node: &NodeSpec) -> PathBuf {
        self.node_dir(node).join("server.log")
    }

    /// Makes a directory the server user owns (mode 0700).
    fn own_dir(&self, dir: &Path) -> Result<(), ClusterError> {
        std::fs::create_dir_all(dir)
            .map_err(ClusterError::io(format!("creating {}", dir.display())))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
            ClusterError::io(format!("setting the mode of {}", dir.display())),
        )?;
        self.chown(dir)
    }

    fn chown(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(u) = &self.run_as {
            nix::unistd::chown(path, Some(u.uid), Some(u.gid)).map_err(|e| ClusterError::Io {
                what: format!("giving {} to {}", path.display(), u.name),
                source: e.into(),
            })?;
        }
        Ok(())
    }

    /// Writes a file the server user owns, mode 0600, atomically.
    fn write_owned(&self, path: &Path, text: &str) -> Result<(), ClusterError> {
        crate::atomic::write_atomic_mode(path, text.as_bytes(), 0o600)
            .map_err(ClusterError::io(format!("writing {}", path.display())))?;
        self.chown(path)
    }

    /// Runs a PostgreSQL program as the server user; its output is the
    /// error when it fails.
    async fn run(
        &self,
        tool: &str,
        args: Vec<String>,
        envs: Vec<(String, String)>,
    ) -> Result<String, ClusterError> {
        let program = self.bins.tool(tool);
        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .envs(envs)
            .stdin(Stdio::null())
            .current_dir("/");
        if let Some(u) = &self.run_as {
            u.apply(&mut cmd);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("the blocking task does not panic")
            .map_err(ClusterError::io(format!("running {}", program.display())))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(ClusterError::Command {
                program: format!("{tool} {}", args.join(" ")),
                status: out.status.to_string(),
                output: text,
            })
        }
    }

    /// The pid postmaster.pid names, and whether that process is a live
    /// postgres (the file outlives a crashed server, and its pid may have
    /// been reused by another program since).
    fn pid_file(&self, node: &NodeSpec) -> Option<(u32, bool)> {
        let text =
            std::fs::read_to_string(Path::new(&node.data_dir).join("postmaster.pid")).ok()?;
        let pid: u32 = text.lines().next()?.trim().parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        // A killed postmaster whose parent does not reap it stays a zombie.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        Some((pid, comm.trim() == "postgres" && !zombie))
    }

    fn postmaster_pid(&self, node: &NodeSpec) -> Option<u32> {
        self.pid_file(node)
            .and_then(|(pid, alive)| alive.then_some(pid))
    }

    /// A killed postmaster that nobody reaped is a zombie: postgres
    /// would take its pid for a live server and refuse to start. The
    /// pid file of a process that is not a running postgres is stale.
    /// The socket's lock file names it too.
    fn clear_stale_pid(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        if let Some((pid, false)) = self.pid_file(node) {
            let run = self.node_dir(node).join("run");
            let socket = format!(".s.PGSQL.{}", node.host_port);
            let lock = run.join(format!("{socket}.lock"));
            let names_it = std::fs::read_to_string(&lock)
                .is_ok_and(|t| t.lines().next().map(str::trim) == Some(&pid.to_string()));
            let mut stale = vec![Path::new(&node.data_dir).join("postmaster.pid")];
            if names_it {
                stale.extend([lock, run.join(socket)]);
            }
            for path in stale {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(ClusterError::Io {
                            what: format!(
                            "removing {} (it names process {pid}, which is not a running server)",
                            path.display()
                        ),
                            source: e,
                        })
                    }
                }
            }
        }
        Ok(())
    }

    /// The node's .pgpass with the replication password for `primary`:
    /// the WAL receiver reads it (primary_conninfo names the file).
    fn replication_pgpass(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        auth: &ReplicationAuth,
    ) -> Result<PathBuf, ClusterError> {
        let path = self.node_dir(node).join(".pgpass");
        let line = pgpass_line("127.0.0.1", primary.host_port, &auth.user, &auth.password);
        self.write_owned(&path, &line)?;
        Ok(path)
    }

    /// A pgpass file for the superuser, readable by the server's user
    /// only, removed when dropped.
    fn temp_pgpass(&self, node: &NodeSpec, line: &str) -> Result<TempFile, ClusterError> {
        let dir = self.node_dir(node);
        let path = dir.join(format!(".pgpass-{}", std::process::id()));
        self.write_owned(&path, line)?;
        Ok(TempFile(path))
    }
}

/// Removes its file when dropped, whatever happened in between.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Proportional set size of the postmaster and its children: shared
/// buffers are divided among the processes mapping them instead of being
/// counted once per backend, so the sum is what the server really uses.
fn server_pss(postmaster: u32) -> u64 {
    let pss_of = |pid: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("Pss:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024)
    };
    let parent_of = |pid: &str| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces; fields after ')' are fixed.
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let children: u64 = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .filter(|n| parent_of(n) == Some(postmaster))
                .filter_map(|n| n.parse().ok())
                .map(pss_of)
                .sum()
        })
        .unwrap_or(0);
    pss_of(postmaster) + children
}

#[async_trait]
impl Backend for LocalBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Local
    }

    fn data_dir(&self, cluster: &str, node: &str) -> String {
        self.root
            .join(cluster)
            .join(node)
            .join("data")
            .display()
            .to_string()
    }

    async fn preflight(&self) -> Result<String, ClusterError> {
        if let Some(u) = &self.run_as {
            u.check_can_run(&self.bins.postgres())?;
            std::fs::create_dir_all(&self.root).map_err(ClusterError::io(format!(
                "creating {}",
                self.root.display()
            )))?;
            u.check_can_reach(&self.root)?;
        }
        Ok(self.bins.version.clone())
    }

    async fn prepare(&self, _cluster: &str) -> Result<Prepared, ClusterError> {
        Ok(Prepared::default())
    }

    async fn initdb(&self, node: &NodeSpec, superuser_password: &str) -> Result<(), ClusterError> {
        let dir = self.node_dir(node);
        self.own_dir(&dir)?;
        self.own_dir(&dir.join("run"))?;
        let pwfile = dir.join(".initdb-pw");
        self.write_owned(&pwfile, superuser_password)?;
        let result = self
            .run(
                "initdb",
                vec![
                    "-D".into(),
                    node.data_dir.clone(),
                    "-U".into(),
                    "postgres".into(),
                    "--auth-local=peer".into(),
                    "--auth-host=scram-sha-256".into(),
                    "--data-checksums".into(),
                    format!("--pwfile={}", pwfile.display()),
                ],
                vec![],
            )
            .await;
        let _ = std::fs::remove_file(&pwfile);
        result.map(|_| ())
    }

    async fn basebackup(
        &self,
        replica: &NodeSpec,
        primary: &NodeSpec,
        auth: &ReplicationAuth,
    ) -> Result<(), ClusterError> {
        let dir = self.node_dir(replica);
        self.own_dir(&dir)?;
        self.own_dir(&dir.join("run"))?;
        // The walreceiver reads the password from this file later too
        // (pg_basebackup -R records passfile in primary_conninfo).
        let pgpass = self.replication_pgpass(replica, primary, auth)?;
        self.run(
            "pg_basebackup",
            vec![
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                primary.host_port.to_string(),
                "-U".into(),
                auth.user.clone(),
                "-D".into(),
                replica.data_dir.clone(),
                "-R".into(),
                "-S".into(),
                auth.slot.clone(),
                "-X".into(),
                "stream".into(),
                "-c".into(),
                "fast".into(),
                "-w".into(),
            ],
            vec![("PGPASSFILE".into(), pgpass.display().to_string())],
        )
        .await?;
        Ok(())
    }

    async fn write_config(
        &self,
        node: &NodeSpec,
        files: &[(String, String)],
    ) -> Result<(), ClusterError> {
        for (name, text) in files {
            self.write_owned(&Path::new(&node.data_dir).join(name), text)?;
        }
        Ok(())
    }

    async fn read_config(
        &self,
        node: &NodeSpec,
        name: &str,
    ) -> Result<Option<String>, ClusterError> {
        let path = Path::new(&node.data_dir).join(name);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClusterError::Io {
                what: format!("reading {}", path.display()),
                source: e,
            }),
        }
    }

    async fn start(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        self.clear_stale_pid(node)?;
        let socket_dir = self.node_dir(node).join("run");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='{}'",
            node.host_port,
            socket_dir.display()
        );
        // -W: return at once; the caller polls readiness with a deadline.
        self.run(
            "pg_ctl",
            vec![
                "-D".into(),
                node.data_dir.clone(),
                "-l".into(),
                self.log_path(node).display().to_string(),
                "-o".into(),
                opts,
                "-W".into(),
                "start".into(),
            ],
            vec![],
        )
        .await?;
        Ok(())
    }

    async fn stop(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        if self.postmaster_pid(node).is_none() {
            return Ok(());
        }
        self.run(
            "pg_ctl",
            vec![
                "-D".into(),
                node.data_dir.clone(),
                "-m".into(),
                "fast".into(),
                "-w".into(),
                "-t".into(),
                "120".into(),
                "stop".into(),
            ],
            vec![],
        )
        .await?;
        Ok(())
    }

    async fn fence(&self, _node: &NodeSpec) -> Result<(), ClusterError> {
        Ok(())
    }

    async fn control_data(&self, node: &NodeSpec) -> Result<String, ClusterError> {
        self.run(
            "pg_controldata",
            vec!["-D".into(), node.data_dir.clone()],
            vec![],
        )
        .await
    }

    async fn rewind(
        &self,
        target: &NodeSpec,
        source: &NodeSpec,
        superuser_password: &str,
    ) -> Result<String, ClusterError> {
        let pgpass = self.temp_pgpass(
            target,
            &pgpass_line(
                "127.0.0.1",
                source.host_port,
                "postgres",
                superuser_password,
            ),
        )?;
        let source_server = format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres passfile={}",
            source.host_port,
            super::standby::quote_conninfo(&pgpass.0.display().to_string())
        );
        // pg_rewind runs the target's crash recovery first if it did not
        // shut down cleanly, with postgres --single from the same bindir,
        // which a killed postmaster's leftover files would stop.
        self.clear_stale_pid(target)?;
        self.run(
            "pg_rewind",
            vec![
                format!("--target-pgdata={}", target.data_dir),
                format!("--source-server={source_server}"),
                "--progress".into(),
            ],
            vec![],
        )
        .await
    }

    async fn clear_data(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        let dir = Path::new(&node.data_dir);
        if !dir.starts_with(self.node_dir(node)) || !dir.starts_with(&self.root) {
            return Err(ClusterError::Unsupported {
                what: format!("deleting {} (outside the state directory)", dir.display()),
                backend: "local",
                hint: None,
            });
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClusterError::Io {
                what: format!("removing {}", dir.display()),
                source: e,
            }),
        }
    }

    async fn standby_conninfo(
        &self,
        node: &NodeSpec,
        primary: &NodeSpec,
        auth: &ReplicationAuth,
    ) -> Result<String, ClusterError> {
        let pgpass = self.replication_pgpass(node, primary, auth)?;
        Ok(format!(
            "host=127.0.0.1 port={} user={} passfile={} application_name={} connect_timeout=5",
            primary.host_port,
            auth.user,
            super::standby::quote_conninfo(&pgpass.display().to_string()),
            node.name
        ))
    }

    async fn logs(&self, node: &NodeSpec, lines: usize) -> Result<String, ClusterError> {
        let text = std::fs::read_to_string(self.log_path(node)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        Ok(all[all.len().saturating_sub(lines)..].join("\n"))
    }

    async fn follow_logs(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
        let path = self.log_path(node);
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(ClusterError::io(format!("opening {}", path.display())))?;
        let mut pos = f
            .seek(std::io::SeekFrom::End(0))
            .await
            .map_err(ClusterError::io("seeking the log"))?;
        let mut out = tokio::io::stdout();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f
                .read(&mut buf)
                .await
                .map_err(ClusterError::io("reading the log"))?;
            if n == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                // A rotated or truncated log starts again from its beginning.
                let len = tokio::fs::metadata(&path)
                    .await
                    .map(|m| m.len())
                    .unwrap_or(pos);
                if len < pos {
                    pos = f
                        .seek(std::io::SeekFrom::Start(0))
                        .await
                        .map_err(ClusterError::io("seeking the log"))?;
                }
                continue;
            }
            pos += n as u64;
            out.write_all(&buf[..n])
                .await
                .map_err(ClusterError::io("writing to stdout"))?;
            out.flush()
                .await
                .map_err(ClusterError::io("writing to stdout"))?;
        }
    }

    async fn runtime(&self, node: &NodeSpec) -> Result<NodeRuntime, ClusterError> {
        let file = self.pid_file(node);
        let pid = file.and_then(|(pid, alive)| alive.then_some(pid));
        // A clean shutdown removes postmaster.pid; a killed postmaster
        // leaves it behind.
        let crashed = file.filter(|(_, alive)| !alive).map(|(pid, _)| {
            format!(
                "postmaster.pid names process {pid}, which is gone: the server did not shut down"
            )
        });
        Ok(NodeRuntime {
            running: pid.is_some(),
            pid,
            memory_usage: pid.map(server_pss),
            memory_limit: node.memory,
            location: node.data_dir.clone(),
            crashed,
            ..NodeRuntime::default()
        })
    }

    async fn set_memory(
        &self,
        _node: &NodeSpec,
        _limit: u64,
        _reservation: Option<u64>,
    ) -> Result<(), ClusterError> {
        Err(ClusterError::Unsupported {
            what: "changing a memory limit".into(),
            backend: "local",
            hint: Some(
                "local servers share the host's memory; the limit only sizes the plan".into(),
            ),
        })
    }

    async fn remove(
        &self,
        cluster: &str,
        nodes: &[NodeSpec],
        purge: bool,
    ) -> Result<(), ClusterError> {
        // The replica first, so the primary does not log a lost walsender.
        for node in nodes.iter().rev() {
            self.stop(node).await?;
        }
        if purge {
            let dir = self.root.join(cluster);
            for node in nodes {
                let d = self.node_dir(node);
                if d.starts_with(&dir) {
                    match std::fs::remove_dir_all(&d) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(ClusterError::Io {
                                what: format!("removing {}", d.display()),
                                source: e,
                            })
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
