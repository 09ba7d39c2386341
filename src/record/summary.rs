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
    /// Assignment versions published during the event until it closed (`None`: not
    /// recorded). One publish or two is a different path to stable (workers that registered
    /// before the leader's first publish, or after it), not a different speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions_published: Option<u32>,
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
