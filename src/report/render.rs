//! Renderings of a run's outcome, all pure functions returning strings: the human summary
//! table ([`table`]), a stable JSON document for machines ([`json`]) and JUnit XML for CI
//! systems ([`junit`]).

mod junit;

use std::path::Path;

use serde::Serialize;

use super::baseline::{Comparison, MetricComparison};
use super::overall_verdict;
use super::summary::human_ms;
use crate::observation::ProcessKind;
use crate::profile::ByteSize;
use crate::record::summary::{
    EventOutcome, EventSummary, Failure, ProcessSummary, Summary, Verdict,
};
use crate::text::plural;

pub use junit::junit;

/// The human summary: events, processes, findings, the baseline comparison when there is one,
/// failures one per line, and the verdict line.
pub fn table(summary: &Summary, comparison: Option<&Comparison>) -> String {
    let mut out = String::new();
    if summary.events.is_empty() {
        out.push_str("events: none\n");
    } else {
        out.push_str("events\n");
        let mut rows = vec![cells(&[
            "#",
            "action",
            "stabilization",
            "quiescence",
            "moved",
            "balance",
            "first assignment",
            "workers",
            "leader",
        ])];
        rows.extend(summary.events.iter().map(event_row));
        out.push_str(&columns(
            &rows,
            &[true, false, true, true, true, true, true, true, false],
        ));
        let superseded = summary
            .events
            .iter()
            .filter(|e| e.outcome() == EventOutcome::Superseded)
            .count();
        if superseded > 0 {
            out.push_str(&format!(
                "  superseded: the next action came before the event stabilized; no stabilization \
                 limit applies ({superseded} event{})\n",
                if superseded == 1 { "" } else { "s" }
            ));
        }
    }
    out.push('\n');
    if summary.processes.is_empty() {
        out.push_str("processes: no samples\n");
    } else {
        out.push_str("processes\n");
        let mut rows = vec![cells(&[
            "process",
            "peak RSS",
            "peak heap",
            "peak tasks",
            "mean CPU",
            "workers",
        ])];
        rows.extend(summary.processes.iter().map(process_row));
        out.push_str(&columns(&rows, &[false, true, true, true, true, true]));
    }
    out.push('\n');
    out.push_str(&format!("findings: {}\n", summary.findings));
    if summary.dropped_observations > 0 {
        out.push_str(&format!(
            "dropped observations: {} (the recorder fell behind; figures may be incomplete)\n",
            summary.dropped_observations
        ));
    }
    if let Some(comparison) = comparison {
        out.push('\n');
        out.push_str(&comparison_table(comparison));
    }
    if !summary.failures.is_empty() {
        out.push_str("\nfailures\n");
        for failure in &summary.failures {
            out.push_str(&format!("  {failure}\n"));
        }
    }
    out.push('\n');
    out.push_str(&verdict_line(summary, comparison));
    out.push('\n');
    out
}

fn verdict_line(summary: &Summary, comparison: Option<&Comparison>) -> String {
    let verdict = overall_verdict(summary, comparison);
    let mut reasons = Vec::new();
    if !summary.failures.is_empty() {
        reasons.push(plural(summary.failures.len() as u64, "failure"));
    }
    if let Some(regressions) = comparison.map(Comparison::regressions).filter(|n| *n > 0) {
        reasons.push(plural(regressions as u64, "regression"));
    }
    let name = match verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    };
    let duration = human_ms(summary.duration_ms);
    if reasons.is_empty() {
        format!("verdict: {name} (run of {duration})")
    } else {
        format!(
            "verdict: {name}: {} (run of {duration})",
            reasons.join(", ")
        )
    }
}

fn comparison_table(comparison: &Comparison) -> String {
    let mut out = format!(
        "baseline: run {} started {}\n",
        comparison.baseline_run_id, comparison.baseline_started_at
    );
    if comparison.forced {
        out.push_str(&format!(
            "  forced although the setups differ: {}\n",
            comparison.setup_differences.join("; ")
        ));
    }
    let mut rows = vec![cells(&[
        "metric", "baseline", "current", "change", "verdict",
    ])];
    rows.extend(comparison.metrics.iter().map(metric_row));
    out.push_str(&columns(&rows, &[false, true, true, true, false]));
    for note in &comparison.unmatched {
        out.push_str(&format!("  not compared: {note}\n"));
    }
    out
}

fn metric_row(metric: &MetricComparison) -> Vec<String> {
    vec![
        metric.metric.clone(),
        metric.unit.format(metric.baseline),
        metric.unit.format(metric.current),
        metric
            .change_percent
            .map_or_else(|| "-".to_owned(), |c| format!("{c:+.1}%")),
        metric.verdict.name().to_owned(),
    ]
}

fn event_row(event: &EventSummary) -> Vec<String> {
    let ms = |value: Option<u64>, none: &str| value.map_or_else(|| none.to_owned(), human_ms);
    vec![
        event.event.to_string(),
        event.label.clone(),
        event.stabilization_text(),
        ms(event.quiescence_ms, "-"),
        format!("{:.1}%", event.moved_percent),
        event
            .balance
            .map_or_else(|| "-".to_owned(), |b| format!("{b:.2}")),
        ms(event.first_assignment_max_ms, "-"),
        event.workers_after.to_string(),
        match event.leader_changed {
            Some(true) => "changed",
            Some(false) => "kept",
            None => "-",
        }
        .to_owned(),
    ]
}

fn process_row(process: &ProcessSummary) -> Vec<String> {
    let dash = || "-".to_owned();
    vec![
        process.process.to_string(),
        ByteSize(process.peak_rss_bytes).to_string(),
        process
            .peak_live_heap_bytes
            .map_or_else(dash, |b| ByteSize(b).to_string()),
        process.peak_tasks.map_or_else(dash, |t| t.to_string()),
        process
            .mean_cpu_percent
            .map_or_else(dash, |c| format!("{c:.1}%")),
        process.final_workers.map_or_else(dash, |w| w.to_string()),
    ]
}

fn cells(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

/// Rows as aligned columns, indented by two spaces, two spaces between columns; `right[i]`
/// right-aligns column `i`.
fn columns(rows: &[Vec<String>], right: &[bool]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            line.push(' ');
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push(' ');
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The JSON document's schema name; bumped when a field changes meaning or disappears.
pub const JSON_SCHEMA: &str = "parti-top/summary/2";

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
    comparison: Option<JsonComparison<'a>>,
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
        comparison: comparison.map(json_comparison),
    };
    // Plain data with string keys: serialization cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}

fn json_process(process: &ProcessSummary) -> JsonProcess {
    let (kind, host) = match process.process {
        ProcessKind::Host(n) => ("host", Some(n)),
        ProcessKind::NatsServer => ("nats-server", None),
        ProcessKind::Controller => ("controller", None),
    };
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
        metrics: comparison
            .metrics
            .iter()
            .map(|m| JsonMetric {
                metric: &m.metric,
                unit: m.unit.name(),
                lower_is_better: m.direction == super::baseline::Direction::LowerIsBetter,
                baseline: m.baseline,
                current: m.current,
                change_percent: m.change_percent,
                verdict: m.verdict.name(),
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
