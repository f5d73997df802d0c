//! Checking one value against one parameter the way the server reads it:
//! unit conversion and rounding, range, enum membership, settability.

use super::parse::{self, BaseUnit, NumberError};
use super::{versions, Context, Param, VarType};
use crate::value::Value;
use thiserror::Error;

/// A value the server will accept.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// As `pg_settings.setting` will show it once the server has read the
    /// value: base unit for numbers ("131072" for 1GB of 8kB buffers),
    /// on/off for booleans, `%g` for reals, the canonical enum spelling.
    pub setting: String,
    pub context: Context,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CheckError {
    #[error("{}", unknown_message(.name, *.major, .suggestion.as_deref()))]
    UnknownParameter {
        name: String,
        major: u32,
        suggestion: Option<String>,
    },
    #[error("{name} = {value}: expected {expected}; write the value in that form")]
    WrongKind {
        name: String,
        value: String,
        expected: String,
    },
    #[error("{name} = {value} is out of range: PostgreSQL accepts {min} to {max}; choose a value in that range")]
    OutOfRange {
        name: String,
        value: String,
        min: String,
        max: String,
    },
    #[error("{name} = {value} is not one of its values; use one of: {}", .allowed.join(", "))]
    BadEnum {
        name: String,
        value: String,
        allowed: Vec<String>,
    },
    #[error("{name} is fixed when PostgreSQL is built or the cluster is initialised and cannot be set in postgresql.conf; remove it")]
    NotSettable { name: String },
}

fn unknown_message(name: &str, major: u32, suggestion: Option<&str>) -> String {
    let mut msg = format!("PostgreSQL {major} has no parameter `{name}`");
    if let Some(span) = versions::lifetime(name) {
        msg.push_str(&format!(" (`{name}` exists in {span})"));
    }
    match suggestion {
        Some(s) => msg.push_str(&format!(
            ". Did you mean `{s}`? Fix the name or remove the setting"
        )),
        None => msg.push_str(". Fix the name or remove the setting"),
    }
    msg
}

pub(super) fn check(p: &Param, value: &Value) -> Result<Checked, CheckError> {
    if p.context == Context::Internal {
        return Err(CheckError::NotSettable {
            name: p.name.clone(),
        });
    }
    let setting = match p.vartype {
        VarType::Bool => check_bool(p, value)?,
        VarType::Integer => check_number(p, value, true)?,
        VarType::Real => check_number(p, value, false)?,
        VarType::Enum => check_enum(p, value)?,
        // A string parameter takes any text; the server validates its
        // content (paths, lists) only when it uses it.
        VarType::String => value.to_plain(),
    };
    Ok(Checked {
        setting,
        context: p.context,
    })
}

fn base_unit(p: &Param) -> Option<BaseUnit> {
    p.unit.as_deref().and_then(BaseUnit::parse)
}

fn check_bool(p: &Param, value: &Value) -> Result<String, CheckError> {
    let b = match value {
        Value::Bool(b) => Some(*b),
        Value::Int(0) => Some(false),
        Value::Int(1) => Some(true),
        Value::Text(t) => parse::parse_bool(t),
        _ => None,
    };
    b.map(on_off).ok_or_else(|| wrong_kind(p, value))
}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}

fn check_number(p: &Param, value: &Value, integer: bool) -> Result<String, CheckError> {
    let unit = base_unit(p);
    let out_of_range = || out_of_range(p, value);
    let base = match (value, unit) {
        (Value::Bytes(b), Some(BaseUnit::Bytes(per))) => scale(*b, per, integer),
        (Value::Millis(ms), Some(BaseUnit::Micros(per))) => {
            scale(ms.checked_mul(1000).ok_or_else(out_of_range)?, per, integer)
        }
        (Value::Int(i), _) => *i as f64,
        (Value::Real(r), _) if r.is_finite() => {
            if integer {
                r.round_ties_even()
            } else {
                *r
            }
        }
        (Value::Text(t), _) => match parse::parse_number(t, unit, integer) {
            Ok(v) => v,
            Err(NumberError::Overflow) => return Err(out_of_range()),
            Err(NumberError::Syntax | NumberError::Unit) => return Err(wrong_kind(p, value)),
        },
        _ => return Err(wrong_kind(p, value)),
    };
    let below = p.min.is_some_and(|min| base < min);
    let above = p.max.is_some_and(|max| base > max);
    if below || above || (integer && base.abs() > f64::from(i32::MAX)) {
        return Err(out_of_range());
    }
    Ok(if integer {
        format!("{}", base as i64)
    } else {
        parse::format_g(base)
    })
}

/// `amount` smallest units (bytes or microseconds) in units of `per`. An
/// integer setting is rounded half to even, as the server does with the
/// rendered value (which is always a whole number of the unit it is
/// printed in, so the server's intermediate rounding changes nothing).
fn scale(amount: u64, per: u64, integer: bool) -> f64 {
    if !integer {
        return amount as f64 / per as f64;
    }
    let (q, r) = (amount / per, amount % per);
    let up = match (2 * u128::from(r)).cmp(&u128::from(per)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => q % 2 == 1,
        std::cmp::Ordering::Less => false,
    };
    (q + u64::from(up)) as f64
}

fn check_enum(p: &Param, value: &Value) -> Result<String, CheckError> {
    let text = match value {
        Value::Bool(b) => on_off(*b),
        Value::Text(t) => t.trim().to_string(),
        other => other.to_plain(),
    };
    if let Some(v) = p.enumvals.iter().find(|v| v.eq_ignore_ascii_case(&text)) {
        return Ok(v.clone());
    }
    // Enums that list on/off also take PostgreSQL's hidden boolean aliases
    // (synchronous_commit = true, huge_pages = 0), stored as on/off.
    let has = |w: &str| p.enumvals.iter().any(|v| v == w);
    if has("on") && has("off") {
        let alias = match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        };
        if let Some(b) = alias {
            return Ok(on_off(b));
        }
    }
    Err(CheckError::BadEnum {
        name: p.name.clone(),
        value: text,
        allowed: p.enumvals.clone(),
    })
}

fn wrong_kind(p: &Param, value: &Value) -> CheckError {
    CheckError::WrongKind {
        name: p.name.clone(),
        value: value.to_plain(),
        expected: expected(p),
    }
}

fn out_of_range(p: &Param, value: &Value) -> CheckError {
    let unit = base_unit(p);
    let bound = |b: Option<f64>| {
        b.map_or_else(|| "(no limit)".to_string(), |b| parse::human_bound(b, unit))
    };
    CheckError::OutOfRange {
        name: p.name.clone(),
        value: value.to_plain(),
        min: bound(p.min),
        max: bound(p.max),
    }
}

/// What a parameter takes, in words, for error messages.
pub(crate) fn expected(p: &Param) -> String {
    let unit = p.unit.as_deref().unwrap_or("");
    match (p.vartype, base_unit(p)) {
        (VarType::Integer | VarType::Real, Some(BaseUnit::Bytes(_))) => {
            format!("a size such as 256MB (unit {unit})")
        }
        (VarType::Integer | VarType::Real, Some(BaseUnit::Micros(_))) => {
            format!("a duration such as 30s (unit {unit})")
        }
        (VarType::Integer, None) => "an integer".to_string(),
        (VarType::Real, None) => "a number".to_string(),
        (VarType::Bool, _) => "on or off".to_string(),
        (VarType::Enum, _) => format!("one of {}", p.enumvals.join(", ")),
        (VarType::String, _) => "text".to_string(),
    }
}

/// The compiled-in default as people write it ("128MB", "5min", "-1", "on").
pub(super) fn default_display(p: &Param) -> String {
    display(p, &p.boot_val)
}

/// A setting in the parameter's base unit (as pg_settings shows it), as
/// people write it: "131072" of shared_buffers reads "1GB".
pub(super) fn display(p: &Param, setting: &str) -> String {
    match p.vartype {
        VarType::Integer | VarType::Real => match setting.trim().parse::<f64>() {
            Ok(v) => parse::human(v, base_unit(p)),
            Err(_) => setting.to_string(),
        },
        VarType::Bool => parse::parse_bool(setting).map_or_else(|| setting.to_string(), on_off),
        VarType::Enum | VarType::String => setting.to_string(),
    }
}

/// Whether two base-unit settings mean the same: numbers compared as
/// numbers (pg_settings prints reals with %g), enums without case.
pub(super) fn same(p: &Param, a: &str, b: &str) -> bool {
    match p.vartype {
        VarType::Integer | VarType::Real => {
            match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
                (Ok(x), Ok(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                _ => a == b,
            }
        }
        VarType::Bool => {
            parse::parse_bool(a).is_some() && parse::parse_bool(a) == parse::parse_bool(b)
        }
        VarType::Enum => a.eq_ignore_ascii_case(b),
        VarType::String => a == b,
    }
}
