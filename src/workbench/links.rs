//! The hosts' links to a managed NATS: one fault proxy per host, in the controller, between the
//! host's workers and the server (or every node of a cluster). A host's control connection
//! goes direct, so cutting a link cuts the workers off NATS while the host itself stays
//! reachable. `CutLink` and `SlowLink` act on these proxies (docs/faults.md).

use std::net::SocketAddr;
use std::time::Duration;

use crate::netfault::{LinkControl, LinkProxy, LinkStats, socket_addr_of_url};

/// One proxy per host, by host number.
pub struct Links {
    proxies: Vec<LinkProxy>,
}

impl Links {
    /// Start a proxy per host forwarding to `servers` (client URLs; a cluster's seed list).
    pub async fn start(hosts: u32, servers: &[String]) -> Result<Links, String> {
        let upstreams: Vec<SocketAddr> = servers
            .iter()
            .map(|url| {
                socket_addr_of_url(url)
                    .ok_or_else(|| format!("cannot proxy {url}: not a host:port address"))
            })
            .collect::<Result<_, _>>()?;
        let mut proxies = Vec::new();
        for host in 0..hosts {
            match LinkProxy::start_multi(upstreams.clone()).await {
                Ok(proxy) => proxies.push(proxy),
                Err(err) => {
                    Links { proxies }.shutdown().await;
                    return Err(format!("cannot start the link proxy of host {host}: {err}"));
                }
            }
        }
        Ok(Links { proxies })
    }

    /// The URL host `host`'s workers connect to.
    pub fn url(&self, host: u32) -> Option<String> {
        self.proxies.get(host as usize).map(LinkProxy::url)
    }

    /// The control of host `host`'s link.
    pub fn control(&self, host: u32) -> Option<LinkControl> {
        self.proxies.get(host as usize).map(LinkProxy::control)
    }

    /// Every link's counters, by host.
    pub fn stats(&self) -> Vec<LinkStats> {
        self.proxies.iter().map(|p| p.control().stats()).collect()
    }

    /// Stop every proxy (their connections close).
    pub async fn shutdown(self) {
        for proxy in self.proxies {
            let _ = tokio::time::timeout(Duration::from_secs(2), proxy.shutdown()).await;
        }
    }
}
