//! What the measured pair was: each server's version, planned memory,
//! settings not at their default and the catalog tuning of the event
//! store, plus the profile a managed cluster last applied. Read after the
//! run, so it describes what the run measured.

use super::{Pair, CONNECT};
use crate::bench::{ServerInfo, Target};
use std::collections::BTreeMap;
use tokio_postgres::Client;

/// Settings that say where this pair lives (ports, paths, connection
/// strings, locale of messages), not how it is tuned: two pairs with the
/// same tuning differ in them, so a settings diff leaves them out.
const PLACE: &[&str] = &[
    "archive_command",
    "cluster_name",
    "config_file",
    "data_directory",
    "external_pid_file",
    "hba_file",
    "ident_file",
    "krb_server_keyfile",
    "lc_messages",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "listen_addresses",
    "log_directory",
    "log_filename",
    "log_timezone",
    "port",
    "primary_conninfo",
    "primary_slot_name",
    "restore_command",
    "ssl_cert_file",
    "ssl_key_file",
    "TimeZone",
    "DateStyle",
    "default_text_search_config",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
];

/// Describes both servers of the pair (the replica when there is one).
pub async fn describe(pair: &Pair) -> anyhow::Result<Target> {
    let ep = &pair.endpoints;
    let m = pair.managed.as_ref();
    let mut servers = Vec::new();
    for (i, role) in ["primary", "replica"].into_iter().enumerate() {
        let Some(url) = &ep.admin[i] else { continue };
        let c = crate::db::connect(url, CONNECT).await?;
        let memory = m.and_then(|m| m.memory[i]);
        servers.push(
            server(&c, role, memory)
                .await
                .map_err(|e| anyhow::anyhow!("{role} ({}): {e}", crate::db::server_label(url)))?,
        );
    }
    Ok(Target {
        cluster: m.map(|m| m.cluster.clone()),
        backend: m.map(|m| m.backend.clone()),
        profile: m.map(|m| m.profile.clone()),
        plan_hash: m.map(|m| m.plan_hash.clone()),
        servers,
    })
}

async fn server(c: &Client, role: &str, memory: Option<u64>) -> anyhow::Result<ServerInfo> {
    let row = c
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
            &[],
        )
        .await?;
    let version: String = row.get(0);
    let num: i32 = row.get(1);
    let place: Vec<String> = PLACE.iter().map(|s| s.to_lowercase()).collect();
    // The session's own settings (client, session, override) are not the
    // server's tuning.
    let settings = c
        .query(
            "SELECT name, current_setting(name) FROM pg_settings
              WHERE source NOT IN ('default', 'override', 'client', 'session')
                AND lower(name) <> ALL($1)
              ORDER BY name",
            &[&place],
        )
        .await?
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let mut catalog = crate::apply::catalog::live(c).await?;
    catalog.extend(role_settings(c).await?);
    Ok(ServerInfo {
        role: role.to_string(),
        version,
        major: (num / 10_000) as u32,
        memory_bytes: memory,
        settings,
        catalog,
    })
}

/// `ALTER ROLE … [IN DATABASE …] SET` and `ALTER DATABASE … SET`, keyed
/// `role@database:setting` (`*` for all roles or all databases).
async fn role_settings(c: &Client) -> anyhow::Result<BTreeMap<String, String>> {
    let rows = c
        .query(
            "SELECT coalesce(r.rolname, '*'), coalesce(d.datname, '*'), unnest(s.setconfig)
               FROM pg_db_role_setting s
               LEFT JOIN pg_roles r ON r.oid = s.setrole
               LEFT JOIN pg_database d ON d.oid = s.setdatabase",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let (role, db, kv): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            let (k, v) = kv.split_once('=')?;
            Some((format!("{role}@{db}:{k}"), v.to_string()))
        })
        .collect())
}
