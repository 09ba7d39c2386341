//! The summary a recording stores once its run has ended: the data types only (verdict, per-event
//! and per-process figures, threshold failures). Computing them from a recording and the
//! profile's thresholds is `report::summary::summarize`; this module knows nothing of the rules.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::observation::EventOutcome;
use crate::observation::ProcessKind;

/// Pass or fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    /// `pass` / `fail`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }

    /// The process exit code of a run with this verdict (DESIGN.md §6).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
        }
    }

    /// `Fail` when either is.
    #[must_use]
    pub fn and(self, other: Verdict) -> Verdict {
        if self == Verdict::Fail || other == Verdict::Fail {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// `Fail` iff `failures` is not empty.
    pub verdict: Verdict,
    pub duration_ms: u64,
    pub events: Vec<EventSummary>,
    pub processes: Vec<ProcessSummary>,
    /// Number of findings (invariant violations).
    pub findings: usize,
    pub failures: Vec<Failure>,
    /// Observations the recorder missed because it fell behind the broadcast.
    pub dropped_observations: u64,
    /// Min / median / max of each figure across the repeats, when the profile ran its steps
    /// more than once (`repeats` > 1); absent otherwise, and in recordings made before it
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<RepeatSummary>,
    /// Each host's level and drift over each long enough `Hold` (`report::drift`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<HoldFigures>,
    /// The message load's ledger, when the run had load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadFigures>,
}

/// What the ledger says of a run's message load, once the producers stopped and the drain
/// ended (docs/load.md).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadFigures {
    /// The whole run.
    pub ledger: crate::load::ledger::LedgerSummary,
    /// Whether every sent message was acked before the drain timeout.
    pub drained: bool,
    /// From the producers' stop to the last ack (or the timeout).
    pub drain_ms: u64,
    /// Acks by a worker of a partition it no longer owned, and the first few of them.
    pub zombie_acks: u64,
    #[serde(default)]
    pub zombies: Vec<crate::load::zombie::ZombieAck>,
    /// Per event: the messages sent while it was open (from its action to its stabilization,
    /// or to the next event).
    #[serde(default)]
    pub events: Vec<EventLoad>,
    /// Messages still stored in the work stream after the drain (never acked).
    #[serde(default)]
    pub left_in_stream: Option<u64>,
}

/// The ledger of the messages sent during one event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventLoad {
    /// Numbered from 1, as events are.
    pub event: usize,
    pub label: String,
    pub ledger: crate::load::ledger::LedgerSummary,
}

/// The figures of one event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSummary {
    /// The event's number, counted from 1 as everywhere people read it.
    pub event: usize,
    /// [`crate::action::Action::label`] of the action that opened the event.
    pub label: String,
    pub t_start_ms: u64,
    /// `None`: never stabilized.
    pub stabilization_ms: Option<u64>,
    /// `None`: never quiescent.
    pub quiescence_ms: Option<u64>,
    pub moved_percent: f64,
    /// Max / min partitions per live worker at the stable moment.
    pub balance: Option<f64>,
    /// The slowest new worker's time to first assignment.
    pub first_assignment_max_ms: Option<u64>,
    pub workers_after: usize,
    /// The number of the event that superseded this one before it stabilized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<usize>,
    /// Whether the leader changed during the event (`None`: not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_changed: Option<bool>,
    /// Versions published from the action to the stable moment (`None`: not stable, or not
    /// recorded). One publish or two is a different path to stable (every worker registered
    /// before the leader's first publish, or one after it), not a different speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions_to_stable: Option<u32>,
}

impl EventSummary {
    /// How the event ended.
    pub fn outcome(&self) -> EventOutcome {
        EventOutcome::of(
            self.stabilization_ms,
            self.superseded_by,
            self.workers_after,
        )
    }
}

/// The peaks of one measured process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSummary {
    pub process: ProcessKind,
    pub peak_rss_bytes: u64,
    pub peak_live_heap_bytes: Option<u64>,
    pub peak_tasks: Option<u64>,
    /// Mean over the samples that report CPU, in percent of one core.
    pub mean_cpu_percent: Option<f64>,
    /// Workers in the last sample that reports them.
    pub final_workers: Option<u32>,
}

/// One threshold a run exceeded (or a step that failed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// What was measured, e.g. `peak RSS of host 0`.
    pub what: String,
    /// The limit, formatted in its unit; empty for failures that have no limit (a failed step).
    pub limit: String,
    /// The measured value, formatted in its unit (or what happened).
    pub actual: String,
}

impl fmt::Display for Failure {
    /// `peak RSS of host 0 is 301.2MiB, limit 128MiB`; without a limit `<what> <actual>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.limit.is_empty() {
            write!(f, "{} {}", self.what, self.actual)
        } else {
            write!(f, "{} is {}, limit {}", self.what, self.actual, self.limit)
        }
    }
}

/// The lowest, middle and highest value of one figure across repeats. The median of an even
/// number of values is the mean of the two middle ones. For durations (`Spread<Option<u64>>`)
/// `None` is *never* and sorts after every time; a median next to a never is never.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spread<T> {
    pub min: T,
    pub median: T,
    pub max: T,
}

/// The figures of a run whose steps ran several times, per repeat and then summarized as
/// min / median / max across the repeats.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatSummary {
    /// The repeats the profile asked for.
    pub planned: u32,
    /// The repeats that started (fewer when a step failed or the run was interrupted).
    pub started: u32,
    /// Per event position within a repeat, and per way those events ended.
    pub events: Vec<RepeatedEvent>,
    /// Per process: its peaks within each repeat.
    pub processes: Vec<RepeatedProcess>,
}

/// One event of a repeat, as it happened in the repeats where it ended the same way. Events
/// are placed by the profile step that opened them (an event the cluster opened on its own,
/// such as a worker ending unasked, belongs to the step running then) and their order within
/// that step; the cluster resets between repeats are left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatedEvent {
    /// The event's position within a repeat, from 1 (in a repeat where nothing happened on its
    /// own, the event number within the repeat).
    pub position: usize,
    /// The profile step that opened it, from 1.
    pub step: usize,
    pub label: String,
    /// How these events ended; events at one position that ended differently, or differ in
    /// `leader_changed`, are separate entries.
    #[serde(with = "outcome_name")]
    pub outcome: EventOutcome,
    pub leader_changed: Option<bool>,
    /// Where each of them is in the run.
    pub occurrences: Vec<Occurrence>,
    /// `None` inside: never (superseded and never-stabilized events).
    pub stabilization_ms: Spread<Option<u64>>,
    /// `None` inside: never quiescent.
    pub quiescence_ms: Spread<Option<u64>>,
    /// Over the events that had new workers.
    pub first_assignment_max_ms: Option<Spread<u64>>,
    pub moved_percent: Spread<f64>,
    /// Over the events with a stable moment.
    pub balance: Option<Spread<f64>>,
    /// Superseded events: the time until the action that overtook them (their stabilization
    /// took at least that long).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_after_ms: Option<Spread<u64>>,
}

/// An event of a repeated run: in which repeat, and its number in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Occurrence {
    /// The repeat, from 1.
    pub repeat: u32,
    /// The event's number in the whole run, from 1.
    pub event: usize,
}

/// One process's peaks within each repeat, summarized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatedProcess {
    pub process: ProcessKind,
    /// The repeats (from 1) with samples of this process.
    pub repeats: Vec<u32>,
    pub peak_rss_bytes: Spread<u64>,
    pub peak_live_heap_bytes: Option<Spread<u64>>,
    pub peak_tasks: Option<Spread<u64>>,
}

/// An [`EventOutcome`] written by its name (`stabilized`, `emptied`, `superseded`,
/// `never-stabilized`).
mod outcome_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::EventOutcome;

    const ALL: [EventOutcome; 4] = [
        EventOutcome::Stabilized,
        EventOutcome::Emptied,
        EventOutcome::Superseded,
        EventOutcome::NeverStabilized,
    ];

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's `with` signature"
    )]
    pub fn serialize<S: Serializer>(outcome: &EventOutcome, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(outcome.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EventOutcome, D::Error> {
        let name = String::deserialize(d)?;
        ALL.into_iter()
            .find(|outcome| outcome.name() == name)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown event outcome `{name}`, expected stabilized, emptied, superseded \
                     or never-stabilized"
                ))
            })
    }
}

/// One host over one hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldFigures {
    /// The `Hold` step's number, counted from 1 (repeats continue the count).
    pub step: usize,
    /// The step's label, e.g. `hold 20s`.
    pub label: String,
    /// The host's number.
    pub host: u32,
    pub t_start_ms: u64,
    pub t_end_ms: u64,
    /// Samples of the host taken during the hold.
    pub samples: usize,
    /// Workers in the host at the hold's last sample.
    pub workers: Option<u32>,
    /// Mean of the last quarter: the settled level.
    pub rss_bytes: u64,
    pub live_heap_bytes: Option<u64>,
    pub tasks: Option<f64>,
    /// Last-quarter mean minus first-quarter mean.
    pub rss_drift_bytes: i64,
    pub live_heap_drift_bytes: Option<i64>,
    pub tasks_drift: Option<f64>,
}
