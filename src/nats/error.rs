//! [`NatsError`]: every way finding, installing, starting or reaching a nats-server can fail,
//! as one type for the module's callers. Each variant keeps the message of the error it wraps,
//! word for word; the application boundary (`crate::error`) turns it into an exit code.

use super::client::ConnectError;
use super::resolve::ResolveError;
use super::supervisor::SupervisorError;

/// Why the nats module could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// No usable nats-server binary was found or installed.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// A managed server could not be started, stopped or restarted.
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
    /// A client could not connect.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The blocking task that looks for (or installs) the binary did not finish.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    /// A managed cluster started but did not become ready, or a node operation failed.
    #[error("nats cluster: {0}")]
    Cluster(String),
}

impl From<super::cluster::ClusterError> for NatsError {
    fn from(err: super::cluster::ClusterError) -> Self {
        NatsError::Cluster(err.to_string())
    }
}

/// A ports file that does not (yet) name both listening addresses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PortsFileError {
    #[error("not the expected JSON: {0}")]
    Json(String),
    #[error("no client (\"nats\") address")]
    NoClient,
    #[error("no \"monitoring\" address")]
    NoMonitoring,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn messages_are_those_of_the_wrapped_errors() {
        let source = ConnectError::TlsPair {
            url: "nats://127.0.0.1:4222".into(),
        };
        let expected = source.to_string();
        assert_eq!(NatsError::from(source).to_string(), expected);
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let source = SupervisorError::Io {
            action: format!("cannot read {}", PathBuf::from("/x").display()),
            source: io,
        };
        assert_eq!(
            NatsError::from(source).to_string(),
            "cannot read /x: denied"
        );
        assert_eq!(
            PortsFileError::NoClient.to_string(),
            "no client (\"nats\") address"
        );
    }
}
