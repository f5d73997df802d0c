use super::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

#[test]
fn labels_never_show_the_password() {
    let cases = [
        (
            "postgresql://app:s3cret@127.0.0.1:5433/events",
            "127.0.0.1:5433/events",
        ),
        (
            "postgres://app:s3cret@db.example/events",
            "db.example:5432/events",
        ),
        (
            "host=127.0.0.1 port=5434 user=app password=s3cret dbname=events",
            "127.0.0.1:5434/events",
        ),
        ("host=127.0.0.1 user=app", "127.0.0.1:5432/app"),
        (
            "host=/var/run/postgresql port=5433 user=postgres",
            "/var/run/postgresql:5433/postgres",
        ),
        ("host=a,b port=5432,5433 user=u dbname=d", "a:5432,b:5433/d"),
        ("postgresql://u@[::1]:5432/d", "[::1]:5432/d"),
        ("user=u password=s3cret", "localhost:5432/u"),
        (
            "postgresql://u:s3cret@h:notaport/d",
            "(unreadable connection string)",
        ),
    ];
    for (dsn, want) in cases {
        let label = server_label(dsn);
        assert_eq!(label, want, "{dsn}");
        assert!(!label.contains("s3cret"));
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn connect_now(dsn: &str, timeout: Duration) -> Result<Client, DbError> {
    rt().block_on(connect(dsn, timeout))
}

#[test]
fn bad_connection_strings() {
    let err =
        connect_now("postgresql://u:s3cret@h:notaport/d", Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, DbError::BadDsn { .. }), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let err = connect_now("nonsense=1", Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, DbError::BadDsn { .. }), "{err}");
}

#[test]
fn refused() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dsn = format!("postgresql://u:p@127.0.0.1:{port}/d");
    let err = connect_now(&dsn, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, DbError::Refused { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}/d")),
        "{err}"
    );
}

#[test]
fn missing_unix_socket_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dsn = format!("host={} port=5432 user=u", dir.path().display());
    let err = connect_now(&dsn, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, DbError::Refused { .. }), "{err}");
}

/// A listener that accepts and then never says anything.
#[test]
fn silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let dsn = format!("host=127.0.0.1 port={port} user=u");
    let started = std::time::Instant::now();
    let err = connect_now(&dsn, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, DbError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(holder.join());
}

/// Plays just enough of the protocol to refuse a login with `sqlstate`.
fn refusing_server(sqlstate: &'static str, message: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let mut first = read_message(&mut s);
        // SSLRequest: decline, then the startup message follows.
        if first.get(4..8) == Some(&80877103u32.to_be_bytes()[..]) {
            let _ = s.write_all(b"N");
            first = read_message(&mut s);
        }
        drop(first);
        let mut body = Vec::new();
        for (field, value) in [
            (b'S', "FATAL"),
            (b'V', "FATAL"),
            (b'C', sqlstate),
            (b'M', message),
        ] {
            body.push(field);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = vec![b'E'];
        msg.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        msg.extend_from_slice(&body);
        let _ = s.write_all(&msg);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    port
}

/// A length-prefixed message without a type byte (startup-phase format).
fn read_message(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    if s.read_exact(&mut len).is_err() {
        return Vec::new();
    }
    let mut rest = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
    let _ = s.read_exact(&mut rest);
    [len.to_vec(), rest].concat()
}

#[test]
fn rejected_logins_are_auth_failures() {
    for code in ["28P01", "28000"] {
        let port = refusing_server(code, "password authentication failed for user \"app\"");
        let dsn = format!("postgresql://app:wrong@127.0.0.1:{port}/events");
        let err = connect_now(&dsn, Duration::from_secs(2)).unwrap_err();
        match &err {
            DbError::Auth { server, user, .. } => {
                assert_eq!(
                    (server.as_str(), user.as_str()),
                    (format!("127.0.0.1:{port}/events").as_str(), "app")
                );
            }
            other => panic!("{code}: {other}"),
        }
        assert!(
            err.to_string().contains("password authentication failed"),
            "{err}"
        );
        assert!(!err.to_string().contains("wrong"), "{err}");
    }
    let port = refusing_server("3D000", "database \"events\" does not exist");
    let err = connect_now(
        &format!("postgresql://app@127.0.0.1:{port}/events"),
        Duration::from_secs(2),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DbError::Server { code, .. } if code == "3D000"),
        "{err}"
    );
}
