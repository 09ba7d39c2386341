//! Network faults between a host and NATS: a TCP fault proxy per link, without root.
//!
//! A [`LinkProxy`] listens on 127.0.0.1 and forwards each connection to the upstream server (or
//! one of a cluster's nodes). Its [`LinkControl`] adds one-way latency, caps bandwidth, and cuts
//! the link; [`LinkStats`] counts connections and bytes for the dashboard. docs/faults.md
//! describes what each fault does and why a cut resets connections by default.
//!
//! - [`bucket`]: the token bucket behind the bandwidth cap (pure).
//! - [`delay`]: the order-preserving release times behind the latency (pure).
//! - [`state`]: the link's settings and the cut transitions (pure).
//! - [`proxy`]: the listener, the upstream connection and the byte pumps (IO).

pub mod bucket;
pub mod delay;
pub mod proxy;
pub mod state;

use std::net::SocketAddr;

pub use proxy::{LinkControl, LinkError, LinkProxy, LinkStats};
pub use state::{CutMode, LinkSettings};

/// The socket address of a server URL such as `nats://127.0.0.1:4222` (also with user info, or
/// without a scheme); `None` unless the host is an IP address and a port is given.
pub fn socket_addr_of_url(url: &str) -> Option<SocketAddr> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let authority = rest.split('/').next()?;
    authority.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_to_socket_addresses() {
        let addr: SocketAddr = "127.0.0.1:4222".parse().expect("addr");
        assert_eq!(socket_addr_of_url("nats://127.0.0.1:4222"), Some(addr));
        assert_eq!(socket_addr_of_url("nats://u:p@127.0.0.1:4222/"), Some(addr));
        assert_eq!(socket_addr_of_url("127.0.0.1:4222"), Some(addr));
        assert_eq!(socket_addr_of_url("nats://localhost:4222"), None);
        assert_eq!(socket_addr_of_url("nats://127.0.0.1"), None);
    }
}
