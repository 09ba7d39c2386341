//! The link fault proxy against a real nats-server: forwarding both ways, latency in a request
//! round trip, a reset cut (server-side presence lost, reconnect after restore), a black hole
//! (presence kept, same connection after restore), and the bandwidth cap.

use std::time::{Duration, Instant};

use futures::StreamExt;
use parti_top::netfault::{CutMode, LinkProxy, socket_addr_of_url};
use parti_top::testkit::{TestServer, wait_until};

/// A client of `url` with the test server's credentials, a short request timeout and a fast,
/// fixed reconnect delay.
async fn client_of(
    server: &TestServer,
    url: &str,
    request_timeout: Duration,
) -> async_nats::Client {
    let auth = server.auth();
    async_nats::ConnectOptions::new()
        .user_and_password(
            auth.user.expect("generated user"),
            auth.password.expect("generated password"),
        )
        .request_timeout(Some(request_timeout))
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(url)
        .await
        .expect("connect")
}

async fn proxy_for(server: &TestServer) -> LinkProxy {
    let upstream = socket_addr_of_url(server.url()).expect("server address");
    LinkProxy::start(upstream).await.expect("proxy")
}

/// A round trip through the server on `client`'s own connection: once its message comes back,
/// the server has processed everything the client sent before (`flush` only empties the
/// client's buffer into the socket).
async fn round_trip(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await.expect("subscribe");
    client.publish(inbox, "sync".into()).await.expect("publish");
    tokio::time::timeout(Duration::from_secs(10), echo.next())
        .await
        .expect("round trip within 10 s")
        .expect("message");
}

/// Answers every request on `subject` with its own payload; the subscription is in place on
/// the server when this returns.
async fn serve_echo(client: &async_nats::Client, subject: &'static str) {
    let mut requests = client.subscribe(subject).await.expect("subscribe");
    round_trip(client).await;
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, request.payload).await;
            }
        }
    });
}

#[tokio::test]
async fn messages_flow_both_ways_through_the_proxy() {
    let server = TestServer::start().await;
    let proxy = proxy_for(&server).await;
    let proxied = client_of(&server, &proxy.url(), Duration::from_secs(2)).await;
    let direct = server.client().await;

    let mut from_direct = proxied.subscribe("to.proxied").await.expect("sub");
    let mut from_proxied = direct.subscribe("to.direct").await.expect("sub");
    round_trip(&proxied).await;
    round_trip(&direct).await;
    direct
        .publish("to.proxied", "hello".into())
        .await
        .expect("pub");
    proxied
        .publish("to.direct", "world".into())
        .await
        .expect("pub");
    proxied.flush().await.expect("flush");
    let got = tokio::time::timeout(Duration::from_secs(5), from_direct.next())
        .await
        .expect("delivered to the proxied client")
        .expect("message");
    assert_eq!(&got.payload[..], b"hello");
    let got = tokio::time::timeout(Duration::from_secs(5), from_proxied.next())
        .await
        .expect("delivered from the proxied client")
        .expect("message");
    assert_eq!(&got.payload[..], b"world");

    let stats = proxy.control().stats();
    assert_eq!(stats.connections_accepted, 1);
    assert_eq!(stats.connections_open, 1);
    assert!(
        stats.bytes_to_upstream > 0 && stats.bytes_to_client > 0,
        "{stats:?}"
    );
}

/// The shortest of `count` request round trips.
async fn min_round_trip(client: &async_nats::Client, count: usize) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..count {
        let started = Instant::now();
        client
            .request("svc.rtt", "x".into())
            .await
            .expect("request");
        best = best.min(started.elapsed());
    }
    best
}

#[tokio::test]
async fn added_latency_shows_in_a_request_round_trip() {
    let server = TestServer::start().await;
    let proxy = proxy_for(&server).await;
    let direct = server.client().await;
    serve_echo(&direct, "svc.rtt").await;
    let proxied = client_of(&server, &proxy.url(), Duration::from_secs(5)).await;

    let plain = min_round_trip(&proxied, 5).await;
    proxy.control().set_latency(Duration::from_millis(50));
    let delayed = min_round_trip(&proxied, 5).await;
    eprintln!("round trip through the proxy: {plain:?} plain, {delayed:?} with 50 ms each way");
    // 50 ms each way: the request goes up and the reply comes down through the proxy.
    assert!(delayed >= Duration::from_millis(100), "{delayed:?}");
    assert!(
        plain * 4 < delayed,
        "plain {plain:?} vs delayed {delayed:?}"
    );

    proxy.control().set_latency(Duration::ZERO);
    let back = min_round_trip(&proxied, 5).await;
    assert!(back * 4 < delayed, "latency removed: {back:?}");
}

#[tokio::test]
async fn a_cut_drops_server_side_presence_and_a_restore_lets_the_client_reconnect() {
    let server = TestServer::start().await;
    let proxy = proxy_for(&server).await;
    let control = proxy.control();
    let direct = client_of(&server, server.url(), Duration::from_millis(50)).await;
    serve_echo(&direct, "svc.direct").await;
    let proxied = client_of(&server, &proxy.url(), Duration::from_millis(300)).await;
    serve_echo(&proxied, "svc.proxied").await;
    proxied
        .request("svc.direct", "up".into())
        .await
        .expect("works before the cut");
    direct
        .request("svc.proxied", "up".into())
        .await
        .expect("the proxied responder is present before the cut");

    let cut_at = Instant::now();
    control.cut();
    // The server closed the proxied connection and dropped its subscriptions.
    let gone = wait_until(Duration::from_secs(2), || async {
        matches!(
            direct.request("svc.proxied", "x".into()).await,
            Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders
        )
    })
    .await;
    let presence_lost = cut_at.elapsed();
    assert!(gone, "the server still routes to the cut client");
    assert!(
        proxied.request("svc.direct", "x".into()).await.is_err(),
        "a request through a cut link fails"
    );
    let stats = control.stats();
    assert_eq!(stats.connections_reset, 1, "{stats:?}");
    assert!(
        stats.connections_refused >= 1,
        "reconnects are refused: {stats:?}"
    );

    let restored_at = Instant::now();
    control.restore();
    let back = wait_until(Duration::from_secs(10), || async {
        proxied.request("svc.direct", "x".into()).await.is_ok()
            && direct.request("svc.proxied", "x".into()).await.is_ok()
    })
    .await;
    assert!(
        back,
        "the client did not reconnect and resubscribe after the restore"
    );
    eprintln!(
        "reset cut: presence lost {presence_lost:?} after the cut; working again {:?} after the restore",
        restored_at.elapsed()
    );
    assert_eq!(control.stats().connections_accepted, 2, "one reconnect");

    // A timed cut restores itself.
    control.cut_for(Duration::from_millis(200));
    assert_eq!(control.stats().cut, Some(CutMode::Reset));
    let healed = wait_until(Duration::from_secs(10), || async {
        control.stats().cut.is_none() && proxied.request("svc.direct", "x".into()).await.is_ok()
    })
    .await;
    assert!(healed, "cut_for did not restore the link");
}

#[tokio::test]
async fn a_black_hole_keeps_server_side_presence_and_resumes_the_same_connection() {
    let server = TestServer::start().await;
    let proxy = proxy_for(&server).await;
    let control = proxy.control();
    let direct = client_of(&server, server.url(), Duration::from_millis(300)).await;
    serve_echo(&direct, "svc.direct").await;
    let proxied = client_of(&server, &proxy.url(), Duration::from_millis(300)).await;
    serve_echo(&proxied, "svc.proxied").await;

    control.cut_as(CutMode::BlackHole);
    let through = proxied.request("svc.direct", "x".into()).await;
    assert!(
        matches!(&through, Err(err) if err.kind() == async_nats::RequestErrorKind::TimedOut),
        "{through:?}"
    );
    // The server still holds the subscription: silence, not "no responders".
    let to_hidden = direct.request("svc.proxied", "x".into()).await;
    assert!(
        matches!(&to_hidden, Err(err) if err.kind() == async_nats::RequestErrorKind::TimedOut),
        "{to_hidden:?}"
    );

    control.restore();
    let back = wait_until(Duration::from_secs(5), || async {
        proxied.request("svc.direct", "x".into()).await.is_ok()
    })
    .await;
    assert!(back);
    let stats = control.stats();
    assert_eq!(stats.connections_accepted, 1, "no reconnect: {stats:?}");
    assert_eq!(stats.connections_reset, 0);
}

/// Publishes `total_bytes` in 16 KiB messages and waits for a round trip behind them.
async fn send_and_sync(client: &async_nats::Client, total_bytes: usize) -> Duration {
    let payload = bytes::Bytes::from(vec![7u8; 16 * 1024]);
    let started = Instant::now();
    for _ in 0..total_bytes / payload.len() {
        client
            .publish("bulk", payload.clone())
            .await
            .expect("publish");
    }
    round_trip(client).await;
    started.elapsed()
}

#[tokio::test]
async fn a_bandwidth_cap_bounds_throughput() {
    let server = TestServer::start().await;
    let proxy = proxy_for(&server).await;
    let proxied = client_of(&server, &proxy.url(), Duration::from_secs(10)).await;
    let total_bytes = 512 * 1024;
    let rate_bytes_per_s = 512 * 1024;

    let free = send_and_sync(&proxied, total_bytes).await;
    proxy.control().set_bandwidth(Some(rate_bytes_per_s));
    let capped = send_and_sync(&proxied, total_bytes).await;
    eprintln!("512 KiB through the proxy: {free:?} uncapped, {capped:?} capped at 512 KiB/s");
    let burst_bytes = rate_bytes_per_s / 10;
    let floor = Duration::from_secs_f64(
        (total_bytes as u64 - burst_bytes) as f64 / rate_bytes_per_s as f64,
    );
    assert!(capped >= floor.mul_f64(0.9), "{capped:?} < {floor:?}");
    assert!(free * 4 < capped, "uncapped {free:?} vs capped {capped:?}");
    assert!(proxy.control().stats().bytes_to_upstream >= 2 * total_bytes as u64);
}
