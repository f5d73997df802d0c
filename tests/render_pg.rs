//! Rendered postgresql.conf files are accepted by real PostgreSQL 15 and 18
//! servers: every value is in effect, and pg_file_settings reports no error.

mod support;

use estune::catalog::Catalog;
use estune::profile;
use estune::render::Renderer;
use estune::tune::{self, Plan, Resources, Role};
use support::ScratchServer;

fn plan_for(profile_name: &str, cat: &Catalog) -> Plan {
    let p = profile::load(profile_name, None).unwrap();
    let r = || Resources::fixed(1 << 30, 2.0, "test");
    let mut plan = tune::plan(&p, r(), r(), &estune::inputs::target(cat)).unwrap();
    tune::validate(&mut plan, cat).unwrap();
    plan
}

async fn check_in_effect(server: &ScratchServer, plan: &Plan, role: Role) {
    let client = estune::db::connect(&server.dsn(), std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let errors = client
        .query(
            "SELECT name, setting, error FROM pg_file_settings WHERE error IS NOT NULL OR NOT applied",
            &[],
        )
        .await
        .unwrap();
    let errors: Vec<String> = errors
        .iter()
        .map(|r| {
            format!(
                "{:?}={:?}: {:?}",
                r.get::<_, Option<String>>(0),
                r.get::<_, Option<String>>(1),
                r.get::<_, Option<String>>(2)
            )
        })
        .collect();
    assert!(errors.is_empty(), "pg_file_settings errors: {errors:?}");
    let settings = &plan.role(role).settings;
    assert!(
        settings.len() > 20,
        "the eventstore plan sets many parameters"
    );
    for s in settings {
        let row = client
            .query_one(
                "SELECT setting FROM pg_settings WHERE name = $1",
                &[&s.name],
            )
            .await
            .unwrap();
        let live: String = row.get(0);
        let want = &s.checked.as_ref().expect("validated").setting;
        assert_eq!(
            &live,
            want,
            "{role}: {} rendered as {}",
            s.name,
            s.value.to_conf()
        );
    }
}

async fn rendered_conf_is_in_effect(major: u32) {
    let mut server = ScratchServer::init(major);
    let cat = Catalog::from_binary(&server.bins, "postgres").unwrap();
    assert_eq!(cat.major, major);
    let renderer = Renderer::new(None).unwrap();
    for role in Role::BOTH {
        let plan = plan_for("eventstore", &cat);
        server.write(
            "postgresql.conf",
            &renderer.postgresql_conf(&plan, role).unwrap(),
        );
        server.write("pg_hba.conf", &renderer.pg_hba(&plan, role).unwrap());
        server
            .start()
            .unwrap_or_else(|log| panic!("PostgreSQL {major} rejected the {role} config:\n{log}"));
        check_in_effect(&server, &plan, role).await;
        server.stop();
    }
}

#[tokio::test]
async fn pg15_runs_the_rendered_config() {
    rendered_conf_is_in_effect(15).await;
}

#[tokio::test]
async fn pg18_runs_the_rendered_config() {
    rendered_conf_is_in_effect(18).await;
}

/// `render --dsn` validates against the live server's pg_settings, and a
/// --pg-version that contradicts the server is refused.
#[test]
fn render_validates_against_a_live_server() {
    let mut server = ScratchServer::init(15);
    server.start().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "render",
            "--profile",
            "eventstore",
            "--memory",
            "1GiB",
            "--cpus",
            "2",
            "--role",
            "primary",
            "--explain",
            "--dsn",
        ];
        let dsn = server.dsn();
        args.push(&dsn);
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_estune"))
            .args(&args)
            .output()
            .unwrap()
    };
    let ok = run(&[]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.contains(&format!("127.0.0.1:{}", server.port)) && stdout.contains("PostgreSQL 15"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(&server.password),
        "the password never shows"
    );
    let mismatch = run(&["--pg-version", "18"]);
    assert_eq!(mismatch.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("runs PostgreSQL 15"));
    server.stop();
}
