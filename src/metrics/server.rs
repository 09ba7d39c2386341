//! The exporter's HTTP/1.1 endpoint: `GET /metrics` renders the latest [`Figures`] from a
//! watch channel; any other path is 404, any other method 405, anything unreadable 400, a
//! request head over [`MAX_REQUEST_BYTES`] 431. One response per connection, then it closes.
//! Each connection has its own task and deadlines, so a slow or silent client never holds up
//! another; at most [`MAX_CONNECTIONS`] are served at once (more are closed at once). The
//! request handling ([`respond`]) is pure.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::figures::Figures;
use super::render::{CONTENT_TYPE, render};
use crate::error::AppError;

/// The most a request head (request line and headers) may take.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// Connections served at the same time.
pub const MAX_CONNECTIONS: usize = 32;

/// How long a client may take to send its request, and to take the response.
const CLIENT_DEADLINE: Duration = Duration::from_secs(5);

/// A bound, not yet serving, metrics endpoint: binding comes before the run starts, so a
/// port in use stops the run before anything is started.
pub struct Exporter {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Exporter {
    /// Listen on `addr` (port 0: any free port). A failure is a could-not-run error naming
    /// the address.
    pub async fn bind(addr: SocketAddr) -> Result<Exporter, AppError> {
        let listener = TcpListener::bind(addr).await.map_err(|err| {
            AppError::could_not_run(format!("--metrics {addr}: cannot listen there: {err}"))
        })?;
        let addr = listener.local_addr().map_err(|err| {
            AppError::could_not_run(format!("--metrics {addr}: no local address: {err}"))
        })?;
        Ok(Exporter { listener, addr })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The line that tells users (and tests) where to scrape.
    pub fn announcement(&self) -> String {
        format!("metrics on http://{}/metrics", self.addr)
    }

    /// Serve `figures` until `cancel` fires.
    pub fn serve(
        self,
        figures: watch::Receiver<Figures>,
        cancel: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(accept_loop(self.listener, figures, cancel))
    }
}

async fn accept_loop(
    listener: TcpListener,
    figures: watch::Receiver<Figures>,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                // Over the limit the connection is dropped (closed) at once.
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    continue;
                };
                let figures = figures.clone();
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        () = cancel.cancelled() => {}
                        () = handle(stream, &figures) => {}
                    }
                    drop(slot);
                });
            }
            Err(err) => {
                // Out of file descriptors and the like: try again shortly, never spin.
                tracing::warn!("metrics: accept failed: {err}");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
}

/// Read one request head, answer it, close.
async fn handle(mut stream: TcpStream, figures: &watch::Receiver<Figures>) {
    let head = match tokio::time::timeout(CLIENT_DEADLINE, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        // Silent past the deadline, or the connection failed: nothing to answer.
        Ok(Err(_)) | Err(_) => return,
    };
    let response = respond(&head, || render(&figures.borrow()));
    let _ = tokio::time::timeout(CLIENT_DEADLINE, async {
        stream.write_all(&response.to_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    if head == Head::TooLarge {
        // Closing with unread input would reset the connection and could take the answer
        // with it: read (and drop) a little more of what the client is still sending first.
        let _ = tokio::time::timeout(DRAIN_DEADLINE, drain(&mut stream)).await;
    }
}

/// How long an oversized request is read on after its answer.
const DRAIN_DEADLINE: Duration = Duration::from_secs(1);

/// Read and drop up to 1 MiB of input, until the client closes.
async fn drain(stream: &mut TcpStream) {
    let mut chunk = [0u8; 4096];
    let mut left = 1usize << 20;
    while left > 0 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => left = left.saturating_sub(read),
        }
    }
}

/// What a client sent: a complete head, or as much as the cap allows.
#[derive(Debug, PartialEq)]
pub enum Head {
    Complete(Vec<u8>),
    TooLarge,
    /// The client closed before the head was complete.
    Truncated(Vec<u8>),
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Head> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(Head::Truncated(buffer));
        }
        let from = buffer.len().saturating_sub(3);
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = head_end(&buffer[from..]) {
            buffer.truncate(from + end);
            return Ok(Head::Complete(buffer));
        }
        if buffer.len() > MAX_REQUEST_BYTES {
            return Ok(Head::TooLarge);
        }
    }
}

/// Where the head ends (after its blank line), if it does.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An HTTP response.
#[derive(Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// HEAD: the headers of a GET, no body.
    pub head_only: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
            head_only: false,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Error",
        };
        let allow = if self.status == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let mut bytes = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}\
             Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

/// The answer to a request head; `metrics` renders the body of a scrape.
pub fn respond(head: &Head, metrics: impl FnOnce() -> String) -> Response {
    let bytes = match head {
        Head::Complete(bytes) => bytes,
        Head::TooLarge => return Response::text(431, "request head too large"),
        Head::Truncated(bytes) if bytes.is_empty() => {
            return Response::text(400, "empty request");
        }
        Head::Truncated(bytes) => bytes,
    };
    let Some(line) = bytes
        .split(|b| *b == b'\n')
        .next()
        .and_then(|line| std::str::from_utf8(line).ok())
    else {
        return Response::text(400, "the request line is not text");
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Response::text(400, "not an HTTP request line");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::text(400, "not HTTP/1.x");
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Response::text(405, "only GET and HEAD"),
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    let mut response = if path == "/metrics" {
        Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body: metrics(),
            head_only: false,
        }
    } else {
        Response::text(404, "not found: the figures are at /metrics")
    };
    response.head_only = head_only;
    response
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
