//! Tests of the measurement engine with hand-written input sequences.

use super::model::{BucketRole, KvChange};
use super::*;
use crate::control::HostEvent;
use crate::observation::ClusterEventKind;
use crate::parti::assignment::Assignment;
use crate::parti::source::numbered_partitions;
use crate::parti::state::State;

const SETTINGS: Settings = Settings {
    quiet_period_ms: 2_000,
    leader_overlap_ms: 1_000,
    dead_owner_grace_ms: 3_000,
};

fn event(slot: u64, id: &str, kind: ClusterEventKind) -> HostEvent {
    HostEvent {
        t_unix_us: 0,
        host: 0,
        slot: Some(slot),
        worker_id: Some(id.into()),
        kind,
    }
}

fn put(worker: &str, version: i64, partitions: &[usize]) -> KvChange {
    let all = numbered_partitions(4);
    let assignment = Assignment {
        version,
        lifecycle: "cold_start".into(),
        partitions: partitions.iter().map(|i| all[*i].clone()).collect(),
    };
    KvChange {
        role: BucketRole::Assignment,
        key: format!("assignment.{worker}"),
        value: Some(assignment.encode()),
    }
}

fn del(worker: &str) -> KvChange {
    KvChange {
        role: BucketRole::Assignment,
        key: format!("assignment.{worker}"),
        value: None,
    }
}

/// Bring worker `slot` (`worker-<slot>`) to Stable holding `version`.
fn stable(m: &mut Measure, t: u64, slot: u64, version: i64, total: usize) -> Vec<Output> {
    let id = format!("worker-{slot}");
    let mut out = m.input(
        t,
        Input::Event(&event(slot, &id, ClusterEventKind::WorkerStarted)),
    );
    out.extend(m.input(
        t,
        Input::Event(&event(
            slot,
            &id,
            ClusterEventKind::StateChanged {
                from: State::WaitingAssignment,
                to: State::Stable,
            },
        )),
    ));
    out.extend(m.input(
        t,
        Input::Event(&event(
            slot,
            &id,
            ClusterEventKind::AssignmentApplied {
                version,
                initial: true,
                total,
                added: total,
                removed: 0,
            },
        )),
    ));
    out
}

fn measurements(out: &[Output]) -> Vec<&Measurement> {
    out.iter()
        .filter_map(|o| {
            if let Output::Measurement(m) = o {
                Some(m)
            } else {
                None
            }
        })
        .collect()
}

fn findings(out: &[Output]) -> Vec<&Finding> {
    out.iter()
        .filter_map(|o| {
            if let Output::Finding(f) = o {
                Some(f)
            } else {
                None
            }
        })
        .collect()
}

/// Two workers, four partitions, stable at version 1 from an event opened at t=0.
fn two_stable_workers() -> (Measure, Vec<Output>) {
    let mut m = Measure::new(numbered_partitions(4), SETTINGS);
    let mut out = m.input(
        0,
        Input::Action {
            action: Action::ScaleTo(2),
            expected_live: 2,
        },
    );
    out.extend(m.input(100, Input::Kv(&put("worker-0", 1, &[0, 1]))));
    out.extend(m.input(110, Input::Kv(&put("worker-1", 1, &[2, 3]))));
    out.extend(stable(&mut m, 200, 0, 1, 2));
    assert!(!m.is_stable(), "one of two workers is not enough");
    out.extend(stable(&mut m, 300, 1, 1, 2));
    (m, out)
}

#[test]
fn an_event_stabilizes_when_all_conditions_hold_and_closes_after_the_quiet_period() {
    let (mut m, out) = two_stable_workers();
    assert!(m.is_stable());
    assert!(measurements(&out).is_empty(), "still open until quiet");
    assert!(
        m.input(2_299, Input::Tick).is_empty(),
        "quiet 2 s after stabilizing at t=300"
    );
    let out = m.input(2_300, Input::Tick);
    let measured = measurements(&out);
    assert_eq!(measured.len(), 1);
    let m0 = measured[0];
    assert_eq!(m0.stabilization_ms, Some(300));
    assert_eq!(
        m0.quiescence_ms,
        Some(100),
        "version 1 first appeared at t=100"
    );
    assert_eq!(m0.versions_published, 1);
    assert_eq!(
        m0.versions_to_stable,
        Some(1),
        "stable on the first version"
    );
    assert_eq!((m0.workers_before, m0.workers_after), (0, 2));
    assert_eq!(m0.balance, Some(1.0));
    assert!(
        m0.moved_percent.abs() < 1e-9,
        "first ownership is not movement"
    );
    let mut first: Vec<_> = m0
        .first_assignments
        .iter()
        .map(|f| (f.worker_id.as_str(), f.after_ms))
        .collect();
    first.sort_unstable();
    assert_eq!(first, vec![("worker-0", 200), ("worker-1", 300)]);
}

#[test]
fn a_killed_worker_leaves_the_cluster_unstable_until_its_partitions_move() {
    let (mut m, _) = two_stable_workers();
    m.input(2_500, Input::Tick);
    m.input(
        3_000,
        Input::Action {
            action: Action::KillWorker(crate::action::WorkerTarget::Id("worker-1".into())),
            expected_live: 1,
        },
    );
    m.input(
        3_001,
        Input::Event(&event(
            1,
            "worker-1",
            ClusterEventKind::WorkerEnded {
                how: "killed".into(),
            },
        )),
    );
    assert_eq!(
        m.unstable_reason().as_deref(),
        Some("partition partition-2 has no owner")
    );
    m.input(6_000, Input::Kv(&del("worker-1")));
    m.input(6_001, Input::Kv(&put("worker-0", 2, &[0, 1, 2, 3])));
    assert_eq!(
        m.unstable_reason().as_deref(),
        Some("worker-0 holds version 1 of 2")
    );
    m.input(
        6_010,
        Input::Event(&event(
            0,
            "worker-0",
            ClusterEventKind::AssignmentApplied {
                version: 2,
                initial: false,
                total: 4,
                added: 2,
                removed: 0,
            },
        )),
    );
    assert!(m.is_stable());
    let out = m.input(9_000, Input::Finish);
    let measured = measurements(&out);
    assert_eq!(measured[0].stabilization_ms, Some(3_010));
    assert_eq!(measured[0].moved_partitions, 2);
    assert!((measured[0].moved_percent - 50.0).abs() < 1e-9);
    assert_eq!(measured[0].balance, Some(1.0));
}

#[test]
fn the_next_action_closes_an_unstable_event_without_figures() {
    let mut m = Measure::new(numbered_partitions(4), SETTINGS);
    m.input(
        0,
        Input::Action {
            action: Action::ScaleTo(3),
            expected_live: 3,
        },
    );
    let out = m.input(
        500,
        Input::Action {
            action: Action::ScaleTo(1),
            expected_live: 1,
        },
    );
    let measured = measurements(&out);
    assert_eq!(measured.len(), 1);
    assert_eq!(measured[0].stabilization_ms, None);
    assert_eq!(measured[0].quiescence_ms, None);
    assert!(
        m.unstable_reason()
            .is_some_and(|r| r.contains("0 workers running, 1 expected"))
    );
}

#[test]
fn a_decreasing_version_is_a_finding() {
    let (mut m, _) = two_stable_workers();
    let out = m.input(4_000, Input::Kv(&put("worker-0", 0, &[0, 1])));
    let found = findings(&out);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].check, Check::MonotonicVersions);
    assert!(found[0].message.contains("from version 1 to 0"));
}

#[test]
fn double_ownership_after_stabilization_is_reported_once() {
    let (mut m, _) = two_stable_workers();
    m.input(2_500, Input::Tick);
    let out = m.input(3_000, Input::Kv(&put("worker-0", 2, &[0, 1, 2])));
    assert!(
        findings(&out).is_empty(),
        "a half-written publish is not judged"
    );
    let out = m.input(3_001, Input::Kv(&put("worker-1", 2, &[2, 3])));
    let found = findings(&out);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].check, Check::SingleOwner);
    assert!(found[0].message.contains("partition-2 has 2 owners"));
    assert!(
        findings(&m.input(3_100, Input::Tick)).is_empty(),
        "reported once while it lasts"
    );
}

#[test]
fn two_leaders_for_longer_than_the_overlap_is_a_finding() {
    let (mut m, _) = two_stable_workers();
    let lead = |slot: u64| {
        event(
            slot,
            &format!("worker-{slot}"),
            ClusterEventKind::Leadership { is_leader: true },
        )
    };
    m.input(3_000, Input::Event(&lead(0)));
    assert!(findings(&m.input(3_100, Input::Event(&lead(1)))).is_empty());
    assert!(findings(&m.input(3_900, Input::Tick)).is_empty());
    let found = m.input(4_200, Input::Tick);
    assert_eq!(findings(&found).len(), 1);
    assert_eq!(findings(&found)[0].check, Check::SingleLeader);
}

/// A frozen (or cut-off) host's workers keep the leadership they last reported; they cannot act
/// on it until the fault clears, so only claims outside such hosts count, and again after.
#[test]
fn leaders_on_a_paused_host_count_only_once_it_resumes() {
    let (mut m, _) = two_stable_workers();
    let lead = |slot: u64| {
        event(
            slot,
            &format!("worker-{slot}"),
            ClusterEventKind::Leadership { is_leader: true },
        )
    };
    let pause = Action::PauseHost {
        host: 0,
        duration: std::time::Duration::from_secs(5),
    };
    act(&mut m, 2_900, pause, 2);
    m.input(3_000, Input::Event(&lead(0)));
    m.input(3_100, Input::Event(&lead(1)));
    assert!(findings(&m.input(4_500, Input::Tick)).is_empty());
    assert!(findings(&m.input(7_900, Input::Tick)).is_empty());
    m.input(7_950, Input::FaultCleared { event_t_ms: 2_900 });
    assert!(findings(&m.input(8_000, Input::Tick)).is_empty());
    let found = m.input(9_100, Input::Tick);
    assert_eq!(
        findings(&found).len(),
        1,
        "two leaders a second after the resume"
    );
    assert_eq!(findings(&found)[0].check, Check::SingleLeader);
}

#[test]
fn an_unexpected_host_exit_is_an_infrastructure_finding() {
    let (mut m, _) = two_stable_workers();
    let out = m.input(
        5_000,
        Input::HostGone {
            host: 0,
            how: "killed by signal 9".into(),
            expected: false,
        },
    );
    assert_eq!(findings(&out)[0].check, Check::Infrastructure);
    assert_eq!(m.model().live_count(), 0);
    let out = m.input(
        5_000,
        Input::HostGone {
            host: 0,
            how: "exit 0".into(),
            expected: true,
        },
    );
    assert!(findings(&out).is_empty());
}

#[test]
fn a_worker_ending_on_its_own_opens_an_observed_event_that_heals() {
    let (mut m, _) = two_stable_workers();
    m.input(2_500, Input::Tick);
    // worker-1 ends with no action asking for it.
    let ended = ClusterEventKind::WorkerEnded {
        how: "stable ID taken over".into(),
    };
    let out = m.input(3_000, Input::Event(&event(1, "worker-1", ended)));
    assert!(
        findings(&out).is_empty(),
        "the cluster gets time to heal: {:?}",
        findings(&out)
    );
    assert!(!m.is_stable());
    // The leader republishes everything to worker-0: healed.
    m.input(6_000, Input::Kv(&del("worker-1")));
    m.input(6_001, Input::Kv(&put("worker-0", 2, &[0, 1, 2, 3])));
    let applied = ClusterEventKind::AssignmentApplied {
        version: 2,
        initial: false,
        total: 4,
        added: 2,
        removed: 0,
    };
    m.input(6_010, Input::Event(&event(0, "worker-0", applied)));
    assert!(m.is_stable());
    let out = m.input(9_000, Input::Finish);
    let measured = measurements(&out);
    assert_eq!(measured.len(), 1);
    assert_eq!(
        measured[0].action,
        Action::Observed("worker-1 ended (stable ID taken over)".into())
    );
    assert_eq!(measured[0].stabilization_ms, Some(3_010));
    assert_eq!(
        measured[0].moved_partitions, 2,
        "worker-1's partitions moved"
    );
    assert_eq!(
        (measured[0].workers_before, measured[0].workers_after),
        (2, 1)
    );
}

#[test]
fn leftover_assignments_of_dead_workers_are_a_finding_after_the_grace() {
    let (mut m, _) = two_stable_workers();
    m.input(2_500, Input::Tick);
    // A key of a worker nobody runs, at the newest version, with partitions.
    let out = m.input(3_000, Input::Kv(&put("worker-9", 1, &[0])));
    assert!(findings(&out).iter().all(|f| f.check != Check::NoDeadOwner));
    assert!(findings(&m.input(5_999, Input::Tick)).is_empty());
    let out = m.input(6_000, Input::Tick);
    assert!(
        findings(&out)
            .iter()
            .any(|f| f.check == Check::NoDeadOwner && f.message.starts_with("worker-9")),
        "{:?}",
        findings(&out)
    );
    // With nobody running, leftovers are expected (parti never deletes assignments on stop).
    let (mut m, _) = two_stable_workers();
    m.input(
        2_500,
        Input::Action {
            action: Action::ScaleTo(0),
            expected_live: 0,
        },
    );
    for slot in 0..2 {
        let id = format!("worker-{slot}");
        let stopped = ClusterEventKind::WorkerEnded {
            how: "stopped".into(),
        };
        m.input(2_600, Input::Event(&event(slot, &id, stopped)));
    }
    // Empty, not stable; the scale to zero is measured until the last worker ended.
    assert!(!m.is_stable());
    assert_eq!(
        m.unstable_reason().as_deref(),
        Some(crate::measure::EMPTY_REASON)
    );
    let out = m.input(20_000, Input::Tick);
    assert!(findings(&out).is_empty());
    let emptied = measurements(&out);
    assert_eq!(emptied.len(), 1, "{out:?}");
    assert_eq!(emptied[0].stabilization_ms, Some(100));
    assert!(emptied[0].emptied());
    assert!(m.is_quiet());
}

#[test]
fn a_publish_under_way_is_not_judged() {
    let (mut m, _) = two_stable_workers();
    m.input(2_500, Input::Tick);
    // Stale cleanup deletes a running worker's key before the new values are written.
    let out = m.input(3_000, Input::Kv(&del("worker-1")));
    assert!(findings(&out).is_empty(), "{:?}", findings(&out));
    let out = m.input(3_001, Input::Kv(&put("worker-0", 2, &[0, 1, 2, 3])));
    assert!(findings(&out).is_empty(), "{:?}", findings(&out));
}

#[test]
fn heartbeat_refreshes_are_noops_but_new_heartbeats_are_not() {
    let (mut m, _) = two_stable_workers();
    let beat = KvChange {
        role: BucketRole::Heartbeat,
        key: "heartbeat.worker-0".into(),
        value: Some(b"t".to_vec()),
    };
    assert!(
        !m.is_noop(&Input::Kv(&beat)),
        "first heartbeat of a worker is news"
    );
    m.input(100, Input::Kv(&beat));
    assert!(m.is_noop(&Input::Kv(&beat)));
    let gone = KvChange {
        value: None,
        ..beat.clone()
    };
    assert!(!m.is_noop(&Input::Kv(&gone)));
    m.input(200, Input::Kv(&gone));
    assert!(m.model().heartbeats().is_empty());
}

#[test]
fn workers_are_listed_by_stable_id_number_then_unclaimed_in_start_order() {
    let mut model = model::ClusterModel::new(numbered_partitions(4));
    let start = |slot: u64, id: Option<&str>| HostEvent {
        t_unix_us: 0,
        host: 0,
        slot: Some(slot),
        worker_id: id.map(str::to_owned),
        kind: ClusterEventKind::WorkerStarted,
    };
    for (slot, id) in [
        (0, Some("worker-10")),
        (1, None),
        (2, Some("worker-2")),
        (3, Some("worker-0")),
        (4, None),
    ] {
        model.apply_event(0, &start(slot, id));
    }
    let listed: Vec<(u64, Option<String>)> = model
        .views()
        .into_iter()
        .map(|v| (v.slot, v.worker_id))
        .collect();
    assert_eq!(
        listed,
        vec![
            (3, Some("worker-0".into())),
            (2, Some("worker-2".into())),
            (0, Some("worker-10".into())),
            (1, None),
            (4, None),
        ]
    );
}

#[test]
fn coverage_follows_every_change_of_the_model() {
    let mut m = Measure::new(numbered_partitions(4), SETTINGS);
    stable(&mut m, 0, 0, 1, 4);
    assert_eq!(
        m.model().coverage_problems().len(),
        4,
        "nobody owns anything yet"
    );
    m.input(10, Input::Kv(&put("worker-0", 1, &[0, 1, 2, 3])));
    assert!(m.model().coverage_problems().is_empty());
    m.input(20, Input::Kv(&del("worker-0")));
    assert_eq!(
        m.model().coverage_problems().len(),
        4,
        "a cached answer would still say every partition is owned"
    );
}

fn heartbeat(worker: &str) -> KvChange {
    KvChange {
        role: BucketRole::Heartbeat,
        key: format!("heartbeat.{worker}"),
        value: Some(b"2026-11-27T12:00:00Z".to_vec()),
    }
}

/// Feed a KV change the way the engine does: skipped when the engine calls it a no-op.
fn feed(m: &mut Measure, t: u64, change: &KvChange) -> Vec<Output> {
    if m.is_noop(&Input::Kv(change)) {
        Vec::new()
    } else {
        m.input(t, Input::Kv(change))
    }
}

#[test]
fn a_freezing_fault_stabilizes_only_after_it_cleared_and_every_worker_heartbeated() {
    let (mut m, _) = two_stable_workers();
    for worker in ["worker-0", "worker-1"] {
        feed(&mut m, 400, &heartbeat(worker));
    }
    m.input(3_000, Input::Tick);
    let pause = Action::PauseHost {
        host: 0,
        duration: std::time::Duration::from_secs(3),
    };
    m.input(
        5_000,
        Input::Action {
            action: pause,
            expected_live: 2,
        },
    );
    assert!(
        !m.is_stable(),
        "the last reports are stale while the host is frozen"
    );
    assert!(
        m.unstable_reason()
            .is_some_and(|r| r.contains("not cleared")),
        "{:?}",
        m.unstable_reason()
    );
    // Heartbeats written before the fault cleared prove nothing.
    feed(&mut m, 5_100, &heartbeat("worker-0"));
    // A clearance of some other event changes nothing.
    m.input(7_000, Input::FaultCleared { event_t_ms: 4_999 });
    assert!(
        m.unstable_reason()
            .is_some_and(|r| r.contains("not cleared"))
    );
    m.input(8_000, Input::FaultCleared { event_t_ms: 5_000 });
    assert!(!m.is_stable());
    feed(&mut m, 8_100, &heartbeat("worker-1"));
    assert!(
        m.unstable_reason()
            .is_some_and(|r| r.contains("1 worker has not heartbeated")),
        "{:?}",
        m.unstable_reason()
    );
    feed(&mut m, 8_400, &heartbeat("worker-0"));
    assert!(m.is_stable());
    let out = m.input(10_400, Input::Tick);
    let measured = measurements(&out);
    assert_eq!(measured.len(), 1, "{out:?}");
    assert_eq!(measured[0].stabilization_ms, Some(3_400));
}

#[test]
fn ordinary_events_do_not_wait_for_heartbeats() {
    let (mut m, _) = two_stable_workers();
    assert!(m.is_stable());
    for worker in ["worker-0", "worker-1"] {
        feed(&mut m, 400, &heartbeat(worker));
    }
    assert!(
        m.is_noop(&Input::Kv(&heartbeat("worker-0"))),
        "a refresh is a no-op when nothing waits for it"
    );
}

fn leader_kv(value: Option<&str>) -> KvChange {
    KvChange {
        role: BucketRole::Election,
        key: "leader".into(),
        value: value.map(|v| v.as_bytes().to_vec()),
    }
}

fn act(m: &mut Measure, t: u64, action: Action, expected_live: usize) -> Vec<Output> {
    m.input(
        t,
        Input::Action {
            action,
            expected_live,
        },
    )
}

#[test]
fn an_event_the_next_action_closes_before_it_stabilized_is_superseded_by_it() {
    let (mut m, _) = two_stable_workers();
    m.input(2_500, Input::Tick);
    act(&mut m, 3_000, Action::ScaleTo(3), 3);
    let out = act(&mut m, 3_500, Action::ScaleTo(4), 4);
    let closed = measurements(&out);
    assert_eq!(closed.len(), 1, "{out:?}");
    assert_eq!(closed[0].event, 1);
    assert_eq!(closed[0].stabilization_ms, None);
    assert_eq!(
        closed[0].superseded_by,
        Some(2),
        "superseded by the scale→4"
    );
    // The end of the run closing an unstable event is no supersession.
    let out = m.input(9_000, Input::Finish);
    let last = measurements(&out);
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].event, last[0].superseded_by), (2, None));
    assert_eq!(last[0].stabilization_ms, None);
}

#[test]
fn a_stabilized_event_closed_by_the_next_action_is_not_superseded() {
    let (mut m, _) = two_stable_workers();
    assert!(m.is_stable());
    let out = act(&mut m, 1_000, Action::ScaleTo(3), 3);
    let closed = measurements(&out);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].stabilization_ms, Some(300));
    assert_eq!(closed[0].superseded_by, None);
    assert_eq!(closed[0].quiescence_ms, None, "not quiet yet when closed");
}

#[test]
fn a_mark_closes_nothing() {
    let mut m = Measure::new(numbered_partitions(4), SETTINGS);
    act(&mut m, 0, Action::ScaleTo(2), 2);
    let out = act(&mut m, 50, Action::Mark("half way".into()), 2);
    assert!(measurements(&out).is_empty(), "{out:?}");
    m.input(100, Input::Kv(&put("worker-0", 1, &[0, 1])));
    m.input(110, Input::Kv(&put("worker-1", 1, &[2, 3])));
    stable(&mut m, 200, 0, 1, 2);
    stable(&mut m, 300, 1, 1, 2);
    let out = m.input(2_300, Input::Tick);
    let closed = measurements(&out);
    assert_eq!(closed.len(), 1);
    assert_eq!(
        (closed[0].event, closed[0].stabilization_ms),
        (0, Some(300))
    );
}

#[test]
fn an_event_records_whether_the_leader_changed_during_it() {
    let (mut m, _) = two_stable_workers();
    m.input(400, Input::Kv(&leader_kv(Some("worker-0:1"))));
    let out = m.input(2_500, Input::Tick);
    assert_eq!(
        measurements(&out)[0].leader_changed,
        Some(false),
        "a first election is no change"
    );
    // A scale-up that keeps the leader.
    act(&mut m, 3_000, Action::ScaleTo(2), 2);
    m.input(3_100, Input::Kv(&leader_kv(Some("worker-0:1"))));
    let out = act(
        &mut m,
        4_000,
        Action::StopWorker(crate::action::WorkerTarget::Leader),
        1,
    );
    assert_eq!(measurements(&out)[0].leader_changed, Some(false));
    // The leader key deleted and taken by another worker.
    m.input(4_100, Input::Kv(&leader_kv(None)));
    m.input(4_200, Input::Kv(&leader_kv(Some("worker-1:2"))));
    let out = m.input(9_000, Input::Finish);
    assert_eq!(measurements(&out)[0].leader_changed, Some(true));
}

#[test]
fn a_paused_host_is_listed_until_its_pause_clears() {
    let (mut m, _) = two_stable_workers();
    let pause = Action::PauseHost {
        host: 1,
        duration: std::time::Duration::from_secs(3),
    };
    act(&mut m, 1_000, pause, 2);
    assert_eq!(m.paused_hosts(), vec![1]);
    // Superseding the pause event does not resume the host.
    act(&mut m, 1_500, Action::Mark("x".into()), 2);
    act(&mut m, 2_000, Action::RestartNats, 2);
    assert_eq!(m.paused_hosts(), vec![1]);
    m.input(4_000, Input::FaultCleared { event_t_ms: 2_000 });
    assert_eq!(
        m.paused_hosts(),
        vec![1],
        "the restart's clearance is not the pause's"
    );
    m.input(4_001, Input::FaultCleared { event_t_ms: 1_000 });
    assert!(m.paused_hosts().is_empty());
}

fn telemetry(workers: &[(u64, &str)]) -> crate::control::HostTelemetry {
    crate::control::HostTelemetry {
        t_unix_us: 0,
        host: 0,
        pid: 1,
        live_heap_bytes: 0,
        tasks: 0,
        workers: workers
            .iter()
            .map(|(slot, id)| crate::observation::WorkerView {
                host: 0,
                slot: *slot,
                worker_id: Some((*id).into()),
                state: State::Stable,
                is_leader: false,
                version: 1,
                partitions: 2,
            })
            .collect(),
        events_dropped: 0,
        process: None,
    }
}

#[test]
fn a_report_sent_before_a_worker_ended_does_not_bring_it_back() {
    let (mut m, _) = two_stable_workers();
    let ended = ClusterEventKind::WorkerEnded {
        how: "stopped".into(),
    };
    m.input(3_000, Input::Event(&event(1, "worker-1", ended)));
    assert_eq!(m.model().live_count(), 1);
    // Telemetry taken just before the stop, delivered after it.
    m.input(
        3_001,
        Input::Telemetry(&telemetry(&[(0, "worker-0"), (1, "worker-1")])),
    );
    assert_eq!(m.model().live_count(), 1);
    let late = ClusterEventKind::StateChanged {
        from: State::Stable,
        to: State::Shutdown,
    };
    m.input(3_002, Input::Event(&event(1, "worker-1", late)));
    assert_eq!(m.model().live_count(), 1);
    // After its host is gone, none of its workers come back either.
    m.input(
        4_000,
        Input::HostGone {
            host: 0,
            how: "killed".into(),
            expected: true,
        },
    );
    m.input(
        4_001,
        Input::Telemetry(&telemetry(&[(0, "worker-0"), (7, "worker-7")])),
    );
    assert_eq!(m.model().live_count(), 0);
}

#[test]
fn a_worker_ending_unasked_before_the_event_stabilized_interrupts_it_and_is_no_supersession() {
    let (mut m, _) = two_stable_workers();
    m.input(2_500, Input::Tick);
    act(&mut m, 3_000, Action::ScaleTo(3), 3);
    // worker-1 crashes while the third worker is still coming: nobody asked for it.
    let crashed = ClusterEventKind::WorkerEnded {
        how: "stable ID taken over".into(),
    };
    let out = m.input(3_100, Input::Event(&event(1, "worker-1", crashed)));
    let closed = measurements(&out);
    assert_eq!(closed.len(), 1, "{out:?}");
    assert_eq!(closed[0].action, Action::ScaleTo(3));
    assert_eq!(closed[0].stabilization_ms, None);
    assert_eq!(
        closed[0].superseded_by, None,
        "no action overtook it: it failed"
    );
}

#[test]
fn inputs_stamped_a_little_before_the_event_or_the_overlap_do_not_underflow() {
    let (mut m, _) = two_stable_workers();
    m.input(2_500, Input::Tick);
    act(&mut m, 3_000, Action::ScaleTo(2), 2);
    // A host's report stamped by its own clock, 2 ms before the action.
    let stable = ClusterEventKind::StateChanged {
        from: State::Stable,
        to: State::Stable,
    };
    m.input(2_998, Input::Event(&event(0, "worker-0", stable)));
    let out = m.input(9_000, Input::Finish);
    assert_eq!(measurements(&out)[0].stabilization_ms, Some(0));
    // Two leaders, the second sighting stamped before the first.
    let (mut m, _) = two_stable_workers();
    let claims = [
        event(
            0,
            "worker-0",
            ClusterEventKind::Leadership { is_leader: true },
        ),
        event(
            1,
            "worker-1",
            ClusterEventKind::Leadership { is_leader: true },
        ),
    ];
    m.input(5_000, Input::Event(&claims[0]));
    m.input(5_000, Input::Event(&claims[1]));
    assert!(findings(&m.input(4_990, Input::Tick)).is_empty());
}
