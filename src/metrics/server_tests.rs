//! The exporter's endpoint over real sockets: scrapes, wrong paths and methods, garbage, an
//! oversized head, a silent client beside a scraping one, a port in use; and the pure
//! request handling.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::metrics::figures::ClusterFigures;

fn figures() -> Figures {
    Figures {
        mode: "headless".into(),
        cluster: ClusterFigures {
            leader: Some("w-0".into()),
            leader_changes: 1,
            ..ClusterFigures::default()
        },
        ..Figures::default()
    }
}

async fn start() -> (SocketAddr, watch::Sender<Figures>, CancellationToken) {
    let exporter = Exporter::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = exporter.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(
        exporter.announcement(),
        format!("metrics on http://127.0.0.1:{}/metrics", addr.port())
    );
    let (tx, rx) = watch::channel(figures());
    let cancel = CancellationToken::new();
    exporter.serve(rx, cancel.clone());
    (addr, tx, cancel)
}

/// Send `request`, read until the server closes, within a deadline.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let answer = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read");
        String::from_utf8(answer).expect("utf-8")
    };
    tokio::time::timeout(Duration::from_secs(5), answer)
        .await
        .expect("an answer within 5 s")
}

#[tokio::test]
async fn a_scrape_renders_the_latest_figures() {
    let (addr, tx, cancel) = start().await;
    let answer = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")));
    assert!(answer.contains("Connection: close\r\n"));
    let body = answer.split_once("\r\n\r\n").expect("body").1;
    let length: usize = answer
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|l| l.parse().ok())
        .expect("length");
    assert_eq!(body.len(), length);
    assert!(body.contains("parti_leader_changes_total 1\n"), "{body}");
    tx.send_modify(|f| f.cluster.leader_changes = 7);
    let answer = exchange(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n").await;
    assert!(
        answer.contains("parti_leader_changes_total 7\n"),
        "{answer}"
    );
    cancel.cancel();
}

#[tokio::test]
async fn other_paths_methods_and_garbage_get_errors_not_a_panic() {
    let (addr, _tx, cancel) = start().await;
    let cases: [(&[u8], &str); 6] = [
        (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "),
        (b"GET /metricsx HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "),
        (b"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "),
        (b"\x00\xff\xfe garbage\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET /metrics\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET /metrics SPDY/3\r\n\r\n", "HTTP/1.1 400 "),
    ];
    for (request, status) in cases {
        let answer = exchange(addr, request).await;
        assert!(
            answer.starts_with(status),
            "{:?} → {answer}",
            String::from_utf8_lossy(request)
        );
    }
    let head = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "a HEAD answer has no body: {head}"
    );
    cancel.cancel();
}

#[tokio::test]
async fn an_oversized_head_is_refused_and_the_server_goes_on() {
    let (addr, _tx, cancel) = start().await;
    let mut request = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 3 * MAX_REQUEST_BYTES));
    let answer = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        // The server may close before all of it is written: that is the point.
        let _ = stream.write_all(&request).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    let answer = tokio::time::timeout(Duration::from_secs(5), answer)
        .await
        .expect("answered");
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    let after = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n").await;
    assert!(after.starts_with("HTTP/1.1 200 "), "{after}");
    cancel.cancel();
}

#[tokio::test]
async fn a_silent_client_does_not_hold_up_a_scrape() {
    let (addr, _tx, cancel) = start().await;
    // Opened, half a request line, then nothing.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    silent.write_all(b"GET /met").await.expect("write");
    let mut more_silent = Vec::new();
    for _ in 0..5 {
        more_silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let answer = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    drop((silent, more_silent));
    cancel.cancel();
}

#[tokio::test]
async fn a_port_in_use_is_a_could_not_run_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let Err(err) = Exporter::bind(addr).await else {
        panic!("bound a port in use");
    };
    assert!(matches!(err, AppError::CouldNotRun(_)));
    let message = err.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.to_lowercase().contains("in use"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn the_request_line_decides_the_answer() {
    let complete = |s: &str| Head::Complete(s.as_bytes().to_vec());
    let scrape = |head: &Head| respond(head, || "body".to_owned());
    assert_eq!(
        scrape(&complete("GET /metrics HTTP/1.1\r\n\r\n")).status,
        200
    );
    assert_eq!(scrape(&complete("GET /metrics#x HTTP/1.1\n\n")).status, 200);
    assert_eq!(
        scrape(&complete("GET /metrics HTTP/1.1 x\r\n\r\n")).status,
        400
    );
    assert_eq!(
        scrape(&complete("get /metrics HTTP/1.1\r\n\r\n")).status,
        405
    );
    assert_eq!(scrape(&Head::TooLarge).status, 431);
    assert_eq!(scrape(&Head::Truncated(Vec::new())).status, 400);
    // A client that closed its side after the request line is still answered.
    let truncated = Head::Truncated(b"GET /metrics HTTP/1.0\r\n".to_vec());
    assert_eq!(scrape(&truncated).body, "body");
    // Only a scrape renders.
    let mut rendered = false;
    let _ = respond(&complete("GET / HTTP/1.1\r\n\r\n"), || {
        rendered = true;
        String::new()
    });
    assert!(!rendered);
}

#[test]
fn the_head_ends_at_the_first_blank_line() {
    assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
    assert_eq!(head_end(b"GET / HTTP/1.1\n\nbody"), Some(16));
    assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
}
