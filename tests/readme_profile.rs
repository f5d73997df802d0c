//! The profile example in the README is a real, valid profile.

#[test]
fn readme_profile_example_loads_and_plans() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```toml\n").expect("README has a toml example") + 8;
    let len = readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("readme.toml");
    std::fs::write(&path, &readme[start..start + len]).unwrap();
    let p = estune::profile::load(path.to_str().unwrap(), None).unwrap();
    assert_eq!(p.pg_version, Some(15));
    assert_eq!(p.access.client_networks, ["172.18.0.0/16"]);
    assert_eq!(p.primary.workload.wal_rate, Some(2 << 20));
    let cat = estune::catalog::Catalog::builtin(15).unwrap();
    let r = || estune::tune::Resources::fixed(4 << 30, 2.0, "test");
    let mut plan = estune::tune::plan(&p, r(), r(), &estune::inputs::target(&cat)).unwrap();
    estune::tune::validate(&mut plan, &cat).unwrap();
    estune::tune::enforce_budget(&mut plan, false).unwrap();
}
