//! Snapshots of every rendered file for the four shipped profiles, at fixed
//! inputs and against the built-in PostgreSQL 15 catalog, so that any change
//! to a value, a rule or a template shows in review.

mod support;

use estune::catalog::Catalog;
use estune::profile;
use estune::render::Renderer;
use estune::tune::{self, Resources, Role};

fn res(memory: u64) -> Resources {
    Resources::fixed(memory, 2.0, "snapshot input")
}

#[test]
fn shipped_profiles_render_stably() {
    let renderer = Renderer::new(None).unwrap();
    for name in ["stock", "pgtune-oltp", "des-benchmark", "eventstore"] {
        let (_, plan) = support::snapshot_plan(name);
        for role in Role::BOTH {
            insta::assert_snapshot!(
                format!("{name}-{role}-postgresql.conf"),
                renderer.postgresql_conf(&plan, role).unwrap()
            );
            insta::assert_snapshot!(
                format!("{name}-{role}-alter-system.sql"),
                renderer.alter_system(&plan, role).unwrap()
            );
        }
        insta::assert_snapshot!(
            format!("{name}-pg_hba.conf"),
            renderer.pg_hba(&plan, Role::Primary).unwrap()
        );
        insta::assert_snapshot!(
            format!("{name}-catalog.sql"),
            renderer.catalog_sql(&plan).unwrap()
        );
    }
}

#[test]
fn client_networks_reach_pg_hba() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("net.toml");
    std::fs::write(
        &f,
        "extends = \"eventstore\"\n[access]\nclient_networks = [\"172.18.0.0/16\"]\n",
    )
    .unwrap();
    let p = profile::load(f.to_str().unwrap(), None).unwrap();
    let cat = Catalog::builtin(15).unwrap();
    let plan = tune::plan(
        &p,
        res(4 << 30),
        res(4 << 30),
        &estune::inputs::target(&cat),
    )
    .unwrap();
    let hba = Renderer::new(None)
        .unwrap()
        .pg_hba(&plan, Role::Replica)
        .unwrap();
    insta::assert_snapshot!("eventstore-network-pg_hba.conf", hba);
}

/// Application settings in catalog.sql: RESET ALL, then one SET per
/// setting with its rule, names quoted as identifiers and values as
/// literals (a quote and a backslash included).
#[test]
fn application_settings_reach_catalog_sql() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("app.toml");
    std::fs::write(
        &f,
        "extends = \"eventstore\"\n[application.settings]\nenable_indexscan = false\nplan_cache_mode = \"force_custom_plan\"\ndatestyle = \"ISO, DMY\"\nwork_mem = \"64MB\"\napplication_name = \"it's a\\\\b\"\n",
    )
    .unwrap();
    let p = profile::load(f.to_str().unwrap(), None).unwrap();
    let cat = Catalog::builtin(15).unwrap();
    let mut plan = tune::plan(
        &p,
        res(4 << 30),
        res(4 << 30),
        &estune::inputs::target(&cat),
    )
    .unwrap();
    tune::validate(&mut plan, &cat).unwrap();
    let sql = Renderer::new(None).unwrap().catalog_sql(&plan).unwrap();
    let sql = sql.replace(dir.path().to_str().unwrap(), "DIR");
    let start = sql.find("\n-- Settings of role").unwrap();
    insta::assert_snapshot!("app-settings-catalog.sql", &sql[start..]);
}
