//! Tests of the renderings: table, JSON and JUnit.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::profile::{Thresholds, Tolerances};
use crate::record::summary::Failure;
use crate::report::fixtures::{self, MIB};
use crate::report::{compare, summarize};

fn failing_summary() -> Summary {
    let mut recording = fixtures::recording(300);
    recording.push(fixtures::finding(700));
    let thresholds = Thresholds {
        peak_rss_per_host: Some(ByteSize(128 * MIB)),
        stabilization: Some(Duration::from_millis(1500)),
        ..Thresholds::default()
    };
    summarize(&recording, &thresholds, 0)
}

#[test]
fn the_table_shows_events_processes_failures_and_the_verdict() {
    let summary = summarize(&fixtures::recording(45), &Thresholds::default(), 0);
    let text = table(&summary, None);
    let expected = "\
events
  #  action       stabilization  quiescence  moved  balance  first assignment  workers  leader
  1  scale→5               1.2s        1.7s  40.0%     1.25             450ms        5  -
  2  kill leader             2s        2.5s  40.0%     1.25             450ms        5  -

processes
  process      peak RSS  peak heap  peak tasks  mean CPU  workers
  host 0          45MiB      12MiB         150     10.0%        4
  nats-server     32MiB          -           -      5.0%        -

findings: 0

verdict: PASS (run of 8s)
";
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn failures_are_one_line_each_and_fail_the_verdict() {
    let text = table(&failing_summary(), None);
    assert!(
        text.contains(
            "failures\n  peak RSS of host 0 is 300MiB, limit 128MiB\n  stabilization of event 2 \
             (kill leader) is 2s, limit 1.5s\n  number of findings is 1, limit 0\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("verdict: FAIL: 3 failures (run of 8s)\n"),
        "{text}"
    );
}

#[test]
fn the_table_includes_the_comparison_and_its_regressions() {
    let current = fixtures::recording(120);
    let baseline = fixtures::recording(100);
    let comparison = compare(&current, &baseline, &Tolerances::default(), false).expect("ok");
    let summary = summarize(&current, &Thresholds::default(), 2);
    let text = table(&summary, Some(&comparison));
    assert!(
        text.contains("baseline: run run-1 started 2025-01-01T00:00:00.000Z\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  peak RSS of host 0                        100MiB   120MiB  +20.0%  regressed\n"
        ),
        "{text}"
    );
    assert!(text.contains("dropped observations: 2"), "{text}");
    assert!(
        text.ends_with("verdict: FAIL: 1 regression (run of 8s)\n"),
        "{text}"
    );
}

#[test]
fn json_is_a_stable_document_with_integer_figures() {
    let current = fixtures::recording(300);
    let baseline = fixtures::recording(100);
    let comparison = compare(&current, &baseline, &Tolerances::default(), false).expect("ok");
    let summary = failing_summary();
    let text = json(
        &summary,
        Some(&comparison),
        Some(Path::new("recordings/runs/x.ron")),
    );
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(value["schema"], "parti-top/summary/3");
    assert!(value["repeats"].is_null());
    assert_eq!(value["events"][0]["event"], 1);
    assert_eq!(value["events"][0]["outcome"], "stabilized");
    assert_eq!(value["verdict"], "fail");
    assert_eq!(value["thresholds_verdict"], "fail");
    assert_eq!(value["duration_ms"], 8000);
    assert_eq!(value["recording"], "recordings/runs/x.ron");
    assert_eq!(value["findings"], 1);
    assert_eq!(value["dropped_observations"], 0);
    assert_eq!(value["events"][0]["label"], "scale→5");
    assert_eq!(value["events"][0]["stabilization_ms"], 1200);
    assert_eq!(value["events"][1]["first_assignment_max_ms"], 450);
    assert_eq!(value["processes"][0]["process"], "host 0");
    assert_eq!(value["processes"][0]["kind"], "host");
    assert_eq!(value["processes"][0]["host"], 0);
    assert_eq!(value["processes"][0]["peak_rss_bytes"], 300 * MIB);
    assert_eq!(value["processes"][1]["kind"], "nats-server");
    assert_eq!(
        value["processes"][1]["peak_live_heap_bytes"],
        serde_json::Value::Null
    );
    assert_eq!(value["failures"][0]["what"], "peak RSS of host 0");
    assert_eq!(value["failures"][0]["limit"], "128MiB");
    assert_eq!(
        value["failures"][0]["message"],
        "peak RSS of host 0 is 300MiB, limit 128MiB"
    );
    assert_eq!(value["comparison"]["verdict"], "fail");
    assert_eq!(value["comparison"]["regressions"], 1);
    assert_eq!(
        value["comparison"]["metrics"][0]["metric"],
        "peak RSS of host 0"
    );
    assert_eq!(value["comparison"]["metrics"][0]["unit"], "bytes");
    assert_eq!(value["comparison"]["metrics"][0]["baseline"], 100 * MIB);
    assert_eq!(value["comparison"]["metrics"][0]["verdict"], "regressed");
}

#[test]
fn json_of_a_passing_run_without_comparison() {
    let summary = summarize(&fixtures::recording(45), &Thresholds::default(), 0);
    let value: serde_json::Value =
        serde_json::from_str(&json(&summary, None, None)).expect("valid JSON");
    assert_eq!(value["verdict"], "pass");
    assert_eq!(value["comparison"], serde_json::Value::Null);
    assert_eq!(value["recording"], serde_json::Value::Null);
    assert_eq!(value["failures"], serde_json::json!([]));
}

/// A profile named `name` with `thresholds`.
fn profile_with(name: &str, thresholds: Thresholds) -> crate::profile::Profile {
    let mut profile = fixtures::profile(100, 1);
    profile.name = name.to_owned();
    profile.thresholds = thresholds;
    profile
}

fn failing_thresholds() -> Thresholds {
    Thresholds {
        peak_rss_per_host: Some(ByteSize(128 * MIB)),
        peak_tasks_per_host: Some(1000),
        stabilization: Some(Duration::from_millis(1500)),
        ..Thresholds::default()
    }
}

#[test]
fn junit_has_a_case_per_threshold_event_and_the_invariants() {
    let mut summary = failing_summary();
    summary.failures.push(Failure {
        what: "step 4 (hold 5s)".into(),
        limit: String::new(),
        actual: "failed: <nats down> & \"gone\"".into(),
    });
    summary.failures.push(Failure {
        what: "lost messages".into(),
        limit: "0".into(),
        actual: "3".into(),
    });
    let xml = junit(&summary, &profile_with("smoke", failing_thresholds()), None);
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        "{xml}"
    );
    // Events 1 and 2, RSS and tasks of host 0, findings, step 4, other thresholds.
    assert!(
        xml.contains("<testsuite name=\"smoke\" tests=\"7\" failures=\"5\""),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase classname=\"smoke.events\" name=\"event 1 (scale→5)\" time=\"1.200\"/>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase classname=\"smoke.events\" name=\"event 2 (kill leader)\" time=\"2.000\">\n      \
             <failure type=\"threshold\" message=\"stabilization of event 2 (kill leader) is 2s, limit 1.5s\">"
        ),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase classname=\"smoke.thresholds\" name=\"peak RSS of host 0\">\n      \
             <failure type=\"threshold\" message=\"peak RSS of host 0 is 300MiB, limit 128MiB\">"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase classname=\"smoke.thresholds\" name=\"peak tasks of host 0\"/>"),
        "{xml}"
    );
    assert!(!xml.contains("peak live heap"), "no heap limit set: {xml}");
    assert!(
        xml.contains("<testcase classname=\"smoke.invariants\" name=\"findings\">"),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase classname=\"smoke.steps\" name=\"step 4\">"),
        "{xml}"
    );
    assert!(
        xml.contains("failed: &lt;nats down&gt; &amp; &quot;gone&quot;"),
        "{xml}"
    );
    assert!(xml.contains("name=\"other thresholds\""), "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
}

#[test]
fn junit_of_a_passing_run_has_no_failures() {
    let summary = summarize(&fixtures::recording(45), &Thresholds::default(), 0);
    let xml = junit(&summary, &profile_with("a<b", Thresholds::default()), None);
    assert!(
        xml.contains("<testsuite name=\"a&lt;b\" tests=\"3\" failures=\"0\""),
        "{xml}"
    );
    assert!(!xml.contains("<failure"), "{xml}");
}

#[test]
fn junit_has_a_case_per_compared_metric_failing_when_it_regressed() {
    let current = fixtures::recording(120);
    let baseline = fixtures::recording(100);
    let mut comparison = compare(&current, &baseline, &Tolerances::default(), false).expect("ok");
    comparison
        .unmatched
        .push("event 3 (scale→2): the leader changed here, kept in the baseline".into());
    let summary = current.summary.clone().expect("complete");
    let xml = junit(
        &summary,
        &profile_with("smoke", Thresholds::default()),
        Some(&comparison),
    );
    let metrics = comparison.metrics.len();
    assert_eq!(metrics, 7, "{:#?}", comparison.metrics);
    // Two events, the findings, each metric and the one not compared.
    assert!(
        xml.contains(&format!(
            "<testsuite name=\"smoke\" tests=\"{}\" failures=\"1\" errors=\"0\" skipped=\"1\"",
            3 + metrics + 1
        )),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase classname=\"smoke.baseline\" name=\"peak RSS of host 0\">\n      \
             <failure type=\"regression\" message=\"peak RSS of host 0: 120MiB against 100MiB \
             in the baseline (+20.0%), beyond the tolerance\">"
        ),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase classname=\"smoke.baseline\" name=\"stabilization of event 1 (scale→5)\"/>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase classname=\"smoke.baseline\" name=\"event 3 (scale→2)\">\n      \
             <skipped message=\"not compared: event 3 (scale→2): the leader changed here, kept \
             in the baseline\"/>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<property name=\"baseline_verdict\" value=\"fail\"/>"),
        "{xml}"
    );
}

/// A run whose first event was superseded by the second before it stabilized.
fn superseded_summary() -> Summary {
    let mut recording = fixtures::recording(45);
    recording.measurements[0].stabilization_ms = None;
    recording.measurements[0].superseded_by = Some(1);
    let thresholds = Thresholds {
        stabilization: Some(Duration::from_millis(2500)),
        ..Thresholds::default()
    };
    summarize(&recording, &thresholds, 0)
}

#[test]
fn a_superseded_event_is_shown_as_such_everywhere_and_passes() {
    let summary = superseded_summary();
    assert_eq!(summary.verdict, Verdict::Pass, "{:?}", summary.failures);
    let text = table(&summary, None);
    assert!(text.contains("  1  scale→5      superseded by 2"), "{text}");
    assert!(
        text.contains("superseded: the next action came before"),
        "{text}"
    );
    let value: serde_json::Value =
        serde_json::from_str(&json(&summary, None, None)).expect("valid JSON");
    assert_eq!(value["events"][0]["outcome"], "superseded");
    assert_eq!(value["events"][0]["superseded_by"], 2);
    assert_eq!(value["events"][1]["outcome"], "stabilized");
    let xml = junit(
        &summary,
        &profile_with("rapid", Thresholds::default()),
        None,
    );
    assert!(xml.contains("skipped=\"1\""), "{xml}");
    assert!(
        xml.contains(
            "<testcase classname=\"rapid.events\" name=\"event 1 (scale→5)\">\n      \
             <skipped message=\"superseded by event 2 before it stabilized; no stabilization \
             limit applies\"/>"
        ),
        "{xml}"
    );
}

fn repeated_run(kill_ms: [u64; 3], rss_mib: [u64; 3]) -> crate::record::format::Recording {
    let figures: Vec<fixtures::RepeatFigures> = (0..3)
        .map(|i| fixtures::RepeatFigures::new(rss_mib[i], 1000 + 100 * i as u64, kill_ms[i]))
        .collect();
    fixtures::repeated(&figures)
}

#[test]
fn the_table_shows_min_median_max_across_repeats() {
    let recording = repeated_run([5000, 9000, 6000], [40, 44, 42]);
    let summary = recording.summary.expect("complete");
    let text = table(&summary, None);
    let expected = "\
repeats: 3 of 3 ran; min / median / max across them
  #  step  action       ended       repeats     stabilization          quiescence                  moved       first assignment  leader
  1     1  scale→5      stabilized      3/3  1s / 1.1s / 1.2s  1.5s / 1.6s / 1.7s  40.0% / 40.0% / 40.0%  450ms / 450ms / 450ms  kept
  2     3  kill leader  stabilized      3/3      5s / 6s / 9s  5.5s / 6.5s / 9.5s  40.0% / 40.0% / 40.0%                      -  changed
";
    assert!(text.contains(expected), "\n{text}");
    assert!(
        text.contains(
            "  host 0             3  40MiB / 42MiB / 44MiB  10MiB / 10MiB / 10MiB  120 / 120 / 120\n"
        ),
        "\n{text}"
    );
}

#[test]
fn json_holds_the_repeats_and_a_comparison_of_medians_with_their_spread() {
    let baseline = repeated_run([5000, 6000, 9000], [40, 44, 42]);
    let current = repeated_run([9000, 9500, 10_000], [40, 41, 42]);
    let comparison = compare(&current, &baseline, &Tolerances::default(), false).expect("ok");
    let summary = current.summary.clone().expect("complete");
    let value: serde_json::Value =
        serde_json::from_str(&json(&summary, Some(&comparison), None)).expect("valid JSON");
    let repeats = &value["repeats"];
    assert_eq!(repeats["planned"], 3);
    assert_eq!(repeats["events"][1]["label"], "kill leader");
    assert_eq!(repeats["events"][1]["outcome"], "stabilized");
    assert_eq!(repeats["events"][1]["stabilization_ms"]["median"], 9500);
    assert_eq!(repeats["events"][1]["occurrences"][2]["event"], 8);
    assert_eq!(repeats["processes"][0]["kind"], "host");
    assert_eq!(repeats["processes"][0]["peak_rss_bytes"]["max"], 42 * MIB);
    let compared = &value["comparison"];
    assert_eq!(compared["repeats"]["current"], 3);
    let kill = compared["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == "stabilization of repeat event 2 (kill leader)")
        .expect("kill compared");
    assert_eq!(kill["baseline"], 6000);
    assert_eq!(kill["baseline_min"], 5000);
    assert_eq!(kill["baseline_max"], 9000);
    assert_eq!(kill["current"], 9500);
    assert_eq!(kill["verdict"], "regressed");
    let text = table(&summary, Some(&comparison));
    assert!(
        text.contains("medians across repeats (3 here, 3 in the baseline), min–max beside them"),
        "{text}"
    );
    assert!(text.contains("6s (5s–9s)"), "{text}");
}
