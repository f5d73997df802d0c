//! The memory and CPUs this process may use: the cgroup limits of the
//! container it runs in (v2, else v1), else the host's RAM and CPUs, and
//! which of those sources the figure came from.

use crate::tune::Sourced;
use std::path::{Path, PathBuf};

/// cgroup v1 reports "no limit" as a huge page-aligned number.
const V1_UNLIMITED: u64 = 1 << 62;

/// Reads limits below `root` (`/` normally; a fake tree in tests).
pub struct Machine {
    root: PathBuf,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            root: PathBuf::from("/"),
        }
    }
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

impl Machine {
    pub fn at(root: impl Into<PathBuf>) -> Machine {
        Machine { root: root.into() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// The cgroup v2 directories from this process's own group up to the
    /// root of the hierarchy: a limit set on any ancestor applies.
    fn v2_dirs(&self) -> Vec<PathBuf> {
        let base = self.path("sys/fs/cgroup");
        if !base.join("cgroup.controllers").exists() {
            return vec![];
        }
        let own = read(&self.path("proc/self/cgroup"))
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_string))
            })
            .unwrap_or_default();
        let mut dirs = vec![];
        let mut rel = PathBuf::from(own.trim_start_matches('/'));
        loop {
            dirs.push(base.join(&rel));
            if !rel.pop() {
                break;
            }
        }
        dirs
    }

    /// The cgroup v1 directories of `controller` for this process's own
    /// group (from /proc/self/cgroup) up to the controller's root.
    fn v1_dirs(&self, controller: &str) -> Vec<PathBuf> {
        let own = read(&self.path("proc/self/cgroup")).and_then(|s| {
            s.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                ctrls
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.to_string())
            })
        });
        let mounts = [controller.to_string(), "cpu,cpuacct".to_string()];
        let Some(base) = mounts
            .iter()
            .map(|m| self.path("sys/fs/cgroup").join(m))
            .find(|b| b.is_dir())
        else {
            return vec![];
        };
        let mut rel = PathBuf::from(own.unwrap_or_default().trim_start_matches('/'));
        let mut dirs = vec![];
        loop {
            dirs.push(base.join(&rel));
            if !rel.pop() {
                break;
            }
        }
        dirs
    }

    pub fn memory(&self) -> Sourced<u64> {
        let v2 = self
            .v2_dirs()
            .into_iter()
            .filter_map(|d| read(&d.join("memory.max")).and_then(|s| s.parse::<u64>().ok()))
            .min();
        if let Some(m) = v2 {
            return sourced(m, "cgroup v2 memory.max");
        }
        if let Some(m) = self
            .v1_dirs("memory")
            .into_iter()
            .filter_map(|d| {
                read(&d.join("memory.limit_in_bytes")).and_then(|s| s.parse::<u64>().ok())
            })
            .filter(|m| *m < V1_UNLIMITED)
            .min()
        {
            return sourced(m, "cgroup v1 memory.limit_in_bytes");
        }
        let host = read(&self.path("proc/meminfo")).and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        match host {
            Some(kb) => sourced(kb * 1024, "host RAM (/proc/meminfo; no container limit)"),
            None => sourced(1 << 30, "nothing readable; assumed 1GiB — pass --memory"),
        }
    }

    pub fn cpus(&self) -> Sourced<f64> {
        let v2 = self
            .v2_dirs()
            .into_iter()
            .filter_map(|d| read(&d.join("cpu.max")))
            .filter_map(|s| {
                let mut it = s.split_whitespace();
                let quota = it.next()?.parse::<f64>().ok()?; // "max" fails here
                let period = it
                    .next()
                    .and_then(|p| p.parse::<f64>().ok())
                    .unwrap_or(100_000.0);
                (period > 0.0).then_some(quota / period)
            })
            .min_by(f64::total_cmp);
        if let Some(c) = v2 {
            return sourced(c, "cgroup v2 cpu.max");
        }
        let v1 = self
            .v1_dirs("cpu")
            .into_iter()
            .filter_map(|d| {
                let num = |f: &str| {
                    read(&d.join(f))
                        .and_then(|s| s.parse::<i64>().ok())
                        .filter(|v| *v > 0)
                };
                Some(num("cpu.cfs_quota_us")? as f64 / num("cpu.cfs_period_us")? as f64)
            })
            .min_by(f64::total_cmp);
        if let Some(c) = v1 {
            return sourced(c, "cgroup v1 cpu.cfs_quota_us");
        }
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        sourced(n as f64, "host CPUs (no container limit)")
    }
}

fn sourced<T>(value: T, source: &str) -> Sourced<T> {
    Sourced {
        value,
        source: source.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, content) in files {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    const MEMINFO: (&str, &str) = (
        "proc/meminfo",
        "MemTotal:       24000000 kB\nMemFree: 1 kB\n",
    );

    #[test]
    fn limits_by_source() {
        let v2 = ("sys/fs/cgroup/cgroup.controllers", "cpu memory");
        let own = ("proc/self/cgroup", "0::/docker/abc\n");
        type Case<'a> = (
            Vec<(&'a str, &'a str)>,
            u64,
            &'a str,
            Option<(f64, &'a str)>,
        );
        let cases: Vec<Case> = vec![
            (
                vec![
                    v2,
                    own,
                    ("sys/fs/cgroup/docker/abc/memory.max", "4294967296"),
                    ("sys/fs/cgroup/docker/abc/cpu.max", "200000 100000"),
                    MEMINFO,
                ],
                4 << 30,
                "cgroup v2",
                Some((2.0, "cgroup v2")),
            ),
            // A limit on a parent group applies too; the lower one wins.
            (
                vec![
                    v2,
                    own,
                    ("sys/fs/cgroup/docker/abc/memory.max", "max"),
                    ("sys/fs/cgroup/docker/memory.max", "1073741824"),
                    ("sys/fs/cgroup/docker/abc/cpu.max", "max 100000"),
                    MEMINFO,
                ],
                1 << 30,
                "cgroup v2",
                None,
            ),
            (
                vec![v2, own, ("sys/fs/cgroup/memory.max", "max"), MEMINFO],
                24_000_000 * 1024,
                "host RAM",
                None,
            ),
            (
                vec![
                    ("sys/fs/cgroup/memory/memory.limit_in_bytes", "6442450944"),
                    ("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "50000"),
                    ("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000"),
                    MEMINFO,
                ],
                6 << 30,
                "cgroup v1",
                Some((0.5, "cgroup v1")),
            ),
            (
                vec![
                    (
                        "sys/fs/cgroup/memory/memory.limit_in_bytes",
                        "9223372036854771712",
                    ),
                    ("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1"),
                    MEMINFO,
                ],
                24_000_000 * 1024,
                "host RAM",
                None,
            ),
            (vec![], 1 << 30, "assumed", None),
        ];
        for (files, mem, mem_src, cpu) in cases {
            let dir = tree(&files);
            let m = Machine::at(dir.path());
            let got = m.memory();
            assert_eq!(got.value, mem, "{files:?}");
            assert!(got.source.contains(mem_src), "{}", got.source);
            let c = m.cpus();
            match cpu {
                Some((n, src)) => {
                    assert_eq!(c.value, n);
                    assert!(c.source.contains(src), "{}", c.source);
                }
                None => assert!(c.source.contains("host CPUs"), "{}", c.source),
            }
        }
    }
}
