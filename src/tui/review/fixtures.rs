//! Recordings built in code for the review's tests and snapshots: a 20-second run that scales
//! 2 → 3 workers, marks the timeline and kills the leader ([`three_workers`]), and an hour of
//! scaling up and down at two samples a second ([`hour`]).

use std::path::Path;

use crate::action::{Action, ActionSource, WorkerTarget};
use crate::observation::{
    ActionRecord, Check, ClusterEvent, ClusterEventKind, Finding, Measurement, ProcessKind,
    ProcessSample, Sample, StepProgress, StepStatus,
};
use crate::parti::state::State;
use crate::profile::Profile;
use crate::record::{Header, Machine, Recording, RunMode, TimelineEntry};

const MIB: u64 = 1024 * 1024;

fn profile(name: &str, steps: &str) -> Profile {
    let text = format!(
        "(name: \"{name}\", cluster: (partitions: Count(12), hosts: 1), steps: [{steps}], seed: 3)"
    );
    crate::profile::parse(&text, Path::new("fixture.ron")).expect("fixture profile")
}

fn header(profile: Profile) -> Header {
    Header {
        format_version: crate::record::FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        git_revision: None,
        machine: Machine {
            cores: 2,
            memory_bytes: 8 * 1024 * MIB,
            kernel: "6.8.0-test".into(),
            cpu_model: "Fixture CPU".into(),
            hostname: "fixture".into(),
        },
        nats_server_version: Some("2.15.1".into()),
        mode: RunMode::Headless,
        seed: profile.seed,
        profile,
        started_at: "2025-06-01T12:00:00.000Z".into(),
        run_id: "review01".into(),
    }
}

/// A run being built: events for workers on host 0.
struct Run {
    recording: Recording,
}

impl Run {
    fn event(&mut self, t_ms: u64, slot: u64, kind: ClusterEventKind) {
        self.recording.events.push(ClusterEvent {
            t_ms,
            host: Some(0),
            slot: Some(slot),
            worker_id: Some(format!("worker-{slot}")),
            kind,
        });
    }

    /// A worker starting at `t_ms` and reaching Stable with `partitions` at version `version`.
    fn start(&mut self, t_ms: u64, slot: u64, version: i64, partitions: usize) {
        self.event(t_ms, slot, ClusterEventKind::WorkerStarted);
        let steps = [
            (State::Init, State::ClaimingId),
            (State::ClaimingId, State::Election),
            (State::Election, State::WaitingAssignment),
        ];
        for (i, (from, to)) in steps.into_iter().enumerate() {
            self.event(
                t_ms + 10 * (i as u64 + 1),
                slot,
                ClusterEventKind::StateChanged { from, to },
            );
        }
        self.apply(t_ms + 300, slot, version, partitions);
        self.event(
            t_ms + 310,
            slot,
            ClusterEventKind::StateChanged {
                from: State::WaitingAssignment,
                to: State::Stable,
            },
        );
    }

    fn apply(&mut self, t_ms: u64, slot: u64, version: i64, total: usize) {
        self.event(
            t_ms,
            slot,
            ClusterEventKind::AssignmentApplied {
                version,
                initial: false,
                total,
                added: 0,
                removed: 0,
            },
        );
    }

    fn publish(&mut self, t_ms: u64, leader: u64, version: i64, workers: usize) {
        self.event(
            t_ms,
            leader,
            ClusterEventKind::Published {
                version,
                lifecycle: "scale".into(),
                workers,
                partitions: 12,
            },
        );
    }

    fn action(&mut self, t_ms: u64, action: Action, source: ActionSource) {
        self.recording
            .timeline
            .push(TimelineEntry::Action(ActionRecord {
                t_ms,
                action,
                source,
                error: None,
            }));
    }

    fn step(&mut self, t_ms: u64, index: usize, label: &str, status: StepStatus) {
        self.recording
            .timeline
            .push(TimelineEntry::Step(StepProgress {
                t_ms,
                index,
                label: label.into(),
                status,
            }));
    }

    fn sample(&mut self, t_ms: u64, workers: u64) {
        self.recording.samples.push(Sample {
            t_ms,
            load: None,
            processes: vec![
                ProcessSample {
                    process: ProcessKind::Host(0),
                    pid: 4242,
                    rss_bytes: 30 * MIB + workers * 2 * MIB + (t_ms / 500 % 5) * 64 * 1024,
                    live_heap_bytes: Some(6 * MIB + workers * MIB),
                    tasks: Some(20 + 10 * workers),
                    workers: Some(u32::try_from(workers).unwrap_or(u32::MAX)),
                    cpu_percent: Some(2.5),
                },
                ProcessSample {
                    process: ProcessKind::NatsServer,
                    pid: 4000,
                    rss_bytes: 20 * MIB,
                    live_heap_bytes: None,
                    tasks: None,
                    workers: None,
                    cpu_percent: Some(1.0),
                },
                ProcessSample {
                    process: ProcessKind::Controller,
                    pid: 3999,
                    rss_bytes: 15 * MIB,
                    live_heap_bytes: Some(3 * MIB),
                    tasks: None,
                    workers: None,
                    cpu_percent: Some(0.5),
                },
            ],
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn measurement(
    event: usize,
    action: Action,
    t_start_ms: u64,
    stabilization_ms: u64,
    before: usize,
    after: usize,
    moved: usize,
    leader_changed: bool,
) -> Measurement {
    Measurement {
        event,
        action,
        t_start_ms,
        stabilization_ms: Some(stabilization_ms),
        first_assignments: Vec::new(),
        quiescence_ms: Some(stabilization_ms + 1000),
        versions_published: 1,
        versions_to_stable: None,
        moved_partitions: moved,
        #[allow(clippy::cast_precision_loss)]
        moved_percent: moved as f64 * 100.0 / 12.0,
        balance: Some(1.0),
        workers_before: before,
        workers_after: after,
        superseded_by: None,
        leader_changed: Some(leader_changed),
    }
}

/// A 20-second run on one host over 12 partitions: scale to 2 workers at 0 s (worker-0
/// leads), scale to 3 at 5 s, mark `checkpoint` at 12 s, kill the leader at 14 s (worker-1
/// leads from 16 s), a finding at 15.5 s. `complete` gives it a summary; without, it is an
/// autosave.
pub fn three_workers(complete: bool) -> Recording {
    let steps = "ScaleTo(2), ScaleTo(3), KillLeader, Hold(\"4s\")";
    let mut run = Run {
        recording: Recording::new(header(profile("review-fixture", steps))),
    };
    let profile_step = |step| ActionSource::Profile { step };
    run.step(0, 0, "scale→2", StepStatus::Started);
    run.action(0, Action::ScaleTo(2), profile_step(0));
    run.start(50, 0, 1, 6);
    run.start(60, 1, 1, 6);
    run.event(300, 0, ClusterEventKind::Leadership { is_leader: true });
    run.publish(340, 0, 1, 2);
    run.step(900, 0, "scale→2", StepStatus::Done);
    run.step(5000, 1, "scale→3", StepStatus::Started);
    run.action(5000, Action::ScaleTo(3), profile_step(1));
    run.start(5050, 2, 2, 4);
    run.publish(5340, 0, 2, 3);
    run.apply(5400, 0, 2, 4);
    run.apply(5410, 1, 2, 4);
    run.step(6000, 1, "scale→3", StepStatus::Done);
    run.action(
        12_000,
        Action::Mark("checkpoint".into()),
        ActionSource::Operator,
    );
    run.step(14_000, 2, "kill leader", StepStatus::Started);
    run.action(
        14_000,
        Action::KillWorker(WorkerTarget::Leader),
        profile_step(2),
    );
    run.event(
        14_010,
        0,
        ClusterEventKind::WorkerEnded {
            how: "killed".into(),
        },
    );
    run.event(16_000, 1, ClusterEventKind::Leadership { is_leader: true });
    run.publish(16_100, 1, 3, 2);
    run.apply(16_200, 1, 3, 6);
    run.apply(16_200, 2, 3, 6);
    run.step(16_500, 2, "kill leader", StepStatus::Done);
    run.step(16_500, 3, "hold 4s", StepStatus::Started);
    run.step(20_000, 3, "hold 4s", StepStatus::Done);
    for t_ms in (0..=20_000).step_by(500) {
        let workers = match t_ms {
            0 => 0,
            1..5_500 => 2,
            5_500..14_010 => 3,
            _ => 2,
        };
        run.sample(t_ms, workers);
    }
    let mut recording = run.recording;
    recording.measurements = vec![
        measurement(0, Action::ScaleTo(2), 0, 450, 0, 2, 12, false),
        measurement(1, Action::ScaleTo(3), 5000, 700, 2, 3, 4, false),
        measurement(
            2,
            Action::KillWorker(WorkerTarget::Leader),
            14_000,
            2200,
            3,
            2,
            4,
            true,
        ),
    ];
    recording.findings.push(Finding {
        t_ms: 15_500,
        check: Check::NoDeadOwner,
        message: "worker-0 still owned 4 partitions 1.5 s after it ended".into(),
    });
    if complete {
        recording.summary = Some(crate::report::summary::summarize(
            &recording,
            &recording.header.profile.thresholds,
            0,
        ));
    }
    recording
}

/// An hour at two samples a second: every 30 s the cluster scales between 3 and 6 workers
/// (each new worker going through its states to a new version; each scale-down stopping the
/// newest three), a measured event each time. Thousands of samples and cluster events.
pub fn hour() -> Recording {
    let mut run = Run {
        recording: Recording::new(header(profile("hour", "ScaleTo(3), ScaleTo(6)"))),
    };
    let hour_ms = 3_600_000;
    run.action(0, Action::ScaleTo(3), ActionSource::Operator);
    for slot in 0..3 {
        run.start(100 + slot * 10, slot, 1, 4);
    }
    run.event(400, 0, ClusterEventKind::Leadership { is_leader: true });
    let mut next_slot = 3;
    let mut live: Vec<u64> = vec![0, 1, 2];
    let mut version = 1;
    for (event, t_ms) in (30_000..hour_ms).step_by(30_000).enumerate() {
        version += 1;
        let up = live.len() == 3;
        let target = if up { 6 } else { 3 };
        run.action(t_ms, Action::ScaleTo(target), ActionSource::Operator);
        if up {
            for _ in 0..3 {
                run.start(t_ms + 50, next_slot, version, 12 / target);
                live.push(next_slot);
                next_slot += 1;
            }
        } else {
            for slot in live.split_off(3) {
                run.event(
                    t_ms + 50,
                    slot,
                    ClusterEventKind::WorkerEnded {
                        how: "stopped".into(),
                    },
                );
            }
        }
        run.publish(t_ms + 300, 0, version, target);
        for &slot in &live {
            run.apply(t_ms + 400, slot, version, 12 / target);
        }
        run.recording.measurements.push(measurement(
            event,
            Action::ScaleTo(target),
            t_ms,
            450,
            if up { 3 } else { 6 },
            target,
            4,
            false,
        ));
    }
    for t_ms in (0..=hour_ms).step_by(500) {
        let half_minute = t_ms / 30_000;
        run.sample(t_ms, if half_minute % 2 == 1 { 6 } else { 3 });
    }
    run.recording
}
