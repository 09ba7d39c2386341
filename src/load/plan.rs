//! The rate plan: from a [`LoadSpec`] and the partition list, each partition's rate and owning
//! producer ([`RatePlan`]), and each producer's pacing [`Schedule`]: the due time of every
//! message computed from its index, so the total rate is hit exactly over time (no drift, no
//! dropped ticks; a late producer catches up rather than skipping).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::rng::SplitMix64;
use super::spec::{LoadSpec, Skew};
use crate::parti::partition::Partition;

/// One partition's share of the load.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionRate {
    /// Index in the partition list.
    pub partition: u32,
    pub rate_per_s: f64,
    /// The producer that publishes it.
    pub producer: u32,
}

/// Which partitions a producer publishes, and at what total rate.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerShare {
    pub producer: u32,
    /// Partition indices, ascending.
    pub partitions: Vec<u32>,
    pub rate_per_s: f64,
}

/// Rates and ownership for a run.
#[derive(Clone, Debug, PartialEq)]
pub struct RatePlan {
    /// One entry per partition, in list order.
    pub partitions: Vec<PartitionRate>,
    /// One entry per producer, in producer order.
    pub producers: Vec<ProducerShare>,
}

/// A plan that cannot be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("the partition list is empty")]
    NoPartitions,
    #[error("ByWeight needs positive weights; partition {index} has weight {weight}")]
    Weight { index: usize, weight: i64 },
    #[error(
        "Hot(partitions: {hot}) leaves no cold partition among {total} for the remaining share {rest}"
    )]
    HotCoversAll { hot: usize, total: usize, rest: f64 },
    #[error("{0} partitions do not fit a u32 index")]
    TooMany(usize),
}

/// Each partition's rate, in list order; the rates sum to `total_per_s`.
pub fn partition_rates(
    total_per_s: f64,
    skew: &Skew,
    partitions: &[Partition],
) -> Result<Vec<f64>, PlanError> {
    let count = partitions.len();
    if count == 0 {
        return Err(PlanError::NoPartitions);
    }
    #[allow(clippy::cast_precision_loss, reason = "partition counts are small")]
    let n = count as f64;
    Ok(match *skew {
        Skew::Even => vec![total_per_s / n; count],
        Skew::ByWeight => {
            if let Some((index, p)) = partitions.iter().enumerate().find(|(_, p)| p.weight <= 0) {
                return Err(PlanError::Weight {
                    index,
                    weight: p.weight,
                });
            }
            #[allow(clippy::cast_precision_loss, reason = "weights are small")]
            let sum: f64 = partitions.iter().map(|p| p.weight as f64).sum();
            #[allow(clippy::cast_precision_loss, reason = "weights are small")]
            partitions
                .iter()
                .map(|p| total_per_s * p.weight as f64 / sum)
                .collect()
        }
        Skew::Hot {
            partitions: hot,
            share,
        } => {
            let hot = hot.min(count);
            let rest = 1.0 - share;
            if hot == count && rest > 0.0 {
                return Err(PlanError::HotCoversAll {
                    hot,
                    total: count,
                    rest,
                });
            }
            #[allow(clippy::cast_precision_loss, reason = "partition counts are small")]
            let (hot_n, cold_n) = (hot as f64, (count - hot) as f64);
            (0..count)
                .map(|i| {
                    if i < hot {
                        total_per_s * share / hot_n
                    } else {
                        total_per_s * rest / cold_n
                    }
                })
                .collect()
        }
    })
}

/// The plan of a run: partition rates, then each partition given to the producer with the
/// least rate so far, highest rates first (ties: lower index), so hot partitions spread out.
pub fn plan(spec: &LoadSpec, partitions: &[Partition]) -> Result<RatePlan, PlanError> {
    let rates = partition_rates(spec.rate_per_s, &spec.skew, partitions)?;
    u32::try_from(partitions.len()).map_err(|_| PlanError::TooMany(partitions.len()))?;
    let producers = spec.producers.max(1);
    let mut order: Vec<usize> = (0..rates.len()).collect();
    order.sort_by(|&a, &b| rates[b].total_cmp(&rates[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; producers];
    let mut owner = vec![0u32; rates.len()];
    for index in order {
        let (least, _) = load
            .iter()
            .enumerate()
            .min_by(|(a, x), (b, y)| x.total_cmp(y).then(a.cmp(b)))
            .unwrap_or((0, &0.0));
        load[least] += rates[index];
        owner[index] = u32::try_from(least).unwrap_or(u32::MAX);
    }
    let as_u32 = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
    let partitions_out = rates
        .iter()
        .enumerate()
        .map(|(i, &rate_per_s)| PartitionRate {
            partition: as_u32(i),
            rate_per_s,
            producer: owner[i],
        })
        .collect();
    let producers_out = (0..producers)
        .map(|p| ProducerShare {
            producer: as_u32(p),
            partitions: (0..rates.len())
                .filter(|&i| owner[i] == as_u32(p))
                .map(as_u32)
                .collect(),
            rate_per_s: load[p],
        })
        .collect();
    Ok(RatePlan {
        partitions: partitions_out,
        producers: producers_out,
    })
}

/// One message due from a producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// Since the producer's start.
    pub at: Duration,
    pub partition: u32,
    /// Sequence within the partition, from 1.
    pub seq: u64,
}

/// A producer's pacing: the k-th message (from 1) of a partition with rate r and phase φ ∈ [0, 1)
/// is due at (k − 1 + φ) / r seconds, so by time T a partition has had ⌊T·r − φ⌋ + 1 messages due,
/// within one of T·r forever. Messages come out in due order (ties: lower partition).
#[derive(Clone, Debug)]
pub struct Schedule {
    /// (partition, rate, phase, messages handed out)
    slots: Vec<(u32, f64, f64, u64)>,
    heap: BinaryHeap<Reverse<(u64, u32, usize)>>,
}

impl Schedule {
    /// The schedule of `share` with the plan's partition rates; phases drawn from `seed`.
    pub fn new(plan: &RatePlan, share: &ProducerShare, seed: u64) -> Self {
        let mut slots = Vec::new();
        for &partition in &share.partitions {
            let rate = plan
                .partitions
                .get(partition as usize)
                .map_or(0.0, |p| p.rate_per_s);
            if rate > 0.0 && rate.is_finite() {
                let phase = SplitMix64::derived(seed, u64::from(partition)).next_f64();
                slots.push((partition, rate, phase, 0));
            }
        }
        let mut schedule = Self {
            slots,
            heap: BinaryHeap::new(),
        };
        for slot in 0..schedule.slots.len() {
            schedule.push_next(slot);
        }
        schedule
    }

    fn push_next(&mut self, slot: usize) {
        let (partition, rate, phase, handed) = self.slots[slot];
        #[allow(
            clippy::cast_precision_loss,
            reason = "message counts stay far below 2^53"
        )]
        let secs = (handed as f64 + phase) / rate;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ns = (secs * 1e9).round().min(u64::MAX as f64) as u64;
        self.heap.push(Reverse((ns, partition, slot)));
    }
}

impl Iterator for Schedule {
    type Item = Due;

    fn next(&mut self) -> Option<Due> {
        let Reverse((ns, partition, slot)) = self.heap.pop()?;
        self.slots[slot].3 += 1;
        let seq = self.slots[slot].3;
        self.push_next(slot);
        Some(Due {
            at: Duration::from_nanos(ns),
            partition,
            seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(weights: &[i64]) -> Vec<Partition> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Partition::new([format!("partition-{i}")], w))
            .collect()
    }

    fn spec(rate: f64, producers: usize, skew: Skew) -> LoadSpec {
        LoadSpec {
            rate_per_s: rate,
            producers,
            skew,
            ..LoadSpec::default()
        }
    }

    #[test]
    fn rates_sum_to_the_total_for_every_skew() {
        let ps = parts(&[100, 50, 25, 300, 100, 7, 1]);
        for skew in [
            Skew::Even,
            Skew::ByWeight,
            Skew::Hot {
                partitions: 2,
                share: 0.8,
            },
        ] {
            let plan = plan(&spec(1500.0, 3, skew.clone()), &ps).expect("plan");
            let sum: f64 = plan.partitions.iter().map(|p| p.rate_per_s).sum();
            assert!((sum - 1500.0).abs() < 1e-9, "{skew:?}: {sum}");
            let by_producer: f64 = plan.producers.iter().map(|p| p.rate_per_s).sum();
            assert!((by_producer - 1500.0).abs() < 1e-9);
            // Every partition has exactly one producer.
            let mut owned: Vec<u32> = plan
                .producers
                .iter()
                .flat_map(|p| p.partitions.clone())
                .collect();
            owned.sort_unstable();
            assert_eq!(owned, (0..7).collect::<Vec<u32>>());
        }
    }

    #[test]
    fn by_weight_is_proportional() {
        let rates = partition_rates(1000.0, &Skew::ByWeight, &parts(&[100, 300, 600])).expect("ok");
        assert_eq!(rates, vec![100.0, 300.0, 600.0]);
        assert_eq!(
            partition_rates(10.0, &Skew::ByWeight, &parts(&[1, 0])),
            Err(PlanError::Weight {
                index: 1,
                weight: 0
            })
        );
    }

    #[test]
    fn hot_partitions_get_the_share() {
        let rates = partition_rates(
            1000.0,
            &Skew::Hot {
                partitions: 2,
                share: 0.5,
            },
            &parts(&[1; 10]),
        )
        .expect("ok");
        assert_eq!(rates[0] + rates[1], 500.0);
        assert_eq!(rates[0], rates[1]);
        assert!((rates[2..].iter().sum::<f64>() - 500.0).abs() < 1e-9);
        assert!(matches!(
            partition_rates(
                1.0,
                &Skew::Hot {
                    partitions: 3,
                    share: 0.5
                },
                &parts(&[1; 3])
            ),
            Err(PlanError::HotCoversAll { .. })
        ));
        assert_eq!(
            partition_rates(1.0, &Skew::Even, &[]),
            Err(PlanError::NoPartitions)
        );
    }

    #[test]
    fn hot_partitions_go_to_different_producers() {
        let plan = plan(
            &spec(
                1000.0,
                2,
                Skew::Hot {
                    partitions: 2,
                    share: 0.8,
                },
            ),
            &parts(&[1; 10]),
        )
        .expect("plan");
        assert_ne!(plan.partitions[0].producer, plan.partitions[1].producer);
        for share in &plan.producers {
            assert!((share.rate_per_s - 500.0).abs() < 1e-9, "{share:?}");
        }
    }

    #[test]
    fn schedule_hits_the_rate_exactly_without_drift() {
        let ps = parts(&[100, 300, 600, 1]);
        let plan = plan(&spec(997.0, 1, Skew::ByWeight), &ps).expect("plan");
        let share = &plan.producers[0];
        let horizon = Duration::from_secs(600);
        let mut counts = [0u64; 4];
        let mut last = Duration::ZERO;
        let mut total = 0u64;
        for due in Schedule::new(&plan, share, 7).take_while(|d| d.at <= horizon) {
            assert!(due.at >= last, "due times never go back");
            last = due.at;
            counts[due.partition as usize] += 1;
            assert_eq!(due.seq, counts[due.partition as usize], "contiguous from 1");
            total += 1;
        }
        // Within one message per partition of rate × time, after ten minutes.
        let expected = 997.0 * 600.0;
        #[allow(clippy::cast_precision_loss)]
        let diff = (total as f64 - expected).abs();
        assert!(diff <= 4.0, "total {total} vs {expected}");
        for (i, p) in plan.partitions.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let diff = (counts[i] as f64 - p.rate_per_s * 600.0).abs();
            assert!(
                diff <= 1.0,
                "partition {i}: {} vs {}",
                counts[i],
                p.rate_per_s * 600.0
            );
        }
    }

    #[test]
    fn schedule_is_reproducible_from_its_seed() {
        let ps = parts(&[1; 5]);
        let plan = plan(&spec(100.0, 1, Skew::Even), &ps).expect("plan");
        let a: Vec<Due> = Schedule::new(&plan, &plan.producers[0], 3)
            .take(50)
            .collect();
        let b: Vec<Due> = Schedule::new(&plan, &plan.producers[0], 3)
            .take(50)
            .collect();
        let c: Vec<Due> = Schedule::new(&plan, &plan.producers[0], 4)
            .take(50)
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
