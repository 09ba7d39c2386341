//! Test support shared by unit and integration tests: [`TestServer`], one real nats-server per
//! test, [`wait_until`], the polling helper that replaces sleeps as synchronisation, and
//! [`descendants`], the process tree a test checks for leftovers, and [`snapshot`], the parti
//! buckets read directly.
//!
//! The server binary is found once per process by the production resolver
//! ([`crate::nats::resolve`], provisioning allowed), so `cargo test` works on a fresh machine.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use crate::nats::client::{self, ClientAuth};
use crate::nats::resolve::{self, ResolveOptions, ServerBinary};
use crate::nats::supervisor::{ManagedServer, ServerOptions};

static BINARY: OnceLock<Result<ServerBinary, String>> = OnceLock::new();

/// The nats-server binary for tests, resolved (and if need be installed) once per process.
/// Panics with the resolver's message when there is none.
pub async fn server_binary() -> ServerBinary {
    let resolved = tokio::task::spawn_blocking(|| {
        BINARY
            .get_or_init(|| {
                let opts = ResolveOptions::from_env(None);
                resolve::resolve(&opts, &mut |message: &str| eprintln!("testkit: {message}"))
                    .map_err(|err| err.to_string())
            })
            .clone()
    })
    .await
    .expect("the resolver thread panicked");
    match resolved {
        Ok(binary) => binary,
        Err(message) => panic!("testkit: no nats-server for the tests: {message}"),
    }
}

/// One real nats-server: random ports, a temporary store, generated credentials; killed and its
/// directory removed when dropped.
#[derive(Debug)]
pub struct TestServer {
    server: ManagedServer,
}

impl TestServer {
    /// Starts a server with default options. Panics with a clear message on failure.
    pub async fn start() -> TestServer {
        Self::start_with(ServerOptions::default()).await
    }

    /// Starts a server with `opts`. Panics with a clear message on failure.
    pub async fn start_with(opts: ServerOptions) -> TestServer {
        let binary = server_binary().await;
        match ManagedServer::start(&binary, opts).await {
            Ok(server) => TestServer { server },
            Err(err) => panic!(
                "testkit: cannot start nats-server {}: {err}",
                binary.path.display()
            ),
        }
    }

    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The generated credentials as client authentication.
    pub fn auth(&self) -> ClientAuth {
        ClientAuth::from(self.server.credentials())
    }

    /// A new authenticated client. Panics when it cannot connect.
    pub async fn client(&self) -> async_nats::Client {
        match client::connect(self.url(), &self.auth(), "parti-top-test").await {
            Ok(client) => client,
            Err(err) => panic!("testkit: {err}"),
        }
    }

    pub fn server(&mut self) -> &mut ManagedServer {
        &mut self.server
    }
}

/// Polls `cond` about every 20 ms until it returns true or `deadline` has passed; returns
/// whether it became true. `cond` is always evaluated at least once.
pub async fn wait_until<F, Fut>(deadline: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let poll_interval = Duration::from_millis(20);
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if cond().await {
            return true;
        }
        let now = tokio::time::Instant::now();
        if now >= end {
            return false;
        }
        tokio::time::sleep(poll_interval.min(end - now)).await;
    }
}

/// The running (not zombie) processes below `root` in the process tree, read from /proc.
pub fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid …"
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?;
            let ppid = fields.next()?.parse::<u32>().ok()?;
            (state != "Z").then_some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        for (pid, _) in parents.iter().filter(|(_, ppid)| *ppid == parent) {
            if !found.contains(pid) {
                found.push(*pid);
            }
        }
        index += 1;
    }
    found.remove(0);
    found
}

/// Those of `pids` still running after waiting up to `within` for all of them to end (polled;
/// for tests that check no process outlives a run).
pub fn still_alive_after(pids: &[u32], within: Duration) -> Vec<u32> {
    let alive = || -> Vec<u32> {
        pids.iter()
            .copied()
            .filter(|pid| crate::nats::process::is_process_alive(*pid))
            .collect()
    };
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = alive();
        if left.is_empty() || std::time::Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The four parti buckets (default names) read directly through `reader`; `None` before the
/// workers have created them, or when a read fails.
pub async fn snapshot(
    reader: &crate::parti::nats_kv::NatsStore,
) -> Option<crate::observer::snapshot::Snapshot> {
    use crate::observer::snapshot::{Snapshot, SnapshotBuckets};
    let names = crate::parti::config::BucketNames::default();
    let stable_id = reader.open_bucket(&names.stable_id).await.ok()?;
    let election = reader.open_bucket(&names.election).await.ok()?;
    let heartbeat = reader.open_bucket(&names.heartbeat).await.ok()?;
    let assignment = reader.open_bucket(&names.assignment).await.ok()?;
    let buckets = SnapshotBuckets {
        stable_id: stable_id.as_ref(),
        election: election.as_ref(),
        heartbeat: heartbeat.as_ref(),
        assignment: assignment.as_ref(),
    };
    Snapshot::read(&buckets).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn wait_until_polls_until_true_or_deadline() {
        let calls = AtomicU32::new(0);
        let became = wait_until(Duration::from_secs(5), || async {
            calls.fetch_add(1, Ordering::SeqCst) >= 2
        })
        .await;
        assert!(became);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let started = std::time::Instant::now();
        assert!(!wait_until(Duration::from_millis(60), || async { false }).await);
        assert!(started.elapsed() >= Duration::from_millis(60));
    }
}
