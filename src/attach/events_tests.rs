use std::time::Duration;

use super::*;
use crate::attach::judge::{KvState, Stored, Ttls, judge};
use crate::parti::assignment::Assignment;
use crate::parti::source::numbered_partitions;

const T0: i64 = 1_762_703_000_000;
const TTLS: Ttls = Ttls {
    stable_id: Duration::from_secs(5),
    election: Duration::from_secs(5),
    heartbeat: Duration::from_millis(1500),
};
const SETTINGS: Settings = Settings {
    quiet_ms: 2000,
    finding_after_ms: 5000,
};

/// A cluster at `t_ms` after T0 where `owners[i]` lists the partitions of worker-i (all with a
/// fresh heartbeat unless in `dead`), every assignment at `version`, `leader` leading.
fn at(t_ms: u64, owners: &[&[usize]], dead: &[usize], version: i64, leader: usize) -> AttachState {
    let now = T0 + t_ms as i64;
    let partitions = numbered_partitions(4);
    let fresh = |value: &str| Stored {
        value: value.into(),
        written_unix_ms: now - 100,
    };
    let mut kv = KvState {
        leader: Some(fresh(&format!("worker-{leader}:1"))),
        ..KvState::default()
    };
    for (i, owned) in owners.iter().enumerate() {
        let id = format!("worker-{i}");
        if !dead.contains(&i) {
            kv.heartbeats.insert(id.clone(), fresh("t"));
            kv.ids.insert(id.clone(), fresh("t"));
        }
        kv.assignments.insert(
            id,
            Assignment {
                version,
                lifecycle: "x".into(),
                partitions: owned.iter().map(|p| partitions[*p].clone()).collect(),
            },
        );
    }
    judge(&kv, now, &TTLS, &[])
}

fn measurements(out: &[Observation]) -> Vec<&Measurement> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Measurement(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn kinds(out: &[Observation]) -> Vec<(String, ClusterEventKind)> {
    out.iter()
        .filter_map(|o| match o {
            Observation::Cluster(e) => {
                Some((e.worker_id.clone().unwrap_or_default(), e.kind.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_first_judgement_reports_the_workers_and_opens_no_event() {
    let mut tracker = Tracker::new(SETTINGS);
    let out = tracker.observe(0, &at(0, &[&[0, 1], &[2, 3]], &[], 3, 0));
    assert!(measurements(&out).is_empty());
    let events = kinds(&out);
    assert!(events.contains(&("worker-0".into(), ClusterEventKind::WorkerStarted)));
    assert!(events.contains(&("worker-1".into(), ClusterEventKind::IdClaimed)));
    assert!(events.contains(&(
        "worker-0".into(),
        ClusterEventKind::StateChanged {
            from: State::Init,
            to: State::Stable
        }
    )));
    assert!(events.contains(&(
        "worker-0".into(),
        ClusterEventKind::Leadership { is_leader: true }
    )));
    assert!(events.contains(&(
        "worker-1".into(),
        ClusterEventKind::AssignmentApplied {
            version: 3,
            initial: true,
            total: 2,
            added: 2,
            removed: 0
        }
    )));
    assert_eq!(tracker.events(), 0);
    // Nothing changed: nothing to say.
    assert!(
        tracker
            .observe(250, &at(250, &[&[0, 1], &[2, 3]], &[], 3, 0))
            .is_empty()
    );
}

#[test]
fn a_worker_lost_opens_an_event_that_stabilizes_when_valid_and_closes_when_quiet() {
    let mut tracker = Tracker::new(SETTINGS);
    tracker.observe(0, &at(0, &[&[0, 1], &[2, 3]], &[], 3, 0));
    // worker-1's heartbeat is gone: it still holds 2 partitions.
    let out = tracker.observe(1000, &at(1000, &[&[0, 1], &[2, 3]], &[1], 3, 0));
    assert!(kinds(&out).contains(&(
        "worker-1".into(),
        ClusterEventKind::WorkerEnded {
            how: "its heartbeat went stale".into()
        }
    )));
    assert_eq!(
        tracker.settling().as_deref(),
        Some("event #1 worker-1 left")
    );
    assert!(measurements(&out).is_empty());
    // The leader republishes: worker-0 owns everything at version 4.
    let out = tracker.observe(1800, &at(1800, &[&[0, 1, 2, 3], &[]], &[1], 4, 0));
    let m = measurements(&out);
    assert_eq!(m.len(), 1, "{out:?}");
    assert_eq!(m[0].action, Action::Observed("worker-1 left".into()));
    assert_eq!(m[0].stabilization_ms, Some(800));
    assert_eq!(m[0].quiescence_ms, None);
    assert_eq!((m[0].workers_before, m[0].workers_after), (2, 1));
    assert_eq!(m[0].moved_partitions, 2);
    assert_eq!(m[0].versions_to_stable, Some(1));
    assert_eq!(m[0].leader_changed, Some(false));
    assert!(tracker.settling().is_none());
    // Quiet for the quiet period after the last version: closed with its quiescence.
    assert!(
        measurements(&tracker.observe(3000, &at(3000, &[&[0, 1, 2, 3], &[]], &[1], 4, 0)))
            .is_empty()
    );
    let out = tracker.observe(3800, &at(3800, &[&[0, 1, 2, 3], &[]], &[1], 4, 0));
    let m = measurements(&out);
    assert_eq!(m[0].quiescence_ms, Some(800));
    assert_eq!(
        tracker.last_measurement().and_then(|m| m.quiescence_ms),
        Some(800)
    );
}

#[test]
fn a_change_before_stabilization_is_part_of_the_event_and_the_end_closes_it() {
    let mut tracker = Tracker::new(SETTINGS);
    tracker.observe(0, &at(0, &[&[0, 1], &[2], &[3]], &[], 3, 0));
    tracker.observe(500, &at(500, &[&[0, 1], &[2], &[3]], &[2], 3, 0));
    // The leader dies too, before anything settled; worker-1 takes over.
    let out = tracker.observe(900, &at(900, &[&[0, 1], &[2], &[3]], &[0, 2], 3, 1));
    assert!(measurements(&out).is_empty(), "{out:?}");
    assert_eq!(tracker.events(), 1);
    assert_eq!(
        tracker.settling().as_deref(),
        Some("event #1 2 workers left (worker-0, worker-2), leader worker-0 → worker-1")
    );
    let out = tracker.finish(1500);
    let m = measurements(&out);
    assert_eq!(
        (m[0].event, m[0].stabilization_ms, m[0].superseded_by),
        (0, None, None)
    );
    assert_eq!(m[0].leader_changed, Some(true));
    assert_eq!(m[0].workers_before, 3);
}

#[test]
fn after_stabilization_a_change_opens_the_next_event() {
    let mut tracker = Tracker::new(SETTINGS);
    tracker.observe(0, &at(0, &[&[0, 1], &[2, 3]], &[], 3, 0));
    tracker.observe(100, &at(100, &[&[0, 1], &[2, 3]], &[1], 3, 0));
    tracker.observe(200, &at(200, &[&[0, 1, 2, 3], &[]], &[1], 4, 0));
    // worker-1 comes back before the first event was quiet: the first closes, stable.
    let out = tracker.observe(300, &at(300, &[&[0, 1, 2, 3], &[]], &[], 4, 0));
    let m = measurements(&out);
    assert_eq!(
        (m[0].event, m[0].stabilization_ms, m[0].quiescence_ms),
        (0, Some(100), None)
    );
    assert_eq!(m[1].event, 1);
    assert_eq!(m[1].action, Action::Observed("worker-1 joined".into()));
    assert_eq!(tracker.events(), 2);
}

#[test]
fn a_lasting_problem_is_a_finding_once_until_it_clears() {
    let mut tracker = Tracker::new(SETTINGS);
    let broken = |t| at(t, &[&[0, 1], &[1, 2, 3]], &[], 3, 0);
    assert!(
        tracker
            .observe(0, &broken(0))
            .iter()
            .all(|o| !matches!(o, Observation::Finding(_)))
    );
    let findings = |out: Vec<Observation>| -> Vec<Finding> {
        out.into_iter()
            .filter_map(|o| match o {
                Observation::Finding(f) => Some(f),
                _ => None,
            })
            .collect()
    };
    assert!(findings(tracker.observe(4900, &broken(4900))).is_empty());
    let found = findings(tracker.observe(5000, &broken(5000)));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].check, Check::SingleOwner);
    assert!(
        found[0].message.starts_with("partition-1 has 2 owners"),
        "{found:?}"
    );
    assert!(findings(tracker.observe(9000, &broken(9000))).is_empty());
    assert_eq!(tracker.findings(), 1);
    // Cleared, then back: reported again after it lasts again.
    tracker.observe(9500, &at(9500, &[&[0, 1], &[2, 3]], &[], 3, 0));
    assert!(findings(tracker.observe(10_000, &broken(10_000))).is_empty());
    assert_eq!(findings(tracker.observe(15_000, &broken(15_000))).len(), 1);
}

#[test]
fn finding_keys_ignore_what_changes_every_judgement() {
    assert_eq!(
        problem_key("worker-1 is stale: its heartbeat is 1.6 s old (TTL 1.5 s) but it holds 2"),
        "worker-1 is stale"
    );
    assert_eq!(check_of("worker-1 is stale: x"), Check::NoDeadOwner);
    assert_eq!(check_of("no leader (no leader key)"), Check::SingleLeader);
}
