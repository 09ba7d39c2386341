//! The run summary: per-event and per-process figures from a (possibly partial) recording, the
//! threshold failures, and the verdict. Pure: values in, values out. The data types are stored in
//! recordings and live in [`crate::record::summary`]; they are re-exported here.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::observation::{Measurement, ProcessKind, StepStatus};
use crate::parti::duration::Human;
use crate::profile::{ByteSize, Thresholds};
use crate::record::format::{Recording, TimelineEntry};
pub use crate::record::summary::{
    EventOutcome, EventSummary, Failure, ProcessSummary, Summary, Verdict,
};

impl EventSummary {
    /// The stabilization column: `1.2s`, `empty after 450ms`, `superseded by 3`, `never`.
    pub fn stabilization_text(&self) -> String {
        match (self.outcome(), self.stabilization_ms, self.superseded_by) {
            (EventOutcome::Emptied, Some(ms), _) => format!("empty after {}", human_ms(ms)),
            (_, Some(ms), _) => human_ms(ms),
            (_, None, Some(by)) => format!("superseded by {by}"),
            (_, None, None) => "never".to_owned(),
        }
    }
}

/// What a failure is about (for grouping, e.g. into JUnit test cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Host(u32),
    /// An event, by its number (from 1).
    Event(usize),
    /// A profile step, by its number (from 1).
    Step(usize),
    Findings,
    Other,
}

/// The `what` of the findings-count failure.
pub const FINDINGS_WHAT: &str = "number of findings";
const STABILIZATION_PREFIX: &str = "stabilization of event ";
const HOST_SUFFIX: &str = " of host ";
const STEP_PREFIX: &str = "step ";

impl Failure {
    /// The subject, read back from `what` as [`summarize`] writes it.
    pub fn subject(&self) -> Subject {
        let number_after = |rest: &str| -> Option<u64> {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        if self.what == FINDINGS_WHAT {
            return Subject::Findings;
        }
        if let Some(rest) = self.what.strip_prefix(STABILIZATION_PREFIX)
            && let Some(n) = number_after(rest).and_then(|n| usize::try_from(n).ok())
        {
            return Subject::Event(n);
        }
        if let Some(rest) = self.what.strip_prefix(STEP_PREFIX)
            && let Some(n) = number_after(rest).and_then(|n| usize::try_from(n).ok())
        {
            return Subject::Step(n);
        }
        if let Some(at) = self.what.rfind(HOST_SUFFIX)
            && let Some(n) = number_after(&self.what[at + HOST_SUFFIX.len()..])
                .and_then(|n| u32::try_from(n).ok())
        {
            return Subject::Host(n);
        }
        Subject::Other
    }
}

/// A duration in milliseconds as `1.5s`, `800ms`, `2m`.
pub fn human_ms(ms: u64) -> String {
    Human(Duration::from_millis(ms)).to_string()
}

/// The figures of one event.
pub fn event_summary(measurement: &Measurement) -> EventSummary {
    EventSummary {
        event: measurement.number(),
        label: measurement.action.label(),
        t_start_ms: measurement.t_start_ms,
        stabilization_ms: measurement.stabilization_ms,
        quiescence_ms: measurement.quiescence_ms,
        moved_percent: measurement.moved_percent,
        balance: measurement.balance,
        first_assignment_max_ms: measurement
            .first_assignments
            .iter()
            .map(|f| f.after_ms)
            .max(),
        workers_after: measurement.workers_after,
        superseded_by: measurement.superseded_by.map(|index| index + 1),
        leader_changed: measurement.leader_changed,
        versions_to_stable: measurement.versions_to_stable,
    }
}

/// The peaks of every process in the samples, ordered hosts first, then nats-server, then
/// parti-top itself.
pub fn process_summaries(recording: &Recording) -> Vec<ProcessSummary> {
    #[derive(Default)]
    struct Acc {
        peak_rss_bytes: u64,
        peak_live_heap_bytes: Option<u64>,
        peak_tasks: Option<u64>,
        cpu_sum: f64,
        cpu_count: u32,
        final_workers: Option<u32>,
    }
    let mut by_process: BTreeMap<ProcessKind, Acc> = BTreeMap::new();
    for sample in &recording.samples {
        for process in &sample.processes {
            let acc = by_process.entry(process.process).or_default();
            acc.peak_rss_bytes = acc.peak_rss_bytes.max(process.rss_bytes);
            acc.peak_live_heap_bytes = acc.peak_live_heap_bytes.max(process.live_heap_bytes);
            acc.peak_tasks = acc.peak_tasks.max(process.tasks);
            if let Some(cpu) = process.cpu_percent.filter(|cpu| cpu.is_finite()) {
                acc.cpu_sum += cpu;
                acc.cpu_count += 1;
            }
            if process.workers.is_some() {
                acc.final_workers = process.workers;
            }
        }
    }
    by_process
        .into_iter()
        .map(|(process, acc)| ProcessSummary {
            process,
            peak_rss_bytes: acc.peak_rss_bytes,
            peak_live_heap_bytes: acc.peak_live_heap_bytes,
            peak_tasks: acc.peak_tasks,
            mean_cpu_percent: (acc.cpu_count > 0).then(|| acc.cpu_sum / f64::from(acc.cpu_count)),
            final_workers: acc.final_workers,
        })
        .collect()
}

/// One host threshold the profile sets, checked against one host's peak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCheck {
    /// e.g. `peak RSS of host 0`: the `what` of its failure.
    pub what: String,
    /// The limit in its unit.
    pub limit: String,
    /// The peak in its unit; `None` when the host never reported the figure.
    pub actual: Option<String>,
    pub exceeded: bool,
}

/// The host thresholds `thresholds` sets (peak RSS, live heap, tasks), checked against the
/// peaks of `process`; none for nats-server and parti-top itself, which are never held to them.
pub fn host_checks(thresholds: &Thresholds, process: &ProcessSummary) -> Vec<HostCheck> {
    let ProcessKind::Host(host) = process.process else {
        return Vec::new();
    };
    let bytes = |n: u64| ByteSize(n).to_string();
    let mut checks = Vec::new();
    let mut check = |name: &str,
                     limit: Option<(u64, String)>,
                     peak: Option<u64>,
                     unit: &dyn Fn(u64) -> String| {
        if let Some((limit, limit_text)) = limit {
            checks.push(HostCheck {
                what: format!("{name}{HOST_SUFFIX}{host}"),
                limit: limit_text,
                actual: peak.map(unit),
                exceeded: peak.is_some_and(|peak| peak > limit),
            });
        }
    };
    check(
        "peak RSS",
        thresholds.peak_rss_per_host.map(|l| (l.0, l.to_string())),
        Some(process.peak_rss_bytes),
        &bytes,
    );
    check(
        "peak live heap",
        thresholds
            .peak_live_heap_per_host
            .map(|l| (l.0, l.to_string())),
        process.peak_live_heap_bytes,
        &bytes,
    );
    check(
        "peak tasks",
        thresholds.peak_tasks_per_host.map(|l| (l, l.to_string())),
        process.peak_tasks,
        &|n: u64| n.to_string(),
    );
    checks
}

/// Figures from a (possibly partial) recording, checked against the thresholds.
///
/// Threshold rules: peak RSS, live heap and tasks apply to each host process (never to
/// nats-server or parti-top itself); the stabilization limit applies to every event that was
/// not superseded (an emptied event's time to empty counts), and an event that the end of the
/// run closed before it stabilized fails it; more findings than `max_findings` (0 when unset)
/// fail; a profile step that failed fails. The verdict is `Fail` iff anything failed.
pub fn summarize(
    recording: &Recording,
    thresholds: &Thresholds,
    dropped_observations: u64,
) -> Summary {
    let mut measurements: Vec<&Measurement> = recording.measurements.iter().collect();
    measurements.sort_by_key(|m| (m.event, m.t_start_ms));
    let events: Vec<EventSummary> = measurements.iter().map(|m| event_summary(m)).collect();
    let processes = process_summaries(recording);
    let mut failures = Vec::new();

    for process in &processes {
        failures.extend(
            host_checks(thresholds, process)
                .into_iter()
                .filter(|check| check.exceeded)
                .map(|check| Failure {
                    what: check.what,
                    limit: check.limit,
                    actual: check.actual.unwrap_or_default(),
                }),
        );
    }

    if let Some(limit) = thresholds.stabilization {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        for event in &events {
            if event.outcome() == EventOutcome::Superseded {
                continue;
            }
            let actual = match event.stabilization_ms {
                Some(ms) if ms <= limit_ms => continue,
                Some(ms) => human_ms(ms),
                None => "never reached".to_owned(),
            };
            failures.push(Failure {
                what: format!("{STABILIZATION_PREFIX}{} ({})", event.event, event.label),
                limit: Human(limit).to_string(),
                actual,
            });
        }
    }

    let max_findings = thresholds.max_findings.unwrap_or(0);
    let findings = recording.findings.len();
    if u64::try_from(findings).unwrap_or(u64::MAX) > max_findings {
        failures.push(Failure {
            what: FINDINGS_WHAT.to_owned(),
            limit: max_findings.to_string(),
            actual: findings.to_string(),
        });
    }

    let holds = super::drift::hold_figures(recording);
    failures.extend(super::drift::failures(&holds, thresholds));

    for entry in &recording.timeline {
        if let TimelineEntry::Step(step) = entry
            && let StepStatus::Failed(reason) = &step.status
        {
            failures.push(Failure {
                what: format!("{STEP_PREFIX}{} ({})", step.number(), step.label),
                limit: String::new(),
                actual: format!("failed: {reason}"),
            });
        }
    }

    if let Some(load) = &recording.load {
        failures.extend(super::load::failures(load, thresholds));
    }

    let repeats = super::repeats::of(recording, &events);
    Summary {
        verdict: if failures.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        duration_ms: recording.duration_ms(),
        events,
        processes,
        findings,
        failures,
        dropped_observations,
        repeats,
        holds,
        load: recording.load.clone(),
    }
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
