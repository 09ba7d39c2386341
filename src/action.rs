//! Actions: the one command type for everything that changes a running cluster. A profile step
//! and an operator's key press produce the same [`Action`], so the controller, the recorder and
//! the checks cannot tell scripted from manual control, and a recorded session replays. [`Rng`]
//! makes every random choice of a run (a target, a chaos schedule) from the profile's seed.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::parti::duration::{Human, serde_human};

/// Which worker an action targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerTarget {
    /// The current leader (read from KV at the moment of the action).
    Leader,
    /// A follower chosen by the run's seeded random generator.
    AnyFollower,
    /// Any worker chosen by the seeded random generator.
    Any,
    /// A worker by its stable ID, e.g. `worker-3`.
    Id(String),
}

impl fmt::Display for WorkerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerTarget::Leader => f.write_str("the leader"),
            WorkerTarget::AnyFollower => f.write_str("a follower"),
            WorkerTarget::Any => f.write_str("a worker"),
            WorkerTarget::Id(id) => f.write_str(id),
        }
    }
}

/// Which node of a managed NATS cluster an action targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeTarget {
    /// Node `i` (`n0`, `n1`, …).
    Index(usize),
    /// The node the JetStream meta leader sits on (read at the moment of the action).
    MetaLeader,
}

impl fmt::Display for NodeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeTarget::Index(i) => write!(f, "nats node {i}"),
            NodeTarget::MetaLeader => f.write_str("the nats meta leader"),
        }
    }
}

/// A change to the running cluster (or a note in the timeline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Start or gracefully stop workers until `n` run (spread over the hosts).
    ScaleTo(usize),
    /// Start `n` more workers.
    AddWorkers(usize),
    /// Gracefully stop the `n` newest workers.
    RemoveWorkers(usize),
    /// Crash a worker: abort its tasks and drop its connection, no cleanup.
    KillWorker(WorkerTarget),
    /// Gracefully stop one worker.
    StopWorker(WorkerTarget),
    /// `kill -9` a whole host process.
    KillHost(u32),
    /// Freeze a host process (SIGSTOP) for a while, then resume it (SIGCONT).
    PauseHost {
        host: u32,
        #[serde(with = "serde_human")]
        duration: Duration,
    },
    /// Restart the managed nats-server, keeping its store.
    RestartNats,
    /// `kill -9` the host process that runs the target worker (e.g. the leader's host).
    KillHostOf(WorkerTarget),
    /// Cut one host's link to NATS (through its fault proxy) for a while, then restore it.
    CutLink {
        host: u32,
        #[serde(with = "serde_human")]
        duration: Duration,
    },
    /// Slow one host's link for a while: added one-way latency and an optional bandwidth cap.
    SlowLink {
        host: u32,
        #[serde(with = "serde_human")]
        latency: Duration,
        #[serde(default)]
        bandwidth_bytes_per_s: Option<u64>,
        #[serde(with = "serde_human")]
        duration: Duration,
    },
    /// `kill -9` one node of the managed NATS cluster, and restart it (same store) after `down`.
    KillNatsNode {
        node: NodeTarget,
        #[serde(with = "serde_human")]
        down: Duration,
    },
    /// A named moment in the timeline.
    Mark(String),
    /// Not asked for: something the cluster did on its own (a worker ended, a host exited),
    /// measured like an action. Never produced by a key or a profile step.
    Observed(String),
}

impl Action {
    /// Whether the action disturbs the cluster (and so opens a measured event).
    pub fn is_event(&self) -> bool {
        !matches!(self, Action::Mark(_))
    }

    /// A fault that clears by itself after a while (the cluster is frozen or cut off until
    /// then), so its event is measured from the clearance.
    pub fn clears_later(&self) -> bool {
        matches!(
            self,
            Action::PauseHost { .. }
                | Action::RestartNats
                | Action::CutLink { .. }
                | Action::SlowLink { .. }
                | Action::KillNatsNode { .. }
        )
    }

    /// A short label for charts and tables, e.g. `scale→5`, `kill leader`.
    pub fn label(&self) -> String {
        match self {
            Action::ScaleTo(n) => format!("scale→{n}"),
            Action::AddWorkers(n) => format!("+{n}"),
            Action::RemoveWorkers(n) => format!("-{n}"),
            Action::KillWorker(WorkerTarget::Leader) => "kill leader".into(),
            Action::KillWorker(target) => format!("kill {target}"),
            Action::StopWorker(target) => format!("stop {target}"),
            Action::KillHost(host) => format!("kill host {host}"),
            Action::PauseHost { host, duration } => {
                format!("pause host {host} {}", Human(*duration))
            }
            Action::RestartNats => "restart nats".into(),
            Action::KillHostOf(WorkerTarget::Leader) => "kill leader's host".into(),
            Action::KillHostOf(target) => format!("kill host of {target}"),
            Action::CutLink { host, duration } => {
                format!("cut host {host} {}", Human(*duration))
            }
            Action::SlowLink {
                host,
                latency,
                bandwidth_bytes_per_s,
                duration,
            } => {
                let cap = bandwidth_bytes_per_s
                    .map(|b| format!(" {}KiB/s", b / 1024))
                    .unwrap_or_default();
                format!(
                    "slow host {host} +{}{cap} {}",
                    Human(*latency),
                    Human(*duration)
                )
            }
            Action::KillNatsNode {
                node: NodeTarget::MetaLeader,
                down,
            } => format!("kill meta leader {}", Human(*down)),
            Action::KillNatsNode {
                node: NodeTarget::Index(i),
                down,
            } => format!("kill nats {i} {}", Human(*down)),
            Action::Mark(label) => format!("mark {label}"),
            Action::Observed(what) => what.clone(),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// A small seeded generator (splitmix64), so a run's random choices can be replayed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// An index below `len` (0 when `len` is 0).
    pub fn below(&mut self, len: usize) -> usize {
        if len == 0 {
            0
        } else {
            usize::try_from(self.next_u64() % len as u64).unwrap_or(0)
        }
    }
}

/// Who asked for an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionSource {
    /// A key press in the TUI.
    Operator,
    /// Step `index` of the running profile.
    Profile { step: usize },
    /// Replaying a recording's timeline.
    Replay,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_and_name_the_target() {
        assert_eq!(Action::ScaleTo(5).label(), "scale→5");
        assert_eq!(
            Action::KillWorker(WorkerTarget::Leader).label(),
            "kill leader"
        );
        assert_eq!(
            Action::KillWorker(WorkerTarget::Id("worker-3".into())).label(),
            "kill worker-3"
        );
        assert_eq!(
            Action::PauseHost {
                host: 1,
                duration: Duration::from_millis(1500)
            }
            .label(),
            "pause host 1 1.5s"
        );
        assert!(!Action::Mark("x".into()).is_event());
        assert!(Action::RestartNats.is_event());
    }

    #[test]
    fn the_generator_is_seeded_and_spread() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let first: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first[0], Rng::new(43).next_u64());
        let mut counts = [0usize; 4];
        let mut rng = Rng::new(7);
        for _ in 0..4000 {
            counts[rng.below(4)] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }

    #[test]
    fn actions_round_trip_through_ron() {
        let actions = vec![
            Action::ScaleTo(3),
            Action::KillWorker(WorkerTarget::Id("worker-1".into())),
            Action::PauseHost {
                host: 0,
                duration: Duration::from_secs(2),
            },
            Action::Mark("after".into()),
        ];
        let text = ron::to_string(&actions).expect("serialize");
        assert!(text.contains("PauseHost(host:0,duration:\"2s\")"), "{text}");
        let back: Vec<Action> = ron::from_str(&text).expect("parse");
        assert_eq!(back, actions);
    }
}
