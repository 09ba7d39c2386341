//! The narrow key-value interface the protocol needs, and the bucket layout of parti.
//!
//! Everything in `parti` talks to NATS KV through [`Bucket`] and [`Store`]. Two implementations
//! exist: [`super::nats_kv`] (JetStream KV through async-nats, the real thing) and
//! [`super::mem_kv`] (an in-memory model with revisions, TTLs and watches, for deterministic tests
//! under paused tokio time). The semantics follow nats.go v1.47 as parti uses it (see
//! parti-protocol.md §1.3): `create` treats a deleted key as absent, `get` reports a deleted key
//! as missing, `keys` skips deleted keys, and `watch` replays the latest entry of every matching
//! key (delete markers included) before live updates.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// An error from a KV operation, classified the way the protocol needs to react to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// `create` found a live value under the key.
    #[error("key already exists")]
    AlreadyExists,
    /// `update` expected a revision that is no longer the latest (or the key is gone).
    #[error("wrong last revision")]
    WrongRevision,
    /// The server did not answer in time.
    #[error("timed out")]
    Timeout,
    /// The connection to the server is down or closed.
    #[error("not connected: {0}")]
    Connection(String),
    /// Anything else, with the underlying message.
    #[error("{0}")]
    Other(String),
}

impl KvError {
    /// Errors that mean "the server could not be reached" rather than "the server said no"
    /// (parti-protocol.md §5.2, connectivity fallback).
    pub fn is_connectivity(&self) -> bool {
        match self {
            KvError::Timeout | KvError::Connection(_) => true,
            KvError::Other(text) => {
                let text = text.to_ascii_lowercase();
                text.contains("connection refused")
                    || text.contains("i/o timeout")
                    || text.contains("no responders")
                    || text.contains("disconnected")
            }
            KvError::AlreadyExists | KvError::WrongRevision => false,
        }
    }
}

/// What kind of write produced an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KvOp {
    Put,
    Delete,
    Purge,
}

/// One entry of a bucket as seen by `get` or a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub key: String,
    pub value: Bytes,
    pub revision: u64,
    pub op: KvOp,
}

/// A boxed future of a KV result.
pub type KvFuture<'a, T> = BoxFuture<'a, Result<T, KvError>>;
/// A stream of watched entries. It ends when the watch is closed (for example on disconnect).
pub type KvWatch = BoxStream<'static, Result<KvEntry, KvError>>;

/// One KV bucket.
pub trait Bucket: Send + Sync {
    /// The bucket name, e.g. `parti-heartbeat`.
    fn name(&self) -> &str;
    /// Create-if-absent: fails with [`KvError::AlreadyExists`] if a live value exists. A deleted
    /// or expired key counts as absent. Returns the new revision.
    fn create<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64>;
    /// Compare-and-set on the key's latest revision. Returns the new revision.
    fn update<'a>(&'a self, key: &'a str, value: Bytes, revision: u64) -> KvFuture<'a, u64>;
    /// Unconditional write. Returns the new revision.
    fn put<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64>;
    /// The latest live entry, or `None` if the key is missing, deleted or expired.
    fn get<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>>;
    /// The latest entry including delete markers (`None` only if no message exists at all).
    fn entry<'a>(&'a self, key: &'a str) -> KvFuture<'a, Option<KvEntry>>;
    /// Write a delete marker (not a purge).
    fn delete<'a>(&'a self, key: &'a str) -> KvFuture<'a, ()>;
    /// Live keys, least recently written first.
    fn keys(&self) -> KvFuture<'_, Vec<String>>;
    /// Watch keys matching a subject pattern (`*`, `>` wildcards): the latest entry of every
    /// matching key first (delete markers included), then live changes.
    fn watch<'a>(&'a self, pattern: &'a str) -> KvFuture<'a, KvWatch>;
}

/// How a bucket is asked for: the three fields parti sets (parti-protocol.md §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    pub name: String,
    /// Stream MaxAge; zero means no expiry.
    pub ttl: Duration,
}

/// Something that can open buckets.
pub trait Store: Send + Sync {
    /// Create the bucket with history 1 and the given TTL; if a bucket of that name already
    /// exists (with any config), open it as it is.
    fn ensure_bucket<'a>(&'a self, spec: &'a BucketSpec) -> KvFuture<'a, Arc<dyn Bucket>>;
    /// Whether the underlying connection is up (drives the optional Degraded state).
    fn is_connected(&self) -> bool {
        true
    }
}

/// The four buckets a worker uses.
#[derive(Clone)]
pub struct Buckets {
    pub stable_id: Arc<dyn Bucket>,
    pub election: Arc<dyn Bucket>,
    pub heartbeat: Arc<dyn Bucket>,
    pub assignment: Arc<dyn Bucket>,
}

/// The attempts and back-off Go uses when ensuring a bucket (parti-protocol.md §1.1).
const ENSURE_BACKOFF: [Duration; 4] = [
    Duration::from_millis(10),
    Duration::from_millis(20),
    Duration::from_millis(40),
    Duration::from_millis(80),
];

/// Ensure one bucket, retrying up to five times like the Go library.
pub async fn ensure_with_retry(
    store: &dyn Store,
    spec: &BucketSpec,
) -> Result<Arc<dyn Bucket>, KvError> {
    let mut last = None;
    for attempt in 0..=ENSURE_BACKOFF.len() {
        match store.ensure_bucket(spec).await {
            Ok(bucket) => return Ok(bucket),
            Err(err) => {
                last = Some(err);
                if let Some(delay) = ENSURE_BACKOFF.get(attempt) {
                    tokio::time::sleep(*delay).await;
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| KvError::Other("bucket could not be ensured".into())))
}

/// Does a NATS subject pattern (`*` one token, `>` the rest) match a key?
pub fn subject_matches(pattern: &str, key: &str) -> bool {
    let mut pattern_tokens = pattern.split('.');
    let mut key_tokens = key.split('.');
    loop {
        match (pattern_tokens.next(), key_tokens.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(p), Some(k)) if p == k => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_patterns_match_like_nats() {
        assert!(subject_matches("heartbeat.*", "heartbeat.worker-0"));
        assert!(!subject_matches("heartbeat.*", "heartbeat.a.b"));
        assert!(!subject_matches("heartbeat.*", "heartbeat"));
        assert!(subject_matches("assignment.>", "assignment.a.b"));
        assert!(!subject_matches("assignment.>", "assignment"));
        assert!(subject_matches("leader", "leader"));
        assert!(!subject_matches("leader", "leaders"));
    }

    #[test]
    fn connectivity_errors_are_classified() {
        assert!(KvError::Timeout.is_connectivity());
        assert!(KvError::Connection("closed".into()).is_connectivity());
        assert!(KvError::Other("dial tcp: connection refused".into()).is_connectivity());
        assert!(!KvError::Other("stream not found".into()).is_connectivity());
        assert!(!KvError::WrongRevision.is_connectivity());
    }
}
