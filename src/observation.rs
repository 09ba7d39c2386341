//! The observation stream: everything a run produces, as plain values. One broadcast of
//! [`Observation`]s feeds every consumer (the TUI, the headless progress printer, the recorder,
//! the scenario runner). Times are milliseconds since the run started (`t_ms`); wall-clock time
//! appears only in the recording's header.

use serde::{Deserialize, Serialize};

use crate::action::{Action, ActionSource};
use crate::parti::state::State;

/// A measured process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProcessKind {
    /// A `parti-top host` process, by host number.
    Host(u32),
    /// The managed nats-server.
    NatsServer,
    /// parti-top's controller itself (its overhead, never part of the cluster's figures).
    Controller,
}

impl std::fmt::Display for ProcessKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessKind::Host(n) => write!(f, "host {n}"),
            ProcessKind::NatsServer => f.write_str("nats-server"),
            ProcessKind::Controller => f.write_str("parti-top"),
        }
    }
}

/// One process at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessSample {
    pub process: ProcessKind,
    pub pid: u32,
    /// Resident set size from `/proc/<pid>/statm`, read by the controller.
    pub rss_bytes: u64,
    /// Allocator-reported live heap (hosts and the controller only).
    pub live_heap_bytes: Option<u64>,
    /// tokio alive tasks (hosts only).
    pub tasks: Option<u64>,
    /// Workers running in the process (hosts only).
    pub workers: Option<u32>,
    /// CPU used since the previous sample, in percent of one core.
    pub cpu_percent: Option<f64>,
}

/// One sampling tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t_ms: u64,
    pub processes: Vec<ProcessSample>,
    /// The message load's counters at this tick, when the run has load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadPoint>,
}

/// The message load's running totals at one sample (rates come from the difference of two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadPoint {
    /// Messages stored by the stream so far.
    pub sent: u64,
    /// Messages acked at least once so far.
    pub acked: u64,
    /// Sent and not acked yet (the lag behind the producers).
    pub lag: u64,
    /// Deliveries nak'd by the fence, redeliveries and duplicates so far.
    pub fenced: u64,
    pub redelivered: u64,
    pub duplicated: u64,
}

/// One worker as the hosts report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    pub host: u32,
    pub slot: u64,
    pub worker_id: Option<String>,
    pub state: State,
    pub is_leader: bool,
    pub version: i64,
    pub partitions: usize,
}

/// What happened to a worker or the infrastructure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClusterEventKind {
    WorkerStarted,
    StateChanged {
        from: State,
        to: State,
    },
    IdClaimed,
    IdLost {
        reclaimed: bool,
    },
    Leadership {
        is_leader: bool,
    },
    AssignmentApplied {
        version: i64,
        initial: bool,
        total: usize,
        added: usize,
        removed: usize,
    },
    Published {
        version: i64,
        lifecycle: String,
        workers: usize,
        partitions: usize,
    },
    /// The worker's task ended: `how` is `stopped`, `killed` or the error that ended it.
    WorkerEnded {
        how: String,
    },
    Warning {
        message: String,
    },
    /// A host process exited (or stopped answering).
    HostLost {
        how: String,
    },
    /// nats-server went down, came back or was restarted.
    Nats {
        up: bool,
        detail: String,
    },
}

/// A timestamped cluster event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterEvent {
    pub t_ms: u64,
    pub host: Option<u32>,
    pub slot: Option<u64>,
    pub worker_id: Option<String>,
    pub kind: ClusterEventKind,
}

/// The invariant a finding is about (DESIGN.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Check {
    /// Exactly one owner per partition once stable.
    SingleOwner,
    /// At most one leader.
    SingleLeader,
    /// Versions never decrease.
    MonotonicVersions,
    /// Stable IDs are unique among live workers.
    UniqueIds,
    /// No assignment to a dead worker after stabilization.
    NoDeadOwner,
    /// An event did not stabilize within its limit.
    Stabilization,
    /// Infrastructure: a host or nats-server died unexpectedly.
    Infrastructure,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::SingleOwner => "single-owner",
            Check::SingleLeader => "single-leader",
            Check::MonotonicVersions => "monotonic-versions",
            Check::UniqueIds => "unique-ids",
            Check::NoDeadOwner => "no-dead-owner",
            Check::Stabilization => "stabilization",
            Check::Infrastructure => "infrastructure",
        }
    }
}

/// A violated invariant at a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub t_ms: u64,
    pub check: Check,
    pub message: String,
}

/// Time of a new worker's first assignment after an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstAssignment {
    pub worker_id: String,
    /// From the event's start.
    pub after_ms: u64,
}

/// The figures of one event (DESIGN.md §4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Index of the event in the run (0, 1, …); people see [`Measurement::number`].
    pub event: usize,
    /// The action that opened the event.
    pub action: Action,
    pub t_start_ms: u64,
    /// From the action to the first moment the cluster was stable; `None` if it never was
    /// before the next event or the end of the run.
    pub stabilization_ms: Option<u64>,
    /// New workers' time to first assignment.
    pub first_assignments: Vec<FirstAssignment>,
    /// From the action to the last new version before a quiet period; `None` if never quiet.
    pub quiescence_ms: Option<u64>,
    /// Versions published during the event.
    pub versions_published: u32,
    /// Versions published from the action to the stable moment: 1 when the first publish
    /// after it brought the cluster to stable, 2 when it took another (`None`: never stable,
    /// or recorded before the field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions_to_stable: Option<u32>,
    /// Partitions whose owner differs between the start and the stable moment.
    pub moved_partitions: usize,
    pub moved_percent: f64,
    /// Max / min partitions per live worker at the stable moment.
    pub balance: Option<f64>,
    pub workers_before: usize,
    pub workers_after: usize,
    /// The index of the event whose action arrived before this one stabilized: this event was
    /// superseded, not unstable (docs/profiles.md), and no stabilization limit applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<usize>,
    /// Whether the leader changed during the event (the leader key was deleted or named another
    /// worker): a cause that shapes the figures, so comparisons match on it. `None` in
    /// recordings made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_changed: Option<bool>,
}

impl Measurement {
    /// The event's number as people count (1, 2, …): what every table, line and chart shows.
    pub fn number(&self) -> usize {
        self.event + 1
    }

    /// How the event ended.
    pub fn outcome(&self) -> EventOutcome {
        EventOutcome::of(
            self.stabilization_ms,
            self.superseded_by,
            self.workers_after,
        )
    }

    /// Whether the event ended with no worker running: its stabilization time is then the time
    /// until the last worker had ended (an empty cluster is never called stable).
    pub fn emptied(&self) -> bool {
        self.outcome() == EventOutcome::Emptied
    }
}

/// How an event ended (docs/profiles.md, "How an event ends").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// Every running worker Stable, every partition owned once, the newest version applied.
    Stabilized,
    /// No worker was left running; the stabilization time is the time until the last ended.
    Emptied,
    /// The next action arrived before it stabilized: no limit applies.
    Superseded,
    /// It never stabilized: the run ended first, or a worker ended unasked before it did.
    NeverStabilized,
}

impl EventOutcome {
    /// The outcome of an event with these figures (`superseded_by` in any numbering).
    pub fn of(
        stabilization_ms: Option<u64>,
        superseded_by: Option<usize>,
        workers_after: usize,
    ) -> Self {
        match (stabilization_ms, superseded_by) {
            (Some(_), _) if workers_after == 0 => EventOutcome::Emptied,
            (Some(_), _) => EventOutcome::Stabilized,
            (None, Some(_)) => EventOutcome::Superseded,
            (None, None) => EventOutcome::NeverStabilized,
        }
    }

    /// `stabilized`, `emptied`, `superseded`, `never-stabilized`.
    pub fn name(self) -> &'static str {
        match self {
            EventOutcome::Stabilized => "stabilized",
            EventOutcome::Emptied => "emptied",
            EventOutcome::Superseded => "superseded",
            EventOutcome::NeverStabilized => "never-stabilized",
        }
    }
}

/// Where a profile step is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepStatus {
    Started,
    Done,
    Failed(String),
}

/// A profile step changed status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    pub t_ms: u64,
    /// Index of the step in the run (0, 1, …; repeats continue the count); people see
    /// [`StepProgress::number`].
    pub index: usize,
    pub label: String,
    pub status: StepStatus,
}

impl StepProgress {
    /// The step's number as people count (1, 2, …).
    pub fn number(&self) -> usize {
        self.index + 1
    }
}

/// An action as it was carried out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub t_ms: u64,
    pub action: Action,
    pub source: ActionSource,
    /// Why it could not be carried out, if it failed.
    pub error: Option<String>,
}

/// One item of the observation stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Observation {
    Action(ActionRecord),
    Sample(Sample),
    Cluster(ClusterEvent),
    Finding(Finding),
    Measurement(Measurement),
    Step(StepProgress),
}

impl Observation {
    pub fn t_ms(&self) -> u64 {
        match self {
            Observation::Action(a) => a.t_ms,
            Observation::Sample(s) => s.t_ms,
            Observation::Cluster(c) => c.t_ms,
            Observation::Finding(f) => f.t_ms,
            Observation::Measurement(m) => m.t_start_ms,
            Observation::Step(s) => s.t_ms,
        }
    }
}
