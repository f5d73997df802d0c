//! Reading the catalog of a PostgreSQL build by running it: initdb into a
//! private temporary directory, start the server on a Unix socket in that
//! directory only (no TCP), read `pg_settings`, stop it, remove everything.
//! Trust authentication is acceptable only because nobody else can reach
//! the socket: the directory is 0700 and owned by the server's user.
//! Cleanup runs on every path, errors included, through `Drop`.

use super::server::{self, Settings};
use super::CatalogError;
use crate::pgbin::PgBinaries;
use crate::pgbin::RunAs;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_DEADLINE: Duration = Duration::from_secs(15);
const STOP_DEADLINE: Duration = Duration::from_secs(10);
const PORT: u16 = 5432;

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CatalogError {
    let what = what.into();
    move |source| CatalogError::Io { what, source }
}

pub(crate) fn probe(bin: &PgBinaries, os_user: &str) -> Result<Settings, CatalogError> {
    // tokio-postgres needs a runtime of its own; a scoped thread keeps that
    // possible when the caller is already inside one.
    std::thread::scope(|s| s.spawn(|| probe_here(bin, os_user)).join()).unwrap_or_else(|_| {
        Err(io_err("probing the parameter catalog")(
            std::io::Error::other("the probe thread panicked"),
        ))
    })
}

fn probe_here(bin: &PgBinaries, os_user: &str) -> Result<Settings, CatalogError> {
    let run_as = RunAs::resolve(os_user)?;
    if let Some(user) = &run_as {
        user.check_can_run(&bin.postgres())?;
    }
    let mut server = Throwaway::create(run_as)?;
    server.initdb(bin)?;
    server.start(bin)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_err("starting an async runtime"))?;
    let label = format!("the throwaway server of {}", bin.postgres().display());
    let settings = runtime.block_on(async {
        let client = server.connect().await?;
        server::read_settings(&client, &label).await
    })?;
    drop(runtime);
    server.stop()?;
    Ok(settings)
}

/// A server that exists only for the probe.
struct Throwaway {
    postmaster: Option<Child>,
    run_as: Option<RunAs>,
    /// Dropped after `Drop::drop` has stopped the server.
    dir: tempfile::TempDir,
}

impl Throwaway {
    fn create(run_as: Option<RunAs>) -> Result<Throwaway, CatalogError> {
        // The socket path must fit in sockaddr_un (108 bytes), and the
        // server's user must be able to pass through the parent.
        let tmp = std::env::temp_dir();
        let searchable = |p: &PathBuf| std::fs::metadata(p).is_ok_and(|m| m.mode() & 0o001 != 0);
        let parent = if tmp.as_os_str().len() <= 60 && (run_as.is_none() || searchable(&tmp)) {
            tmp
        } else {
            PathBuf::from("/tmp")
        };
        // 0700 explicitly: tempfile would use the umask's default (0755),
        // and this directory holds a socket that trusts whoever connects.
        let dir = tempfile::Builder::new()
            .prefix("estune-catalog-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&parent)
            .map_err(io_err(format!(
                "creating a private directory in {}",
                parent.display()
            )))?;
        if let Some(user) = &run_as {
            nix::unistd::chown(dir.path(), Some(user.uid), Some(user.gid)).map_err(|e| {
                io_err(format!("giving {} to {}", dir.path().display(), user.name))(e.into())
            })?;
        }
        Ok(Throwaway {
            postmaster: None,
            run_as,
            dir,
        })
    }

    fn command(&self, program: PathBuf) -> Command {
        let mut cmd = Command::new(program);
        // TZ spares initdb its search of the time zone database; the catalog
        // does not depend on it (boot values are compiled in).
        cmd.current_dir(self.dir.path())
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        if let Some(user) = &self.run_as {
            user.apply(&mut cmd);
        }
        cmd
    }

    fn initdb(&self, bin: &PgBinaries) -> Result<(), CatalogError> {
        let initdb = bin.tool("initdb");
        let data = self.dir.path().join("data");
        let out = self
            .command(initdb.clone())
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=reject",
                "--no-sync",
            ])
            .args(["-E", "UTF8", "--locale=C"])
            .output()
            .map_err(io_err(format!("running {}", initdb.display())))?;
        if out.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
        Err(CatalogError::Command {
            program: initdb,
            status: out.status.to_string(),
            output: tail(&text),
        })
    }

    fn start(&mut self, bin: &PgBinaries) -> Result<(), CatalogError> {
        let log_path = self.dir.path().join("server.log");
        let log = std::fs::File::create(&log_path)
            .map_err(io_err(format!("creating {}", log_path.display())))?;
        let log2 = log
            .try_clone()
            .map_err(io_err("duplicating the log file handle"))?;
        let child = self
            .command(bin.postgres())
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-p",
                &PORT.to_string(),
            ])
            .arg("-k")
            .arg(self.dir.path())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(io_err(format!("starting {}", bin.postgres().display())))?;
        self.postmaster = Some(child);
        Ok(())
    }

    /// Polls the socket until the server accepts a connection, it exits, or
    /// the deadline passes.
    async fn connect(&mut self) -> Result<tokio_postgres::Client, CatalogError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(self.dir.path())
            .port(PORT)
            .user("postgres")
            .dbname("postgres");
        config.connect_timeout(Duration::from_secs(2));
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let err = match config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    return Ok(client);
                }
                Err(e) => e,
            };
            if let Some(status) = self
                .postmaster
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(
                    self.start_error(format!("exited ({status}) before accepting connections"))
                );
            }
            if Instant::now() >= deadline {
                let what = format!(
                    "did not accept connections within {}s ({err})",
                    START_DEADLINE.as_secs()
                );
                return Err(self.start_error(what));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn start_error(&self, what: String) -> CatalogError {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        CatalogError::ServerStart {
            dir: self.dir.path().to_path_buf(),
            what,
            log: tail(&log),
        }
    }

    /// Fast shutdown (SIGINT) and wait; SIGKILL if it hangs.
    fn stop(&mut self) -> Result<(), CatalogError> {
        let Some(mut child) = self.postmaster.take() else {
            return Ok(());
        };
        let wait_err = io_err("waiting for the throwaway server to stop");
        if child
            .try_wait()
            .map_err(io_err("checking the throwaway server"))?
            .is_some()
        {
            return Ok(());
        }
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
        }
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let what = format!(
                        "did not stop within {}s of SIGINT and was killed",
                        STOP_DEADLINE.as_secs()
                    );
                    return Err(self.start_error(what));
                }
                Err(e) => return Err(wait_err(e)),
            }
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The last lines of a log, enough to see why a server failed.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
