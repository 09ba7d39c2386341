//! JUnit XML for CI systems: one test suite per run, with one test case per threshold (per host
//! for the host limits, per event for the stabilization limit, the findings, each failed step)
//! and one per metric compared with a baseline. A case holds a `<failure>` when its threshold
//! failed or its metric regressed. A superseded event is a `<skipped>` case (no stabilization
//! limit applies), and so is each metric that could not be compared, with the reason.

use std::fmt::Write;

use crate::profile::Profile;
use crate::record::summary::{Failure, Summary};
use crate::report::baseline::{Comparison, MetricComparison, MetricVerdict};
use crate::report::summary::{Subject, host_checks};

struct Case {
    classname: String,
    name: String,
    time_ms: Option<u64>,
    /// `(type, message)` of each failure.
    failures: Vec<(&'static str, String)>,
    /// Why the case was not judged.
    skipped: Option<String>,
}

impl Case {
    fn threshold(&mut self, failure: &Failure) {
        self.failures.push(("threshold", failure.to_string()));
    }
}

/// `peak RSS of host 0: 120MiB against 100MiB in the baseline (+20.0%), beyond the tolerance`.
fn regression_message(metric: &MetricComparison) -> String {
    let change = metric
        .change_percent
        .map(|c| format!(" ({c:+.1}%)"))
        .unwrap_or_default();
    format!(
        "{}: {} against {} in the baseline{change}, beyond the tolerance",
        metric.metric,
        metric.unit.format(metric.current),
        metric.unit.format(metric.baseline)
    )
}

/// The test cases of a run, in order: events, host thresholds, invariants, failed steps, other
/// failures, then the baseline comparison.
fn cases(summary: &Summary, profile: &Profile, comparison: Option<&Comparison>) -> Vec<Case> {
    let suite = &profile.name;
    let case = |group: &str, name: String, time_ms: Option<u64>| Case {
        classname: format!("{suite}.{group}"),
        name,
        time_ms,
        failures: Vec::new(),
        skipped: None,
    };
    let mut subjects: Vec<(Subject, Case)> = Vec::new();
    let mut by_what: Vec<(String, Case)> = Vec::new();
    for event in &summary.events {
        let mut event_case = case(
            "events",
            format!("event {} ({})", event.event, event.label),
            event.stabilization_ms,
        );
        if let Some(by) = event
            .superseded_by
            .filter(|_| event.stabilization_ms.is_none())
        {
            event_case.skipped = Some(format!(
                "superseded by event {by} before it stabilized; no stabilization limit applies"
            ));
        }
        subjects.push((Subject::Event(event.event), event_case));
    }
    for process in &summary.processes {
        for check in host_checks(&profile.thresholds, process) {
            let mut host_case = case("thresholds", check.what.clone(), None);
            if check.actual.is_none() {
                host_case.skipped = Some(format!("{}: not reported", check.what));
            }
            by_what.push((check.what, host_case));
        }
    }
    subjects.push((
        Subject::Findings,
        case("invariants", "findings".to_owned(), None),
    ));
    let mut other = case("thresholds", "other thresholds".to_owned(), None);
    for failure in &summary.failures {
        if let Some((_, case)) = by_what.iter_mut().find(|(what, _)| *what == failure.what) {
            case.threshold(failure);
            continue;
        }
        let subject = failure.subject();
        if let Some((_, case)) = subjects.iter_mut().find(|(s, _)| *s == subject) {
            case.threshold(failure);
        } else if let Subject::Step(step) = subject {
            let mut step_case = case("steps", format!("step {step}"), None);
            step_case.threshold(failure);
            subjects.push((subject, step_case));
        } else {
            other.threshold(failure);
        }
    }
    let (events, rest): (Vec<_>, Vec<_>) = subjects
        .into_iter()
        .partition(|(s, _)| matches!(s, Subject::Event(_)));
    let mut cases: Vec<Case> = events.into_iter().map(|(_, c)| c).collect();
    cases.extend(by_what.into_iter().map(|(_, c)| c));
    cases.extend(rest.into_iter().map(|(_, c)| c));
    if !other.failures.is_empty() {
        cases.push(other);
    }
    if let Some(comparison) = comparison {
        for metric in &comparison.metrics {
            let mut metric_case = case("baseline", metric.metric.clone(), None);
            if metric.verdict == MetricVerdict::Regressed {
                metric_case
                    .failures
                    .push(("regression", regression_message(metric)));
            }
            cases.push(metric_case);
        }
        for note in &comparison.unmatched {
            let name = note
                .split_once(": ")
                .map_or(note.as_str(), |(what, _)| what);
            let mut skipped = case("baseline", name.to_owned(), None);
            skipped.skipped = Some(format!("not compared: {note}"));
            cases.push(skipped);
        }
    }
    cases
}

/// JUnit XML of a run of `profile` (the test suite is its name): a test case per event (its
/// time is the stabilization time; stabilization-limit failures), per host threshold the
/// profile sets and host, for the invariants (findings), per failed step, one `other
/// thresholds` case for any other failure, and with a comparison one case per compared metric
/// (a `regression` failure when it regressed) and a skipped case per thing not compared.
pub fn junit(summary: &Summary, profile: &Profile, comparison: Option<&Comparison>) -> String {
    let cases = cases(summary, profile, comparison);
    let failed = cases.iter().filter(|c| !c.failures.is_empty()).count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let seconds = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let _ = writeln!(
        out,
        "<testsuites name=\"parti-top\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" time=\"{}\">",
        cases.len(),
        seconds(summary.duration_ms)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        escape(&profile.name),
        cases.len(),
        seconds(summary.duration_ms)
    );
    let _ = writeln!(out, "    <properties>");
    let mut property = |name: &str, value: &str| {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            escape(value)
        );
    };
    property("verdict", summary.verdict.name());
    property("findings", &summary.findings.to_string());
    property(
        "dropped_observations",
        &summary.dropped_observations.to_string(),
    );
    if let Some(comparison) = comparison {
        property("baseline_run_id", &comparison.baseline_run_id);
        property("baseline_verdict", comparison.verdict().name());
    }
    let _ = writeln!(out, "    </properties>");
    for case in &cases {
        let time = case
            .time_ms
            .map(|ms| format!(" time=\"{}\"", seconds(ms)))
            .unwrap_or_default();
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\"{time}",
            escape(&case.classname),
            escape(&case.name)
        );
        if case.failures.is_empty() && case.skipped.is_none() {
            let _ = writeln!(out, "{open}/>");
            continue;
        }
        let _ = writeln!(out, "{open}>");
        if let Some(reason) = &case.skipped {
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape(reason));
        }
        for (kind, message) in &case.failures {
            let message = escape(message);
            let _ = writeln!(
                out,
                "      <failure type=\"{kind}\" message=\"{message}\">{message}</failure>"
            );
        }
        let _ = writeln!(out, "    </testcase>");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Text safe inside XML attributes and elements.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}
