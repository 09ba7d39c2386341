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
mod tests {
    use super::*;
    use crate::parti::strategy::ConsistentHash;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    fn subjects(map: &AssignmentMap, worker: &str) -> Vec<String> {
        map[worker].iter().map(Partition::subject_key).collect()
    }

    fn loads(strategy: &WeightedConsistentHash, map: &AssignmentMap) -> Vec<i64> {
        map.values()
            .map(|list| {
                list.iter()
                    .map(|p| strategy.effective_weight(p.weight))
                    .sum()
            })
            .collect()
    }

    /// Appendix A input: light.A…J (1), medium.A…E (2), heavy.A,B (5).
    fn appendix_partitions() -> Vec<Partition> {
        let mut out = Vec::new();
        for (group, count, weight) in [("light", 10u8, 1), ("medium", 5, 2), ("heavy", 2, 5)] {
            for letter in (b'A'..b'A' + count).map(char::from) {
                out.push(Partition::new(
                    [group.to_string(), letter.to_string()],
                    weight,
                ));
            }
        }
        out
    }

    #[test]
    fn appendix_a_weighted_example() {
        let strategy = WeightedConsistentHash::new();
        let workers = names("weight-worker-", 4);
        let input = appendix_partitions();
        for map in [
            strategy.assign(&workers, &input).unwrap(),
            strategy.assign_cold(&workers, &input).unwrap(),
        ] {
            assert_eq!(
                subjects(&map, "weight-worker-0"),
                ["heavy.A", "light.B", "light.C"]
            );
            assert_eq!(
                subjects(&map, "weight-worker-1"),
                ["heavy.B", "light.A", "light.F", "light.G"]
            );
            assert_eq!(
                subjects(&map, "weight-worker-2"),
                ["light.J", "medium.A", "medium.B", "medium.D"]
            );
            assert_eq!(
                subjects(&map, "weight-worker-3"),
                [
                    "light.D", "light.E", "light.H", "light.I", "medium.C", "medium.E"
                ]
            );
            assert_eq!(loads(&strategy, &map), [7, 8, 7, 8]);
        }
    }

    #[test]
    fn skew_vector_every_tenth_partition_heavy() {
        // Reference implementation output: 40 partitions, every 10th weight 500, others 100,
        // workers given unsorted. Total 5600, cutoff 280, cap 1456.
        let input: Vec<Partition> = (0..40)
            .map(|i| {
                Partition::new(
                    [format!("partition-{i}")],
                    if i % 10 == 0 { 500 } else { 100 },
                )
            })
            .collect();
        let workers: Vec<String> = [3, 1, 4, 0, 2]
            .iter()
            .map(|i| format!("worker-{i}"))
            .collect();
        let strategy = WeightedConsistentHash::new();
        let map = strategy.assign(&workers, &input).unwrap();
        let numbers = |w: &str| -> Vec<usize> {
            map[w]
                .iter()
                .map(|p| p.keys[0].trim_start_matches("partition-").parse().unwrap())
                .collect()
        };
        assert_eq!(numbers("worker-0"), [0, 3, 8, 12, 15, 25, 39]);
        assert_eq!(
            numbers("worker-1"),
            [10, 16, 17, 21, 22, 27, 29, 31, 36, 38]
        );
        assert_eq!(numbers("worker-2"), [20, 1, 2, 18, 26, 28, 32, 35, 37]);
        assert_eq!(numbers("worker-3"), [30, 4, 9, 11]);
        assert_eq!(numbers("worker-4"), [5, 6, 7, 13, 14, 19, 23, 24, 33, 34]);
        assert_eq!(loads(&strategy, &map), [1100, 1400, 1300, 800, 1000]);
    }

    #[test]
    fn seeded_vector_with_default_weight_and_tuples() {
        // Reference implementation output: V 50, seed 7, default weight 3, workers b, a, c.
        let input: Vec<Partition> = (0..20)
            .map(|i| {
                Partition::new(
                    [format!("t{}", i % 3), format!("c{i}")],
                    [0, 1, 2, 9, 4][i % 5],
                )
            })
            .collect();
        let strategy = WeightedConsistentHash::new()
            .with_virtual_nodes(50)
            .with_hash_seed(7)
            .with_default_weight(3);
        let workers: Vec<String> = ["b", "a", "c"].map(String::from).to_vec();
        let map = strategy.assign(&workers, &input).unwrap();
        assert_eq!(
            subjects(&map, "a"),
            [
                "t0.c18", "t2.c8", "t1.c1", "t1.c4", "t0.c6", "t0.c9", "t2.c11", "t2.c17"
            ]
        );
        assert_eq!(
            subjects(&map, "b"),
            [
                "t0.c3", "t0.c0", "t2.c5", "t1.c10", "t2.c14", "t0.c15", "t1.c19"
            ]
        );
        assert_eq!(
            subjects(&map, "c"),
            ["t1.c13", "t2.c2", "t1.c7", "t0.c12", "t1.c16"]
        );
        assert_eq!(loads(&strategy, &map), [31, 29, 16]);
    }

    #[test]
    fn equal_weights_take_the_consistent_hash_fast_path() {
        let workers = names("worker-", 6);
        let mut reversed = workers.clone();
        reversed.reverse();
        // Weight 0 and 1 are both the default weight 1: still "all equal".
        let input: Vec<Partition> = (0..120)
            .map(|i| Partition::new([format!("partition-{i}")], (i % 2) as i64))
            .collect();
        let ch = ConsistentHash::new().assign(&workers, &input).unwrap();
        let wch = WeightedConsistentHash::new()
            .assign(&reversed, &input)
            .unwrap();
        assert_eq!(wch, ch);
        // Same for an equal non-default weight with a seed.
        let input: Vec<Partition> = (0..50)
            .map(|i| Partition::new([format!("p{i}")], 500))
            .collect();
        assert_eq!(
            WeightedConsistentHash::new()
                .with_hash_seed(9)
                .assign(&workers, &input)
                .unwrap(),
            ConsistentHash::new()
                .with_hash_seed(9)
                .assign(&workers, &input)
                .unwrap()
        );
    }

    #[test]
    fn extremes_come_first_sorted_by_weight_then_keys_and_dealt_round_robin() {
        // Average 100 ... cutoff = avg × 2; the four big ones are extreme.
        let mut input: Vec<Partition> = (0..36)
            .map(|i| Partition::new([format!("n{i:02}")], 10))
            .collect();
        input.push(Partition::new(["zz"], 900));
        input.push(Partition::new(["b", "x"], 700));
        input.push(Partition::new(["a"], 700));
        input.push(Partition::new(["b"], 700));
        let workers: Vec<String> = ["w2", "w0", "w1"].map(String::from).to_vec();
        let map = WeightedConsistentHash::new()
            .assign(&workers, &input)
            .unwrap();
        let first = |w: &str| map[w][0].subject_key();
        // Order: zz(900), a(700), b(700), b.x(700) → w0, w1, w2, w0.
        assert_eq!(first("w0"), "zz");
        assert_eq!(first("w1"), "a");
        assert_eq!(first("w2"), "b");
        assert_eq!(map["w0"][1].subject_key(), "b.x");
        for list in map.values() {
            let normals = list.iter().skip_while(|p| p.weight >= 700);
            assert!(normals.clone().all(|p| p.weight == 10));
            let keys: Vec<_> = normals.map(|p| p.keys[0].clone()).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "normals keep source order");
        }
    }

    #[test]
    fn overloaded_owner_sends_partition_to_lightest_worker() {
        assert_eq!(lightest(&[5, 3, 3, 4]), 1);
        assert_eq!(lightest(&[0, 0]), 0);
        assert_eq!(lightest(&[9]), 0);
        // One extreme partition and many light ones: the cap keeps every worker near average.
        let mut input: Vec<Partition> = (0..200)
            .map(|i| Partition::new([format!("p{i}")], 1 + (i % 3) as i64))
            .collect();
        input.push(Partition::new(["huge"], 300));
        let strategy = WeightedConsistentHash::new();
        let workers = names("w", 4);
        let map = strategy.assign(&workers, &input).unwrap();
        let total: i64 = input.iter().map(|p| p.weight).sum();
        let cap = total as f64 / 4.0 * 1.3;
        // The worker dealt the extreme is over the cap from the start, so every partition the
        // ring gives it goes to the lightest worker instead; nobody else ends over the cap.
        assert_eq!(map["w0"], [Partition::new(["huge"], 300)]);
        for (worker, load) in workers.iter().zip(loads(&strategy, &map)).skip(1) {
            assert!(load as f64 <= cap, "{worker} load {load} cap {cap}");
        }
    }

    #[test]
    fn clamping_matches_go() {
        let s = WeightedConsistentHash::new()
            .with_virtual_nodes(0)
            .with_overload_threshold(1.0)
            .with_extreme_threshold(1.2)
            .with_default_weight(-5);
        assert_eq!(s.virtual_nodes(), 1);
        assert_eq!(s.overload_threshold(), MIN_OVERLOAD_THRESHOLD);
        assert_eq!(s.extreme_threshold(), MIN_EXTREME_THRESHOLD);
        assert_eq!(s.default_weight(), 1);
        let s = WeightedConsistentHash::new()
            .with_virtual_nodes(7)
            .with_overload_threshold(1.15)
            .with_extreme_threshold(9.5)
            .with_default_weight(100);
        assert_eq!(
            (
                s.virtual_nodes(),
                s.overload_threshold(),
                s.extreme_threshold(),
                s.default_weight()
            ),
            (7, 1.15, 9.5, 100)
        );
        let d = WeightedConsistentHash::default();
        assert_eq!(
            (
                d.virtual_nodes(),
                d.hash_seed(),
                d.overload_threshold(),
                d.extreme_threshold()
            ),
            (150, 0, 1.3, 2.0)
        );
        assert_eq!(d.effective_weight(0), 1);
        assert_eq!(d.effective_weight(-3), 1);
        assert_eq!(d.effective_weight(8), 8);
        // A clamped single virtual node still places everything.
        let map = s
            .with_virtual_nodes(0)
            .assign(&names("w", 3), &appendix_partitions())
            .unwrap();
        assert_eq!(map.values().map(Vec::len).sum::<usize>(), 17);
    }

    #[test]
    fn errors_and_empty_inputs() {
        let s = WeightedConsistentHash::new();
        assert_eq!(
            s.assign(&[], &appendix_partitions()),
            Err(StrategyError::NoWorkers)
        );
        let map = s.assign(&names("w", 3), &[]).unwrap();
        assert_eq!(map.len(), 3);
        assert!(map.values().all(Vec::is_empty));
        // A keyless partition fails on the fast path …
        let mut input: Vec<Partition> = (0..4)
            .map(|i| Partition::new([format!("p{i}")], 1))
            .collect();
        input[2].keys.clear();
        assert_eq!(
            s.assign(&names("w", 2), &input),
            Err(StrategyError::Unplaceable { index: 2 })
        );
        // … and as a normal partition on the weighted path …
        input[0].weight = 2;
        assert_eq!(
            s.assign_cold(&names("w", 2), &input),
            Err(StrategyError::Unplaceable { index: 2 })
        );
        // … but, as in Go, an extreme one is dealt round-robin without a ring lookup.
        let mut input: Vec<Partition> = (0..20)
            .map(|i| Partition::new([format!("p{i}")], 1))
            .collect();
        input.push(Partition::new(Vec::<String>::new(), 100));
        let map = s.assign(&names("w", 2), &input).unwrap();
        assert_eq!(map["w0"][0], Partition::new(Vec::<String>::new(), 100));
    }

    #[test]
    fn worker_order_and_duplicates() {
        let input = appendix_partitions();
        let s = WeightedConsistentHash::new();
        let workers = names("weight-worker-", 4);
        let reference = s.assign(&workers, &input).unwrap();
        let mut shuffled = workers.clone();
        shuffled.rotate_left(3);
        assert_eq!(s.assign(&shuffled, &input).unwrap(), reference);
        // Duplicates: one entry per distinct worker, everything placed once.
        let dup: Vec<String> = ["b", "a", "b"].map(String::from).to_vec();
        let map = s.assign(&dup, &input).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(map.values().map(Vec::len).sum::<usize>(), input.len());
        // The two heavies are dealt to sorted slots a, b (slot 2 is b again).
        assert_eq!(map["a"][0].subject_key(), "heavy.A");
        assert_eq!(map["b"][0].subject_key(), "heavy.B");
    }

    #[test]
    fn warm_cache_keyed_on_sorted_workers() {
        let s = WeightedConsistentHash::new();
        let input = appendix_partitions();
        s.assign(&names("w", 3), &input).unwrap();
        let first = s.cached_ring().unwrap();
        assert_eq!(first.workers(), ["w0", "w1", "w2"]);
        let mut reordered = names("w", 3);
        reordered.reverse();
        s.assign(&reordered, &input).unwrap();
        assert!(Arc::ptr_eq(&first, &s.cached_ring().unwrap()));
        s.assign(&names("w", 4), &input).unwrap();
        assert!(!Arc::ptr_eq(&first, &s.cached_ring().unwrap()));
        let before = s.cached_ring().unwrap();
        s.assign_cold(&names("w", 2), &input).unwrap();
        assert!(Arc::ptr_eq(&before, &s.cached_ring().unwrap()));
        assert!(s.clone().cached_ring().is_none());
    }
}
