//! YAML out of ordered mappings, for the exported files: keys keep the
//! order they were inserted in (a person reads `apiVersion` before
//! `spec`), and every string is quoted wherever a YAML 1.1 reader
//! (Kubernetes, PyYAML) would take it for something else, such as `on`
//! for a boolean or `0.9` for a number. serde_norway's own writer quotes
//! only for YAML 1.2, so the writer is here; reading back is serde_norway's.

use serde_norway::{Mapping, Value};

/// A mapping built from `(key, value)` pairs, in order.
pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(Value::String(k.into()), v);
    }
    Value::Mapping(m)
}

pub fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

pub fn n(v: impl Into<i64>) -> Value {
    Value::Number(v.into().into())
}

pub fn seq(items: impl IntoIterator<Item = Value>) -> Value {
    Value::Sequence(items.into_iter().collect())
}

/// The document's text after the comment header.
pub fn document(header: &str, value: &Value) -> String {
    let mut out = header.to_string();
    emit(&mut out, value, 0);
    out
}

/// Block-style YAML: mappings and sequences indented by two spaces,
/// scalars plain only where every YAML reader agrees they are strings.
fn emit(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Mapping(m) => {
            for (k, v) in m {
                let key = scalar(k);
                match v {
                    Value::Mapping(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        emit(out, v, indent + 2);
                    }
                    Value::Sequence(items) if !items.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        emit(out, v, indent);
                    }
                    _ => out.push_str(&format!("{pad}{key}: {}\n", scalar(v))),
                }
            }
        }
        Value::Sequence(items) => {
            for item in items {
                match item {
                    Value::Mapping(m) if !m.is_empty() => {
                        // The first key on the dash's line, the rest
                        // aligned under it.
                        let mut inner = String::new();
                        emit(&mut inner, item, indent + 2);
                        let inner = inner.trim_start();
                        out.push_str(&format!("{pad}- {inner}"));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Mapping(_) => "{}".into(),
        Value::Sequence(_) => "[]".into(),
        Value::Tagged(t) => scalar(&t.value),
    }
}

/// A string plain when it cannot be read as anything else (no YAML 1.1
/// boolean or null word, nothing number-like, no indicator characters);
/// double-quoted with JSON escapes otherwise, which every YAML reader
/// takes as a string.
fn string(s: &str) -> String {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
    ];
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-@".contains(c))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_a_yaml_1_1_reader_would_misread_are_quoted() {
        let v = map([
            ("a", s("on")),
            ("b", s("off")),
            ("c", s("0.9")),
            ("d", s("100")),
            ("e", s("1GB")),
            ("f", s("yes")),
            ("g", s("")),
            ("h", s("127.0.0.1:5432")),
            (
                "i",
                seq([
                    s("data-checksums"),
                    map([("encoding", s("UTF8")), ("x", n(1))]),
                ]),
            ),
            ("j", map([("k", map([("l", Value::Bool(true))]))])),
            ("m", s("it's \"quoted\"\n")),
        ]);
        let text = document("", &v);
        for (key, want) in [
            ("a", "\"on\""),
            ("b", "\"off\""),
            ("c", "\"0.9\""),
            ("d", "\"100\""),
            ("f", "\"yes\""),
            ("g", "\"\""),
            ("h", "\"127.0.0.1:5432\""),
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("{key}:")))
                .unwrap();
            assert!(line.ends_with(want), "{line}");
        }
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
