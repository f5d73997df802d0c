//! The only I/O of the module: reading a criteria file and a result file,
//! with errors that name the file and say what is wrong with it.

use super::spec::{parse_criteria, Criteria};
use super::CheckError;
use crate::bench::{RunResult, SCHEMA};
use std::path::Path;

/// The criteria files shipped with estune, embedded so the binary works
/// anywhere: `--criteria des-targets` names one.
pub const BUILTIN: &[(&str, &str)] = &[
    ("des-targets", include_str!("../../checks/des-targets.toml")),
    ("no-decay", include_str!("../../checks/no-decay.toml")),
];

/// A criteria file by path, or a built-in one by name when no file of
/// that name exists (`des-targets` → `checks/des-targets.toml (built-in)`).
pub fn load_criteria_spec(spec: &str) -> Result<Criteria, CheckError> {
    let path = Path::new(spec);
    if path.exists() {
        return load_criteria(path);
    }
    match BUILTIN.iter().find(|(name, _)| *name == spec) {
        Some((name, text)) => parse_criteria(&format!("checks/{name}.toml (built-in)"), text),
        None => load_criteria(path).map_err(|e| match e {
            CheckError::Read { what, path, source } => CheckError::Read {
                what,
                path: format!(
                    "{path} (built-in criteria: {})",
                    BUILTIN
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                source,
            },
            other => other,
        }),
    }
}

/// Reads and validates a criteria file.
pub fn load_criteria(path: &Path) -> Result<Criteria, CheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::Read {
        what: "criteria file",
        path: path.display().to_string(),
        source,
    })?;
    parse_criteria(&path.display().to_string(), &text)
}

/// Reads an `estune.bench/3` result; anything else is refused with what
/// it looks like instead.
pub fn load_result(path: &Path) -> Result<RunResult, CheckError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::Read {
        what: "result file",
        path: name.clone(),
        source,
    })?;
    parse_result(&name, &text)
}

/// Parses the text of a result file named `name`.
pub fn parse_result(name: &str, text: &str) -> Result<RunResult, CheckError> {
    let bad = |message: String| CheckError::Result {
        path: name.to_string(),
        message,
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "not JSON ({e}); give the file `estune bench --out FILE` wrote"
        ))
    })?;
    match v.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => {
            return Err(bad(format!(
                "schema `{other}`, but estune check reads `{SCHEMA}` results (from `estune bench --out FILE`)"
            )))
        }
        None => {
            return Err(bad(format!(
                "no `schema` field: not a result of `estune bench --out FILE` (`{SCHEMA}`)"
            )))
        }
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        bad(format!(
            "says `{SCHEMA}` but does not match it at `{}`: {} (see src/bench/SCHEMA.md)",
            e.path(),
            e.inner()
        ))
    })
}
