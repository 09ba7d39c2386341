//! The `consistent-hash` strategy (Go `strategy.NewConsistentHash`, protocol §6.8): every
//! partition goes to the owner of its hash on the ring; weights are ignored.

use std::sync::Arc;

use crate::parti::partition::Partition;
use crate::parti::strategy::ring::{self, Ring, RingCache};
use crate::parti::strategy::{AssignmentMap, DEFAULT_VIRTUAL_NODES, Strategy, StrategyError};

/// Consistent hashing with virtual nodes. Defaults: 150 virtual nodes per worker, seed 0.
///
/// [`Strategy::assign`] reuses the ring built by the previous call while the de-duplicated worker
/// list is unchanged ("warm"); [`ConsistentHash::assign_cold`] always builds a fresh ring.
/// Both give identical results.
#[derive(Debug)]
pub struct ConsistentHash {
    virtual_nodes: usize,
    hash_seed: u64,
    cache: RingCache,
}

impl ConsistentHash {
    /// The strategy with Go defaults (150 virtual nodes, seed 0).
    pub fn new() -> Self {
        Self {
            virtual_nodes: DEFAULT_VIRTUAL_NODES,
            hash_seed: 0,
            cache: RingCache::default(),
        }
    }

    /// Sets the virtual nodes per worker. 0 makes every assignment with partitions fail.
    pub fn with_virtual_nodes(mut self, virtual_nodes: usize) -> Self {
        self.virtual_nodes = virtual_nodes;
        self
    }

    /// Sets the hash seed (used for both worker and partition hashes).
    pub fn with_hash_seed(mut self, hash_seed: u64) -> Self {
        self.hash_seed = hash_seed;
        self
    }

    /// Virtual nodes per worker.
    pub fn virtual_nodes(&self) -> usize {
        self.virtual_nodes
    }

    /// The hash seed.
    pub fn hash_seed(&self) -> u64 {
        self.hash_seed
    }

    /// The ring kept from the last warm assignment, if any.
    pub fn cached_ring(&self) -> Option<Arc<Ring>> {
        self.cache.current()
    }

    /// Same result as [`Strategy::assign`], but builds the ring from scratch and leaves the cache
    /// untouched.
    pub fn assign_cold(
        &self,
        workers: &[String],
        partitions: &[Partition],
    ) -> Result<AssignmentMap, StrategyError> {
        self.run(workers, partitions, false)
    }

    fn run(
        &self,
        workers: &[String],
        partitions: &[Partition],
        warm: bool,
    ) -> Result<AssignmentMap, StrategyError> {
        if workers.is_empty() {
            return Err(StrategyError::NoWorkers);
        }
        let distinct = ring::dedup_first(workers);
        if partitions.is_empty() {
            return Ok(distinct
                .into_iter()
                .map(|w| (w.to_owned(), Vec::new()))
                .collect());
        }
        if self.virtual_nodes == 0 {
            return Err(StrategyError::InvalidConfig(
                "consistent-hash ring has no virtual nodes (virtual_nodes = 0)".into(),
            ));
        }
        if warm {
            let ring = self
                .cache
                .get_or_build(&distinct, self.virtual_nodes, self.hash_seed);
            assign_on_ring(&ring, partitions)
        } else {
            let ring = ring::build_uncached(&distinct, self.virtual_nodes, self.hash_seed);
            assign_on_ring(&ring, partitions)
        }
    }
}

impl Default for ConsistentHash {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for ConsistentHash {
    /// Copies the configuration; the clone starts with an empty ring cache.
    fn clone(&self) -> Self {
        Self {
            virtual_nodes: self.virtual_nodes,
            hash_seed: self.hash_seed,
            cache: RingCache::default(),
        }
    }
}

impl Strategy for ConsistentHash {
    fn name(&self) -> &'static str {
        "consistent-hash"
    }

    fn assign(
        &self,
        workers: &[String],
        partitions: &[Partition],
    ) -> Result<AssignmentMap, StrategyError> {
        self.run(workers, partitions, true)
    }
}

/// Pure ring placement: each partition, in source order, goes to its ring owner. Every worker on
/// the ring gets an entry. Fails on the first partition without keys.
pub(crate) fn assign_on_ring(
    ring: &Ring,
    partitions: &[Partition],
) -> Result<AssignmentMap, StrategyError> {
    let workers = ring.workers();
    // Place everything first so that each list is allocated once, at its exact size, and
    // nothing is cloned when a partition cannot be placed.
    let mut owners = Vec::with_capacity(partitions.len());
    let mut counts = vec![0usize; workers.len()];
    for (index, partition) in partitions.iter().enumerate() {
        let owner = ring
            .owner_index(partition)
            .ok_or(StrategyError::Unplaceable { index })?;
        counts[owner] += 1;
        owners.push(owner);
    }
    let mut buckets: Vec<Vec<Partition>> = counts.into_iter().map(Vec::with_capacity).collect();
    for (partition, owner) in partitions.iter().zip(owners) {
        buckets[owner].push(partition.clone());
    }
    Ok(workers.iter().cloned().zip(buckets).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parti::strategy::{balance, movement};

    fn workers(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("worker-{i}")).collect()
    }

    fn parts(n: usize) -> Vec<Partition> {
        (0..n)
            .map(|i| Partition::new([format!("partition-{i}")], 0))
            .collect()
    }

    fn numbers(map: &AssignmentMap, worker: &str) -> Vec<usize> {
        map[worker]
            .iter()
            .map(|p| p.keys[0].trim_start_matches("partition-").parse().unwrap())
            .collect()
    }

    #[test]
    fn appendix_a_three_workers_twelve_partitions() {
        let strategy = ConsistentHash::new();
        for map in [
            strategy.assign(&workers(3), &parts(12)).unwrap(),
            strategy.assign_cold(&workers(3), &parts(12)).unwrap(),
        ] {
            assert_eq!(numbers(&map, "worker-0"), [0, 3, 8, 10]);
            assert_eq!(numbers(&map, "worker-1"), [4, 5, 6]);
            assert_eq!(numbers(&map, "worker-2"), [1, 2, 7, 9, 11]);
        }
    }

    #[test]
    fn extra_vectors_seed_and_virtual_nodes() {
        // From the reference implementation (`parti-vectors.py` rules, C libxxhash).
        let map = ConsistentHash::new()
            .with_hash_seed(42)
            .assign(&workers(3), &parts(12))
            .unwrap();
        assert_eq!(numbers(&map, "worker-0"), [4, 8, 9, 11]);
        assert_eq!(numbers(&map, "worker-1"), [1, 3, 5, 7, 10]);
        assert_eq!(numbers(&map, "worker-2"), [0, 2, 6]);
        let map = ConsistentHash::new()
            .with_virtual_nodes(10)
            .assign(&workers(3), &parts(12))
            .unwrap();
        assert_eq!(numbers(&map, "worker-0"), [0, 3, 5, 7, 8]);
        assert_eq!(numbers(&map, "worker-1"), [6, 10]);
        assert_eq!(numbers(&map, "worker-2"), [1, 2, 4, 9, 11]);
        let map = ConsistentHash::new()
            .assign(&workers(5), &parts(100))
            .unwrap();
        let counts: Vec<usize> = map.values().map(Vec::len).collect();
        assert_eq!(counts, [20, 24, 18, 16, 22]);
    }

    #[test]
    fn result_does_not_depend_on_worker_order_or_duplicates() {
        let strategy = ConsistentHash::new();
        let reference = strategy.assign(&workers(5), &parts(200)).unwrap();
        let mut shuffled = workers(5);
        shuffled.reverse();
        shuffled.swap(1, 3);
        assert_eq!(strategy.assign(&shuffled, &parts(200)).unwrap(), reference);
        let mut duplicated = shuffled.clone();
        duplicated.extend(workers(5));
        duplicated.insert(0, "worker-4".into());
        assert_eq!(
            strategy.assign(&duplicated, &parts(200)).unwrap(),
            reference
        );
        assert_eq!(
            strategy.assign_cold(&duplicated, &parts(200)).unwrap(),
            reference
        );
    }

    #[test]
    fn ignores_weights_and_keeps_source_order() {
        let strategy = ConsistentHash::new();
        let plain = parts(50);
        let weighted: Vec<Partition> = plain
            .iter()
            .enumerate()
            .map(|(i, p)| Partition::new(p.keys.clone(), (i as i64) * 37))
            .collect();
        let a = strategy.assign(&workers(4), &plain).unwrap();
        let b = strategy.assign(&workers(4), &weighted).unwrap();
        for worker in workers(4) {
            let ka: Vec<_> = a[&worker].iter().map(|p| &p.keys).collect();
            let kb: Vec<_> = b[&worker].iter().map(|p| &p.keys).collect();
            assert_eq!(ka, kb);
            let nums = numbers(&a, &worker);
            assert!(nums.windows(2).all(|w| w[0] < w[1]), "source order kept");
        }
        // Weights are copied verbatim.
        assert!(b.values().flatten().any(|p| p.weight == 37));
    }

    #[test]
    fn every_worker_has_an_entry() {
        let map = ConsistentHash::new()
            .assign(&workers(8), &parts(2))
            .unwrap();
        assert_eq!(map.len(), 8);
        assert_eq!(map.values().filter(|v| v.is_empty()).count(), 6);
        let map = ConsistentHash::new().assign(&workers(3), &[]).unwrap();
        assert_eq!(map.len(), 3);
        assert!(map.values().all(Vec::is_empty));
    }

    #[test]
    fn errors() {
        let strategy = ConsistentHash::new();
        assert_eq!(
            strategy.assign(&[], &parts(1)),
            Err(StrategyError::NoWorkers)
        );
        let mut input = parts(5);
        input[3] = Partition::new(Vec::<String>::new(), 4);
        assert_eq!(
            strategy.assign(&workers(2), &input),
            Err(StrategyError::Unplaceable { index: 3 })
        );
        assert_eq!(
            strategy.assign_cold(&workers(2), &input),
            Err(StrategyError::Unplaceable { index: 3 })
        );
        let zero = ConsistentHash::new().with_virtual_nodes(0);
        assert!(matches!(
            zero.assign(&workers(2), &parts(1)),
            Err(StrategyError::InvalidConfig(_))
        ));
        // Like Go, an empty ring only fails once there is something to place.
        assert_eq!(zero.assign(&workers(2), &[]).unwrap().len(), 2);
    }

    #[test]
    fn warm_assign_reuses_the_ring_until_workers_change() {
        let strategy = ConsistentHash::new();
        assert!(strategy.cached_ring().is_none());
        strategy.assign(&workers(3), &parts(10)).unwrap();
        let first = strategy.cached_ring().unwrap();
        let mut reordered = workers(3);
        reordered.push("worker-0".into());
        strategy.assign(&reordered, &parts(10)).unwrap();
        // Same de-duplicated list (order included) → reuse.
        let mut same = workers(3);
        same.push("worker-1".into());
        strategy.assign(&same, &parts(10)).unwrap();
        assert!(Arc::ptr_eq(&first, &strategy.cached_ring().unwrap()));
        strategy.assign(&workers(4), &parts(10)).unwrap();
        let second = strategy.cached_ring().unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(second.workers().len(), 4);
        // Cold assignment leaves the cache alone; clones start empty.
        strategy.assign_cold(&workers(2), &parts(10)).unwrap();
        assert!(Arc::ptr_eq(&second, &strategy.cached_ring().unwrap()));
        assert!(strategy.clone().cached_ring().is_none());
    }

    #[test]
    fn property_distribution_bounds() {
        let map = ConsistentHash::new()
            .assign(&workers(5), &parts(100))
            .unwrap();
        for (worker, list) in &map {
            assert!((10..=40).contains(&list.len()), "{worker}: {}", list.len());
        }
        assert!(balance(&map).unwrap() < 4.0);
        // Larger case: 1000 partitions on 10 workers stay within 50 %..150 % of the mean.
        let map = ConsistentHash::new()
            .assign(&workers(10), &parts(1000))
            .unwrap();
        for list in map.values() {
            assert!((50..=150).contains(&list.len()), "{}", list.len());
        }
    }

    #[test]
    fn property_scale_out_moves_few_partitions() {
        let strategy = ConsistentHash::new();
        let before = strategy.assign(&workers(3), &parts(300)).unwrap();
        let after = strategy.assign(&workers(4), &parts(300)).unwrap();
        let m = movement(&before, &after);
        assert_eq!(m.total, 300);
        assert!(m.percent() <= 35.0, "moved {:.1} %", m.percent());
        // Only moves onto the new worker: consistent hashing never shuffles between old workers.
        for (worker, list) in &after {
            if worker != "worker-3" {
                for p in list {
                    assert!(before[worker].contains(p), "{worker} gained {p:?}");
                }
            }
        }
        // And removing it again restores the original assignment exactly.
        assert_eq!(strategy.assign(&workers(3), &parts(300)).unwrap(), before);
    }
}
