//! A criteria file: `[[criterion]]` tables with `name`, `metric` and
//! `require`, and the keys some metrics take. Parsing checks everything
//! that can be checked without a result (metric names, units, keys that do
//! not apply), so a wrong file fails before any figure is read.

use super::metric::{self, MetricInfo, Scope, Unit};
use super::CheckError;
use crate::tomlfile::line_col;
use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    criterion: Vec<RawCriterion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterion {
    name: Spanned<String>,
    metric: Spanned<String>,
    require: Spanned<String>,
    op: Option<Spanned<String>>,
    server: Option<Spanned<String>>,
    state: Option<Spanned<String>>,
    factor: Option<Spanned<f64>>,
    min_duration: Option<Spanned<String>>,
    /// Free text for people; shown nowhere but the file.
    #[allow(dead_code)]
    note: Option<String>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cmp {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Lt => "<",
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
        }
    }

    pub fn holds(self, measured: f64, required: f64) -> bool {
        match self {
            Cmp::Ge => measured >= required,
            Cmp::Le => measured <= required,
            Cmp::Gt => measured > required,
            Cmp::Lt => measured < required,
            Cmp::Eq => measured == required,
            Cmp::Ne => measured != required,
        }
    }

    /// How far the measured value is on the passing side of the threshold
    /// (negative: on the failing side), in the metric's unit.
    pub fn margin(self, measured: f64, required: f64) -> f64 {
        match self {
            Cmp::Ge | Cmp::Gt => measured - required,
            Cmp::Le | Cmp::Lt => required - measured,
            Cmp::Eq => -(measured - required).abs(),
            Cmp::Ne => (measured - required).abs(),
        }
    }
}

/// `require = ">= 300/s"`: an operator and a value in the metric's unit
/// (durations in ms, sizes in bytes), with the text as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Require {
    pub cmp: Cmp,
    pub value: f64,
    pub unit: Unit,
    pub text: String,
}

/// Which operation kinds a per-operation metric is read for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpSel {
    /// `summary.total` (no `op` key).
    Total,
    /// `op = "*"`: every kind in the result, one verdict each.
    Each,
    /// `op = "BooksLentByReader"` (full or short name).
    Named(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerSel {
    Primary,
    Replica,
    Both,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpikeParams {
    /// A second is a spike when its p99 exceeds factor × the median second.
    pub factor: f64,
    /// Shortest run of spike seconds that counts, whole seconds.
    pub min_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub name: String,
    #[serde(serialize_with = "metric_name")]
    pub metric: &'static MetricInfo,
    pub require: Require,
    pub op: OpSel,
    pub server: ServerSel,
    /// `connection_balance`: which connections count (`all`, `busy` or a
    /// `pg_stat_activity.state`).
    pub state: String,
    pub spike: Option<SpikeParams>,
    /// 1-based line of the criterion's `name` in its file.
    pub line: usize,
    pub col: usize,
}

fn metric_name<S: serde::Serializer>(m: &&'static MetricInfo, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criteria {
    /// The file as named on the command line.
    pub file: String,
    pub criteria: Vec<Criterion>,
}

impl Criteria {
    /// The first criterion that needs `--baseline`.
    pub fn needing_baseline(&self) -> Option<&Criterion> {
        self.criteria
            .iter()
            .find(|c| c.metric.scope == Scope::Baseline)
    }
}

/// Splits `">= 300/s"` into operator, number and unit text.
fn split(text: &str) -> Result<(Cmp, f64, &str), String> {
    let t = text.trim();
    let ops: [(&str, Cmp); 10] = [
        (">=", Cmp::Ge),
        ("≥", Cmp::Ge),
        ("<=", Cmp::Le),
        ("≤", Cmp::Le),
        ("!=", Cmp::Ne),
        ("≠", Cmp::Ne),
        ("==", Cmp::Eq),
        (">", Cmp::Gt),
        ("<", Cmp::Lt),
        ("=", Cmp::Eq),
    ];
    let Some((sym, cmp)) = ops.iter().find(|(s, _)| t.starts_with(s)) else {
        return Err(format!(
            "`{text}` does not start with a comparison: write one of >=, <=, >, <, =, != and a value, e.g. \">= 300/s\""
        ));
    };
    let rest = t[sym.len()..].trim_start();
    let end = rest
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '-' || *c == '+' || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    let (num, unit) = rest.split_at(end);
    let value: f64 = num
        .replace('_', "")
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`{text}`: no number after `{sym}`; write e.g. \"{sym} 250ms\""))?;
    Ok((*cmp, value, unit.trim()))
}

/// Parses a requirement for a metric of unit `unit`, converting the value
/// to that unit (durations to ms, sizes to bytes).
pub fn parse_require(text: &str, unit: Unit) -> Result<Require, String> {
    let (cmp, value, written) = split(text)?;
    let mismatch =
        |what: &str| format!("`{text}` is {what}, but the metric is {}", unit.describe());
    let kind_of = |u: &str| -> Option<(&'static str, Unit, f64)> {
        Some(match u {
            "us" | "µs" | "μs" => ("a duration", Unit::Duration, 0.001),
            "ms" => ("a duration", Unit::Duration, 1.0),
            "s" => ("a duration", Unit::Duration, 1000.0),
            "min" => ("a duration", Unit::Duration, 60_000.0),
            "%" => ("a percentage", Unit::Percent, 1.0),
            "/s" | "ops/s" | "req/s" => ("a rate", Unit::Rate, 1.0),
            "x" | "×" => ("a ratio", Unit::Ratio, 1.0),
            "B" => ("a size", Unit::Bytes, 1.0),
            "kB" => ("a size", Unit::Bytes, 1024.0),
            "MB" => ("a size", Unit::Bytes, 1024.0 * 1024.0),
            "GB" => ("a size", Unit::Bytes, 1024.0 * 1024.0 * 1024.0),
            _ => return None,
        })
    };
    let scale = if written.is_empty() {
        match unit {
            Unit::Count | Unit::Ratio | Unit::Rate => 1.0,
            _ => {
                return Err(format!(
                    "`{text}` has no unit, but the metric is {}",
                    unit.describe()
                ))
            }
        }
    } else {
        let Some((what, u, scale)) = kind_of(written) else {
            return Err(format!(
                "`{text}`: unknown unit `{written}`; units are us (or µs), ms, s, min, %, /s, x, B, kB, MB, GB"
            ));
        };
        if u != unit {
            return Err(mismatch(what));
        }
        scale
    };
    // Dividing keeps 5223us exactly the 5.223 ms a latency of 5223 µs is.
    let value = if matches!(written, "us" | "µs" | "μs") {
        value / 1000.0
    } else {
        value * scale
    };
    Ok(Require {
        cmp,
        value,
        unit,
        text: text.trim().to_string(),
    })
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: std::ops::Range<usize>, criterion: &str, message: String) -> CheckError {
        let (line, col) = line_col(self.text, span.start);
        CheckError::Criterion {
            file: self.file.to_string(),
            line,
            col,
            criterion: criterion.to_string(),
            message,
        }
    }
}

/// Parses and validates a criteria file. `file` names it in errors.
pub fn parse_criteria(file: &str, text: &str) -> Result<Criteria, CheckError> {
    let raw: RawFile = crate::tomlfile::deserialize(file, text).map_err(|mut e| {
        let path = e.key.as_deref().unwrap_or(".");
        if !path.contains('.') && e.message.starts_with("unknown field") {
            e.message.push_str(
                "; a criteria file holds only [[criterion]] tables (name, metric, require)",
            );
        }
        if path.ends_with(".require") && e.message.starts_with("invalid type") {
            e.message
                .push_str("; write the requirement as a string, e.g. require = \">= 300/s\"");
        }
        CheckError::Parse(e)
    })?;
    if raw.criterion.is_empty() {
        return Err(CheckError::Empty {
            file: file.to_string(),
        });
    }
    let cx = Ctx { file, text };
    let mut out = Vec::new();
    for r in raw.criterion {
        let c = criterion(&cx, r)?;
        if let Some(prev) = out.iter().find(|p: &&Criterion| p.name == c.name) {
            return Err(CheckError::Criterion {
                file: file.to_string(),
                line: c.line,
                col: c.col,
                criterion: c.name.clone(),
                message: format!(
                    "the name is already used on line {}; give each criterion its own name",
                    prev.line
                ),
            });
        }
        out.push(c);
    }
    Ok(Criteria {
        file: file.to_string(),
        criteria: out,
    })
}

fn criterion(cx: &Ctx, r: RawCriterion) -> Result<Criterion, CheckError> {
    let name = r.name.get_ref().trim().to_string();
    let (line, col) = line_col(cx.text, r.name.span().start);
    if name.is_empty() {
        return Err(cx.err(r.name.span(), "", "`name` is empty".into()));
    }
    let mname = r.metric.get_ref().trim();
    let Some(metric) = metric::find(mname) else {
        let hint = metric::suggest(mname)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(cx.err(
            r.metric.span(),
            &name,
            format!(
                "no metric `{mname}`{hint}; valid metrics: {}",
                metric::names()
            ),
        ));
    };
    let require = parse_require(r.require.get_ref(), metric.unit)
        .map_err(|m| cx.err(r.require.span(), &name, format!("require: {m}")))?;

    // Keys that only some metrics take.
    let takes = |key: &str| match key {
        "op" => matches!(
            metric.scope,
            Scope::Op | Scope::Baseline | Scope::Spike | Scope::Trend
        ),
        "server" => metric.scope == Scope::Server,
        "state" => metric.scope == Scope::Balance,
        _ => metric.scope == Scope::Spike, // factor, min_duration
    };
    let misplaced = [
        ("op", r.op.as_ref().map(|s| s.span())),
        ("server", r.server.as_ref().map(|s| s.span())),
        ("state", r.state.as_ref().map(|s| s.span())),
        ("factor", r.factor.as_ref().map(|s| s.span())),
        ("min_duration", r.min_duration.as_ref().map(|s| s.span())),
    ];
    for (key, span) in misplaced {
        if let Some(span) = span {
            if !takes(key) {
                return Err(cx.err(
                    span,
                    &name,
                    format!(
                        "metric `{}` does not take `{key}`; {}",
                        metric.name,
                        keys_of(metric.scope)
                    ),
                ));
            }
        }
    }

    let op = match &r.op {
        None => OpSel::Total,
        Some(s) if s.get_ref().trim() == "*" => OpSel::Each,
        Some(s) => {
            let n = s.get_ref().trim();
            match crate::workload::Op::from_name(n) {
                Some(o) => OpSel::Named(o.name().to_string()),
                None => {
                    let all: Vec<&str> =
                        crate::workload::Op::ALL.iter().map(|o| o.name()).collect();
                    return Err(cx.err(
                        s.span(),
                        &name,
                        format!(
                            "op: no operation `{n}`; give \"*\" for every kind or one of {}",
                            all.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    let server = match &r.server {
        None => ServerSel::Both,
        Some(s) => match s.get_ref().trim() {
            "primary" => ServerSel::Primary,
            "replica" => ServerSel::Replica,
            "both" => ServerSel::Both,
            other => {
                return Err(cx.err(
                    s.span(),
                    &name,
                    format!("server: `{other}`; give primary, replica or both"),
                ))
            }
        },
    };
    let state = match &r.state {
        None => "all".to_string(),
        Some(s) if s.get_ref().trim().is_empty() => return Err(cx.err(
            s.span(),
            &name,
            "state is empty; give all, busy (not idle) or a pg_stat_activity state such as active"
                .into(),
        )),
        Some(s) => s.get_ref().trim().to_string(),
    };
    let spike = if metric.scope == Scope::Spike {
        let factor = match &r.factor {
            None => {
                return Err(cx.err(
                    r.metric.span(),
                    &name,
                    "metric `spike` needs `factor` (e.g. factor = 5: a second whose p99 is above 5× the median second's)".into(),
                ))
            }
            Some(f) if !(*f.get_ref() > 1.0 && f.get_ref().is_finite()) => {
                return Err(cx.err(
                    f.span(),
                    &name,
                    format!("factor = {}: give a number above 1, e.g. 5", f.get_ref()),
                ))
            }
            Some(f) => *f.get_ref(),
        };
        let min_seconds = match &r.min_duration {
            None => 1,
            Some(d) => {
                let ms = crate::value::parse_duration(d.get_ref()).ok();
                match ms {
                    Some(ms) if ms >= 1000 && ms % 1000 == 0 => ms / 1000,
                    _ => {
                        return Err(cx.err(
                            d.span(),
                            &name,
                            format!(
                                "min_duration = \"{}\": give whole seconds, at least 1s (the series has one row a second), e.g. \"1s\" or \"3s\"",
                                d.get_ref()
                            ),
                        ))
                    }
                }
            }
        };
        Some(SpikeParams {
            factor,
            min_seconds,
        })
    } else {
        None
    };
    Ok(Criterion {
        name,
        metric,
        require,
        op,
        server,
        state,
        spike,
        line,
        col,
    })
}

fn keys_of(scope: Scope) -> &'static str {
    match scope {
        Scope::Op | Scope::Baseline => "it takes `op` (a kind, or \"*\" for every kind)",
        Scope::Server => "it takes `server` (primary, replica or both)",
        Scope::Balance => "it takes `state` (all, busy or a pg_stat_activity state)",
        Scope::Spike => "it takes `op`, `factor` and `min_duration`",
        Scope::Trend => "it takes `op` (a kind, or \"*\" for every kind)",
        Scope::Replication | Scope::Checkpoints | Scope::Verification => {
            "it takes only name, metric, require and note"
        }
    }
}
