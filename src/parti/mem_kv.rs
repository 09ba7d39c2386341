//! An in-memory model of NATS KV for fast, deterministic protocol tests.
//!
//! It keeps what the protocol depends on: one revision counter per bucket (the stream
//! sequence), create-if-absent over delete markers, compare-and-set updates, bucket MaxAge
//! expiry (an expired key has no message at all and produces no watch event, as on a real
//! server without limit markers), `keys` in least-recently-written order, and watches that
//! replay the latest entry per key before live changes. Time is `tokio::time::Instant`, so
//! tests run under paused time. [`MemStore::set_available`] simulates a lost connection.
//!
//! This is a test double. Integration tests use a real nats-server.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::kv::{Bucket, BucketSpec, KvEntry, KvError, KvFuture, KvOp, KvWatch, Store};

/// A set of in-memory buckets shared by every worker of a test.
#[derive(Clone, Default)]
pub struct MemStore {
    buckets: Arc<Mutex<HashMap<String, Arc<MemBucket>>>>,
    available: Arc<AtomicBool>,
}

impl MemStore {
    pub fn new() -> Self {
        let store = Self::default();
        store.available.store(true, Ordering::SeqCst);
        store
    }

    /// Make every operation fail with a connection error (false) or work again (true).
    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::SeqCst);
    }

    /// An existing bucket by name, for inspection in tests.
    pub fn bucket(&self, name: &str) -> Option<Arc<MemBucket>> {
        lock(&self.buckets).get(name).cloned()
    }
}

/// A view of the store that fails like a dropped connection while `available` is false.
/// Each worker can get its own handle so a test can cut off one worker only.
#[derive(Clone)]
pub struct MemConnection {
    store: MemStore,
    available: Arc<AtomicBool>,
}

impl MemConnection {
    pub fn new(store: &MemStore) -> Self {
        Self {
            store: store.clone(),
            available: Arc::new(AtomicBool::new(true)),
        }
    }
    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::SeqCst);
    }
}

impl Store for MemConnection {
    fn ensure_bucket<'a>(&'a self, spec: &'a BucketSpec) -> KvFuture<'a, Arc<dyn Bucket>> {
        Box::pin(async move {
            let bucket = self.store.open(spec)?;
            let view: Arc<dyn Bucket> = Arc::new(MemBucketView {
                bucket,
                available: self.available.clone(),
            });
            Ok(view)
        })
    }

    fn is_connected(&self) -> bool {
        self.available.load(Ordering::SeqCst)
    }
}

impl Store for MemStore {
    fn ensure_bucket<'a>(&'a self, spec: &'a BucketSpec) -> KvFuture<'a, Arc<dyn Bucket>> {
        Box::pin(async move {
            let bucket: Arc<dyn Bucket> = self.open(spec)?;
            Ok(bucket)
        })
    }
}

impl MemStore {
    fn open(&self, spec: &BucketSpec) -> Result<Arc<MemBucket>, KvError> {
        if !self.available.load(Ordering::SeqCst) {
            return Err(KvError::Connection("store unavailable".into()));
        }
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(spec.name.clone()).or_insert_with(|| {
            Arc::new(MemBucket {
                name: spec.name.clone(),
                max_age: spec.ttl,
                available: self.available.clone(),
                state: Mutex::new(BucketState::default()),
            })
        });
        Ok(bucket.clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct BucketState {
    sequence: u64,
    latest: BTreeMap<String, Stored>,
    watchers: Vec<(String, mpsc::UnboundedSender<KvEntry>)>,
}

#[derive(Clone)]
struct Stored {
    value: Bytes,
    revision: u64,
    op: KvOp,
    written_at: Instant,
}

/// One in-memory bucket.
pub struct MemBucket {
    name: String,
    max_age: Duration,
    available: Arc<AtomicBool>,
    state: Mutex<BucketState>,
}

impl MemBucket {
    fn check(&self) -> Result<(), KvError> {
        if self.available.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(KvError::Connection("store unavailable".into()))
        }
    }

    fn live<'s>(&self, state: &'s BucketState, key: &str, now: Instant) -> Option<&'s Stored> {
        state
            .latest
            .get(key)
            .filter(|stored| self.max_age.is_zero() || now - stored.written_at < self.max_age)
    }

    fn write(
        &self,
        key: &str,
        value: Bytes,
        op: KvOp,
        expected: Option<u64>,
    ) -> Result<u64, KvError> {
        self.check()?;
        let now = Instant::now();
        let mut state = lock(&self.state);
        if let Some(expected) = expected {
            let current = self
                .live(&state, key, now)
                .map_or(0, |stored| stored.revision);
            if current != expected {
                return Err(KvError::WrongRevision);
            }
        }
        state.sequence += 1;
        let revision = state.sequence;
        state.latest.insert(
            key.to_owned(),
            Stored {
                value: value.clone(),
                revision,
                op,
                written_at: now,
            },
        );
        let entry = KvEntry {
            key: key.to_owned(),
            value,
            revision,
            op,
        };
        state.watchers.retain(|(pattern, sender)| {
            !super::kv::subject_matches(pattern, key) || sender.send(entry.clone()).is_ok()
        });
        Ok(revision)
    }

    fn entry_now(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        self.check()?;
        let state = lock(&self.state);
        Ok(self
            .live(&state, key, Instant::now())
            .map(|stored| KvEntry {
                key: key.to_owned(),
                value: stored.value.clone(),
                revision: stored.revision,
                op: stored.op,
            }))
    }
}

impl Bucket for MemBucket {
    fn name(&self) -> &str {
        &self.name
    }

    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        Box::pin(async move {
            match self.entry_now(key)? {
                Some(entry) if entry.op == KvOp::Put => Err(KvError::AlreadyExists),
                Some(marker) => self.write(key, value, KvOp::Put, Some(marker.revision)),
                None => self.write(key, value, KvOp::Put, Some(0)),
            }
            .map_err(|err| {
                if err == KvError::WrongRevision {
                    KvError::AlreadyExists
                } else {
                    err
                }
            })
        })
    }

    fn update<'a>(&'a self, key: &'a str, value: Bytes, revision: u64) -> KvFuture<'a, u64> {
        Box::pin(async move { self.write(key, value, KvOp::Put, Some(revision)) })
    }

    fn put<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        Box::pin(async move { self.write(key, value, KvOp::Put, None) })
    }

    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        Box::pin(async move { Ok(self.entry_now(key)?.filter(|entry| entry.op == KvOp::Put)) })
    }

    fn entry<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        Box::pin(async move { self.entry_now(key) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> KvFuture<'a, ()> {
        Box::pin(async move {
            self.write(key, Bytes::new(), KvOp::Delete, None)
                .map(|_| ())
        })
    }

    fn keys(&self) -> KvFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.check()?;
            let now = Instant::now();
            let state = lock(&self.state);
            let mut live: Vec<(u64, String)> = state
                .latest
                .iter()
                .filter(|(key, stored)| {
                    stored.op == KvOp::Put && self.live(&state, key, now).is_some()
                })
                .map(|(key, stored)| (stored.revision, key.clone()))
                .collect();
            live.sort();
            Ok(live.into_iter().map(|(_, key)| key).collect())
        })
    }

    fn watch<'a>(&'a self, pattern: &'a str) -> KvFuture<'a, KvWatch> {
        Box::pin(async move {
            self.check()?;
            let now = Instant::now();
            let (sender, receiver) = mpsc::unbounded_channel();
            let mut state = lock(&self.state);
            let mut initial: Vec<KvEntry> = state
                .latest
                .iter()
                .filter(|(key, _)| super::kv::subject_matches(pattern, key))
                .filter(|(key, _)| self.live(&state, key, now).is_some())
                .map(|(key, stored)| KvEntry {
                    key: key.clone(),
                    value: stored.value.clone(),
                    revision: stored.revision,
                    op: stored.op,
                })
                .collect();
            initial.sort_by_key(|entry| entry.revision);
            for entry in initial {
                let _ = sender.send(entry);
            }
            state.watchers.push((pattern.to_owned(), sender));
            let stream = tokio_stream_from(receiver);
            Ok(stream)
        })
    }
}

fn tokio_stream_from(mut receiver: mpsc::UnboundedReceiver<KvEntry>) -> KvWatch {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
        .map(Ok)
        .boxed()
}

/// A per-connection view over a shared bucket.
struct MemBucketView {
    bucket: Arc<MemBucket>,
    available: Arc<AtomicBool>,
}

impl MemBucketView {
    fn check(&self) -> Result<(), KvError> {
        if self.available.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(KvError::Connection("connection unavailable".into()))
        }
    }
}

impl Bucket for MemBucketView {
    fn name(&self) -> &str {
        self.bucket.name()
    }
    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        Box::pin(async move {
            self.check()?;
            self.bucket.create(key, value).await
        })
    }
    fn update<'a>(&'a self, key: &'a str, value: Bytes, revision: u64) -> KvFuture<'a, u64> {
        Box::pin(async move {
            self.check()?;
            self.bucket.update(key, value, revision).await
        })
    }
    fn put<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        Box::pin(async move {
            self.check()?;
            self.bucket.put(key, value).await
        })
    }
    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        Box::pin(async move {
            self.check()?;
            self.bucket.get(key).await
        })
    }
    fn entry<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        Box::pin(async move {
            self.check()?;
            self.bucket.entry(key).await
        })
    }
    fn delete<'a>(&'a self, key: &'a str) -> KvFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.bucket.delete(key).await
        })
    }
    fn keys(&self) -> KvFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.check()?;
            self.bucket.keys().await
        })
    }
    fn watch<'a>(&'a self, pattern: &'a str) -> KvFuture<'a, KvWatch> {
        Box::pin(async move {
            self.check()?;
            self.bucket.watch(pattern).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, ttl_ms: u64) -> BucketSpec {
        BucketSpec {
            name: name.into(),
            ttl: Duration::from_millis(ttl_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn create_update_delete_follow_kv_semantics() {
        let store = MemStore::new();
        let bucket = store.ensure_bucket(&spec("b", 0)).await.expect("bucket");
        let first = bucket.create("k", "a".into()).await.expect("create");
        assert_eq!(
            bucket.create("k", "b".into()).await,
            Err(KvError::AlreadyExists)
        );
        let second = bucket.update("k", "c".into(), first).await.expect("update");
        assert!(second > first);
        assert_eq!(
            bucket.update("k", "d".into(), first).await,
            Err(KvError::WrongRevision)
        );
        bucket.delete("k").await.expect("delete");
        assert_eq!(bucket.get("k").await.expect("get"), None);
        assert_eq!(
            bucket.entry("k").await.expect("entry").map(|e| e.op),
            Some(KvOp::Delete)
        );
        assert!(bucket.keys().await.expect("keys").is_empty());
        // A deleted key counts as absent for create.
        bucket
            .create("k", "e".into())
            .await
            .expect("create over delete marker");
    }

    #[tokio::test(start_paused = true)]
    async fn keys_expire_after_max_age_without_events() {
        let store = MemStore::new();
        let bucket = store
            .ensure_bucket(&spec("ttl", 1000))
            .await
            .expect("bucket");
        bucket.put("a", "1".into()).await.expect("put");
        let mut watch = bucket.watch(">").await.expect("watch");
        assert_eq!(
            watch.next().await.expect("initial").expect("entry").key,
            "a"
        );
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(bucket.keys().await.expect("keys"), vec!["a".to_string()]);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(bucket.keys().await.expect("keys").is_empty());
        // Expired means no message at all: create works with expected revision 0 semantics.
        bucket
            .create("a", "2".into())
            .await
            .expect("create after expiry");
        assert_eq!(
            watch.next().await.expect("live").expect("entry").value,
            Bytes::from("2")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn keys_come_back_least_recently_written_first() {
        let store = MemStore::new();
        let bucket = store
            .ensure_bucket(&spec("order", 0))
            .await
            .expect("bucket");
        for key in ["x", "y", "z"] {
            bucket.put(key, "v".into()).await.expect("put");
        }
        bucket.put("x", "again".into()).await.expect("put");
        assert_eq!(bucket.keys().await.expect("keys"), vec!["y", "z", "x"]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unavailable_connection_fails_every_operation() {
        let store = MemStore::new();
        let connection = MemConnection::new(&store);
        let bucket = connection
            .ensure_bucket(&spec("c", 0))
            .await
            .expect("bucket");
        connection.set_available(false);
        assert!(
            bucket
                .put("k", "v".into())
                .await
                .expect_err("down")
                .is_connectivity()
        );
        connection.set_available(true);
        bucket.put("k", "v".into()).await.expect("up again");
    }
}
