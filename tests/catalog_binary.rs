//! `Catalog::from_binary` against the real PostgreSQL 15 and 18 binaries of
//! this machine (missing binaries fail the test: CI installs both): the probe
//! (its time is printed) leaves nothing behind, is cached, and tells builds apart (the PG
//! 18 used here was built without lz4, the Debian PG 15 with it).

use estune::catalog::{Catalog, CatalogSource, CheckError};
use estune::pgbin;
use estune::value::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

const OS_USER: &str = "postgres";

/// Probes write under TMPDIR and the cache under XDG_CACHE_HOME; both point
/// into private directories so the test can see that nothing is left over.
/// One test function only, because it changes the process environment.
#[test]
fn probes_real_binaries() {
    let scratch = tempfile::tempdir().unwrap();
    // The server's user must be able to enter TMPDIR to reach its own directory.
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tmp = scratch.path().join("t");
    let cache = scratch.path().join("cache");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::env::set_var("TMPDIR", &tmp);
    std::env::set_var("XDG_CACHE_HOME", &cache);

    let mut probed = Vec::new();
    for major in [15, 18] {
        let bin = pgbin::find(None, Some(major)).unwrap_or_else(|e| {
            panic!("PostgreSQL {major} binaries are needed ({e}); run .ci/run or scripts/install-pg18.sh")
        });
        // Each version starts with an empty cache, so its file is the only one.
        let _ = std::fs::remove_dir_all(&cache);
        let started = Instant::now();
        let catalog = Catalog::from_binary(&bin, OS_USER).unwrap();
        let probe = started.elapsed();
        println!(
            "PostgreSQL {major}: probe took {probe:?}; {}",
            catalog.describe()
        );
        // The duration is printed above, not asserted: a busy machine
        // would make a time limit flaky.
        assert_eq!(catalog.major, major);
        assert!(
            matches!(&catalog.source, CatalogSource::Binary { version, .. } if *version == bin.version)
        );
        assert_eq!(
            catalog.describe(),
            format!(
                "catalog of {} (PostgreSQL {})",
                bin.postgres().display(),
                bin.version
            )
        );
        assert!(catalog.params().count() > 300);
        assert_nothing_left(&tmp);

        let started = Instant::now();
        let again = Catalog::from_binary(&bin, OS_USER).unwrap();
        let hit = started.elapsed();
        println!("PostgreSQL {major}: cached catalog took {hit:?}");
        assert_eq!(again.params().count(), catalog.params().count());
        assert!(hit < probe / 2, "cache hit {hit:?} vs probe {probe:?}");

        // A corrupt cache file is ignored and rewritten, and the probe also
        // works when called from inside an async runtime.
        let files: Vec<_> = std::fs::read_dir(cache.join("estune/catalogs"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(files.len(), 1, "one cache file per binary");
        for f in &files {
            std::fs::write(f.path(), b"{ not json").unwrap();
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let reprobed = runtime
            .block_on(async { Catalog::from_binary(&bin, OS_USER) })
            .unwrap();
        assert_eq!(reprobed.params().count(), catalog.params().count());
        for f in &files {
            let text = std::fs::read_to_string(f.path()).unwrap();
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "{:?} rewritten",
                f.path()
            );
        }
        assert_nothing_left(&tmp);
        probed.push(catalog);
    }

    for catalog in &probed {
        let wal = catalog.get("wal_compression").unwrap();
        let lz4 = Value::Text("lz4".into());
        match catalog.major {
            15 => {
                assert!(
                    wal.enumvals.contains(&"lz4".to_string()),
                    "{:?}",
                    wal.enumvals
                );
                assert_eq!(
                    catalog.check("wal_compression", &lz4).unwrap().setting,
                    "lz4"
                );
                assert!(catalog.get("io_method").is_none());
            }
            18 => {
                // This build has no lz4; the built-in (standard build) catalog does.
                assert!(
                    !wal.enumvals.contains(&"lz4".to_string()),
                    "{:?}",
                    wal.enumvals
                );
                let err = catalog.check("wal_compression", &lz4).unwrap_err();
                assert!(matches!(err, CheckError::BadEnum { .. }), "{err}");
                assert!(Catalog::builtin(18)
                    .unwrap()
                    .check("wal_compression", &lz4)
                    .is_ok());
                assert_eq!(catalog.get("io_method").unwrap().boot_val, "worker");
            }
            _ => unreachable!(),
        }
        let shared = catalog
            .check("shared_buffers", &Value::Bytes(1 << 30))
            .unwrap();
        assert_eq!(shared.setting, "131072");
        assert_eq!(
            catalog.default_display("shared_buffers").as_deref(),
            Some("128MB")
        );
    }
}

/// No directory and no server process of a probe outlives it.
fn assert_nothing_left(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let needle = tmp.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(!cmdline.contains(&needle), "still running: {cmdline}");
    }
}
