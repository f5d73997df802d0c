//! Setting values as PostgreSQL writes and reads them: sizes, durations,
//! numbers, booleans and strings, with one parser and one printer shared by
//! profiles, the tuner, the catalog check and the templates.

mod units;

pub use units::{
    format_duration, format_size, grouped, human, parse_duration, parse_size, UnitError,
};

use serde::{Deserialize, Serialize};
use std::fmt;

/// A typed setting value. Sizes are kept in bytes and durations in
/// milliseconds so that arithmetic (the memory budget) and comparisons with
/// a server's `pg_settings` (in the parameter's own unit) are exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Value {
    Bytes(u64),
    Millis(u64),
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
}

impl Value {
    /// The value as it is written in `postgresql.conf` or after `ALTER SYSTEM
    /// SET name TO`: sizes and durations with their largest exact unit,
    /// strings single-quoted with quotes doubled.
    pub fn to_conf(&self) -> String {
        match self {
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            other => other.to_plain(),
        }
    }

    /// The value without quoting, for tables and JSON.
    pub fn to_plain(&self) -> String {
        match self {
            Value::Bytes(b) => format_size(*b),
            Value::Millis(ms) => format_duration(*ms),
            Value::Int(i) => i.to_string(),
            Value::Real(r) => format_real(*r),
            Value::Bool(true) => "on".to_string(),
            Value::Bool(false) => "off".to_string(),
            Value::Text(s) => s.clone(),
        }
    }

    /// Reads a value written in a profile. Strings that carry a size or time
    /// unit become `Bytes`/`Millis` (so `"1GB"` can enter the memory budget);
    /// `on`/`off`/`true`/`false` become `Bool`; anything else stays text and
    /// is interpreted against the parameter's type by the catalog check.
    pub fn from_toml(v: &toml::Value) -> Result<Value, String> {
        match v {
            toml::Value::Integer(i) => Ok(Value::Int(*i)),
            toml::Value::Float(f) => Ok(Value::Real(*f)),
            toml::Value::Boolean(b) => Ok(Value::Bool(*b)),
            toml::Value::String(s) => Ok(Value::from_text(s)),
            other => Err(format!(
                "expected a string, number or boolean, found {}",
                other.type_str()
            )),
        }
    }

    /// Interprets free text the way a profile author means it.
    pub fn from_text(s: &str) -> Value {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" => return Value::Bool(true),
            "off" | "false" | "no" => return Value::Bool(false),
            _ => {}
        }
        if starts_numeric(t) {
            if let Ok(b) = parse_size(t) {
                if has_alpha(t) {
                    return Value::Bytes(b);
                }
            }
            if let Ok(ms) = parse_duration(t) {
                if has_alpha(t) {
                    return Value::Millis(ms);
                }
            }
        }
        Value::Text(s.to_string())
    }

    pub fn as_bytes(&self) -> Option<u64> {
        match self {
            Value::Bytes(b) => Some(*b),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_plain())
    }
}

fn starts_numeric(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn has_alpha(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_alphabetic())
}

/// Shortest decimal that reads back as the same float, without exponent for
/// the magnitudes settings use (0.005, 1.1, 10000).
fn format_real(r: f64) -> String {
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{r:.1}")
    } else {
        format!("{r}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_typed_by_its_unit() {
        let cases: &[(&str, Value)] = &[
            ("1GB", Value::Bytes(1 << 30)),
            ("64MB", Value::Bytes(64 << 20)),
            ("10min", Value::Millis(600_000)),
            ("200ms", Value::Millis(200)),
            ("on", Value::Bool(true)),
            ("off", Value::Bool(false)),
            ("lz4", Value::Text("lz4".into())),
            ("200", Value::Text("200".into())),
            (
                "pg_stat_statements",
                Value::Text("pg_stat_statements".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&Value::from_text(text), want, "{text}");
        }
    }

    #[test]
    fn conf_rendering() {
        let cases: &[(Value, &str)] = &[
            (Value::Bytes(1 << 30), "1GB"),
            (Value::Bytes(1536 << 20), "1536MB"),
            (Value::Millis(600_000), "10min"),
            (Value::Real(0.9), "0.9"),
            (Value::Real(1.0), "1.0"),
            (Value::Int(100), "100"),
            (Value::Bool(true), "on"),
            (Value::Text("it's".into()), "'it''s'"),
        ];
        for (v, want) in cases {
            assert_eq!(v.to_conf(), *want, "{v:?}");
        }
    }

    #[test]
    fn toml_values() {
        let v: toml::Value = toml::from_str::<toml::Table>("a = [1]").unwrap()["a"].clone();
        assert!(Value::from_toml(&v).unwrap_err().contains("array"));
        assert_eq!(
            Value::from_toml(&toml::Value::Float(0.005)).unwrap(),
            Value::Real(0.005)
        );
    }
}
