//! The TCP side of a link proxy: listening, connecting upstream, and pumping bytes.
//!
//! Owns [`LinkProxy`] (the listener on 127.0.0.1 and its accept task) and [`LinkControl`] (the
//! cheap, cloneable handle that changes the link's [`LinkSettings`] and reads its
//! [`LinkStats`]). Each accepted connection is one task that joins two directions; a direction
//! is a reader that stamps each chunk with its release time ([`DelayLine`]) and a writer that
//! waits for that time and for the bandwidth bucket ([`TokenBucket`]) before writing, in order.
//! A reset cut cancels the current generation of connection tasks, which drops their sockets.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::bucket::{MIN_BURST_BYTES, TokenBucket};
use super::delay::DelayLine;
use super::state::{CutMode, LinkSettings};

/// Largest chunk read at once, in bytes.
pub const CHUNK_BYTES: usize = 16 * 1024;
/// Chunks queued per direction between reader and writer (bounds a connection's memory).
pub const QUEUE_CHUNKS: usize = 32;
/// How long connecting to one upstream address may take.
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a link proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("a link proxy needs at least one upstream address")]
    NoUpstream,
    #[error("cannot listen on 127.0.0.1 for a link proxy: {0}")]
    Bind(#[source] std::io::Error),
}

/// The link's counters and settings at one moment, for the dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// Connections accepted and forwarded (refused ones not included).
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Connections closed right after accepting them because a reset cut was in force.
    pub connections_refused: u64,
    /// Open connections closed by a reset cut.
    pub connections_reset: u64,
    /// Connections closed because no upstream address answered.
    pub upstream_failures: u64,
    /// Bytes written to the upstream (client to server).
    pub bytes_to_upstream: u64,
    /// Bytes written to the clients (server to client).
    pub bytes_to_client: u64,
    /// The cut in force.
    pub cut: Option<CutMode>,
    /// Cuts made so far.
    pub cuts: u64,
    pub latency: Duration,
    pub bandwidth_bytes_per_s: Option<u64>,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    open: AtomicU64,
    refused: AtomicU64,
    reset: AtomicU64,
    upstream_failures: AtomicU64,
    bytes_to_upstream: AtomicU64,
    bytes_to_client: AtomicU64,
}

struct Shared {
    settings: watch::Sender<LinkSettings>,
    upstreams: Mutex<Vec<SocketAddr>>,
    next_upstream: AtomicUsize,
    /// Cancelled when the proxy shuts down; parent of every generation.
    root: CancellationToken,
    /// The connections accepted since the last reset cut.
    generation: Mutex<CancellationToken>,
    counters: Counters,
}

impl Shared {
    fn generation(&self) -> CancellationToken {
        self.generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Cancels the current generation and starts a new one.
    fn reset_generation(&self) {
        let fresh = self.root.child_token();
        let old = std::mem::replace(
            &mut *self
                .generation
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            fresh,
        );
        old.cancel();
    }

    fn upstreams(&self) -> Vec<SocketAddr> {
        self.upstreams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The handle that changes a link's faults and reads its counters; clones share the link.
#[derive(Clone)]
pub struct LinkControl {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LinkControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkControl")
            .field("settings", &self.settings())
            .field("upstreams", &self.shared.upstreams())
            .finish()
    }
}

impl LinkControl {
    /// Added one-way delay, applied to each direction (a round trip gains twice `latency`).
    /// Applies to chunks read from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.settings.send_modify(|s| s.latency = latency);
    }

    /// Caps each direction at `bytes_per_s` (a token bucket per connection and direction);
    /// `None` lifts the cap.
    pub fn set_bandwidth(&self, bytes_per_s: Option<u64>) {
        self.shared
            .settings
            .send_modify(|s| s.bandwidth_bytes_per_s = bytes_per_s);
    }

    /// Cuts the link with [`CutMode::Reset`]; returns the cut's epoch.
    pub fn cut(&self) -> u64 {
        self.cut_as(CutMode::Reset)
    }

    /// Cuts the link in `mode` (replacing any cut in force); returns the cut's epoch.
    pub fn cut_as(&self, mode: CutMode) -> u64 {
        let mut change = None;
        self.shared
            .settings
            .send_modify(|s| change = Some(s.cut(mode)));
        let Some(change) = change else {
            return 0;
        };
        if change.reset_connections {
            self.shared.reset_generation();
        }
        change.epoch
    }

    /// Ends the cut in force; returns whether there was one.
    pub fn restore(&self) -> bool {
        self.shared.settings.send_if_modified(LinkSettings::restore)
    }

    /// Cuts the link with [`CutMode::Reset`] and restores it after `duration`, unless it was
    /// restored or cut again meanwhile. Must be called inside a tokio runtime.
    pub fn cut_for(&self, duration: Duration) -> u64 {
        let epoch = self.cut();
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            tokio::select! {
                () = shared.root.cancelled() => {}
                () = tokio::time::sleep(duration) => {
                    shared.settings.send_if_modified(|s| s.restore_epoch(epoch));
                }
            }
        });
        epoch
    }

    /// The settings in force.
    pub fn settings(&self) -> LinkSettings {
        *self.shared.settings.borrow()
    }

    /// Replaces the upstream addresses; connections made from now on use them.
    pub fn set_upstreams(&self, upstreams: Vec<SocketAddr>) {
        *self
            .shared
            .upstreams
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = upstreams;
    }

    pub fn upstreams(&self) -> Vec<SocketAddr> {
        self.shared.upstreams()
    }

    /// Counters and settings now.
    pub fn stats(&self) -> LinkStats {
        let c = &self.shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let settings = self.settings();
        LinkStats {
            connections_accepted: load(&c.accepted),
            connections_open: load(&c.open),
            connections_refused: load(&c.refused),
            connections_reset: load(&c.reset),
            upstream_failures: load(&c.upstream_failures),
            bytes_to_upstream: load(&c.bytes_to_upstream),
            bytes_to_client: load(&c.bytes_to_client),
            cut: settings.cut,
            cuts: settings.cut_epoch,
            latency: settings.latency,
            bandwidth_bytes_per_s: settings.bandwidth_bytes_per_s,
        }
    }
}

/// A TCP fault proxy for one link: listens on 127.0.0.1 (a port the kernel picks) and forwards
/// each connection to an upstream address. Dropping it closes the listener and every
/// connection.
#[derive(Debug)]
pub struct LinkProxy {
    local_addr: SocketAddr,
    control: LinkControl,
    accept: Option<JoinHandle<()>>,
}

impl LinkProxy {
    /// A proxy in front of one upstream address.
    pub async fn start(upstream: SocketAddr) -> Result<Self, LinkError> {
        Self::start_multi(vec![upstream]).await
    }

    /// A proxy in front of several upstream addresses (the nodes of a cluster): each new
    /// connection tries them in turn, starting one further than the previous connection did.
    pub async fn start_multi(upstreams: Vec<SocketAddr>) -> Result<Self, LinkError> {
        if upstreams.is_empty() {
            return Err(LinkError::NoUpstream);
        }
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(LinkError::Bind)?;
        let local_addr = listener.local_addr().map_err(LinkError::Bind)?;
        let root = CancellationToken::new();
        let shared = Arc::new(Shared {
            settings: watch::Sender::new(LinkSettings::default()),
            upstreams: Mutex::new(upstreams),
            next_upstream: AtomicUsize::new(0),
            generation: Mutex::new(root.child_token()),
            root,
            counters: Counters::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self {
            local_addr,
            control: LinkControl { shared },
            accept: Some(accept),
        })
    }

    /// Where clients connect: `127.0.0.1:PORT`.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `nats://127.0.0.1:PORT`, for a client's server list.
    pub fn url(&self) -> String {
        format!("nats://{}", self.local_addr)
    }

    pub fn control(&self) -> LinkControl {
        self.control.clone()
    }

    /// Closes the listener and every connection, and waits for the accept task to end.
    pub async fn shutdown(mut self) {
        self.control.shared.root.cancel();
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.control.shared.root.cancel();
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            () = shared.root.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let client = match accepted {
            Ok((client, _)) => client,
            Err(err) => {
                // Out of descriptors or a connection aborted before accept: try again shortly.
                tracing::warn!(
                    "link proxy {:?}: accept failed: {err}",
                    listener.local_addr()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // The generation is taken before the settings are read, and a cut changes the
        // settings before it cancels the generation: a connection is either refused here or
        // cancelled by the cut.
        let generation = shared.generation();
        if shared.settings.borrow().refuses_connections() {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            drop(client);
            continue;
        }
        shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(serve(client, Arc::clone(&shared), generation));
    }
}

/// Counts a connection as open while it lives.
struct OpenGuard<'a>(&'a AtomicU64);

impl<'a> OpenGuard<'a> {
    fn new(open: &'a AtomicU64) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self(open)
    }
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve(client: TcpStream, shared: Arc<Shared>, generation: CancellationToken) {
    let _open = OpenGuard::new(&shared.counters.open);
    let session = async {
        let mut settings = shared.settings.subscribe();
        // A black-holed link accepts but does not answer until restored.
        wait_flowing(&mut settings).await;
        let Some(upstream) = connect_upstream(&shared).await else {
            shared
                .counters
                .upstream_failures
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (upstream_read, upstream_write) = upstream.into_split();
        let to_upstream = direction(
            client_read,
            upstream_write,
            &shared,
            &shared.counters.bytes_to_upstream,
        );
        let to_client = direction(
            upstream_read,
            client_write,
            &shared,
            &shared.counters.bytes_to_client,
        );
        // An error on either side ends both; an orderly end of one waits for the other.
        let _ = tokio::try_join!(to_upstream, to_client);
    };
    tokio::select! {
        () = generation.cancelled() => {
            if !shared.root.is_cancelled() {
                shared.counters.reset.fetch_add(1, Ordering::Relaxed);
            }
        }
        () = session => {}
    }
}

async fn connect_upstream(shared: &Shared) -> Option<TcpStream> {
    let upstreams = shared.upstreams();
    if upstreams.is_empty() {
        return None;
    }
    let first = shared.next_upstream.fetch_add(1, Ordering::Relaxed);
    for offset in 0..upstreams.len() {
        let addr = upstreams[(first + offset) % upstreams.len()];
        match tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Some(stream),
            Ok(Err(err)) => tracing::debug!("link proxy: upstream {addr}: {err}"),
            Err(_) => tracing::debug!("link proxy: upstream {addr}: connect timed out"),
        }
    }
    None
}

async fn wait_flowing(settings: &mut watch::Receiver<LinkSettings>) {
    // The sender lives as long as the proxy's shared state, which outlives this task's use.
    let _ = settings.wait_for(LinkSettings::is_flowing).await;
}

/// One direction: a reader and a writer joined by a bounded queue of stamped chunks.
async fn direction(
    from: OwnedReadHalf,
    to: OwnedWriteHalf,
    shared: &Shared,
    written_bytes: &AtomicU64,
) -> std::io::Result<()> {
    let (queue, chunks) = mpsc::channel(QUEUE_CHUNKS);
    let read = read_side(from, shared.settings.subscribe(), queue);
    let write = write_side(chunks, to, shared.settings.subscribe(), written_bytes);
    tokio::try_join!(read, write).map(|_| ())
}

async fn read_side(
    mut from: OwnedReadHalf,
    mut settings: watch::Receiver<LinkSettings>,
    queue: mpsc::Sender<(Instant, Bytes)>,
) -> std::io::Result<()> {
    let mut line = DelayLine::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    loop {
        wait_flowing(&mut settings).await;
        let limit = read_limit_bytes(settings.borrow().bandwidth_bytes_per_s);
        let read_bytes = from.read(&mut buf[..limit]).await?;
        if read_bytes == 0 {
            // End of stream: dropping the queue lets the writer flush and shut down.
            return Ok(());
        }
        let latency = settings.borrow().latency;
        let release = line.release_at(Instant::now(), latency);
        let chunk = Bytes::copy_from_slice(&buf[..read_bytes]);
        if queue.send((release, chunk)).await.is_err() {
            return Ok(());
        }
    }
}

/// Under a bandwidth cap, chunks no larger than the bucket's burst keep the pacing smooth.
fn read_limit_bytes(bandwidth_bytes_per_s: Option<u64>) -> usize {
    match bandwidth_bytes_per_s {
        None => CHUNK_BYTES,
        Some(rate) => {
            let burst = (rate / 10).max(MIN_BURST_BYTES);
            usize::try_from(burst).map_or(CHUNK_BYTES, |b| b.min(CHUNK_BYTES))
        }
    }
}

async fn write_side(
    mut chunks: mpsc::Receiver<(Instant, Bytes)>,
    mut to: OwnedWriteHalf,
    mut settings: watch::Receiver<LinkSettings>,
    written_bytes: &AtomicU64,
) -> std::io::Result<()> {
    let mut bucket: Option<TokenBucket> = None;
    while let Some((release, chunk)) = chunks.recv().await {
        tokio::time::sleep_until(release).await;
        wait_flowing(&mut settings).await;
        let cap = settings.borrow().bandwidth_bytes_per_s;
        match cap {
            None => bucket = None,
            Some(rate) => {
                let current = match &mut bucket {
                    Some(b) if b.rate_bytes_per_s() == rate.max(1) => b,
                    _ => bucket.insert(TokenBucket::new(rate, Instant::now())),
                };
                let wait = current.reserve(Instant::now(), chunk.len() as u64);
                tokio::time::sleep(wait).await;
            }
        }
        to.write_all(&chunk).await?;
        written_bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_limits_follow_the_cap() {
        assert_eq!(read_limit_bytes(None), CHUNK_BYTES);
        assert_eq!(read_limit_bytes(Some(1_000_000)), CHUNK_BYTES);
        assert_eq!(read_limit_bytes(Some(50_000)), 5_000);
        assert_eq!(read_limit_bytes(Some(10)), MIN_BURST_BYTES as usize);
    }

    /// An echo server on 127.0.0.1; returns its address.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn forwards_in_order_counts_bytes_and_a_reset_cut_closes_and_refuses() {
        let proxy = LinkProxy::start(echo_server().await).await.expect("proxy");
        let control = proxy.control();
        let mut stream = TcpStream::connect(proxy.local_addr())
            .await
            .expect("connect");
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        stream.write_all(&payload).await.expect("write");
        let mut back = vec![0u8; payload.len()];
        stream.read_exact(&mut back).await.expect("read");
        assert_eq!(back, payload);
        let stats = control.stats();
        assert_eq!(stats.connections_accepted, 1);
        assert_eq!(stats.bytes_to_upstream, 100_000);
        assert_eq!(stats.bytes_to_client, 100_000);

        control.cut();
        let mut one = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut one))
            .await
            .expect("the cut ends the connection");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        let mut refused = TcpStream::connect(proxy.local_addr()).await.expect("tcp");
        let read = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut one))
            .await
            .expect("closed at once");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        let stats = control.stats();
        assert_eq!((stats.connections_reset, stats.connections_refused), (1, 1));
        assert_eq!(stats.cut, Some(CutMode::Reset));

        assert!(control.restore());
        let mut again = TcpStream::connect(proxy.local_addr()).await.expect("tcp");
        again.write_all(b"ping").await.expect("write");
        let mut four = [0u8; 4];
        again
            .read_exact(&mut four)
            .await
            .expect("echo after restore");
        assert_eq!(&four, b"ping");
        proxy.shutdown().await;
    }

    #[tokio::test]
    async fn a_black_hole_holds_bytes_and_a_restore_delivers_them_on_the_same_connection() {
        let proxy = LinkProxy::start(echo_server().await).await.expect("proxy");
        let control = proxy.control();
        let mut stream = TcpStream::connect(proxy.local_addr())
            .await
            .expect("connect");
        stream.write_all(b"a").await.expect("write");
        let mut one = [0u8; 1];
        stream.read_exact(&mut one).await.expect("echo");
        control.cut_as(CutMode::BlackHole);
        stream.write_all(b"b").await.expect("write");
        let held = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut one)).await;
        assert!(held.is_err(), "nothing comes back while black-holed");
        control.restore();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut one))
            .await
            .expect("delivered after restore");
        assert!(read.is_ok());
        assert_eq!(&one, b"b");
        assert_eq!(control.stats().connections_reset, 0);
    }

    #[tokio::test]
    async fn connections_go_to_the_next_upstream_that_answers() {
        let dead = TcpListener::bind(("127.0.0.1", 0))
            .await
            .and_then(|l| l.local_addr())
            .expect("a port with nothing listening once dropped");
        let proxy = LinkProxy::start_multi(vec![dead, echo_server().await])
            .await
            .expect("proxy");
        for _ in 0..2 {
            let mut stream = TcpStream::connect(proxy.local_addr()).await.expect("tcp");
            stream.write_all(b"x").await.expect("write");
            let mut one = [0u8; 1];
            stream
                .read_exact(&mut one)
                .await
                .expect("echo via the live upstream");
        }
        assert_eq!(control_stats(&proxy).upstream_failures, 0);
        assert!(matches!(
            LinkProxy::start_multi(Vec::new()).await,
            Err(LinkError::NoUpstream)
        ));
    }

    fn control_stats(proxy: &LinkProxy) -> LinkStats {
        proxy.control().stats()
    }
}
