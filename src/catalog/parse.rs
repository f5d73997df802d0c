//! PostgreSQL's own reading and printing of setting text (guc.c: parse_int,
//! parse_real, parse_bool, convert_to_base_unit, and `%g` for reals), so the
//! catalog check accepts exactly what the server accepts and predicts the
//! number it will store. Units here are case-sensitive, as in the server:
//! `1GB` is a size, `1gb` and `1GiB` are errors.

/// What a parameter's `unit` column means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BaseUnit {
    /// Memory; one unit is this many bytes (1 for B, 8192 for 8kB).
    Bytes(u64),
    /// Time; one unit is this many microseconds (1000 for ms).
    Micros(u64),
}

/// Memory units from largest to smallest, as convert_to_base_unit walks them.
pub(crate) const MEMORY_UNITS: [(&str, u64); 5] = [
    ("TB", 1 << 40),
    ("GB", 1 << 30),
    ("MB", 1 << 20),
    ("kB", 1 << 10),
    ("B", 1),
];

/// Time units in microseconds, largest first.
pub(crate) const TIME_UNITS: [(&str, u64); 6] = [
    ("d", 86_400_000_000),
    ("h", 3_600_000_000),
    ("min", 60_000_000),
    ("s", 1_000_000),
    ("ms", 1_000),
    ("us", 1),
];

impl BaseUnit {
    /// Reads `pg_settings.unit`, which may carry a multiple ("8kB", and
    /// "16MB" in old releases).
    pub(crate) fn parse(unit: &str) -> Option<BaseUnit> {
        let split = unit
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(unit.len());
        let (count, name) = unit.split_at(split);
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().ok()?
        };
        let find = |table: &[(&str, u64)]| table.iter().find(|(n, _)| *n == name).map(|(_, m)| *m);
        if let Some(m) = find(&MEMORY_UNITS) {
            return Some(BaseUnit::Bytes(count.checked_mul(m)?));
        }
        find(&TIME_UNITS)
            .and_then(|m| count.checked_mul(m))
            .map(BaseUnit::Micros)
    }

    fn table(self) -> (&'static [(&'static str, u64)], u64) {
        match self {
            BaseUnit::Bytes(b) => (&MEMORY_UNITS, b),
            BaseUnit::Micros(us) => (&TIME_UNITS, us),
        }
    }
}

/// Why text is not a number for this parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    Syntax,
    /// A unit the parameter does not take (or any unit on a unitless one).
    Unit,
    /// Beyond a C int (integer parameters) or not finite.
    Overflow,
}

/// parse_int / parse_real: a number, optionally followed by a unit, in the
/// parameter's base unit. Integers are rounded half to even like rint().
pub(crate) fn parse_number(
    text: &str,
    unit: Option<BaseUnit>,
    integer: bool,
) -> Result<f64, NumberError> {
    let (mut val, rest) = leading_number(text).ok_or(NumberError::Syntax)?;
    let rest = rest.trim();
    if !rest.is_empty() {
        let unit = unit.ok_or(NumberError::Unit)?;
        val = to_base_unit(val, rest, unit).ok_or(NumberError::Unit)?;
    }
    if integer {
        val = val.round_ties_even();
        if val > f64::from(i32::MAX) || val < f64::from(i32::MIN) {
            return Err(NumberError::Overflow);
        }
    }
    if !val.is_finite() {
        return Err(NumberError::Overflow);
    }
    Ok(val)
}

/// convert_to_base_unit: scales by the unit, first rounding a fractional
/// value such as "30.1GB" to a whole number of the next smaller unit.
fn to_base_unit(val: f64, unit_text: &str, base: BaseUnit) -> Option<f64> {
    if !unit_text.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let (table, per_base) = base.table();
    let i = table.iter().position(|(name, _)| *name == unit_text)?;
    let mult = |j: usize| table[j].1 as f64 / per_base as f64;
    let mut cvalue = val * mult(i);
    if i + 1 < table.len() {
        cvalue = (cvalue / mult(i + 1)).round_ties_even() * mult(i + 1);
    }
    Some(cvalue)
}

/// strtol with base 0 (so hex `0x1F` and octal `017` count, as in the
/// server), falling back to strtod when a fraction or exponent follows.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let s = text.trim_start();
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let negative = b.first() == Some(&b'-');
    let radix = if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
        16
    } else if b.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    let digits_start = i;
    while b.get(i).is_some_and(|c| (*c as char).is_digit(radix)) {
        i += 1;
    }
    let int = u64::from_str_radix(&s[digits_start..i], radix).ok();
    let float_follows = matches!(b.get(i), Some(b'.' | b'e' | b'E'));
    match int {
        Some(n) if !float_follows && n <= i64::MAX as u64 => {
            let v = n as f64;
            Some((if negative { -v } else { v }, &s[i..]))
        }
        _ => leading_float(s),
    }
}

/// The longest prefix strtod would read as a decimal number.
fn leading_float(s: &str) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_digits = count_digits(&b[i..]);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        frac_digits = count_digits(&b[i + 1..]);
        if int_digits + frac_digits > 0 {
            i += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        j += usize::from(matches!(b.get(j), Some(b'+' | b'-')));
        let exp_digits = count_digits(&b[j..]);
        if exp_digits > 0 {
            i = j + exp_digits;
        }
    }
    s[..i].parse().ok().map(|v| (v, &s[i..]))
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// parse_bool: case-insensitive prefixes of true/false/yes/no, on/off (at
/// least two letters), and 1/0.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    match t.as_bytes().first()? {
        b't' if prefix_of("true", 1) => Some(true),
        b'y' if prefix_of("yes", 1) => Some(true),
        b'f' if prefix_of("false", 1) => Some(false),
        b'n' if prefix_of("no", 1) => Some(false),
        b'o' if prefix_of("on", 2) => Some(true),
        b'o' if prefix_of("off", 2) => Some(false),
        _ if t == "1" => Some(true),
        _ if t == "0" => Some(false),
        _ => None,
    }
}

/// C's `%g`, which is how the server prints real settings and bounds.
pub(crate) fn format_g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x == 0.0 { "0".into() } else { x.to_string() };
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.abs())
    } else {
        let decimals = (5 - exp) as usize;
        trim_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// An amount in a parameter's unit, for people: in the largest unit that
/// divides it ("128MB", "5min").
pub(crate) fn human(value: f64, unit: Option<BaseUnit>) -> String {
    human_within(value, unit, false)
}

/// Like [`human`], but a bound one unit short of a round amount is shown
/// rounded: the largest shared_buffers (2^30 - 1 pages of 8kB) reads "8TB",
/// INT_MAX kB reads "2TB".
pub(crate) fn human_bound(value: f64, unit: Option<BaseUnit>) -> String {
    human_within(value, unit, true)
}

fn human_within(value: f64, unit: Option<BaseUnit>, one_unit_slack: bool) -> String {
    let Some(unit) = unit.filter(|_| value > 0.0) else {
        return format_g(value);
    };
    let (table, per_base) = unit.table();
    let amount = value * per_base as f64;
    // Only whole amounts of an integer parameter can be "one unit short".
    let slack = if one_unit_slack && value.fract() == 0.0 {
        per_base as f64
    } else {
        0.0
    };
    for (name, mult) in table {
        let m = *mult as f64;
        let rounded = (amount / m).round();
        if rounded >= 1.0 && (rounded * m - amount).abs() <= slack {
            return format!("{rounded}{name}");
        }
    }
    format!("{}{}", format_g(amount), table[table.len() - 1].0)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
