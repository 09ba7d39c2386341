//! What the machine allows a run: the open-file limit every process of the run inherits and
//! the memory available, and how many workers fit in them. [`Capacity::refusal`] is pure;
//! [`capacity`] reads (and raises) the limits.

use crate::profile::ByteSize;
use crate::text::plural;

/// Descriptors a host process needs besides one per worker connection (its runtime, the
/// control connection, stdio, with a margin: 12 were seen with 50 workers).
pub const HOST_FD_BASE: u64 = 32;
/// Descriptors nats-server needs besides one per client connection (listeners, the
/// JetStream store's files, with a margin: 15 were seen).
pub const NATS_FD_BASE: u64 = 64;
/// Memory a worker costs across its host and nats-server, as measured on this workbench
/// (about 80 KiB in the host, 350 KiB in nats-server: docs/BENCHMARKS.md), rounded up.
pub const MEMORY_PER_WORKER_BYTES: u64 = 512 * 1024;
/// Memory a run costs before any worker: nats-server, the hosts, the controller.
pub const MEMORY_BASE_BYTES: u64 = 128 * 1024 * 1024;

/// What the machine allows a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// The open-file limit every process of the run inherits (after raising the soft limit).
    pub fd_limit: u64,
    /// Memory available to new processes (`MemAvailable`), when known.
    pub memory_available_bytes: Option<u64>,
}

impl Capacity {
    /// Why `workers` workers on `hosts` hosts cannot run here, if they cannot.
    pub fn refusal(&self, workers: u64, hosts: u32, managed: bool) -> Option<String> {
        let per_host = workers.div_ceil(u64::from(hosts.max(1)));
        let host_fds = per_host + HOST_FD_BASE;
        if host_fds > self.fd_limit {
            let each = if hosts <= 1 {
                "the host process".to_owned()
            } else {
                format!("each of {hosts} host processes")
            };
            return Some(format!(
                "{} need about {host_fds} open files in {each}, but the limit is {} \
                 (ulimit -n); raise it, or spread the workers over more host processes \
                 (cluster.hosts in a profile)",
                plural(workers, "worker"),
                self.fd_limit
            ));
        }
        let server_fds = workers + u64::from(hosts) + 2 + NATS_FD_BASE;
        if managed && server_fds > self.fd_limit {
            return Some(format!(
                "{} need about {server_fds} open files in nats-server (one connection each), \
                 but the limit is {} (ulimit -n); raise the hard limit (ulimit -Hn, \
                 LimitNOFILE) or run fewer workers",
                plural(workers, "worker"),
                self.fd_limit
            ));
        }
        if let Some(available) = self.memory_available_bytes {
            let needed = MEMORY_BASE_BYTES.saturating_add(workers * MEMORY_PER_WORKER_BYTES);
            if needed > available {
                return Some(format!(
                    "{} need about {} of memory (about {} each in their host and nats-server), \
                     but only {} is available; run fewer workers",
                    plural(workers, "worker"),
                    ByteSize(needed),
                    ByteSize(MEMORY_PER_WORKER_BYTES),
                    ByteSize(available)
                ));
            }
        }
        None
    }
}

/// Raise the soft open-file limit to the hard one (as servers do; child processes inherit it)
/// and read what memory is available. Never fails: an unreadable value is left unknown.
pub fn capacity() -> Capacity {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let fd_limit = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => u64::MAX,
    };
    Capacity {
        fd_limit,
        memory_available_bytes: memory_available_bytes(),
    }
}

/// `MemAvailable` from `/proc/meminfo`.
fn memory_available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024 * 1024;

    #[test]
    fn worker_counts_beyond_the_descriptor_or_memory_limit_are_refused_with_the_reason() {
        let capacity = Capacity {
            fd_limit: 20_000,
            memory_available_bytes: Some(24 * GIB),
        };
        assert!(capacity.refusal(100, 1, true).is_none());
        let why = capacity.refusal(100_000, 1, true).expect("refused");
        assert!(
            why.contains("100000 workers") && why.contains("20000"),
            "{why}"
        );
        assert!(why.contains("ulimit -n"), "{why}");
        // Spread over hosts, the hosts fit but one nats-server still holds every connection.
        let why = capacity.refusal(30_000, 4, true).expect("refused");
        assert!(why.contains("nats-server"), "{why}");
        // An external server's limits are its own.
        assert!(capacity.refusal(30_000, 4, false).is_none());
        // Memory.
        let small = Capacity {
            fd_limit: 1_000_000,
            memory_available_bytes: Some(GIB),
        };
        let why = small.refusal(10_000, 10, true).expect("refused");
        assert!(why.contains("memory"), "{why}");
        assert!(small.refusal(1_000, 10, true).is_none());
        // The boundary: one host's connection, the controller's and the observer's, and
        // nats-server's own descriptors.
        let most = 20_000 - NATS_FD_BASE - 3;
        assert!(capacity.refusal(most, 1, true).is_none());
        assert!(capacity.refusal(most + 1, 1, true).is_some());
    }
}
