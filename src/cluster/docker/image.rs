//! What estune needs to know about an image, found by asking the image
//! itself in a one-off container: where the server binaries are, which
//! version they are, and the numeric ids of its `postgres` user (files
//! copied in must be owned by it). Nothing is assumed about the image's
//! layout or entrypoint, so the official `postgres:*` images work too.

use super::archive::Owner;
use super::engine::{docker_error, is_not_found, Engine};
use super::oneoff::{self, OneOff};
use super::BUILD_COMMAND;
use crate::cluster::ClusterError;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    pub bindir: String,
    /// "15.18".
    pub version: String,
    pub owner: Owner,
}

impl ImageFacts {
    pub fn tool(&self, name: &str) -> String {
        format!("{}/{}", self.bindir, name)
    }
}

/// pg_config first (the official images), then a single versioned Debian
/// directory (the image `docker/` builds), then PATH.
const PROBE: &str = r#"
b=$(pg_config --bindir 2>/dev/null)
if [ ! -x "$b/postgres" ]; then
  b=
  n=0
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/postgres" ]; then b=$d; n=$((n + 1)); fi
  done
  if [ "$n" != 1 ]; then b=; fi
fi
if [ -z "$b" ]; then p=$(command -v postgres) && b=${p%/*}; fi
echo "bindir=$b"
if [ -n "$b" ]; then echo "version=$("$b/postgres" --version 2>&1)"; fi
echo "uid=$(id -u postgres 2>/dev/null)"
echo "gid=$(id -g postgres 2>/dev/null)"
"#;

pub async fn check_present(engine: &Engine, image: &str) -> Result<(), ClusterError> {
    match engine.api.inspect_image(image).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Err(ClusterError::ImageMissing {
            image: image.to_string(),
            build: BUILD_COMMAND.to_string(),
        }),
        Err(e) => Err(docker_error("inspect image", image)(e)),
    }
}

pub async fn probe(engine: &Engine, image: &str) -> Result<ImageFacts, ClusterError> {
    check_present(engine, image).await?;
    let spec = OneOff {
        what: format!("probe of image {image}"),
        image: image.to_string(),
        labels: HashMap::from([(super::names::TASK_LABEL.to_string(), "probe".to_string())]),
        // Root, because the image's user may be root or postgres or absent.
        user: "0".to_string(),
        command: vec!["/bin/sh".into(), "-c".into(), PROBE.into()],
        ..Default::default()
    };
    let output = oneoff::run_ok(engine, &spec).await?;
    parse_probe(image, &output)
}

fn unusable(image: &str, lacking: &str) -> ClusterError {
    ClusterError::Unsupported {
        what: format!("using image `{image}`, which has no {lacking},"),
        backend: "docker",
        hint: Some(format!(
            "use an image with PostgreSQL server binaries and a `postgres` user, such as postgres:15, or build one with `{BUILD_COMMAND}`"
        )),
    }
}

pub fn parse_probe(image: &str, output: &str) -> Result<ImageFacts, ClusterError> {
    let field = |key: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bindir = field("bindir").ok_or_else(|| {
        unusable(
            image,
            "PostgreSQL server binaries (looked for pg_config --bindir, /usr/lib/postgresql/*/bin and postgres on PATH)",
        )
    })?;
    let version =
        field("version")
            .and_then(parse_version)
            .ok_or_else(|| ClusterError::Command {
                program: format!("{bindir}/postgres --version (in image {image})"),
                status: "no version in its output".to_string(),
                output: output.to_string(),
            })?;
    let id = |key: &str| field(key).and_then(|v| v.parse::<u64>().ok());
    let (uid, gid) = match (id("uid"), id("gid")) {
        (Some(uid), Some(gid)) => (uid, gid),
        _ => return Err(unusable(image, "`postgres` user")),
    };
    Ok(ImageFacts {
        bindir: bindir.to_string(),
        version,
        owner: Owner { uid, gid },
    })
}

/// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" → "15.18".
fn parse_version(line: &str) -> Option<String> {
    let rest = line.split("(PostgreSQL)").nth(1)?;
    let version = rest.split_whitespace().next()?;
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let cases = [
            (
                "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)",
                Some("15.18"),
            ),
            ("postgres (PostgreSQL) 18.1", Some("18.1")),
            ("postgres (PostgreSQL) 16beta2", Some("16beta2")),
            ("sh: postgres: not found", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_version(line).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn a_complete_probe() {
        let out = "bindir=/usr/lib/postgresql/15/bin\nversion=postgres (PostgreSQL) 15.20 (Debian)\nuid=100\ngid=102\n";
        let facts = parse_probe("img", out).expect("facts");
        assert_eq!(
            facts,
            ImageFacts {
                bindir: "/usr/lib/postgresql/15/bin".into(),
                version: "15.20".into(),
                owner: Owner { uid: 100, gid: 102 },
            }
        );
        assert_eq!(facts.tool("initdb"), "/usr/lib/postgresql/15/bin/initdb");
    }

    #[test]
    fn what_is_missing_is_named() {
        let cases = [
            ("bindir=\nuid=\ngid=\n", "server binaries"),
            (
                "bindir=/usr/bin\nversion=postgres (PostgreSQL) 15.2\nuid=\ngid=\n",
                "`postgres` user",
            ),
            ("bindir=/x\nversion=garbage\nuid=1\ngid=1\n", "no version"),
        ];
        for (out, want) in cases {
            let msg = parse_probe("img:1", out)
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(msg.contains(want), "{msg}");
            assert!(msg.contains("img:1"), "{msg}");
        }
    }
}
