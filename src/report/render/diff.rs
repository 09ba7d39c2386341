//! `parti-top diff A.ron B.ron`, rendered: B compared with A (the baseline) as a table for
//! people ([`diff_table`]: who ran what where, the machines side by side when they differ, one
//! row per metric, what was not compared and why, the verdict) and as a JSON document
//! ([`diff_json`], schema [`DIFF_SCHEMA`]). Pure.

use std::path::Path;

use serde::Serialize;

use super::{cells, columns, metric_row};
use crate::record::format::{Machine, Recording};
use crate::report::baseline::{Comparison, Direction, MetricVerdict, RepeatCounts};
use crate::text::plural;

/// The diff JSON document's schema name; bumped when a field changes meaning or disappears.
pub const DIFF_SCHEMA: &str = "parti-top/diff/1";

/// The machine fingerprint, field by field: `(field, A, B)`.
pub fn machine_rows(a: &Machine, b: &Machine) -> Vec<(&'static str, String, String)> {
    let memory = |m: &Machine| crate::profile::ByteSize(m.memory_bytes).to_string();
    vec![
        ("cores", a.cores.to_string(), b.cores.to_string()),
        ("memory", memory(a), memory(b)),
        ("kernel", a.kernel.clone(), b.kernel.clone()),
        ("cpu", a.cpu_model.clone(), b.cpu_model.clone()),
        ("hostname", a.hostname.clone(), b.hostname.clone()),
    ]
}

/// `run golden01 of golden (headless), started 2025-06-01T12:00:00.000Z by parti-top 0.1.0
/// (0123456789ab), verdict pass`.
fn describe(recording: &Recording) -> String {
    let header = &recording.header;
    let revision = header
        .git_revision
        .as_deref()
        .map(|rev| format!(" ({rev})"))
        .unwrap_or_default();
    let verdict = recording.summary.as_ref().map_or_else(
        || "no summary (incomplete)".to_owned(),
        |s| format!("verdict {}", s.verdict.name()),
    );
    format!(
        "run {} of {}, started {} by parti-top {}{revision}, {verdict}",
        header.run_id, header.profile.name, header.started_at, header.tool_version
    )
}

/// The names of the metrics that regressed.
pub fn regressed_metrics(comparison: &Comparison) -> Vec<&str> {
    comparison
        .metrics
        .iter()
        .filter(|m| m.verdict == MetricVerdict::Regressed)
        .map(|m| m.metric.as_str())
        .collect()
}

/// The diff for people: both runs, the machines when they differ, the metrics, what was not
/// compared, and the verdict line.
pub fn diff_table(
    (a_path, a): (&Path, &Recording),
    (b_path, b): (&Path, &Recording),
    comparison: &Comparison,
) -> String {
    let mut out = format!(
        "A: {}\n   {}\nB: {}\n   {}\n",
        a_path.display(),
        describe(a),
        b_path.display(),
        describe(b)
    );
    if a.header.machine != b.header.machine {
        out.push_str("\nthe machines differ\n");
        let mut rows = vec![cells(&["", "A", "B", ""])];
        rows.extend(
            machine_rows(&a.header.machine, &b.header.machine)
                .into_iter()
                .map(|(field, x, y)| {
                    let mark = if x == y { "" } else { "≠" };
                    vec![field.to_owned(), x, y, mark.to_owned()]
                }),
        );
        out.push_str(&columns(&rows, &[false, false, false, false]));
    }
    if comparison.forced {
        out.push_str(&format!(
            "\nthe setups differ (compared because of --force; \"here\" is B): {}\n",
            comparison.setup_differences.join("; ")
        ));
    }
    out.push('\n');
    if let Some(RepeatCounts { baseline, current }) = comparison.repeats {
        out.push_str(&format!(
            "medians across repeats (A {baseline}, B {current}), min–max beside them\n"
        ));
    }
    if comparison.metrics.is_empty() {
        out.push_str("no metric could be compared\n");
    } else {
        let mut rows = vec![cells(&["metric", "A", "B", "change", "verdict"])];
        rows.extend(comparison.metrics.iter().map(metric_row));
        out.push_str(&columns(&rows, &[false, true, true, true, false]));
    }
    for note in &comparison.unmatched {
        out.push_str(&format!("  not compared: {note}\n"));
    }
    out.push('\n');
    out.push_str(&verdict_line(comparison));
    out.push('\n');
    out
}

/// `verdict: B regressed against A: 2 regressions (…); 1 improvement` or `verdict: B is within
/// noise of A (7 metrics compared, 1 improved)`.
fn verdict_line(comparison: &Comparison) -> String {
    let improved = comparison.improvements();
    let compared = plural(comparison.metrics.len() as u64, "metric");
    let regressed = regressed_metrics(comparison);
    if regressed.is_empty() {
        format!(
            "verdict: B is within noise of A or better ({compared} compared, {improved} improved)"
        )
    } else {
        format!(
            "verdict: B regressed against A: {} ({}); {compared} compared, {improved} improved",
            plural(regressed.len() as u64, "regression"),
            regressed.join(", ")
        )
    }
}

#[derive(Serialize)]
struct JsonMachine<'a> {
    cores: u32,
    memory_bytes: u64,
    kernel: &'a str,
    cpu_model: &'a str,
    hostname: &'a str,
}

#[derive(Serialize)]
struct JsonRun<'a> {
    path: String,
    run_id: &'a str,
    profile: &'a str,
    started_at: &'a str,
    tool_version: &'a str,
    git_revision: Option<&'a str>,
    /// The run's own verdict (`pass`/`fail`), `null` when it has no summary.
    verdict: Option<&'static str>,
    repeats: u32,
    machine: JsonMachine<'a>,
}

#[derive(Serialize)]
struct JsonDiffMetric<'a> {
    metric: &'a str,
    unit: &'static str,
    lower_is_better: bool,
    a: Option<u64>,
    b: Option<u64>,
    a_min: Option<u64>,
    a_max: Option<u64>,
    b_min: Option<u64>,
    b_max: Option<u64>,
    change_percent: Option<f64>,
    verdict: &'static str,
}

#[derive(Serialize)]
struct JsonRepeats {
    a: u32,
    b: u32,
}

#[derive(Serialize)]
struct JsonDiff<'a> {
    schema: &'static str,
    /// `fail` when B regressed against A.
    verdict: &'static str,
    a: JsonRun<'a>,
    b: JsonRun<'a>,
    machines_differ: bool,
    forced: bool,
    setup_differences: &'a [String],
    repeats: Option<JsonRepeats>,
    regressions: usize,
    improvements: usize,
    metrics: Vec<JsonDiffMetric<'a>>,
    not_compared: &'a [String],
}

fn json_run<'a>(path: &Path, recording: &'a Recording) -> JsonRun<'a> {
    let header = &recording.header;
    let machine = &header.machine;
    JsonRun {
        path: path.display().to_string(),
        run_id: &header.run_id,
        profile: &header.profile.name,
        started_at: &header.started_at,
        tool_version: &header.tool_version,
        git_revision: header.git_revision.as_deref(),
        verdict: recording.summary.as_ref().map(|s| s.verdict.name()),
        repeats: header.profile.repeats,
        machine: JsonMachine {
            cores: machine.cores,
            memory_bytes: machine.memory_bytes,
            kernel: &machine.kernel,
            cpu_model: &machine.cpu_model,
            hostname: &machine.hostname,
        },
    }
}

/// The diff as a stable JSON document (schema [`DIFF_SCHEMA`]; bytes and milliseconds as
/// integers, `null` for a duration that never ended).
pub fn diff_json(
    (a_path, a): (&Path, &Recording),
    (b_path, b): (&Path, &Recording),
    comparison: &Comparison,
) -> String {
    let document = JsonDiff {
        schema: DIFF_SCHEMA,
        verdict: comparison.verdict().name(),
        a: json_run(a_path, a),
        b: json_run(b_path, b),
        machines_differ: a.header.machine != b.header.machine,
        forced: comparison.forced,
        setup_differences: &comparison.setup_differences,
        repeats: comparison.repeats.map(|r| JsonRepeats {
            a: r.baseline,
            b: r.current,
        }),
        regressions: comparison.regressions(),
        improvements: comparison.improvements(),
        metrics: comparison
            .metrics
            .iter()
            .map(|m| JsonDiffMetric {
                metric: &m.metric,
                unit: m.unit.name(),
                lower_is_better: m.direction == Direction::LowerIsBetter,
                a: m.baseline,
                b: m.current,
                a_min: m.baseline_range.and_then(|r| r.min),
                a_max: m.baseline_range.and_then(|r| r.max),
                b_min: m.current_range.and_then(|r| r.min),
                b_max: m.current_range.and_then(|r| r.max),
                change_percent: m.change_percent,
                verdict: m.verdict.name(),
            })
            .collect(),
        not_compared: &comparison.unmatched,
    };
    // Plain data with string keys: serialization cannot fail.
    serde_json::to_string_pretty(&document)
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}
