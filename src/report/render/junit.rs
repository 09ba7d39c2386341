//! JUnit XML for CI systems: one test suite per run, one test case per event, per host, for the
//! invariants and per failed step; threshold failures become `<failure>` elements of the case
//! they are about. A superseded event is a `<skipped>` case: no stabilization limit applies.

use std::fmt::Write;

use crate::observation::ProcessKind;
use crate::record::summary::{Failure, Summary};
use crate::report::summary::Subject;

struct Case<'a> {
    classname: String,
    name: String,
    time_ms: Option<u64>,
    failures: Vec<&'a Failure>,
    /// Why the case was not judged.
    skipped: Option<String>,
}

/// JUnit XML of a run: test suite `profile_name`, one test case per event (its time is the
/// stabilization time), per host, one for the invariants (findings), one per failed step, and
/// one `thresholds` case for any other failure.
pub fn junit(summary: &Summary, profile_name: &str) -> String {
    let mut cases: Vec<(Option<Subject>, Case<'_>)> = Vec::new();
    let case = |group: &str, name: String, time_ms: Option<u64>| Case {
        classname: format!("{profile_name}.{group}"),
        name,
        time_ms,
        failures: Vec::new(),
        skipped: None,
    };
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
        cases.push((Some(Subject::Event(event.event)), event_case));
    }
    for process in &summary.processes {
        if let ProcessKind::Host(host) = process.process {
            cases.push((
                Some(Subject::Host(host)),
                case("processes", format!("host {host}"), None),
            ));
        }
    }
    cases.push((
        Some(Subject::Findings),
        case("invariants", "findings".to_owned(), None),
    ));
    let mut other = case("thresholds", "other thresholds".to_owned(), None);
    for failure in &summary.failures {
        let subject = failure.subject();
        if let Some((_, case)) = cases.iter_mut().find(|(s, _)| *s == Some(subject)) {
            case.failures.push(failure);
        } else if let Subject::Step(step) = subject {
            let mut step_case = case("steps", format!("step {step}"), None);
            step_case.failures.push(failure);
            cases.push((Some(subject), step_case));
        } else {
            other.failures.push(failure);
        }
    }
    if !other.failures.is_empty() {
        cases.push((None, other));
    }

    let failed = cases.iter().filter(|(_, c)| !c.failures.is_empty()).count();
    let skipped = cases.iter().filter(|(_, c)| c.skipped.is_some()).count();
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
        escape(profile_name),
        cases.len(),
        seconds(summary.duration_ms)
    );
    let _ = writeln!(out, "    <properties>");
    let _ = writeln!(
        out,
        "      <property name=\"verdict\" value=\"{}\"/>",
        summary.verdict.name()
    );
    let _ = writeln!(
        out,
        "      <property name=\"findings\" value=\"{}\"/>",
        summary.findings
    );
    let _ = writeln!(
        out,
        "      <property name=\"dropped_observations\" value=\"{}\"/>",
        summary.dropped_observations
    );
    let _ = writeln!(out, "    </properties>");
    for (_, case) in &cases {
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
        for failure in &case.failures {
            let message = escape(&failure.to_string());
            let _ = writeln!(
                out,
                "      <failure type=\"threshold\" message=\"{message}\">{message}</failure>"
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
