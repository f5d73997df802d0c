//! Size and duration syntax.
//!
//! Sizes follow PostgreSQL's and Docker's convention: every unit is binary,
//! so `4GB`, `4GiB`, `4G` and `4096MB` are all 4 × 1024³ bytes. Decimal
//! gigabytes would make `shared_buffers = 1GB` in a profile differ from the
//! same line in postgresql.conf, which is the mistake this avoids.

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum UnitError {
    #[error("`{0}` is not a size: write a number and a unit, e.g. 4GiB, 4096MB or 512kB (units are binary: 1GB = 1024MB)")]
    BadSize(String),
    #[error(
        "`{0}` is not a duration: write a number and a unit, e.g. 200ms, 30s, 10min, 1h or 1d"
    )]
    BadDuration(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

const KB: u64 = 1024;

fn size_unit(u: &str) -> Option<u64> {
    Some(match u {
        "B" | "b" => 1,
        "kB" | "KB" | "k" | "K" | "KiB" | "kiB" => KB,
        "MB" | "M" | "MiB" | "m" => KB * KB,
        "GB" | "G" | "GiB" | "g" => KB * KB * KB,
        "TB" | "T" | "TiB" | "t" => KB * KB * KB * KB,
        _ => return None,
    })
}

fn duration_unit(u: &str) -> Option<u64> {
    Some(match u {
        "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    })
}

/// Splits `"4.5 GiB"` into `(4.5, "GiB")`.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    if num.is_empty() {
        return None;
    }
    let n: f64 = num.replace('_', "").parse().ok()?;
    Some((n, unit.trim()))
}

fn scaled(n: f64, mult: u64, original: &str) -> Result<u64, UnitError> {
    let v = n * mult as f64;
    if !v.is_finite() || v >= u64::MAX as f64 {
        return Err(UnitError::Overflow(original.to_string()));
    }
    Ok(v.round() as u64)
}

/// Parses a size into bytes. A unit is required: a bare number is ambiguous
/// (bytes? PostgreSQL's 8kB pages? Docker's bytes?), so it is refused.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::BadSize(s.to_string());
    let (n, unit) = split_number(s).ok_or_else(bad)?;
    let mult = size_unit(unit).ok_or_else(bad)?;
    scaled(n, mult, s)
}

/// Parses a duration into milliseconds; a unit is required.
pub fn parse_duration(s: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::BadDuration(s.to_string());
    let (n, unit) = split_number(s).ok_or_else(bad)?;
    let mult = duration_unit(unit).ok_or_else(bad)?;
    scaled(n, mult, s)
}

/// A count with thousands separated by commas, for people: 1,000,000.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in the largest binary unit with one decimal, for people.
pub fn human(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Prints bytes with the largest unit PostgreSQL accepts that divides them
/// exactly, so the printed value means exactly the computed one.
pub fn format_size(bytes: u64) -> String {
    for (unit, mult) in [
        ("TB", KB.pow(4)),
        ("GB", KB.pow(3)),
        ("MB", KB.pow(2)),
        ("kB", KB),
    ] {
        if bytes >= mult && bytes % mult == 0 {
            return format!("{}{unit}", bytes / mult);
        }
    }
    format!("{bytes}B")
}

/// Prints milliseconds with the largest exact unit.
pub fn format_duration(ms: u64) -> String {
    for (unit, mult) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1000),
    ] {
        if ms >= mult && ms % mult == 0 {
            return format!("{}{unit}", ms / mult);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        let cases = [
            (0, "0"),
            (88, "88"),
            (999, "999"),
            (1_000, "1,000"),
            (11_363, "11,363"),
            (1_000_000, "1,000,000"),
        ];
        for (n, want) in cases {
            assert_eq!(grouped(n), want);
        }
    }

    #[test]
    fn sizes() {
        let gib = 1u64 << 30;
        let cases: &[(&str, Result<u64, ()>)] = &[
            ("4GiB", Ok(4 * gib)),
            ("4GB", Ok(4 * gib)),
            ("4G", Ok(4 * gib)),
            ("4096MB", Ok(4 * gib)),
            ("4096M", Ok(4 * gib)),
            ("6144M", Ok(6 * gib)),
            ("512kB", Ok(512 * 1024)),
            ("1.5GiB", Ok(3 * gib / 2)),
            ("16 MB", Ok(16 << 20)),
            ("1_024MB", Ok(gib)),
            ("100B", Ok(100)),
            ("4096", Err(())),
            ("GB", Err(())),
            ("4XB", Err(())),
            ("", Err(())),
            ("-1GB", Err(())),
        ];
        for (s, want) in cases {
            assert_eq!(parse_size(s).map_err(|_| ()), *want, "{s}");
        }
    }

    #[test]
    fn durations() {
        let cases: &[(&str, Result<u64, ()>)] = &[
            ("200ms", Ok(200)),
            ("30s", Ok(30_000)),
            ("10min", Ok(600_000)),
            ("2h", Ok(7_200_000)),
            ("1d", Ok(86_400_000)),
            ("10", Err(())),
            ("10m", Err(())),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s).map_err(|_| ()), *want, "{s}");
        }
    }

    #[test]
    fn printing() {
        assert_eq!(format_size(1 << 30), "1GB");
        assert_eq!(format_size(1536 << 20), "1536MB");
        assert_eq!(format_size(8192), "8kB");
        assert_eq!(format_size(100), "100B");
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_duration(600_000), "10min");
        assert_eq!(format_duration(15_000), "15s");
        assert_eq!(format_duration(2), "2ms");
        assert_eq!(format_duration(0), "0ms");
    }

    proptest! {
        #[test]
        fn size_round_trip(b in 0u64..(1u64 << 50)) {
            prop_assert_eq!(parse_size(&format_size(b)).unwrap(), b);
        }
        #[test]
        fn duration_round_trip(ms in 0u64..(1u64 << 40)) {
            prop_assert_eq!(parse_duration(&format_duration(ms)).unwrap(), ms);
        }
    }
}
