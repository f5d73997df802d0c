//! Failure paths of the probe, with stand-in programs: each error names
//! what failed and the private directory is gone afterwards.

use super::*;
use nix::unistd::{Uid, User};
use std::os::unix::fs::PermissionsExt;

/// A bin directory whose initdb and postgres are the given shell scripts.
fn fake_bin(initdb: &str, postgres: &str) -> (tempfile::TempDir, PgBinaries) {
    let dir = tempfile::tempdir().unwrap();
    // Reachable by the server's user when the test runs as root.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, body) in [("initdb", initdb), ("postgres", postgres)] {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let bin = PgBinaries {
        bindir: dir.path().to_path_buf(),
        major: 15,
        version: "15.0".into(),
    };
    (dir, bin)
}

#[test]
fn initdb_failure_is_reported_with_its_output() {
    let (_dir, bin) = fake_bin(
        "echo 'initdb: error: pretend failure' >&2; exit 1",
        "exit 0",
    );
    match probe(&bin, "postgres") {
        Err(CatalogError::Command {
            program, output, ..
        }) => {
            assert_eq!(program, bin.tool("initdb"));
            assert!(output.contains("pretend failure"), "{output}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a failing initdb was accepted"),
    }
}

#[test]
fn a_server_that_exits_is_reported_and_cleaned_up() {
    let script = r#"[ "$1" = --version ] && { echo 'postgres (PostgreSQL) 15.0'; exit 0; }
echo "private directory mode=$(stat -c %a "$PWD")"
echo 'FATAL:  pretend startup failure' >&2; exit 1"#;
    let (_dir, bin) = fake_bin("exit 0", script);
    match probe(&bin, "postgres") {
        Err(CatalogError::ServerStart { dir, what, log }) => {
            assert!(what.contains("exited"), "{what}");
            assert!(log.contains("pretend startup failure"), "{log}");
            assert!(log.contains("private directory mode=700"), "{log}");
            assert!(!dir.exists(), "{} was left behind", dir.display());
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a failing server was accepted"),
    }
}

#[test]
fn unknown_os_user() {
    if !Uid::effective().is_root() {
        println!("skipping: the OS user matters only when running as root");
        return;
    }
    let (_dir, bin) = fake_bin("exit 0", "exit 0");
    let err = probe(&bin, "no-such-user-estune")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("`no-such-user-estune` does not exist"),
        "{err}"
    );
}

#[test]
fn unreachable_binaries_name_the_directory_in_the_way() {
    if !Uid::effective().is_root() || User::from_name("postgres").ok().flatten().is_none() {
        println!("skipping: needs root and an OS user `postgres`");
        return;
    }
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let bindir = private.path().join("bin");
    std::fs::create_dir(&bindir).unwrap();
    let postgres = bindir.join("postgres");
    std::fs::write(&postgres, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&postgres, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = PgBinaries {
        bindir,
        major: 15,
        version: "15.0".into(),
    };
    let err = probe(&bin, "postgres")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let blocking = format!("{} (mode 700) is not searchable", private.path().display());
    assert!(err.contains(&blocking), "{err}");
}
