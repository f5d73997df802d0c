//! What the sides ran with: the settings and catalog tuning recorded in
//! the results (`metadata.target.servers[]`) that differ between any two
//! sides, per role. A setting a side does not list was at PostgreSQL's
//! default there.

use crate::bench::RunResult;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingDiff {
    /// `primary` or `replica`.
    pub role: String,
    /// `setting` (postgresql.conf) or `catalog` (storage parameters,
    /// statistics targets, role settings).
    pub kind: &'static str,
    pub name: String,
    /// One per side, the baseline first: the value, `default` when not
    /// listed, `unknown` when the side's results do not record the pair.
    pub values: Vec<LabelValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelValue {
    pub label: String,
    pub value: String,
}

pub const DEFAULT: &str = "default";
pub const UNKNOWN: &str = "unknown";

type Key = (usize, &'static str, String); // role index, kind, name

/// The rows that differ, and a note for each side whose results do not
/// record the pair.
pub fn diff(sides: &[(&str, Vec<&RunResult>)]) -> (Vec<SettingDiff>, Vec<String>) {
    let mut notes = Vec::new();
    let per_side: Vec<Option<Vec<BTreeMap<Key, String>>>> = sides
        .iter()
        .map(|(label, runs)| {
            let known: Vec<_> = runs.iter().filter_map(|r| side_map(r)).collect();
            if known.is_empty() {
                notes.push(format!(
                    "the results of {label} do not record the pair's settings (metadata.target is null): shown as unknown"
                ));
                None
            } else {
                Some(known)
            }
        })
        .collect();
    let mut keys: Vec<&Key> = per_side
        .iter()
        .flatten()
        .flatten()
        .flat_map(|m| m.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let mut rows = Vec::new();
    for key in keys {
        let values: Vec<LabelValue> = sides
            .iter()
            .zip(&per_side)
            .map(|((label, _), maps)| LabelValue {
                label: label.to_string(),
                value: side_value(maps.as_deref(), key),
            })
            .collect();
        if values.iter().any(|v| v.value != values[0].value) {
            rows.push(SettingDiff {
                role: ROLES[key.0].to_string(),
                kind: key.1,
                name: key.2.clone(),
                values,
            });
        }
    }
    (rows, notes)
}

const ROLES: [&str; 2] = ["primary", "replica"];

/// Every setting and catalog entry of a run's pair; None without a target.
fn side_map(r: &RunResult) -> Option<BTreeMap<Key, String>> {
    let t = r.metadata.target.as_ref()?;
    let mut out = BTreeMap::new();
    for (i, role) in ROLES.iter().enumerate() {
        let Some(s) = t.server(role) else { continue };
        for (k, v) in &s.settings {
            out.insert((i, "setting", k.clone()), v.clone());
        }
        for (k, v) in &s.catalog {
            out.insert((i, "catalog", k.clone()), v.clone());
        }
    }
    Some(out)
}

/// A side's value of a key over its runs: one value, or each distinct one
/// joined with ` | ` when its runs differ.
fn side_value(maps: Option<&[BTreeMap<Key, String>]>, key: &Key) -> String {
    let Some(maps) = maps else {
        return UNKNOWN.into();
    };
    let mut seen: Vec<&str> = Vec::new();
    for m in maps {
        let v = m.get(key).map(String::as_str).unwrap_or(DEFAULT);
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join(" | ")
}
