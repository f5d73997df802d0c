//! Thresholds of the rules: defaults from `checks/health.toml` (embedded),
//! then a file, then `--set key=value`. Every key has a kind, so "16MB",
//! "30s" and "80%" are read the way the rule compares them.

use crate::value::{parse_duration, parse_size};
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

const DEFAULTS: &str = include_str!("../../checks/health.toml");
const DEFAULTS_NAME: &str = "checks/health.toml (built in)";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Stored as a fraction: "80%" and 0.8 are the same.
    Ratio,
    Bytes,
    /// Stored in milliseconds.
    Millis,
    Count,
}

/// Every threshold a rule reads.
pub const KEYS: &[(&str, Kind)] = &[
    ("connections.used_warn", Kind::Ratio),
    ("connections.used_crit", Kind::Ratio),
    ("connections.idle_in_transaction_warn", Kind::Millis),
    ("connections.idle_in_transaction_crit", Kind::Millis),
    ("connections.longest_transaction_warn", Kind::Millis),
    ("connections.longest_transaction_crit", Kind::Millis),
    ("cache.hit_ratio_warn", Kind::Ratio),
    ("cache.hit_ratio_crit", Kind::Ratio),
    ("cache.min_blocks", Kind::Count),
    ("replication.lag_bytes_warn", Kind::Bytes),
    ("replication.lag_bytes_crit", Kind::Bytes),
    ("replication.replay_delay_warn", Kind::Millis),
    ("replication.replay_delay_crit", Kind::Millis),
    ("replication.delay_min_gap", Kind::Bytes),
    ("replication.slot_retained_warn", Kind::Ratio),
    ("replication.slot_retained_crit", Kind::Ratio),
    ("replication.slot_retained_bytes_warn", Kind::Bytes),
    ("replication.slot_retained_bytes_crit", Kind::Bytes),
    ("tables.dead_tuples_warn", Kind::Ratio),
    ("tables.dead_tuples_crit", Kind::Ratio),
    ("tables.min_tuples", Kind::Count),
    ("tables.gin_pending_warn", Kind::Bytes),
    ("tables.gin_pending_crit", Kind::Bytes),
    ("tables.unused_index_min_inserts", Kind::Count),
    ("wraparound.xid_age_warn", Kind::Ratio),
    ("wraparound.xid_age_crit", Kind::Ratio),
    ("wraparound.sequence_used_warn", Kind::Ratio),
    ("wraparound.sequence_used_crit", Kind::Ratio),
    ("checkpoints.requested_warn", Kind::Ratio),
    ("checkpoints.requested_crit", Kind::Ratio),
    ("checkpoints.min_checkpoints", Kind::Count),
    ("locks.wait_warn", Kind::Millis),
    ("locks.wait_crit", Kind::Millis),
    ("memory.usage_warn", Kind::Ratio),
    ("memory.usage_crit", Kind::Ratio),
    ("memory.budget_warn", Kind::Ratio),
    ("memory.budget_crit", Kind::Ratio),
];

#[derive(Debug, Error)]
pub enum ThresholdError {
    #[error("cannot read thresholds file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: not valid TOML: {message}")]
    Toml { origin: String, message: String },
    #[error(
        "{origin}: unknown threshold `{key}`{hint}. The keys are listed in checks/health.toml"
    )]
    UnknownKey {
        origin: String,
        key: String,
        hint: String,
    },
    #[error("{origin}: `{key}` = `{value}`: {reason}")]
    BadValue {
        origin: String,
        key: String,
        value: String,
        reason: String,
    },
    #[error(
        "--set `{0}`: write it as section.key=value, e.g. --set replication.lag_bytes_warn=32MB"
    )]
    BadSet(String),
    #[error(
        "{origin}: {missing} has no value (the built-in checks/health.toml must set every key)"
    )]
    Missing { origin: String, missing: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    values: BTreeMap<&'static str, f64>,
    /// As written, for findings ("16MB" reads better than 16777216).
    shown: BTreeMap<&'static str, String>,
}

fn kind_of(key: &str) -> Option<(&'static str, Kind)> {
    KEYS.iter().find(|(k, _)| *k == key).copied()
}

fn parse(kind: Kind, text: &str) -> Result<f64, String> {
    let t = text.trim();
    match kind {
        Kind::Ratio => {
            let (num, scale) = match t.strip_suffix('%') {
                Some(n) => (n.trim(), 100.0),
                None => (t, 1.0),
            };
            num.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v / scale)
                .ok_or_else(|| "not a ratio: write a percentage (80%) or a fraction (0.8)".into())
        }
        Kind::Bytes => parse_size(t).map(|b| b as f64).map_err(|e| e.to_string()),
        Kind::Millis => parse_duration(t)
            .map(|m| m as f64)
            .map_err(|e| e.to_string()),
        Kind::Count => t
            .parse::<u64>()
            .map(|n| n as f64)
            .map_err(|_| "not a count: write a whole number, e.g. 10".into()),
    }
}

impl Thresholds {
    /// The built-in defaults.
    pub fn defaults() -> Result<Thresholds, ThresholdError> {
        let mut t = Thresholds {
            values: BTreeMap::new(),
            shown: BTreeMap::new(),
        };
        t.merge_toml(DEFAULTS, DEFAULTS_NAME)?;
        if let Some((missing, _)) = KEYS.iter().find(|(k, _)| !t.values.contains_key(k)) {
            return Err(ThresholdError::Missing {
                origin: DEFAULTS_NAME.into(),
                missing: missing.to_string(),
            });
        }
        Ok(t)
    }

    /// Overrides from a file like checks/health.toml (any subset of keys).
    pub fn merge_file(&mut self, path: &Path) -> Result<(), ThresholdError> {
        let text = std::fs::read_to_string(path).map_err(|source| ThresholdError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.merge_toml(&text, &path.display().to_string())
    }

    pub fn merge_toml(&mut self, text: &str, origin: &str) -> Result<(), ThresholdError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ThresholdError::Toml {
                origin: origin.into(),
                message: e.message().to_string(),
            })?;
        for (section, body) in &doc {
            let Some(body) = body.as_table() else {
                return Err(self.unknown(origin, section));
            };
            for (name, v) in body {
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    other => other.to_string(),
                };
                self.set_one(&format!("{section}.{name}"), &text, origin)?;
            }
        }
        Ok(())
    }

    /// `--set section.key=value`.
    pub fn set(&mut self, assignment: &str) -> Result<(), ThresholdError> {
        let (k, v) = assignment
            .split_once('=')
            .filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
            .ok_or_else(|| ThresholdError::BadSet(assignment.into()))?;
        self.set_one(k.trim(), v.trim(), "--set")
    }

    fn unknown(&self, origin: &str, key: &str) -> ThresholdError {
        let best = KEYS
            .iter()
            .map(|(k, _)| (strsim::jaro_winkler(k, key), *k))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(score, _)| *score > 0.8);
        ThresholdError::UnknownKey {
            origin: origin.into(),
            key: key.into(),
            hint: best
                .map(|(_, k)| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default(),
        }
    }

    fn set_one(&mut self, key: &str, text: &str, origin: &str) -> Result<(), ThresholdError> {
        let (key, kind) = kind_of(key).ok_or_else(|| self.unknown(origin, key))?;
        let v = parse(kind, text).map_err(|reason| ThresholdError::BadValue {
            origin: origin.into(),
            key: key.into(),
            value: text.into(),
            reason,
        })?;
        self.values.insert(key, v);
        self.shown.insert(key, text.trim().to_string());
        Ok(())
    }

    /// The value of a key in KEYS (fractions, bytes, milliseconds, counts).
    pub fn get(&self, key: &str) -> f64 {
        debug_assert!(kind_of(key).is_some(), "threshold {key} is not in KEYS");
        self.values.get(key).copied().unwrap_or(f64::NAN)
    }

    /// The value as written.
    pub fn shown(&self, key: &str) -> String {
        self.shown.get(key).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_set_every_key_and_only_known_ones() {
        let t = Thresholds::defaults().unwrap();
        for (k, _) in KEYS {
            assert!(t.get(k).is_finite(), "{k}");
        }
        assert_eq!(t.values.len(), KEYS.len());
    }

    #[test]
    fn values_are_read_by_kind() {
        let cases = [
            ("connections.used_warn=75%", 0.75),
            ("connections.used_warn=0.5", 0.5),
            ("replication.lag_bytes_warn=1MB", 1048576.0),
            ("replication.lag_bytes_warn=2kB", 2048.0),
            ("locks.wait_warn=2s", 2000.0),
            ("locks.wait_warn=1min", 60000.0),
            ("cache.min_blocks=5", 5.0),
        ];
        for (set, want) in cases {
            let mut t = Thresholds::defaults().unwrap();
            t.set(set).unwrap();
            let key = set.split('=').next().unwrap();
            assert_eq!(t.get(key), want, "{set}");
            assert_eq!(t.shown(key), set.split('=').nth(1).unwrap());
        }
    }

    #[test]
    fn bad_input_names_the_key_and_what_to_write() {
        let cases = [
            ("replication.lag_bytes_warn=16", "not a size"),
            ("connections.used_warn=lots", "not a ratio"),
            ("locks.wait_warn=5", "not a duration"),
            ("cache.min_blocks=1.5", "not a count"),
            (
                "replication.lag_byte_warn=1MB",
                "did you mean `replication.lag_bytes_warn`",
            ),
            ("nonsense", "section.key=value"),
        ];
        for (set, want) in cases {
            let mut t = Thresholds::defaults().unwrap();
            let e = t.set(set).unwrap_err().to_string();
            assert!(e.contains(want), "{set}: {e}");
        }
    }

    #[test]
    fn a_file_overrides_some_keys_and_keeps_the_rest() {
        let mut t = Thresholds::defaults().unwrap();
        let before = t.get("cache.hit_ratio_warn");
        t.merge_toml("[replication]\nlag_bytes_warn = \"1kB\"\n", "x.toml")
            .unwrap();
        assert_eq!(t.get("replication.lag_bytes_warn"), 1024.0);
        assert_eq!(t.get("cache.hit_ratio_warn"), before);
        let e = t
            .merge_toml("[replication]\nlag = \"1kB\"\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.toml: unknown threshold `replication.lag`"),
            "{e}"
        );
        let e = t.merge_toml("lag = 1", "x.toml").unwrap_err().to_string();
        assert!(e.contains("unknown threshold `lag`"), "{e}");
    }
}
