//! The `weighted-consistent-hash` strategy (Go `strategy.NewWeightedConsistentHash`, protocol
//! §6.8): ring placement with a soft per-worker load cap, heavy ("extreme") partitions dealt
//! round-robin first.

use std::sync::Arc;

use crate::parti::partition::Partition;
use crate::parti::strategy::consistent_hash::assign_on_ring;
use crate::parti::strategy::ring::{self, Ring, RingCache};
use crate::parti::strategy::{AssignmentMap, DEFAULT_VIRTUAL_NODES, Strategy, StrategyError};

/// Default soft load cap, as a multiple of the average worker load.
pub const DEFAULT_OVERLOAD_THRESHOLD: f64 = 1.3;
/// Default extreme cutoff, as a multiple of the average partition weight.
pub const DEFAULT_EXTREME_THRESHOLD: f64 = 2.0;
/// Default weight for partitions whose weight is ≤ 0.
pub const DEFAULT_WEIGHT: i64 = 1;
/// Overload thresholds below this are raised to it.
pub const MIN_OVERLOAD_THRESHOLD: f64 = 1.15;
/// Extreme thresholds below this are raised to it.
pub const MIN_EXTREME_THRESHOLD: f64 = 1.5;

/// Weighted consistent hashing. Defaults: 150 virtual nodes, seed 0, overload threshold 1.3,
/// extreme threshold 2.0, default weight 1. Out-of-range settings are clamped as in Go: virtual
/// nodes < 1 → 1, overload < 1.15 → 1.15, extreme < 1.5 → 1.5, default weight < 1 → 1.
///
/// Workers are sorted by byte order; the ring is built from the sorted list and cached while it,
/// the virtual-node count and the seed are unchanged ([`Strategy::assign`], "warm").
/// [`WeightedConsistentHash::assign_cold`] rebuilds the ring every call.
///
/// Duplicate worker IDs are one worker for loads and the result, but each copy counts in the
/// average worker load and takes a turn when extremes are dealt (Go's map-keyed behaviour).
#[derive(Debug)]
pub struct WeightedConsistentHash {
    virtual_nodes: usize,
    hash_seed: u64,
    overload_threshold: f64,
    extreme_threshold: f64,
    default_weight: i64,
    cache: RingCache,
}

impl WeightedConsistentHash {
    /// The strategy with Go defaults.
    pub fn new() -> Self {
        Self {
            virtual_nodes: DEFAULT_VIRTUAL_NODES,
            hash_seed: 0,
            overload_threshold: DEFAULT_OVERLOAD_THRESHOLD,
            extreme_threshold: DEFAULT_EXTREME_THRESHOLD,
            default_weight: DEFAULT_WEIGHT,
            cache: RingCache::default(),
        }
    }

    /// Sets the virtual nodes per worker (0 is raised to 1).
    pub fn with_virtual_nodes(mut self, virtual_nodes: usize) -> Self {
        self.virtual_nodes = virtual_nodes.max(1);
        self
    }

    /// Sets the hash seed.
    pub fn with_hash_seed(mut self, hash_seed: u64) -> Self {
        self.hash_seed = hash_seed;
        self
    }

    /// Sets the soft load cap multiplier (values below 1.15 are raised to 1.15).
    pub fn with_overload_threshold(mut self, threshold: f64) -> Self {
        // `<` rather than `max` so that NaN passes through unchanged, as in Go.
        self.overload_threshold = if threshold < MIN_OVERLOAD_THRESHOLD {
            MIN_OVERLOAD_THRESHOLD
        } else {
            threshold
        };
        self
    }

    /// Sets the extreme cutoff multiplier (values below 1.5 are raised to 1.5).
    pub fn with_extreme_threshold(mut self, threshold: f64) -> Self {
        self.extreme_threshold = if threshold < MIN_EXTREME_THRESHOLD {
            MIN_EXTREME_THRESHOLD
        } else {
            threshold
        };
        self
    }

    /// Sets the weight used for partitions whose weight is ≤ 0 (values below 1 are raised to 1).
    pub fn with_default_weight(mut self, weight: i64) -> Self {
        self.default_weight = weight.max(1);
        self
    }

    /// Virtual nodes per worker (after clamping).
    pub fn virtual_nodes(&self) -> usize {
        self.virtual_nodes
    }

    /// The hash seed.
    pub fn hash_seed(&self) -> u64 {
        self.hash_seed
    }

    /// The soft load cap multiplier (after clamping).
    pub fn overload_threshold(&self) -> f64 {
        self.overload_threshold
    }

    /// The extreme cutoff multiplier (after clamping).
    pub fn extreme_threshold(&self) -> f64 {
        self.extreme_threshold
    }

    /// The default weight (after clamping).
    pub fn default_weight(&self) -> i64 {
        self.default_weight
    }

    /// The weight this strategy counts for a partition weight: itself if > 0, else the default.
    pub fn effective_weight(&self, weight: i64) -> i64 {
        if weight > 0 {
            weight
        } else {
            self.default_weight
        }
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
        let mut sorted: Vec<&str> = workers.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        let mut distinct = sorted.clone();
        distinct.dedup();
        if partitions.is_empty() {
            return Ok(distinct
                .into_iter()
                .map(|w| (w.to_owned(), Vec::new()))
                .collect());
        }

        let weights: Vec<i64> = partitions
            .iter()
            .map(|p| self.effective_weight(p.weight))
            .collect();
        // Go sums in int64, which wraps on overflow.
        let total = weights.iter().fold(0i64, |acc, &w| acc.wrapping_add(w));
        let all_equal = weights.iter().all(|&w| w == weights[0]);

        let cold_ring;
        let warm_ring;
        let ring: &Ring = if warm {
            warm_ring = self
                .cache
                .get_or_build(&distinct, self.virtual_nodes, self.hash_seed);
            &warm_ring
        } else {
            cold_ring = ring::build_uncached(&distinct, self.virtual_nodes, self.hash_seed);
            &cold_ring
        };

        if all_equal {
            return assign_on_ring(ring, partitions);
        }
        self.assign_weighted(ring, &sorted, partitions, &weights, total)
    }

    /// Steps 5–9 of §6.8 on the ring built from the sorted workers (`ring.workers()` is the
    /// sorted, de-duplicated list; `sorted` still holds duplicates).
    fn assign_weighted(
        &self,
        ring: &Ring,
        sorted: &[&str],
        partitions: &[Partition],
        weights: &[i64],
        total: i64,
    ) -> Result<AssignmentMap, StrategyError> {
        let distinct = ring.workers();
        let avg_partition = total as f64 / partitions.len() as f64;
        let extreme_cutoff = avg_partition * self.extreme_threshold;
        let avg_worker = total as f64 / sorted.len() as f64;
        let load_cap = avg_worker * self.overload_threshold;

        let (mut extremes, normals): (Vec<usize>, Vec<usize>) = (0..partitions.len())
            .partition(|&i| extreme_cutoff > 0.0 && weights[i] as f64 > extreme_cutoff);
        // Heaviest first; equal weights by key tuple. Stable, so exact duplicates keep source
        // order (Go's sort leaves their order unspecified, but they are indistinguishable).
        extremes.sort_by(|&a, &b| {
            weights[b]
                .cmp(&weights[a])
                .then_with(|| partitions[a].compare(&partitions[b]))
        });

        // Sorted slot (duplicates included) → index in the distinct list.
        let mut slot_owner = Vec::with_capacity(sorted.len());
        let mut next = 0usize;
        for name in sorted {
            while distinct[next] != *name {
                next += 1;
            }
            slot_owner.push(next);
        }

        let per_worker = partitions.len().div_ceil(distinct.len());
        let mut extreme_buckets: Vec<Vec<Partition>> = vec![Vec::new(); distinct.len()];
        let mut buckets: Vec<Vec<Partition>> = (0..distinct.len())
            .map(|_| Vec::with_capacity(per_worker))
            .collect();
        let mut load = vec![0i64; distinct.len()];

        for (turn, &i) in extremes.iter().enumerate() {
            let owner = slot_owner[turn % sorted.len()];
            extreme_buckets[owner].push(partitions[i].clone());
            load[owner] = load[owner].wrapping_add(weights[i]);
        }
        if !extremes.is_empty() {
            tracing::debug!(
                extreme_partitions = extremes.len(),
                total_partitions = partitions.len(),
                extreme_cutoff,
                "weighted consistent hash detected extreme partitions"
            );
        }

        let mut overflow_count = 0usize;
        for &i in &normals {
            let weight = weights[i];
            let mut owner = ring
                .owner_index(&partitions[i])
                .ok_or(StrategyError::Unplaceable { index: i })?;
            if load_cap > 0.0 && load[owner].wrapping_add(weight) as f64 > load_cap {
                owner = lightest(&load);
                if load[owner].wrapping_add(weight) as f64 > load_cap {
                    overflow_count += 1;
                }
            }
            buckets[owner].push(partitions[i].clone());
            load[owner] = load[owner].wrapping_add(weight);
        }
        if overflow_count > 0 {
            tracing::debug!(
                overflow_count,
                max_worker_weight = load_cap,
                total_weight = total,
                "weighted consistent hash exceeded soft cap"
            );
        }

        Ok(distinct
            .iter()
            .cloned()
            .zip(extreme_buckets.into_iter().zip(buckets))
            .map(|(worker, (mut list, normal))| {
                list.extend(normal);
                (worker, list)
            })
            .collect())
    }
}

/// Index of the minimum load; the lowest index wins ties.
fn lightest(load: &[i64]) -> usize {
    let mut best = 0;
    for (i, &l) in load.iter().enumerate().skip(1) {
        if l < load[best] {
            best = i;
        }
    }
    best
}

impl Default for WeightedConsistentHash {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for WeightedConsistentHash {
    /// Copies the configuration; the clone starts with an empty ring cache.
    fn clone(&self) -> Self {
        Self {
            virtual_nodes: self.virtual_nodes,
            hash_seed: self.hash_seed,
            overload_threshold: self.overload_threshold,
            extreme_threshold: self.extreme_threshold,
            default_weight: self.default_weight,
            cache: RingCache::default(),
        }
    }
}

impl Strategy for WeightedConsistentHash {
    fn name(&self) -> &'static str {
        "weighted-consistent-hash"
    }

    fn assign(
        &self,
        workers: &[String],
        partitions: &[Partition],
    ) -> Result<AssignmentMap, StrategyError> {
        self.run(workers, partitions, true)
    }
}

#[cfg(test)]
#[path = "weighted_tests.rs"]
mod tests;
