//! Stable worker IDs (parti-protocol.md §3): claim a free `<prefix>-<n>` with
//! create-if-absent, renew it, detect losing it, and release it.
//!
//! Differences from Go, none of which changes the wire format (recorded in docs/protocol.md):
//! - Go walks the IDs upwards with a create (and a Get) on every taken key. Here one key
//!   listing skips the taken ones, and a claim that loses a race to another worker picks among
//!   more of the lowest free IDs, so a fleet starting together does not race for one ID at a
//!   time ([`claim`]). Uncontended, the lowest free ID is claimed, as in Go.
//! - After a failed Get in the claim loop, Go does an unconditional Put, which can steal an ID
//!   that another worker has just created. Here every attempt is a create-if-absent.
//! - Go renews with a blind Put and never notices losing the ID. Here renewal is a
//!   compare-and-set on the revision this worker last wrote. If the key was overwritten or
//!   expired, the worker tries to take it back with create-if-absent; if another process holds
//!   it, the loss is reported and the worker stops rather than share an ID.

use std::collections::HashSet;
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

/// After `failures` lost races a claim picks among this many of the lowest untried free IDs:
/// the lowest (as Go) for the first [`STRICT_RACES`] races, so a few workers starting together
/// still get consecutive IDs; then 2, 4, 8 … at most 1,024.
pub fn spread(failures: u32) -> usize {
    if failures < STRICT_RACES {
        1
    } else {
        1usize << (failures - STRICT_RACES + 1).min(10)
    }
}

/// Lost races after which a claim still takes the lowest free ID.
pub const STRICT_RACES: u32 = 4;

/// Claim a free ID in `min..=max`: the lowest one while uncontended (as Go), spreading out
/// among the lowest free ones when other workers claim at the same time.
///
/// One key listing first tells which IDs are taken, so a worker joining a large fleet does not
/// write to every taken key in turn (that was O(n²) writes over a fleet starting together).
/// Every attempt is a create-if-absent on `<prefix>-<n>`, as in Go; an attempt that loses to
/// another worker widens the choice ([`spread`]) so that hundreds of workers starting at once
/// do not all race for the same lowest ID, and every [`RELIST_AFTER`] lost races the listing
/// is taken again. IDs the listing showed taken are tried last, in ascending order (they may
/// have expired or been released meanwhile).
pub async fn claim(
    bucket: &Arc<dyn Bucket>,
    prefix: &str,
    min: u32,
    max: u32,
) -> Result<ClaimedId, Error> {
    let mut taken = taken_ids(bucket, prefix, min, max)
        .await
        .unwrap_or_default();
    let mut tried: HashSet<u32> = HashSet::new();
    let mut random = Jitter::new();
    let mut failures = 0u32;
    loop {
        if failures > 0 && failures.is_multiple_of(RELIST_AFTER) {
            // Many lost races: the listing is stale; take a fresh one.
            if let Some(fresh) = taken_ids(bucket, prefix, min, max).await {
                taken = fresh;
                tried.clear();
            }
        }
        let choices: Vec<u32> = (min..=max)
            .filter(|n| !taken.contains(n) && !tried.contains(n))
            .take(spread(failures))
            .collect();
        let Some(&n) = choices.get(random.below(choices.len())) else {
            break;
        };
        tried.insert(n);
        if let Some(claimed) = try_create(bucket, prefix, n).await? {
            return Ok(claimed);
        }
        failures += 1;
    }
    let mut listed: Vec<u32> = taken.into_iter().collect();
    listed.sort_unstable();
    for n in listed {
        if let Some(claimed) = try_create(bucket, prefix, n).await? {
            return Ok(claimed);
        }
    }
    Err(Error::NoFreeId {
        prefix: prefix.to_owned(),
        min,
        max,
    })
}

/// A claim that lost this many races in a row lists the taken IDs again.
const RELIST_AFTER: u32 = 8;

/// The IDs in `min..=max` whose keys hold a live value, from one key listing (`None` if the
/// listing failed: the claim then finds the taken IDs by trying them).
async fn taken_ids(
    bucket: &Arc<dyn Bucket>,
    prefix: &str,
    min: u32,
    max: u32,
) -> Option<HashSet<u32>> {
    let keys = bucket.keys().await.ok()?;
    Some(
        keys.iter()
            .filter_map(|key| id_number(prefix, key))
            .filter(|n| (min..=max).contains(n))
            .collect(),
    )
}

/// One create-if-absent of `<prefix>-<n>`: the claimed ID, or `None` if the key is live.
async fn try_create(
    bucket: &Arc<dyn Bucket>,
    prefix: &str,
    n: u32,
) -> Result<Option<ClaimedId>, Error> {
    let key = format!("{prefix}-{n}");
    match bucket.create(&key, timestamp()).await {
        Ok(revision) => Ok(Some(ClaimedId {
            worker_id: key,
            revision,
            unacked: None,
        })),
        Err(KvError::AlreadyExists) => Ok(None),
        Err(err) => Err(Error::kv(format!("claim {key}"), err)),
    }
}

/// The number of a `<prefix>-<n>` key.
fn id_number(prefix: &str, key: &str) -> Option<u32> {
    key.strip_prefix(prefix)?.strip_prefix('-')?.parse().ok()
}

/// A small per-claim random source (SplitMix64 seeded from the process's hash keys and the
/// clock); only spreads contending claims, nothing depends on its quality.
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Self(hasher.finish())
    }

    /// Uniform enough in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        usize::try_from(z % n as u64).unwrap_or(0)
    }
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
    use crate::parti::kv::{BucketSpec, KvEntry, KvFuture, KvWatch, Store};
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

    /// Counts the creates made through it.
    struct Counting {
        inner: Arc<dyn Bucket>,
        creates: std::sync::atomic::AtomicUsize,
    }

    impl Bucket for Counting {
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn create<'a>(&'a self, key: &'a str, value: Bytes) -> KvFuture<'a, u64> {
            self.creates
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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

    #[tokio::test(start_paused = true)]
    async fn a_late_joiner_skips_taken_ids_with_one_create() {
        let ids = bucket(0).await;
        for n in 0..50 {
            claim(&ids, "worker", 0, 99).await.expect("fleet");
            assert!(
                ids.get(&format!("worker-{n}"))
                    .await
                    .expect("get")
                    .is_some()
            );
        }
        // A released ID in the middle is the lowest free one again.
        ids.delete("worker-7").await.expect("release");
        let counter = Arc::new(Counting {
            inner: ids.clone(),
            creates: std::sync::atomic::AtomicUsize::new(0),
        });
        let counting: Arc<dyn Bucket> = counter.clone();
        let late = claim(&counting, "worker", 0, 99).await.expect("late");
        assert_eq!(late.worker_id, "worker-7");
        let next = claim(&counting, "worker", 0, 99).await.expect("next");
        assert_eq!(next.worker_id, "worker-50");
        assert_eq!(
            counter.creates.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "one create per claim, none on the 49 taken keys below"
        );
        assert_eq!(
            ids.keys().await.expect("keys").len(),
            51,
            "worker-7 and worker-50 taken again, nothing else written"
        );
    }

    #[tokio::test]
    async fn concurrent_claims_get_distinct_ids_within_the_range() {
        let ids = bucket(0).await;
        let claims = (0..64).map(|_| {
            let ids = ids.clone();
            tokio::spawn(async move { claim(&ids, "worker", 0, 63).await })
        });
        let mut got: Vec<String> = futures::future::join_all(claims)
            .await
            .into_iter()
            .map(|joined| joined.expect("task").expect("claim").worker_id)
            .collect();
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 64, "64 claims, 64 distinct IDs in 0..=63");
    }

    #[test]
    fn the_choice_widens_with_every_lost_race() {
        assert_eq!(spread(0), 1, "uncontended: the lowest free ID, as Go");
        assert_eq!(spread(STRICT_RACES - 1), 1);
        assert_eq!(spread(STRICT_RACES), 2);
        assert_eq!(spread(STRICT_RACES + 4), 32);
        assert_eq!(spread(40), 1024);
        assert_eq!(id_number("worker", "worker-12"), Some(12));
        assert_eq!(id_number("worker", "workers-12"), None);
        assert_eq!(id_number("w", "w-x"), None);
        let mut jitter = Jitter::new();
        assert!((0..100).all(|_| jitter.below(3) < 3));
        assert_eq!(jitter.below(0), 0);
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
