//! The application settings of catalog.sql: names and values as SQL text.
//! ALTER ROLE … SET takes no bound parameters, so every name is checked
//! and quoted as an identifier and every value rendered as a literal.

use crate::tune::{AppSetting, Plan};
use serde::Serialize;

#[derive(Serialize)]
pub(super) struct AppView {
    /// For comments.
    role_name: String,
    database_name: String,
    /// Quoted identifiers, for statements.
    role: String,
    database: String,
    settings: Vec<AppSettingView>,
}

#[derive(Serialize)]
struct AppSettingView {
    name: String,
    name_sql: String,
    value_sql: String,
    rule: String,
    note: Option<String>,
}

/// A double-quoted identifier (quotes inside doubled), as `format('%I')`
/// writes one that needs quoting; always quoted, so that a name that is a
/// keyword (`user`) stays a name.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A string literal that means the same whatever standard_conforming_strings
/// says: quotes doubled, and a backslash, if any, in an escape string.
pub fn literal(s: &str) -> String {
    let quoted = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// The role, the database and the settings of `plan` for catalog.sql.
/// Refuses names that are not the plain identifiers profiles allow (a
/// plan built from a profile never has one; the check keeps what reaches
/// SQL to that shape).
pub(super) fn view(plan: &Plan) -> Result<AppView, String> {
    let a = &plan.access;
    for (what, name) in [("role", &a.app_user), ("database", &a.database)] {
        if !crate::profile::is_identifier(name) {
            return Err(format!(
                "the application's {what} `{name}` is not a plain identifier (lower-case letters, digits and _)"
            ));
        }
    }
    let settings = plan
        .app_settings
        .iter()
        .map(setting_view)
        .collect::<Result<_, _>>()?;
    Ok(AppView {
        role_name: a.app_user.clone(),
        database_name: a.database.clone(),
        role: quote_ident(&a.app_user),
        database: quote_ident(&a.database),
        settings,
    })
}

fn setting_view(s: &AppSetting) -> Result<AppSettingView, String> {
    if !crate::profile::is_parameter_name(&s.name) {
        return Err(format!("`{}` is not a parameter name", s.name));
    }
    Ok(AppSettingView {
        name: s.name.clone(),
        name_sql: s
            .name
            .split('.')
            .map(quote_ident)
            .collect::<Vec<_>>()
            .join("."),
        value_sql: literal(&s.value.to_plain()),
        rule: one_line(&s.rule),
        note: super::source_note(&s.source).map(|n| one_line(&n)),
    })
}

/// Text for an SQL comment: a line break in it (a profile path may have
/// one) would end the comment and turn the rest into a statement.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals() {
        let cases = [
            ("eventstore", "\"eventstore\""),
            ("user", "\"user\""),
            ("a\"b", "\"a\"\"b\""),
        ];
        for (name, want) in cases {
            assert_eq!(quote_ident(name), want);
        }
        let cases = [
            ("off", "'off'"),
            ("ISO, DMY", "'ISO, DMY'"),
            ("it's", "'it''s'"),
            ("a\\b'c", "E'a\\\\b''c'"),
        ];
        for (value, want) in cases {
            assert_eq!(literal(value), want, "{value}");
        }
    }

    fn plan() -> Plan {
        let p = crate::profile::load("stock", None).unwrap();
        let res = || crate::tune::Resources::fixed(4 << 30, 2.0, "test");
        crate::tune::plan(&p, res(), res(), &crate::tune::Target::standard(15)).unwrap()
    }

    #[test]
    fn what_reaches_sql_is_checked_and_comments_stay_comments() {
        let renderer = super::super::Renderer::new(None).unwrap();
        let mut app = crate::tune::AppSettings::default();
        app.set(
            "enable_seqscan",
            crate::value::Value::Bool(false),
            "measured\r\nDROP TABLE events; --",
        );
        let mut p = plan();
        p.app_settings = app.into_vec();
        let sql = renderer.catalog_sql(&p).unwrap();
        assert!(
            sql.contains("-- enable_seqscan: measured  DROP TABLE events; --\n"),
            "{sql}"
        );
        assert!(!sql.lines().any(|l| l.starts_with("DROP")), "{sql}");

        let mut bad = p.clone();
        bad.access.app_user = "Event-Store".into();
        let err = renderer.catalog_sql(&bad).unwrap_err().to_string();
        assert!(
            err.contains("role `Event-Store` is not a plain identifier"),
            "{err}"
        );
        let mut bad = p;
        bad.app_settings[0].name = "x; DROP".into();
        let err = renderer.catalog_sql(&bad).unwrap_err().to_string();
        assert!(err.contains("`x; DROP` is not a parameter name"), "{err}");
    }
}
