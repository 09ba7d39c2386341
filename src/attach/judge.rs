//! The judgement of an attached cluster, pure: the four buckets as read ([`KvState`], each key
//! with the server time it was written), the moment `now` and the buckets' TTLs go in, an
//! [`AttachState`] comes out (workers with their heartbeat ages, leader, versions, partitions
//! per worker, and the findings that make the cluster invalid; none when it is valid).
//!
//! Nothing here knows the partitions a cluster should run: the partitions are those the
//! assignments hold (plus `expected_partitions`, when the operator names them), and each must
//! be owned by exactly one live worker.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::measure::model::BucketRole;
use crate::parti::assignment::Assignment;
use crate::parti::partition::Partition;
use crate::parti::strategy::AssignmentMap;

/// One key's value as read, with the server's time of the write (Unix milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub value: String,
    pub written_unix_ms: i64,
}

/// The four buckets as read: a snapshot (`attach --once`) or the sum of the watches (live).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KvState {
    /// Stable-ID key (a worker ID) → its value.
    pub ids: BTreeMap<String, Stored>,
    /// The `leader` key of the election bucket.
    pub leader: Option<Stored>,
    /// Worker ID → its heartbeat.
    pub heartbeats: BTreeMap<String, Stored>,
    /// Worker ID → its assignment (the assignment bucket has no TTL).
    pub assignments: BTreeMap<String, Assignment>,
    /// Assignment keys whose value is not an assignment.
    pub undecodable: BTreeSet<String>,
}

/// One entry of a bucket: a put (`value` set) or a delete or purge (`None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvWrite {
    pub role: BucketRole,
    pub key: String,
    pub value: Option<Vec<u8>>,
    pub written_unix_ms: i64,
}

impl KvState {
    /// Apply one entry (a key read once, or a change a watch delivered).
    pub fn apply(&mut self, write: &KvWrite) {
        let stored = write.value.as_ref().map(|value| Stored {
            value: String::from_utf8_lossy(value).into_owned(),
            written_unix_ms: write.written_unix_ms,
        });
        match write.role {
            BucketRole::StableId => set(&mut self.ids, &write.key, stored),
            BucketRole::Election => {
                if write.key == crate::parti::election::LEADER_KEY {
                    self.leader = stored;
                }
            }
            BucketRole::Heartbeat => {
                if let Some(worker) = crate::parti::heartbeat::worker_of(&write.key) {
                    set(&mut self.heartbeats, worker, stored);
                }
            }
            BucketRole::Assignment => {
                let Some(worker) = crate::parti::publisher::assignment_worker(&write.key) else {
                    return;
                };
                self.undecodable.remove(&write.key);
                self.assignments.remove(worker);
                if let Some(value) = &write.value {
                    match Assignment::decode(value) {
                        Ok(assignment) => {
                            self.assignments.insert(worker.to_owned(), assignment);
                        }
                        Err(_) => {
                            self.undecodable.insert(write.key.clone());
                        }
                    }
                }
            }
        }
    }
}

fn set(map: &mut BTreeMap<String, Stored>, key: &str, stored: Option<Stored>) {
    match stored {
        Some(stored) => {
            map.insert(key.to_owned(), stored);
        }
        None => {
            map.remove(key);
        }
    }
}

/// The buckets' MaxAge, as the server reports them (zero: no expiry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttls {
    pub stable_id: Duration,
    pub election: Duration,
    pub heartbeat: Duration,
}

impl Ttls {
    /// Whether a key written at `written_unix_ms` has outlived `ttl` at `now_unix_ms` (the
    /// server expires it; a watch never says so).
    fn expired(ttl: Duration, written_unix_ms: i64, now_unix_ms: i64) -> bool {
        !ttl.is_zero() && age_ms(written_unix_ms, now_unix_ms) > millis(ttl)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The age of a write at `now` (zero for a write stamped after `now`: clocks differ).
fn age_ms(written_unix_ms: i64, now_unix_ms: i64) -> u64 {
    u64::try_from(now_unix_ms.saturating_sub(written_unix_ms)).unwrap_or(0)
}

/// Whether a worker is alive as the buckets show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// Its heartbeat is younger than the heartbeat bucket's TTL.
    Live,
    /// Its heartbeat is older than the TTL or gone, yet it still holds partitions or its
    /// stable ID.
    Stale,
}

/// One worker as the buckets show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkerKv {
    pub id: String,
    pub state: Liveness,
    /// Since the server stored its last heartbeat; `None` when it has none.
    pub heartbeat_age_ms: Option<u64>,
    /// Partitions its assignment holds.
    pub partitions: usize,
    /// Its assignment's version; `None` without an assignment.
    pub assignment_version: Option<i64>,
    pub is_leader: bool,
    /// Whether it holds its stable-ID key.
    pub holds_id: bool,
}

/// The cluster as an attach sees it at one moment: what `attach --once --json` prints and what
/// the live attach keeps current.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AttachState {
    /// Wall-clock time of the judgement, Unix milliseconds.
    pub at_unix_ms: i64,
    pub workers: Vec<WorkerKv>,
    /// The worker the `leader` key names, when it is there.
    pub leader: Option<String>,
    /// The highest assignment version in the bucket.
    pub version: i64,
    /// Worker ID → partitions its assignment holds (every listed worker).
    pub partitions_per_worker: BTreeMap<String, usize>,
    /// Partitions held by live workers, counted once per holder.
    pub partitions_assigned: usize,
    /// Distinct partitions the assignments hold (and the expected ones).
    pub partitions_known: usize,
    /// The heartbeat bucket's TTL, in milliseconds, that staleness is judged by.
    pub heartbeat_ttl_ms: u64,
    /// Why the cluster is not valid; empty when it is.
    pub findings: Vec<String>,
    /// Live workers' partitions (for movement and balance across an event).
    #[serde(skip)]
    pub live_assignments: AssignmentMap,
}

impl AttachState {
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }

    /// The IDs of live workers.
    pub fn live(&self) -> BTreeSet<&str> {
        self.workers
            .iter()
            .filter(|w| w.state == Liveness::Live)
            .map(|w| w.id.as_str())
            .collect()
    }

    /// The IDs of stale workers.
    pub fn stale(&self) -> Vec<&str> {
        self.workers
            .iter()
            .filter(|w| w.state == Liveness::Stale)
            .map(|w| w.id.as_str())
            .collect()
    }
}

/// `1.5 s`, `850 ms`.
fn human(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// Judge `kv` at `now_unix_ms` with the buckets' `ttls`. `expected_partitions` adds partitions
/// that must be owned even if no assignment holds them (empty: only those the assignments hold).
pub fn judge(
    kv: &KvState,
    now_unix_ms: i64,
    ttls: &Ttls,
    expected_partitions: &[Partition],
) -> AttachState {
    let mut findings = Vec::new();
    let heartbeat_ttl_ms = millis(ttls.heartbeat);
    let ids: BTreeSet<&str> = kv
        .ids
        .iter()
        .filter(|(_, s)| !Ttls::expired(ttls.stable_id, s.written_unix_ms, now_unix_ms))
        .map(|(id, _)| id.as_str())
        .collect();
    let leader_value = kv
        .leader
        .as_ref()
        .filter(|s| !Ttls::expired(ttls.election, s.written_unix_ms, now_unix_ms));
    let leader = leader_value
        .and_then(|s| crate::parti::election::leader_id(&s.value))
        .map(str::to_owned);

    // Every worker any bucket names.
    let mut names: BTreeSet<&str> = ids.clone();
    names.extend(kv.heartbeats.keys().map(String::as_str));
    names.extend(kv.assignments.keys().map(String::as_str));
    let mut workers = Vec::new();
    for id in names {
        let assignment = kv.assignments.get(id);
        let partitions = assignment.map_or(0, |a| a.partitions.len());
        let age = kv
            .heartbeats
            .get(id)
            .map(|s| age_ms(s.written_unix_ms, now_unix_ms));
        let fresh = age.is_some_and(|age| heartbeat_ttl_ms == 0 || age <= heartbeat_ttl_ms);
        let holds_id = ids.contains(id);
        let state = if fresh {
            Liveness::Live
        } else if partitions > 0 || holds_id {
            Liveness::Stale
        } else {
            // An old heartbeat or an empty assignment of a worker that left: nothing to judge.
            continue;
        };
        if state == Liveness::Stale {
            let holds = match (partitions, holds_id) {
                (0, _) => "its stable ID".to_owned(),
                (n, true) => format!("{n} partitions and its stable ID"),
                (n, false) => format!("{n} partitions"),
            };
            findings.push(match age {
                Some(age) => format!(
                    "{id} is stale: its heartbeat is {} old (TTL {}) but it holds {holds}",
                    human(age),
                    human(heartbeat_ttl_ms)
                ),
                None => format!("{id} is stale: it has no heartbeat but holds {holds}"),
            });
        }
        workers.push(WorkerKv {
            id: id.to_owned(),
            state,
            heartbeat_age_ms: age,
            partitions,
            assignment_version: assignment.map(|a| a.version),
            is_leader: leader.as_deref() == Some(id),
            holds_id,
        });
    }
    workers.sort_by(|a, b| worker_order(&a.id).cmp(&worker_order(&b.id)));
    let live: BTreeSet<&str> = workers
        .iter()
        .filter(|w| w.state == Liveness::Live)
        .map(|w| w.id.as_str())
        .collect();
    if live.is_empty() {
        findings.push("no live workers (no fresh heartbeat)".into());
    }
    for worker in &live {
        if !ids.contains(worker) {
            findings.push(format!("live worker {worker} holds no stable ID"));
        }
        if !kv.assignments.contains_key(*worker) {
            findings.push(format!("live worker {worker} has no assignment"));
        }
    }
    match (leader_value, &leader) {
        (None, _) => findings.push("no leader (no leader key)".into()),
        (Some(value), None) => findings.push(format!(
            "leader value {:?} is not <workerID>:<unix seconds>",
            value.value
        )),
        (Some(_), Some(id)) if !live.contains(id.as_str()) => {
            findings.push(format!("leader {id} has no fresh heartbeat"));
        }
        _ => {}
    }
    let versions: BTreeSet<i64> = live
        .iter()
        .filter_map(|w| kv.assignments.get(*w).map(|a| a.version))
        .collect();
    if versions.len() > 1 {
        findings.push(format!("live workers hold different versions {versions:?}"));
    }

    // Ownership: every known partition owned by exactly one live worker.
    let mut known: BTreeMap<&[String], &Partition> = BTreeMap::new();
    for partition in expected_partitions
        .iter()
        .chain(kv.assignments.values().flat_map(|a| a.partitions.iter()))
    {
        known.entry(partition.keys.as_slice()).or_insert(partition);
    }
    let mut owners: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
    let mut live_assignments = AssignmentMap::new();
    let mut partitions_assigned = 0;
    for worker in &live {
        let partitions = kv
            .assignments
            .get(*worker)
            .map_or(&[][..], |a| a.partitions.as_slice());
        partitions_assigned += partitions.len();
        live_assignments.insert((*worker).to_owned(), partitions.to_vec());
        for partition in partitions {
            owners
                .entry(partition.keys.as_slice())
                .or_default()
                .push(worker);
        }
    }
    let unowned: Vec<&Partition> = known
        .iter()
        .filter(|(keys, _)| !owners.contains_key(*keys))
        .map(|(_, p)| *p)
        .collect();
    if let Some(first) = unowned.first() {
        findings.push(format!(
            "{} without a live owner (first: {})",
            crate::text::plural(unowned.len() as u64, "partition"),
            first.id()
        ));
    }
    for (keys, holders) in &owners {
        if holders.len() > 1 {
            findings.push(format!(
                "{} has {} owners {holders:?}",
                keys.join("-"),
                holders.len()
            ));
        }
    }
    if !expected_partitions.is_empty() {
        let expected: BTreeSet<&[String]> = expected_partitions
            .iter()
            .map(|p| p.keys.as_slice())
            .collect();
        let extra: Vec<String> = owners
            .keys()
            .filter(|k| !expected.contains(*k))
            .map(|k| k.join("-"))
            .collect();
        if let Some(first) = extra.first() {
            findings.push(format!(
                "{} assigned that --partitions does not name (first: {first})",
                crate::text::plural(extra.len() as u64, "unknown partition"),
            ));
        }
    }
    for key in &kv.undecodable {
        findings.push(format!("{key} is not an assignment (undecodable JSON)"));
    }
    AttachState {
        at_unix_ms: now_unix_ms,
        partitions_per_worker: workers
            .iter()
            .map(|w| (w.id.clone(), w.partitions))
            .collect(),
        workers,
        leader,
        version: kv
            .assignments
            .values()
            .map(|a| a.version)
            .max()
            .unwrap_or(0),
        partitions_assigned,
        partitions_known: known.len(),
        heartbeat_ttl_ms,
        findings,
        live_assignments,
    }
}

/// Workers in order of their ID, its number compared as a number (`worker-2` before
/// `worker-10`).
pub fn worker_order(id: &str) -> (&str, u64, &str) {
    let digits = id.len() - id.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (prefix, number) = id.split_at(id.len() - digits);
    (prefix, number.parse().unwrap_or(u64::MAX), id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parti::source::numbered_partitions;

    const NOW: i64 = 1_762_703_010_000;
    const TTLS: Ttls = Ttls {
        stable_id: Duration::from_secs(5),
        election: Duration::from_secs(5),
        heartbeat: Duration::from_millis(1500),
    };

    fn stored(value: &str, age_ms: i64) -> Stored {
        Stored {
            value: value.into(),
            written_unix_ms: NOW - age_ms,
        }
    }

    /// Two live workers at version 3 sharing four partitions, worker-0 leading.
    fn valid() -> KvState {
        let partitions = numbered_partitions(4);
        let mut kv = KvState {
            leader: Some(stored("worker-0:1762703004", 1000)),
            ..KvState::default()
        };
        for (i, owned) in [[0, 1], [2, 3]].into_iter().enumerate() {
            let worker = format!("worker-{i}");
            kv.ids
                .insert(worker.clone(), stored("2025-11-09T15:43:24Z", 2000));
            kv.heartbeats
                .insert(worker.clone(), stored("2025-11-09T15:43:29.5Z", 400));
            kv.assignments.insert(
                worker,
                Assignment {
                    version: 3,
                    lifecycle: "cold_start".into(),
                    partitions: owned.iter().map(|p| partitions[*p].clone()).collect(),
                },
            );
        }
        kv
    }

    fn findings(kv: &KvState) -> Vec<String> {
        judge(kv, NOW, &TTLS, &[]).findings
    }

    fn has(kv: &KvState, text: &str) -> bool {
        let found = findings(kv);
        assert!(
            found.iter().any(|f| f.contains(text)),
            "{text:?} not in {found:?}"
        );
        true
    }

    #[test]
    fn a_valid_cluster_has_no_findings_and_its_figures() {
        let state = judge(&valid(), NOW, &TTLS, &numbered_partitions(4));
        assert_eq!(state.findings, Vec::<String>::new());
        assert_eq!(state.leader.as_deref(), Some("worker-0"));
        assert_eq!(state.version, 3);
        assert_eq!(state.partitions_assigned, 4);
        assert_eq!(state.partitions_known, 4);
        assert_eq!(state.heartbeat_ttl_ms, 1500);
        assert_eq!(
            state.partitions_per_worker,
            BTreeMap::from([("worker-0".into(), 2), ("worker-1".into(), 2)])
        );
        let w0 = &state.workers[0];
        assert_eq!(
            (w0.state, w0.heartbeat_age_ms, w0.is_leader, w0.holds_id),
            (Liveness::Live, Some(400), true, true)
        );
        assert_eq!(state.live().len(), 2);
    }

    #[test]
    fn a_heartbeat_older_than_the_ttl_makes_a_holder_stale() {
        let mut kv = valid();
        kv.heartbeats
            .insert("worker-1".into(), stored("2025-11-09T15:43:27Z", 1600));
        let state = judge(&kv, NOW, &TTLS, &[]);
        assert_eq!(state.stale(), vec!["worker-1"]);
        assert!(has(
            &kv,
            "worker-1 is stale: its heartbeat is 1.6 s old (TTL 1.5 s) but it holds 2 partitions and its stable ID"
        ));
        assert!(has(
            &kv,
            "2 partitions without a live owner (first: partition-2)"
        ));
        // Exactly at the TTL it is still live.
        kv.heartbeats.insert("worker-1".into(), stored("x", 1500));
        assert!(findings(&kv).is_empty(), "{:?}", findings(&kv));
    }

    #[test]
    fn a_missing_heartbeat_makes_a_holder_stale_and_a_bare_leftover_is_ignored() {
        let mut kv = valid();
        kv.heartbeats.remove("worker-1");
        assert!(has(
            &kv,
            "worker-1 is stale: it has no heartbeat but holds 2 partitions"
        ));
        // Holding only its stable ID is stale too.
        kv.assignments
            .get_mut("worker-1")
            .expect("w1")
            .partitions
            .clear();
        assert!(has(
            &kv,
            "worker-1 is stale: it has no heartbeat but holds its stable ID"
        ));
        // With the ID expired and an empty assignment, nothing of worker-1 is left to judge.
        kv.ids.insert("worker-1".into(), stored("t", 6000));
        let state = judge(&kv, NOW, &TTLS, &[]);
        assert!(state.workers.iter().all(|w| w.id != "worker-1"));
        // An expired heartbeat of a worker that holds nothing is no worker either (a watch
        // keeps what the server expired).
        kv.heartbeats.insert("worker-7".into(), stored("t", 9000));
        let state = judge(&kv, NOW, &TTLS, &[]);
        assert!(state.workers.iter().all(|w| w.id != "worker-7"));
    }

    #[test]
    fn ownership_leader_and_version_problems_are_named() {
        let partitions = numbered_partitions(4);
        let mut kv = valid();
        kv.assignments
            .get_mut("worker-1")
            .expect("w1")
            .partitions
            .push(partitions[0].clone());
        assert!(has(
            &kv,
            "partition-0 has 2 owners [\"worker-0\", \"worker-1\"]"
        ));

        let mut kv = valid();
        kv.assignments.get_mut("worker-1").expect("w1").version = 4;
        assert!(has(&kv, "live workers hold different versions {3, 4}"));
        assert_eq!(judge(&kv, NOW, &TTLS, &[]).version, 4);

        let mut kv = valid();
        kv.leader = None;
        assert!(has(&kv, "no leader"));
        kv.leader = Some(stored("worker-0", 10));
        assert!(has(&kv, "is not <workerID>:<unix seconds>"));
        kv.leader = Some(stored("worker-9:17", 10));
        assert!(has(&kv, "leader worker-9 has no fresh heartbeat"));
        // A leader key past the election TTL is gone (the server expires it).
        kv.leader = Some(stored("worker-0:17", 5001));
        assert!(has(&kv, "no leader"));

        let mut kv = valid();
        kv.ids.remove("worker-1");
        assert!(has(&kv, "live worker worker-1 holds no stable ID"));
        let mut kv = valid();
        kv.assignments.remove("worker-1");
        assert!(has(&kv, "live worker worker-1 has no assignment"));

        // Expected partitions that nobody holds, and ones nobody expected.
        let kv = valid();
        let state = judge(&kv, NOW, &TTLS, &numbered_partitions(6));
        assert!(
            state
                .findings
                .iter()
                .any(|f| f == "2 partitions without a live owner (first: partition-4)"),
            "{:?}",
            state.findings
        );
        let state = judge(&kv, NOW, &TTLS, &numbered_partitions(3));
        assert!(
            state
                .findings
                .iter()
                .any(|f| f.contains("1 unknown partition assigned")),
            "{:?}",
            state.findings
        );
        let empty = judge(&KvState::default(), NOW, &TTLS, &[]);
        assert!(
            empty
                .findings
                .iter()
                .any(|f| f.starts_with("no live workers"))
        );
    }

    #[test]
    fn watched_writes_build_the_same_state_as_a_read() {
        let mut kv = KvState::default();
        let write = |role, key: &str, value: Option<&str>| KvWrite {
            role,
            key: key.into(),
            value: value.map(|v| v.as_bytes().to_vec()),
            written_unix_ms: NOW,
        };
        kv.apply(&write(
            BucketRole::Heartbeat,
            "heartbeat.worker-0",
            Some("t"),
        ));
        kv.apply(&write(BucketRole::Election, "leader", Some("worker-0:1")));
        kv.apply(&write(
            BucketRole::Assignment,
            "assignment.worker-0",
            Some(r#"{"version":2,"lifecycle":"cold_start","partitions":[{"keys":["partition-0"],"weight":100}]}"#),
        ));
        kv.apply(&write(
            BucketRole::Assignment,
            "assignment.worker-1",
            Some("{oops"),
        ));
        kv.apply(&write(BucketRole::StableId, "worker-0", Some("t")));
        assert_eq!(kv.assignments["worker-0"].version, 2);
        assert!(kv.undecodable.contains("assignment.worker-1"));
        assert!(has(&kv, "assignment.worker-1 is not an assignment"));
        kv.apply(&write(BucketRole::Assignment, "assignment.worker-1", None));
        kv.apply(&write(BucketRole::Heartbeat, "heartbeat.worker-0", None));
        assert!(kv.undecodable.is_empty() && kv.heartbeats.is_empty());
        assert_eq!(
            kv.leader.as_ref().map(|s| s.value.as_str()),
            Some("worker-0:1")
        );
    }

    #[test]
    fn workers_sort_by_number() {
        let mut ids = vec!["worker-10", "worker-2", "worker-1"];
        ids.sort_by_key(|id| worker_order(id));
        assert_eq!(ids, vec!["worker-1", "worker-2", "worker-10"]);
    }
}
