//! Stable worker IDs (parti-protocol.md §3): claim the lowest free `<prefix>-<n>` with
//! create-if-absent, renew it, detect losing it, and release it.
//!
//! Differences from Go, none of which changes the wire format (recorded in docs/protocol.md):
//! - After a failed Get in the claim loop, Go does an unconditional Put, which can steal an ID
//!   that another worker has just created. Here the retry is a second create-if-absent.
//! - Go renews with a blind Put and never notices losing the ID. Here renewal is a
//!   compare-and-set on the revision this worker last wrote. If the key was overwritten or
//!   expired, the worker tries to take it back with create-if-absent; if another process holds
//!   it, the loss is reported and the worker stops rather than share an ID.

use std::sync::Arc;

use bytes::Bytes;

use super::error::Error;
use super::kv::{Bucket, KvError};
use super::timefmt;

/// A claimed ID and the revision of this worker's latest write to its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedId {
    pub worker_id: String,
    pub revision: u64,
    /// The value of a renewal whose outcome is unknown (it timed out): if the key now holds
    /// exactly this value, the write landed.
    unacked: Option<Bytes>,
}

fn timestamp() -> Bytes {
    Bytes::from(timefmt::rfc3339_seconds(&timefmt::now()))
}

/// Claim a free ID in `min..=max`: the lowest free one when nobody else is claiming.
///
/// One key listing tells which IDs are free; the claim then creates the lowest of them. Each
/// create lost to a concurrent claimer doubles the window of low free IDs the next attempt
/// picks from at random, so `n` workers starting together settle in about log2(n) rounds
/// (O(n log n) creates in all) instead of racing through the same IDs one by one (O(n²)). A
/// worker alone takes the lowest free ID in one create. When the listing fails or every listed
/// ID was taken meanwhile, the claim falls back to the ascending scan (create, then get).
/// Either way every claim is a create-if-absent on `<prefix>-<n>`, as Go's.
pub async fn claim(
    bucket: &Arc<dyn Bucket>,
    prefix: &str,
    min: u32,
    max: u32,
) -> Result<ClaimedId, Error> {
    if let Ok(keys) = bucket.keys().await {
        let mut free = free_ids(&keys, prefix, min, max);
        let mut random = ClaimRandom::new(prefix, min);
        let mut losses = 0u32;
        while !free.is_empty() {
            let n = free.remove(pick(free.len(), losses, random.next_u64()));
            let key = format!("{prefix}-{n}");
            match bucket.create(&key, timestamp()).await {
                Ok(revision) => {
                    return Ok(ClaimedId {
                        worker_id: key,
                        revision,
                        unacked: None,
                    });
                }
                Err(KvError::AlreadyExists) => losses = losses.saturating_add(1),
                Err(err) => return Err(Error::kv(format!("claim {key}"), err)),
            }
        }
    }
    claim_ascending(bucket, prefix, min, max).await
}

/// The IDs in `min..=max` that `keys` does not hold, ascending.
pub fn free_ids(keys: &[String], prefix: &str, min: u32, max: u32) -> Vec<u32> {
    let taken: std::collections::HashSet<u32> = keys
        .iter()
        .filter_map(|key| key.strip_prefix(prefix)?.strip_prefix('-')?.parse().ok())
        .collect();
    (min..=max).filter(|n| !taken.contains(n)).collect()
}

/// Which of `free_len` ascending free IDs to try after `losses` lost creates: the lowest at
/// first, then one of the lowest 2, 4, 8 … chosen by `random`.
pub fn pick(free_len: usize, losses: u32, random: u64) -> usize {
    let window = 1usize
        .checked_shl(losses.min(usize::BITS - 1))
        .unwrap_or(usize::MAX)
        .min(free_len)
        .max(1);
    (random % window as u64) as usize
}

/// A small xorshift generator seeded from the clock, the process and the claimer, so that
/// concurrent claimers spread apart.
struct ClaimRandom(u64);

impl ClaimRandom {
    fn new(prefix: &str, min: u32) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write(prefix.as_bytes());
        hasher.write_u32(min);
        hasher.write_u32(std::process::id());
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        Self(hasher.finish() | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Go's claim: the lowest free ID in `min..=max`, in ascending order, a create and a get per
/// taken ID.
async fn claim_ascending(
    bucket: &Arc<dyn Bucket>,
    prefix: &str,
    min: u32,
    max: u32,
) -> Result<ClaimedId, Error> {
    for n in min..=max {
        let key = format!("{prefix}-{n}");
        let value = timestamp();
        match bucket.create(&key, value.clone()).await {
            Ok(revision) => {
                return Ok(ClaimedId {
                    worker_id: key,
                    revision,
                    unacked: None,
                });
            }
            Err(KvError::AlreadyExists) => {}
            Err(err) => return Err(Error::kv(format!("claim {key}"), err)),
        }
        match bucket.get(&key).await {
            Ok(Some(_)) => continue,
            // Vanished between create and get: try create once more instead of Go's blind Put.
            Ok(None) | Err(_) => match bucket.create(&key, value.clone()).await {
                Ok(revision) => {
                    return Ok(ClaimedId {
                        worker_id: key,
                        revision,
                        unacked: None,
                    });
                }
                Err(_) => continue,
            },
        }
    }
    Err(Error::NoFreeId {
        prefix: prefix.to_owned(),
        min,
        max,
    })
}

/// The result of one renewal attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// The key was refreshed.
    Renewed,
    /// The key had expired or been overwritten; this worker created it again.
    Reclaimed,
    /// Another process holds the key now.
    Lost,
}

impl ClaimedId {
    /// Refresh the timestamp with a compare-and-set on the last known revision.
    pub async fn renew(&mut self, bucket: &Arc<dyn Bucket>) -> Result<Renewal, KvError> {
        let value = timestamp();
        match bucket
            .update(&self.worker_id, value.clone(), self.revision)
            .await
        {
            Ok(revision) => {
                self.revision = revision;
                self.unacked = None;
                return Ok(Renewal::Renewed);
            }
            Err(KvError::WrongRevision) => {}
            Err(err) => {
                // Only a timed-out request may have landed; a send that failed for lack of a
                // connection never reached the server.
                self.unacked = (err == KvError::Timeout).then_some(value);
                return Err(err);
            }
        }
        if let Some(entry) = bucket.get(&self.worker_id).await? {
            // Our earlier, unacknowledged renewal may have landed: adopt its revision. A live
            // value older than our last write means the server lost recent writes (a crash
            // without fsync): it is still our key.
            let ours = self
                .unacked
                .take()
                .is_some_and(|unacked| unacked == entry.value)
                || entry.revision < self.revision;
            if ours {
                self.revision = entry.revision;
                let revision = bucket.update(&self.worker_id, value, self.revision).await?;
                self.revision = revision;
                return Ok(Renewal::Renewed);
            }
            return Ok(Renewal::Lost);
        }
        match bucket.create(&self.worker_id, value).await {
            Ok(revision) => {
                self.revision = revision;
                self.unacked = None;
                Ok(Renewal::Reclaimed)
            }
            Err(KvError::AlreadyExists) => Ok(Renewal::Lost),
            Err(err) => Err(err),
        }
    }

    /// Delete the key (a delete marker), so the ID can be claimed again at once.
    pub async fn release(&self, bucket: &Arc<dyn Bucket>) -> Result<(), KvError> {
        bucket.delete(&self.worker_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parti::kv::{BucketSpec, Store};
    use crate::parti::mem_kv::MemStore;
    use std::time::Duration;

    async fn bucket(ttl_ms: u64) -> Arc<dyn Bucket> {
        MemStore::new()
            .ensure_bucket(&BucketSpec {
                name: "ids".into(),
                ttl: Duration::from_millis(ttl_ms),
            })
            .await
            .expect("bucket")
    }

    #[test]
    fn free_ids_skip_held_keys_and_foreign_names() {
        let keys: Vec<String> = ["worker-0", "worker-2", "worker-x", "other-1", "worker-10"]
            .iter()
            .map(|k| (*k).to_owned())
            .collect();
        assert_eq!(free_ids(&keys, "worker", 0, 4), vec![1, 3, 4]);
        assert_eq!(free_ids(&keys, "worker", 9, 11), vec![9, 11]);
    }

    #[test]
    fn the_pick_window_doubles_with_each_lost_create() {
        // No loss: always the lowest free ID.
        assert!((0..100).all(|r| pick(50, 0, r) == 0));
        // After k losses, one of the lowest 2^k, and every one of them reachable.
        for losses in 1..6u32 {
            let window = 1usize << losses;
            let picked: std::collections::BTreeSet<usize> =
                (0..1000).map(|r| pick(50, losses, r)).collect();
            assert_eq!(picked, (0..window).collect());
        }
        // Never past the free list, whatever the losses.
        assert!((0..1000).all(|r| pick(3, 200, r) < 3));
        assert_eq!(pick(1, 7, 12345), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_claimers_get_distinct_low_ids() {
        let ids = bucket(0).await;
        let claims = futures::future::join_all((0..64).map(|_| {
            let ids = ids.clone();
            async move { claim(&ids, "worker", 0, 999).await.expect("claim") }
        }))
        .await;
        let names: std::collections::BTreeSet<String> =
            claims.iter().map(|c| c.worker_id.clone()).collect();
        assert_eq!(names.len(), 64, "every claimer got its own ID");
        let highest = claims
            .iter()
            .filter_map(|c| c.worker_id.strip_prefix("worker-")?.parse::<u32>().ok())
            .max()
            .expect("ids");
        assert!(highest < 256, "IDs stay low: highest worker-{highest}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_claimer_fills_the_lowest_gap() {
        let ids = bucket(0).await;
        let mut held = Vec::new();
        for _ in 0..10 {
            held.push(claim(&ids, "worker", 0, 99).await.expect("claim"));
        }
        held[6].release(&ids).await.expect("release");
        assert_eq!(
            claim(&ids, "worker", 0, 99).await.expect("again").worker_id,
            "worker-6"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn lowest_free_id_wins_and_pool_exhaustion_fails() {
        let ids = bucket(0).await;
        let a = claim(&ids, "worker", 0, 2).await.expect("a");
        let b = claim(&ids, "worker", 0, 2).await.expect("b");
        assert_eq!(
            (a.worker_id.as_str(), b.worker_id.as_str()),
            ("worker-0", "worker-1")
        );
        a.release(&ids).await.expect("release");
        assert_eq!(
            claim(&ids, "worker", 0, 2).await.expect("again").worker_id,
            "worker-0"
        );
        claim(&ids, "worker", 0, 2).await.expect("c");
        let err = claim(&ids, "worker", 0, 2).await.expect_err("exhausted");
        assert!(err.to_string().contains("no available worker ID"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_id_can_be_reclaimed_by_another_worker() {
        let ids = bucket(300).await;
        claim(&ids, "worker", 0, 0).await.expect("first");
        assert!(claim(&ids, "worker", 0, 0).await.is_err());
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(
            claim(&ids, "worker", 0, 0)
                .await
                .expect("reclaim")
                .worker_id,
            "worker-0"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn renewal_keeps_the_key_and_detects_loss() {
        let ids = bucket(300).await;
        let mut mine = claim(&ids, "worker", 0, 0).await.expect("claim");
        for _ in 0..5 {
            tokio::time::advance(Duration::from_millis(100)).await;
            assert_eq!(mine.renew(&ids).await, Ok(Renewal::Renewed));
        }
        // Expired, nobody else took it: reclaimed.
        tokio::time::advance(Duration::from_millis(400)).await;
        assert_eq!(mine.renew(&ids).await, Ok(Renewal::Reclaimed));
        // Expired and taken by someone else: lost.
        tokio::time::advance(Duration::from_millis(400)).await;
        let thief = claim(&ids, "worker", 0, 0).await.expect("thief");
        assert_eq!(thief.worker_id, "worker-0");
        assert_eq!(mine.renew(&ids).await, Ok(Renewal::Lost));
    }

    #[tokio::test(start_paused = true)]
    async fn a_renewal_that_landed_unacknowledged_is_adopted() {
        let ids = bucket(0).await;
        let mut mine = claim(&ids, "worker", 0, 0).await.expect("claim");
        // Our renewal reached the server but its reply timed out: the key moved on without us
        // learning the new revision.
        let landed = Bytes::from_static(b"2026-11-27T12:00:00Z");
        ids.update(&mine.worker_id, landed.clone(), mine.revision)
            .await
            .expect("landed write");
        mine.unacked = Some(landed);
        assert_eq!(mine.renew(&ids).await, Ok(Renewal::Renewed));
        let stored = ids.get("worker-0").await.expect("get").expect("entry");
        assert_eq!(
            stored.revision, mine.revision,
            "the renewal's revision is ours"
        );
        assert_ne!(stored.value, Bytes::from_static(b"2026-11-27T12:00:00Z"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_older_than_our_last_write_is_still_ours() {
        let ids = bucket(0).await;
        let mut mine = claim(&ids, "worker", 0, 0).await.expect("claim");
        let stored_before = mine.revision;
        // The server restarted without our latest writes: it holds an older revision than the
        // one we last wrote.
        mine.revision = stored_before + 5;
        assert_eq!(mine.renew(&ids).await, Ok(Renewal::Renewed));
        let stored = ids.get("worker-0").await.expect("get").expect("entry");
        assert_eq!(stored.revision, mine.revision);
        assert!(mine.revision > stored_before);
    }

    #[tokio::test(start_paused = true)]
    async fn a_live_key_rewritten_by_another_writer_is_lost() {
        let ids = bucket(0).await;
        let mut mine = claim(&ids, "worker", 0, 0).await.expect("claim");
        let other = Bytes::from_static(b"2026-11-27T12:00:01Z");
        ids.update(&mine.worker_id, other.clone(), mine.revision)
            .await
            .expect("other writer");
        assert_eq!(mine.renew(&ids).await, Ok(Renewal::Lost));
        let stored = ids.get("worker-0").await.expect("get").expect("entry");
        assert_eq!(stored.value, other, "a lost key is left to its new owner");
    }
}
