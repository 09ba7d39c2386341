//! Leader election on the `leader` key (parti-protocol.md §4): acquire with create-if-absent,
//! renew with a compare-and-set on the remembered revision, treat any renewal error as lost
//! leadership, and step down by deleting the key.

use std::sync::Arc;

use bytes::Bytes;

use super::kv::{Bucket, KvError};
use super::timefmt;

/// The election key.
pub const LEADER_KEY: &str = "leader";

/// The worker ID in a leader value (`<id>:<unix seconds>`).
pub fn leader_id(value: &str) -> Option<&str> {
    value.rsplit_once(':').map(|(id, _)| id)
}

/// One worker's view of the election.
#[derive(Debug, Clone)]
pub struct Election {
    worker_id: String,
    /// The revision of our latest write while we hold the lease.
    revision: Option<u64>,
}

/// What one election tick changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionChange {
    None,
    Acquired,
    Lost,
}

impl Election {
    pub fn new(worker_id: impl Into<String>) -> Self {
        Self {
            worker_id: worker_id.into(),
            revision: None,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.revision.is_some()
    }

    fn value(&self) -> Bytes {
        Bytes::from(timefmt::leader_value(&self.worker_id, &timefmt::now()))
    }

    /// Try to create the key. `Ok(false)` means someone else leads.
    pub async fn try_acquire(&mut self, bucket: &Arc<dyn Bucket>) -> Result<bool, KvError> {
        match bucket.create(LEADER_KEY, self.value()).await {
            Ok(revision) => {
                self.revision = Some(revision);
                Ok(true)
            }
            Err(KvError::AlreadyExists) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// One tick of the maintenance loop: the leader renews (any error loses the lease at
    /// once, without re-acquiring on the same tick); a follower tries to acquire.
    pub async fn tick(&mut self, bucket: &Arc<dyn Bucket>) -> (ElectionChange, Option<KvError>) {
        match self.revision {
            Some(revision) => match bucket.update(LEADER_KEY, self.value(), revision).await {
                Ok(revision) => {
                    self.revision = Some(revision);
                    (ElectionChange::None, None)
                }
                Err(err) => {
                    self.revision = None;
                    (ElectionChange::Lost, Some(err))
                }
            },
            None => match self.try_acquire(bucket).await {
                Ok(true) => (ElectionChange::Acquired, None),
                Ok(false) => (ElectionChange::None, None),
                Err(err) => (ElectionChange::None, Some(err)),
            },
        }
    }

    /// The outcome of a tick that did not finish in time: a leader has lost its lease.
    pub fn timed_out(&mut self) -> (ElectionChange, Option<KvError>) {
        if self.revision.take().is_some() {
            (ElectionChange::Lost, Some(KvError::Timeout))
        } else {
            (ElectionChange::None, Some(KvError::Timeout))
        }
    }

    /// If leader, delete the key so a follower takes over on its next tick.
    pub async fn step_down(&mut self, bucket: &Arc<dyn Bucket>) -> Result<(), KvError> {
        if self.revision.take().is_some() {
            bucket.delete(LEADER_KEY).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parti::kv::{BucketSpec, Store};
    use crate::parti::mem_kv::MemStore;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn one_leader_then_failover_after_expiry_or_step_down() {
        let bucket = MemStore::new()
            .ensure_bucket(&BucketSpec {
                name: "e".into(),
                ttl: Duration::from_secs(1),
            })
            .await
            .expect("bucket");
        let mut a = Election::new("worker-0");
        let mut b = Election::new("worker-1");
        assert!(a.try_acquire(&bucket).await.expect("a"));
        assert!(!b.try_acquire(&bucket).await.expect("b"));
        let value = bucket.get(LEADER_KEY).await.expect("get").expect("leader");
        let text = String::from_utf8(value.value.to_vec()).expect("utf8");
        assert!(
            text.starts_with("worker-0:") && text[9..].parse::<i64>().is_ok(),
            "{text}"
        );
        // Renewals keep the lease past the TTL.
        for _ in 0..3 {
            tokio::time::advance(Duration::from_millis(333)).await;
            assert_eq!(a.tick(&bucket).await.0, ElectionChange::None);
            assert_eq!(b.tick(&bucket).await.0, ElectionChange::None);
        }
        // The leader stalls; its key expires; the follower takes over; the old leader's next
        // renewal fails and it becomes a follower.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.tick(&bucket).await.0, ElectionChange::Acquired);
        assert_eq!(a.tick(&bucket).await.0, ElectionChange::Lost);
        assert!(!a.is_leader() && b.is_leader());
        b.step_down(&bucket).await.expect("step down");
        assert_eq!(a.tick(&bucket).await.0, ElectionChange::Acquired);
    }
}
