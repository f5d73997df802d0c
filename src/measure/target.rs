//! What the measured pair was: each server's version, planned memory,
//! settings not at their default and the catalog tuning of the event
//! store, plus the profile a managed cluster last applied. Read after the
//! run, so it describes what the run measured.

use super::{Pair, CONNECT};
use crate::bench::{ServerInfo, Target};
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
    // The event store's catalog tuning and every role setting that can
    // reach a session in this database (the application role's, which a
    // profile owns, and those of wider scopes, which can change what the
    // run measured as much), read and normalised as apply and health do.
    let catalog = crate::apply::catalog::live(c).await?;
    Ok(ServerInfo {
        role: role.to_string(),
        version,
        major: (num / 10_000) as u32,
        memory_bytes: memory,
        settings,
        catalog,
    })
}
