//! Table-driven tests of `Catalog::check`, `suggest` and `default_display`
//! against the built-in catalogs.

use super::*;
use crate::value::Value;

fn v(text: &str) -> Value {
    Value::Text(text.to_string())
}

const GB: u64 = 1 << 30;
const MB: u64 = 1 << 20;

#[test]
fn accepted_values_and_their_settings() {
    let cases: &[(u32, &str, Value, &str)] = &[
        // memory units: 8kB, kB, MB, B
        (18, "shared_buffers", Value::Bytes(GB), "131072"),
        (18, "shared_buffers", Value::Bytes(128 * 1024), "16"),
        (18, "shared_buffers", Value::Bytes(16 * 8192 + 4096), "16"), // 16.5 pages, half to even
        (18, "shared_buffers", Value::Bytes(17 * 8192 + 4096), "18"), // 17.5 pages
        (18, "shared_buffers", Value::Bytes(8192 * 16 + 1), "16"),
        (18, "shared_buffers", Value::Int(1024), "1024"),
        (18, "shared_buffers", v("1GB"), "131072"),
        (18, "shared_buffers", v("1.5GB"), "196608"),
        (18, "shared_buffers", v("0x4000"), "16384"),
        (18, "work_mem", Value::Bytes(64 * MB), "65536"),
        (18, "work_mem", Value::Bytes(65537 * 1024 + 512), "65538"), // 65537.5kB
        (18, "max_wal_size", Value::Bytes(4 * GB), "4096"),
        (18, "wal_buffers", Value::Int(-1), "-1"),
        (18, "wal_buffers", Value::Bytes(16 * MB), "2048"),
        (18, "autovacuum_work_mem", Value::Int(-1), "-1"),
        (18, "effective_cache_size", Value::Bytes(4 * GB), "524288"),
        (18, "wal_skip_threshold", Value::Bytes(2 * MB), "2048"),
        (18, "min_dynamic_shared_memory", Value::Bytes(0), "0"),
        // time units: ms, s, min
        (18, "checkpoint_timeout", Value::Millis(900_000), "900"),
        (18, "checkpoint_timeout", Value::Millis(30_500), "30"), // 30.5s, half to even
        (18, "checkpoint_timeout", v("15min"), "900"),
        (18, "log_min_duration_statement", Value::Millis(250), "250"),
        (18, "log_min_duration_statement", Value::Int(-1), "-1"),
        (18, "log_rotation_age", Value::Millis(86_400_000), "1440"),
        (18, "autovacuum_vacuum_cost_delay", Value::Millis(2), "2"),
        (18, "autovacuum_vacuum_cost_delay", v("500us"), "0.5"),
        (18, "vacuum_cost_delay", Value::Real(0.5), "0.5"),
        // plain numbers
        (18, "max_connections", Value::Int(200), "200"),
        (18, "max_connections", v("200"), "200"),
        (18, "max_connections", Value::Real(99.5), "100"),
        (18, "random_page_cost", Value::Real(1.1), "1.1"),
        (18, "random_page_cost", Value::Int(4), "4"),
        (18, "checkpoint_completion_target", v("0.9"), "0.9"),
        (
            18,
            "autovacuum_vacuum_scale_factor",
            Value::Real(0.005),
            "0.005",
        ),
        (18, "bgwriter_lru_multiplier", Value::Real(10.0), "10"),
        // booleans
        (18, "fsync", Value::Bool(true), "on"),
        (18, "autovacuum", Value::Bool(false), "off"),
        (18, "autovacuum", v("yes"), "on"),
        (18, "autovacuum", v("0"), "off"),
        (18, "autovacuum", Value::Int(1), "on"),
        (14, "wal_compression", Value::Bool(true), "on"),
        // enums, case-insensitive, and on/off for enums that have them
        (18, "synchronous_commit", Value::Bool(true), "on"),
        (18, "synchronous_commit", v("REMOTE_APPLY"), "remote_apply"),
        (18, "synchronous_commit", v("true"), "on"),
        (18, "huge_pages", Value::Bool(false), "off"),
        (18, "huge_pages", v("try"), "try"),
        (18, "wal_compression", v("lz4"), "lz4"),
        (15, "wal_compression", v("zstd"), "zstd"),
        (18, "wal_level", v("logical"), "logical"),
        (18, "ssl_min_protocol_version", v("tlsv1.3"), "TLSv1.3"),
        (18, "io_method", v("worker"), "worker"),
        // strings take anything
        (
            18,
            "shared_preload_libraries",
            v("pg_stat_statements"),
            "pg_stat_statements",
        ),
        (18, "log_line_prefix", v("%m [%p] "), "%m [%p] "),
        (18, "log_connections", Value::Bool(true), "on"),
        // names are case-insensitive
        (18, "TimeZone", v("UTC"), "UTC"),
        (18, "timezone", v("UTC"), "UTC"),
    ];
    for (major, name, value, want) in cases {
        let catalog = Catalog::builtin(*major).unwrap();
        match catalog.check(name, value) {
            Ok(c) => assert_eq!(c.setting, *want, "{major} {name} = {value:?}"),
            Err(e) => panic!("{major} {name} = {value:?}: {e}"),
        }
    }
}

/// The variant of each error, with the fields that matter to a reader.
#[derive(Debug, PartialEq)]
enum Kind {
    Unknown(Option<&'static str>),
    Wrong,
    Range(&'static str, &'static str),
    BadEnum,
    NotSettable,
}

fn kind(e: &CheckError) -> Kind {
    let leak = |s: &String| -> &'static str { Box::leak(s.clone().into_boxed_str()) };
    match e {
        CheckError::UnknownParameter { suggestion, .. } => {
            Kind::Unknown(suggestion.as_ref().map(leak))
        }
        CheckError::WrongKind { .. } => Kind::Wrong,
        CheckError::OutOfRange { min, max, .. } => Kind::Range(leak(min), leak(max)),
        CheckError::BadEnum { .. } => Kind::BadEnum,
        CheckError::NotSettable { .. } => Kind::NotSettable,
    }
}

#[test]
fn refused_values() {
    let cases: &[(u32, &str, Value, Kind)] = &[
        (
            18,
            "shared_bufers",
            Value::Bytes(GB),
            Kind::Unknown(Some("shared_buffers")),
        ),
        (17, "io_method", v("worker"), Kind::Unknown(None)),
        (
            18,
            "no_such_thing_at_all",
            Value::Int(1),
            Kind::Unknown(None),
        ),
        (18, "shared_buffers", Value::Millis(1000), Kind::Wrong),
        (18, "shared_buffers", v("1GiB"), Kind::Wrong),
        (18, "shared_buffers", v("lots"), Kind::Wrong),
        (18, "shared_buffers", Value::Bool(true), Kind::Wrong),
        (18, "max_connections", Value::Bytes(GB), Kind::Wrong),
        (18, "max_connections", v("100MB"), Kind::Wrong),
        (18, "checkpoint_timeout", Value::Bytes(GB), Kind::Wrong),
        (18, "random_page_cost", Value::Millis(4), Kind::Wrong),
        (18, "fsync", Value::Int(2), Kind::Wrong),
        (18, "fsync", v("perhaps"), Kind::Wrong),
        (
            18,
            "shared_buffers",
            Value::Bytes(64 * 1024),
            Kind::Range("128kB", "8TB"),
        ),
        (
            18,
            "shared_buffers",
            Value::Bytes(16 << 40),
            Kind::Range("128kB", "8TB"),
        ),
        (
            18,
            "shared_buffers",
            v("9999999999999"),
            Kind::Range("128kB", "8TB"),
        ),
        (
            18,
            "checkpoint_timeout",
            Value::Millis(10_000),
            Kind::Range("30s", "1d"),
        ),
        (
            18,
            "max_connections",
            Value::Int(0),
            Kind::Range("1", "262143"),
        ),
        (18, "wal_buffers", Value::Int(-2), Kind::Range("-1", "2GB")),
        (
            18,
            "work_mem",
            Value::Bytes(32 * 1024),
            Kind::Range("64kB", "2TB"),
        ),
        (
            18,
            "checkpoint_completion_target",
            Value::Real(1.5),
            Kind::Range("0", "1"),
        ),
        (18, "synchronous_commit", v("sometimes"), Kind::BadEnum),
        (18, "wal_level", Value::Bool(true), Kind::BadEnum),
        (14, "default_toast_compression", v("zstd"), Kind::BadEnum),
        (18, "server_version", v("99"), Kind::NotSettable),
        (18, "block_size", Value::Int(8192), Kind::NotSettable),
    ];
    for (major, name, value, want) in cases {
        let catalog = Catalog::builtin(*major).unwrap();
        match catalog.check(name, value) {
            Ok(c) => panic!("{major} {name} = {value:?} was accepted as {}", c.setting),
            Err(e) => assert_eq!(kind(&e), *want, "{major} {name} = {value:?}: {e}"),
        }
    }
}

#[test]
fn messages_name_the_parameter_the_value_and_the_way_out() {
    let c = Catalog::builtin(18).unwrap();
    let msg = |name: &str, value: Value| c.check(name, &value).unwrap_err().to_string();
    assert_eq!(
        msg("shared_buffers", Value::Bytes(64 * 1024)),
        "shared_buffers = 64kB is out of range: PostgreSQL accepts 128kB to 8TB; choose a value in that range"
    );
    assert_eq!(
        msg("shared_buffers", Value::Millis(1000)),
        "shared_buffers = 1s: expected a size such as 256MB (unit 8kB); write the value in that form"
    );
    assert_eq!(
        msg("huge_pages", v("always")),
        "huge_pages = always is not one of its values; use one of: off, on, try"
    );
    assert!(msg("shared_bufers", Value::Int(1)).contains("Did you mean `shared_buffers`?"));
    assert!(msg("server_version", v("1")).contains("remove it"));
    let c17 = Catalog::builtin(17).unwrap();
    let e = c17
        .check("io_method", &v("worker"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("PostgreSQL 17 has no parameter `io_method`") && e.contains("18 and later"),
        "{e}"
    );
}

#[test]
fn checked_context() {
    let c = Catalog::builtin(18).unwrap();
    let ctx = |name: &str, value: Value| c.check(name, &value).unwrap().context;
    assert_eq!(ctx("shared_buffers", Value::Bytes(GB)), Context::Postmaster);
    assert_eq!(
        ctx("checkpoint_timeout", Value::Millis(600_000)),
        Context::Sighup
    );
    assert_eq!(ctx("work_mem", Value::Bytes(MB)), Context::User);
    assert!(Context::Postmaster.needs_restart() && !Context::Sighup.needs_restart());
    let labels = [
        (Context::Internal, "fixed"),
        (Context::Postmaster, "restart"),
        (Context::Sighup, "reload"),
        (Context::SuperuserBackend, "reload"),
        (Context::Backend, "reload"),
        (Context::Superuser, "reload"),
        (Context::User, "reload"),
    ];
    for (context, label) in labels {
        assert_eq!(context.apply_label(), label);
        assert_eq!(Context::from_pg(context.as_str()), Some(context));
    }
}

#[test]
fn suggestions() {
    let c = Catalog::builtin(18).unwrap();
    let cases = [
        ("shared_bufers", Some("shared_buffers")),
        ("Shared_Buffer", Some("shared_buffers")),
        ("max_wal_sizes", Some("max_wal_size")),
        ("efective_cache_size", Some("effective_cache_size")),
        ("checkpoint_segments", None),
        ("zzz", None),
        ("pg_stat_statements.max", None),
    ];
    for (name, want) in cases {
        assert_eq!(c.suggest(name).as_deref(), want, "{name}");
    }
}

#[test]
fn defaults_for_people() {
    let c = Catalog::builtin(18).unwrap();
    let cases = [
        ("shared_buffers", "128MB"),
        ("checkpoint_timeout", "5min"),
        ("wal_buffers", "-1"),
        ("max_wal_size", "1GB"),
        ("work_mem", "4MB"),
        ("log_min_duration_statement", "-1"),
        ("log_autovacuum_min_duration", "10min"),
        ("vacuum_buffer_usage_limit", "2MB"),
        ("fsync", "on"),
        ("random_page_cost", "4"),
        ("max_connections", "100"),
        ("synchronous_commit", "on"),
        ("io_method", "worker"),
    ];
    for (name, want) in cases {
        assert_eq!(c.default_display(name).as_deref(), Some(want), "{name}");
    }
    assert_eq!(c.default_display("nope"), None);
    assert_eq!(
        Catalog::builtin(16)
            .unwrap()
            .default_display("vacuum_buffer_usage_limit")
            .as_deref(),
        Some("256kB")
    );
}

#[test]
fn display_and_same() {
    let cat = crate::catalog::Catalog::builtin(15).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("shared_buffers", "131072", "1GB"),
        ("checkpoint_timeout", "900", "15min"),
        ("random_page_cost", "1.1", "1.1"),
        ("jit", "off", "off"),
        ("wal_level", "replica", "replica"),
        ("no_such_param", "42", "42"),
    ];
    for (name, setting, want) in cases {
        assert_eq!(cat.display(name, setting), *want, "{name}");
    }
    assert!(cat.same("random_page_cost", "1.1", "1.10"));
    assert!(!cat.same("random_page_cost", "1.1", "4"));
    assert!(cat.same("wal_compression", "LZ4", "lz4"));
    assert!(cat.same("jit", "off", "false"));
    assert!(!cat.same("shared_preload_libraries", "a", "b"));
}
