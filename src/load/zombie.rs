//! The zombie check: an ack by a worker of a partition it no longer owned. Ownership comes from
//! the assignment keys as the controller saw them change ([`Ownership::record`]); an ack by
//! worker W of partition P at time t is a zombie's when no assignment of W current at any time
//! in `[t − grace, t]` held P. The grace covers a rebalance in progress: the old owner finishes
//! the message it holds while the new assignment propagates.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::ledger::Ack;

/// Which partitions (by index in the run's list) each worker's assignment key held, and from
/// when.
#[derive(Clone, Debug, Default)]
pub struct Ownership {
    /// Per worker: its assignment changes in time order, `(from_us, partitions)`.
    workers: HashMap<String, Vec<(u64, Vec<u32>)>>,
}

/// One ack a zombie made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZombieAck {
    pub worker: String,
    pub partition: u32,
    pub acked_us: u64,
    /// When the worker's assignment last held the partition (none: never).
    pub owned_until_us: Option<u64>,
}

impl Ownership {
    pub fn new() -> Self {
        Self::default()
    }

    /// Worker `worker`'s assignment holds `partitions` from `t_us` (an empty list when its key
    /// was deleted). Changes must come in time order per worker.
    pub fn record(&mut self, t_us: u64, worker: &str, mut partitions: Vec<u32>) {
        partitions.sort_unstable();
        self.workers
            .entry(worker.to_owned())
            .or_default()
            .push((t_us, partitions));
    }

    /// Whether some assignment of `worker` current during `[t0_us, t1_us]` held `partition`.
    pub fn held_during(&self, worker: &str, partition: u32, t0_us: u64, t1_us: u64) -> bool {
        let Some(changes) = self.workers.get(worker) else {
            return false;
        };
        // The assignment current at t0 is the last change at or before it; every later change
        // up to t1 was current for a while too.
        let first = changes
            .partition_point(|(from, _)| *from <= t0_us)
            .saturating_sub(1);
        changes[first..]
            .iter()
            .take_while(|(from, _)| *from <= t1_us)
            .any(|(_, held)| held.binary_search(&partition).is_ok())
    }

    /// The end of the last stretch before `t_us` in which `worker` held `partition`.
    fn owned_until(&self, worker: &str, partition: u32, t_us: u64) -> Option<u64> {
        let changes = self.workers.get(worker)?;
        let mut until = None;
        for (i, (from, held)) in changes.iter().enumerate() {
            if *from > t_us {
                break;
            }
            if held.binary_search(&partition).is_ok() {
                until = Some(changes.get(i + 1).map_or(t_us, |(next, _)| *next));
            }
        }
        until
    }
}

/// The acks in `acks` that no assignment of their worker covered within `grace_us` before.
pub fn zombie_acks(acks: &[Ack<'_>], ownership: &Ownership, grace_us: u64) -> Vec<ZombieAck> {
    acks.iter()
        .filter(|ack| {
            !ownership.held_during(
                ack.worker,
                ack.id.partition,
                ack.acked_us.saturating_sub(grace_us),
                ack.acked_us,
            )
        })
        .map(|ack| ZombieAck {
            worker: ack.worker.to_owned(),
            partition: ack.id.partition,
            acked_us: ack.acked_us,
            owned_until_us: ownership.owned_until(ack.worker, ack.id.partition, ack.acked_us),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::message::MessageId;

    fn ack(worker: &str, partition: u32, acked_us: u64) -> Ack<'_> {
        Ack {
            id: MessageId {
                producer: 0,
                partition,
                seq: 1,
            },
            worker,
            acked_us,
        }
    }

    fn ownership() -> Ownership {
        let mut o = Ownership::new();
        o.record(1_000, "w1", vec![0, 1]);
        o.record(1_000, "w2", vec![2]);
        // At 5 000, partition 1 moves from w1 to w2.
        o.record(5_000, "w1", vec![0]);
        o.record(5_000, "w2", vec![1, 2]);
        o
    }

    #[test]
    fn acks_by_owners_and_within_the_grace_are_not_zombies() {
        let o = ownership();
        let acks = [
            ack("w1", 1, 4_000),
            ack("w1", 1, 5_400), // the old owner finishing within the grace
            ack("w2", 1, 5_100),
            ack("w1", 0, 9_000),
        ];
        assert!(zombie_acks(&acks, &o, 500).is_empty());
    }

    #[test]
    fn an_ack_after_the_grace_of_a_partition_given_away_is_a_zombie() {
        let o = ownership();
        let acks = [
            ack("w1", 1, 5_600),
            ack("w3", 0, 2_000),
            ack("w2", 2, 3_000),
        ];
        let zombies = zombie_acks(&acks, &o, 500);
        assert_eq!(zombies.len(), 2, "{zombies:?}");
        assert_eq!(zombies[0].worker, "w1");
        assert_eq!(zombies[0].owned_until_us, Some(5_000));
        assert_eq!(zombies[1].worker, "w3");
        assert_eq!(zombies[1].owned_until_us, None);
    }

    #[test]
    fn an_ack_before_any_assignment_is_a_zombie() {
        let o = ownership();
        assert_eq!(zombie_acks(&[ack("w1", 0, 500)], &o, 100).len(), 1);
    }
}
