use super::*;

#[test]
fn versions_from_postgres_version() {
    let cases: &[(&str, Option<(u32, &str)>)] = &[
        (
            "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n",
            Some((15, "15.18")),
        ),
        ("postgres (PostgreSQL) 18.6\n", Some((18, "18.6"))),
        (
            "postgres (PostgreSQL) 13.22 (Ubuntu 13.22-1.pgdg22.04+1)",
            Some((13, "13.22")),
        ),
        ("postgres (PostgreSQL) 18beta1", Some((18, "18beta1"))),
        ("postgres (PostgreSQL) 17devel", Some((17, "17devel"))),
        ("postgres (PostgreSQL) 9.6.24", Some((9, "9.6.24"))),
        ("postgres (PostgreSQL)", None),
        ("", None),
        ("postgres (PostgreSQL) unknown", None),
    ];
    for (text, want) in cases {
        let got = parse_version(text);
        assert_eq!(
            got.as_ref().map(|(m, v)| (*m, v.as_str())),
            *want,
            "{text:?}"
        );
    }
}

#[test]
fn version_ordering() {
    assert!(version_key("18.6") > version_key("15.18"));
    assert!(version_key("15.18") > version_key("15.9"));
    assert!(version_key("18beta1") < version_key("18.0"));
}

#[test]
fn explicit_directory_errors() {
    let empty = tempfile::tempdir().unwrap();
    let err = find(Some(empty.path()), None).unwrap_err().to_string();
    assert!(
        err.contains("--pg-bin") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn not_found_says_what_to_do() {
    let err = PgBinError::NotFound {
        wanted: Some(16),
        searched: vec![PathBuf::from("/usr/lib/postgresql/*/bin")],
        found: vec![("15.18".into(), PathBuf::from("/usr/lib/postgresql/15/bin"))],
    }
    .to_string();
    assert!(
        err.contains("no PostgreSQL 16 server binaries found"),
        "{err}"
    );
    assert!(err.contains("15.18 in /usr/lib/postgresql/15/bin"), "{err}");
    assert!(
        err.contains("apt-get install postgresql-16") && err.contains("--pg-bin DIR"),
        "{err}"
    );
}

/// Uses whatever this machine has; skips (saying why) what it lacks.
#[test]
fn finds_the_installed_versions() {
    let all = find_all();
    println!("found: {all:?}");
    for major in [15, 18] {
        match find(None, Some(major)) {
            Ok(bin) => {
                assert_eq!(bin.major, major);
                assert!(
                    bin.postgres().is_file() && bin.tool("initdb").is_file(),
                    "{bin:?}"
                );
                let explicit = find(Some(&bin.bindir), Some(major)).unwrap();
                assert_eq!(explicit, bin);
                let other = if major == 15 { 18 } else { 15 };
                let err = find(Some(&bin.bindir), Some(other)).unwrap_err();
                assert!(
                    matches!(err, PgBinError::ExplicitWrongMajor { .. }),
                    "{err}"
                );
            }
            Err(e) => panic!("PostgreSQL {major} binaries are needed ({e}); run .ci/run"),
        }
    }
    if let Some(highest) = all.iter().map(|b| version_key(&b.version)).max() {
        assert_eq!(version_key(&find(None, None).unwrap().version), highest);
    }
    let mut dirs: Vec<_> = all
        .iter()
        .map(|b| b.bindir.canonicalize().unwrap())
        .collect();
    dirs.sort();
    dirs.dedup();
    assert_eq!(dirs.len(), all.len(), "deduplicated");
}
