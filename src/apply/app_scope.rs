//! The settings of the application's role in the event store's database
//! (`ALTER ROLE app IN DATABASE db SET …`, kept in pg_db_role_setting), as
//! part of the catalog state a profile owns: their keys, how the live ones
//! are read and normalised, and the SQL that puts saved ones back.
//!
//! pg_db_role_setting is a shared catalog: one for the whole server, and
//! on a physical replica the primary's, replayed. The profile owns one
//! scope of it, the application role in its database; settings of other
//! scopes (the role in every database, the database for every role, other
//! roles) are read for the record but neither planned nor reset.

use crate::catalog::Catalog;
use crate::tune::Plan;
use crate::value::Value;
use std::collections::BTreeMap;
use tokio_postgres::GenericClient;

/// The role and database whose settings a profile owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppScope {
    pub role: String,
    pub database: String,
}

impl AppScope {
    pub fn of(plan: &Plan) -> AppScope {
        AppScope {
            role: plan.access.app_user.clone(),
            database: plan.access.database.clone(),
        }
    }

    /// `role@database:setting`, as [`super::catalog::live`] keys it.
    pub fn key(&self, setting: &str) -> String {
        format!("{}@{}:{setting}", self.role, self.database)
    }

    /// The setting a key of this scope names.
    pub fn setting<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(&format!("{}@{}:", self.role, self.database))
    }

    /// For people: `role eventstore in database eventstore`.
    pub fn describe(&self) -> String {
        format!("role {} in database {}", self.role, self.database)
    }
}

/// A role setting's key split into its parts: (role, database, setting),
/// `*` standing for every role or every database. Setting names have no
/// `:` and PostgreSQL's own database names rarely an `@`, so the role is
/// what comes before the last `@` (a role may be `ann@example.com`).
pub fn split_key(key: &str) -> Option<(&str, &str, &str)> {
    let (scope, setting) = key.rsplit_once(':')?;
    let (role, database) = scope.rsplit_once('@')?;
    Some((role, database, setting))
}

/// One entry of pg_db_role_setting as stored: `name=value`, the name in
/// the server's own spelling, the value as it was written.
pub(super) struct RawSetting {
    pub key: String,
    pub name: String,
    pub raw: String,
}

/// Every role setting that can reach a session in the connection's
/// database: of this database (for one role or all) and of every database
/// (`ALTER ROLE … SET`, `ALTER ROLE ALL SET`). Settings of other databases
/// never reach a session here.
pub(super) async fn read_raw(
    client: &impl GenericClient,
) -> Result<Vec<RawSetting>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT coalesce(r.rolname::text, '*'), coalesce(d.datname::text, '*'), kv \
             FROM pg_db_role_setting s \
             LEFT JOIN pg_roles r ON r.oid = s.setrole \
             LEFT JOIN pg_database d ON d.oid = s.setdatabase \
             CROSS JOIN LATERAL unnest(s.setconfig) AS kv \
             WHERE s.setdatabase = 0 \
                OR s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let (role, db, kv): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            let (name, raw) = kv.split_once('=')?;
            Some(RawSetting {
                key: format!("{role}@{db}:{name}"),
                name: name.to_string(),
                raw: raw.to_string(),
            })
        })
        .collect())
}

/// A stored value in the one spelling the plan uses: read the way the
/// server reads it, then shown as a session shows it (`of`, `false` and
/// `0` are `off`; `65536kB` and `64MB` are `64MB`; `1.10` is `1.1`). A
/// parameter the catalog does not know (an extension's, not loaded) or a
/// value it does not read stays as written.
pub fn normalize(catalog: &Catalog, name: &str, raw: &str) -> String {
    let Some(p) = catalog.get(name) else {
        return raw.to_string();
    };
    catalog
        .check(&p.name, &Value::from_text(raw))
        .map(|c| catalog.display(&p.name, &c.setting))
        .unwrap_or_else(|_| raw.to_string())
}

/// The application settings `plan` gives its scope, keyed and normalised
/// as the live ones.
pub fn planned(plan: &Plan) -> BTreeMap<String, String> {
    let scope = AppScope::of(plan);
    plan.app_settings
        .iter()
        .map(|s| {
            let shown = s
                .checked
                .as_ref()
                .map(|c| c.shown.clone())
                .unwrap_or_else(|| s.value.to_plain());
            (scope.key(&s.name), shown)
        })
        .collect()
}

/// SQL that gives `scope` exactly the settings saved for it: RESET ALL,
/// then one SET each. The role and database are quoted identifiers; a
/// setting name must look like one (it is read from a file) and the value
/// becomes a literal.
pub fn restore_sql(saved: &BTreeMap<String, String>, scope: &AppScope) -> Result<String, String> {
    use crate::render::{literal, quote_ident};
    let target = format!(
        "ALTER ROLE {} IN DATABASE {}",
        quote_ident(&scope.role),
        quote_ident(&scope.database)
    );
    let mut sql = format!("{target} RESET ALL;\n");
    for (key, value) in saved {
        let name = scope.setting(key).ok_or_else(|| {
            format!(
                "`{key}` is not a setting of {}, the only role settings estune restores",
                scope.describe()
            )
        })?;
        if !crate::profile::is_parameter_name(name) {
            return Err(format!("`{key}`: `{name}` is not a parameter name"));
        }
        let name = name
            .split('.')
            .map(quote_ident)
            .collect::<Vec<_>>()
            .join(".");
        sql.push_str(&format!("{target} SET {name} TO {};\n", literal(value)));
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> AppScope {
        AppScope {
            role: "eventstore".into(),
            database: "eventstore".into(),
        }
    }

    #[test]
    fn keys() {
        let s = scope();
        assert_eq!(
            s.key("enable_seqscan"),
            "eventstore@eventstore:enable_seqscan"
        );
        assert_eq!(
            s.setting("eventstore@eventstore:enable_seqscan"),
            Some("enable_seqscan")
        );
        for other in [
            "eventstore@*:enable_seqscan",
            "*@eventstore:enable_seqscan",
            "eventstore2@eventstore:enable_seqscan",
            "events.fillfactor",
        ] {
            assert_eq!(s.setting(other), None, "{other}");
        }
        assert_eq!(
            split_key("ann@example.com@eventstore:work_mem"),
            Some(("ann@example.com", "eventstore", "work_mem"))
        );
        assert_eq!(split_key("*@*:DateStyle"), Some(("*", "*", "DateStyle")));
        assert_eq!(split_key("events.fillfactor"), None);
    }

    #[test]
    fn stored_values_read_as_the_plan_writes_them() {
        let cat = Catalog::builtin(15).unwrap();
        let cases = [
            ("enable_seqscan", "of", "off"),
            ("enable_seqscan", "false", "off"),
            ("enable_seqscan", "0", "off"),
            ("enable_seqscan", "on", "on"),
            ("work_mem", "65536kB", "64MB"),
            ("work_mem", "65536", "64MB"),
            ("work_mem", "64MB", "64MB"),
            ("random_page_cost", "1.10", "1.1"),
            ("statement_timeout", "2000", "2s"),
            ("plan_cache_mode", "Force_Custom_Plan", "force_custom_plan"),
            ("DateStyle", "ISO, DMY", "ISO, DMY"),
            ("datestyle", "ISO, DMY", "ISO, DMY"),
            ("enable_seqscan", "maybe", "maybe"),
            ("auto_explain.log_min_duration", "10", "10"),
        ];
        for (name, raw, want) in cases {
            assert_eq!(normalize(&cat, name, raw), want, "{name}={raw}");
        }
    }

    #[test]
    fn restores_only_its_scope_with_quoted_names_and_literals() {
        let saved: BTreeMap<String, String> = [
            ("eventstore@eventstore:enable_seqscan", "off"),
            ("eventstore@eventstore:application_name", "it's"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sql = restore_sql(&saved, &scope()).unwrap();
        assert_eq!(
            sql,
            "ALTER ROLE \"eventstore\" IN DATABASE \"eventstore\" RESET ALL;\n\
             ALTER ROLE \"eventstore\" IN DATABASE \"eventstore\" SET \"application_name\" TO 'it''s';\n\
             ALTER ROLE \"eventstore\" IN DATABASE \"eventstore\" SET \"enable_seqscan\" TO 'off';\n"
        );
        assert_eq!(
            restore_sql(&BTreeMap::new(), &scope()).unwrap(),
            "ALTER ROLE \"eventstore\" IN DATABASE \"eventstore\" RESET ALL;\n"
        );
        let refused = [
            (
                "*@eventstore:enable_seqscan",
                "not a setting of role eventstore",
            ),
            ("eventstore@eventstore:a\"; DROP", "not a parameter name"),
        ];
        for (key, want) in refused {
            let one = BTreeMap::from([(key.to_string(), "x".to_string())]);
            let err = restore_sql(&one, &scope()).unwrap_err();
            assert!(err.contains(want), "{key}: {err}");
        }
    }
}
