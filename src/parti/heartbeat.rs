//! Heartbeats (parti-protocol.md §5): the `heartbeat.<workerID>` key a worker refreshes, and
//! how the leader turns the bucket's keys into the live worker set.

use std::sync::Arc;

use bytes::Bytes;

use super::kv::{Bucket, KvError};
use super::timefmt;

/// The literal key prefix.
pub const PREFIX: &str = "heartbeat";

/// The key of a worker's heartbeat.
pub fn key(worker_id: &str) -> String {
    format!("{PREFIX}.{worker_id}")
}

/// Write a fresh heartbeat (RFC 3339 with nanoseconds).
pub async fn publish(bucket: &Arc<dyn Bucket>, worker_id: &str) -> Result<u64, KvError> {
    let value = Bytes::from(timefmt::rfc3339_nano(&timefmt::now()));
    bucket.put(&key(worker_id), value).await
}

/// Delete the heartbeat on a graceful stop, so the leader sees the departure at once.
pub async fn remove(bucket: &Arc<dyn Bucket>, worker_id: &str) -> Result<(), KvError> {
    bucket.delete(&key(worker_id)).await
}

/// Go's rule: a key that starts with `heartbeat` and is longer than `heartbeat` + 1 gives the
/// text after the first `len("heartbeat") + 1` characters as a worker ID.
pub fn worker_of(key: &str) -> Option<&str> {
    (key.starts_with(PREFIX) && key.len() > PREFIX.len() + 1)
        .then(|| key.get(PREFIX.len() + 1..))
        .flatten()
}

/// The worker IDs of heartbeat keys ([`worker_of`]), in order.
pub fn live_workers<I, S>(keys: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    keys.into_iter()
        .filter_map(|key| worker_of(key.as_ref()).map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_set_follows_the_go_prefix_rule() {
        let keys = [
            "heartbeat.worker-1",
            "heartbeat.",
            "other",
            "heartbeat.worker-0",
            "heartbeatXy",
        ];
        assert_eq!(live_workers(keys), vec!["worker-1", "worker-0", "y"]);
    }
}
