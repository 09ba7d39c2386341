//! The consistent-hash ring with virtual nodes (Go `internal/hash.Ring`, protocol §6.8).
//!
//! Owns ring construction (worker de-duplication, virtual-node hashing, sorting) and lookup
//! (lower bound with wrap-around). Both hash strategies place partitions with it.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::parti::partition::Partition;

/// A consistent-hash ring: `virtual_nodes` points per distinct worker, sorted by hash.
///
/// Node `j` sits at `hashes[j]` and belongs to worker `workers[owners[j]]`. Hashes and owners are
/// kept in two parallel vectors so that a search touches only the hashes. `bucket_start` is a
/// radix index over the top `64 - shift` bits of the hash: the nodes whose hash has top bits `b`
/// are `bucket_start[b]..bucket_start[b + 1]`. With about one node per bucket, a lookup reads
/// one index entry and one or two hashes instead of binary-searching the whole ring.
#[derive(Clone, PartialEq, Eq)]
pub struct Ring {
    /// Distinct workers in first-occurrence input order; a node's owner indexes this list.
    workers: Vec<String>,
    /// Node hashes, ascending.
    hashes: Vec<u64>,
    /// Owner (index into `workers`) of the node at the same position in `hashes`.
    owners: Vec<u32>,
    /// Radix index (length 2^bits + 1), empty when the ring is empty or too large to index.
    bucket_start: Vec<u32>,
    /// `64 - bits`: a hash's bucket is `hash >> shift`.
    shift: u32,
    virtual_nodes: usize,
    seed: u64,
}

/// Upper bound on the radix index size: 2^20 buckets (4 MiB).
const MAX_BUCKET_BITS: u32 = 20;

/// The hash of virtual node `index` of `worker`: XXH3-seeded(LE64(index), XXH3-seeded(worker, seed)).
pub fn vnode_hash(worker: &str, index: u64, seed: u64) -> u64 {
    vnode_hash_from_base(worker_base_hash(worker, seed), index)
}

fn worker_base_hash(worker: &str, seed: u64) -> u64 {
    if seed == 0 {
        xxh3_64(worker.as_bytes())
    } else {
        xxh3_64_with_seed(worker.as_bytes(), seed)
    }
}

fn vnode_hash_from_base(base: u64, index: u64) -> u64 {
    xxh3_64_with_seed(&index.to_le_bytes(), base)
}

impl Ring {
    /// Builds the ring for `workers` (Go `NewRing`).
    ///
    /// Workers are de-duplicated keeping the first occurrence; the position in that list is the
    /// worker index. Each worker gets `virtual_nodes` nodes. With no workers or
    /// `virtual_nodes == 0` the ring is empty and every lookup gives `None`.
    pub fn new<S: AsRef<str>>(workers: &[S], virtual_nodes: usize, seed: u64) -> Ring {
        build_uncached(&dedup_first(workers), virtual_nodes, seed)
    }

    /// Builds the ring from an already de-duplicated worker list.
    fn from_distinct(workers: Vec<String>, virtual_nodes: usize, seed: u64) -> Ring {
        // Node hashes in generation order: worker 0's nodes, then worker 1's, …
        let mut raw: Vec<u64> = Vec::with_capacity(workers.len().saturating_mul(virtual_nodes));
        for worker in &workers {
            let base = worker_base_hash(worker, seed);
            raw.extend((0..virtual_nodes as u64).map(|i| vnode_hash_from_base(base, i)));
        }
        // Nodes end up ordered by (hash, owner). Ties between identical 64-bit node hashes are
        // unspecified in Go (unstable sort); ordering them by worker index is deterministic.
        let sorted = sort_nodes(&raw, virtual_nodes);
        Ring {
            workers,
            hashes: sorted.hashes,
            owners: sorted.owners,
            bucket_start: sorted.bucket_start,
            shift: sorted.shift,
            virtual_nodes,
            seed,
        }
    }

    /// Index (into [`Ring::workers`]) of the owner of `hash`: the first node whose hash is `>=
    /// hash`, wrapping to node 0 past the end. `None` on an empty ring.
    pub fn lookup_index(&self, hash: u64) -> Option<usize> {
        if self.hashes.is_empty() {
            return None;
        }
        // Lower bound: every node in an earlier bucket is below `hash`, every node in a later
        // bucket above it, so only the hash's own bucket needs searching.
        let mut pos = match self.bucket_start.get(bucket_of(hash, self.shift)..) {
            Some([start, end, ..]) => {
                let (start, end) = (*start as usize, *end as usize);
                start
                    + self
                        .hashes
                        .get(start..end)
                        .map_or(0, |bucket| bucket.partition_point(|&node| node < hash))
            }
            _ => self.hashes.partition_point(|&node| node < hash),
        };
        if pos == self.hashes.len() {
            pos = 0;
        }
        self.owners.get(pos).map(|&owner| owner as usize)
    }

    /// The worker owning `hash` (see [`Ring::lookup_index`]).
    pub fn lookup(&self, hash: u64) -> Option<&str> {
        self.lookup_index(hash)
            .and_then(|idx| self.workers.get(idx))
            .map(String::as_str)
    }

    /// Index of the worker owning `partition`, hashed with this ring's seed
    /// (Go `GetNodeIndexForPartition`). `None` for a partition without keys or an empty ring.
    pub fn owner_index(&self, partition: &Partition) -> Option<usize> {
        if partition.keys.is_empty() {
            return None;
        }
        self.lookup_index(partition.hash_with_seed(self.seed))
    }

    /// The worker owning `partition` (see [`Ring::owner_index`]).
    pub fn owner(&self, partition: &Partition) -> Option<&str> {
        self.owner_index(partition)
            .and_then(|idx| self.workers.get(idx))
            .map(String::as_str)
    }

    /// The distinct workers, in first-occurrence input order.
    pub fn workers(&self) -> &[String] {
        &self.workers
    }

    /// Total number of virtual nodes on the ring.
    pub fn node_count(&self) -> usize {
        self.hashes.len()
    }

    /// True when the ring has no nodes.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Virtual nodes per worker this ring was built with.
    pub fn virtual_nodes(&self) -> usize {
        self.virtual_nodes
    }

    /// The hash seed this ring was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// True when this ring is exactly what [`Ring::new`] would build from a worker list whose
    /// de-duplicated form is `distinct_workers`, with the given parameters.
    pub(crate) fn matches<S: AsRef<str>>(
        &self,
        distinct_workers: &[S],
        virtual_nodes: usize,
        seed: u64,
    ) -> bool {
        self.virtual_nodes == virtual_nodes
            && self.seed == seed
            && self.workers.len() == distinct_workers.len()
            && self
                .workers
                .iter()
                .zip(distinct_workers)
                .all(|(a, b)| a == b.as_ref())
    }
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("workers", &self.workers)
            .field("virtual_nodes", &self.virtual_nodes)
            .field("seed", &self.seed)
            .field("node_count", &self.hashes.len())
            .finish()
    }
}

/// A one-entry cache of the last ring a strategy built ("warm" assignment).
///
/// The entry is reused while the distinct worker list, the virtual-node count and the seed are
/// unchanged; otherwise a new ring is built (outside the lock) and replaces it.
#[derive(Debug, Default)]
pub(crate) struct RingCache {
    slot: Mutex<Option<Arc<Ring>>>,
}

impl RingCache {
    /// The cached ring for `distinct_workers` (already de-duplicated), building it on a miss.
    pub(crate) fn get_or_build<S: AsRef<str>>(
        &self,
        distinct_workers: &[S],
        virtual_nodes: usize,
        seed: u64,
    ) -> Arc<Ring> {
        if let Some(ring) = self.current()
            && ring.matches(distinct_workers, virtual_nodes, seed)
        {
            return ring;
        }
        let ring = Arc::new(build_uncached(distinct_workers, virtual_nodes, seed));
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&ring));
        ring
    }

    /// The cached ring, if any.
    pub(crate) fn current(&self) -> Option<Arc<Ring>> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Arc::clone)
    }
}

/// Builds a ring from an already de-duplicated worker list, bypassing any cache ("cold").
pub(crate) fn build_uncached<S: AsRef<str>>(
    distinct_workers: &[S],
    virtual_nodes: usize,
    seed: u64,
) -> Ring {
    let owned = distinct_workers
        .iter()
        .map(|w| w.as_ref().to_owned())
        .collect();
    Ring::from_distinct(owned, virtual_nodes, seed)
}

fn bucket_of(hash: u64, shift: u32) -> usize {
    // `shift` is in 44..=63, so the result has at most 20 bits.
    (hash >> shift) as usize
}

/// Ring nodes sorted by (hash, owner), with the radix index over them.
struct SortedNodes {
    hashes: Vec<u64>,
    owners: Vec<u32>,
    bucket_start: Vec<u32>,
    shift: u32,
}

/// Sorts the nodes whose hashes are `raw` (owner of `raw[i]` is `i / per_owner`) by (hash,
/// owner): one counting pass on the top bits of the hash (about one node per bucket for
/// uniformly distributed hashes), a scatter, then a sort of each bucket holding more than one
/// node. Falls back to a comparison sort without an index when the node count does not fit the
/// `u32` index.
fn sort_nodes(raw: &[u64], per_owner: usize) -> SortedNodes {
    let n = raw.len();
    let owner_of = |i: usize| u32::try_from(i / per_owner.max(1)).unwrap_or(u32::MAX);
    if n == 0 || u32::try_from(n).is_err() {
        let mut pairs: Vec<(u64, u32)> = raw
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, owner_of(i)))
            .collect();
        pairs.sort_unstable();
        let (hashes, owners) = pairs.into_iter().unzip();
        return SortedNodes {
            hashes,
            owners,
            bucket_start: Vec::new(),
            shift: 63,
        };
    }
    // ceil(log2(n)), at least 1, at most MAX_BUCKET_BITS.
    let bits = (usize::BITS - (n - 1).leading_zeros()).clamp(1, MAX_BUCKET_BITS);
    let shift = 64 - bits;
    let buckets = 1usize << bits;
    let mut start = vec![0u32; buckets + 1];
    for &hash in raw {
        start[bucket_of(hash, shift) + 1] += 1;
    }
    for b in 0..buckets {
        start[b + 1] += start[b];
    }
    let mut cursor: Vec<u32> = start[..buckets].to_vec();
    let mut hashes = vec![0u64; n];
    let mut owners = vec![0u32; n];
    // `n` fits u32, so every owner index (< n) does too.
    for (owner, chunk) in (0u32..).zip(raw.chunks(per_owner.max(1))) {
        for &hash in chunk {
            let slot = &mut cursor[bucket_of(hash, shift)];
            hashes[*slot as usize] = hash;
            owners[*slot as usize] = owner;
            *slot += 1;
        }
    }
    for bounds in start.windows(2) {
        let (lo, hi) = (bounds[0] as usize, bounds[1] as usize);
        if hi - lo > 1 {
            sort_bucket(&mut hashes[lo..hi], &mut owners[lo..hi]);
        }
    }
    SortedNodes {
        hashes,
        owners,
        bucket_start: start,
        shift,
    }
}

/// Sorts two parallel slices by (hash, owner): insertion sort for the usual tiny buckets, a
/// comparison sort for large ones.
fn sort_bucket(hashes: &mut [u64], owners: &mut [u32]) {
    const INSERTION_MAX: usize = 16;
    if hashes.len() > INSERTION_MAX {
        let mut pairs: Vec<(u64, u32)> =
            hashes.iter().copied().zip(owners.iter().copied()).collect();
        pairs.sort_unstable();
        for ((h, o), (ph, po)) in hashes.iter_mut().zip(owners.iter_mut()).zip(pairs) {
            *h = ph;
            *o = po;
        }
        return;
    }
    for i in 1..hashes.len() {
        let key = (hashes[i], owners[i]);
        let mut j = i;
        while j > 0 && (hashes[j - 1], owners[j - 1]) > key {
            hashes[j] = hashes[j - 1];
            owners[j] = owners[j - 1];
            j -= 1;
        }
        hashes[j] = key.0;
        owners[j] = key.1;
    }
}

/// De-duplicates `workers`, keeping the first occurrence of each, in input order.
pub(crate) fn dedup_first<S: AsRef<str>>(workers: &[S]) -> Vec<&str> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(workers.len());
    workers
        .iter()
        .map(AsRef::as_ref)
        .filter(|w| seen.insert(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("worker-{i}")).collect()
    }

    #[test]
    fn vnode_vectors() {
        // Appendix A.
        assert_eq!(vnode_hash("worker-0", 0, 0), 0xcd8c_fe2a_0341_6802);
        assert_eq!(vnode_hash("worker-0", 1, 0), 0x0c7b_027a_6eea_ed17);
        assert_eq!(vnode_hash("worker-0", 2, 0), 0x20a0_36e0_d2b3_59ad);
        assert_eq!(vnode_hash("worker-1", 0, 0), 0x01c5_8bea_cc09_efd1);
        assert_eq!(vnode_hash("worker-0", 0, 42), 0x5588_ad7d_b051_aa35);
        assert_eq!(
            vnode_hash("worker-0", 0, 0),
            xxh3_64_with_seed(&[0u8; 8], xxh3_64(b"worker-0"))
        );
    }

    #[test]
    fn ring_contains_every_vnode_sorted() {
        let ring = Ring::new(&names(3), 150, 0);
        assert_eq!(ring.node_count(), 450);
        assert!(ring.hashes.windows(2).all(|w| w[0] <= w[1]));
        for (i, worker) in ring.workers().iter().enumerate() {
            for v in 0..150 {
                let h = vnode_hash(worker, v, 0);
                let pos = ring.hashes.binary_search(&h).unwrap();
                assert_eq!(ring.owners[pos] as usize, i);
                // A node's own hash maps to its own worker (lower bound includes equality).
                assert_eq!(ring.lookup(h), Some(worker.as_str()));
            }
        }
    }

    #[test]
    fn radix_index_agrees_with_binary_search() {
        for (w, v) in [(1, 1), (1, 2), (3, 150), (7, 33), (64, 150)] {
            let ring = Ring::new(&names(w), v, 11);
            let mut expected: Vec<(u64, u32)> = ring
                .workers()
                .iter()
                .enumerate()
                .flat_map(|(i, name)| {
                    (0..v as u64).map(move |j| (vnode_hash(name, j, 11), i as u32))
                })
                .collect();
            expected.sort_unstable();
            let (hashes, owners): (Vec<u64>, Vec<u32>) = expected.into_iter().unzip();
            assert_eq!(ring.hashes, hashes);
            assert_eq!(ring.owners, owners);
            assert_eq!(ring.bucket_start.len(), (1usize << (64 - ring.shift)) + 1);
            let mut probe = 0x1234_5678_9abc_def0u64;
            let mut probes: Vec<u64> = vec![0, 1, u64::MAX, u64::MAX - 1, 1 << 63];
            for &h in &ring.hashes {
                probes.extend([h, h.wrapping_sub(1), h.wrapping_add(1)]);
            }
            for _ in 0..2000 {
                probe = probe
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                probes.push(probe);
            }
            for x in probes {
                let mut pos = ring.hashes.partition_point(|&h| h < x);
                if pos == ring.hashes.len() {
                    pos = 0;
                }
                assert_eq!(
                    ring.lookup_index(x),
                    Some(ring.owners[pos] as usize),
                    "w={w} v={v} x={x:#x}"
                );
            }
        }
    }

    #[test]
    fn node_sort_handles_clustered_hashes() {
        // Many nodes per bucket (never the case for real vnode hashes) still sort correctly,
        // through both the insertion sort (8 nodes) and the comparison sort (60 nodes).
        for (count, per_owner) in [(8usize, 2usize), (60, 7)] {
            let raw: Vec<u64> = (0..count as u64).rev().map(|i| i % 5).collect();
            let sorted = sort_nodes(&raw, per_owner);
            let mut expected: Vec<(u64, u32)> = raw
                .iter()
                .enumerate()
                .map(|(i, &h)| (h, (i / per_owner) as u32))
                .collect();
            expected.sort_unstable();
            let got: Vec<(u64, u32)> = sorted.hashes.into_iter().zip(sorted.owners).collect();
            assert_eq!(got, expected);
            assert_eq!(sorted.bucket_start[1] as usize, count);
        }
        let empty = sort_nodes(&[], 3);
        assert!(empty.hashes.is_empty() && empty.bucket_start.is_empty());
    }

    #[test]
    fn lookup_is_lower_bound_with_wrap() {
        let workers = names(2);
        let ring = Ring::new(&workers, 3, 0);
        let first = ring.hashes[0];
        let last = *ring.hashes.last().unwrap();
        let first_owner = ring.workers()[ring.owners[0] as usize].clone();
        assert_eq!(ring.lookup(0), Some(first_owner.as_str()));
        assert_eq!(ring.lookup(first), Some(first_owner.as_str()));
        assert_eq!(ring.lookup(u64::MAX), Some(first_owner.as_str()));
        if last < u64::MAX {
            assert_eq!(ring.lookup(last + 1), Some(first_owner.as_str()));
        }
        for j in 1..ring.node_count() {
            let owner = ring.workers()[ring.owners[j] as usize].as_str();
            assert_eq!(ring.lookup(ring.hashes[j - 1] + 1), Some(owner));
            assert_eq!(ring.lookup(ring.hashes[j]), Some(owner));
        }
    }

    #[test]
    fn dedup_keeps_first_occurrence_order() {
        let ring = Ring::new(&["b", "a", "b", "c", "a"], 4, 0);
        assert_eq!(ring.workers(), ["b", "a", "c"]);
        assert_eq!(ring.node_count(), 12);
        let plain = Ring::new(&["b", "a", "c"], 4, 0);
        assert_eq!(ring, plain);
    }

    #[test]
    fn empty_rings_give_no_node() {
        let none: [&str; 0] = [];
        assert_eq!(Ring::new(&none, 150, 0).lookup(5), None);
        let zero = Ring::new(&["a"], 0, 0);
        assert!(zero.is_empty());
        assert_eq!(zero.lookup(5), None);
        assert_eq!(zero.owner(&Partition::new(["k"], 0)), None);
    }

    #[test]
    fn partition_without_keys_has_no_owner() {
        let ring = Ring::new(&["a"], 10, 0);
        assert_eq!(ring.owner(&Partition::default()), None);
        assert_eq!(ring.owner(&Partition::new(["k"], 0)), Some("a"));
    }

    #[test]
    fn seed_changes_placement_and_is_used_for_partitions() {
        let ring0 = Ring::new(&names(3), 150, 0);
        let ring42 = Ring::new(&names(3), 150, 42);
        assert_ne!(ring0.hashes, ring42.hashes);
        let part = Partition::new(["partition-0"], 0);
        assert_eq!(
            ring42.owner_index(&part),
            ring42.lookup_index(part.hash_with_seed(42))
        );
    }

    #[test]
    fn matches_detects_changes() {
        let ring = Ring::new(&["a", "b"], 10, 1);
        assert!(ring.matches(&["a", "b"], 10, 1));
        assert!(!ring.matches(&["b", "a"], 10, 1));
        assert!(!ring.matches(&["a"], 10, 1));
        assert!(!ring.matches(&["a", "b"], 11, 1));
        assert!(!ring.matches(&["a", "b"], 10, 2));
    }

    #[test]
    fn cache_reuses_until_inputs_change() {
        let cache = RingCache::default();
        assert!(cache.current().is_none());
        let a = cache.get_or_build(&["a", "b"], 10, 0);
        let again = cache.get_or_build(&["a", "b"], 10, 0);
        assert!(Arc::ptr_eq(&a, &again));
        let other = cache.get_or_build(&["a", "c"], 10, 0);
        assert!(!Arc::ptr_eq(&a, &other));
        assert_eq!(other.workers(), ["a", "c"]);
        let reseeded = cache.get_or_build(&["a", "c"], 10, 3);
        assert!(!Arc::ptr_eq(&other, &reseeded));
        assert_eq!(reseeded.seed(), 3);
        assert!(Arc::ptr_eq(&cache.current().unwrap(), &reseeded));
        assert_eq!(build_uncached(&["a", "c"], 10, 3), *reseeded);
    }

    #[test]
    fn debug_is_compact() {
        let text = format!("{:?}", Ring::new(&names(2), 150, 0));
        assert!(text.contains("node_count: 300"), "{text}");
        assert!(text.len() < 200, "{text}");
    }
}
