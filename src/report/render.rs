//! Renderings of a run's outcome, all pure functions returning strings: the human summary
//! table ([`table`], with the statistics across repeats when there are any), a stable JSON
//! document for machines ([`json`]) and JUnit XML for CI systems ([`junit`]).

mod diff;
mod json;
mod junit;
mod repeats;

use super::baseline::{Comparison, MetricComparison, Range};
use super::overall_verdict;
use super::summary::human_ms;
use crate::profile::ByteSize;
use crate::record::summary::{EventOutcome, EventSummary, ProcessSummary, Summary, Verdict};
use crate::text::plural;

pub use diff::{DIFF_SCHEMA, diff_json, diff_table, machine_rows, regressed_metrics};
pub use json::{JSON_SCHEMA, json};
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
    if let Some(stats) = &summary.repeats {
        out.push('\n');
        out.push_str(&repeats::table(stats));
    }
    out.push_str(&super::drift::table(&summary.holds));
    if let Some(load) = &summary.load {
        out.push('\n');
        out.push_str(&super::load::render(load));
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
    if let Some(counts) = comparison.repeats {
        out.push_str(&format!(
            "  medians across repeats ({} here, {} in the baseline), min–max beside them\n",
            counts.current, counts.baseline
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
    let with_range = |value: Option<u64>, range: Option<Range>| {
        let text = metric.unit.format(value);
        match range {
            Some(Range { min, max }) if min != max => format!(
                "{text} ({}–{})",
                metric.unit.format(min),
                metric.unit.format(max)
            ),
            _ => text,
        }
    };
    vec![
        metric.metric.clone(),
        with_range(metric.baseline, metric.baseline_range),
        with_range(metric.current, metric.current_range),
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

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
