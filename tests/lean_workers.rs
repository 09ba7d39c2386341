//! Workers that are light on nats-server, against a real one: a per-host pool runs its whole
//! cluster over one client connection, key listings leave no consumer behind, and a fleet
//! claiming IDs at once does not write to every taken key in turn.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parti_top::host::{ConnectionMode, Pool};
use parti_top::observer::snapshot::settled_problems;
use parti_top::parti::config::{Config, Timing};
use parti_top::parti::kv::{Bucket, BucketSpec, KvEntry, KvFuture, KvWatch, Store};
use parti_top::parti::nats_kv::NatsStore;
use parti_top::parti::partition::Partition;
use parti_top::parti::source::{StaticSource, numbered_partitions};
use parti_top::parti::stable_id;
use parti_top::parti::state::State;
use parti_top::parti::strategy::StrategyConfig;
use parti_top::parti::worker::WorkerSpec;
use parti_top::testkit::{TestServer, snapshot, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const SETTLE: Duration = Duration::from_secs(10);

/// One JSON document from the server's monitoring port (`/varz`, `/jsz`, …).
async fn monitor(base: &str, path: &str) -> serde_json::Value {
    let address = base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("monitoring port");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    let (_, body) = response.split_once("\r\n\r\n").expect("HTTP body");
    serde_json::from_str(body).expect("monitoring JSON")
}

fn count(value: &serde_json::Value, field: &str) -> u64 {
    value[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

/// Every worker Stable, one leader, and the KV picture valid for exactly these workers.
async fn settled(pool: &Pool, reader: &NatsStore, partitions: &[Partition]) -> bool {
    let statuses: Vec<_> = pool.slots().iter().map(|s| s.status()).collect();
    if !statuses.iter().all(|s| s.state == State::Stable)
        || statuses.iter().filter(|s| s.is_leader).count() != 1
    {
        return false;
    }
    let Some(snapshot) = snapshot(reader).await else {
        return false;
    };
    let live: BTreeSet<String> = statuses
        .iter()
        .filter_map(|s| s.worker_id.clone())
        .collect();
    snapshot.live() == live && settled_problems(&snapshot, partitions).is_empty()
}

#[tokio::test]
async fn a_per_host_pool_forms_a_valid_cluster_over_one_connection() {
    let mut server = TestServer::start().await;
    let base = server.server().monitor_url().to_owned();
    let partitions = numbered_partitions(40);
    let spec = WorkerSpec {
        config: Config::with_timing(Timing::fast()),
        source: Arc::new(StaticSource::new(partitions.clone())),
        strategy: StrategyConfig::default().build(),
        consumer: None,
    };
    let (events, mut sink) = mpsc::unbounded_channel();
    tokio::spawn(async move { while sink.recv().await.is_some() {} });
    let mut pool = Pool::new(
        server.url().to_owned(),
        server.auth(),
        spec,
        "shared".into(),
        events,
    )
    .with_connection(ConnectionMode::PerHost);
    pool.add(3).await.expect("workers start");
    pool.add(2)
        .await
        .expect("more workers start on the same connection");
    assert_eq!(pool.len(), 5);
    let reader = NatsStore::new(server.client().await);
    assert!(
        wait_until(SETTLE, || settled(&pool, &reader, &partitions)).await,
        "five workers on one connection never settled"
    );
    // The pool's one connection and the test's reader: two in all.
    assert_eq!(count(&monitor(&base, "/varz").await, "connections"), 2);
    let connz = monitor(&base, "/connz").await;
    let names: Vec<&str> = connz["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("shared")).count(),
        1,
        "{names:?}"
    );

    // A killed worker cannot drop the shared connection: the others keep it, and the
    // cluster recovers once the killed worker's keys expire.
    let victim = pool.slots()[0].slot;
    assert!(pool.kill_slot(victim));
    assert_eq!(count(&monitor(&base, "/varz").await, "connections"), 2);
    assert!(
        wait_until(SETTLE, || settled(&pool, &reader, &partitions)).await,
        "the four survivors never settled after the kill"
    );
    for (_, result) in pool.stop_all().await {
        result.expect("graceful stop");
    }
}

/// Counts the creates made through it.
struct Counting {
    inner: Arc<dyn Bucket>,
    creates: AtomicUsize,
}

impl Bucket for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        self.inner.create(key, value)
    }
    fn update<'a>(&'a self, key: &'a str, value: Bytes, revision: u64) -> KvFuture<'a, u64> {
        self.inner.update(key, value, revision)
    }
    fn put<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        self.inner.put(key, value)
    }
    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        self.inner.get(key)
    }
    fn entry<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        self.inner.entry(key)
    }
    fn delete<'a>(&'a self, key: &'a str) -> KvFuture<'a, ()> {
        self.inner.delete(key)
    }
    fn keys(&self) -> KvFuture<'_, Vec<String>> {
        self.inner.keys()
    }
    fn watch<'a>(&'a self, pattern: &'a str) -> KvFuture<'a, KvWatch> {
        self.inner.watch(pattern)
    }
}

#[tokio::test]
async fn a_fleet_claiming_at_once_gets_distinct_ids_without_walking_every_key() {
    let mut server = TestServer::start().await;
    let base = server.server().monitor_url().to_owned();
    let store = NatsStore::new(server.client().await);
    let bucket = store
        .ensure_bucket(&BucketSpec {
            name: "claims".into(),
            ttl: Duration::from_secs(30),
        })
        .await
        .expect("bucket");
    let counter = Arc::new(Counting {
        inner: bucket.clone(),
        creates: AtomicUsize::new(0),
    });
    let counting: Arc<dyn Bucket> = counter.clone();
    const FLEET: usize = 100;
    let claims = (0..FLEET).map(|_| {
        let bucket = counting.clone();
        tokio::spawn(async move { stable_id::claim(&bucket, "worker", 0, 99).await })
    });
    let ids: BTreeSet<String> = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(|joined| joined.expect("task").expect("claim").worker_id)
        .collect();
    assert_eq!(ids.len(), FLEET, "every claim got its own ID in 0..=99");
    // Walking upwards with a create per taken key costs about FLEET²/2 = 5,000 creates when
    // all start together.
    let creates = counter.creates.load(Ordering::SeqCst);
    assert!(creates < FLEET * 20, "{creates} creates for {FLEET} claims");
    // Listings delete their consumers: none is left on the bucket's stream.
    let jsz = monitor(&base, "/jsz").await;
    assert!(
        wait_until(Duration::from_secs(3), || async {
            count(&monitor(&base, "/jsz").await, "consumers") == 0
        })
        .await,
        "listing consumers left behind: {jsz}"
    );
}
