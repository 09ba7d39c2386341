//! A recording prepared once for review: every observation indexed in time order (so the state
//! at a cursor is a prefix of it, found by binary search), the log lines rebuilt from it, and
//! the times `[`/`]` jump to (each event's start and each mark).

use crate::action::Action;
use crate::observation::Measurement;
use crate::record::{Recording, TimelineEntry};

use super::log::{self, LogLine};

/// Where an observation is in the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Item {
    Timeline(usize),
    Event(usize),
    Sample(usize),
    Measurement(usize),
    Finding(usize),
}

/// A time the cursor can jump to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub t_ms: u64,
    /// `event #3 kill leader`, `mark checkpoint`.
    pub label: String,
}

/// A recording ready to be reviewed.
#[derive(Clone, Debug)]
pub struct Reviewed {
    pub recording: Recording,
    /// The file's name, as the header shows it.
    pub name: String,
    /// The span the recording covers.
    pub duration_ms: u64,
    /// Every observation with its time, in time order (ties keep the recording's order).
    pub(super) order: Vec<(u64, Item)>,
    /// The rebuilt log, in time order.
    pub log: Vec<LogLine>,
    /// Event starts and marks, in time order.
    pub targets: Vec<Target>,
}

impl Reviewed {
    /// Prepare `recording`, shown under the file name `name`.
    pub fn new(recording: Recording, name: impl Into<String>) -> Self {
        let mut order: Vec<(u64, Item)> = Vec::with_capacity(
            recording.timeline.len()
                + recording.events.len()
                + recording.samples.len()
                + recording.measurements.len()
                + recording.findings.len(),
        );
        order.extend(
            recording
                .timeline
                .iter()
                .enumerate()
                .map(|(i, e)| (e.t_ms(), Item::Timeline(i))),
        );
        order.extend(
            recording
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| (e.t_ms, Item::Event(i))),
        );
        order.extend(
            recording
                .samples
                .iter()
                .enumerate()
                .map(|(i, s)| (s.t_ms, Item::Sample(i))),
        );
        order.extend(
            recording
                .measurements
                .iter()
                .enumerate()
                .map(|(i, m)| (m.t_start_ms, Item::Measurement(i))),
        );
        order.extend(
            recording
                .findings
                .iter()
                .enumerate()
                .map(|(i, f)| (f.t_ms, Item::Finding(i))),
        );
        order.sort_by_key(|(t_ms, _)| *t_ms);
        let mut targets: Vec<Target> = recording
            .measurements
            .iter()
            .map(|m| Target {
                t_ms: m.t_start_ms,
                label: format!("event #{} {}", m.number(), m.action.label()),
            })
            .chain(recording.timeline.iter().filter_map(|entry| match entry {
                TimelineEntry::Action(record) if matches!(record.action, Action::Mark(_)) => {
                    Some(Target {
                        t_ms: record.t_ms,
                        label: record.action.label(),
                    })
                }
                _ => None,
            }))
            .collect();
        targets.sort_by_key(|t| t.t_ms);
        Reviewed {
            duration_ms: recording.duration_ms(),
            log: log::lines(&recording),
            name: name.into(),
            order,
            targets,
            recording,
        }
    }

    /// How many observations happened at or before `t_ms` (a prefix of [`Self::order`]).
    pub(super) fn observed_until(&self, t_ms: u64) -> usize {
        self.order.partition_point(|(t, _)| *t <= t_ms)
    }

    /// The log lines at or before `t_ms`.
    pub fn log_until(&self, t_ms: u64) -> &[LogLine] {
        &self.log[..self.log.partition_point(|l| l.t_ms <= t_ms)]
    }

    /// The event under the cursor: the last one started at or before `cursor_ms` (its span
    /// contains the cursor, or it is the latest before it).
    pub fn event_at(&self, cursor_ms: u64) -> Option<&Measurement> {
        self.recording
            .measurements
            .iter()
            .filter(|m| m.t_start_ms <= cursor_ms)
            .max_by_key(|m| (m.t_start_ms, m.event))
    }

    /// The first jump target after `cursor_ms`.
    pub fn next_target(&self, cursor_ms: u64) -> Option<&Target> {
        self.targets.iter().find(|t| t.t_ms > cursor_ms)
    }

    /// The last jump target before `cursor_ms`.
    pub fn previous_target(&self, cursor_ms: u64) -> Option<&Target> {
        self.targets.iter().rev().find(|t| t.t_ms < cursor_ms)
    }

    /// Whether the recording is an autosave (or a run that ended without a summary).
    pub fn incomplete(&self) -> bool {
        self.recording.summary.is_none()
    }
}
