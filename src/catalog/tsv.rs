//! Turning `pg_settings` rows (from the embedded dumps or a server) into
//! [`Param`]s. The dumps are tab-separated with the columns of
//! `scripts/dump-catalog.sh`: name, vartype, unit, min_val, max_val,
//! enumvals (comma-separated), context, boot_val, category, short_desc.

use super::{Context, Param, VarType};

/// The text columns of one `pg_settings` row; empty means NULL.
pub(crate) struct Row<'a> {
    pub name: &'a str,
    pub vartype: &'a str,
    pub unit: &'a str,
    pub min_val: &'a str,
    pub max_val: &'a str,
    pub enumvals: Vec<String>,
    pub context: &'a str,
    pub boot_val: &'a str,
    pub category: &'a str,
    pub short_desc: &'a str,
}

impl Row<'_> {
    pub(crate) fn into_param(self) -> Result<Param, String> {
        let vartype = VarType::from_pg(self.vartype)
            .ok_or_else(|| format!("unknown vartype `{}`", self.vartype))?;
        let context = Context::from_pg(self.context)
            .ok_or_else(|| format!("unknown context `{}`", self.context))?;
        let bound = |s: &str| -> Result<Option<f64>, String> {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse()
                    .map(Some)
                    .map_err(|_| format!("bound `{s}` is not a number"))
            }
        };
        Ok(Param {
            name: self.name.to_string(),
            vartype,
            unit: Some(self.unit.to_string()).filter(|u| !u.is_empty()),
            min: bound(self.min_val)?,
            max: bound(self.max_val)?,
            enumvals: self.enumvals,
            context,
            boot_val: self.boot_val.to_string(),
            category: self.category.to_string(),
            short_desc: self.short_desc.to_string(),
        })
    }
}

/// Parses a whole dump; errors carry the 1-based line number.
pub(crate) fn parse(text: &str) -> Result<Vec<Param>, (usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| parse_line(line).map_err(|e| (i + 1, e)))
        .collect()
}

pub(crate) fn parse_line(line: &str) -> Result<Param, String> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != 10 {
        return Err(format!(
            "expected 10 tab-separated columns, found {}",
            f.len()
        ));
    }
    let enumvals = f[5]
        .split(',')
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    Row {
        name: f[0],
        vartype: f[1],
        unit: f[2],
        min_val: f[3],
        max_val: f[4],
        enumvals,
        context: f[6],
        boot_val: f[7],
        category: f[8],
        short_desc: f[9],
    }
    .into_param()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_row() {
        let p = parse_line("shared_buffers\tinteger\t8kB\t16\t1073741823\t\tpostmaster\t16384\tResource Usage / Memory\tSets the number of shared memory buffers used by the server.").unwrap();
        assert_eq!(p.vartype, VarType::Integer);
        assert_eq!(p.unit.as_deref(), Some("8kB"));
        assert_eq!((p.min, p.max), (Some(16.0), Some(1073741823.0)));
        assert_eq!(p.context, Context::Postmaster);
        let e = parse_line("huge_pages\tenum\t\t\t\toff,on,try\tpostmaster\ttry\tx\ty").unwrap();
        assert_eq!(e.enumvals, ["off", "on", "try"]);
        assert_eq!(e.unit, None);
    }

    #[test]
    fn rejects_bad_rows() {
        for line in [
            "a\tinteger",
            "a\tnumber\t\t\t\t\tuser\t1\tc\td",
            "a\tinteger\t\tx\t\t\tuser\t1\tc\td",
            "a\tbool\t\t\t\t\teveryone\ton\tc\td",
        ] {
            assert!(parse_line(line).is_err(), "{line}");
        }
    }
}
