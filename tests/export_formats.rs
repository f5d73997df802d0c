//! The orchestrator exports (`render --format patroni|cnpg|compose`) of the
//! four shipped profiles: snapshots of every file, parameter values that
//! read back exactly as planned, and each file accepted by its
//! orchestrator's own checker: `patroni --validate-config`, the
//! CloudNativePG `Cluster` CRD's schema, `docker-compose config`.

mod support;

use estune::catalog::Catalog;
use estune::cluster::Secrets;
use estune::export::{self, Export, ExportSecrets, Options, Target};
use estune::profile;
use estune::render::Renderer;
use estune::tune::{self, Plan, Resources, Role};
use serde_norway::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROFILES: [&str; 4] = ["stock", "pgtune-oltp", "des-benchmark", "eventstore"];
const OUT: &str = "/srv/estune-export";

fn plan(name: &str) -> (profile::Profile, Plan) {
    support::snapshot_plan(name)
}

fn options(p: &profile::Profile, out: &Path) -> Options {
    Options {
        name: "estune".into(),
        dcs: "http://127.0.0.1:2379".into(),
        hosts: ["127.0.0.1".into(), "127.0.0.1".into()],
        ports: [5432, 5433],
        rest_ports: [8008, 8009],
        data_root: PathBuf::from("/var/lib/postgresql/estune/estune"),
        bin_dir: PathBuf::from("/usr/lib/postgresql/15/bin"),
        image: Some("estune/postgres:15".into()),
        storage_size: "20Gi".into(),
        output: out.to_path_buf(),
        resources: [p.primary.resources.clone(), p.replica.resources.clone()],
    }
}

/// Fixed passwords, so that snapshots are stable (secrets.env itself is
/// never snapshotted).
fn secrets() -> ExportSecrets {
    ExportSecrets {
        secrets: Secrets {
            superuser: "superuser-password".into(),
            app: "app-password".into(),
            replication: "replication-password".into(),
        },
        kept: false,
    }
}

fn render(target: Target, name: &str, out: &Path) -> (Plan, Export) {
    let (p, plan) = plan(name);
    let ex = export::export(
        target,
        &plan,
        &options(&p, out),
        &Renderer::new(None).unwrap(),
        &secrets(),
    )
    .unwrap();
    (plan, ex)
}

fn file<'a>(ex: &'a Export, path: &str) -> &'a str {
    &ex.files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("no {path} in the export"))
        .text
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| {
        v.get(k)
            .unwrap_or_else(|| panic!("no {k} (of {path}) in {v:?}"))
    })
}

/// A mapping of strings, as `name → value`.
fn strings(v: &Value) -> Vec<(String, String)> {
    v.as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{k:?}: {v:?} is not a string"));
            (k.as_str().unwrap().to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn every_format_renders_stably_for_the_shipped_profiles() {
    for target in [Target::Patroni, Target::Cnpg, Target::Compose] {
        for name in PROFILES {
            let (plan, ex) = render(target, name, Path::new(OUT));
            let t = format!("{target:?}").to_lowercase();
            for f in ex
                .files
                .iter()
                .filter(|f| f.path != Path::new("secrets.env"))
            {
                insta::assert_snapshot!(
                    format!("{t}-{name}-{}", f.path.display()).replace('/', "-"),
                    f.text
                );
            }
            insta::assert_snapshot!(format!("{t}-{name}-explain"), ex.explain(&plan));
        }
    }
}

#[test]
fn patroni_values_read_back_exactly_and_dcs_holds_the_larger() {
    for name in PROFILES {
        let (plan, ex) = render(Target::Patroni, name, Path::new(OUT));
        let docs = [
            yaml(file(&ex, "patroni-primary.yml")),
            yaml(file(&ex, "patroni-replica.yml")),
        ];
        let dcs = strings(get(&docs[0], "bootstrap.dcs.postgresql.parameters"));
        assert_eq!(
            dcs,
            strings(get(&docs[1], "bootstrap.dcs.postgresql.parameters")),
            "{name}: both nodes carry the same DCS parameters"
        );
        for (i, role) in Role::BOTH.iter().enumerate() {
            let local = strings(get(&docs[i], "postgresql.parameters"));
            for s in &plan.role(*role).settings {
                let found = local
                    .iter()
                    .chain(dcs.iter())
                    .find(|(k, _)| *k == s.name)
                    .map(|(_, v)| v.clone());
                let p = ex.placements.iter().find(|p| p.name == s.name).unwrap();
                match found {
                    None => assert_eq!(p.place, "left out", "{name} {role} {}", s.name),
                    Some(v) if dcs.iter().any(|(k, _)| *k == s.name) => {
                        // The larger of the roles' values, on both.
                        let other = plan
                            .role(if *role == Role::Primary {
                                Role::Replica
                            } else {
                                Role::Primary
                            })
                            .get(&s.name)
                            .map(|o| o.value.clone());
                        let mine = s.value.to_plain();
                        assert!(
                            v == mine || other.is_some_and(|o| o.to_plain() == v),
                            "{name} {role} {}: {v} is neither role's value",
                            s.name
                        );
                    }
                    Some(v) => assert_eq!(v, s.value.to_plain(), "{name} {role} {}", s.name),
                }
            }
        }
        assert_eq!(get(&docs[0], "name").as_str(), Some("pg1"));
        assert_eq!(get(&docs[1], "name").as_str(), Some("pg2"));
        let auth = get(&docs[0], "postgresql.authentication");
        assert!(
            !format!("{auth:?}").contains("password"),
            "no password inline: {auth:?}"
        );
    }
}

#[test]
fn patroni_puts_unequal_parity_settings_in_the_dcs_with_the_larger_value() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("uneven.toml");
    std::fs::write(
        &f,
        "extends = \"eventstore\"\n[replica]\nconnections = 150\n",
    )
    .unwrap();
    let cat = Catalog::builtin(15).unwrap();
    let p = profile::load(f.to_str().unwrap(), None).unwrap();
    let res = || Resources::fixed(4 << 30, 2.0, "test");
    let mut plan = tune::plan(&p, res(), res(), &estune::inputs::target(&cat)).unwrap();
    tune::validate(&mut plan, &cat).unwrap();
    let mc = |r: Role| {
        plan.role(r)
            .get("max_connections")
            .unwrap()
            .value
            .to_plain()
    };
    assert_ne!(
        mc(Role::Primary),
        mc(Role::Replica),
        "the test needs unequal roles"
    );
    let larger = mc(Role::Primary)
        .parse::<u32>()
        .unwrap()
        .max(mc(Role::Replica).parse().unwrap())
        .to_string();
    let ex = export::export(
        Target::Patroni,
        &plan,
        &options(&p, dir.path()),
        &Renderer::new(None).unwrap(),
        &secrets(),
    )
    .unwrap();
    for f in ["patroni-primary.yml", "patroni-replica.yml"] {
        let doc = yaml(file(&ex, f));
        let dcs = get(&doc, "bootstrap.dcs.postgresql.parameters");
        assert_eq!(
            dcs.get("max_connections").unwrap().as_str(),
            Some(larger.as_str())
        );
        assert!(get(&doc, "postgresql.parameters")
            .get("max_connections")
            .is_none());
    }
    assert!(
        ex.warnings
            .iter()
            .any(|w| w.starts_with("max_connections: the roles differ") && w.contains(&larger)),
        "{:?}",
        ex.warnings
    );
}

#[test]
fn cnpg_values_are_strings_that_read_back_exactly_and_fixed_ones_are_left_out() {
    let fixed = export::fixed_parameters();
    for name in PROFILES {
        let (plan, ex) = render(Target::Cnpg, name, Path::new(OUT));
        let doc = yaml(file(&ex, "cluster.yaml"));
        assert_eq!(get(&doc, "spec.instances").as_u64(), Some(2));
        let params = strings(get(&doc, "spec.postgresql.parameters"));
        for (k, v) in &params {
            assert!(
                !fixed.iter().any(|(f, _)| f == k),
                "{name}: {k} is fixed by the operator"
            );
            let p = ex.placements.iter().find(|p| p.name == *k).unwrap();
            assert_eq!(p.primary.as_deref(), Some(v.as_str()), "{name} {k}");
            if let Some(s) = plan.role(Role::Primary).get(k) {
                if plan.role(Role::Replica).get(k).map(|r| &r.value) == Some(&s.value) {
                    assert_eq!(*v, s.value.to_plain(), "{name} {k}");
                }
            }
        }
        for role in Role::BOTH {
            for s in &plan.role(role).settings {
                let placed = params.iter().any(|(k, _)| *k == s.name);
                let dropped = ex
                    .placements
                    .iter()
                    .any(|p| p.name == s.name && p.place == "left out" && p.why.is_some());
                assert!(
                    placed || dropped,
                    "{name}: {} neither placed nor explained",
                    s.name
                );
            }
        }
        // pg_stat_statements through the operator's managed extension.
        let preloads = plan
            .role(Role::Primary)
            .get("shared_preload_libraries")
            .is_some_and(|s| s.value.to_plain().contains("pg_stat_statements"));
        assert_eq!(
            params
                .iter()
                .any(|(k, _)| k.starts_with("pg_stat_statements.")),
            preloads,
            "{name}"
        );
        let mem = |path: &str| get(&doc, path).as_str().unwrap().to_string();
        // One limit for every instance: the larger role's.
        let larger = plan
            .role(Role::Primary)
            .inputs
            .memory
            .value
            .max(plan.role(Role::Replica).inputs.memory.value);
        assert_eq!(
            mem("spec.resources.limits.memory"),
            export_quantity(larger),
            "{name}"
        );
        assert!(!mem("spec.resources.requests.memory").is_empty());
    }
}

fn export_quantity(b: u64) -> String {
    if b % (1 << 30) == 0 {
        format!("{}Gi", b >> 30)
    } else {
        format!("{}Mi", b >> 20)
    }
}

/// The CloudNativePG reference data (the operator's `Cluster` CRD and its
/// list of fixed parameters): tests/fixtures/cnpg, or the directory in
/// `$ESTUNE_CNPG_REFERENCE` to check against another operator release.
fn cnpg_reference() -> PathBuf {
    let dir = std::env::var_os("ESTUNE_CNPG_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cnpg"));
    for f in ["postgresql.cnpg.io_clusters.yaml", "fixed-parameters.tsv"] {
        assert!(
            dir.join(f).is_file(),
            "the CloudNativePG reference data is absent: no {f} in {} (set \
             ESTUNE_CNPG_REFERENCE to a directory holding the operator's Cluster CRD and \
             fixed-parameters.tsv)",
            dir.display()
        );
    }
    dir
}

#[test]
fn cnpg_manifests_validate_against_the_operators_crd() {
    let dir = cnpg_reference();
    let crd_text = std::fs::read_to_string(dir.join("postgresql.cnpg.io_clusters.yaml")).unwrap();
    let crd = export::crd::Crd::from_yaml(&crd_text).unwrap();
    assert_eq!(crd.kind(), "Cluster");
    for name in PROFILES {
        let (_, ex) = render(Target::Cnpg, name, Path::new(OUT));
        let text = file(&ex, "cluster.yaml");
        let v = crd.validate_yaml(text).unwrap();
        assert!(v.is_empty(), "{name}: {v:?}\n{text}");
    }
    // The check can fail: a number where the CRD wants a string, and a
    // misspelt field, are both caught.
    let (_, ex) = render(Target::Cnpg, "eventstore", Path::new(OUT));
    let broken = file(&ex, "cluster.yaml")
        .replace("max_connections: \"", "max_connections: ")
        .replace("max_connections: 73\"", "max_connections: 73")
        .replace("  instances: 2", "  instance: 2");
    let v: Vec<String> = crd
        .validate_yaml(&broken)
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert!(
        v.iter()
            .any(|m| m.contains("spec.instance") && m.contains("instances")),
        "{v:?}"
    );
}

#[test]
fn render_checks_the_manifest_against_a_crd_given_on_the_command_line() {
    let dir = cnpg_reference();
    let crd = dir.join("postgresql.cnpg.io_clusters.yaml");
    let r = render_cli(&["--format", "cnpg", "--crd", crd.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("validates against"));
    // A CRD whose schema wants what the manifest lacks: nothing written.
    let text = std::fs::read_to_string(&crd).unwrap();
    let strict = text.replacen(
        "            required:\n            - instances\n",
        "            required:\n            - instances\n            - estuneMustHaveThis\n",
        1,
    );
    assert_ne!(strict, text, "the CRD's spec requires instances");
    let tmp = tempfile::tempdir().unwrap();
    let strict_crd = tmp.path().join("crd.yaml");
    std::fs::write(&strict_crd, strict).unwrap();
    let out = tmp.path().join("out");
    let r = render_cli(&[
        "--format",
        "cnpg",
        "-o",
        out.to_str().unwrap(),
        "--crd",
        strict_crd.to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("does not validate") && err.contains("estuneMustHaveThis"),
        "{err}"
    );
    assert!(!out.join("cluster.yaml").exists(), "nothing written");
    let r = render_cli(&[
        "--format",
        "patroni",
        "--explain",
        "--crd",
        crd.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn the_embedded_list_of_fixed_parameters_is_the_operators() {
    let dir = cnpg_reference();
    let reference = std::fs::read_to_string(dir.join("fixed-parameters.tsv")).unwrap();
    let mut want: Vec<(String, String)> = reference
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.to_string(), b.trim().to_string())
        })
        .collect();
    let mut have: Vec<(String, String)> = export::fixed_parameters()
        .into_iter()
        .map(|(n, k)| {
            let k = match k {
                export::FixedKind::Fixed => "fixed",
                export::FixedKind::Blocked => "blocked",
            };
            (n.to_string(), k.to_string())
        })
        .collect();
    want.sort();
    have.sort();
    assert_eq!(have, want);
}

#[test]
fn compose_resources_read_back_and_docker_compose_accepts_the_file() {
    for name in PROFILES {
        let dir = tempfile::tempdir().unwrap();
        let (plan, ex) = render(Target::Compose, name, dir.path());
        ex.write(dir.path()).unwrap();
        let doc = yaml(file(&ex, "docker-compose.yml"));
        for (node, role) in [("pg1", Role::Primary), ("pg2", Role::Replica)] {
            let svc = get(&doc, &format!("services.{node}"));
            let limit = plan.role(role).inputs.memory.value;
            let want = if limit % (1 << 30) == 0 {
                format!("{}g", limit >> 30)
            } else {
                format!("{}m", limit >> 20)
            };
            assert_eq!(svc.get("mem_limit").unwrap().as_str(), Some(want.as_str()));
            assert_eq!(
                svc.get("memswap_limit").unwrap().as_str(),
                Some(want.as_str())
            );
            let conf = file(&ex, &format!("{role}/postgresql.conf"));
            assert_eq!(
                conf,
                Renderer::new(None)
                    .unwrap()
                    .postgresql_conf(&plan, role)
                    .unwrap()
            );
        }
        let out = Command::new("docker-compose")
            .args(["config", "-q"])
            .current_dir(dir.path())
            .output()
            .expect("docker-compose is needed (scripts/install-ha.sh installs it)");
        assert!(
            out.status.success(),
            "{name}: docker-compose config: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mode = |f: &str| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("secrets.env"), 0o600);
        assert_eq!(mode("start.sh"), 0o755);
    }
}

fn validate(patroni: &Path, file: &Path) -> (bool, String) {
    let out = Command::new(patroni)
        .args(["--validate-config", "--ignore-listen-port"])
        .arg(file)
        // Patroni merges PATRONI_* variables into what it checks.
        .env_remove("PATRONI_SUPERUSER_PASSWORD")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `patroni --validate-config` needs the DCS to answer, so an etcd of the
/// test's own runs on 127.0.0.1. It accepts the files of a pair on two
/// machines whole. For a pair on one machine (127.0.0.1), its only
/// complaint is its rule against loopback connect addresses (other
/// machines could not reach them), which a one-machine pair does not
/// need: the Patroni pair test runs those very files.
#[test]
fn patroni_validates_the_rendered_files() {
    let patroni = support::patroni_bin("patroni");
    let etcd = support::Etcd::start();
    for name in PROFILES {
        let (p, plan) = plan(name);
        for hosts in [["192.0.2.11", "192.0.2.12"], ["127.0.0.1", "127.0.0.1"]] {
            let dir = tempfile::tempdir().unwrap();
            let mut o = options(&p, dir.path());
            o.dcs = etcd.url();
            o.hosts = hosts.map(String::from);
            o.data_root = dir.path().join("data");
            let ex = export::export(
                Target::Patroni,
                &plan,
                &o,
                &Renderer::new(None).unwrap(),
                &secrets(),
            )
            .unwrap();
            ex.write(dir.path()).unwrap();
            for f in ["patroni-primary.yml", "patroni-replica.yml"] {
                let (ok, text) = validate(&patroni, &dir.path().join(f));
                if hosts[0] != "127.0.0.1" {
                    assert!(ok, "{name} {f} on two machines: {text}");
                    continue;
                }
                assert!(!ok, "{name} {f}: loopback connect addresses are refused");
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    assert!(
                        line.contains("connect_address") && line.contains("127.0.0.1"),
                        "{name} {f}: a complaint besides the loopback rule: {line}\n{text}"
                    );
                }
            }
        }
    }
}

/// `estune render` of the eventstore profile at fixed inputs; the tests
/// add the format and its flags.
const RENDER: [&str; 9] = [
    "render",
    "--profile",
    "eventstore",
    "--memory",
    "4GiB",
    "--cpus",
    "2",
    "--pg-version",
    "15",
];

fn render_cli(extra: &[&str]) -> std::process::Output {
    estune(&[&RENDER[..], extra].concat())
}

fn estune(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_estune"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_command_line_writes_files_keeps_passwords_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let o = out.to_str().unwrap();
    let run = render_cli;
    // Several files need a directory.
    let r = run(&["--format", "patroni"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("-o DIR"));
    let r = run(&["--format", "patroni", "-o", o]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let first = std::fs::read_to_string(out.join("secrets.env")).unwrap();
    let r = run(&["--format", "patroni", "-o", o]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("kept the passwords"));
    assert_eq!(
        std::fs::read_to_string(out.join("secrets.env")).unwrap(),
        first
    );
    assert!(
        !String::from_utf8_lossy(&r.stdout).contains(first.lines().nth(3).unwrap()),
        "passwords are never printed"
    );
    // --explain says where each setting went.
    let r = run(&["--format", "patroni", "--explain"]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains("bootstrap.dcs.postgresql.parameters"),
        "{text}"
    );
    assert!(text.contains("left out"), "{text}");
    // The CloudNativePG manifest goes to stdout.
    let r = run(&["--format", "cnpg"]);
    assert!(String::from_utf8_lossy(&r.stdout).contains("kind: Cluster"));
    // Bad input names the flag and the value.
    let r = run(&["--format", "patroni", "--dcs", "127.0.0.1:2379", "-o", o]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--dcs 127.0.0.1:2379"));
    let r = run(&["--format", "cnpg", "--name", "Bad_Name"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("Bad_Name"));
    // shared_buffers above the memory request: the operator's webhook rule.
    let f = dir.path().join("tight.toml");
    std::fs::write(
        &f,
        "extends = \"eventstore\"\n[primary.resources]\nmemory_reservation = \"512MiB\"\n\
         [replica.resources]\nmemory_reservation = \"512MiB\"\n",
    )
    .unwrap();
    let r = estune(&[
        "render",
        "--profile",
        f.to_str().unwrap(),
        "--memory",
        "4GiB",
        "--cpus",
        "2",
        "--pg-version",
        "15",
        "--format",
        "cnpg",
    ]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("shared_buffers") && err.contains("memory request"),
        "{err}"
    );
}
