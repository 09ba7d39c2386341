//! When the controller's observer last saw each worker's heartbeat key written: the heartbeat
//! ages the metrics exporter serves.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::measure::model::{BucketRole, KvChange};

/// Worker ID → when its heartbeat key was last seen written (a delete forgets it).
pub(super) type HeartbeatsSeen = Arc<Mutex<HashMap<String, tokio::time::Instant>>>;

/// Note a KV change seen by the observer (anything but a heartbeat is ignored).
pub(super) fn note(seen: &HeartbeatsSeen, change: &KvChange) {
    if change.role != BucketRole::Heartbeat {
        return;
    }
    let Some(worker) = crate::parti::heartbeat::worker_of(&change.key) else {
        return;
    };
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if change.value.is_some() {
        seen.insert(worker.to_owned(), tokio::time::Instant::now());
    } else {
        seen.remove(worker);
    }
}

/// Each worker ID's time since its heartbeat key was last seen written.
pub(super) fn ages(seen: &HeartbeatsSeen) -> BTreeMap<String, Duration> {
    let now = tokio::time::Instant::now();
    let seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seen.iter()
        .map(|(id, at)| (id.clone(), now.saturating_duration_since(*at)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, value: Option<&[u8]>) -> KvChange {
        KvChange {
            role: BucketRole::Heartbeat,
            key: key.into(),
            value: value.map(<[u8]>::to_vec),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ages_grow_until_the_next_write_and_a_delete_forgets() {
        let seen = HeartbeatsSeen::default();
        let key = crate::parti::heartbeat::key("worker-3");
        note(&seen, &change(&key, Some(b"t")));
        tokio::time::advance(Duration::from_millis(700)).await;
        assert_eq!(ages(&seen)["worker-3"], Duration::from_millis(700));
        note(&seen, &change(&key, Some(b"t")));
        assert_eq!(ages(&seen)["worker-3"], Duration::ZERO);
        note(&seen, &change(&key, None));
        assert!(ages(&seen).is_empty());
        // Other buckets are not heartbeats.
        let mut other = change(&key, Some(b"t"));
        other.role = BucketRole::Assignment;
        note(&seen, &other);
        assert!(ages(&seen).is_empty());
    }
}
