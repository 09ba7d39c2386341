//! Chaos schedules: a profile's `Chaos(…)` step names how many faults, of which kinds, with
//! what gaps; [`expand`] turns it, with the profile's seed, into the plain steps that run
//! (fault, wait stable, restore the worker count, hold). The same seed gives the same steps, so
//! a chaos run is reproducible from its profile, and its recording replays like any other.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{NatsSetup, Profile, Step};
use crate::action::{NodeTarget, Rng, WorkerTarget};
use crate::parti::duration::{Human, serde_human};

/// One kind of fault a chaos schedule may pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// `kill -9`-like crash of a follower (its tasks aborted, its connection dropped).
    KillFollower,
    /// The same for the leader.
    KillLeader,
    /// `kill -9` of a whole host process (never the last one left).
    KillHost,
    /// SIGSTOP of a host for `pause`, then SIGCONT.
    PauseHost,
    /// A host's link to NATS cut for `cut`.
    CutLink,
    /// A host's link slowed by `slow_latency` for `slow`.
    SlowLink,
    /// The managed nats-server restarted (single server only).
    RestartNats,
    /// A node of the managed NATS cluster killed for `node_down` (cluster only).
    KillNatsNode,
    /// The node of the JetStream meta leader killed for `node_down` (cluster only).
    KillMetaLeader,
}

impl FaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::KillFollower,
        FaultKind::KillLeader,
        FaultKind::KillHost,
        FaultKind::PauseHost,
        FaultKind::CutLink,
        FaultKind::SlowLink,
        FaultKind::RestartNats,
        FaultKind::KillNatsNode,
        FaultKind::KillMetaLeader,
    ];

    /// Why this kind cannot run on `nats` with `hosts` hosts, if it cannot.
    pub fn unavailable(self, nats: &NatsSetup, hosts: u32) -> Option<String> {
        match self {
            FaultKind::KillHost if hosts < 2 => {
                Some("KillHost needs at least 2 hosts (the last host is never killed)".to_owned())
            }
            FaultKind::RestartNats if !matches!(nats, NatsSetup::Managed) => {
                Some("RestartNats needs a single managed nats-server".to_owned())
            }
            FaultKind::KillNatsNode | FaultKind::KillMetaLeader if !matches!(nats, NatsSetup::Cluster(n) if *n >= 3) => {
                Some(format!(
                    "{self:?} needs a managed NATS cluster of 3 or more nodes"
                ))
            }
            _ => None,
        }
    }
}

/// A seeded schedule of faults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosSpec {
    /// How many faults the schedule holds.
    pub faults: usize,
    /// The kinds to pick from, in rounds that each hold every kind once in a seeded order;
    /// empty means every kind the setup supports.
    #[serde(default)]
    pub kinds: Vec<FaultKind>,
    /// Quiet time after each fault has been recovered from: uniform in `[min_gap, max_gap]`.
    #[serde(with = "serde_human", default = "default_min_gap")]
    pub min_gap: Duration,
    #[serde(with = "serde_human", default = "default_max_gap")]
    pub max_gap: Duration,
    /// Recovery budget: the cluster must be stable this soon after each fault (and after each
    /// restore of the worker count), or the run fails.
    #[serde(with = "serde_human", default = "default_settle")]
    pub settle: Duration,
    /// How long a paused host stays frozen (longer than the TTLs makes a zombie).
    #[serde(with = "serde_human", default = "default_pause")]
    pub pause: Duration,
    /// How long a cut link stays cut.
    #[serde(with = "serde_human", default = "default_cut")]
    pub cut: Duration,
    /// Latency added to a slowed link, and for how long.
    #[serde(with = "serde_human", default = "default_slow_latency")]
    pub slow_latency: Duration,
    #[serde(with = "serde_human", default = "default_slow")]
    pub slow: Duration,
    /// How long a killed NATS node stays down before it restarts.
    #[serde(with = "serde_human", default = "default_node_down")]
    pub node_down: Duration,
}

fn default_min_gap() -> Duration {
    Duration::from_secs(10)
}
fn default_max_gap() -> Duration {
    Duration::from_secs(20)
}
fn default_settle() -> Duration {
    Duration::from_secs(60)
}
fn default_pause() -> Duration {
    Duration::from_secs(8)
}
fn default_cut() -> Duration {
    Duration::from_secs(8)
}
fn default_slow_latency() -> Duration {
    Duration::from_millis(50)
}
fn default_slow() -> Duration {
    Duration::from_secs(5)
}
fn default_node_down() -> Duration {
    Duration::from_secs(5)
}

/// What a schedule is expanded against: the setup and the worker count before the chaos step.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub nats: &'a NatsSetup,
    pub hosts: u32,
    /// Workers running when the chaos step starts; every kill is followed by a scale back to it.
    pub workers: usize,
    pub seed: u64,
}

impl ChaosSpec {
    /// Every broken rule of the spec on this setup, as `(field, message)`.
    pub fn problems(&self, nats: &NatsSetup, hosts: u32, workers: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.faults == 0 {
            out.push(("faults".to_owned(), "must be at least 1".to_owned()));
        }
        if self.min_gap > self.max_gap {
            out.push((
                "min_gap".to_owned(),
                format!(
                    "{} is longer than max_gap ({})",
                    Human(self.min_gap),
                    Human(self.max_gap)
                ),
            ));
        }
        for (field, value) in [
            ("settle", self.settle),
            ("pause", self.pause),
            ("cut", self.cut),
            ("slow", self.slow),
            ("node_down", self.node_down),
        ] {
            if value.is_zero() {
                out.push((field.to_owned(), "must be greater than 0".to_owned()));
            }
        }
        for kind in &self.kinds {
            if let Some(why) = kind.unavailable(nats, hosts) {
                out.push(("kinds".to_owned(), why));
            }
        }
        if self.kinds.is_empty() && self.available(nats, hosts).is_empty() {
            out.push((
                "kinds".to_owned(),
                "no fault kind runs on this setup".to_owned(),
            ));
        }
        if workers < 2 {
            out.push((
                "faults".to_owned(),
                format!(
                    "chaos needs at least 2 running workers before it (a ScaleTo), found {workers}"
                ),
            ));
        }
        out
    }

    /// The kinds the schedule picks from on this setup.
    fn available(&self, nats: &NatsSetup, hosts: u32) -> Vec<FaultKind> {
        let wanted: &[FaultKind] = if self.kinds.is_empty() {
            &FaultKind::ALL
        } else {
            &self.kinds
        };
        wanted
            .iter()
            .copied()
            .filter(|k| k.unavailable(nats, hosts).is_none())
            .collect()
    }
}

/// The steps a chaos spec stands for. Pure: the same spec and context give the same steps.
pub fn expand(spec: &ChaosSpec, context: &Context<'_>) -> Vec<Step> {
    let kinds = spec.available(context.nats, context.hosts);
    if kinds.is_empty() {
        return Vec::new();
    }
    let mut rng = Rng::new(context.seed ^ 0xc4a0_5eed);
    let mut live_hosts: Vec<u32> = (0..context.hosts).collect();
    let wait = Step::WaitStable {
        timeout: spec.settle,
    };
    let restore = Step::ScaleTo(context.workers);
    let mut steps = Vec::new();
    // Kinds come in rounds, each a seeded shuffle of every available kind: a schedule of at
    // least as many faults as kinds has every kind.
    let mut round: Vec<FaultKind> = Vec::new();
    for _ in 0..spec.faults {
        if round.is_empty() {
            round = kinds.clone();
            for i in (1..round.len()).rev() {
                round.swap(i, rng.below(i + 1));
            }
        }
        let mut kind = round.pop().unwrap_or(kinds[0]);
        if kind == FaultKind::KillHost && live_hosts.len() < 2 {
            // The last host is never killed: take the next kind in the list instead.
            let others: Vec<FaultKind> = kinds
                .iter()
                .copied()
                .filter(|k| *k != FaultKind::KillHost)
                .collect();
            if others.is_empty() {
                break;
            }
            kind = others[rng.below(others.len())];
        }
        let host = live_hosts[rng.below(live_hosts.len())];
        let (fault, kills) = match kind {
            FaultKind::KillFollower => (Step::KillWorker(WorkerTarget::AnyFollower), true),
            FaultKind::KillLeader => (Step::KillLeader, true),
            FaultKind::KillHost => {
                live_hosts.retain(|h| *h != host);
                (Step::KillHost(host), true)
            }
            FaultKind::PauseHost => (
                Step::PauseHost {
                    host,
                    duration: spec.pause,
                },
                false,
            ),
            FaultKind::CutLink => (
                Step::CutLink {
                    host,
                    duration: spec.cut,
                },
                false,
            ),
            FaultKind::SlowLink => (
                Step::SlowLink {
                    host,
                    latency: spec.slow_latency,
                    bandwidth: None,
                    duration: spec.slow,
                },
                false,
            ),
            FaultKind::RestartNats => (Step::RestartNats, false),
            FaultKind::KillNatsNode => {
                let nodes = context.nats.nodes().max(1);
                (
                    Step::KillNatsNode {
                        node: NodeTarget::Index(rng.below(nodes)),
                        down: spec.node_down,
                    },
                    false,
                )
            }
            FaultKind::KillMetaLeader => (
                Step::KillNatsNode {
                    node: NodeTarget::MetaLeader,
                    down: spec.node_down,
                },
                false,
            ),
        };
        steps.push(fault);
        steps.push(wait.clone());
        if kills {
            steps.push(restore.clone());
            steps.push(wait.clone());
        }
        steps.push(Step::Hold(gap(spec, &mut rng)));
    }
    steps
}

/// The worker count the steps before `index` lead to (kills are restored by the chaos steps
/// themselves; a host kill is counted as no change, as the schedule restores it).
pub fn workers_before(steps: &[Step], index: usize) -> usize {
    let mut workers = 0usize;
    for step in &steps[..index.min(steps.len())] {
        match step {
            Step::ScaleTo(n) => workers = *n,
            Step::AddWorkers(n) => workers = workers.saturating_add(*n),
            Step::RemoveWorkers(n) => workers = workers.saturating_sub(*n),
            Step::KillWorker(_) | Step::StopWorker(_) | Step::KillLeader => {
                workers = workers.saturating_sub(1);
            }
            _ => {}
        }
    }
    workers
}

/// Replace every `Chaos` step of a validated profile with the steps it stands for. Each
/// schedule is seeded by the profile's seed and its place, so two chaos steps differ.
pub fn expand_all(profile: &mut Profile) {
    if !profile.steps.iter().any(|s| matches!(s, Step::Chaos(_))) {
        return;
    }
    let mut out = Vec::with_capacity(profile.steps.len());
    for (index, step) in profile.steps.iter().enumerate() {
        let Step::Chaos(spec) = step else {
            out.push(step.clone());
            continue;
        };
        let context = Context {
            nats: &profile.nats,
            hosts: profile.cluster.hosts,
            workers: workers_before(&out, out.len()),
            seed: profile.seed.wrapping_add(index as u64),
        };
        out.extend(expand(spec, &context));
    }
    profile.steps = out;
}

/// A gap uniform in `[min_gap, max_gap]`, to the millisecond.
fn gap(spec: &ChaosSpec, rng: &mut Rng) -> Duration {
    let min_ms = u64::try_from(spec.min_gap.as_millis()).unwrap_or(u64::MAX);
    let max_ms = u64::try_from(spec.max_gap.as_millis()).unwrap_or(u64::MAX);
    let span = max_ms.saturating_sub(min_ms);
    let offset = if span == 0 {
        0
    } else {
        rng.next_u64() % (span + 1)
    };
    Duration::from_millis(min_ms + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(faults: usize) -> ChaosSpec {
        ron::from_str(&format!("(faults: {faults})")).expect("spec")
    }

    fn context(nats: &NatsSetup, hosts: u32, seed: u64) -> Context<'_> {
        Context {
            nats,
            hosts,
            workers: 10,
            seed,
        }
    }

    fn faults(steps: &[Step]) -> Vec<&Step> {
        steps
            .iter()
            .filter(|s| {
                !matches!(
                    s,
                    Step::WaitStable { .. } | Step::Hold(_) | Step::ScaleTo(_)
                )
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let nats = NatsSetup::Managed;
        let a = expand(&spec(12), &context(&nats, 3, 7));
        assert_eq!(a, expand(&spec(12), &context(&nats, 3, 7)));
        assert_ne!(a, expand(&spec(12), &context(&nats, 3, 8)));
        assert_eq!(faults(&a).len(), 12);
    }

    #[test]
    fn every_fault_is_followed_by_a_wait_and_kills_by_a_restore() {
        let nats = NatsSetup::Managed;
        let steps = expand(&spec(30), &context(&nats, 3, 1));
        for (i, step) in steps.iter().enumerate() {
            let kills = matches!(
                step,
                Step::KillWorker(_) | Step::KillLeader | Step::KillHost(_)
            );
            if faults(std::slice::from_ref(step)).is_empty() {
                continue;
            }
            assert!(matches!(steps[i + 1], Step::WaitStable { .. }), "{steps:?}");
            if kills {
                assert_eq!(steps[i + 2], Step::ScaleTo(10));
                assert!(matches!(steps[i + 3], Step::WaitStable { .. }));
            }
        }
    }

    #[test]
    fn gaps_stay_within_bounds_and_spread() {
        let nats = NatsSetup::Managed;
        let steps = expand(&spec(200), &context(&nats, 2, 3));
        let gaps: Vec<Duration> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Hold(d) => Some(*d),
                _ => None,
            })
            .collect();
        assert_eq!(gaps.len(), 200);
        assert!(gaps.iter().all(|g| (10..=20).contains(&g.as_secs())));
        assert!(gaps.iter().any(|g| g.as_secs() < 12) && gaps.iter().any(|g| g.as_secs() >= 18));
    }

    #[test]
    fn the_last_host_is_never_killed_and_killed_hosts_are_not_targeted_again() {
        let nats = NatsSetup::Managed;
        let mut only_hosts = spec(40);
        only_hosts.kinds = vec![FaultKind::KillHost, FaultKind::PauseHost];
        let steps = expand(&only_hosts, &context(&nats, 3, 5));
        let killed: Vec<u32> = steps
            .iter()
            .filter_map(|s| match s {
                Step::KillHost(h) => Some(*h),
                _ => None,
            })
            .collect();
        assert_eq!(killed.len(), 2, "{killed:?}");
        for (i, step) in steps.iter().enumerate() {
            if let Step::PauseHost { host, .. } = step {
                let dead_before = steps[..i].contains(&Step::KillHost(*host));
                assert!(!dead_before, "host {host} paused after it was killed");
            }
        }
    }

    #[test]
    fn kinds_that_need_another_setup_are_left_out_or_refused() {
        let single = NatsSetup::Managed;
        let steps = expand(&spec(60), &context(&single, 2, 9));
        assert!(!steps.iter().any(|s| matches!(s, Step::KillNatsNode { .. })));
        assert!(steps.iter().any(|s| matches!(s, Step::RestartNats)));
        let cluster = NatsSetup::Cluster(3);
        let steps = expand(&spec(60), &context(&cluster, 2, 9));
        assert!(steps.iter().any(|s| matches!(s, Step::KillNatsNode { .. })));
        assert!(!steps.iter().any(|s| matches!(s, Step::RestartNats)));

        let mut asked = spec(3);
        asked.kinds = vec![FaultKind::KillMetaLeader];
        let problems = asked.problems(&single, 1, 10);
        assert!(
            problems
                .iter()
                .any(|(f, m)| f == "kinds" && m.contains("cluster")),
            "{problems:?}"
        );
        let mut gaps = spec(3);
        gaps.min_gap = Duration::from_secs(30);
        assert!(
            gaps.problems(&single, 1, 10)
                .iter()
                .any(|(f, _)| f == "min_gap")
        );
        assert!(
            spec(3)
                .problems(&single, 1, 1)
                .iter()
                .any(|(f, _)| f == "faults")
        );
    }

    #[test]
    fn a_schedule_as_long_as_the_kinds_has_every_kind() {
        let single = NatsSetup::Managed;
        for seed in 0..20 {
            let steps = expand(&spec(7), &context(&single, 3, seed));
            let has = |pred: &dyn Fn(&Step) -> bool| steps.iter().any(pred);
            assert!(has(&|s| matches!(
                s,
                Step::KillWorker(WorkerTarget::AnyFollower)
            )));
            assert!(has(&|s| matches!(s, Step::KillLeader)));
            assert!(has(&|s| matches!(s, Step::KillHost(_))));
            assert!(has(&|s| matches!(s, Step::PauseHost { .. })));
            assert!(has(&|s| matches!(s, Step::CutLink { .. })));
            assert!(has(&|s| matches!(s, Step::SlowLink { .. })));
            assert!(has(&|s| matches!(s, Step::RestartNats)), "seed {seed}");
        }
    }

    #[test]
    fn every_kind_appears_in_a_long_schedule() {
        let cluster = NatsSetup::Cluster(3);
        let steps = expand(&spec(200), &context(&cluster, 8, 11));
        let has = |pred: fn(&Step) -> bool| steps.iter().any(pred);
        assert!(has(|s| matches!(
            s,
            Step::KillWorker(WorkerTarget::AnyFollower)
        )));
        assert!(has(|s| matches!(s, Step::KillLeader)));
        assert!(has(|s| matches!(s, Step::KillHost(_))));
        assert!(has(|s| matches!(s, Step::PauseHost { .. })));
        assert!(has(|s| matches!(s, Step::CutLink { .. })));
        assert!(has(|s| matches!(s, Step::SlowLink { .. })));
        assert!(has(|s| matches!(
            s,
            Step::KillNatsNode {
                node: NodeTarget::MetaLeader,
                ..
            }
        )));
        assert!(has(|s| matches!(
            s,
            Step::KillNatsNode {
                node: NodeTarget::Index(_),
                ..
            }
        )));
    }
}
