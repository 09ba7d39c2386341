//! Pure measurements over assignment maps: partition movement between two assignments and the
//! balance (max/min partitions per worker) of one.

use std::collections::HashMap;

use crate::parti::strategy::AssignmentMap;

/// How many partitions changed owner between two assignments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Movement {
    /// Partitions of the later assignment whose owner differs from the earlier one.
    pub moved: usize,
    /// Partitions in the later assignment.
    pub total: usize,
}

impl Movement {
    /// `moved` as a percentage of `total` (0 when `total` is 0).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.moved as f64 * 100.0 / self.total as f64
        }
    }
}

/// Compares two assignments. Partitions are identified by their key tuple; one counts as moved if
/// it was owned in `before` and none of its owners in `before` owns it in `after`. Partitions
/// that did not exist in `before` are new, not moved. `total` counts the partitions in `after`.
pub fn movement(before: &AssignmentMap, after: &AssignmentMap) -> Movement {
    let mut previous: HashMap<&[String], Vec<&str>> = HashMap::new();
    for (worker, partitions) in before {
        for partition in partitions {
            previous
                .entry(partition.keys.as_slice())
                .or_default()
                .push(worker.as_str());
        }
    }
    let mut result = Movement::default();
    for (worker, partitions) in after {
        for partition in partitions {
            result.total += 1;
            if let Some(owners) = previous.get(partition.keys.as_slice())
                && !owners.contains(&worker.as_str())
            {
                result.moved += 1;
            }
        }
    }
    result
}

/// Max/min partitions per worker over the workers present in `map` (workers with an empty list
/// count as 0). `None` for an empty map, infinity when some worker has none while another has
/// some, and 1.0 when every list is empty.
pub fn balance(map: &AssignmentMap) -> Option<f64> {
    let counts = map.values().map(Vec::len);
    let max = counts.clone().max()?;
    let min = counts.min()?;
    Some(match (min, max) {
        (0, 0) => 1.0,
        (0, _) => f64::INFINITY,
        _ => max as f64 / min as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parti::partition::Partition;

    fn map(entries: &[(&str, &[&str])]) -> AssignmentMap {
        entries
            .iter()
            .map(|(w, keys)| {
                (
                    w.to_string(),
                    keys.iter().map(|k| Partition::new([*k], 1)).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn movement_counts_owner_changes() {
        let before = map(&[("a", &["p1", "p2", "p3"]), ("b", &["p4"])]);
        let after = map(&[("a", &["p1", "p2"]), ("b", &["p4"]), ("c", &["p3"])]);
        let m = movement(&before, &after);
        assert_eq!(m, Movement { moved: 1, total: 4 });
        assert!((m.percent() - 25.0).abs() < 1e-12);
        assert_eq!(movement(&before, &before), Movement { moved: 0, total: 4 });
        let swapped = map(&[("a", &["p4"]), ("b", &["p1", "p2", "p3"])]);
        assert_eq!(movement(&before, &swapped).moved, 4);
    }

    #[test]
    fn movement_identifies_partitions_by_keys_not_weight() {
        let before: AssignmentMap = [("a".to_string(), vec![Partition::new(["x", "y"], 1)])].into();
        let after: AssignmentMap = [
            ("a".to_string(), vec![Partition::new(["x", "y"], 50)]),
            ("b".to_string(), vec![Partition::new(["x.y"], 1)]),
        ]
        .into();
        // ["x.y"] is a different partition that did not exist before: new, not moved.
        assert_eq!(movement(&before, &after), Movement { moved: 0, total: 2 });
    }

    #[test]
    fn movement_of_empty_maps() {
        let empty = AssignmentMap::new();
        let m = movement(&empty, &empty);
        assert_eq!(m, Movement { moved: 0, total: 0 });
        assert_eq!(m.percent(), 0.0);
        let after = map(&[("a", &["p1"])]);
        assert_eq!(movement(&empty, &after), Movement { moved: 0, total: 1 });
        assert_eq!(movement(&after, &empty), Movement { moved: 0, total: 0 });
    }

    #[test]
    fn balance_cases() {
        assert_eq!(balance(&AssignmentMap::new()), None);
        assert_eq!(
            balance(&map(&[("a", &["1", "2"]), ("b", &["3"])])),
            Some(2.0)
        );
        assert_eq!(balance(&map(&[("a", &["1"]), ("b", &["3"])])), Some(1.0));
        assert_eq!(
            balance(&map(&[("a", &["1", "2", "3"]), ("b", &["4", "5"])])),
            Some(1.5)
        );
        assert_eq!(
            balance(&map(&[("a", &["1"]), ("b", &[])])),
            Some(f64::INFINITY)
        );
        assert_eq!(balance(&map(&[("a", &[]), ("b", &[])])), Some(1.0));
    }
}
