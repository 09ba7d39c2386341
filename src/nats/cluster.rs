//! A managed cluster of nats-server nodes with clustered JetStream, built from
//! [`ManagedServer`]s.
//!
//! Owns [`ManagedCluster`]. Every node is a managed server (127.0.0.1 only, its own temporary
//! directory and JetStream store, tied to this process) with the server name `n<i>`, the same
//! generated credentials (clients and routes), one cluster name, a random client and monitoring
//! port read back from its ports file, and a route port. JetStream clustering refuses to start
//! a node without configured routes, so a node cannot come up alone on a random route port and
//! have the others follow: the route ports are picked first (bound together on 127.0.0.1:0 and
//! released), every node gets routes to all of them, and the nodes start at once. If another
//! process takes one of those ports in between, that node fails with "address already in use"
//! and the whole start is retried with fresh ports. docs/faults.md describes ports, names, the
//! seed list, restarts and the meta-leader lookup.
//!
//! - [`monitor`]: the pure side of `/jsz` and `/routez` (parsing, leader, readiness).

pub mod monitor;

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::args::{ClusterNodeSpec, LISTEN_HOST};
use super::credentials::Credentials;
use super::resolve::ServerBinary;
use super::supervisor::{ManagedServer, ServerOptions, SupervisorError};
use monitor::NodeView;

/// How long [`ManagedCluster::wait_ready`] waits by default.
pub const DEFAULT_CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts of a start whose route ports were taken by another process meanwhile.
pub const START_ATTEMPTS: usize = 3;

const MONITOR_TIMEOUT: Duration = Duration::from_secs(1);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Tuning of a managed cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// The cluster name; `None` is `parti-top-<pid>`.
    pub cluster_name: Option<String>,
    /// Extra nats-server arguments for every node, appended last.
    pub extra_args: Vec<String>,
    /// Start deadline of each node; `None` is the supervisor's default.
    pub ready_timeout: Option<Duration>,
    /// Deadline of [`ManagedCluster::wait_ready`]; `None` is [`DEFAULT_CLUSTER_READY_TIMEOUT`].
    pub cluster_ready_timeout: Option<Duration>,
    /// SIGTERM-to-SIGKILL grace period of a node's stop; `None` is the supervisor's default.
    pub grace_period: Option<Duration>,
}

/// Why an operation on a running cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
    #[error("no node {index}: the cluster has {count}")]
    NoSuchNode { index: usize, count: usize },
    #[error("cannot find the JetStream meta leader: {0}")]
    NoMetaLeader(String),
    #[error("the cluster was not ready after {after:?}: {why}")]
    NotReady { after: Duration, why: String },
}

/// A supervised cluster of nats-server nodes (see the module docs).
#[derive(Debug)]
pub struct ManagedCluster {
    nodes: Vec<ManagedServer>,
    names: Vec<String>,
    route_ports: Vec<u16>,
    cluster_name: String,
    credentials: Credentials,
    opts: ClusterOptions,
}

/// The server name of node `index`.
pub fn node_name(index: usize) -> String {
    format!("n{index}")
}

impl ManagedCluster {
    /// Starts `n` nodes and returns once each answers its health check (JetStream enabled).
    /// The meta group forms after that: call [`Self::wait_ready`] before using JetStream. On
    /// failure nothing is left behind.
    pub async fn start(
        bin: &ServerBinary,
        n: usize,
        opts: ClusterOptions,
    ) -> Result<Self, SupervisorError> {
        if n == 0 {
            return Err(SupervisorError::Io {
                action: "cannot start a cluster".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a cluster needs at least one node",
                ),
            });
        }
        let credentials = Credentials::generate();
        let cluster_name = opts
            .cluster_name
            .clone()
            .unwrap_or_else(|| format!("parti-top-{}", std::process::id()));
        let names: Vec<String> = (0..n).map(node_name).collect();
        let mut attempt = 1;
        loop {
            let route_ports = free_loopback_ports(n).map_err(|source| SupervisorError::Io {
                action: "cannot pick route ports on 127.0.0.1".into(),
                source,
            })?;
            let starts = (0..n).map(|i| {
                let options = ServerOptions {
                    extra_args: opts.extra_args.clone(),
                    ready_timeout: opts.ready_timeout,
                    grace_period: opts.grace_period,
                    credentials: Some(credentials.clone()),
                    server_name: Some(names[i].clone()),
                    cluster: Some(ClusterNodeSpec {
                        cluster_name: cluster_name.clone(),
                        route_port: route_ports[i],
                        route_ports: route_ports.clone(),
                    }),
                };
                ManagedServer::start(bin, options)
            });
            // On the first failure the other starts are dropped, which kills their servers
            // and removes their directories.
            match futures::future::try_join_all(starts).await {
                Ok(nodes) => {
                    return Ok(Self {
                        nodes,
                        names,
                        route_ports,
                        cluster_name,
                        credentials,
                        opts,
                    });
                }
                Err(err) if attempt < START_ATTEMPTS && is_port_clash(&err) => {
                    tracing::warn!("a route port was taken meanwhile; starting again: {err}");
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The client URL of every node, in node order: a client's seed list. A node keeps its
    /// URL across restarts.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url().to_owned()).collect()
    }

    /// The seed list as one comma-separated string, the form of the NATS tools' `--server` and
    /// `NATS_URL`. async-nats does not split a string on commas: give it [`Self::seed_urls`].
    pub fn seed_list(&self) -> String {
        self.seed_urls().join(",")
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `index`, for its URLs, pid and directories.
    pub fn node(&self, index: usize) -> Option<&ManagedServer> {
        self.nodes.get(index)
    }

    /// The server names, in node order (`n0`, `n1`, ...).
    pub fn node_names(&self) -> &[String] {
        &self.names
    }

    /// The route port of every node, in node order.
    pub fn route_ports(&self) -> &[u16] {
        &self.route_ports
    }

    pub fn cluster_name(&self) -> &str {
        &self.cluster_name
    }

    /// The credentials every node accepts.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The pids of the running nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(ManagedServer::pid).collect()
    }

    /// Every node's temporary directory (config, ports file, store).
    pub fn temp_dirs(&self) -> Vec<PathBuf> {
        self.nodes
            .iter()
            .map(|n| n.temp_dir().to_path_buf())
            .collect()
    }

    fn node_mut(&mut self, index: usize) -> Result<&mut ManagedServer, ClusterError> {
        let count = self.nodes.len();
        self.nodes
            .get_mut(index)
            .ok_or(ClusterError::NoSuchNode { index, count })
    }

    /// Whether node `index` runs (reaps it if it exited).
    pub fn is_node_running(&mut self, index: usize) -> bool {
        self.nodes.get_mut(index).is_some_and(|n| n.is_running())
    }

    /// SIGKILL to node `index`, as a crash would; its store stays.
    pub async fn kill_node(&mut self, index: usize) -> Result<(), ClusterError> {
        self.node_mut(index)?.kill().await;
        Ok(())
    }

    /// Stops node `index` (SIGTERM, then SIGKILL after the grace period); its store stays.
    pub async fn stop_node(&mut self, index: usize) -> Result<(), ClusterError> {
        Ok(self.node_mut(index)?.stop().await?)
    }

    /// Starts node `index` again (stopping it first if it runs) with the same server name,
    /// store, credentials, route port, client port and monitoring port, so it rejoins with its
    /// data and its seed URL stays valid.
    pub async fn restart_node(&mut self, index: usize) -> Result<(), ClusterError> {
        Ok(self.node_mut(index)?.restart().await?)
    }

    /// What each node reports now; `None` for a node that is down or does not answer.
    async fn views(&self) -> Vec<Option<NodeView>> {
        let mut views = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            // A node that died unnoticed still has a pid; it does not answer either.
            let port = node.pid().and_then(|_| monitor_port(node.monitor_url()));
            views.push(match port {
                Some(port) => node_view(port).await.ok(),
                None => None,
            });
        }
        views
    }

    /// The index of the node holding the JetStream meta leadership: the one whose `/jsz`
    /// names itself as `meta_cluster.leader`.
    pub async fn meta_leader(&self) -> Result<usize, ClusterError> {
        let views = self.views().await;
        monitor::meta_leader(&self.names, &views).map_err(ClusterError::NoMetaLeader)
    }

    /// Waits until every node runs and is routed to every other, and the meta leader counts
    /// all nodes as current peers; returns the meta leader's index.
    pub async fn wait_ready(&self) -> Result<usize, ClusterError> {
        let timeout = self
            .opts
            .cluster_ready_timeout
            .unwrap_or(DEFAULT_CLUSTER_READY_TIMEOUT);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let views = self.views().await;
            let why = match monitor::cluster_ready(&self.names, &views) {
                Ok(leader) => return Ok(leader),
                Err(why) => why,
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::NotReady {
                    after: timeout,
                    why,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Stops every node and removes their temporary directories; reports the first failure
    /// after trying them all.
    pub async fn shutdown(self) -> Result<(), SupervisorError> {
        let results = futures::future::join_all(self.nodes.into_iter().map(|n| n.shutdown())).await;
        results.into_iter().collect()
    }
}

/// Whether a start failed because a listening port was taken.
fn is_port_clash(err: &SupervisorError) -> bool {
    match err {
        SupervisorError::ExitedDuringStartup { stderr_tail, .. } => {
            stderr_tail.contains("address already in use")
        }
        _ => false,
    }
}

/// `count` distinct free ports on 127.0.0.1: all bound at once (so they differ), then released
/// for the servers to bind.
fn free_loopback_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind((LISTEN_HOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// The port of `http://127.0.0.1:PORT`.
fn monitor_port(monitor_url: &str) -> Option<u16> {
    monitor_url
        .rsplit(':')
        .next()?
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// `/jsz` and `/routez` of the node whose monitoring port is `port`.
async fn node_view(port: u16) -> Result<NodeView, String> {
    let jsz = http_get(port, "/jsz").await?;
    let routez = http_get(port, "/routez").await?;
    Ok(NodeView {
        meta: monitor::parse_jsz(&jsz)?,
        routed_to: monitor::parse_routez(&routez)?,
    })
}

/// The body of `GET path` on 127.0.0.1:`port`, over a plain TCP stream.
async fn http_get(port: u16, path: &str) -> Result<Vec<u8>, String> {
    let exchange = async {
        let mut stream = TcpStream::connect((LISTEN_HOST, port))
            .await
            .map_err(|err| err.to_string())?;
        stream
            .write_all(&monitor::get_request(path))
            .await
            .map_err(|err| err.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|err| err.to_string())?;
        monitor::ok_body(&response).map(<[u8]>::to_vec)
    };
    tokio::time::timeout(MONITOR_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{path}: no answer within {MONITOR_TIMEOUT:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_nonzero() {
        let ports = free_loopback_ports(5).expect("ports");
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 5);
        assert!(ports.iter().all(|p| *p != 0));
    }

    #[test]
    fn monitor_ports_and_port_clashes() {
        assert_eq!(monitor_port("http://127.0.0.1:8222"), Some(8222));
        assert_eq!(monitor_port("http://127.0.0.1:8222/"), Some(8222));
        assert_eq!(monitor_port(""), None);
        let clash = SupervisorError::ExitedDuringStartup {
            status: "exit status: 1".into(),
            stderr_tail: "  [FTL] Error listening on router port: 127.0.0.1:6222, \
                          listen tcp 127.0.0.1:6222: bind: address already in use"
                .into(),
        };
        assert!(is_port_clash(&clash));
        let other = SupervisorError::ExitedDuringStartup {
            status: "exit status: 1".into(),
            stderr_tail: "  [FTL] Can't start JetStream".into(),
        };
        assert!(!is_port_clash(&other));
        assert_eq!(node_name(2), "n2");
    }
}
