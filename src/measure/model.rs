//! The controller's model of the cluster: the workers as their hosts report them, and the KV
//! state as the observer reads it. Pure: inputs are values with times, outputs are notes.
//!
//! Liveness of a worker comes from its host (started until it ended, was killed, or its host
//! died). Ownership, versions and the leader come from KV only.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::control::{HostEvent, HostTelemetry};
use crate::observation::{ClusterEventKind, WorkerView};
use crate::parti::assignment::Assignment;
use crate::parti::partition::Partition;
use crate::parti::state::State;
use crate::parti::strategy::AssignmentMap;

/// Which parti bucket a KV change is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketRole {
    StableId,
    Election,
    Heartbeat,
    Assignment,
}

/// One entry seen by the observer's watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvChange {
    pub role: BucketRole,
    pub key: String,
    /// `None` for a delete or purge.
    pub value: Option<Vec<u8>>,
}

/// A worker the hosts report as running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerRecord {
    pub host: u32,
    pub slot: u64,
    pub worker_id: Option<String>,
    pub state: State,
    pub is_leader: bool,
    pub version: i64,
    pub partitions: usize,
    pub started_ms: u64,
    pub first_assignment_ms: Option<u64>,
}

impl WorkerRecord {
    /// A worker first heard of at `started_ms`, with no ID, leadership or assignment yet.
    fn new(host: u32, slot: u64, state: State, started_ms: u64) -> Self {
        Self {
            host,
            slot,
            worker_id: None,
            state,
            is_leader: false,
            version: 0,
            partitions: 0,
            started_ms,
            first_assignment_ms: None,
        }
    }
}

/// What an input changed that others care about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A higher assignment version than any seen before appeared in KV.
    NewVersion { version: i64 },
    /// An assignment key was written with a lower version than it held before.
    VersionDecreased { key: String, from: i64, to: i64 },
    /// A worker ended (stopped, killed, failed, or its host died).
    WorkerEnded {
        host: u32,
        slot: u64,
        worker_id: Option<String>,
        how: String,
    },
}

/// The cluster as far as the controller knows it.
#[derive(Clone, Debug, Default)]
pub struct ClusterModel {
    partitions: Vec<Partition>,
    workers: BTreeMap<(u32, u64), WorkerRecord>,
    /// Workers that ended, by host and slot (a host never reuses a slot): a report that was
    /// on its way when a worker ended must not bring it back.
    ended: BTreeSet<(u32, u64)>,
    /// Host processes that exited (a host number is never reused in a run).
    gone_hosts: BTreeSet<u32>,
    assignments: BTreeMap<String, Assignment>,
    heartbeats: BTreeSet<String>,
    leader_value: Option<String>,
    key_versions: BTreeMap<String, i64>,
    max_version: i64,
    /// [`Self::coverage_problems`] of the current state, computed on first use after a change
    /// (the engine asks several times per input and on every tick).
    coverage: OnceCell<Vec<String>>,
}

impl ClusterModel {
    pub fn new(partitions: Vec<Partition>) -> Self {
        Self {
            partitions,
            ..Self::default()
        }
    }

    /// Running workers.
    pub fn workers(&self) -> impl Iterator<Item = &WorkerRecord> {
        self.workers.values()
    }

    pub fn live_count(&self) -> usize {
        self.workers.len()
    }

    /// Stable IDs of running workers.
    pub fn live_ids(&self) -> BTreeSet<String> {
        self.workers
            .values()
            .filter_map(|w| w.worker_id.clone())
            .collect()
    }

    /// The leader named by the `leader` key (`<id>:<unix>`).
    pub fn leader(&self) -> Option<&str> {
        self.leader_value
            .as_deref()
            .and_then(crate::parti::election::leader_id)
    }

    pub fn heartbeats(&self) -> &BTreeSet<String> {
        &self.heartbeats
    }

    /// The highest assignment version seen in KV.
    pub fn max_version(&self) -> i64 {
        self.max_version
    }

    /// Workers as the table shows them.
    pub fn views(&self) -> Vec<WorkerView> {
        let mut views: Vec<WorkerView> = self
            .workers
            .values()
            .map(|w| WorkerView {
                host: w.host,
                slot: w.slot,
                worker_id: w.worker_id.clone(),
                state: w.state,
                is_leader: w.is_leader,
                version: w.version,
                partitions: w.partitions,
            })
            .collect();
        views.sort_by(|a, b| view_order(a).cmp(&view_order(b)));
        views
    }

    /// Apply a host's event at `t_ms` (run time).
    pub fn apply_event(&mut self, t_ms: u64, event: &HostEvent) -> Vec<Note> {
        let Some(slot) = event.slot else {
            return Vec::new();
        };
        let key = (event.host, slot);
        if let ClusterEventKind::WorkerEnded { how } = &event.kind {
            self.coverage.take();
            self.ended.insert(key);
            return match self.workers.remove(&key) {
                Some(record) => vec![Note::WorkerEnded {
                    host: event.host,
                    slot,
                    worker_id: record.worker_id,
                    how: how.clone(),
                }],
                None => Vec::new(),
            };
        }
        if self.ended.contains(&key) || self.gone_hosts.contains(&event.host) {
            return Vec::new();
        }
        let record = self
            .workers
            .entry(key)
            .or_insert_with(|| WorkerRecord::new(event.host, slot, State::Init, t_ms));
        if event.worker_id.is_some() && record.worker_id != event.worker_id {
            record.worker_id.clone_from(&event.worker_id);
            // Coverage counts the owners among running workers' IDs.
            self.coverage.take();
        }
        match &event.kind {
            ClusterEventKind::StateChanged { to, .. } => record.state = *to,
            ClusterEventKind::Leadership { is_leader } => record.is_leader = *is_leader,
            ClusterEventKind::AssignmentApplied { version, total, .. } => {
                record.version = *version;
                record.partitions = *total;
                record.first_assignment_ms.get_or_insert(t_ms);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Apply a host's periodic report: refresh the state of the workers it lists.
    pub fn apply_telemetry(&mut self, t_ms: u64, telemetry: &HostTelemetry) {
        for view in &telemetry.workers {
            if self.ended.contains(&(view.host, view.slot)) || self.gone_hosts.contains(&view.host)
            {
                continue;
            }
            let record = self
                .workers
                .entry((view.host, view.slot))
                .or_insert_with(|| WorkerRecord::new(view.host, view.slot, view.state, t_ms));
            if record.worker_id != view.worker_id {
                record.worker_id.clone_from(&view.worker_id);
                self.coverage.take();
            }
            record.state = view.state;
            record.is_leader = view.is_leader;
            if view.version > record.version && record.first_assignment_ms.is_none() {
                record.first_assignment_ms = Some(t_ms);
            }
            record.version = view.version;
            record.partitions = view.partitions;
        }
    }

    /// A host is gone: all of its workers are.
    pub fn host_gone(&mut self, host: u32, how: &str) -> Vec<Note> {
        self.coverage.take();
        let gone: Vec<(u32, u64)> = self
            .workers
            .keys()
            .filter(|(h, _)| *h == host)
            .copied()
            .collect();
        self.ended.extend(gone.iter().copied());
        self.gone_hosts.insert(host);
        gone.into_iter()
            .filter_map(|key| self.workers.remove(&key))
            .map(|w| Note::WorkerEnded {
                host: w.host,
                slot: w.slot,
                worker_id: w.worker_id,
                how: how.to_owned(),
            })
            .collect()
    }

    /// Whether a change only refreshes a heartbeat already known (the common case: every
    /// worker writes one every heartbeat interval), which changes nothing the engine measures.
    pub fn is_heartbeat_refresh(&self, change: &KvChange) -> bool {
        change.role == BucketRole::Heartbeat
            && change.value.is_some()
            && crate::parti::heartbeat::worker_of(&change.key)
                .is_some_and(|worker| self.heartbeats.contains(worker))
    }

    /// Apply a KV change seen by the observer.
    pub fn apply_kv(&mut self, change: &KvChange) -> Vec<Note> {
        // Coverage depends on the assignments and the running workers only: a heartbeat or an
        // ID renewal (most of the changes, hundreds a second in a large fleet) keeps it.
        if change.role == BucketRole::Assignment {
            self.coverage.take();
        }
        let mut notes = Vec::new();
        match change.role {
            BucketRole::StableId => {}
            BucketRole::Election => {
                if change.key == crate::parti::election::LEADER_KEY {
                    self.leader_value = change
                        .value
                        .as_ref()
                        .map(|v| String::from_utf8_lossy(v).into_owned());
                }
            }
            BucketRole::Heartbeat => {
                if let Some(worker) = crate::parti::heartbeat::worker_of(&change.key) {
                    if change.value.is_some() {
                        self.heartbeats.insert(worker.to_owned());
                    } else {
                        self.heartbeats.remove(worker);
                    }
                }
            }
            BucketRole::Assignment => {
                let Some(worker) = crate::parti::publisher::assignment_worker(&change.key) else {
                    return notes;
                };
                let decoded = change
                    .value
                    .as_ref()
                    .and_then(|v| Assignment::decode(v).ok());
                match decoded {
                    Some(assignment) => {
                        let version = assignment.version;
                        if let Some(previous) =
                            self.key_versions.insert(change.key.clone(), version)
                            && version < previous
                        {
                            notes.push(Note::VersionDecreased {
                                key: change.key.clone(),
                                from: previous,
                                to: version,
                            });
                        }
                        if version > self.max_version {
                            self.max_version = version;
                            notes.push(Note::NewVersion { version });
                        }
                        self.assignments.insert(worker.to_owned(), assignment);
                    }
                    None => {
                        self.assignments.remove(worker);
                    }
                }
            }
        }
        notes
    }

    /// Partition → owners among running workers, from KV.
    fn owners(&self) -> HashMap<&[String], Vec<&str>> {
        let live = self.live_ids();
        let mut owners: HashMap<&[String], Vec<&str>> = HashMap::new();
        for (worker, assignment) in &self.assignments {
            if live.contains(worker) {
                for partition in &assignment.partitions {
                    owners
                        .entry(partition.keys.as_slice())
                        .or_default()
                        .push(worker.as_str());
                }
            }
        }
        owners
    }

    /// Problems with ownership among running workers: partitions with zero or several owners,
    /// and unknown partitions. Empty means every partition is owned exactly once.
    pub fn coverage_problems(&self) -> &[String] {
        self.coverage
            .get_or_init(|| self.compute_coverage_problems())
    }

    fn compute_coverage_problems(&self) -> Vec<String> {
        let owners = self.owners();
        let mut problems = Vec::new();
        for partition in &self.partitions {
            match owners
                .get(partition.keys.as_slice())
                .map(Vec::len)
                .unwrap_or(0)
            {
                1 => {}
                0 => problems.push(format!("partition {} has no owner", partition.id())),
                n => problems.push(format!(
                    "partition {} has {n} owners: {}",
                    partition.id(),
                    owners[partition.keys.as_slice()].join(", ")
                )),
            }
        }
        let known: HashSet<&[String]> = self.partitions.iter().map(|p| p.keys.as_slice()).collect();
        let mut unknown: Vec<&[String]> = owners
            .keys()
            .filter(|k| !known.contains(*k))
            .copied()
            .collect();
        unknown.sort_unstable();
        for keys in unknown {
            problems.push(format!("unknown partition {} is assigned", keys.join("-")));
        }
        problems
    }

    /// Whether the cluster is stable (DESIGN.md §4), or why not. `expected_live` is the number of
    /// workers the current event should end with.
    pub fn unstable_reason(&self, expected_live: Option<usize>) -> Option<String> {
        if let Some(expected) = expected_live
            && self.workers.len() != expected
        {
            return Some(format!(
                "{} running, {expected} expected",
                crate::text::plural(self.workers.len() as u64, "worker")
            ));
        }
        if self.workers.is_empty() {
            return None;
        }
        if let Some(w) = self.workers.values().find(|w| w.state != State::Stable) {
            let name = w
                .worker_id
                .clone()
                .unwrap_or_else(|| format!("host {} slot {}", w.host, w.slot));
            return Some(format!("{name} is {}", w.state));
        }
        if let Some(problem) = self.coverage_problems().first().cloned() {
            return Some(problem);
        }
        let newest = self.max_version;
        if let Some(w) = self.workers.values().find(|w| w.version != newest) {
            let name = w.worker_id.clone().unwrap_or_default();
            return Some(format!("{name} holds version {} of {newest}", w.version));
        }
        None
    }

    /// The current owner map of running workers, as an assignment map (every running worker has
    /// an entry).
    pub fn assignment_map(&self) -> AssignmentMap {
        self.assignment_map_with(None)
    }

    /// The same, with one more worker's KV assignment (a worker that just ended).
    pub fn assignment_map_with(&self, extra: Option<&str>) -> AssignmentMap {
        let mut ids = self.live_ids();
        ids.extend(extra.map(str::to_owned));
        let mut map: AssignmentMap = ids.into_iter().map(|id| (id, Vec::new())).collect();
        for (worker, partitions) in map.iter_mut() {
            if let Some(assignment) = self.assignments.get(worker) {
                partitions.clone_from(&assignment.partitions);
            }
        }
        map
    }

    /// Whether every running worker's KV assignment carries the same version (a complete
    /// publish), so ownership can be judged.
    pub fn publish_complete(&self) -> bool {
        let live = self.live_ids();
        let mut versions = BTreeSet::new();
        for worker in &live {
            match self.assignments.get(worker) {
                Some(assignment) => versions.insert(assignment.version),
                // A running worker without a key: a publish is still under way (stale cleanup
                // deletes before the new values are written) or left it out.
                None => return false,
            };
        }
        versions.len() == 1 && versions.contains(&self.max_version)
    }

    /// Non-running workers that hold partitions at the newest version.
    pub fn dead_owners(&self) -> Vec<String> {
        let live = self.live_ids();
        self.assignments
            .iter()
            .filter(|(worker, a)| {
                !live.contains(*worker) && !a.partitions.is_empty() && a.version == self.max_version
            })
            .map(|(worker, _)| worker.clone())
            .collect()
    }

    /// Running workers that claim leadership.
    pub fn claimed_leaders(&self) -> Vec<String> {
        self.claimed_leaders_outside(&[])
    }

    /// [`Self::claimed_leaders`] leaving out the workers of `hosts` (frozen or cut off: their
    /// last report cannot change, and they cannot act on NATS).
    pub fn claimed_leaders_outside(&self, hosts: &[u32]) -> Vec<String> {
        self.workers
            .values()
            .filter(|w| w.is_leader && !hosts.contains(&w.host))
            .filter_map(|w| w.worker_id.clone())
            .collect()
    }

    /// Stable IDs claimed by more than one running worker.
    pub fn duplicate_ids(&self) -> Vec<String> {
        let mut seen = BTreeMap::new();
        for id in self.workers.values().filter_map(|w| w.worker_id.as_ref()) {
            *seen.entry(id.clone()).or_insert(0) += 1;
        }
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(id, _)| id)
            .collect()
    }
}

/// The order workers are listed in: by stable ID with its number compared as a number
/// (`worker-2` before `worker-10`), then workers still without an ID in start order.
fn view_order(view: &WorkerView) -> (bool, &str, u64, u32, u64) {
    match view.worker_id.as_deref() {
        Some(id) => {
            let digits = id.len() - id.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            let (prefix, number) = id.split_at(id.len() - digits);
            (
                false,
                prefix,
                number.parse().unwrap_or(0),
                view.host,
                view.slot,
            )
        }
        None => (true, "", 0, view.host, view.slot),
    }
}
