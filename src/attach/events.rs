//! Events measured from KV alone, pure. Each judgement of the cluster ([`AttachState`]) goes in
//! with its time; observations come out, in the run vocabulary (`observation.rs`) so that the
//! dashboard, the recording and `review` read them as they read a run's:
//!
//! - **cluster events** per live worker, as a host would report them but derived from the
//!   buckets: it started (a fresh heartbeat appeared), claimed its ID, reached a state
//!   (`WaitingAssignment` without an assignment, `Stable` at the newest version, `Rebalancing`
//!   behind it), won or lost the leadership, applied an assignment, ended (its heartbeat went
//!   stale or its keys went away);
//! - **measurements**: a change in the set of live workers or in the leader, seen from outside,
//!   opens an event (an `Observed` action naming the change). It stabilizes at the first
//!   judgement after it with no finding (every partition owned once by a live worker, one
//!   version, one live leader) and closes when no new version has appeared for the quiet
//!   period after that, as the measure engine's events do. A change before it stabilized is
//!   part of the same disturbance (the lost leader's key expires after its heartbeat, a new
//!   leader follows): the event goes on and its label names every change from its start to
//!   the stable moment. The end of the attach closes an event unstabilized;
//! - **findings**: a problem that lasts longer than `finding_after_ms` (a cluster may be
//!   invalid for a moment during any rebalance; only a lasting problem is a finding).

use std::collections::{BTreeMap, BTreeSet};

use super::judge::{AttachState, Liveness};
use crate::action::Action;
use crate::observation::{
    Check, ClusterEvent, ClusterEventKind, Finding, FirstAssignment, Measurement, Observation,
};
use crate::parti::state::State;
use crate::parti::strategy::{AssignmentMap, balance, movement};

/// The knobs of the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// No new version for this long after stabilization closes an event.
    pub quiet_ms: u64,
    /// A problem lasting this long becomes a finding.
    pub finding_after_ms: u64,
}

/// A live worker being followed.
#[derive(Clone, Debug)]
struct Tracked {
    slot: u64,
    state: State,
    version: Option<i64>,
    keys: BTreeSet<Vec<String>>,
    leader: bool,
    first_assignment_ms: Option<u64>,
    started_ms: u64,
}

#[derive(Clone, Debug)]
struct Open {
    index: usize,
    action: Action,
    t_start_ms: u64,
    before: AssignmentMap,
    live_at_start: BTreeSet<String>,
    workers_before: usize,
    leader_at_start: Option<String>,
    leader_changed: bool,
    stabilized_at_ms: Option<u64>,
    after: Option<AssignmentMap>,
    workers_after: Option<usize>,
    versions_published: u32,
    versions_to_stable: Option<u32>,
    last_version_ms: Option<u64>,
    first_assignments: Vec<FirstAssignment>,
}

/// Follows an attached cluster from one judgement to the next.
#[derive(Clone, Debug)]
pub struct Tracker {
    settings: Settings,
    seen: bool,
    live: BTreeSet<String>,
    leader: Option<String>,
    /// Live workers' partitions at the last judgement.
    assignments: AssignmentMap,
    max_version: i64,
    workers: BTreeMap<String, Tracked>,
    next_slot: u64,
    open: Option<Open>,
    next_event: usize,
    last: Option<Measurement>,
    problem_since: BTreeMap<String, u64>,
    reported: BTreeSet<String>,
    findings: usize,
}

/// The host number attach puts every worker under (it cannot know the real processes).
pub const HOST: u32 = 0;

/// A finding's identity across judgements: its text up to the first `": "` (a stale worker's
/// heartbeat age changes at every judgement; the worker does not).
fn problem_key(text: &str) -> &str {
    text.split(": ").next().unwrap_or(text)
}

/// The invariant a finding's text is about.
fn check_of(text: &str) -> Check {
    if text.contains("is stale") {
        Check::NoDeadOwner
    } else if text.contains("leader") {
        Check::SingleLeader
    } else if text.contains("versions") {
        Check::Stabilization
    } else if text.contains("stable ID") {
        Check::UniqueIds
    } else if text.contains("owner") || text.contains("partition") || text.contains("assignment") {
        Check::SingleOwner
    } else {
        Check::Infrastructure
    }
}

/// What a worker's KV shows of its state.
fn derived_state(version: Option<i64>, newest: i64) -> State {
    match version {
        None => State::WaitingAssignment,
        Some(v) if v == newest => State::Stable,
        Some(_) => State::Rebalancing,
    }
}

/// `worker-5 joined`, `3 workers left (worker-1, worker-2, worker-3)`.
fn change_text(ids: &[&String], verb: &str) -> Option<String> {
    match ids {
        [] => None,
        [one] => Some(format!("{one} {verb}")),
        many => Some(format!(
            "{} workers {verb} ({})",
            many.len(),
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// What changed between two judgements: `worker-1 left, worker-5 joined, leader worker-0 →
/// worker-2`.
fn describe(
    live_before: &BTreeSet<String>,
    live_after: &BTreeSet<String>,
    leader_before: &Option<String>,
    leader_after: &Option<String>,
) -> String {
    let left: Vec<&String> = live_before.difference(live_after).collect();
    let joined: Vec<&String> = live_after.difference(live_before).collect();
    let mut parts: Vec<String> = [change_text(&left, "left"), change_text(&joined, "joined")]
        .into_iter()
        .flatten()
        .collect();
    match (leader_before, leader_after) {
        (Some(old), Some(new)) if old != new => parts.push(format!("leader {old} → {new}")),
        (Some(old), None) => parts.push(format!("leader {old} lost")),
        (None, Some(new)) => parts.push(format!("{new} leads")),
        _ => {}
    }
    parts.join(", ")
}

impl Tracker {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            seen: false,
            live: BTreeSet::new(),
            leader: None,
            assignments: AssignmentMap::new(),
            max_version: 0,
            workers: BTreeMap::new(),
            next_slot: 0,
            open: None,
            next_event: 0,
            last: None,
            problem_since: BTreeMap::new(),
            reported: BTreeSet::new(),
            findings: 0,
        }
    }

    /// The latest measurement (of the open event once it stabilized, else of the last closed
    /// one).
    pub fn last_measurement(&self) -> Option<&Measurement> {
        self.last.as_ref()
    }

    /// Whether an event is open and has not stabilized.
    pub fn settling(&self) -> Option<String> {
        self.open
            .as_ref()
            .filter(|o| o.stabilized_at_ms.is_none())
            .map(|o| format!("event #{} {}", o.index + 1, o.action.label()))
    }

    /// Events measured so far.
    pub fn events(&self) -> usize {
        self.next_event
    }

    /// Findings reported so far.
    pub fn findings(&self) -> usize {
        self.findings
    }

    /// Take in the judgement `state` made at `t_ms` (milliseconds since the attach began).
    pub fn observe(&mut self, t_ms: u64, state: &AttachState) -> Vec<Observation> {
        let mut out = Vec::new();
        self.worker_events(t_ms, state, &mut out);
        let live: BTreeSet<String> = state.live().into_iter().map(str::to_owned).collect();
        if self.seen && (live != self.live || state.leader != self.leader) {
            self.open_event(t_ms, &live, state, &mut out);
        }
        if let Some(open) = &mut self.open {
            if state.leader != open.leader_at_start && open.leader_at_start.is_some() {
                open.leader_changed = true;
            }
            if state.version > self.max_version {
                open.versions_published += 1;
                open.last_version_ms = Some(t_ms);
            }
        }
        self.max_version = self.max_version.max(state.version);
        self.live = live;
        self.leader.clone_from(&state.leader);
        self.assignments.clone_from(&state.live_assignments);
        self.seen = true;
        self.track(t_ms, state, &mut out);
        self.check(t_ms, state, &mut out);
        out
    }

    /// Close the open event: the attach is over.
    pub fn finish(&mut self, t_ms: u64) -> Vec<Observation> {
        let mut out = Vec::new();
        self.close(t_ms, &mut out);
        out
    }

    fn event(&self, t_ms: u64, id: &str, slot: u64, kind: ClusterEventKind) -> Observation {
        Observation::Cluster(ClusterEvent {
            t_ms,
            host: Some(HOST),
            slot: Some(slot),
            worker_id: Some(id.to_owned()),
            kind,
        })
    }

    /// The cluster events of each live worker's changes since the last judgement.
    fn worker_events(&mut self, t_ms: u64, state: &AttachState, out: &mut Vec<Observation>) {
        let gone: Vec<String> = self
            .workers
            .keys()
            .filter(|id| {
                !state
                    .workers
                    .iter()
                    .any(|w| &w.id == *id && w.state == Liveness::Live)
            })
            .cloned()
            .collect();
        for id in gone {
            if let Some(tracked) = self.workers.remove(&id) {
                let stale = state.workers.iter().any(|w| w.id == id);
                let how = if stale {
                    "its heartbeat went stale"
                } else {
                    "its keys are gone"
                };
                out.push(self.event(
                    t_ms,
                    &id,
                    tracked.slot,
                    ClusterEventKind::WorkerEnded { how: how.into() },
                ));
            }
        }
        for worker in state.workers.iter().filter(|w| w.state == Liveness::Live) {
            if !self.workers.contains_key(&worker.id) {
                let slot = self.next_slot;
                self.next_slot += 1;
                out.push(self.event(t_ms, &worker.id, slot, ClusterEventKind::WorkerStarted));
                if worker.holds_id {
                    out.push(self.event(t_ms, &worker.id, slot, ClusterEventKind::IdClaimed));
                }
                self.workers.insert(
                    worker.id.clone(),
                    Tracked {
                        slot,
                        state: State::Init,
                        version: None,
                        keys: BTreeSet::new(),
                        leader: false,
                        first_assignment_ms: None,
                        started_ms: t_ms,
                    },
                );
            }
            let Some(tracked) = self.workers.get(&worker.id).cloned() else {
                continue;
            };
            let slot = tracked.slot;
            let mut next = tracked.clone();
            if worker.assignment_version.is_some() && worker.assignment_version != tracked.version {
                let keys: BTreeSet<Vec<String>> = state
                    .live_assignments
                    .get(&worker.id)
                    .map(|ps| ps.iter().map(|p| p.keys.clone()).collect())
                    .unwrap_or_default();
                out.push(self.event(
                    t_ms,
                    &worker.id,
                    slot,
                    ClusterEventKind::AssignmentApplied {
                        version: worker.assignment_version.unwrap_or(0),
                        initial: tracked.version.is_none(),
                        total: keys.len(),
                        added: keys.difference(&tracked.keys).count(),
                        removed: tracked.keys.difference(&keys).count(),
                    },
                ));
                next.version = worker.assignment_version;
                next.keys = keys;
                next.first_assignment_ms.get_or_insert(t_ms);
            }
            let derived = derived_state(worker.assignment_version, state.version);
            if derived != tracked.state {
                out.push(self.event(
                    t_ms,
                    &worker.id,
                    slot,
                    ClusterEventKind::StateChanged {
                        from: tracked.state,
                        to: derived,
                    },
                ));
                next.state = derived;
            }
            if worker.is_leader != tracked.leader {
                out.push(self.event(
                    t_ms,
                    &worker.id,
                    slot,
                    ClusterEventKind::Leadership {
                        is_leader: worker.is_leader,
                    },
                ));
                next.leader = worker.is_leader;
            }
            self.workers.insert(worker.id.clone(), next);
        }
    }

    /// A change seen from outside: it opens an event, unless the open one has not stabilized
    /// yet (the change is part of the same disturbance: a lost leader's key expires after its
    /// heartbeat, a new leader follows).
    fn open_event(
        &mut self,
        t_ms: u64,
        live: &BTreeSet<String>,
        state: &AttachState,
        out: &mut Vec<Observation>,
    ) {
        if let Some(open) = self.open.as_mut().filter(|o| o.stabilized_at_ms.is_none()) {
            let label = describe(
                &open.live_at_start,
                live,
                &open.leader_at_start,
                &state.leader,
            );
            if !label.is_empty() {
                open.action = Action::Observed(label);
            }
            return;
        }
        self.close(t_ms, out);
        let label = describe(&self.live, live, &self.leader, &state.leader);
        self.open = Some(Open {
            index: self.next_event,
            action: Action::Observed(label),
            t_start_ms: t_ms,
            before: self.assignments.clone(),
            live_at_start: self.live.clone(),
            workers_before: self.live.len(),
            leader_at_start: self.leader.clone(),
            leader_changed: state.leader != self.leader && self.leader.is_some(),
            stabilized_at_ms: None,
            after: None,
            workers_after: None,
            versions_published: 0,
            versions_to_stable: None,
            last_version_ms: None,
            first_assignments: Vec::new(),
        });
        self.next_event += 1;
    }

    /// Stabilization and quiescence of the open event.
    fn track(&mut self, t_ms: u64, state: &AttachState, out: &mut Vec<Observation>) {
        let Some(open) = &mut self.open else { return };
        if open.stabilized_at_ms.is_none() && state.is_valid() && !self.live.is_empty() {
            let label = describe(
                &open.live_at_start,
                &self.live,
                &open.leader_at_start,
                &state.leader,
            );
            if !label.is_empty() {
                open.action = Action::Observed(label);
            }
            open.stabilized_at_ms = Some(t_ms);
            open.versions_to_stable = Some(open.versions_published);
            open.after = Some(state.live_assignments.clone());
            open.workers_after = Some(self.live.len());
            open.first_assignments = self
                .workers
                .iter()
                .filter(|(_, w)| w.started_ms >= open.t_start_ms)
                .filter_map(|(id, w)| {
                    Some(FirstAssignment {
                        worker_id: id.clone(),
                        after_ms: w.first_assignment_ms?.saturating_sub(open.t_start_ms),
                    })
                })
                .collect();
            let measurement = measure(open, false, self.live.len());
            self.last = Some(measurement.clone());
            out.push(Observation::Measurement(measurement));
        }
        let quiet = open.stabilized_at_ms.is_some_and(|stable| {
            let last = open.last_version_ms.map_or(stable, |v| v.max(stable));
            t_ms.saturating_sub(last) >= self.settings.quiet_ms
        });
        if quiet {
            self.close(t_ms, out);
        }
    }

    fn close(&mut self, t_ms: u64, out: &mut Vec<Observation>) {
        let Some(open) = self.open.take() else { return };
        let quiet = open.stabilized_at_ms.is_some_and(|stable| {
            let last = open.last_version_ms.map_or(stable, |v| v.max(stable));
            t_ms.saturating_sub(last) >= self.settings.quiet_ms
        });
        let measurement = measure(&open, quiet, self.live.len());
        self.last = Some(measurement.clone());
        out.push(Observation::Measurement(measurement));
    }

    /// Problems that last become findings, once each until they clear.
    fn check(&mut self, t_ms: u64, state: &AttachState, out: &mut Vec<Observation>) {
        let now: BTreeMap<&str, &String> = state
            .findings
            .iter()
            .map(|text| (problem_key(text), text))
            .collect();
        self.problem_since
            .retain(|key, _| now.contains_key(key.as_str()));
        self.reported.retain(|key| now.contains_key(key.as_str()));
        for (key, text) in now {
            let since = *self.problem_since.entry(key.to_owned()).or_insert(t_ms);
            if t_ms.saturating_sub(since) >= self.settings.finding_after_ms
                && self.reported.insert(key.to_owned())
            {
                self.findings += 1;
                out.push(Observation::Finding(Finding {
                    t_ms,
                    check: check_of(text),
                    message: format!("{text} (for {} s)", t_ms.saturating_sub(since) / 1000),
                }));
            }
        }
    }
}

/// The figures of `open` so far.
fn measure(open: &Open, quiet: bool, live_now: usize) -> Measurement {
    let stabilization_ms = open
        .stabilized_at_ms
        .map(|t| t.saturating_sub(open.t_start_ms));
    let (moved_partitions, moved_percent, balance_ratio) = match &open.after {
        Some(after) => {
            let moved = movement(&open.before, after);
            (moved.moved, moved.percent(), balance(after))
        }
        None => (0, 0.0, None),
    };
    Measurement {
        event: open.index,
        action: open.action.clone(),
        t_start_ms: open.t_start_ms,
        stabilization_ms,
        first_assignments: open.first_assignments.clone(),
        quiescence_ms: quiet.then(|| {
            open.last_version_ms
                .map_or(0, |v| v.saturating_sub(open.t_start_ms))
        }),
        versions_published: open.versions_published,
        versions_to_stable: open.versions_to_stable,
        moved_partitions,
        moved_percent,
        balance: balance_ratio.filter(|b| b.is_finite()),
        workers_before: open.workers_before,
        workers_after: open.workers_after.unwrap_or(live_now),
        // Nothing outside the cluster acts during an attach: no event is superseded.
        superseded_by: None,
        leader_changed: Some(open.leader_changed),
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
