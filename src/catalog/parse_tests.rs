use super::*;

#[test]
fn numbers_as_the_server_reads_them() {
    let blocks = BaseUnit::parse("8kB");
    let kb = BaseUnit::parse("kB");
    let secs = BaseUnit::parse("s");
    let ms = BaseUnit::parse("ms");
    type Case = (
        &'static str,
        Option<BaseUnit>,
        bool,
        Result<f64, NumberError>,
    );
    let cases: &[Case] = &[
        ("1GB", blocks, true, Ok(131072.0)),
        ("1 GB ", blocks, true, Ok(131072.0)),
        ("128kB", blocks, true, Ok(16.0)),
        ("12kB", blocks, true, Ok(2.0)), // 1.5 blocks, half to even
        ("4kB", blocks, true, Ok(0.0)),  // 0.5 blocks
        ("1.5GB", kb, true, Ok(1572864.0)),
        ("1gb", blocks, true, Err(NumberError::Unit)),
        ("1GiB", blocks, true, Err(NumberError::Unit)),
        ("1GB", None, true, Err(NumberError::Unit)),
        ("5min", secs, true, Ok(300.0)),
        ("1500ms", secs, true, Ok(2.0)),
        ("500us", ms, false, Ok(0.5)),
        ("1h", ms, true, Ok(3_600_000.0)),
        ("1s", kb, true, Err(NumberError::Unit)),
        ("0x10", None, true, Ok(16.0)),
        ("010", None, true, Ok(8.0)),
        ("-1", kb, true, Ok(-1.0)),
        ("2.5", None, true, Ok(2.0)),
        ("1e3", None, false, Ok(1000.0)),
        (".5", None, false, Ok(0.5)),
        ("abc", None, true, Err(NumberError::Syntax)),
        ("", None, true, Err(NumberError::Syntax)),
        ("3000000000", None, true, Err(NumberError::Overflow)),
        ("10 apples", None, true, Err(NumberError::Unit)),
    ];
    for (text, unit, integer, want) in cases {
        assert_eq!(
            parse_number(text, *unit, *integer),
            *want,
            "{text} {unit:?}"
        );
    }
}

#[test]
fn bools() {
    let cases = [
        ("on", Some(true)),
        ("ON", Some(true)),
        ("of", Some(false)),
        ("o", None),
        ("t", Some(true)),
        ("fals", Some(false)),
        ("yes", Some(true)),
        ("n", Some(false)),
        ("1", Some(true)),
        ("0", Some(false)),
        ("2", None),
        ("maybe", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_bool(text), want, "{text}");
    }
}

#[test]
fn percent_g() {
    let cases = [
        (0.9, "0.9"),
        (2.0, "2"),
        (0.005, "0.005"),
        (1e-5, "1e-05"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1234567.0, "1.23457e+06"),
        (f64::MAX, "1.79769e+308"),
        (-1.0, "-1"),
        (0.0, "0"),
    ];
    for (x, want) in cases {
        assert_eq!(format_g(x), want, "{x}");
    }
}

#[test]
fn human_amounts() {
    let cases = [
        (16.0, "8kB", "128kB"),
        (1073741823.0, "8kB", "8TB"),
        (16384.0, "8kB", "128MB"),
        (2147483647.0, "kB", "2TB"),
        (300.0, "s", "5min"),
        (86400.0, "s", "1d"),
        (2147483647.0, "ms", "2147483647ms"),
        (0.5, "ms", "500us"),
        (-1.0, "kB", "-1"),
        (0.0, "ms", "0"),
    ];
    for (v, unit, want) in cases {
        assert_eq!(human_bound(v, BaseUnit::parse(unit)), want, "{v} {unit}");
    }
    assert_eq!(human_bound(262143.0, None), "262143");
    // Defaults are shown exactly.
    assert_eq!(human(1025.0, BaseUnit::parse("MB")), "1025MB");
    assert_eq!(human(2147483647.0, BaseUnit::parse("kB")), "2147483647kB");
}
