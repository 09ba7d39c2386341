//! [`Bucket`] and [`Store`] over JetStream KV (async-nats), configured exactly as the Go library
//! configures its buckets (parti-protocol.md §1.1, Appendix B).

use std::sync::Arc;

use async_nats::jetstream::{
    self, context::PublishErrorKind, kv, message::PublishMessage, stream::StorageType,
};
use bytes::Bytes;

use super::kv::{Bucket, BucketSpec, KvEntry, KvError, KvFuture, KvOp, KvWatch, Store};

mod listing;
mod watch;

/// Bucket handles a store hands out again instead of opening new ones.
type BucketCache = Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<dyn Bucket>>>>;

/// Opens parti's buckets on one NATS connection.
#[derive(Clone)]
pub struct NatsStore {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    replicas: usize,
    /// Set when several workers share this store: they share its bucket handles too.
    shared: Option<BucketCache>,
}

impl NatsStore {
    /// One JetStream context per connection, cloned for every bucket.
    pub fn new(client: async_nats::Client) -> Self {
        let jetstream = jetstream::new(client.clone());
        Self {
            client,
            jetstream,
            replicas: 1,
            shared: None,
        }
    }

    /// For a store shared by several workers (one connection per host): every worker still
    /// ensures each bucket (the same JetStream calls as a Go Manager makes), but all get the
    /// same bucket handle, so a host keeps one set of handles (and one bucket-info copy for
    /// watches) instead of one per worker.
    pub fn sharing_buckets(mut self) -> Self {
        self.shared = Some(BucketCache::default());
        self
    }

    /// Buckets this store creates get `replicas` copies (for a clustered JetStream; at least
    /// 1). The default is 1, as Go creates them. A bucket that already exists is used as it is.
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// The replicas of the buckets this store creates.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// Open an existing bucket without creating it (for read-only observers).
    pub async fn open_bucket(&self, name: &str) -> Result<Arc<dyn Bucket>, KvError> {
        self.jetstream
            .get_key_value(name)
            .await
            .map_err(|err| classify(&self.client, format!("open bucket {name}: {err}")))?;
        self.bucket(name).await
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

/// [`bucket_config`] with `replicas` copies (at least 1) instead of one.
pub fn bucket_config_with_replicas(spec: &BucketSpec, replicas: usize) -> kv::Config {
    kv::Config {
        num_replicas: replicas.max(1),
        ..bucket_config(spec)
    }
}

impl NatsStore {
    async fn bucket(&self, name: &str) -> Result<Arc<dyn Bucket>, KvError> {
        let stream = self
            .jetstream
            .get_stream_no_info(format!("KV_{name}"))
            .await
            .map_err(|err| KvError::Other(format!("bucket {name}: {err}")))?;
        Ok(Arc::new(NatsBucket {
            name: name.to_owned(),
            prefix: format!("$KV.{name}."),
            jetstream: self.jetstream.clone(),
            stream,
            client: self.client.clone(),
        }))
    }
}

impl Store for NatsStore {
    fn ensure_bucket<'a>(&'a self, spec: &'a BucketSpec) -> KvFuture<'a, Arc<dyn Bucket>> {
        Box::pin(async move {
            if let Err(create_err) = self
                .jetstream
                .create_key_value(bucket_config_with_replicas(spec, self.replicas))
                .await
            {
                // Already there with another config: use it as it is, like Go.
                self.jetstream
                    .get_key_value(&spec.name)
                    .await
                    .map_err(|_| {
                        classify(
                            &self.client,
                            format!("ensure bucket {}: {create_err}", spec.name),
                        )
                    })?;
            }
            let Some(cache) = &self.shared else {
                return self.bucket(&spec.name).await;
            };
            let cached = cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&spec.name)
                .cloned();
            if let Some(bucket) = cached {
                return Ok(bucket);
            }
            let bucket = self.bucket(&spec.name).await?;
            Ok(cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(spec.name.clone())
                .or_insert(bucket)
                .clone())
        })
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// One JetStream KV bucket. Writes are JetStream publishes to `$KV.<bucket>.<key>` with the
/// headers nats.go uses, reads are direct gets, watches and key listings are the consumers
/// nats.go creates for them, made on the stream directly (no `kv::Store` handle, which would
/// fetch and keep a copy of the stream's info per bucket and worker).
pub struct NatsBucket {
    name: String,
    prefix: String,
    jetstream: jetstream::Context,
    stream: jetstream::stream::Stream<()>,
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

/// The header that marks deletes and purges.
const KV_OPERATION: &str = "KV-Operation";

/// What kind of write a message's headers say it is (a server's expiry marker counts as a
/// purge).
fn op_of(headers: Option<&async_nats::HeaderMap>) -> KvOp {
    let Some(headers) = headers else {
        return KvOp::Put;
    };
    match headers.get(KV_OPERATION).map(|v| v.as_str()) {
        Some("DEL") => KvOp::Delete,
        Some("PURGE") => KvOp::Purge,
        _ if headers.get("Nats-Marker-Reason").is_some() => KvOp::Purge,
        _ => KvOp::Put,
    }
}

impl NatsBucket {
    async fn publish(&self, key: &str, message: PublishMessage) -> Result<u64, KvError> {
        let subject = format!("{}{key}", self.prefix);
        let map = |err: jetstream::context::PublishError| match err.kind() {
            PublishErrorKind::WrongLastSequence => KvError::WrongRevision,
            PublishErrorKind::TimedOut => KvError::Timeout,
            _ if wrong_last_sequence_constant(&err) => KvError::WrongRevision,
            _ => classify(&self.client, format!("write {key}: {err}")),
        };
        let ack = self
            .jetstream
            .send_publish(subject, message)
            .await
            .map_err(map)?;
        Ok(ack.await.map_err(map)?.sequence)
    }

    async fn latest(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        match self
            .stream
            .direct_get_last_for_subject(format!("{}{key}", self.prefix))
            .await
        {
            Ok(message) => {
                let op = op_of(Some(&message.headers));
                Ok(Some(KvEntry {
                    key: key.to_owned(),
                    value: message.payload,
                    revision: message.sequence,
                    op,
                }))
            }
            Err(err) if err.kind() == jetstream::stream::DirectGetErrorKind::NotFound => Ok(None),
            Err(err) => Err(classify(&self.client, format!("get {key}: {err}"))),
        }
    }
}

/// A clustered JetStream answers an expected-sequence mismatch with error code 10164 ("wrong
/// last sequence", its constant form) where a single server says 10071; async-nats names only
/// the latter. Both mean the key is not at the revision the write expected.
fn wrong_last_sequence_constant(err: &jetstream::context::PublishError) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<jetstream::Error>())
        .is_some_and(|source| {
            source.error_code() == jetstream::ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
        })
}

impl Bucket for NatsBucket {
    fn name(&self) -> &str {
        &self.name
    }

    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        Box::pin(async move {
            let attempt = |expected: u64| {
                PublishMessage::build()
                    .payload(value.clone())
                    .expected_last_subject_sequence(expected)
            };
            match self.publish(key, attempt(0)).await {
                Err(KvError::WrongRevision) => {}
                other => return other,
            }
            // Like nats.go: a delete or purge marker counts as absent; a live value exists.
            let expected = match self.latest(key).await? {
                Some(entry) if entry.op == KvOp::Put => return Err(KvError::AlreadyExists),
                Some(marker) => marker.revision,
                None => 0,
            };
            self.publish(key, attempt(expected))
                .await
                .map_err(|err| match err {
                    KvError::WrongRevision => KvError::AlreadyExists,
                    other => other,
                })
        })
    }

    fn update<'a>(&'a self, key: &'a str, value: Bytes, revision: u64) -> KvFuture<'a, u64> {
        Box::pin(async move {
            let message = PublishMessage::build()
                .payload(value)
                .expected_last_subject_sequence(revision);
            self.publish(key, message).await
        })
    }

    fn put<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
        Box::pin(async move {
            self.publish(key, PublishMessage::build().payload(value))
                .await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        Box::pin(async move {
            Ok(self
                .latest(key)
                .await?
                .filter(|entry| entry.op == KvOp::Put))
        })
    }

    fn entry<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>> {
        Box::pin(async move { self.latest(key).await })
    }

    fn delete<'a>(&'a self, key: &'a str) -> KvFuture<'a, ()> {
        Box::pin(async move {
            let message = PublishMessage::build()
                .payload(Bytes::new())
                .header(KV_OPERATION, "DEL");
            self.publish(key, message).await.map(|_| ())
        })
    }

    fn keys(&self) -> KvFuture<'_, Vec<String>> {
        Box::pin(self.list_keys())
    }

    fn watch<'a>(&'a self, pattern: &'a str) -> KvFuture<'a, KvWatch> {
        Box::pin(self.watch_ordered(pattern))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn replicas_change_only_the_replica_count() {
        let spec = BucketSpec {
            name: "parti-heartbeat".into(),
            ttl: Duration::from_secs(3),
        };
        let single = bucket_config(&spec);
        assert_eq!(single.num_replicas, 1);
        let three = bucket_config_with_replicas(&spec, 3);
        assert_eq!(three.num_replicas, 3);
        let same = |c: &kv::Config| {
            (
                c.bucket.clone(),
                c.history,
                c.max_age,
                c.max_bytes,
                c.max_value_size,
                c.storage,
            )
        };
        assert_eq!(same(&three), same(&single));
        assert_eq!(bucket_config_with_replicas(&spec, 0).num_replicas, 1);
    }
}
