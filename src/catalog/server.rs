//! Reading the catalog of a running server from `pg_settings`.

use super::tsv::Row;
use super::{CatalogError, Param};

const SETTINGS_SQL: &str = "SELECT name, vartype, unit, min_val, max_val, enumvals, context, \
     boot_val, category, short_desc FROM pg_settings ORDER BY name";

/// What a server says about itself.
pub(crate) struct Settings {
    pub major: u32,
    /// "15.18" (without the packager's suffix).
    pub version: String,
    pub params: Vec<Param>,
}

pub(crate) async fn read_settings(
    client: &tokio_postgres::Client,
    server: &str,
) -> Result<Settings, CatalogError> {
    let query_err = |source| CatalogError::Query {
        server: server.to_string(),
        source,
    };
    let version_row = client
        .query_one(
            "SELECT current_setting('server_version_num'), current_setting('server_version')",
            &[],
        )
        .await
        .map_err(query_err)?;
    let version_num: String = version_row.get(0);
    let full_version: String = version_row.get(1);
    let bad = |name: &str, reason: String| CatalogError::BadRow {
        server: server.to_string(),
        name: name.to_string(),
        reason,
    };
    let num: u32 = version_num.trim().parse().map_err(|_| {
        bad(
            "server_version_num",
            format!("`{version_num}` is not a number"),
        )
    })?;
    let rows = client.query(SETTINGS_SQL, &[]).await.map_err(query_err)?;
    let mut params = Vec::with_capacity(rows.len());
    for row in &rows {
        let text = |i: usize| -> Result<Option<String>, CatalogError> {
            row.try_get::<_, Option<String>>(i).map_err(query_err)
        };
        let name = text(0)?.unwrap_or_default();
        let cols: Vec<String> = [1, 2, 3, 4, 6, 7, 8, 9]
            .into_iter()
            .map(|i| text(i).map(Option::unwrap_or_default))
            .collect::<Result<_, _>>()?;
        let enumvals: Option<Vec<String>> = row.try_get(5).map_err(query_err)?;
        let param = Row {
            name: &name,
            vartype: &cols[0],
            unit: &cols[1],
            min_val: &cols[2],
            max_val: &cols[3],
            enumvals: enumvals.unwrap_or_default(),
            context: &cols[4],
            boot_val: &cols[5],
            category: &cols[6],
            short_desc: &cols[7],
        }
        .into_param()
        .map_err(|reason| bad(&name, reason))?;
        params.push(param);
    }
    Ok(Settings {
        major: major_of(num),
        version: short_version(&full_version),
        params,
    })
}

/// 150018 → 15, 180006 → 18 (and 90624 → 9 for releases before 10).
fn major_of(version_num: u32) -> u32 {
    version_num / 10_000
}

/// "15.18 (Debian 15.18-0+deb12u1)" → "15.18".
pub(crate) fn short_version(full: &str) -> String {
    full.split_whitespace().next().unwrap_or(full).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(major_of(150018), 15);
        assert_eq!(major_of(180006), 18);
        assert_eq!(short_version("15.18 (Debian 15.18-0+deb12u1)"), "15.18");
        assert_eq!(short_version("18.6"), "18.6");
    }
}
