//! The measurement engine (pure): turns timestamped inputs — host events and telemetry, KV
//! changes seen by the observer, actions, clock ticks — into per-event [`Measurement`]s and
//! invariant [`Finding`]s, using the definitions of DESIGN.md §4.
//!
//! An event opens with each disturbing action and closes when the cluster has been stable and
//! no new version has appeared for the quiet period, or when the next disturbing action arrives.
//! An event closed by the next action before it stabilized is *superseded* by that action's
//! event (its missing figures stay `None`, and it names the event that superseded it); one
//! that the end of the run, or a worker ending unasked, closes before it stabilized never
//! stabilized. A `Mark` is no disturbance: it closes nothing.
//!
//! A cluster with no running worker is *empty*, never stable. An event that leaves no worker
//! running (a scale to zero, the kill of the only host) is measured until the last worker has
//! ended; [`Measurement::emptied`] tells such events apart.
//!
//! A fault that freezes the cluster rather than changing it (a paused host, a restarting
//! nats-server, a cut or slowed link, a killed NATS node; [`Action::clears_later`]) leaves the last reports looking stable. Such an event stabilizes only after the
//! fault has cleared ([`Input::FaultCleared`]) and every running worker has then written a fresh
//! heartbeat: proof that it talks to NATS again.

pub mod model;
pub mod state;

pub use state::ClusterState;

use std::collections::{BTreeMap, BTreeSet};

use crate::action::Action;
use crate::control::{HostEvent, HostTelemetry};
use crate::observation::{Check, Finding, FirstAssignment, Measurement};
use crate::parti::partition::Partition;
use crate::parti::strategy::{AssignmentMap, balance, movement};
use model::{ClusterModel, KvChange, Note};

/// Knobs of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// No new version for this long after stabilization makes an event quiescent.
    pub quiet_period_ms: u64,
    /// Two workers claiming leadership for longer than this is a finding.
    pub leader_overlap_ms: u64,
    /// A worker that ended on its own (no action asked for it) may keep its partitions until
    /// the leader notices; only longer than this is a finding.
    pub dead_owner_grace_ms: u64,
}

/// One input, at a run time in milliseconds.
#[derive(Clone, Debug)]
pub enum Input<'a> {
    Event(&'a HostEvent),
    Telemetry(&'a HostTelemetry),
    Kv(&'a KvChange),
    /// A host process ended; `expected` when an action asked for it.
    HostGone {
        host: u32,
        how: String,
        expected: bool,
    },
    /// Close the open event without ending the run (between the repeats of a profile): an
    /// event that had not stabilized never did; nothing overtook it.
    CloseEvent,
    /// The managed nats-server died; `expected` when an action (a restart) asked for it.
    NatsGone {
        how: String,
        expected: bool,
    },
    /// An action was carried out; the cluster should end up with `expected_live` workers.
    Action {
        action: Action,
        expected_live: usize,
    },
    /// The fault of the event that opened at `event_t_ms` is over (the paused host resumed,
    /// nats-server is back). For any other event it changes nothing.
    FaultCleared {
        event_t_ms: u64,
    },
    Tick,
    /// The run is over: close the open event.
    Finish,
}

/// What the engine reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Measurement(Measurement),
    Finding(Finding),
}

#[derive(Clone, Debug)]
struct OpenEvent {
    index: usize,
    action: Action,
    t_start_ms: u64,
    expected_live: usize,
    before: AssignmentMap,
    workers_before: usize,
    stabilized_at_ms: Option<u64>,
    after: Option<AssignmentMap>,
    workers_after: Option<usize>,
    first_assignments: Vec<FirstAssignment>,
    versions_published: u32,
    /// Versions published when the event stabilized.
    versions_to_stable: Option<u32>,
    last_version_at_ms: Option<u64>,
    /// For a freezing fault: whether it has cleared, and which workers have written a heartbeat
    /// since.
    fault: Option<FaultProgress>,
    /// The leader when the event opened (from KV).
    leader_at_start: Option<String>,
    /// Whether that leader lost the `leader` key (deleted, or naming another worker) during
    /// the event. A first election, with no leader before, is no change.
    leader_changed: bool,
}

impl OpenEvent {
    /// Whether the event had stabilized and no new version appeared for `quiet_period_ms`
    /// before `t_ms`.
    fn is_quiet_at(&self, t_ms: u64, quiet_period_ms: u64) -> bool {
        self.stabilized_at_ms.is_some_and(|stable_at| {
            let last_change = self
                .last_version_at_ms
                .map_or(stable_at, |v| v.max(stable_at));
            t_ms.saturating_sub(last_change) >= quiet_period_ms
        })
    }
}

#[derive(Clone, Debug, Default)]
struct FaultProgress {
    cleared: bool,
    heartbeats: BTreeSet<String>,
}

impl FaultProgress {
    /// Why the fault still holds the event back, if it does.
    fn pending(&self, model: &ClusterModel) -> Option<String> {
        if !self.cleared {
            return Some("the fault has not cleared yet".into());
        }
        let silent = model
            .workers()
            .filter_map(|w| w.worker_id.as_deref())
            .filter(|id| !self.heartbeats.contains(*id))
            .count();
        match silent {
            0 => None,
            1 => Some("1 worker has not heartbeated since the fault cleared".into()),
            n => Some(format!(
                "{n} workers have not heartbeated since the fault cleared"
            )),
        }
    }
}

/// Why an empty cluster is not stable.
pub const EMPTY_REASON: &str = "no workers running: an empty cluster is never stable";

/// The engine.
#[derive(Debug)]
pub struct Measure {
    model: ClusterModel,
    settings: Settings,
    open: Option<OpenEvent>,
    next_event: usize,
    /// The last event stabilized and nothing has happened since.
    settled: bool,
    active: BTreeSet<String>,
    leaders_overlap_since_ms: Option<u64>,
    /// When each non-running owner was first seen.
    dead_owner_since_ms: std::collections::BTreeMap<String, u64>,
    /// After `Finish` (the run is shutting down) nothing is measured or checked.
    finished: bool,
    /// Hosts paused by a `PauseHost` that has not cleared yet, by the start of its event.
    paused: BTreeMap<u64, u32>,
    /// Hosts whose link a `CutLink` has cut and not yet restored, by the start of its event.
    cut: BTreeMap<u64, u32>,
}

impl Measure {
    pub fn new(partitions: Vec<Partition>, settings: Settings) -> Self {
        Self {
            model: ClusterModel::new(partitions),
            settings,
            open: None,
            next_event: 0,
            settled: false,
            active: BTreeSet::new(),
            leaders_overlap_since_ms: None,
            dead_owner_since_ms: BTreeMap::new(),
            finished: false,
            paused: BTreeMap::new(),
            cut: BTreeMap::new(),
        }
    }

    /// Hosts frozen right now (SIGSTOP) by a pause that has not ended, in order.
    pub fn paused_hosts(&self) -> Vec<u32> {
        let hosts: BTreeSet<u32> = self.paused.values().copied().collect();
        hosts.into_iter().collect()
    }

    pub fn model(&self) -> &ClusterModel {
        &self.model
    }

    /// Whether the current event has stabilized (true when no event was ever opened and the
    /// cluster is stable). An empty cluster is never stable.
    pub fn is_stable(&self) -> bool {
        if self.model.live_count() == 0 {
            return false;
        }
        match &self.open {
            Some(open) => open.stabilized_at_ms.is_some(),
            None => self.settled || self.model.unstable_reason(None).is_none(),
        }
    }

    /// Whether the last event has closed after stabilizing and staying quiet for the quiet
    /// period: its figures are complete.
    pub fn is_quiet(&self) -> bool {
        self.open.is_none() && (self.settled || (self.next_event == 0 && self.is_stable()))
    }

    /// Why the current event has not stabilized yet (or, with no worker running, that the
    /// cluster is empty).
    pub fn unstable_reason(&self) -> Option<String> {
        let open = self.open.as_ref();
        if self.model.live_count() == 0
            && open.is_none_or(|o| o.stabilized_at_ms.is_some() || o.expected_live == 0)
        {
            return Some(EMPTY_REASON.to_owned());
        }
        if let Some(open) = open.filter(|o| o.stabilized_at_ms.is_none())
            && let Some(pending) = open.fault.as_ref().and_then(|f| f.pending(&self.model))
        {
            // Name the fault: `pause host 1 5s: the fault has not cleared yet`.
            return Some(format!("{}: {pending}", open.action));
        }
        self.model.unstable_reason(open.map(|o| o.expected_live))
    }

    /// Whether an input can be skipped because it changes nothing: a heartbeat refresh (unless
    /// an event is waiting for fresh heartbeats after a fault) or a stable-ID write, which the
    /// model does not follow.
    pub fn is_noop(&self, input: &Input<'_>) -> bool {
        let awaiting_heartbeats = self.open.as_ref().is_some_and(|o| {
            o.stabilized_at_ms.is_none() && o.fault.as_ref().is_some_and(|f| f.cleared)
        });
        !awaiting_heartbeats
            && matches!(input, Input::Kv(change)
                if self.model.is_heartbeat_refresh(change) || change.role == model::BucketRole::StableId)
    }

    /// Feed one input at `t_ms`.
    pub fn input(&mut self, t_ms: u64, input: Input<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        let notes = match input {
            Input::Event(event) => self.model.apply_event(t_ms, event),
            Input::Telemetry(telemetry) => {
                self.model.apply_telemetry(t_ms, telemetry);
                Vec::new()
            }
            Input::Kv(change) => self.apply_kv(change),
            Input::HostGone {
                host,
                how,
                expected,
            } => {
                if !expected {
                    out.push(self.finding(
                        t_ms,
                        Check::Infrastructure,
                        format!("host {host} exited: {how}"),
                    ));
                }
                // A host that is gone is no longer paused or cut off.
                self.paused.retain(|_, paused| *paused != host);
                self.cut.retain(|_, cut| *cut != host);
                self.model.host_gone(host, &how)
            }
            Input::NatsGone { how, expected } => {
                if !expected {
                    out.push(self.finding(
                        t_ms,
                        Check::Infrastructure,
                        format!("{how}, and no step or key asked for it"),
                    ));
                }
                Vec::new()
            }
            Input::Action {
                action,
                expected_live,
            } => {
                // A mark is a note in the timeline: the open event goes on.
                if action.is_event() {
                    let next = self.next_event;
                    self.close(t_ms, &mut out, Some(next));
                    match &action {
                        Action::PauseHost { host, .. } => {
                            self.paused.insert(t_ms, *host);
                        }
                        Action::CutLink { host, .. } => {
                            self.cut.insert(t_ms, *host);
                        }
                        _ => {}
                    }
                    let before = self.model.assignment_map();
                    let workers_before = self.model.live_count();
                    self.open_event(t_ms, action, expected_live, before, workers_before);
                }
                Vec::new()
            }
            Input::FaultCleared { event_t_ms } => {
                self.paused.remove(&event_t_ms);
                self.cut.remove(&event_t_ms);
                if let Some(fault) = self
                    .open
                    .as_mut()
                    .filter(|o| o.t_start_ms == event_t_ms)
                    .and_then(|o| o.fault.as_mut())
                {
                    fault.cleared = true;
                }
                Vec::new()
            }
            Input::Tick => Vec::new(),
            Input::CloseEvent => {
                self.close(t_ms, &mut out, None);
                Vec::new()
            }
            Input::Finish => {
                self.close(t_ms, &mut out, None);
                self.finished = true;
                return out;
            }
        };
        if self.finished {
            return out;
        }
        for note in notes {
            match note {
                Note::NewVersion { .. } => {
                    if let Some(open) = &mut self.open {
                        open.versions_published += 1;
                        open.last_version_at_ms = Some(t_ms);
                    }
                }
                Note::VersionDecreased { key, from, to } => out.push(self.finding(
                    t_ms,
                    Check::MonotonicVersions,
                    format!("{key} went from version {from} to {to}"),
                )),
                Note::WorkerEnded {
                    host,
                    slot,
                    worker_id,
                    how,
                } => {
                    self.worker_ended(t_ms, host, slot, worker_id, &how, &mut out);
                }
            }
        }
        self.track(t_ms, &mut out);
        self.check(t_ms, &mut out);
        out
    }

    /// A worker ended. If no action explains it (the cluster was stable, or settled), the
    /// cluster must heal on its own: that opens an observed event, measured like an action, and
    /// the settled-cluster checks wait for it to stabilize.
    fn worker_ended(
        &mut self,
        t_ms: u64,
        host: u32,
        slot: u64,
        worker_id: Option<String>,
        how: &str,
        out: &mut Vec<Output>,
    ) {
        let live = self.model.live_count();
        match &mut self.open {
            // Part of an observed event still healing: expect one worker fewer.
            Some(open)
                if open.stabilized_at_ms.is_none()
                    && matches!(open.action, Action::Observed(_)) =>
            {
                open.expected_live = live;
                return;
            }
            // Part of an action's turmoil (a kill, a scale-down): the action expects it.
            Some(open) if open.stabilized_at_ms.is_none() && live >= open.expected_live => return,
            _ => {}
        }
        if self.open.is_none() && !self.settled && self.next_event == 0 {
            return;
        }
        // No action overtook the open event: a worker ending unasked before it stabilized
        // interrupts it, and it never stabilized (the limit applies: it fails).
        self.close(t_ms, out, None);
        let before = self.model.assignment_map_with(worker_id.as_deref());
        let name = worker_id.unwrap_or_else(|| format!("host {host} slot {slot}"));
        let action = Action::Observed(format!("{name} ended ({how})"));
        self.open_event(t_ms, action, live, before, live + 1);
    }

    /// Open the next event at `t_ms`.
    fn open_event(
        &mut self,
        t_ms: u64,
        action: Action,
        expected_live: usize,
        before: AssignmentMap,
        workers_before: usize,
    ) {
        self.open = Some(OpenEvent {
            index: self.next_event,
            fault: action.clears_later().then(FaultProgress::default),
            action,
            t_start_ms: t_ms,
            expected_live,
            before,
            workers_before,
            stabilized_at_ms: None,
            after: None,
            workers_after: None,
            first_assignments: Vec::new(),
            versions_published: 0,
            versions_to_stable: None,
            last_version_at_ms: None,
            leader_at_start: self.model.leader().map(str::to_owned),
            leader_changed: false,
        });
        self.next_event += 1;
        self.settled = false;
    }

    fn finding(&self, t_ms: u64, check: Check, message: String) -> Output {
        Output::Finding(Finding {
            t_ms,
            check,
            message,
        })
    }

    /// Stabilization and quiescence of the open event.
    fn track(&mut self, t_ms: u64, out: &mut Vec<Output>) {
        let Some(open) = &mut self.open else { return };
        if open.stabilized_at_ms.is_none()
            && open
                .fault
                .as_ref()
                .is_none_or(|fault| fault.pending(&self.model).is_none())
            && self
                .model
                .unstable_reason(Some(open.expected_live))
                .is_none()
        {
            open.stabilized_at_ms = Some(t_ms);
            open.versions_to_stable = Some(open.versions_published);
            open.after = Some(self.model.assignment_map());
            open.workers_after = Some(self.model.live_count());
            open.first_assignments = self
                .model
                .workers()
                .filter(|w| w.started_ms >= open.t_start_ms)
                .filter_map(|w| {
                    Some(FirstAssignment {
                        worker_id: w.worker_id.clone()?,
                        after_ms: w.first_assignment_ms?.saturating_sub(open.t_start_ms),
                    })
                })
                .collect();
            self.settled = true;
        }
        if open.is_quiet_at(t_ms, self.settings.quiet_period_ms) {
            self.close(t_ms, out, None);
        }
    }

    /// Apply a KV change to the model: note a fresh heartbeat an event waits for after a fault,
    /// and a change of the leader during the open event.
    fn apply_kv(&mut self, change: &KvChange) -> Vec<Note> {
        let Some(open) = self.open.as_mut() else {
            return self.model.apply_kv(change);
        };
        if let Some(fault) = open.fault.as_mut()
            && fault.cleared
            && change.role == model::BucketRole::Heartbeat
            && change.value.is_some()
            && let Some(worker) = crate::parti::heartbeat::worker_of(&change.key)
        {
            fault.heartbeats.insert(worker.to_owned());
        }
        if change.role != model::BucketRole::Election {
            return self.model.apply_kv(change);
        }
        let notes = self.model.apply_kv(change);
        if let Some(leader) = &open.leader_at_start {
            open.leader_changed |= self.model.leader() != Some(leader.as_str());
        }
        notes
    }

    /// Close the open event, emitting its measurement. `next` is the event about to open when
    /// an action closes this one: if it had not stabilized, it was superseded by that event.
    fn close(&mut self, t_ms: u64, out: &mut Vec<Output>, next: Option<usize>) {
        let Some(open) = self.open.take() else { return };
        // Host events carry the host's clock: an input may be stamped a little before the event.
        let stabilization_ms = open
            .stabilized_at_ms
            .map(|t| t.saturating_sub(open.t_start_ms));
        let quiet = open.is_quiet_at(t_ms, self.settings.quiet_period_ms);
        let quiescence_ms = quiet.then(|| {
            open.last_version_at_ms
                .map_or(0, |v| v.saturating_sub(open.t_start_ms))
        });
        let (moved_partitions, moved_percent, balance_ratio) = match &open.after {
            Some(after) => {
                let moved = movement(&open.before, after);
                (moved.moved, moved.percent(), balance(after))
            }
            None => (0, 0.0, None),
        };
        out.push(Output::Measurement(Measurement {
            event: open.index,
            action: open.action,
            t_start_ms: open.t_start_ms,
            stabilization_ms,
            first_assignments: open.first_assignments,
            quiescence_ms,
            versions_published: open.versions_published,
            versions_to_stable: open.versions_to_stable,
            moved_partitions,
            moved_percent,
            balance: balance_ratio.filter(|b| b.is_finite()),
            workers_before: open.workers_before,
            workers_after: open
                .workers_after
                .unwrap_or_else(|| self.model.live_count()),
            superseded_by: next.filter(|_| stabilization_ms.is_none()),
            leader_changed: Some(open.leader_changed),
        }));
    }

    /// The continuous invariant checks. Each condition is reported once until it clears.
    fn check(&mut self, t_ms: u64, out: &mut Vec<Output>) {
        let mut now_active = BTreeSet::new();
        let mut report =
            |this: &Self, key: String, check: Check, message: String, out: &mut Vec<Output>| {
                if !this.active.contains(&key) {
                    out.push(this.finding(t_ms, check, message));
                }
                now_active.insert(key);
            };
        for id in self.model.duplicate_ids() {
            report(
                self,
                format!("dup:{id}"),
                Check::UniqueIds,
                format!("{id} is claimed by more than one running worker"),
                out,
            );
        }
        // A frozen or cut-off host's workers still claim what they last reported; they cannot
        // act as leader until the fault clears, and then their own reports change.
        let silenced: Vec<u32> = self
            .paused
            .values()
            .chain(self.cut.values())
            .copied()
            .collect();
        let leaders = self.model.claimed_leaders_outside(&silenced);
        if leaders.len() > 1 {
            let since = *self.leaders_overlap_since_ms.get_or_insert(t_ms);
            if t_ms.saturating_sub(since) >= self.settings.leader_overlap_ms {
                report(
                    self,
                    "leaders".into(),
                    Check::SingleLeader,
                    format!(
                        "{} workers act as leader: {}",
                        leaders.len(),
                        leaders.join(", ")
                    ),
                    out,
                );
            }
        } else {
            self.leaders_overlap_since_ms = None;
        }
        if self.settled
            && self
                .open
                .as_ref()
                .is_none_or(|o| o.stabilized_at_ms.is_some())
        {
            if self.model.publish_complete()
                && let Some(problem) = self.model.coverage_problems().first().cloned()
            {
                report(
                    self,
                    format!("owner:{problem}"),
                    Check::SingleOwner,
                    problem,
                    out,
                );
            }
            // With no running worker nobody could have republished: leftovers are expected.
            let dead_owners = if self.model.live_count() == 0 {
                Vec::new()
            } else {
                self.model.dead_owners()
            };
            self.dead_owner_since_ms
                .retain(|worker, _| dead_owners.contains(worker));
            for worker in dead_owners {
                let since = *self
                    .dead_owner_since_ms
                    .entry(worker.clone())
                    .or_insert(t_ms);
                if t_ms.saturating_sub(since) < self.settings.dead_owner_grace_ms {
                    continue;
                }
                report(
                    self,
                    format!("dead:{worker}"),
                    Check::NoDeadOwner,
                    format!(
                        "{worker} is not running but is assigned partitions at the newest version"
                    ),
                    out,
                );
            }
        }
        // Keep the leader-overlap key while the overlap lasts but has not reached its limit.
        if self.leaders_overlap_since_ms.is_some() && self.active.contains("leaders") {
            now_active.insert("leaders".into());
        }
        self.active = now_active;
    }
}

#[cfg(test)]
mod tests;
