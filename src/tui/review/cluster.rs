//! The cluster at a moment of a recorded run: its cluster events up to the moment folded into
//! the controller's own [`ClusterModel`] (the same rules as the live run: a worker that ended
//! or whose host exited never comes back), then the [`ClusterState`] the dashboard shows. The
//! leader and the newest version come from the workers' own reports (a recording keeps no KV
//! state); stability from the event under the cursor and its measured times; paused hosts from
//! the pauses under way.

use crate::action::Action;
use crate::control::HostEvent;
use crate::measure::ClusterState;
use crate::measure::model::ClusterModel;
use crate::observation::{ClusterEvent, ClusterEventKind, EventOutcome};
use crate::record::TimelineEntry;
use crate::tui::view::format;

use super::prepared::Reviewed;

/// The fold of a run's cluster events, one at a time in time order.
#[derive(Debug, Default)]
pub(super) struct ClusterFold {
    model: ClusterModel,
    leader: Option<String>,
    max_version: i64,
}

impl ClusterFold {
    pub(super) fn apply(&mut self, event: &ClusterEvent) {
        match &event.kind {
            ClusterEventKind::HostLost { how } => {
                if let Some(host) = event.host {
                    self.model.host_gone(host, how);
                }
                return;
            }
            ClusterEventKind::Published { version, .. }
            | ClusterEventKind::AssignmentApplied { version, .. } => {
                self.max_version = self.max_version.max(*version);
            }
            ClusterEventKind::Leadership { is_leader: true } => {
                self.leader.clone_from(&event.worker_id);
            }
            ClusterEventKind::Leadership { is_leader: false } if self.leader == event.worker_id => {
                self.leader = None;
            }
            _ => {}
        }
        if let Some(host) = event.host {
            self.model.apply_event(
                event.t_ms,
                &HostEvent {
                    t_unix_us: 0,
                    host,
                    slot: event.slot,
                    worker_id: event.worker_id.clone(),
                    kind: event.kind.clone(),
                },
            );
        }
    }

    /// The state at `cursor_ms` once every event up to it has been applied.
    pub(super) fn finish(self, reviewed: &Reviewed, cursor_ms: u64) -> ClusterState {
        let recording = &reviewed.recording;
        let workers = self.model.views();
        // A leader that has ended leads no more.
        let leader = self.leader.filter(|id| {
            workers
                .iter()
                .any(|w| w.worker_id.as_deref() == Some(id.as_str()))
        });
        let (stable, quiet, reason) = stability(reviewed, cursor_ms);
        let actions = recording.actions().filter(|a| a.t_ms <= cursor_ms).count();
        let mut paused_hosts: Vec<u32> = recording
            .timeline
            .iter()
            .filter_map(|entry| match entry {
                TimelineEntry::Action(record) if record.error.is_none() => match record.action {
                    Action::PauseHost { host, duration } => {
                        let end_ms = record.t_ms.saturating_add(
                            u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                        );
                        (record.t_ms..end_ms).contains(&cursor_ms).then_some(host)
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        paused_hosts.sort_unstable();
        paused_hosts.dedup();
        ClusterState {
            t_ms: cursor_ms,
            stable,
            quiet,
            reason,
            actions,
            workers,
            leader,
            max_version: self.max_version,
            findings: recording
                .findings
                .iter()
                .filter(|f| f.t_ms <= cursor_ms)
                .count(),
            measurements: recording
                .measurements
                .iter()
                .filter(|m| m.t_start_ms <= cursor_ms)
                .count(),
            paused_hosts,
            nats_lost: None,
        }
    }
}

/// Whether the cluster was stable at `cursor_ms`, whether its event was quiet, and why not
/// stable: the event under the cursor had stabilized by then, or is still settling (`1.2 s
/// in`), or never did. Before the first event the cluster counts as stable (as live).
fn stability(reviewed: &Reviewed, cursor_ms: u64) -> (bool, bool, Option<String>) {
    let Some(m) = reviewed.event_at(cursor_ms) else {
        return (true, false, None);
    };
    let elapsed = cursor_ms - m.t_start_ms;
    let stable = m.stabilization_ms.is_some_and(|ms| ms <= elapsed);
    let quiet = m.quiescence_ms.is_some_and(|ms| ms <= elapsed);
    if stable {
        return (true, quiet, None);
    }
    let what = format!("event #{} {}", m.number(), m.action.label());
    let reason = match (m.outcome(), m.stabilization_ms) {
        (EventOutcome::Stabilized | EventOutcome::Emptied, Some(ms)) => format!(
            "{what} settling, {} in (stable after {})",
            format::duration(elapsed),
            format::duration(ms)
        ),
        (EventOutcome::Superseded, _) => format!(
            "{what} settling, {} in (superseded before it stabilized)",
            format::duration(elapsed)
        ),
        _ => format!(
            "{what} settling, {} in (it never stabilized)",
            format::duration(elapsed)
        ),
    };
    (false, false, Some(reason))
}
