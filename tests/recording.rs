//! Recordings as versioned data: RON round trip, the checked-in golden file, truncated and
//! newer-version files, atomic saves, and the recorder on a broadcast channel.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parti_top::action::{Action, ActionSource, WorkerTarget};
use parti_top::observation::{
    ActionRecord, Check, ClusterEvent, ClusterEventKind, Finding, FirstAssignment, Measurement,
    Observation, ProcessKind, ProcessSample, Sample, StepProgress, StepStatus,
};
use parti_top::parti::state::State;
use parti_top::record::format::{
    FORMAT_VERSION, Header, Machine, Recording, RunMode, TimelineEntry,
};
use parti_top::record::io::{RecordError, load, save_atomic};
use parti_top::record::recorder::Recorder;
use parti_top::record::summary::{EventSummary, Failure, ProcessSummary, Summary, Verdict};
use parti_top::report::summary::summarize;
use tokio::sync::broadcast;

const MIB: u64 = 1024 * 1024;

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/golden/small-v2.ron")
}

/// The same run as written by format version 1 (before events recorded a leader change or
/// being superseded, and when the summary counted events from 0).
fn golden_v1_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/golden/small.ron")
}

fn profile() -> parti_top::profile::Profile {
    let text = r#"(
        name: "golden",
        description: "a small hand-made run",
        cluster: (partitions: Count(12), hosts: 1),
        steps: [ScaleTo(3), WaitStable(timeout: "10s"), KillLeader, Hold("1s")],
        thresholds: (peak_rss_per_host: "128MiB", stabilization: "20s"),
        seed: 7,
    )"#;
    parti_top::profile::parse(text, Path::new("golden.ron")).expect("golden profile")
}

fn header() -> Header {
    Header {
        format_version: FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        git_revision: Some("0123456789ab".into()),
        machine: Machine {
            cores: 2,
            memory_bytes: 8 * 1024 * MIB,
            kernel: "6.8.0-test".into(),
            cpu_model: "Golden CPU @ 2.00GHz".into(),
            hostname: "golden-box".into(),
        },
        nats_server_version: Some("2.11.4".into()),
        mode: RunMode::Headless,
        profile: profile(),
        seed: 7,
        started_at: "2025-06-01T12:00:00.000Z".into(),
        run_id: "golden01".into(),
    }
}

fn host_sample(rss_mib: u64, tasks: u64, workers: u32) -> ProcessSample {
    ProcessSample {
        process: ProcessKind::Host(0),
        pid: 4242,
        rss_bytes: rss_mib * MIB,
        live_heap_bytes: Some(rss_mib * MIB / 4),
        tasks: Some(tasks),
        workers: Some(workers),
        cpu_percent: Some(12.5),
    }
}

fn other_samples() -> Vec<ProcessSample> {
    vec![
        ProcessSample {
            process: ProcessKind::NatsServer,
            pid: 4000,
            rss_bytes: 20 * MIB,
            live_heap_bytes: None,
            tasks: None,
            workers: None,
            cpu_percent: Some(3.0),
        },
        ProcessSample {
            process: ProcessKind::Controller,
            pid: 3999,
            rss_bytes: 30 * MIB,
            live_heap_bytes: Some(8 * MIB),
            tasks: None,
            workers: None,
            cpu_percent: None,
        },
    ]
}

/// Every kind of observation, in run order.
fn observations() -> Vec<Observation> {
    let step = |t_ms, index, label: &str, status| {
        Observation::Step(StepProgress {
            t_ms,
            index,
            label: label.into(),
            status,
        })
    };
    let event = |t_ms, slot, kind| {
        Observation::Cluster(ClusterEvent {
            t_ms,
            host: Some(0),
            slot: Some(slot),
            worker_id: Some(format!("worker-{slot}")),
            kind,
        })
    };
    let samples = |t_ms, rss_mib, tasks, workers| {
        let mut processes = vec![host_sample(rss_mib, tasks, workers)];
        processes.extend(other_samples());
        Observation::Sample(Sample {
            t_ms,
            processes,
            load: None,
        })
    };
    vec![
        step(0, 0, "scale→3", StepStatus::Started),
        Observation::Action(ActionRecord {
            t_ms: 0,
            action: Action::ScaleTo(3),
            source: ActionSource::Profile { step: 0 },
            error: None,
        }),
        event(40, 0, ClusterEventKind::WorkerStarted),
        event(
            90,
            0,
            ClusterEventKind::StateChanged {
                from: State::Init,
                to: State::ClaimingId,
            },
        ),
        event(95, 0, ClusterEventKind::IdClaimed),
        event(300, 0, ClusterEventKind::Leadership { is_leader: true }),
        event(
            420,
            0,
            ClusterEventKind::Published {
                version: 1,
                lifecycle: "cold_start".into(),
                workers: 3,
                partitions: 12,
            },
        ),
        event(
            450,
            1,
            ClusterEventKind::AssignmentApplied {
                version: 1,
                initial: true,
                total: 4,
                added: 4,
                removed: 0,
            },
        ),
        samples(500, 30, 80, 3),
        step(900, 0, "scale→3", StepStatus::Done),
        Observation::Measurement(Measurement {
            event: 0,
            action: Action::ScaleTo(3),
            t_start_ms: 0,
            stabilization_ms: Some(900),
            first_assignments: vec![
                FirstAssignment {
                    worker_id: "worker-0".into(),
                    after_ms: 430,
                },
                FirstAssignment {
                    worker_id: "worker-1".into(),
                    after_ms: 450,
                },
                FirstAssignment {
                    worker_id: "worker-2".into(),
                    after_ms: 460,
                },
            ],
            quiescence_ms: Some(2900),
            versions_published: 1,
            versions_to_stable: None,
            moved_partitions: 12,
            moved_percent: 100.0,
            balance: Some(1.0),
            workers_before: 0,
            workers_after: 3,
            superseded_by: None,
            leader_changed: Some(false),
        }),
        Observation::Action(ActionRecord {
            t_ms: 3000,
            action: Action::KillWorker(WorkerTarget::Leader),
            source: ActionSource::Profile { step: 2 },
            error: None,
        }),
        event(
            3000,
            0,
            ClusterEventKind::WorkerEnded {
                how: "killed".into(),
            },
        ),
        event(
            3100,
            1,
            ClusterEventKind::Warning {
                message: "leader heartbeat missing".into(),
            },
        ),
        samples(3500, 36, 75, 2),
        Observation::Finding(Finding {
            t_ms: 3600,
            check: Check::SingleLeader,
            message: "worker-1 and worker-2 both hold leadership".into(),
        }),
        Observation::Action(ActionRecord {
            t_ms: 4000,
            action: Action::Mark("after failover".into()),
            source: ActionSource::Operator,
            error: Some("marks need a running timeline".into()),
        }),
        step(
            9000,
            3,
            "hold 1s",
            StepStatus::Failed("cluster lost".into()),
        ),
    ]
}

fn golden_summary() -> Summary {
    Summary {
        verdict: Verdict::Fail,
        duration_ms: 9000,
        events: vec![EventSummary {
            event: 1,
            label: "scale→3".into(),
            t_start_ms: 0,
            stabilization_ms: Some(900),
            quiescence_ms: Some(2900),
            moved_percent: 100.0,
            balance: Some(1.0),
            first_assignment_max_ms: Some(460),
            workers_after: 3,
            superseded_by: None,
            leader_changed: Some(false),
            // Golden files from before the field read it as unknown.
            versions_to_stable: None,
        }],
        processes: vec![
            ProcessSummary {
                process: ProcessKind::Host(0),
                peak_rss_bytes: 36 * MIB,
                peak_live_heap_bytes: Some(9 * MIB),
                peak_tasks: Some(80),
                mean_cpu_percent: Some(12.5),
                final_workers: Some(2),
            },
            ProcessSummary {
                process: ProcessKind::NatsServer,
                peak_rss_bytes: 20 * MIB,
                peak_live_heap_bytes: None,
                peak_tasks: None,
                mean_cpu_percent: Some(3.0),
                final_workers: None,
            },
            ProcessSummary {
                process: ProcessKind::Controller,
                peak_rss_bytes: 30 * MIB,
                peak_live_heap_bytes: Some(8 * MIB),
                peak_tasks: None,
                mean_cpu_percent: None,
                final_workers: None,
            },
        ],
        findings: 1,
        failures: vec![
            Failure {
                what: "number of findings".into(),
                limit: "0".into(),
                actual: "1".into(),
            },
            Failure {
                what: "step 4 (hold 1s)".into(),
                limit: String::new(),
                actual: "failed: cluster lost".into(),
            },
        ],
        dropped_observations: 0,
        repeats: None,
        holds: Vec::new(),
        load: None,
    }
}

/// The recording `recordings/golden/small.ron` holds.
fn golden() -> Recording {
    let mut recording = Recording::new(header());
    for observation in observations() {
        recording.push(observation);
    }
    recording.summary = Some(golden_summary());
    recording
}

/// Rewrites the golden file from [`golden`]. Run by hand after an intended format change
/// (and bump `FORMAT_VERSION` if old files no longer load):
/// `cargo test --test recording -- --ignored write_golden`.
#[test]
#[ignore = "rewrites recordings/golden/small-v2.ron"]
fn write_golden() {
    save_atomic(&golden(), &golden_path()).expect("write golden");
}

#[test]
fn the_golden_recording_still_loads_with_its_values() {
    let loaded = load(&golden_path()).expect("the golden recording loads");
    assert_eq!(loaded.header.format_version, FORMAT_VERSION);
    assert_eq!(loaded.header.run_id, "golden01");
    assert_eq!(loaded.header.seed, 7);
    assert_eq!(loaded.header.profile.name, "golden");
    assert_eq!(loaded.header.profile.cluster.partitions.len(), 12);
    assert_eq!(loaded.header.machine.cores, 2);
    assert_eq!(loaded.timeline.len(), 6);
    assert!(matches!(
        &loaded.timeline[1],
        TimelineEntry::Action(ActionRecord {
            action: Action::ScaleTo(3),
            t_ms: 0,
            ..
        })
    ));
    assert_eq!(loaded.events.len(), 8);
    assert_eq!(loaded.samples[1].processes[0].rss_bytes, 36 * MIB);
    assert_eq!(
        loaded.samples[1].processes[2].process,
        ProcessKind::Controller
    );
    assert_eq!(loaded.measurements[0].stabilization_ms, Some(900));
    assert_eq!(loaded.findings[0].check, Check::SingleLeader);
    assert_eq!(loaded.duration_ms(), 9000);
    let summary = loaded.summary.as_ref().expect("summary");
    assert_eq!(summary.verdict, Verdict::Fail);
    assert_eq!(
        loaded,
        golden(),
        "the golden file and the hand-built recording differ"
    );

    // Re-serializing is stable.
    let again_path = tempfile::tempdir().expect("tempdir");
    let again_path = again_path.path().join("again.ron");
    save_atomic(&loaded, &again_path).expect("save");
    assert_eq!(load(&again_path).expect("reload"), loaded);
}

#[test]
fn the_version_1_golden_recording_still_loads() {
    let loaded = load(&golden_v1_path()).expect("the version 1 golden recording loads");
    assert_eq!(loaded.header.format_version, 1);
    let current = golden();
    assert_eq!(
        loaded.header,
        Header {
            format_version: 1,
            ..current.header.clone()
        }
    );
    assert_eq!(loaded.timeline, current.timeline);
    assert_eq!(loaded.events, current.events);
    assert_eq!(loaded.samples, current.samples);
    assert_eq!(loaded.findings, current.findings);
    // Version 1 did not record the cause, and the stored summary counted events from 0.
    let measured = &loaded.measurements[0];
    assert_eq!(measured.leader_changed, None);
    assert_eq!(measured.superseded_by, None);
    assert_eq!(
        Measurement {
            leader_changed: Some(false),
            ..measured.clone()
        },
        current.measurements[0]
    );
    let stored = loaded.summary.as_ref().expect("summary");
    assert_eq!(stored.events[0].event, 0);
    // Summarized again, it reads like a current recording (except the cause it lacks).
    let summary = summarize(&loaded, &loaded.header.profile.thresholds, 0);
    assert_eq!(summary.events[0].event, 1);
    assert_eq!(summary.events[0].leader_changed, None);
}

#[test]
fn the_summary_of_the_golden_run_matches_its_stored_summary() {
    let mut recording = golden();
    let stored = recording.summary.take().expect("summary");
    // Written before measurements and summaries carried the versions to stable: unknown in
    // both.
    for event in &stored.events {
        assert_eq!(event.versions_to_stable, None);
    }
    let thresholds = recording.header.profile.thresholds.clone();
    assert_eq!(summarize(&recording, &thresholds, 0), stored);
}

#[test]
fn every_observation_round_trips_through_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/dir/run.ron");
    let mut recording = golden();
    recording.header.mode = RunMode::Replay {
        source: "recordings/a.ron".into(),
    };
    recording.header.git_revision = None;
    save_atomic(&recording, &path).expect("save creates parent directories");
    let loaded = load(&path).expect("load");
    assert_eq!(loaded, recording);
    let partial = Recording {
        summary: None,
        ..recording
    };
    save_atomic(&partial, &path).expect("save");
    assert_eq!(load(&path).expect("load"), partial);
}

#[test]
fn a_cut_off_file_is_reported_as_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = dir.path().join("full.ron");
    save_atomic(&golden(), &full).expect("save");
    let text = std::fs::read_to_string(&full).expect("read");
    let cut = dir.path().join("cut.ron");
    for keep in [
        text.len() / 10,
        text.len() / 2,
        text.len() * 9 / 10,
        text.len() - 2,
    ] {
        let keep = (0..=keep)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .expect("boundary");
        std::fs::write(&cut, &text[..keep]).expect("write");
        let err = load(&cut).expect_err("truncated");
        assert!(
            matches!(err, RecordError::Truncated { .. }),
            "cut at {keep}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("truncated"), "{message}");
        assert!(
            message.starts_with(&format!("{}:", cut.display())),
            "{message}"
        );
    }
}

#[test]
fn a_newer_format_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("future.ron");
    save_atomic(&golden(), &path).expect("save");
    let text = std::fs::read_to_string(&path).expect("read");
    let newer = FORMAT_VERSION + 1;
    let future = text.replacen(
        &format!("format_version: {FORMAT_VERSION},"),
        &format!("format_version: {newer},\n    colour: \"blue\","),
        1,
    );
    assert_ne!(future, text);
    std::fs::write(&path, future).expect("write");
    let err = load(&path).expect_err("newer");
    let message = err.to_string();
    assert!(
        matches!(
            err,
            RecordError::NewerVersion { found, supported, .. }
                if found == newer && supported == FORMAT_VERSION
        ),
        "{message}"
    );
    assert!(
        message.contains(&format!("format version {newer}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("format version {FORMAT_VERSION}")),
        "{message}"
    );
}

#[test]
fn field_errors_carry_the_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.ron");
    save_atomic(&golden(), &path).expect("save");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replacen("run_id:", "run_identifier:", 1)).expect("write");
    let message = load(&path).expect_err("unknown field").to_string();
    let prefix = format!("{}:", path.display());
    assert!(message.starts_with(&prefix), "{message}");
    let position = message[prefix.len()..]
        .split(':')
        .take(2)
        .collect::<Vec<_>>();
    assert!(
        position.iter().all(|n| n.parse::<usize>().is_ok()),
        "{message}"
    );
    assert!(message.contains("run_identifier"), "{message}");

    std::fs::write(&path, "\n").expect("write");
    let empty = load(&path).expect_err("empty").to_string();
    assert!(
        empty.ends_with("bad.ron:1:1: the file is empty, not a recording"),
        "{empty}"
    );

    let missing = load(&dir.path().join("missing.ron"))
        .expect_err("missing")
        .to_string();
    assert!(
        missing.contains("missing.ron: cannot read recording"),
        "{missing}"
    );
}

#[test]
fn saves_replace_the_file_whole_and_leave_no_temp_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.ron");
    let small = Recording::new(header());
    let big = golden();
    save_atomic(&small, &path).expect("first save");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, stop, small, big) = (path.clone(), stop.clone(), small.clone(), big.clone());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) || reads == 0 {
                let loaded = load(&path).expect("a reader never sees a half-written file");
                assert!(loaded == small || loaded == big, "a mix of two saves");
                reads += 1;
            }
            reads
        })
    };
    for round in 0..40 {
        let recording = if round % 2 == 0 { &big } else { &small };
        save_atomic(recording, &path).expect("save");
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().expect("reader");
    assert!(reads > 0);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["run.ron"], "temp files left behind");
}

#[test]
fn a_failed_save_names_the_file_and_leaves_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").expect("write");
    let err = save_atomic(&golden(), &blocker.join("run.ron")).expect_err("parent is a file");
    assert!(
        err.to_string()
            .contains("not-a-dir/run.ron: cannot write recording"),
        "{err}"
    );
}

// The recorder.

fn channel(
    capacity: usize,
) -> (
    broadcast::Sender<Observation>,
    broadcast::Receiver<Observation>,
) {
    broadcast::channel(capacity)
}

fn summary_of(recording: &mut Recording, dropped: u64) -> Summary {
    summarize(recording, &recording.header.profile.thresholds, dropped)
}

/// Polls `check` on the file until it holds or 10 s of real time have passed.
async fn wait_for_file(path: &Path, check: impl Fn(&Recording) -> bool) -> Recording {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(recording) = load(path)
            && check(&recording)
        {
            return recording;
        }
        assert!(
            Instant::now() < deadline,
            "{} never showed the expected content",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_sent_before_finish_lands_in_the_final_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("runs/run.ron");
    let (sender, receiver) = channel(4096);
    let recorder = Recorder::spawn(header(), path.clone(), receiver, Duration::from_millis(5));
    assert_eq!(recorder.path(), path);
    let producer = tokio::spawn(async move {
        for round in 0..100u64 {
            for observation in observations() {
                sender.send(observation).expect("the recorder listens");
            }
            if round % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
        sender
    });
    let sender = producer.await.expect("producer");
    let (written, recording) = recorder.finish(summary_of).await.expect("finish");
    drop(sender);
    assert_eq!(written, path);
    // Each round has one measurement of event 0; later ones replace earlier ones.
    assert_eq!(recording.measurements.len(), 1);
    let per_round = observations().len() - 1;
    let stored = recording.timeline.len()
        + recording.events.len()
        + recording.samples.len()
        + recording.findings.len();
    assert_eq!(stored, per_round * 100, "observations were lost");
    let summary = recording.summary.as_ref().expect("summary");
    assert_eq!(summary.dropped_observations, 0);
    assert_eq!(summary.findings, 100);
    assert_eq!(load(&path).expect("final file"), recording);
}

#[tokio::test(start_paused = true)]
async fn autosaves_hold_a_partial_recording_and_only_when_something_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.ron");
    let (sender, receiver) = channel(64);
    let recorder = Recorder::spawn(header(), path.clone(), receiver, Duration::from_secs(2));

    // Nothing arrived: nothing is written, however long the run idles.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!path.exists(), "autosaved an unchanged recording");

    for observation in observations() {
        sender.send(observation).expect("send");
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let partial = wait_for_file(&path, |r| r.samples.len() == 2).await;
    assert_eq!(partial.summary, None, "an autosave has no summary");
    assert_eq!(partial.findings.len(), 1);
    assert_eq!(partial.header.run_id, "golden01");

    let (_, recording) = recorder.finish(summary_of).await.expect("finish");
    assert!(recording.summary.is_some());
    let final_file = load(&path).expect("final");
    assert_eq!(final_file.summary, recording.summary);
}

#[tokio::test]
async fn a_lagging_recorder_counts_what_it_missed() {
    // On the current-thread runtime the recorder task cannot run until the test yields, so all
    // ten observations are sent into a channel that keeps four.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.ron");
    let (sender, receiver) = channel(4);
    let recorder = Recorder::spawn(header(), path.clone(), receiver, Duration::from_secs(2));
    for t_ms in 0..10 {
        sender
            .send(Observation::Sample(Sample {
                t_ms,
                processes: other_samples(),
                load: None,
            }))
            .expect("send");
    }
    let (_, recording) = recorder.finish(summary_of).await.expect("finish");
    let times: Vec<u64> = recording.samples.iter().map(|s| s.t_ms).collect();
    assert_eq!(times, [6, 7, 8, 9]);
    let summary = recording.summary.as_ref().expect("summary");
    assert_eq!(summary.dropped_observations, 6);
    assert_eq!(
        load(&path)
            .expect("final")
            .summary
            .expect("summary")
            .dropped_observations,
        6
    );
}

#[tokio::test]
async fn a_dropped_recorder_saves_what_it_had() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.ron");
    let (sender, receiver) = channel(64);
    let recorder = Recorder::spawn(header(), path.clone(), receiver, Duration::from_secs(3600));
    for observation in observations() {
        sender.send(observation).expect("send");
    }
    drop(recorder);
    let partial = wait_for_file(&path, |r| r.samples.len() == 2).await;
    assert_eq!(partial.summary, None);
    assert_eq!(partial.timeline.len(), 6);
}
