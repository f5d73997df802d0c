//! `[application.settings]`: defaults of the application role's own
//! sessions in the event store's database (`ALTER ROLE … IN DATABASE …
//! SET`). Names are checked for shape here, because they reach SQL as
//! identifiers; whether the server has the parameter and whether a role
//! setting can carry it is for the server's catalog to say
//! (`tune::validate`).

use super::model::ApplicationLayer;
use super::resolve::{Ctx, Located};
use super::ProfileError;
use crate::value::Value;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Application {
    /// Parameter name, in lower case (PostgreSQL's names are
    /// case-insensitive, so a child profile's `datestyle` replaces its
    /// parent's `DateStyle`) → value.
    pub settings: BTreeMap<String, Located<Value>>,
}

/// Lays one file's `[application.settings]` over what its parents set.
pub(super) fn apply(
    cx: &Ctx,
    app: &mut Application,
    layer: &ApplicationLayer,
) -> Result<(), ProfileError> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, raw) in layer.settings.iter().flatten() {
        let key = format!("application.settings.{name}");
        let at = cx.origin(raw.span(), key.clone());
        let invalid = |message: String| ProfileError::Invalid {
            at: at.to_string(),
            message,
        };
        if !is_parameter_name(name) {
            return Err(invalid(format!(
                "`{name}` is not a parameter name: PostgreSQL's are letters, digits and _ (an extension's: prefix.name); fix the name"
            )));
        }
        let lower = name.to_ascii_lowercase();
        if let Some(other) = seen.insert(lower.clone(), name) {
            return Err(invalid(format!(
                "`{name}` and `{other}` name the same parameter (PostgreSQL's names are case-insensitive); keep one"
            )));
        }
        app.settings.insert(lower, cx.located_value(raw, key)?);
    }
    Ok(())
}

/// A parameter name as PostgreSQL spells one: a simple identifier, or
/// several joined by dots for an extension's (`auto_explain.log_min_duration`).
pub fn is_parameter_name(s: &str) -> bool {
    s.split('.').all(|part| {
        let mut chars = part.chars();
        part.len() <= 63
            && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::is_parameter_name;
    use crate::value::Value;

    fn load(body: &str) -> Result<crate::profile::Profile, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("parent.toml"),
            "[application.settings]\nDateStyle = \"ISO, DMY\"\nenable_indexscan = false\n",
        )
        .unwrap();
        let f = dir.path().join("p.toml");
        std::fs::write(&f, body).unwrap();
        crate::profile::load(f.to_str().unwrap(), None).map_err(|e| e.to_string())
    }

    #[test]
    fn a_child_replaces_its_parents_settings_whatever_the_case() {
        let p = load("extends = \"parent\"\n[application.settings]\ndatestyle = \"ISO, MDY\"\nwork_mem = \"64MB\"\n").unwrap();
        let got: Vec<(&str, &Value, String)> = p
            .application
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), &v.value, format!("{}:{}", v.at.line, v.at.col)))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "datestyle",
                    &Value::Text("ISO, MDY".into()),
                    "3:13".to_string()
                ),
                ("enable_indexscan", &Value::Bool(false), "3:20".to_string()),
                ("work_mem", &Value::Bytes(64 << 20), "4:12".to_string()),
            ]
        );
        assert!(p.application.settings["enable_indexscan"]
            .at
            .file
            .ends_with("parent.toml"));
    }

    #[test]
    fn bad_files_are_refused_with_positions() {
        let cases = [
            (
                "[application.settings]\n\"a-b\" = 1\n",
                "p.toml:2:9 (`application.settings.a-b`): `a-b` is not a parameter name",
            ),
            (
                "[application.settings]\nDateStyle = \"ISO\"\ndatestyle = \"ISO\"\n",
                "(`application.settings.datestyle`): `datestyle` and `DateStyle` name the same parameter",
            ),
            (
                "[application.settings]\nwork_mem = [1]\n",
                "p.toml:2:12 (`application.settings.work_mem`): expected a string, number or boolean",
            ),
            (
                "[application]\nsetings = {}\n",
                "p.toml:2:1: at `application.setings`: unknown field `setings`, expected `settings`",
            ),
        ];
        for (body, want) in cases {
            let err = load(body).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
    }

    #[test]
    fn parameter_names() {
        for ok in [
            "enable_indexscan",
            "DateStyle",
            "auto_explain.log_min_duration",
            "_x1",
        ] {
            assert!(is_parameter_name(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "x\"; DROP",
            "a.",
            ".a",
            "a..b",
            long.as_str(),
        ] {
            assert!(!is_parameter_name(bad), "{bad}");
        }
    }
}
