//! The leader's IO side of a rebalance (parti-protocol.md §5.2, §6.1 step 1, §6.5): listing the
//! live set with the connectivity fallback, discovering the highest published version, and
//! publishing one version of every worker's assignment.

use std::sync::Arc;

use tokio::time::Instant;

use super::assignment::{Assignment, Lifecycle};
use super::calculator::RebalanceOutcome;
use super::error::Error;
use super::heartbeat;
use super::kv::{Bucket, KvError};
use super::source::PartitionSource;
use super::strategy::Strategy;

/// The assignment key prefix.
pub const ASSIGNMENT_PREFIX: &str = "assignment";

/// The key of a worker's assignment.
pub fn assignment_key(worker_id: &str) -> String {
    format!("{ASSIGNMENT_PREFIX}.{worker_id}")
}

/// The worker an assignment key belongs to (the inverse of [`assignment_key`]).
pub fn assignment_worker(key: &str) -> Option<&str> {
    key.strip_prefix(ASSIGNMENT_PREFIX)?.strip_prefix('.')
}

/// Everything a rebalance reads and writes.
pub struct Publisher {
    pub heartbeat: Arc<dyn Bucket>,
    pub assignment: Arc<dyn Bucket>,
    pub source: Arc<dyn PartitionSource>,
    pub strategy: Arc<dyn Strategy>,
    /// The last version used (or discovered).
    pub version: i64,
    cached_live: Option<Vec<String>>,
}

impl Publisher {
    pub fn new(
        heartbeat: Arc<dyn Bucket>,
        assignment: Arc<dyn Bucket>,
        source: Arc<dyn PartitionSource>,
        strategy: Arc<dyn Strategy>,
    ) -> Self {
        Self {
            heartbeat,
            assignment,
            source,
            strategy,
            version: 0,
            cached_live: None,
        }
    }

    /// The live worker set from the heartbeat keys. On a connectivity error the last listed
    /// set is used; without one the error is returned.
    pub async fn live_workers(&mut self) -> Result<Vec<String>, KvError> {
        match self.heartbeat.keys().await {
            Ok(keys) => {
                let live = heartbeat::live_workers(keys);
                self.cached_live = Some(live.clone());
                Ok(live)
            }
            Err(err) if err.is_connectivity() => self.cached_live.clone().ok_or(err),
            Err(err) => Err(err),
        }
    }

    /// Set the counter to the highest version found under `assignment.*` (0 if none or if the
    /// listing fails). Undecodable values are skipped.
    pub async fn discover_version(&mut self) -> i64 {
        self.version = highest_version(self.assignment.as_ref()).await.unwrap_or(0);
        self.version
    }

    /// `rebalance(lifecycle)` (§6.5): assign the live set minus `disappeared` and publish.
    pub async fn rebalance(
        &mut self,
        lifecycle: Lifecycle,
        disappeared: &[String],
    ) -> Result<RebalanceOutcome, Error> {
        let mut workers = self
            .live_workers()
            .await
            .map_err(|err| Error::kv("list live workers", err))?;
        workers.retain(|worker| !disappeared.contains(worker));
        let partitions = self.source.list()?;
        if workers.is_empty() {
            return Ok(RebalanceOutcome {
                workers,
                version: None,
                partitions: partitions.len(),
                published_at: None,
            });
        }
        // Sorted so that order-sensitive strategies (round-robin) give reproducible results;
        // the hash strategies do not depend on the order.
        workers.sort();
        let map = self.strategy.assign(&workers, &partitions)?;
        self.version += 1;
        let version = self.version;
        // Stale cleanup: delete assignment keys of workers not in this publish (best effort).
        if let Ok(keys) = self.assignment.keys().await {
            for key in keys {
                let stale = assignment_worker(&key).is_some_and(|worker| !map.contains_key(worker));
                if stale {
                    let _ = self.assignment.delete(&key).await;
                }
            }
        }
        for (worker, owned) in &map {
            let value = Assignment {
                version,
                lifecycle: lifecycle.as_str().to_owned(),
                partitions: owned.clone(),
            };
            self.assignment
                .put(&assignment_key(worker), value.encode().into())
                .await
                .map_err(|err| Error::kv(format!("publish version {version} to {worker}"), err))?;
        }
        Ok(RebalanceOutcome {
            workers,
            version: Some(version),
            partitions: partitions.len(),
            published_at: Some(Instant::now()),
        })
    }
}

/// The highest `version` among the assignment keys.
pub async fn highest_version(bucket: &dyn Bucket) -> Result<i64, KvError> {
    let mut highest = 0;
    for key in bucket.keys().await? {
        if !key.starts_with(ASSIGNMENT_PREFIX) {
            continue;
        }
        if let Ok(Some(entry)) = bucket.get(&key).await
            && let Ok(value) = Assignment::decode(&entry.value)
        {
            highest = highest.max(value.version);
        }
    }
    Ok(highest)
}
