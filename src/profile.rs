//! Profiles (`profiles/*.ron`, DESIGN.md §5): a scripted run as data. This file holds the
//! schema; [`load`] parses and validates with errors that carry `file:line:col`; [`overrides`]
//! applies the command line's cluster flags (`--workers`, `--partitions`, …).

pub mod chaos;
pub mod load;
pub mod overrides;
pub mod size;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::action::{Action, NodeTarget, WorkerTarget};
use crate::parti::config::{Timing, TimingPreset};
use crate::parti::duration::{Human, serde_human};
use crate::parti::partition::Partition;
use crate::parti::strategy::StrategyConfig;

pub use chaos::ChaosSpec;
pub use load::{ProfileError, load, parse};
pub use overrides::Overrides;
pub use size::ByteSize;

/// A scripted run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub nats: NatsSetup,
    pub cluster: ClusterSetup,
    /// Message load through the partitions, with its ledger (docs/load.md); none when unset.
    #[serde(default)]
    pub load: Option<crate::load::spec::LoadSpec>,
    /// How often hosts report and the controller samples memory.
    #[serde(default = "default_sample_interval", with = "serde_human")]
    pub sample_interval: Duration,
    /// An event counts as quiescent once no new version has appeared for this long.
    #[serde(default = "default_quiet_period", with = "serde_human")]
    pub quiet_period: Duration,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub baseline: Option<BaselineSpec>,
    /// How many times the steps run (each repeat on a fresh cluster).
    #[serde(default = "one")]
    pub repeats: u32,
    /// Seeds every random choice of the run (which follower to kill, …).
    #[serde(default)]
    pub seed: u64,
}

impl Profile {
    /// The steps a run reports progress for: every repeat's.
    pub fn total_steps(&self) -> usize {
        self.steps.len() * self.repeats as usize
    }

    /// The step a run's step index names (repeats go on counting: index `r * steps.len() + i`
    /// is step `i` of repeat `r`).
    pub fn step_at(&self, index: usize) -> Option<&Step> {
        if self.steps.is_empty() {
            return None;
        }
        self.steps.get(index % self.steps.len())
    }
}

fn default_sample_interval() -> Duration {
    Duration::from_millis(500)
}

fn default_quiet_period() -> Duration {
    Duration::from_secs(2)
}

fn one() -> u32 {
    1
}

/// Where the NATS server comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NatsSetup {
    /// A managed nats-server child (random port, temp store, generated credentials).
    #[default]
    Managed,
    /// An existing server; credentials come from the usual flags and variables.
    External { url: String },
    /// A managed cluster of `n` nats-servers (routes between them, JetStream on each); the
    /// buckets and the work stream get `min(n, 3)` replicas, and hosts get every node's URL.
    Cluster(usize),
}

impl NatsSetup {
    /// Whether parti-top starts (and so can kill and restart) the server(s).
    pub fn is_managed(&self) -> bool {
        !matches!(self, NatsSetup::External { .. })
    }

    /// How many managed servers run (0 for an external one).
    pub fn nodes(&self) -> usize {
        match self {
            NatsSetup::Managed => 1,
            NatsSetup::External { .. } => 0,
            NatsSetup::Cluster(n) => *n,
        }
    }
}

/// The cluster under test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSetup {
    pub partitions: PartitionsSetup,
    #[serde(default)]
    pub strategy: StrategyConfig,
    #[serde(default)]
    pub timing: TimingSetup,
    #[serde(default)]
    pub start_mode: StartMode,
    /// One NATS connection per worker (the default) or one per host.
    #[serde(default)]
    pub connection: crate::control::ConnectionMode,
    /// Host processes; workers are spread over them evenly.
    #[serde(default = "one")]
    pub hosts: u32,
    #[serde(default = "default_prefix")]
    pub worker_id_prefix: String,
    #[serde(default)]
    pub worker_id_min: u32,
    #[serde(default = "default_id_max")]
    pub worker_id_max: u32,
}

fn default_prefix() -> String {
    "worker".into()
}

fn default_id_max() -> u32 {
    99
}

/// The partition list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PartitionsSetup {
    /// `n` single-key partitions `partition-0` … `partition-<n-1>`, weight 100.
    Count(usize),
    /// An explicit list with weights.
    List(Vec<Partition>),
}

impl PartitionsSetup {
    pub fn partitions(&self) -> Vec<Partition> {
        match self {
            PartitionsSetup::Count(n) => crate::parti::source::numbered_partitions(*n),
            PartitionsSetup::List(list) => list.clone(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            PartitionsSetup::Count(n) => *n,
            PartitionsSetup::List(list) => list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Timing: a preset or explicit durations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TimingSetup {
    Preset(TimingPreset),
    Explicit(Timing),
}

impl Default for TimingSetup {
    fn default() -> Self {
        TimingSetup::Preset(TimingPreset::Fast)
    }
}

impl TimingSetup {
    pub fn timing(&self) -> Timing {
        match self {
            TimingSetup::Preset(preset) => preset.timing(),
            TimingSetup::Explicit(timing) => timing.clone(),
        }
    }
}

/// How new workers start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartMode {
    /// All at once, as separate deployments would.
    #[default]
    Parallel,
    /// One at a time, each after the previous one is Stable (parti's Go harness behaviour).
    Serial,
}

/// One step of a profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Step {
    ScaleTo(usize),
    AddWorkers(usize),
    RemoveWorkers(usize),
    KillWorker(WorkerTarget),
    StopWorker(WorkerTarget),
    KillLeader,
    KillHost(u32),
    PauseHost {
        host: u32,
        #[serde(with = "serde_human")]
        duration: Duration,
    },
    RestartNats,
    /// `kill -9` the host process of a worker (`KillHostOf(Leader)`: the leader's host).
    KillHostOf(WorkerTarget),
    /// Cut a host's link to NATS for `duration` (its fault proxy resets every connection and
    /// refuses new ones), then restore it.
    CutLink {
        host: u32,
        #[serde(with = "serde_human")]
        duration: Duration,
    },
    /// Add latency (and optionally a bandwidth cap) to a host's link for `duration`.
    SlowLink {
        host: u32,
        #[serde(with = "serde_human")]
        latency: Duration,
        #[serde(default)]
        bandwidth: Option<ByteSize>,
        #[serde(with = "serde_human")]
        duration: Duration,
    },
    /// `kill -9` a node of the managed NATS cluster and restart it after `down`.
    KillNatsNode {
        node: NodeTarget,
        #[serde(with = "serde_human")]
        down: Duration,
    },
    /// A seeded schedule of faults, expanded into the steps above when the profile loads.
    Chaos(ChaosSpec),
    Mark(String),
    /// Wait until the cluster is stable; fail the run if it is not within `timeout`.
    WaitStable {
        #[serde(with = "serde_human")]
        timeout: Duration,
    },
    /// Let time pass.
    Hold(#[serde(with = "serde_human")] Duration),
}

impl Step {
    /// The action a step performs, if it performs one.
    pub fn action(&self) -> Option<Action> {
        Some(match self {
            Step::ScaleTo(n) => Action::ScaleTo(*n),
            Step::AddWorkers(n) => Action::AddWorkers(*n),
            Step::RemoveWorkers(n) => Action::RemoveWorkers(*n),
            Step::KillWorker(target) => Action::KillWorker(target.clone()),
            Step::StopWorker(target) => Action::StopWorker(target.clone()),
            Step::KillLeader => Action::KillWorker(WorkerTarget::Leader),
            Step::KillHost(host) => Action::KillHost(*host),
            Step::PauseHost { host, duration } => Action::PauseHost {
                host: *host,
                duration: *duration,
            },
            Step::RestartNats => Action::RestartNats,
            Step::KillHostOf(target) => Action::KillHostOf(target.clone()),
            Step::CutLink { host, duration } => Action::CutLink {
                host: *host,
                duration: *duration,
            },
            Step::SlowLink {
                host,
                latency,
                bandwidth,
                duration,
            } => Action::SlowLink {
                host: *host,
                latency: *latency,
                bandwidth_bytes_per_s: bandwidth.map(|b| b.0),
                duration: *duration,
            },
            Step::KillNatsNode { node, down } => Action::KillNatsNode {
                node: node.clone(),
                down: *down,
            },
            Step::Mark(label) => Action::Mark(label.clone()),
            Step::WaitStable { .. } | Step::Hold(_) | Step::Chaos(_) => return None,
        })
    }

    /// A short label for progress lines.
    pub fn label(&self) -> String {
        match self {
            Step::WaitStable { timeout } => format!("wait stable (≤{})", Human(*timeout)),
            Step::Hold(duration) => format!("hold {}", Human(*duration)),
            Step::Chaos(spec) => format!("chaos ({} faults)", spec.faults),
            other => other.action().map(|a| a.label()).unwrap_or_default(),
        }
    }
}

/// Limits that fail the run (exit 1) when exceeded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Highest RSS any host may reach.
    pub peak_rss_per_host: Option<ByteSize>,
    /// Highest live heap any host may reach.
    pub peak_live_heap_per_host: Option<ByteSize>,
    /// Highest tokio alive-task count any host may reach.
    pub peak_tasks_per_host: Option<u64>,
    /// Longest stabilization time any event may take.
    #[serde(with = "crate::parti::duration::serde_human_opt")]
    pub stabilization: Option<Duration>,
    /// Findings (invariant violations) allowed; 0 when unset.
    pub max_findings: Option<u64>,
    /// Most a host's RSS may grow over a `Hold` (last-quarter mean minus first-quarter mean).
    pub drift_rss_per_host: Option<ByteSize>,
    /// Most a host's live heap may grow over a `Hold`, measured the same way.
    pub drift_live_heap_per_host: Option<ByteSize>,
    /// Most a host's tokio task count may grow over a `Hold`, measured the same way.
    pub drift_tasks_per_host: Option<u64>,
    /// Messages sent and never acked after the drain (with message load); 0 when unset.
    pub max_lost: Option<u64>,
    /// Messages acked more than once; 0 when unset.
    pub max_duplicates: Option<u64>,
    /// Acks by a worker of a partition it no longer owned (the zombie check); 0 when unset.
    pub max_zombie_acks: Option<u64>,
    /// End-to-end latency (publish to ack), 99th percentile over the run.
    #[serde(with = "crate::parti::duration::serde_human_opt")]
    pub p99_latency: Option<Duration>,
}

/// A stored recording to compare with, and how much worse is still acceptable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    /// Relative to the profile's directory.
    pub recording: PathBuf,
    #[serde(default)]
    pub tolerances: Tolerances,
}

/// Per-metric tolerances: a regression is worse than the baseline by more than `relative`
/// **and** by more than the absolute floor (so tiny numbers do not flap).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tolerances {
    /// Memory (RSS, live heap): parti's practice is +10 %.
    pub memory_relative: f64,
    pub memory_floor: ByteSize,
    /// Durations (stabilization, quiescence): parti's practice is +50 %.
    pub duration_relative: f64,
    #[serde(with = "serde_human")]
    pub duration_floor: Duration,
    /// Task counts.
    pub tasks_relative: f64,
    pub tasks_floor: u64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            memory_relative: 0.10,
            memory_floor: ByteSize(2 * 1024 * 1024),
            duration_relative: 0.50,
            duration_floor: Duration::from_millis(200),
            tasks_relative: 0.10,
            tasks_floor: 10,
        }
    }
}
