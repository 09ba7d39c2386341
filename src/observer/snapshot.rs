//! A point-in-time picture of a parti cluster read from its four KV buckets only, never from
//! the workers' own claims, and the pure checks that decide whether it is a valid cluster.

use std::collections::{BTreeMap, BTreeSet};

use crate::parti::assignment::Assignment;
use crate::parti::heartbeat;
use crate::parti::kv::{Bucket, KvError};
use crate::parti::partition::Partition;
use crate::parti::publisher::assignment_worker;

/// What the buckets hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Stable-ID key → value (RFC 3339 timestamp).
    pub ids: BTreeMap<String, String>,
    /// Raw `leader` value and its parsed holder, if the key exists.
    pub leader: Option<String>,
    /// Worker ID → heartbeat value.
    pub heartbeats: BTreeMap<String, String>,
    /// Worker ID → assignment (undecodable values are listed in `undecodable`).
    pub assignments: BTreeMap<String, Assignment>,
    pub undecodable: Vec<String>,
}

/// The buckets a snapshot reads.
pub struct SnapshotBuckets<'a> {
    pub stable_id: &'a dyn Bucket,
    pub election: &'a dyn Bucket,
    pub heartbeat: &'a dyn Bucket,
    pub assignment: &'a dyn Bucket,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn values(bucket: &dyn Bucket) -> Result<BTreeMap<String, String>, KvError> {
    let mut out = BTreeMap::new();
    for key in bucket.keys().await? {
        if let Some(entry) = bucket.get(&key).await? {
            out.insert(key, text(&entry.value));
        }
    }
    Ok(out)
}

impl Snapshot {
    /// Read all four buckets.
    pub async fn read(buckets: &SnapshotBuckets<'_>) -> Result<Snapshot, KvError> {
        let ids = values(buckets.stable_id).await?;
        let leader = buckets
            .election
            .get(crate::parti::election::LEADER_KEY)
            .await?
            .map(|e| text(&e.value));
        let heartbeats = values(buckets.heartbeat)
            .await?
            .into_iter()
            .filter_map(|(key, value)| {
                heartbeat::worker_of(&key).map(|worker| (worker.to_owned(), value))
            })
            .collect();
        let mut assignments = BTreeMap::new();
        let mut undecodable = Vec::new();
        for (key, value) in values(buckets.assignment).await? {
            let Some(worker) = assignment_worker(&key) else {
                continue;
            };
            match Assignment::decode(value.as_bytes()) {
                Ok(assignment) => {
                    assignments.insert(worker.to_owned(), assignment);
                }
                Err(_) => undecodable.push(key),
            }
        }
        Ok(Snapshot {
            ids,
            leader,
            heartbeats,
            assignments,
            undecodable,
        })
    }

    /// The worker named in the leader value `<id>:<unix seconds>`.
    pub fn leader_id(&self) -> Option<&str> {
        self.leader
            .as_deref()
            .and_then(crate::parti::election::leader_id)
    }

    /// Live workers: those with a heartbeat.
    pub fn live(&self) -> BTreeSet<String> {
        self.heartbeats.keys().cloned().collect()
    }
}

/// A problem with a snapshot, phrased for an operator.
pub type Problem = String;

/// Check a snapshot against parti's invariants for a settled cluster: every partition of
/// `partitions` is owned exactly once across live workers; no partition is assigned to a worker
/// without a heartbeat; every live worker has an assignment and all hold one version; the
/// leader value is well formed and names a live worker; every live worker holds its stable ID.
pub fn settled_problems(snapshot: &Snapshot, partitions: &[Partition]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let live = snapshot.live();
    if live.is_empty() {
        problems.push("no live workers (no heartbeat keys)".into());
    }
    for worker in &live {
        if !snapshot.ids.contains_key(worker) {
            problems.push(format!("live worker {worker} holds no stable-ID key"));
        }
        if !snapshot.assignments.contains_key(worker) {
            problems.push(format!("live worker {worker} has no assignment"));
        }
    }
    match (&snapshot.leader, snapshot.leader_id()) {
        (None, _) => problems.push("no leader key".into()),
        (Some(value), None) => problems.push(format!("leader value {value:?} is not <id>:<unix>")),
        (Some(value), Some(id)) => {
            let unix_ok = value
                .rsplit_once(':')
                .is_some_and(|(_, unix)| unix.parse::<i64>().is_ok());
            if !unix_ok {
                problems.push(format!("leader value {value:?} is not <id>:<unix>"));
            }
            if !live.contains(id) {
                problems.push(format!("leader {id} has no heartbeat"));
            }
        }
    }
    let mut owners: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
    let mut versions = BTreeSet::new();
    for (worker, assignment) in &snapshot.assignments {
        if !live.contains(worker) {
            if !assignment.partitions.is_empty() {
                problems.push(format!(
                    "{worker} has no heartbeat but is assigned {} partitions",
                    assignment.partitions.len()
                ));
            }
            continue;
        }
        versions.insert(assignment.version);
        for partition in &assignment.partitions {
            owners
                .entry(partition.keys.as_slice())
                .or_default()
                .push(worker);
        }
    }
    if versions.len() > 1 {
        problems.push(format!("live workers hold different versions {versions:?}"));
    }
    for partition in partitions {
        match owners.get(partition.keys.as_slice()).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!("partition {} has no owner", partition.id())),
            Some([_]) => {}
            Some(many) => problems.push(format!(
                "partition {} has {} owners {many:?}",
                partition.id(),
                many.len()
            )),
        }
    }
    let known: BTreeSet<&[String]> = partitions.iter().map(|p| p.keys.as_slice()).collect();
    for keys in owners.keys() {
        if !known.contains(keys) {
            problems.push(format!("unknown partition {} is assigned", keys.join("-")));
        }
    }
    for key in &snapshot.undecodable {
        problems.push(format!("{key} holds undecodable JSON"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parti::source::numbered_partitions;

    fn valid() -> (Snapshot, Vec<Partition>) {
        let partitions = numbered_partitions(4);
        let mut snapshot = Snapshot {
            leader: Some("worker-0:1762703004".into()),
            ..Snapshot::default()
        };
        for (i, owned) in [vec![0, 1], vec![2, 3]].into_iter().enumerate() {
            let worker = format!("worker-{i}");
            snapshot
                .ids
                .insert(worker.clone(), "2025-11-09T15:43:24Z".into());
            snapshot
                .heartbeats
                .insert(worker.clone(), "2025-11-09T15:43:24.5Z".into());
            snapshot.assignments.insert(
                worker,
                Assignment {
                    version: 3,
                    lifecycle: "cold_start".into(),
                    partitions: owned.iter().map(|p| partitions[*p].clone()).collect(),
                },
            );
        }
        (snapshot, partitions)
    }

    #[test]
    fn a_valid_cluster_has_no_problems() {
        let (snapshot, partitions) = valid();
        assert_eq!(
            settled_problems(&snapshot, &partitions),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_broken_invariant_is_reported() {
        let (base, partitions) = valid();
        let mut s = base.clone();
        s.assignments
            .get_mut("worker-1")
            .expect("w1")
            .partitions
            .push(partitions[0].clone());
        assert!(
            settled_problems(&s, &partitions)
                .iter()
                .any(|p| p.contains("partition partition-0 has 2 owners"))
        );
        let mut s = base.clone();
        s.assignments
            .get_mut("worker-1")
            .expect("w1")
            .partitions
            .pop();
        assert!(
            settled_problems(&s, &partitions)
                .iter()
                .any(|p| p.contains("partition-3 has no owner"))
        );
        let mut s = base.clone();
        s.assignments.get_mut("worker-1").expect("w1").version = 4;
        assert!(
            settled_problems(&s, &partitions)
                .iter()
                .any(|p| p.contains("different versions"))
        );
        let mut s = base.clone();
        s.heartbeats.remove("worker-1");
        assert!(
            settled_problems(&s, &partitions)
                .iter()
                .any(|p| p.contains("worker-1 has no heartbeat but is assigned 2"))
        );
        let mut s = base.clone();
        s.leader = Some("worker-0".into());
        assert!(
            settled_problems(&s, &partitions)
                .iter()
                .any(|p| p.contains("not <id>:<unix>"))
        );
        let mut s = base;
        s.leader = Some("worker-9:17".into());
        assert!(
            settled_problems(&s, &partitions)
                .iter()
                .any(|p| p.contains("leader worker-9 has no heartbeat"))
        );
    }
}
