//! Unit tests of the weighted consistent hash strategy: Appendix A and reference vectors,
//! the fast path, extremes, the load cap, clamping, errors, duplicates and the ring cache.

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
fn load_exactly_at_the_cap_stays_with_the_ring_owner() {
    // Cap = 120 / 2 × 1.5 = 90 exactly; the owner of p1 and p2 reaches 90 and keeps p2.
    let ring = Ring::new(&["a", "b"], DEFAULT_VIRTUAL_NODES, 0);
    let mut keys = (0..).map(|i| Partition::new([format!("k{i}")], 0));
    let mut next_owned_by = |w: &str| keys.find(|p| ring.owner(p) == Some(w)).unwrap().keys;
    let input = vec![
        Partition::new(next_owned_by("a"), 40),
        Partition::new(next_owned_by("a"), 50),
        Partition::new(next_owned_by("b"), 30),
    ];
    let s = WeightedConsistentHash::new()
        .with_overload_threshold(1.5)
        .with_extreme_threshold(10.0);
    let map = s.assign(&["a", "b"].map(String::from), &input).unwrap();
    assert_eq!((&map["a"][..], &map["b"][..]), (&input[..2], &input[2..]));
    // A duplicated worker counts in the average: cap = 120 / 3 × 1.5 = 60.
    let map = s
        .assign(&["b", "a", "b"].map(String::from), &input)
        .unwrap();
    let (p1, p2, q) = (input[0].clone(), input[1].clone(), input[2].clone());
    assert_eq!((&map["a"], &map["b"]), (&vec![p1, q], &vec![p2]));
    // Weight exactly at the extreme cutoff (avg 2 × 2.0 = 4) is normal: it stays with its
    // ring owner b instead of being dealt to the first sorted worker.
    let input = vec![
        Partition::new(next_owned_by("b"), 4),
        Partition::new(next_owned_by("a"), 1),
        Partition::new(next_owned_by("a"), 1),
    ];
    let s = WeightedConsistentHash::new().with_overload_threshold(1.5);
    let map = s.assign(&["a", "b"].map(String::from), &input).unwrap();
    assert_eq!(map["b"], input[..1]);
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
    // A third extreme goes to sorted slot 2, the second copy of b.
    let mut input: Vec<Partition> = (0..20)
        .map(|i| Partition::new([format!("l{i}")], 1))
        .collect();
    input.extend((0..3).map(|i| Partition::new([format!("h{i}")], 50)));
    let map = s.assign(&dup, &input).unwrap();
    let heads = |w: &str| {
        map[w]
            .iter()
            .take_while(|p| p.weight == 50)
            .map(Partition::id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (heads("a"), heads("b")),
        (
            vec!["h0".to_string()],
            vec!["h1".to_string(), "h2".to_string()]
        )
    );
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
