//! Storage parameters of tables and indexes. PostgreSQL has no view that
//! lists them, so their names, types, ranges and first versions are kept
//! here, from the `CREATE TABLE` / `CREATE INDEX` reference pages.

use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    Table,
    Btree,
    Gin,
}

#[derive(Debug, Clone, Copy)]
enum Ty {
    Int(i64, i64),
    Real(f64, f64),
    Bool,
    /// vacuum_index_cleanup: on/off/auto from 14, boolean before.
    IndexCleanup,
    /// An integer in kB, also given as a size (gin_pending_list_limit).
    Kilobytes(i64, i64),
    /// A real in milliseconds, also given as a duration.
    Millis(f64, f64),
}

const I32: i64 = i32::MAX as i64;

/// (name, kind, type, first major)
const OPTIONS: &[(&str, RelKind, Ty, u32)] = &[
    ("fillfactor", RelKind::Table, Ty::Int(10, 100), 13),
    ("toast_tuple_target", RelKind::Table, Ty::Int(128, 8160), 13),
    ("parallel_workers", RelKind::Table, Ty::Int(0, 1024), 13),
    ("autovacuum_enabled", RelKind::Table, Ty::Bool, 13),
    ("vacuum_index_cleanup", RelKind::Table, Ty::IndexCleanup, 13),
    ("vacuum_truncate", RelKind::Table, Ty::Bool, 13),
    (
        "autovacuum_vacuum_threshold",
        RelKind::Table,
        Ty::Int(0, I32),
        13,
    ),
    (
        "autovacuum_vacuum_max_threshold",
        RelKind::Table,
        Ty::Int(-1, I32),
        18,
    ),
    (
        "autovacuum_vacuum_scale_factor",
        RelKind::Table,
        Ty::Real(0.0, 100.0),
        13,
    ),
    (
        "autovacuum_vacuum_insert_threshold",
        RelKind::Table,
        Ty::Int(-1, I32),
        13,
    ),
    (
        "autovacuum_vacuum_insert_scale_factor",
        RelKind::Table,
        Ty::Real(0.0, 100.0),
        13,
    ),
    (
        "autovacuum_analyze_threshold",
        RelKind::Table,
        Ty::Int(0, I32),
        13,
    ),
    (
        "autovacuum_analyze_scale_factor",
        RelKind::Table,
        Ty::Real(0.0, 100.0),
        13,
    ),
    (
        "autovacuum_vacuum_cost_delay",
        RelKind::Table,
        Ty::Millis(0.0, 100.0),
        13,
    ),
    (
        "autovacuum_vacuum_cost_limit",
        RelKind::Table,
        Ty::Int(1, 10_000),
        13,
    ),
    (
        "autovacuum_freeze_min_age",
        RelKind::Table,
        Ty::Int(0, 1_000_000_000),
        13,
    ),
    (
        "autovacuum_freeze_max_age",
        RelKind::Table,
        Ty::Int(100_000, 2_000_000_000),
        13,
    ),
    (
        "autovacuum_freeze_table_age",
        RelKind::Table,
        Ty::Int(0, 2_000_000_000),
        13,
    ),
    (
        "autovacuum_multixact_freeze_min_age",
        RelKind::Table,
        Ty::Int(0, 1_000_000_000),
        13,
    ),
    (
        "autovacuum_multixact_freeze_max_age",
        RelKind::Table,
        Ty::Int(10_000, 2_000_000_000),
        13,
    ),
    (
        "autovacuum_multixact_freeze_table_age",
        RelKind::Table,
        Ty::Int(0, 2_000_000_000),
        13,
    ),
    (
        "log_autovacuum_min_duration",
        RelKind::Table,
        Ty::Int(-1, I32),
        13,
    ),
    (
        "vacuum_max_eager_freeze_failure_rate",
        RelKind::Table,
        Ty::Real(0.0, 1.0),
        18,
    ),
    // Listed so that catalog.sql resets it and drift shows it: a profile
    // has no reason to set it (it is for logical decoding plugins).
    ("user_catalog_table", RelKind::Table, Ty::Bool, 13),
    ("fillfactor", RelKind::Btree, Ty::Int(10, 100), 13),
    ("deduplicate_items", RelKind::Btree, Ty::Bool, 13),
    ("fastupdate", RelKind::Gin, Ty::Bool, 13),
    (
        "gin_pending_list_limit",
        RelKind::Gin,
        Ty::Kilobytes(64, I32),
        13,
    ),
];

pub fn names(kind: RelKind) -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|o| o.1 == kind)
        .map(|o| o.0)
        .collect()
}

/// The storage parameters PostgreSQL `major` has for `kind`: what
/// catalog.sql resets when the profile does not set them (a RESET of a
/// name the server does not know is accepted silently, so a list for the
/// wrong version would hide the mistake rather than fail).
pub fn names_in(kind: RelKind, major: u32) -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|o| o.1 == kind && o.3 <= major)
        .map(|o| o.0)
        .collect()
}

/// A storage parameter's value in one spelling, so that what
/// `pg_class.reloptions` holds (the text as it was written: `off`, `of`,
/// `false`, `5e-2`) compares equal with the plan's (`off`, `0.05`).
/// Booleans become `on`/`off`, numbers their shortest decimal; a name this
/// module does not know, or a value its type does not read, stays as is.
pub fn normalize(kind: RelKind, name: &str, raw: &str) -> String {
    let raw = raw.trim();
    let Some(&(_, _, ty, _)) = OPTIONS.iter().find(|o| o.1 == kind && o.0 == name) else {
        return raw.to_string();
    };
    let boolean = || parse_bool(raw).map(|b| if b { "on" } else { "off" }.to_string());
    let number = || raw.parse::<f64>().ok().filter(|r| r.is_finite());
    let normal = match ty {
        Ty::Bool => boolean(),
        Ty::IndexCleanup if raw.eq_ignore_ascii_case("auto") => Some("auto".into()),
        Ty::IndexCleanup => boolean(),
        Ty::Int(..) | Ty::Kilobytes(..) => number().map(|r| format!("{}", r.round())),
        Ty::Real(..) | Ty::Millis(..) => number().map(|r| format!("{r}")),
    };
    normal.unwrap_or_else(|| raw.to_string())
}

/// PostgreSQL's `parse_bool`: on/off, true/false, yes/no, 1/0, and any
/// unambiguous prefix of them (`t`, `fa`, `of`), in any case.
fn parse_bool(raw: &str) -> Option<bool> {
    let v = raw.to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| v.len() >= min && word.starts_with(v.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || v == "1" || prefix_of("on", 2) {
        Some(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || v == "0" || prefix_of("off", 2) {
        Some(false)
    } else {
        None
    }
}

/// Checks one option and returns it in the form `ALTER … SET (…)` takes
/// (storage parameters take no units: sizes become kB, durations ms).
pub fn check(kind: RelKind, name: &str, v: &Value, major: u32) -> Result<Value, String> {
    let Some(&(_, _, ty, since)) = OPTIONS.iter().find(|o| o.1 == kind && o.0 == name) else {
        let known = names(kind);
        let hint = known
            .iter()
            .map(|k| (strsim::jaro_winkler(k, name), *k))
            .filter(|(s, _)| *s > 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        return Err(format!(
            "`{name}` is not a storage parameter of a {}; {hint}known: {}",
            kind_name(kind),
            known.join(", ")
        ));
    };
    if major < since {
        return Err(format!(
            "`{name}` exists from PostgreSQL {since}; the target is {major}"
        ));
    }
    let range =
        |lo: String, hi: String| format!("`{name}` = {v} is out of range: give {lo} to {hi}");
    match (ty, v) {
        (Ty::Bool, Value::Bool(_)) => Ok(v.clone()),
        (Ty::IndexCleanup, Value::Bool(_)) => Ok(v.clone()),
        (Ty::IndexCleanup, Value::Text(t)) if t.eq_ignore_ascii_case("auto") && major >= 14 => {
            Ok(Value::Text("auto".into()))
        }
        (Ty::Int(lo, hi), Value::Int(i)) | (Ty::Kilobytes(lo, hi), Value::Int(i)) => {
            if (lo..=hi).contains(i) {
                Ok(Value::Int(*i))
            } else {
                Err(range(lo.to_string(), hi.to_string()))
            }
        }
        (Ty::Kilobytes(lo, hi), Value::Bytes(b)) => {
            let kb = (*b / 1024) as i64;
            if b % 1024 == 0 && (lo..=hi).contains(&kb) {
                Ok(Value::Int(kb))
            } else {
                Err(range(format!("{lo}kB"), format!("{hi}kB")))
            }
        }
        (Ty::Real(lo, hi), Value::Real(_) | Value::Int(_))
        | (Ty::Millis(lo, hi), Value::Real(_) | Value::Int(_)) => {
            let r = match v {
                Value::Real(r) => *r,
                Value::Int(i) => *i as f64,
                _ => unreachable!("matched above"),
            };
            if r >= lo && r <= hi {
                Ok(Value::Real(r))
            } else {
                Err(range(lo.to_string(), hi.to_string()))
            }
        }
        (Ty::Millis(lo, hi), Value::Millis(ms)) => {
            let r = *ms as f64;
            if r >= lo && r <= hi {
                Ok(Value::Real(r))
            } else {
                Err(range(format!("{lo}ms"), format!("{hi}ms")))
            }
        }
        _ => Err(format!("`{name}` takes {}, not `{v}`", describe(ty, major))),
    }
}

/// The relation kind's name, for messages.
pub fn kind_name(k: RelKind) -> &'static str {
    match k {
        RelKind::Table => "table",
        RelKind::Btree => "B-tree index",
        RelKind::Gin => "GIN index",
    }
}

fn describe(ty: Ty, major: u32) -> String {
    match ty {
        Ty::Int(..) => "a whole number".into(),
        Ty::Real(..) => "a number".into(),
        Ty::Bool => "true or false".into(),
        Ty::IndexCleanup if major >= 14 => "true, false or \"auto\"".into(),
        Ty::IndexCleanup => "true or false".into(),
        Ty::Kilobytes(..) => "a size such as \"4MB\" or a number of kB".into(),
        Ty::Millis(..) => "a duration such as \"2ms\" or a number of ms".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_what_postgres_keeps_as_written() {
        use RelKind::*;
        let cases: &[(RelKind, &str, &str, &str)] = &[
            (Gin, "fastupdate", "off", "off"),
            (Gin, "fastupdate", "false", "off"),
            (Gin, "fastupdate", "OF", "off"),
            (Gin, "fastupdate", "t", "on"),
            (Gin, "fastupdate", "1", "on"),
            (Gin, "fastupdate", "o", "o"),
            (Table, "vacuum_index_cleanup", "AUTO", "auto"),
            (Table, "vacuum_index_cleanup", "yes", "on"),
            (Table, "autovacuum_vacuum_scale_factor", "5e-2", "0.05"),
            (Table, "autovacuum_vacuum_scale_factor", "0.0", "0"),
            (Table, "autovacuum_vacuum_cost_delay", "2", "2"),
            (Table, "fillfactor", "098", "98"),
            (Table, "log_autovacuum_min_duration", "-1", "-1"),
            (Gin, "gin_pending_list_limit", "4096", "4096"),
            (Table, "no_such_parameter", " x ", "x"),
        ];
        for (kind, name, raw, want) in cases {
            assert_eq!(normalize(*kind, name, raw), *want, "{name}={raw}");
        }
    }

    #[test]
    fn names_follow_the_version() {
        let t15 = names_in(RelKind::Table, 15);
        let t18 = names_in(RelKind::Table, 18);
        for n in [
            "autovacuum_vacuum_max_threshold",
            "vacuum_max_eager_freeze_failure_rate",
        ] {
            assert!(!t15.contains(&n) && t18.contains(&n), "{n}");
        }
        assert!(t15.contains(&"user_catalog_table"));
        assert_eq!(names_in(RelKind::Gin, 13), names(RelKind::Gin));
        assert_eq!(
            names_in(RelKind::Btree, 18),
            ["fillfactor", "deduplicate_items"]
        );
    }

    #[test]
    fn checks() {
        use RelKind::*;
        type Case<'a> = (RelKind, &'a str, Value, u32, Result<Value, &'a str>);
        let cases: &[Case] = &[
            (Table, "fillfactor", Value::Int(98), 15, Ok(Value::Int(98))),
            (
                Table,
                "fillfactor",
                Value::Int(5),
                15,
                Err("out of range: give 10 to 100"),
            ),
            (
                Table,
                "fillfactr",
                Value::Int(98),
                15,
                Err("did you mean `fillfactor`"),
            ),
            (
                Table,
                "autovacuum_vacuum_cost_delay",
                Value::Int(0),
                15,
                Ok(Value::Real(0.0)),
            ),
            (
                Table,
                "autovacuum_vacuum_cost_delay",
                Value::Millis(2),
                15,
                Ok(Value::Real(2.0)),
            ),
            (
                Table,
                "autovacuum_analyze_scale_factor",
                Value::Real(0.005),
                15,
                Ok(Value::Real(0.005)),
            ),
            (
                Table,
                "autovacuum_vacuum_max_threshold",
                Value::Int(1000),
                17,
                Err("exists from PostgreSQL 18"),
            ),
            (
                Table,
                "vacuum_index_cleanup",
                Value::Text("auto".into()),
                15,
                Ok(Value::Text("auto".into())),
            ),
            (
                Table,
                "autovacuum_enabled",
                Value::Int(1),
                15,
                Err("takes true or false"),
            ),
            (
                Gin,
                "fastupdate",
                Value::Bool(false),
                13,
                Ok(Value::Bool(false)),
            ),
            (
                Gin,
                "gin_pending_list_limit",
                Value::Bytes(4 << 20),
                15,
                Ok(Value::Int(4096)),
            ),
            (
                Gin,
                "gin_pending_list_limit",
                Value::Bytes(1024),
                15,
                Err("out of range"),
            ),
            (
                Btree,
                "fastupdate",
                Value::Bool(false),
                15,
                Err("not a storage parameter of a B-tree index"),
            ),
        ];
        for (kind, name, v, major, want) in cases {
            match (check(*kind, name, v, *major), want) {
                (Ok(got), Ok(w)) => assert_eq!(&got, w, "{name}"),
                (Err(got), Err(w)) => assert!(got.contains(w), "{name}: {got}"),
                (got, w) => panic!("{name}: got {got:?}, want {w:?}"),
            }
        }
    }
}
