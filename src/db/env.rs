//! libpq's defaults, which tokio-postgres does not apply: PGHOST, PGPORT,
//! PGUSER, PGDATABASE, PGPASSWORD, PGAPPNAME, PGCONNECT_TIMEOUT and the
//! password file (PGPASSFILE or ~/.pgpass), for whatever the connection
//! string leaves out. The environment is passed in, so tests need no real one.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;
use tokio_postgres::config::Host;
use tokio_postgres::Config;

pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

fn host_string(config: &Config) -> Option<String> {
    config.get_hosts().first().map(|h| match h {
        Host::Tcp(s) => s.clone(),
        Host::Unix(p) => p.display().to_string(),
    })
}

/// One line of a password file matches when every field equals or is `*`.
fn pgpass_lookup(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let want = [
        host.to_string(),
        port.to_string(),
        db.to_string(),
        user.to_string(),
    ];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            // Fields are separated by ':'; '\:' and '\\' are escapes.
            let mut fields = vec![String::new()];
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => fields.last_mut()?.push(chars.next()?),
                    ':' if fields.len() < 5 => fields.push(String::new()),
                    c => fields.last_mut()?.push(c),
                }
            }
            (fields.len() == 5
                && fields[..4]
                    .iter()
                    .zip(&want)
                    .all(|(f, w)| f == "*" || f == w))
            .then(|| fields[4].clone())
        })
}

/// Fills what the connection string left unset, as libpq would.
pub fn apply_defaults(config: &mut Config, env: Env) {
    if config.get_hosts().is_empty() {
        let hosts = env("PGHOST").unwrap_or_else(|| "127.0.0.1".into());
        for h in hosts.split(',') {
            config.host(h.trim());
        }
    }
    if config.get_ports().is_empty() {
        if let Some(p) = env("PGPORT").and_then(|p| p.parse().ok()) {
            config.port(p);
        }
    }
    if config.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::geteuid())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .unwrap_or_else(|| "postgres".into());
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        if let Some(db) = env("PGDATABASE") {
            config.dbname(&db);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name(env("PGAPPNAME").unwrap_or_else(|| "estune".into()));
    }
    if config.get_connect_timeout().is_none() {
        if let Some(s) = env("PGCONNECT_TIMEOUT").and_then(|s| s.parse::<u64>().ok()) {
            config.connect_timeout(Duration::from_secs(s));
        }
    }
    if config.get_password().is_none() {
        if let Some(pw) = env("PGPASSWORD") {
            config.password(pw);
        } else if let Some(pw) = password_file(config, env) {
            config.password(pw);
        }
    }
}

fn password_file(config: &Config, env: Env) -> Option<String> {
    let path = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    // libpq ignores a password file that others can read.
    let meta = std::fs::metadata(&path).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let user = config.get_user()?;
    let db = config.get_dbname().unwrap_or(user);
    let port = config.get_ports().first().copied().unwrap_or(5432);
    pgpass_lookup(&text, &host_string(config)?, port, db, user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_matching() {
        let file =
            "# comment\n127.0.0.1:5433:*:app:secret\n*:*:*:postgres:su\\:per\nother:1:db:u:x\n";
        let cases: &[(&str, u16, &str, &str, Option<&str>)] = &[
            ("127.0.0.1", 5433, "eventstore", "app", Some("secret")),
            ("127.0.0.1", 5434, "eventstore", "app", None),
            ("10.0.0.1", 9, "x", "postgres", Some("su:per")),
            ("other", 1, "db", "nobody", None),
        ];
        for (h, p, d, u, want) in cases {
            assert_eq!(
                pgpass_lookup(file, h, *p, d, u).as_deref(),
                *want,
                "{h}:{p}:{d}:{u}"
            );
        }
    }

    #[test]
    fn environment_fills_the_gaps_only() {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pgpass");
        std::fs::write(&pass, "db.example:6000:events:alice:from-file\n").unwrap();
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        let pass_s = pass.display().to_string();
        let vars = [
            ("PGHOST", "db.example"),
            ("PGPORT", "6000"),
            ("PGUSER", "alice"),
            ("PGDATABASE", "events"),
            ("PGPASSFILE", pass_s.as_str()),
            ("PGCONNECT_TIMEOUT", "7"),
        ];
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };

        let mut c: Config = "".parse().unwrap();
        apply_defaults(&mut c, &env);
        assert_eq!(host_string(&c).as_deref(), Some("db.example"));
        assert_eq!(c.get_ports(), &[6000]);
        assert_eq!(c.get_user(), Some("alice"));
        assert_eq!(c.get_dbname(), Some("events"));
        assert_eq!(c.get_password(), Some(&b"from-file"[..]));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(7)));
        assert_eq!(c.get_application_name(), Some("estune"));

        // What the string says wins.
        let mut c: Config = "postgresql://bob:pw@127.0.0.1:5433/other".parse().unwrap();
        apply_defaults(&mut c, &env);
        assert_eq!((c.get_user(), c.get_dbname()), (Some("bob"), Some("other")));
        assert_eq!(c.get_password(), Some(&b"pw"[..]));
        assert_eq!(c.get_ports(), &[5433]);

        // A password file others can read is ignored, as by libpq.
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut c: Config = "".parse().unwrap();
        apply_defaults(&mut c, &env);
        assert_eq!(c.get_password(), None);
    }
}
