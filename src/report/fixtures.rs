//! Hand-made recordings for the report tests.

use std::path::Path;

use crate::action::{Action, ActionSource, WorkerTarget};
use crate::observation::{
    ActionRecord, Check, Finding, FirstAssignment, Measurement, Observation, ProcessKind,
    ProcessSample, Sample, StepProgress, StepStatus,
};
use crate::profile::Profile;
use crate::record::format::{Header, Machine, Recording, RunMode};

pub const MIB: u64 = 1024 * 1024;

/// A profile with `partitions` partitions and `hosts` hosts.
pub fn profile(partitions: usize, hosts: u32) -> Profile {
    let text = format!(
        "(name: \"fixture\", cluster: (partitions: Count({partitions}), hosts: {hosts}), \
         steps: [ScaleTo(5), KillLeader])"
    );
    crate::profile::parse(&text, Path::new("fixture.ron")).expect("fixture profile")
}

pub fn header(profile: Profile) -> Header {
    Header {
        format_version: crate::record::FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        git_revision: Some("abc123".into()),
        machine: Machine {
            cores: 2,
            memory_bytes: 4096 * MIB,
            kernel: "6.1.0".into(),
            cpu_model: "Test CPU".into(),
            hostname: "box".into(),
        },
        nats_server_version: Some("2.11.0".into()),
        mode: RunMode::Headless,
        seed: profile.seed,
        profile,
        started_at: "2025-01-01T00:00:00.000Z".into(),
        run_id: "run-1".into(),
    }
}

pub fn host(host: u32, rss_mib: u64, heap_mib: u64, tasks: u64, workers: u32) -> ProcessSample {
    ProcessSample {
        process: ProcessKind::Host(host),
        pid: 100 + host,
        rss_bytes: rss_mib * MIB,
        live_heap_bytes: Some(heap_mib * MIB),
        tasks: Some(tasks),
        workers: Some(workers),
        cpu_percent: Some(10.0),
    }
}

pub fn nats(rss_mib: u64) -> ProcessSample {
    ProcessSample {
        process: ProcessKind::NatsServer,
        pid: 50,
        rss_bytes: rss_mib * MIB,
        live_heap_bytes: None,
        tasks: None,
        workers: None,
        cpu_percent: Some(5.0),
    }
}

pub fn measurement(
    event: usize,
    action: Action,
    t_start_ms: u64,
    stab: Option<u64>,
) -> Measurement {
    Measurement {
        event,
        action,
        t_start_ms,
        stabilization_ms: stab,
        first_assignments: vec![
            FirstAssignment {
                worker_id: "worker-0".into(),
                after_ms: 300,
            },
            FirstAssignment {
                worker_id: "worker-1".into(),
                after_ms: 450,
            },
        ],
        quiescence_ms: stab.map(|ms| ms + 500),
        versions_published: 2,
        versions_to_stable: None,
        moved_partitions: 40,
        moved_percent: 40.0,
        balance: Some(1.25),
        workers_before: 0,
        workers_after: 5,
        superseded_by: None,
        leader_changed: None,
    }
}

/// A passing two-event run: scale to 5 (1.2 s), kill the leader (2 s); one host peaking at
/// `rss_mib` RSS.
pub fn recording(rss_mib: u64) -> Recording {
    let mut recording = Recording::new(header(profile(100, 1)));
    let source = ActionSource::Profile { step: 0 };
    recording.push(Observation::Step(StepProgress {
        t_ms: 0,
        index: 0,
        label: "scale→5".into(),
        status: StepStatus::Started,
    }));
    recording.push(Observation::Action(ActionRecord {
        t_ms: 0,
        action: Action::ScaleTo(5),
        source: source.clone(),
        error: None,
    }));
    recording.push(Observation::Sample(Sample {
        t_ms: 500,
        load: None,
        processes: vec![host(0, 40, 10, 120, 5), nats(30)],
    }));
    recording.push(Observation::Sample(Sample {
        t_ms: 1000,
        load: None,
        processes: vec![host(0, rss_mib, 12, 150, 5), nats(32)],
    }));
    recording.push(Observation::Measurement(measurement(
        0,
        Action::ScaleTo(5),
        0,
        Some(1200),
    )));
    recording.push(Observation::Action(ActionRecord {
        t_ms: 5000,
        action: Action::KillWorker(WorkerTarget::Leader),
        source: ActionSource::Profile { step: 1 },
        error: None,
    }));
    recording.push(Observation::Measurement(measurement(
        1,
        Action::KillWorker(WorkerTarget::Leader),
        5000,
        Some(2000),
    )));
    recording.push(Observation::Sample(Sample {
        t_ms: 8000,
        load: None,
        processes: vec![host(0, 41, 11, 130, 4)],
    }));
    complete(recording)
}

/// The recording with its summary, as a run that ended writes it.
pub fn complete(mut recording: Recording) -> Recording {
    recording.summary = Some(crate::report::summarize(
        &recording,
        &recording.header.profile.thresholds.clone(),
        0,
    ));
    recording
}

pub fn finding(t_ms: u64) -> Observation {
    Observation::Finding(Finding {
        t_ms,
        check: Check::SingleOwner,
        message: "partition-3 owned by worker-1 and worker-2".into(),
    })
}

/// The figures of one repeat of [`repeated`].
#[derive(Clone, Copy, Debug)]
pub struct RepeatFigures {
    pub rss_mib: u64,
    /// The scale to 5's stabilization (`None`: never).
    pub scale_ms: Option<u64>,
    pub kill_ms: u64,
    pub leader_changed: bool,
}

impl RepeatFigures {
    pub fn new(rss_mib: u64, scale_ms: u64, kill_ms: u64) -> Self {
        RepeatFigures {
            rss_mib,
            scale_ms: Some(scale_ms),
            kill_ms,
            leader_changed: true,
        }
    }
}

/// A profile of two action steps (scale to 5, kill the leader) with waits, run `repeats`
/// times.
pub fn repeated_profile(repeats: u32) -> Profile {
    let text = format!(
        "(name: \"fixture\", cluster: (partitions: Count(100)), steps: [ScaleTo(5), \
         WaitStable(timeout: \"10s\"), KillLeader, WaitStable(timeout: \"10s\")], \
         repeats: {repeats})"
    );
    crate::profile::parse(&text, Path::new("fixture.ron")).expect("fixture profile")
}

/// A run of [`repeated_profile`] as the headless runner records it: each repeat 10 s apart,
/// the ones after the first opened by a reset (a scale to 0 issued before the repeat's first
/// step started, an emptied event); one host sample per repeat.
pub fn repeated(figures: &[RepeatFigures]) -> Recording {
    let repeats = u32::try_from(figures.len()).expect("few repeats");
    let mut recording = Recording::new(header(repeated_profile(repeats)));
    let mut event = 0;
    let step = |recording: &mut Recording, t_ms: u64, index: usize, label: &str| {
        recording.push(Observation::Step(StepProgress {
            t_ms,
            index,
            label: label.into(),
            status: StepStatus::Started,
        }));
    };
    for (repeat, figures) in figures.iter().enumerate() {
        let t0 = repeat as u64 * 10_000;
        let first = repeat * 4;
        let act = |recording: &mut Recording, t_ms: u64, action: Action, step: usize| {
            recording.push(Observation::Action(ActionRecord {
                t_ms,
                action,
                source: ActionSource::Profile { step },
                error: None,
            }));
        };
        if repeat > 0 {
            act(&mut recording, t0, Action::ScaleTo(0), first);
            let mut reset = measurement(event, Action::ScaleTo(0), t0, Some(50));
            reset.workers_after = 0;
            reset.first_assignments.clear();
            recording.push(Observation::Measurement(reset));
            event += 1;
        }
        step(&mut recording, t0 + 100, first, "scale→5");
        act(&mut recording, t0 + 100, Action::ScaleTo(5), first);
        let mut scale = measurement(event, Action::ScaleTo(5), t0 + 100, figures.scale_ms);
        scale.leader_changed = Some(false);
        recording.push(Observation::Measurement(scale));
        event += 1;
        step(&mut recording, t0 + 200, first + 1, "wait stable");
        recording.push(Observation::Sample(Sample {
            t_ms: t0 + 1000,
            load: None,
            processes: vec![host(0, figures.rss_mib, 10, 120, 5), nats(30)],
        }));
        step(&mut recording, t0 + 5000, first + 2, "kill leader");
        let kill = Action::KillWorker(WorkerTarget::Leader);
        act(&mut recording, t0 + 5000, kill.clone(), first + 2);
        let mut killed = measurement(event, kill, t0 + 5000, Some(figures.kill_ms));
        killed.leader_changed = Some(figures.leader_changed);
        killed.first_assignments.clear();
        recording.push(Observation::Measurement(killed));
        event += 1;
        step(&mut recording, t0 + 5100, first + 3, "wait stable");
    }
    complete(recording)
}
