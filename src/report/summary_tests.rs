//! Tests of the summary: figures, threshold failures and verdicts.

use std::time::Duration;

use super::*;
use crate::action::Action;
use crate::observation::{Observation, Sample, StepProgress};
use crate::report::fixtures::{self, MIB};

#[test]
fn a_quiet_run_passes_with_its_figures() {
    let recording = fixtures::recording(45);
    let summary = summarize(&recording, &Thresholds::default(), 3);
    assert_eq!(summary.verdict, Verdict::Pass);
    assert!(summary.failures.is_empty());
    assert_eq!(summary.duration_ms, 8000);
    assert_eq!(summary.dropped_observations, 3);
    assert_eq!(summary.findings, 0);
    assert_eq!(summary.events.len(), 2);
    let scale = &summary.events[0];
    assert_eq!(scale.label, "scale→5");
    assert_eq!(scale.stabilization_ms, Some(1200));
    assert_eq!(scale.quiescence_ms, Some(1700));
    assert_eq!(scale.first_assignment_max_ms, Some(450));
    assert_eq!(summary.events[1].label, "kill leader");
    assert_eq!(summary.processes.len(), 2);
    let host = &summary.processes[0];
    assert_eq!(host.process, ProcessKind::Host(0));
    assert_eq!(host.peak_rss_bytes, 45 * MIB);
    assert_eq!(host.peak_live_heap_bytes, Some(12 * MIB));
    assert_eq!(host.peak_tasks, Some(150));
    assert_eq!(host.mean_cpu_percent, Some(10.0));
    assert_eq!(host.final_workers, Some(4));
    assert_eq!(summary.processes[1].process, ProcessKind::NatsServer);
    assert_eq!(summary.processes[1].peak_live_heap_bytes, None);
}

#[test]
fn host_memory_over_the_limit_fails_naming_the_host() {
    let recording = fixtures::recording(300);
    let thresholds = Thresholds {
        peak_rss_per_host: Some(ByteSize(128 * MIB)),
        ..Thresholds::default()
    };
    let summary = summarize(&recording, &thresholds, 0);
    assert_eq!(summary.verdict, Verdict::Fail);
    assert_eq!(summary.failures.len(), 1);
    let failure = &summary.failures[0];
    assert_eq!(
        failure.to_string(),
        "peak RSS of host 0 is 300MiB, limit 128MiB"
    );
    assert_eq!(failure.subject(), Subject::Host(0));
}

#[test]
fn nats_server_and_controller_are_never_held_to_host_limits() {
    let mut recording = fixtures::recording(10);
    recording.push(Observation::Sample(Sample {
        t_ms: 9000,
        load: None,
        processes: vec![fixtures::nats(900)],
    }));
    let thresholds = Thresholds {
        peak_rss_per_host: Some(ByteSize(128 * MIB)),
        ..Thresholds::default()
    };
    assert_eq!(summarize(&recording, &thresholds, 0).verdict, Verdict::Pass);
}

#[test]
fn heap_and_task_limits_apply_per_host() {
    let recording = fixtures::recording(45);
    let thresholds = Thresholds {
        peak_live_heap_per_host: Some(ByteSize(8 * MIB)),
        peak_tasks_per_host: Some(100),
        ..Thresholds::default()
    };
    let summary = summarize(&recording, &thresholds, 0);
    let lines: Vec<String> = summary.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "peak live heap of host 0 is 12MiB, limit 8MiB",
            "peak tasks of host 0 is 150, limit 100"
        ]
    );
}

#[test]
fn slow_and_never_stable_events_fail_the_stabilization_limit() {
    let mut recording = fixtures::recording(45);
    recording.push(Observation::Measurement(fixtures::measurement(
        2,
        Action::RestartNats,
        9000,
        None,
    )));
    let thresholds = Thresholds {
        stabilization: Some(Duration::from_millis(1500)),
        ..Thresholds::default()
    };
    let summary = summarize(&recording, &thresholds, 0);
    let lines: Vec<String> = summary.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "stabilization of event 2 (kill leader) is 2s, limit 1.5s",
            "stabilization of event 3 (restart nats) is never reached, limit 1.5s"
        ]
    );
    assert_eq!(summary.failures[0].subject(), Subject::Event(2));
    assert_eq!(summary.verdict, Verdict::Fail);
}

#[test]
fn findings_fail_beyond_the_allowed_count() {
    let mut recording = fixtures::recording(45);
    recording.push(fixtures::finding(100));
    recording.push(fixtures::finding(200));
    let summary = summarize(&recording, &Thresholds::default(), 0);
    assert_eq!(summary.findings, 2);
    assert_eq!(
        summary.failures[0].to_string(),
        "number of findings is 2, limit 0"
    );
    assert_eq!(summary.failures[0].subject(), Subject::Findings);
    let allowed = Thresholds {
        max_findings: Some(2),
        ..Thresholds::default()
    };
    assert_eq!(summarize(&recording, &allowed, 0).verdict, Verdict::Pass);
}

#[test]
fn a_failed_step_fails_the_run() {
    let mut recording = fixtures::recording(45);
    recording.push(Observation::Step(StepProgress {
        t_ms: 40_000,
        index: 3,
        label: "wait stable (≤30s)".into(),
        status: StepStatus::Failed("not stable after 30s".into()),
    }));
    let summary = summarize(&recording, &Thresholds::default(), 0);
    assert_eq!(summary.verdict, Verdict::Fail);
    assert_eq!(
        summary.failures[0].to_string(),
        "step 4 (wait stable (≤30s)) failed: not stable after 30s"
    );
    assert_eq!(summary.failures[0].subject(), Subject::Step(4));
    assert_eq!(summary.duration_ms, 40_000);
}

#[test]
fn a_refined_measurement_replaces_the_first() {
    let mut recording = fixtures::recording(45);
    recording.push(Observation::Measurement(fixtures::measurement(
        0,
        Action::ScaleTo(5),
        0,
        Some(900),
    )));
    let summary = summarize(&recording, &Thresholds::default(), 0);
    assert_eq!(summary.events.len(), 2);
    assert_eq!(summary.events[0].stabilization_ms, Some(900));
}

#[test]
fn an_empty_recording_summarizes_to_a_pass() {
    let recording = Recording::new(fixtures::header(fixtures::profile(10, 1)));
    let summary = summarize(&recording, &Thresholds::default(), 0);
    assert_eq!(summary.verdict, Verdict::Pass);
    assert_eq!(summary.duration_ms, 0);
    assert!(summary.events.is_empty() && summary.processes.is_empty());
}

#[test]
fn verdicts_combine_and_map_to_exit_codes() {
    assert_eq!(Verdict::Pass.and(Verdict::Fail), Verdict::Fail);
    assert_eq!(Verdict::Pass.and(Verdict::Pass), Verdict::Pass);
    assert_eq!(Verdict::Fail.exit_code(), 1);
    assert_eq!(Verdict::Pass.exit_code(), 0);
    let other = Failure {
        what: "lost messages".into(),
        limit: "0".into(),
        actual: "3".into(),
    };
    assert_eq!(other.subject(), Subject::Other);
}

#[test]
fn superseded_events_are_shown_but_kept_out_of_the_stabilization_limit() {
    let mut recording = fixtures::recording(45);
    // A scale the next action superseded before it stabilized, then one that stabilized.
    let mut superseded = fixtures::measurement(2, Action::ScaleTo(10), 9000, None);
    superseded.superseded_by = Some(3);
    recording.push(Observation::Measurement(superseded));
    recording.push(Observation::Measurement(fixtures::measurement(
        3,
        Action::ScaleTo(12),
        9500,
        Some(900),
    )));
    let thresholds = Thresholds {
        stabilization: Some(Duration::from_millis(2500)),
        ..Thresholds::default()
    };
    let summary = summarize(&recording, &thresholds, 0);
    assert_eq!(summary.verdict, Verdict::Pass, "{:?}", summary.failures);
    let event = &summary.events[2];
    assert_eq!(event.event, 3);
    assert_eq!(event.superseded_by, Some(4));
    assert_eq!(event.outcome(), EventOutcome::Superseded);
    assert_eq!(event.stabilization_text(), "superseded by 4");
    // The same event closed by the end of the run fails.
    recording.measurements[2].superseded_by = None;
    let summary = summarize(&recording, &thresholds, 0);
    assert_eq!(summary.verdict, Verdict::Fail);
    assert_eq!(summary.events[2].outcome(), EventOutcome::NeverStabilized);
}

#[test]
fn an_emptied_event_reads_as_such() {
    let mut m = fixtures::measurement(0, Action::ScaleTo(0), 0, Some(450));
    m.workers_after = 0;
    let event = event_summary(&m);
    assert_eq!(event.outcome(), EventOutcome::Emptied);
    assert_eq!(event.stabilization_text(), "empty after 450ms");
}
