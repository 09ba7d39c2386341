//! A fixed sample model for snapshot tests and the render benchmark: a run three minutes in,
//! with two hosts (host 1 paused right now), seven workers (a leader, one rebalancing, one
//! waiting, one without an ID), memory series for both hosts, nats-server and parti-top, seven
//! measured events (one where the leader changed, one that emptied the cluster, one superseded
//! by the next action, and a last one that never stabilized), their markers (three of them a
//! second apart), a finding, a notice and a profile step. Everything is computed from
//! constants: no clock, no randomness.

use std::collections::{BTreeMap, VecDeque};

use super::model::{
    LogScroll, Marker, MemoryPoint, Model, Notice, RunFacts, Screen, StepView, Window,
};
use crate::action::{Action, WorkerTarget};
use crate::measure::ClusterState;
use crate::observation::{Check, Finding, FirstAssignment, Measurement, ProcessKind, WorkerView};
use crate::parti::state::State;

/// The sample's run time: 3 min 5 s.
pub const NOW_MS: u64 = 185_000;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// The actions of the sample run, in order, with their times.
fn actions() -> Vec<(u64, Action)> {
    vec![
        (1_000, Action::ScaleTo(3)),
        (20_000, Action::ScaleTo(5)),
        (95_000, Action::KillWorker(WorkerTarget::Leader)),
        (130_000, Action::Mark("checkpoint".into())),
        (135_000, Action::ScaleTo(0)),
        (140_000, Action::AddWorkers(3)),
        (141_000, Action::AddWorkers(2)),
        (176_000, Action::AddWorkers(2)),
        (
            183_000,
            Action::PauseHost {
                host: 1,
                duration: std::time::Duration::from_secs(5),
            },
        ),
    ]
}

/// Workers running on each host at `t_ms` (host 0, host 1).
fn workers_at(t_ms: u64) -> (u64, u64) {
    match t_ms {
        0..1_000 => (0, 0),
        1_000..20_000 => (2, 1),
        20_000..95_000 => (3, 2),
        95_000..135_000 => (2, 2),
        135_000..140_000 => (0, 0),
        140_000..141_000 => (2, 1),
        141_000..176_000 => (3, 2),
        _ => (4, 3),
    }
}

fn host_point(t_ms: u64, workers: u64) -> MemoryPoint {
    let wobble = (t_ms / 1000 * 37) % 11;
    MemoryPoint {
        t_ms,
        rss_bytes: 38 * MIB + workers * 7 * MIB / 2 + wobble * 48 * KIB,
        live_heap_bytes: Some(9 * MIB + workers * 9 * MIB / 4 + wobble * 32 * KIB),
        tasks: Some(8 + workers * 11 + t_ms / 1000 % 3),
        cpu_percent: Some(1.5),
    }
}

/// One sample a second for both hosts, nats-server and parti-top, from 0 to [`NOW_MS`].
fn memory() -> BTreeMap<ProcessKind, VecDeque<MemoryPoint>> {
    let mut memory: BTreeMap<ProcessKind, VecDeque<MemoryPoint>> = BTreeMap::new();
    for t_ms in (0..=NOW_MS).step_by(1000) {
        let (h0, h1) = workers_at(t_ms);
        let secs = t_ms / 1000;
        let points = [
            (ProcessKind::Host(0), host_point(t_ms, h0)),
            (ProcessKind::Host(1), host_point(t_ms, h1)),
            (
                ProcessKind::NatsServer,
                MemoryPoint {
                    t_ms,
                    rss_bytes: 21 * MIB + secs * 24 * KIB + (h0 + h1) * 2 * MIB / 5,
                    live_heap_bytes: None,
                    tasks: None,
                    cpu_percent: Some(0.8),
                },
            ),
            (
                ProcessKind::Controller,
                MemoryPoint {
                    t_ms,
                    rss_bytes: 31 * MIB + secs % 5 * 64 * KIB,
                    live_heap_bytes: Some(6 * MIB),
                    tasks: None,
                    cpu_percent: Some(2.0),
                },
            ),
        ];
        for (process, point) in points {
            memory.entry(process).or_default().push_back(point);
        }
    }
    memory
}

fn worker(
    host: u32,
    slot: u64,
    id: Option<&str>,
    state: State,
    version: i64,
    partitions: usize,
) -> WorkerView {
    WorkerView {
        host,
        slot,
        worker_id: id.map(str::to_owned),
        state,
        is_leader: id == Some("worker-1"),
        version,
        partitions,
    }
}

fn cluster() -> ClusterState {
    ClusterState {
        t_ms: NOW_MS,
        stable: false,
        quiet: false,
        reason: Some("pause host 1 5s: the fault has not cleared yet".into()),
        actions: 9,
        workers: vec![
            worker(0, 0, Some("worker-0"), State::Stable, 9, 13),
            worker(1, 0, Some("worker-1"), State::Stable, 9, 13),
            worker(0, 1, Some("worker-2"), State::Stable, 9, 13),
            worker(1, 1, Some("worker-3"), State::Stable, 9, 13),
            worker(0, 2, Some("worker-4"), State::Rebalancing, 9, 12),
            worker(1, 2, Some("worker-5"), State::WaitingAssignment, 8, 0),
            worker(0, 3, None, State::ClaimingId, 0, 0),
        ],
        leader: Some("worker-1".into()),
        max_version: 9,
        findings: 1,
        measurements: 7,
        paused_hosts: vec![1],
        nats_lost: None,
    }
}

fn first(pairs: &[(&str, u64)]) -> Vec<FirstAssignment> {
    pairs
        .iter()
        .map(|(id, after_ms)| FirstAssignment {
            worker_id: (*id).to_owned(),
            after_ms: *after_ms,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn measurement(
    event: usize,
    action: Action,
    t_start_ms: u64,
    stabilization_ms: Option<u64>,
    quiescence_ms: Option<u64>,
    moved: (usize, f64),
    balance: Option<f64>,
    workers: (usize, usize),
    first_assignments: Vec<FirstAssignment>,
) -> Measurement {
    Measurement {
        event,
        action,
        t_start_ms,
        stabilization_ms,
        first_assignments,
        quiescence_ms,
        versions_published: if stabilization_ms.is_some() { 2 } else { 1 },
        versions_to_stable: None,
        moved_partitions: moved.0,
        moved_percent: moved.1,
        balance,
        workers_before: workers.0,
        workers_after: workers.1,
        superseded_by: None,
        leader_changed: None,
    }
}

fn measurements() -> Vec<Measurement> {
    let leader = Action::KillWorker(WorkerTarget::Leader);
    let mut all = vec![
        measurement(
            0,
            Action::ScaleTo(3),
            1_000,
            Some(4_200),
            Some(5_000),
            (0, 0.0),
            Some(1.05),
            (0, 3),
            first(&[
                ("worker-0", 1_900),
                ("worker-1", 2_050),
                ("worker-2", 2_400),
            ]),
        ),
        measurement(
            1,
            Action::ScaleTo(5),
            20_000,
            Some(2_350),
            Some(3_100),
            (25, 39.1),
            Some(1.08),
            (3, 5),
            first(&[("worker-3", 1_700), ("worker-4", 1_950)]),
        ),
        measurement(
            2,
            leader,
            95_000,
            Some(12_840),
            Some(13_500),
            (13, 20.3),
            Some(1.07),
            (5, 4),
            Vec::new(),
        ),
        measurement(
            3,
            Action::ScaleTo(0),
            135_000,
            Some(450),
            Some(450),
            (0, 0.0),
            None,
            (4, 0),
            Vec::new(),
        ),
        measurement(
            4,
            Action::AddWorkers(3),
            140_000,
            None,
            None,
            (0, 0.0),
            None,
            (0, 3),
            first(&[("worker-0", 640)]),
        ),
        measurement(
            5,
            Action::AddWorkers(2),
            141_000,
            Some(3_100),
            Some(3_900),
            (11, 17.2),
            Some(1.08),
            (3, 5),
            first(&[("worker-1", 850), ("worker-2", 900)]),
        ),
        measurement(
            6,
            Action::AddWorkers(2),
            176_000,
            None,
            None,
            (0, 0.0),
            None,
            (5, 7),
            Vec::new(),
        ),
    ];
    for m in &mut all {
        m.leader_changed = Some(false);
    }
    all[2].leader_changed = Some(true);
    all[5].leader_changed = Some(true);
    all[4].superseded_by = Some(5);
    all
}

/// The sample run, on the dashboard with the log pane on and worker-2 selected.
pub fn sample_model() -> Model {
    let mut model = sample_without_series();
    for (process, points) in memory() {
        for point in points {
            model.push_memory(process, point);
        }
    }
    model
}

fn sample_without_series() -> Model {
    Model {
        now_ms: NOW_MS,
        facts: RunFacts {
            run_id: "r20261127-0930".into(),
            profile: "scale-and-kill".into(),
            nats_url: "nats://127.0.0.1:42817".into(),
            nats_version: Some("2.15.1".into()),
            nats_up: true,
            managed: true,
            nats_nodes: 1,
            proxied: true,
            recording_path: Some("recordings/scale-and-kill.ron".into()),
            recording: true,
            connect: vec![
                "connect other tools to nats://127.0.0.1:42817 (credentials in 0600 files, \
                 removed when the server stops):"
                    .into(),
                "  nats CLI:  nats --context /tmp/parti-top-nats-4242-Ab12Cd/nats-context.json \
                 kv ls"
                    .into(),
                "  checker:   python3 tools/check-cluster.py --context \
                 /tmp/parti-top-nats-4242-Ab12Cd/nats-context.json --partitions 64 --timing \
                 fast"
                    .into(),
                "  shell:     set -a; . /tmp/parti-top-nats-4242-Ab12Cd/nats.env; set +a   \
                 (NATS_URL, NATS_USER, NATS_PASSWORD)"
                    .into(),
                "  nats-top:  nats-top -s 127.0.0.1 -m 42818".into(),
            ],
        },
        step: Some(StepView {
            number: 6,
            total: 8,
            label: "wait stable 30s".into(),
            failed: None,
        }),
        steps_total: 8,
        cluster: cluster(),
        memory: BTreeMap::new(),
        load: std::collections::VecDeque::new(),
        peaks: BTreeMap::new(),
        measurements: measurements(),
        markers: actions()
            .into_iter()
            .map(|(t_ms, action)| Marker {
                t_ms,
                label: action.label(),
            })
            .collect(),
        findings: vec![Finding {
            t_ms: 101_300,
            check: Check::SingleOwner,
            message: "partition 17 owned by worker-2 and worker-4 for 1.20 s".into(),
        }],
        selected: 2,
        window: Window::FiveMinutes,
        screen: Screen::Dashboard,
        help: false,
        log_pane: true,
        notice: Some(Notice {
            t_ms: 183_000,
            text: "pause host 1 5s…".into(),
            error: false,
        }),
        prompt: None,
        log: LogScroll::default(),
        screen_rows: 48,
        pending_actions: 1,
        dropped: 0,
        quitting: false,
        cursor: None,
    }
}
