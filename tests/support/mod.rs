//! A throwaway PostgreSQL server for integration tests: initdb in a temp
//! directory, run as the unprivileged `postgres` user when the test runs as
//! root, listening on 127.0.0.1 only, stopped and removed on drop (also
//! when the test fails).
#![allow(dead_code)]

use estune::pgbin::{self, PgBinaries};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct ScratchServer {
    pub bins: PgBinaries,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub password: String,
    running: bool,
}

fn owner() -> Option<(nix::unistd::Uid, nix::unistd::Gid)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let u = nix::unistd::User::from_name("postgres")
        .expect("reading the user database")
        .expect("tests run as root need an OS user `postgres` to run the server");
    Some((u.uid, u.gid))
}

/// Binaries of one major version; a clear failure when missing, never a
/// silent skip (CI installs both 15 and 18).
pub fn binaries(major: u32) -> PgBinaries {
    pgbin::find(None, Some(major)).unwrap_or_else(|e| {
        panic!("PostgreSQL {major} binaries are needed for this test ({e}); run .ci/run or scripts/install-pg18.sh")
    })
}

/// Kills a local server's postmaster with SIGKILL, as a crash or an OOM
/// kill would; `data` is its data directory.
pub fn kill_postmaster(data: &Path) {
    let pid: i32 = std::fs::read_to_string(data.join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    sigkill(pid);
}

pub fn sigkill(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

/// Sends `sig` to `pid`; a process already gone is not an error (cleanup
/// paths call this).
#[allow(dead_code)]
pub fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// The uid and gid of the `postgres` OS user, when the tests run as root.
#[allow(dead_code)]
pub fn postgres_ids() -> Option<(nix::unistd::Uid, nix::unistd::Gid)> {
    owner()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

impl ScratchServer {
    /// initdb only; call `start` after putting configuration in place.
    pub fn init(major: u32) -> ScratchServer {
        let bins = binaries(major);
        let dir = tempfile::Builder::new()
            .prefix("estune-test-")
            .tempdir()
            .unwrap();
        let password = format!("pw-{}", std::process::id());
        std::fs::write(dir.path().join("pwfile"), &password).unwrap();
        if let Some((uid, gid)) = owner() {
            nix::unistd::chown(dir.path(), Some(uid), Some(gid)).unwrap();
            nix::unistd::chown(&dir.path().join("pwfile"), Some(uid), Some(gid)).unwrap();
        }
        let s = ScratchServer {
            bins,
            dir,
            port: free_port(),
            password,
            running: false,
        };
        let data = s.data();
        let out = s.run(
            Command::new(s.bins.tool("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth-local=peer",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                ])
                .arg(format!(
                    "--pwfile={}",
                    s.dir.path().join("pwfile").display()
                )),
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, cmd: &mut Command) -> Output {
        if let Some((uid, gid)) = owner() {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd.current_dir(self.dir.path())
            .output()
            .expect("running a PostgreSQL tool")
    }

    /// Writes a file into the data directory, owned by the server's user.
    pub fn write(&self, name: &str, text: &str) {
        let p = self.data().join(name);
        std::fs::write(&p, text).unwrap();
        if let Some((uid, gid)) = owner() {
            nix::unistd::chown(&p, Some(uid), Some(gid)).unwrap();
        }
    }

    /// Starts on 127.0.0.1 and the private socket directory; Err carries
    /// the server log when it does not come up.
    pub fn start(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("server.log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let out = self.run(
            Command::new(self.bins.tool("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &opts, "start"]),
        );
        self.running = true;
        if out.status.success() {
            Ok(())
        } else {
            Err(std::fs::read_to_string(&log).unwrap_or_default())
        }
    }

    pub fn stop(&mut self) {
        self.stop_with("fast");
    }

    fn stop_with(&mut self, mode: &str) {
        if self.running {
            self.run(
                Command::new(self.bins.tool("pg_ctl"))
                    .arg("-D")
                    .arg(self.data())
                    .args(["-m", mode, "-w", "stop"]),
            );
            self.running = false;
        }
    }

    pub fn dsn(&self) -> String {
        format!(
            "postgresql://postgres:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    pub fn dir_path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchServer {
    fn drop(&mut self) {
        self.stop_with("immediate");
    }
}

/// A cluster under test: its own state directory and name; purged on drop,
/// including when the test fails.
pub struct TestCluster {
    dir: tempfile::TempDir,
    pub name: String,
}

impl TestCluster {
    pub fn new(tag: &str) -> TestCluster {
        let dir = tempfile::Builder::new()
            .prefix("estune-cl-")
            .tempdir()
            .unwrap();
        // The servers' OS user must traverse the state directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        TestCluster {
            dir,
            name: format!("{tag}-{}", std::process::id()),
        }
    }

    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_estune"))
            .args(args)
            .args([
                "--cluster",
                &self.name,
                "--state-dir",
                self.state_dir().to_str().unwrap(),
            ])
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "estune {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn url(&self, role: &str) -> String {
        self.ok(&["cluster", "url", role, "--superuser", "--with-password"])
            .trim()
            .to_string()
    }

    pub fn cluster_dir(&self) -> PathBuf {
        self.state_dir().join(&self.name)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = self.run(&["cluster", "down", "--purge"]);
    }
}

impl TestCluster {
    /// Brings the pair up on free ports; panics with estune's stderr.
    pub fn up(&self, extra: &[&str]) -> String {
        let (p, r) = (free_port().to_string(), free_port().to_string());
        let mut args = vec!["cluster", "up", "--port", &p, "--replica-port", &r];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "cluster up failed:\n{err}");
        err
    }
}

impl TestCluster {
    /// A pair with PostgreSQL's defaults on PostgreSQL 15, sized for 4 GiB.
    pub fn stock(tag: &str) -> TestCluster {
        let c = TestCluster::new(tag);
        c.up(&[
            "--profile",
            "stock",
            "--pg-version",
            "15",
            "--memory",
            "4GiB",
        ]);
        c
    }

    /// The superuser URL pointed at the event store's database.
    pub fn eventstore_url(&self, role: &str) -> String {
        let url = self.url(role);
        let base = url
            .strip_suffix("/postgres")
            .expect("a superuser URL ends in /postgres");
        format!("{base}/eventstore")
    }
}

/// A connection for a test (panics with the reason when it fails).
pub async fn client(url: &str) -> tokio_postgres::Client {
    estune::db::connect(url, std::time::Duration::from_secs(10))
        .await
        .unwrap()
}

impl TestCluster {
    /// The event store's tables and indexes in its database (what `estune
    /// seed` creates), without events.
    pub async fn install_schema(&self) {
        let p = client(&self.eventstore_url("primary")).await;
        estune::workload::install_schema(&p).await.unwrap();
    }

    /// Returns once the replica has replayed everything the primary wrote.
    pub async fn wait_replayed(&self) {
        let p = client(&self.url("primary")).await;
        let r = client(&self.url("replica")).await;
        estune::cluster::bringup::wait_replayed(&p, &r)
            .await
            .unwrap();
    }
}

/// A program of the Patroni install (`patroni`, `patronictl`):
/// `$ESTUNE_PATRONI_DIR/bin`, else `/opt/estune/patroni/bin` (where
/// scripts/install-ha.sh puts it), else the PATH. A clear failure when
/// missing, never a silent skip: CI installs it.
#[allow(dead_code)]
pub fn patroni_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("ESTUNE_PATRONI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/estune/patroni"));
    let p = dir.join("bin").join(name);
    if p.is_file() {
        return p;
    }
    which(name).unwrap_or_else(|| {
        panic!(
            "{name} is needed for this test (not in {} nor on PATH); run scripts/install-ha.sh",
            dir.display()
        )
    })
}

/// A program on the PATH (etcd, docker-compose), or None.
#[allow(dead_code)]
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// An etcd of the test's own on 127.0.0.1 (free ports, a temporary data
/// directory), killed and removed when dropped, even after a failure.
#[allow(dead_code)]
pub struct Etcd {
    child: std::process::Child,
    pub client_port: u16,
    _dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl Etcd {
    pub fn start() -> Etcd {
        let etcd = which("etcd").expect(
            "etcd is needed for this test (Debian's etcd-server); run scripts/install-ha.sh",
        );
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let c = format!("http://127.0.0.1:{client}");
        let p = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new(etcd)
            .args(["--name", "estune-test", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &c, "--advertise-client-urls", &c])
            .args([
                "--listen-peer-urls",
                &p,
                "--initial-advertise-peer-urls",
                &p,
            ])
            .args(["--initial-cluster", &format!("estune-test={p}")])
            .args(["--initial-cluster-state", "new"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let e = Etcd {
            child,
            client_port: client,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", client)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "etcd did not listen on 127.0.0.1:{client} within 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        e
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A shipped profile's plan at the snapshot inputs: the profile's memory
/// (4 GiB where it names none), 2 CPUs, PostgreSQL 15's built-in catalog,
/// over budget allowed.
#[allow(dead_code)]
pub fn snapshot_plan(name: &str) -> (estune::profile::Profile, estune::tune::Plan) {
    use estune::tune::{self, Resources};
    let cat = estune::catalog::Catalog::builtin(15).unwrap();
    let p = estune::profile::load(name, None).unwrap();
    let mem = |r: &estune::profile::RoleProfile| r.resources.memory.unwrap_or(4 << 30);
    let res = |m| Resources::fixed(m, 2.0, "snapshot input");
    let mut plan = tune::plan(
        &p,
        res(mem(&p.primary)),
        res(mem(&p.replica)),
        &estune::inputs::target(&cat),
    )
    .unwrap();
    tune::validate(&mut plan, &cat).unwrap();
    tune::enforce_budget(&mut plan, true).unwrap();
    (p, plan)
}
