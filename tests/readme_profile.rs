//! The profile example in docs/profiles.md is a real, valid profile, and the
//! documentation a user reads points at nothing outside the repository.

use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel))
        .unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

#[test]
fn profiles_page_example_loads_and_plans() {
    let page = read("docs/profiles.md");
    let start = page
        .find("```toml\n")
        .expect("docs/profiles.md has a toml example")
        + 8;
    let len = page[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.toml");
    std::fs::write(&path, &page[start..start + len]).unwrap();
    let p = estune::profile::load(path.to_str().unwrap(), None).unwrap();
    assert_eq!(p.pg_version, Some(15));
    assert_eq!(p.access.client_networks, ["172.18.0.0/16"]);
    assert_eq!(p.primary.workload.wal_rate, Some(2 << 20));
    let cat = estune::catalog::Catalog::builtin(15).unwrap();
    let r = || estune::tune::Resources::fixed(4 << 30, 2.0, "test");
    let mut plan = estune::tune::plan(&p, r(), r(), &estune::inputs::target(&cat)).unwrap();
    estune::tune::validate(&mut plan, &cat).unwrap();
    estune::tune::enforce_budget(&mut plan, false).unwrap();
    let app: Vec<(&str, String)> = plan
        .app_settings
        .iter()
        .map(|s| (s.name.as_str(), s.value.to_plain()))
        .collect();
    // The file's own, and the eventstore method's for boundaries of 88
    // rows in 1,000,000 events.
    assert_eq!(p.primary.workload.boundary_rows, 88);
    assert_eq!(
        app,
        [
            ("enable_indexscan", "off".to_string()),
            ("plan_cache_mode", "force_custom_plan".to_string())
        ]
    );
}

/// Files under these folders (and README.md) ship with estune; a reference
/// to the developers' notes outside the repository means nothing to a user.
#[test]
fn product_files_do_not_point_outside_the_repository() {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut dirs: Vec<_> = ["docs", "profiles", "checks"]
        .iter()
        .map(|d| Path::new(ROOT).join(d))
        .collect();
    // Every file below them, images (SVG text) included.
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    // Built from parts, so this file does not name them itself.
    let notes = "shared";
    let outside = [
        format!("/work/{notes}"),
        format!("{notes}/reference/"),
        format!("{notes}/DESIGN.md"),
        format!("{notes}/STYLE.md"),
    ];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            assert!(
                !outside.iter().any(|o| line.contains(o.as_str())),
                "{}:{}: points outside the repository: {line}",
                f.display(),
                n + 1
            );
        }
    }
}
