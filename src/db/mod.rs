//! Connecting to PostgreSQL with tokio-postgres, from a libpq URL or a
//! key=value string, with errors that name the server and tell a refused
//! connection, a rejected login and a silent host apart.

mod env;

pub use env::apply_defaults;

use std::io;
use std::time::Duration;
use thiserror::Error;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

#[derive(Debug, Error)]
pub enum DbError {
    #[error("invalid connection string: {reason}. Write it as postgresql://user:password@host:port/dbname or as key=value pairs (host=... port=... user=... dbname=...)")]
    BadDsn { reason: String },
    #[error("cannot connect to {server}: connection refused. Is PostgreSQL running and listening there? Check the host and port, listen_addresses and any firewall")]
    Refused {
        server: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("{server} rejected the login of user `{user}`: {message}. Check the user name and password in the connection string, and pg_hba.conf on the server")]
    Auth {
        server: String,
        user: String,
        message: String,
    },
    #[error("no answer from {server} within {}s. Check that the host is reachable and the port is PostgreSQL's", .after.as_secs_f64())]
    Timeout { server: String, after: Duration },
    #[error("{server} refused the connection: {message} (SQLSTATE {code})")]
    Server {
        server: String,
        code: String,
        message: String,
    },
    #[error("cannot connect to {server}")]
    Other {
        server: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Opens a connection (without TLS) and drives it on a spawned task.
/// What the string leaves out comes from PG* variables and the password
/// file, as with libpq. `timeout` bounds the whole attempt, and is the
/// per-host connect_timeout unless the connection string sets one.
pub async fn connect(dsn: &str, timeout: Duration) -> Result<Client, DbError> {
    let mut config: Config = dsn
        .parse()
        .map_err(|e: tokio_postgres::Error| DbError::BadDsn {
            reason: e.to_string(),
        })?;
    env::apply_defaults(&mut config, &env::process_env);
    let server = label_of(&config);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(timeout);
    }
    let (client, connection) = match tokio::time::timeout(timeout, config.connect(NoTls)).await {
        Err(_) => {
            return Err(DbError::Timeout {
                server,
                after: timeout,
            })
        }
        Ok(Err(e)) => return Err(classify(server, config.get_user(), timeout, e)),
        Ok(Ok(pair)) => pair,
    };
    // A broken connection shows up as an error on the client's next query,
    // which is where the caller can name what it was doing.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn classify(
    server: String,
    user: Option<&str>,
    after: Duration,
    e: tokio_postgres::Error,
) -> DbError {
    let user = user.unwrap_or("(none)").to_string();
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return DbError::Auth {
                server,
                user,
                message: db.message().to_string(),
            };
        }
        return DbError::Server {
            server,
            code: code.code().to_string(),
            message: db.message().to_string(),
        };
    }
    // tokio-postgres reports a password request it cannot answer only by
    // this message (a configuration error, not a server one).
    if e.to_string().contains("password missing") {
        let message =
            "the server asks for a password and the connection string has none".to_string();
        return DbError::Auth {
            server,
            user,
            message,
        };
    }
    match io_kind(&e) {
        // NotFound: no socket file, i.e. nothing listening on a Unix socket.
        Some(io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound) => {
            DbError::Refused { server, source: e }
        }
        Some(io::ErrorKind::TimedOut) => DbError::Timeout { server, after },
        _ => DbError::Other { server, source: e },
    }
}

fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cause = c.source();
    }
    None
}

/// host:port/dbname for messages and reports; never the password.
pub fn server_label(dsn: &str) -> String {
    match dsn.parse::<Config>() {
        Ok(config) => label_of(&config),
        Err(_) => "(unreadable connection string)".to_string(),
    }
}

fn label_of(config: &Config) -> String {
    let ports = config.get_ports();
    let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| match h {
            Host::Tcp(name) if name.contains(':') => format!("[{name}]:{}", port(i)),
            Host::Tcp(name) => format!("{name}:{}", port(i)),
            Host::Unix(path) => format!("{}:{}", path.display(), port(i)),
        })
        .collect();
    let hosts = if hosts.is_empty() {
        format!("localhost:{}", port(0))
    } else {
        hosts.join(",")
    };
    // Like libpq, the database defaults to the user name.
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{hosts}/{db}")
}

#[cfg(test)]
mod tests;
