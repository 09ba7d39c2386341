//! The summary as a stable JSON document for machines (schema [`JSON_SCHEMA`], documented in
//! docs/reports.md): the table's figures as integers (bytes, milliseconds), the statistics
//! across repeats, failures, findings and the baseline comparison.

use std::path::Path;

use serde::Serialize;

use crate::observation::ProcessKind;
use crate::record::summary::{
    EventSummary, Failure, ProcessSummary, RepeatSummary, RepeatedEvent, Spread, Summary,
};
use crate::report::baseline::{Comparison, Direction, RepeatCounts};
use crate::report::overall_verdict;

/// The JSON document's schema name; bumped when a field changes meaning or disappears.
///
/// Version 3: `repeats` (statistics across repeats, `null` for a single run); a comparison's
/// `baseline` and `current` are medians when it has `repeats`, with `*_min` / `*_max` beside
/// them. `load` (added without a version change: nothing changed meaning) is the message load's
/// ledger, `null` without load.
pub const JSON_SCHEMA: &str = "parti-top/summary/3";

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    /// Thresholds and baseline together: what the exit code says.
    verdict: &'static str,
    thresholds_verdict: &'static str,
    duration_ms: u64,
    recording: Option<String>,
    events: Vec<JsonEvent<'a>>,
    processes: Vec<JsonProcess>,
    findings: usize,
    failures: Vec<JsonFailure<'a>>,
    dropped_observations: u64,
    /// Each host's level and drift over each long enough `Hold`.
    holds: &'a [crate::record::summary::HoldFigures],
    repeats: Option<JsonRepeats<'a>>,
    /// The message load's ledger (`null` without load): totals, drain, zombie acks, and the
    /// messages sent during each event.
    load: Option<&'a crate::record::summary::LoadFigures>,
    comparison: Option<JsonComparison<'a>>,
}

/// The statistics across repeats.
#[derive(Serialize)]
struct JsonRepeats<'a> {
    planned: u32,
    started: u32,
    events: &'a [RepeatedEvent],
    processes: Vec<JsonRepeatedProcess>,
}

#[derive(Serialize)]
struct JsonRepeatedProcess {
    process: String,
    kind: &'static str,
    host: Option<u32>,
    repeats: Vec<u32>,
    peak_rss_bytes: Spread<u64>,
    peak_live_heap_bytes: Option<Spread<u64>>,
    peak_tasks: Option<Spread<u64>>,
}

/// An event with its outcome spelt out (`stabilized`, `emptied`, `superseded`,
/// `never-stabilized`).
#[derive(Serialize)]
struct JsonEvent<'a> {
    #[serde(flatten)]
    event: &'a EventSummary,
    outcome: &'static str,
}

#[derive(Serialize)]
struct JsonProcess {
    process: String,
    kind: &'static str,
    host: Option<u32>,
    peak_rss_bytes: u64,
    peak_live_heap_bytes: Option<u64>,
    peak_tasks: Option<u64>,
    mean_cpu_percent: Option<f64>,
    final_workers: Option<u32>,
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    what: &'a str,
    limit: &'a str,
    actual: &'a str,
    message: String,
}

#[derive(Serialize)]
struct JsonComparison<'a> {
    verdict: &'static str,
    baseline_run_id: &'a str,
    baseline_started_at: &'a str,
    forced: bool,
    setup_differences: &'a [String],
    unmatched: &'a [String],
    regressions: usize,
    improvements: usize,
    /// Set when medians across repeats were compared.
    repeats: Option<RepeatCounts>,
    metrics: Vec<JsonMetric<'a>>,
}

#[derive(Serialize)]
struct JsonMetric<'a> {
    metric: &'a str,
    unit: &'static str,
    lower_is_better: bool,
    baseline: Option<u64>,
    current: Option<u64>,
    change_percent: Option<f64>,
    verdict: &'static str,
    /// With repeats: the spread behind the medians (`null` otherwise, and for never).
    baseline_min: Option<u64>,
    baseline_max: Option<u64>,
    current_min: Option<u64>,
    current_max: Option<u64>,
}

/// A stable JSON document: `schema`, `verdict` (`pass`/`fail`, thresholds and baseline
/// together), the table's figures (bytes and milliseconds as integers), failures, findings,
/// the comparison (or `null`) and the recording's path (or `null`).
pub fn json(
    summary: &Summary,
    comparison: Option<&Comparison>,
    recording_path: Option<&Path>,
) -> String {
    let report = JsonReport {
        schema: JSON_SCHEMA,
        verdict: overall_verdict(summary, comparison).name(),
        thresholds_verdict: summary.verdict.name(),
        duration_ms: summary.duration_ms,
        recording: recording_path.map(|p| p.display().to_string()),
        events: summary
            .events
            .iter()
            .map(|event| JsonEvent {
                event,
                outcome: event.outcome().name(),
            })
            .collect(),
        processes: summary.processes.iter().map(json_process).collect(),
        findings: summary.findings,
        failures: summary.failures.iter().map(json_failure).collect(),
        dropped_observations: summary.dropped_observations,
        holds: &summary.holds,
        repeats: summary.repeats.as_ref().map(json_repeats),
        load: summary.load.as_ref(),
        comparison: comparison.map(json_comparison),
    };
    // Plain data with string keys: serialization cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}

/// A process's kind and host number as the JSON spells them.
fn kind_of(process: ProcessKind) -> (&'static str, Option<u32>) {
    match process {
        ProcessKind::Host(n) => ("host", Some(n)),
        ProcessKind::NatsServer => ("nats-server", None),
        ProcessKind::Controller => ("controller", None),
    }
}

fn json_repeats(repeats: &RepeatSummary) -> JsonRepeats<'_> {
    JsonRepeats {
        planned: repeats.planned,
        started: repeats.started,
        events: &repeats.events,
        processes: repeats
            .processes
            .iter()
            .map(|p| {
                let (kind, host) = kind_of(p.process);
                JsonRepeatedProcess {
                    process: p.process.to_string(),
                    kind,
                    host,
                    repeats: p.repeats.clone(),
                    peak_rss_bytes: p.peak_rss_bytes,
                    peak_live_heap_bytes: p.peak_live_heap_bytes,
                    peak_tasks: p.peak_tasks,
                }
            })
            .collect(),
    }
}

fn json_process(process: &ProcessSummary) -> JsonProcess {
    let (kind, host) = kind_of(process.process);
    JsonProcess {
        process: process.process.to_string(),
        kind,
        host,
        peak_rss_bytes: process.peak_rss_bytes,
        peak_live_heap_bytes: process.peak_live_heap_bytes,
        peak_tasks: process.peak_tasks,
        mean_cpu_percent: process.mean_cpu_percent,
        final_workers: process.final_workers,
    }
}

fn json_failure(failure: &Failure) -> JsonFailure<'_> {
    JsonFailure {
        what: &failure.what,
        limit: &failure.limit,
        actual: &failure.actual,
        message: failure.to_string(),
    }
}

fn json_comparison(comparison: &Comparison) -> JsonComparison<'_> {
    JsonComparison {
        verdict: comparison.verdict().name(),
        baseline_run_id: &comparison.baseline_run_id,
        baseline_started_at: &comparison.baseline_started_at,
        forced: comparison.forced,
        setup_differences: &comparison.setup_differences,
        unmatched: &comparison.unmatched,
        regressions: comparison.regressions(),
        improvements: comparison.improvements(),
        repeats: comparison.repeats,
        metrics: comparison
            .metrics
            .iter()
            .map(|m| JsonMetric {
                metric: &m.metric,
                unit: m.unit.name(),
                lower_is_better: m.direction == Direction::LowerIsBetter,
                baseline: m.baseline,
                current: m.current,
                change_percent: m.change_percent,
                verdict: m.verdict.name(),
                baseline_min: m.baseline_range.and_then(|r| r.min),
                baseline_max: m.baseline_range.and_then(|r| r.max),
                current_min: m.current_range.and_then(|r| r.min),
                current_max: m.current_range.and_then(|r| r.max),
            })
            .collect(),
    }
}
