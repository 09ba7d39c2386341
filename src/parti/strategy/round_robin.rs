//! The `round-robin` strategy (Go `strategy.NewRoundRobin`, protocol §6.8): partition `i` goes to
//! `workers[i mod n]`, with the worker list used exactly as given.

use crate::parti::partition::Partition;
use crate::parti::strategy::{AssignmentMap, Strategy, StrategyError};

/// Round-robin assignment, Go-exact: the worker list is neither sorted nor de-duplicated, so the
/// result depends on the order of the list (and a duplicated worker takes several turns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundRobin;

impl RoundRobin {
    /// The strategy (it has no parameters).
    pub fn new() -> Self {
        RoundRobin
    }
}

impl Strategy for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }

    fn assign(
        &self,
        workers: &[String],
        partitions: &[Partition],
    ) -> Result<AssignmentMap, StrategyError> {
        if workers.is_empty() {
            return Err(StrategyError::NoWorkers);
        }
        let mut map: AssignmentMap = workers.iter().map(|w| (w.clone(), Vec::new())).collect();
        for (worker, partition) in workers.iter().cycle().zip(partitions) {
            if let Some(list) = map.get_mut(worker) {
                list.push(partition.clone());
            }
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(n: usize) -> Vec<Partition> {
        (0..n)
            .map(|i| Partition::new([format!("p{i}")], 0))
            .collect()
    }

    fn names(map: &AssignmentMap, worker: &str) -> Vec<String> {
        map[worker].iter().map(Partition::id).collect()
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn order_sensitive_as_in_go() {
        let workers = strings(&["worker-2", "worker-0", "worker-1"]);
        let map = RoundRobin.assign(&workers, &parts(7)).unwrap();
        assert_eq!(names(&map, "worker-2"), ["p0", "p3", "p6"]);
        assert_eq!(names(&map, "worker-0"), ["p1", "p4"]);
        assert_eq!(names(&map, "worker-1"), ["p2", "p5"]);
        let sorted = strings(&["worker-0", "worker-1", "worker-2"]);
        let other = RoundRobin.assign(&sorted, &parts(7)).unwrap();
        assert_eq!(names(&other, "worker-0"), ["p0", "p3", "p6"]);
        assert_ne!(map, other);
    }

    #[test]
    fn duplicates_take_extra_turns() {
        let workers = strings(&["a", "b", "a"]);
        let map = RoundRobin.assign(&workers, &parts(6)).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(names(&map, "a"), ["p0", "p2", "p3", "p5"]);
        assert_eq!(names(&map, "b"), ["p1", "p4"]);
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(
            RoundRobin.assign(&[], &parts(2)),
            Err(StrategyError::NoWorkers)
        );
        let map = RoundRobin.assign(&strings(&["x", "y"]), &[]).unwrap();
        assert_eq!(map.len(), 2);
        assert!(map.values().all(Vec::is_empty));
        // Keyless partitions are fine: round-robin never hashes.
        let map = RoundRobin
            .assign(&strings(&["x"]), &[Partition::default()])
            .unwrap();
        assert_eq!(map["x"], [Partition::default()]);
    }

    #[test]
    fn property_counts_differ_by_at_most_one() {
        for w in 1..=9 {
            let workers: Vec<String> = (0..w).map(|i| format!("worker-{i}")).collect();
            for p in [0, 1, w - 1, w, w + 1, 97, 1000] {
                let map = RoundRobin.assign(&workers, &parts(p)).unwrap();
                let counts: Vec<usize> = map.values().map(Vec::len).collect();
                let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
                assert!(max - min <= 1, "w={w} p={p} {counts:?}");
                assert_eq!(counts.iter().sum::<usize>(), p);
            }
        }
    }
}
