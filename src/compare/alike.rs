//! Like for like: the conditions two runs must share for their figures to
//! be comparable (the load asked for and the pair it ran on), and every
//! one that differs between the runs of a mode, with the values per side.

use crate::bench::RunResult;
use serde::Serialize;

/// A condition that differs between the runs of one mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub mode: String,
    pub condition: String,
    /// The values each side ran with (more than one when its own runs
    /// differ).
    pub sides: Vec<LabelValues>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelValues {
    pub label: String,
    pub values: Vec<String>,
}

impl Difference {
    /// e.g. `open-loop runs: rate: stock 50 ops/s; eventstore 100 ops/s`.
    pub fn describe(&self) -> String {
        let sides: Vec<String> = self
            .sides
            .iter()
            .map(|s| format!("{} {}", s.label, s.values.join(" and ")))
            .collect();
        format!(
            "{} runs: {}: {}",
            self.mode,
            self.condition,
            sides.join("; ")
        )
    }
}

/// A run's conditions, each with its value or None when the result does
/// not record it.
pub type Conditions = Vec<(&'static str, Option<String>)>;

pub fn conditions(r: &RunResult) -> Conditions {
    let m = &r.metadata;
    let extra = |key: &str| match m.extra.get(key) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(v) => Some(v.to_string()),
    };
    let mix = m
        .mix
        .iter()
        .map(|e| format!("{} {}", e.op, e.weight))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = vec![
        ("mix", Some(mix)),
        ("books", extra("books")),
        ("readers", extra("readers")),
    ];
    // A closed loop has no rate: it runs as fast as the pair answers.
    if m.mode == "open-loop" {
        out.push(("rate", Some(format!("{} ops/s", m.rate))));
    }
    out.extend([
        ("duration", Some(format!("{} s", m.duration_s))),
        ("warm-up", Some(format!("{} s", m.warmup_s))),
        ("workers", Some(m.workers.to_string())),
        ("queue", Some(m.queue.to_string())),
    ]);
    for role in ["primary", "replica"] {
        let server = m.target.as_ref().map(|t| t.server(role));
        let (major, memory) = match server {
            None => (None, None),
            Some(None) => (Some(format!("no {role}")), Some(format!("no {role}"))),
            Some(Some(s)) => (Some(s.major.to_string()), s.memory_bytes.map(bytes)),
        };
        out.push((major_key(role), major));
        out.push((memory_key(role), memory));
    }
    out
}

fn major_key(role: &str) -> &'static str {
    if role == "primary" {
        "PostgreSQL major of the primary"
    } else {
        "PostgreSQL major of the replica"
    }
}

fn memory_key(role: &str) -> &'static str {
    if role == "primary" {
        "memory of the primary"
    } else {
        "memory of the replica"
    }
}

/// Bytes the way a profile writes them.
pub fn bytes(b: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    match b {
        0 => "0 B".into(),
        b if b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b % MIB == 0 => format!("{} MiB", b / MIB),
        b => format!("{b} B"),
    }
}

/// Every condition whose known values differ between the runs of a mode
/// (sides given as label and runs), and a note for every condition some
/// side does not record, which therefore could not be checked.
pub fn differences(
    mode: &str,
    sides: &[(&str, Vec<&RunResult>)],
) -> (Vec<Difference>, Vec<String>) {
    let per_run: Vec<Vec<Conditions>> = sides
        .iter()
        .map(|(_, runs)| runs.iter().map(|r| conditions(r)).collect())
        .collect();
    let mut names: Vec<&'static str> = Vec::new();
    for (k, _) in per_run.iter().flatten().flatten() {
        if !names.contains(k) {
            names.push(k);
        }
    }
    let (mut diffs, mut notes) = (Vec::new(), Vec::new());
    for name in names {
        let mut all: Vec<&String> = Vec::new();
        let mut unknown: Vec<&str> = Vec::new();
        let mut values = Vec::new();
        for ((label, _), runs) in sides.iter().zip(&per_run) {
            let mut mine: Vec<String> = Vec::new();
            for conds in runs {
                match conds
                    .iter()
                    .find(|(k, _)| *k == name)
                    .and_then(|(_, v)| v.as_ref())
                {
                    Some(v) if !mine.contains(v) => mine.push(v.clone()),
                    Some(_) => {}
                    None if !unknown.contains(label) => unknown.push(label),
                    None => {}
                }
            }
            values.push(LabelValues {
                label: label.to_string(),
                values: mine,
            });
        }
        for v in values.iter().flat_map(|lv| &lv.values) {
            if !all.contains(&v) {
                all.push(v);
            }
        }
        if all.len() > 1 {
            diffs.push(Difference {
                mode: mode.to_string(),
                condition: name.to_string(),
                sides: values
                    .into_iter()
                    .filter(|lv| !lv.values.is_empty())
                    .collect(),
            });
        }
        if !unknown.is_empty() {
            notes.push(format!(
                "{mode} runs: the {name} is not recorded in runs of {} (metadata.target is null): not checked",
                unknown.join(", ")
            ));
        }
    }
    (diffs, notes)
}
