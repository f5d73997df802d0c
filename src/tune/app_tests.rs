//! Application settings through the whole tune step: profile files with
//! `extends`, the plan, its hash, and validation by the server's catalog.

use super::*;
use crate::catalog::Catalog;
use crate::profile;
use crate::value::Value;

fn write(dir: &std::path::Path, name: &str, body: &str) -> String {
    let f = dir.join(name);
    std::fs::write(&f, body).unwrap();
    f.display().to_string()
}

fn plan_file(path: &str, major: u32) -> Plan {
    let p = profile::load(path, None).unwrap();
    let res = || Resources::fixed(4 << 30, 2.0, "test");
    plan(&p, res(), res(), &Target::standard(major)).unwrap()
}

fn validated(path: &str, major: u32) -> Result<Plan, ValidationErrors> {
    let mut pl = plan_file(path, major);
    validate(&mut pl, &Catalog::builtin(major).unwrap()).map(|()| pl)
}

#[test]
fn settings_reach_the_plan_through_extends_in_the_catalogs_spelling() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "parent.toml",
        "extends = \"eventstore\"\n[application.settings]\nenable_indexscan = false\nDateStyle = \"ISO, DMY\"\nplan_cache_mode = \"force_custom_plan\"\n",
    );
    let child = write(
        dir.path(),
        "child.toml",
        "extends = \"parent\"\n[application.settings]\ndatestyle = \"ISO, MDY\"\nwork_mem = \"65536kB\"\nrandom_page_cost = 1.10\n",
    );
    for major in [13, 15, 18] {
        let pl = validated(&child, major).unwrap();
        let got: Vec<(&str, &str, String)> = pl
            .app_settings
            .iter()
            .map(|s| {
                let shown = s.checked.as_ref().unwrap().shown.as_str();
                let at = match &s.source {
                    Source::Override { at, .. } => format!("{}:{}", at.line, at.col),
                    Source::Formula => "formula".into(),
                };
                (s.name.as_str(), shown, at)
            })
            .collect();
        let want = [
            ("DateStyle", "ISO, MDY", "3:13".to_string()),
            ("enable_indexscan", "off", "3:20".to_string()),
            ("plan_cache_mode", "force_custom_plan", "5:19".to_string()),
            ("random_page_cost", "1.1", "5:20".to_string()),
            ("work_mem", "64MB", "4:12".to_string()),
        ];
        assert_eq!(got, want, "PostgreSQL {major}");
        let ds = &pl.app_settings[0];
        assert!(
            matches!(&ds.source, Source::Override { at, .. } if at.file.ends_with("child.toml")
                && at.key == "application.settings.datestyle"),
            "{ds:?}"
        );
        let checked = ds.checked.as_ref().unwrap();
        assert_eq!(checked.context, crate::catalog::Context::User);
        assert_eq!(checked.default.as_deref(), Some("ISO, MDY"));
    }
}

#[test]
fn shipped_profiles_set_none_and_eventstore_recommends_index_scans_off() {
    for name in ["stock", "pgtune-oltp", "des-benchmark", "eventstore"] {
        let p = profile::load(name, None).unwrap();
        assert!(p.application.settings.is_empty(), "{name}");
        let res = || Resources::fixed(4 << 30, 2.0, "test");
        let pl = plan(&p, res(), res(), &Target::standard(15)).unwrap();
        if name == "eventstore" {
            // Its boundaries (90 rows in 1,000,000 events) are read best
            // through the GIN bitmap: a formula, not a setting of the file.
            let names: Vec<&str> = pl.app_settings.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["enable_indexscan"]);
            assert_eq!(pl.app_settings[0].value, crate::value::Value::Bool(false));
            assert_eq!(pl.app_settings[0].source, super::Source::Formula);
        } else {
            assert!(pl.app_settings.is_empty(), "{name}");
        }
    }
}

#[test]
fn the_hash_covers_them_and_not_their_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let base = plan_file("stock", 15).hash;
    let with = |body: &str| {
        let f = write(
            dir.path(),
            "p.toml",
            &format!("extends = \"stock\"\n[application.settings]\n{body}\n"),
        );
        validated(&f, 15).unwrap()
    };
    let off = with("enable_indexscan = false").hash;
    assert_ne!(off, base);
    assert_ne!(with("enable_indexscan = true").hash, off);
    let upper = with("DateStyle = \"ISO, DMY\"");
    assert_eq!(with("datestyle = \"ISO, DMY\"").hash, upper.hash);
    // Validation gives the catalog's spelling; the hash that `apply`
    // computes again after it renames the access names stays the same.
    assert_eq!(upper.app_settings[0].name, "DateStyle");
    assert_eq!(hash(&upper), upper.hash);

    // The role and the database are part of what the settings configure.
    let mut pl = with("enable_indexscan = false");
    pl.access.app_user = "other".into();
    assert_ne!(hash(&pl), off);
}

#[test]
fn the_catalog_refuses_names_values_and_scopes_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bad.toml",
        r#"extends = "eventstore"
[application.settings]
shared_buffers = "1GB"
checkpoint_timeout = "10min"
log_connections = true
enable_indexscn = false
plan_cache_mode = "sometimes"
work_mem = "1kB"
enable_seqscan = 5
transaction_isolation = "serializable"
search_path = "eventstore, public"
statement_timeout = "2s"
"#,
    );
    let err = validated(&f, 15).unwrap_err();
    let lines: Vec<String> = err.errors.iter().map(|e| e.to_string()).collect();
    let want = [
        ("3:18", "shared_buffers", "context postmaster"),
        ("4:22", "checkpoint_timeout", "context sighup"),
        ("5:19", "log_connections", "context superuser-backend"),
        (
            "6:19",
            "enable_indexscn",
            "Did you mean `enable_indexscan`?",
        ),
        ("7:19", "plan_cache_mode", "is not one of its values"),
        ("8:12", "work_mem", "out of range"),
        ("9:18", "enable_seqscan", "expected on or off"),
        (
            "10:25",
            "transaction_isolation",
            "set default_transaction_isolation instead",
        ),
        ("11:15", "search_path", "quotes one by one"),
    ];
    assert_eq!(lines.len(), want.len(), "{err}");
    for (pos, name, why) in want {
        let at = format!("bad.toml:{pos} (`application.settings.{name}`): ");
        let line = lines.iter().find(|l| l.contains(&at));
        assert!(line.is_some_and(|l| l.contains(why)), "{at}{why}\n{err}");
    }
    assert!(
        err.to_string()
            .contains("Set it for the whole server in primary.overrides and replica.overrides"),
        "{err}"
    );
}

#[test]
fn a_formula_that_fails_the_catalog_is_named_as_a_bug() {
    let mut pl = plan_file("eventstore", 15);
    let mut app = AppSettings::default();
    app.set("shared_buffers", Value::Bytes(1 << 30), "a wrong rule");
    pl.app_settings = app.into_vec();
    let err = validate(&mut pl, &Catalog::builtin(15).unwrap()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("application settings (formula, an estune bug")
            && msg.contains("context postmaster"),
        "{msg}"
    );
}
