//! Reaching the Docker Engine, and turning bollard's errors into
//! `ClusterError`s that say which call on which object failed.

use crate::cluster::ClusterError;
use bollard::{ClientVersion, Docker};
use std::time::Duration;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The API version estune speaks: Docker 20.10's. bollard's default is
/// newer, and engines refuse clients newer than themselves (even for
/// version negotiation), while newer engines accept older clients.
const API_VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// For ordinary calls, which answer at once.
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// For calls that last as long as the work they wait for: a one-off
/// container's initdb or base backup of a large primary, a fast shutdown.
const LONG_REQUEST_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection to one engine: `api` for ordinary calls, `long` (the same
/// connection with a long timeout) for calls that wait for work to finish.
#[derive(Debug, Clone)]
pub struct Engine {
    pub api: Docker,
    pub long: Docker,
    pub host: String,
}

impl Engine {
    /// Connects and pings, so an engine that is down is reported here,
    /// naming the socket, rather than at the first real call.
    pub async fn connect(host: &str) -> Result<Engine, ClusterError> {
        let engine = Engine::new(host)?;
        ping(&engine.api, host).await?;
        Ok(engine)
    }

    /// Without talking to the engine (a missing socket is still noticed).
    pub fn new(host: &str) -> Result<Engine, ClusterError> {
        let api = client(host)?;
        let long = api.clone().with_timeout(LONG_REQUEST_TIMEOUT);
        Ok(Engine {
            api,
            long,
            host: host.to_string(),
        })
    }
}

/// The engine address to use: DOCKER_HOST, else the standard socket.
pub fn default_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// A client for `host` (`unix:///path`, a bare socket path, or
/// `tcp://host:port`); does no I/O.
pub fn client(host: &str) -> Result<Docker, ClusterError> {
    let unreachable = |reason: String| ClusterError::EngineUnreachable {
        socket: host.to_string(),
        reason,
    };
    let result = if host.starts_with("unix://") || host.starts_with('/') {
        Docker::connect_with_unix(host, REQUEST_TIMEOUT_SECS, &API_VERSION)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, REQUEST_TIMEOUT_SECS, &API_VERSION)
    } else {
        return Err(unreachable(
            "estune speaks to the engine through unix:// or tcp:// addresses only".into(),
        ));
    };
    result.map_err(|e| match e {
        bollard::errors::Error::SocketNotFoundError(_) => unreachable("no such socket".into()),
        other => unreachable(other.to_string()),
    })
}

/// Checks that the engine answers, within a few seconds.
pub async fn ping(docker: &Docker, host: &str) -> Result<(), ClusterError> {
    let unreachable = |reason: String| ClusterError::EngineUnreachable {
        socket: host.to_string(),
        reason,
    };
    match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            PING_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Ok(Ok(_)) => Ok(()),
    }
}

/// Maps the error of one Docker call: "failed to {action} {object}: …".
pub fn docker_error(
    action: &'static str,
    object: impl Into<String>,
) -> impl FnOnce(bollard::errors::Error) -> ClusterError {
    let object = object.into();
    move |source| ClusterError::Docker {
        action,
        object,
        source,
    }
}

pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// A 409 from create: an object of that name exists already.
pub fn is_conflict(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_schemes_name_the_address() {
        let err = client("ssh://somewhere").err().map(|e| e.to_string());
        let msg = err.unwrap_or_default();
        assert!(msg.contains("ssh://somewhere"), "{msg}");
    }

    #[test]
    fn a_missing_socket_is_unreachable_not_a_crash() {
        match client("unix:///nonexistent/estune.sock") {
            Err(ClusterError::EngineUnreachable { socket, reason }) => {
                assert_eq!(socket, "unix:///nonexistent/estune.sock");
                assert_eq!(reason, "no such socket");
            }
            other => panic!("expected EngineUnreachable, got {other:?}"),
        }
    }
}
