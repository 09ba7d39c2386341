//! [`Bucket`] and [`Store`] over JetStream KV (async-nats), configured exactly as the Go library
//! configures its buckets (parti-protocol.md §1.1, Appendix B).

use std::sync::Arc;

use async_nats::jetstream::{self, kv, stream::StorageType};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::kv::{Bucket, BucketSpec, KvEntry, KvError, KvFuture, KvOp, KvWatch, Store};

/// Opens parti's buckets on one NATS connection.
#[derive(Clone)]
pub struct NatsStore {
    client: async_nats::Client,
    jetstream: jetstream::Context,
}

impl NatsStore {
    /// One JetStream context per connection, cloned for every bucket.
    pub fn new(client: async_nats::Client) -> Self {
        let jetstream = jetstream::new(client.clone());
        Self { client, jetstream }
    }

    /// Open an existing bucket without creating it (for read-only observers).
    pub async fn open_bucket(&self, name: &str) -> Result<Arc<dyn Bucket>, KvError> {
        let store = self
            .jetstream
            .get_key_value(name)
            .await
            .map_err(|err| classify(&self.client, format!("open bucket {name}: {err}")))?;
        Ok(Arc::new(NatsBucket {
            store,
            client: self.client.clone(),
        }))
    }

    /// The JetStream context of this connection.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// The connection this store uses.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

/// The KV config Go asks for: history 1, MaxAge = TTL, file storage, one replica, everything
/// else default (unlimited sizes).
pub fn bucket_config(spec: &BucketSpec) -> kv::Config {
    kv::Config {
        bucket: spec.name.clone(),
        history: 1,
        max_age: spec.ttl,
        max_bytes: -1,
        max_value_size: -1,
        storage: StorageType::File,
        num_replicas: 1,
        ..Default::default()
    }
}

impl Store for NatsStore {
    fn ensure_bucket<'a>(&'a self, spec: &'a BucketSpec) -> KvFuture<'a, Arc<dyn Bucket>> {
        Box::pin(async move {
            let store = match self.jetstream.create_key_value(bucket_config(spec)).await {
                Ok(store) => store,
                Err(create_err) => {
                    // Already there with another config: use it as it is, like Go.
                    self.jetstream
                        .get_key_value(&spec.name)
                        .await
                        .map_err(|_| {
                            classify(
                                &self.client,
                                format!("ensure bucket {}: {create_err}", spec.name),
                            )
                        })?
                }
            };
            let bucket: Arc<dyn Bucket> = Arc::new(NatsBucket {
                store,
                client: self.client.clone(),
            });
            Ok(bucket)
        })
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// One JetStream KV bucket.
pub struct NatsBucket {
    store: kv::Store,
    client: async_nats::Client,
}

fn classify(client: &async_nats::Client, text: String) -> KvError {
    if client.connection_state() != async_nats::connection::State::Connected {
        return KvError::Connection(text);
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") {
        KvError::Timeout
    } else {
        KvError::Other(text)
    }
}

fn op_of(operation: kv::Operation) -> KvOp {
    match operation {
        kv::Operation::Put => KvOp::Put,
        kv::Operation::Delete => KvOp::Delete,
        kv::Operation::Purge => KvOp::Purge,
    }
}

fn entry_of(entry: kv::Entry) -> KvEntry {
    KvEntry {
        key: entry.key,
        value: entry.value,
        revision: entry.revision,
        op: op_of(entry.operation),
    }
}

impl Bucket for NatsBucket {
    fn name(&self) -> &str {
        &self.store.name
    }

    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        Box::pin(async move {
            self.store
                .create(key, value)
                .await
                .map_err(|err| match err.kind() {
                    kv::CreateErrorKind::AlreadyExists => KvError::AlreadyExists,
                    _ => classify(&self.client, format!("create {key}: {err}")),
                })
        })
    }

    fn update<'a>(&'a self, key: &'a str, value: Bytes, revision: u64) -> KvFuture<'a, u64> {
        Box::pin(async move {
            self.store
                .update(key, value, revision)
                .await
                .map_err(|err| match err.kind() {
                    kv::UpdateErrorKind::WrongLastRevision => KvError::WrongRevision,
                    kv::UpdateErrorKind::TimedOut => KvError::Timeout,
                    _ => classify(&self.client, format!("update {key}: {err}")),
                })
        })
    }

    fn put<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        Box::pin(async move {
            self.store
                .put(key, value)
                .await
                .map_err(|err| classify(&self.client, format!("put {key}: {err}")))
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        Box::pin(async move {
            let entry = self.entry(key).await?;
            Ok(entry.filter(|entry| entry.op == KvOp::Put))
        })
    }

    fn entry<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        Box::pin(async move {
            self.store
                .entry(key)
                .await
                .map(|entry| entry.map(entry_of))
                .map_err(|err| classify(&self.client, format!("get {key}: {err}")))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> KvFuture<'a, ()> {
        Box::pin(async move {
            self.store
                .delete(key)
                .await
                .map_err(|err| classify(&self.client, format!("delete {key}: {err}")))
        })
    }

    fn keys(&self) -> KvFuture<'_, Vec<String>> {
        Box::pin(async move {
            let keys = self
                .store
                .keys()
                .await
                .map_err(|err| classify(&self.client, format!("list keys: {err}")))?;
            keys.try_collect()
                .await
                .map_err(|err| classify(&self.client, format!("list keys: {err}")))
        })
    }

    fn watch<'a>(&'a self, pattern: &'a str) -> KvFuture<'a, KvWatch> {
        Box::pin(async move {
            let watch = self
                .store
                .watch_with_history(pattern)
                .await
                .map_err(|err| classify(&self.client, format!("watch {pattern}: {err}")))?;
            let stream: KvWatch = watch
                .map(|item| {
                    item.map(entry_of)
                        .map_err(|err| KvError::Other(err.to_string()))
                })
                .boxed();
            Ok(stream)
        })
    }
}
