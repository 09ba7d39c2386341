//! Tests of the baseline comparison: tolerances, floors, refused setups.

use std::time::Duration;

use super::*;
use crate::action::Action;
use crate::observation::{Observation, Sample};
use crate::profile::StartMode;
use crate::record::format::Recording;
use crate::report::fixtures::{self, MIB};

fn verdict_of<'a>(comparison: &'a Comparison, name: &str) -> &'a MetricComparison {
    comparison
        .metrics
        .iter()
        .find(|m| m.metric == name)
        .unwrap_or_else(|| panic!("no metric {name:?} in {:#?}", comparison.metrics))
}

/// A run whose scale event stabilized after `stab_ms`.
fn run_with(rss_mib: u64, stab_ms: Option<u64>) -> Recording {
    let mut recording = fixtures::recording(rss_mib);
    recording.push(Observation::Measurement(fixtures::measurement(
        0,
        Action::ScaleTo(5),
        0,
        stab_ms,
    )));
    fixtures::complete(recording)
}

#[test]
fn identical_runs_are_within_noise() {
    let run = fixtures::recording(45);
    let comparison = compare(&run, &run, &Tolerances::default(), false).expect("comparable");
    assert!(!comparison.metrics.is_empty());
    assert!(
        comparison
            .metrics
            .iter()
            .all(|m| m.verdict == MetricVerdict::WithinNoise)
    );
    assert_eq!(comparison.verdict(), Verdict::Pass);
    assert!(
        comparison.unmatched.is_empty(),
        "{:?}",
        comparison.unmatched
    );
    let names: Vec<&str> = comparison
        .metrics
        .iter()
        .map(|m| m.metric.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "peak RSS of host 0",
            "peak live heap of host 0",
            "peak tasks of host 0",
            "stabilization of event 1 (scale→5)",
            "quiescence of event 1 (scale→5)",
            "stabilization of event 2 (kill leader)",
            "quiescence of event 2 (kill leader)",
        ]
    );
}

#[test]
fn memory_beyond_both_tolerances_regresses_and_below_improves() {
    let baseline = fixtures::recording(100);
    let worse = fixtures::recording(120);
    let comparison = compare(&worse, &baseline, &Tolerances::default(), false).expect("comparable");
    let rss = verdict_of(&comparison, "peak RSS of host 0");
    assert_eq!(rss.verdict, MetricVerdict::Regressed);
    assert_eq!(rss.baseline, Some(100 * MIB));
    assert_eq!(rss.current, Some(120 * MIB));
    let change = rss.change_percent.expect("change");
    assert!((change - 20.0).abs() < 1e-9, "{change}");
    assert_eq!(comparison.regressions(), 1);
    assert_eq!(comparison.verdict(), Verdict::Fail);

    let better = fixtures::recording(80);
    let comparison = compare(&better, &baseline, &Tolerances::default(), false).expect("ok");
    assert_eq!(
        verdict_of(&comparison, "peak RSS of host 0").verdict,
        MetricVerdict::Improved
    );
    assert_eq!(comparison.verdict(), Verdict::Pass);
}

#[test]
fn a_tiny_duration_below_the_floor_is_within_noise() {
    // 100 ms → 200 ms is 100 % worse, but only by 100 ms: under the 200 ms floor.
    let baseline = run_with(45, Some(100));
    let current = run_with(45, Some(200));
    let tolerances = Tolerances {
        duration_relative: 0.5,
        duration_floor: Duration::from_millis(200),
        ..Tolerances::default()
    };
    let comparison = compare(&current, &baseline, &tolerances, false).expect("comparable");
    let stab = verdict_of(&comparison, "stabilization of event 1 (scale→5)");
    assert_eq!(stab.verdict, MetricVerdict::WithinNoise);

    // 1 s → 2 s exceeds both the 50 % and the 200 ms floor.
    let comparison = compare(
        &run_with(45, Some(2000)),
        &run_with(45, Some(1000)),
        &tolerances,
        false,
    )
    .expect("comparable");
    let stab = verdict_of(&comparison, "stabilization of event 1 (scale→5)");
    assert_eq!(stab.verdict, MetricVerdict::Regressed);
    // 1 s → 1.4 s is beyond the floor but within 50 %.
    let comparison = compare(
        &run_with(45, Some(1400)),
        &run_with(45, Some(1000)),
        &tolerances,
        false,
    )
    .expect("comparable");
    let stab = verdict_of(&comparison, "stabilization of event 1 (scale→5)");
    assert_eq!(stab.verdict, MetricVerdict::WithinNoise);
}

#[test]
fn never_stabilizing_is_a_regression() {
    let comparison = compare(
        &run_with(45, None),
        &run_with(45, Some(1000)),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    let stab = verdict_of(&comparison, "stabilization of event 1 (scale→5)");
    assert_eq!(stab.verdict, MetricVerdict::Regressed);
    assert_eq!(stab.current, None);
    assert_eq!(stab.change_percent, None);
    let comparison = compare(
        &run_with(45, Some(1000)),
        &run_with(45, None),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    let stab = verdict_of(&comparison, "stabilization of event 1 (scale→5)");
    assert_eq!(stab.verdict, MetricVerdict::Improved);
}

#[test]
fn mismatched_setups_are_refused_unless_forced() {
    let baseline = fixtures::recording(45);
    let mut current = fixtures::recording(45);
    current.header.profile = fixtures::profile(500, 2);
    current.header.profile.cluster.start_mode = StartMode::Serial;
    current.header.profile.cluster.connection = crate::control::ConnectionMode::PerHost;
    let err = compare(&current, &baseline, &Tolerances::default(), false).expect_err("refused");
    assert!(err.contains("refusing to compare"), "{err}");
    assert!(
        err.contains("partitions: 500 here, 100 in the baseline"),
        "{err}"
    );
    assert!(err.contains("hosts: 2 here, 1 in the baseline"), "{err}");
    assert!(err.contains("start mode"), "{err}");
    assert!(
        err.contains("connection: PerHost here, PerWorker in the baseline"),
        "{err}"
    );
    assert!(err.contains("run-1"), "{err}");

    let forced = compare(&current, &baseline, &Tolerances::default(), true).expect("forced");
    assert!(forced.forced);
    assert_eq!(forced.setup_differences.len(), 4);
}

#[test]
fn strategy_and_timing_differences_are_refused() {
    let baseline = fixtures::recording(45);
    let mut current = fixtures::recording(45);
    current.header.profile.cluster.strategy.kind = crate::parti::strategy::StrategyKind::RoundRobin;
    current.header.profile.cluster.timing =
        crate::profile::TimingSetup::Preset(crate::parti::config::TimingPreset::Production);
    let err = compare(&current, &baseline, &Tolerances::default(), false).expect_err("refused");
    assert!(err.contains("strategy: "), "{err}");
    assert!(err.contains("timing: "), "{err}");
    // The same timing given explicitly is the same setup.
    let mut explicit = fixtures::recording(45);
    explicit.header.profile.cluster.timing =
        crate::profile::TimingSetup::Explicit(crate::parti::config::Timing::fast());
    assert!(compare(&explicit, &baseline, &Tolerances::default(), false).is_ok());
}

#[test]
fn events_and_hosts_in_one_run_only_are_listed_not_compared() {
    let baseline = fixtures::recording(45);
    let mut current = fixtures::recording(45);
    current.measurements[1].action = Action::RestartNats;
    current.push(Observation::Measurement(fixtures::measurement(
        2,
        Action::ScaleTo(1),
        9000,
        Some(100),
    )));
    current.push(Observation::Sample(Sample {
        t_ms: 9000,
        load: None,
        processes: vec![fixtures::host(1, 10, 1, 10, 1)],
    }));
    let current = fixtures::complete(current);
    let comparison = compare(&current, &baseline, &Tolerances::default(), true).expect("forced");
    assert_eq!(
        comparison.unmatched,
        [
            "host 1: not in the baseline",
            "event 2: restart nats here, kill leader in the baseline",
            "event 3 (scale→1): not in the baseline",
        ]
    );
    assert!(
        comparison
            .metrics
            .iter()
            .all(|m| !m.metric.contains("event 2"))
    );
}

#[test]
fn units_format_for_people() {
    assert_eq!(Unit::Bytes.format(Some(12 * MIB)), "12MiB");
    assert_eq!(Unit::Millis.format(Some(1500)), "1.5s");
    assert_eq!(Unit::Millis.format(None), "never");
    assert_eq!(Unit::Count.format(Some(7)), "7");
    assert_eq!(Unit::Count.format(None), "-");
}

#[test]
fn a_baseline_without_a_summary_is_refused_unless_forced() {
    let current = fixtures::recording(45);
    let mut partial = fixtures::recording(45);
    partial.summary = None;
    let err = compare(&current, &partial, &Tolerances::default(), false).expect_err("refused");
    assert!(
        err.contains("incomplete") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        refusal(&current.header.profile, &partial, false).as_deref(),
        Some(err.as_str())
    );
    assert!(refusal(&current.header.profile, &partial, true).is_none());
    let forced = compare(&current, &partial, &Tolerances::default(), true).expect("forced");
    assert_eq!(forced.verdict(), Verdict::Pass);
    // A setup mismatch names the way out too.
    let mut other = fixtures::recording(45);
    other.header.profile = fixtures::profile(500, 1);
    let err = refusal(&current.header.profile, &other, false).expect("refused");
    assert!(err.contains("--force"), "{err}");
}

/// The run with its kill-leader event marked as having changed the leader or not, and its
/// scale event superseded or not.
fn with_causes(leader_changed: Option<bool>, superseded: bool, stab_ms: u64) -> Recording {
    let mut recording = fixtures::recording(45);
    recording.measurements[1].leader_changed = leader_changed;
    recording.measurements[1].stabilization_ms = Some(stab_ms);
    if superseded {
        recording.measurements[0].stabilization_ms = None;
        recording.measurements[0].superseded_by = Some(1);
    }
    fixtures::complete(recording)
}

#[test]
fn events_that_differ_in_cause_are_not_compared() {
    // A new election makes the event five times slower: not a regression, another cause.
    let comparison = compare(
        &with_causes(Some(true), false, 1_100),
        &with_causes(Some(false), false, 185),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    assert_eq!(comparison.verdict(), Verdict::Pass);
    assert!(
        comparison.unmatched.iter().any(|n| n
            == "event 2 (kill leader): the leader changed here, kept in the baseline (different causes)"),
        "{:?}",
        comparison.unmatched
    );
    assert!(
        comparison
            .metrics
            .iter()
            .all(|m| !m.metric.contains("event 2"))
    );
    // Same cause: compared, and the slowdown regresses.
    let comparison = compare(
        &with_causes(Some(true), false, 5_000),
        &with_causes(Some(true), false, 1_100),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    assert_eq!(
        verdict_of(&comparison, "stabilization of event 2 (kill leader)").verdict,
        MetricVerdict::Regressed
    );
    // Unknown in one recording (made before it was recorded): compared.
    let comparison = compare(
        &with_causes(Some(true), false, 1_100),
        &with_causes(None, false, 1_100),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    assert!(
        comparison.unmatched.is_empty(),
        "{:?}",
        comparison.unmatched
    );
}

#[test]
fn a_superseded_event_is_judged_by_the_time_until_the_next_action() {
    // Superseded 5 s in (the kill leader's start) where the baseline stabilized in 1.2 s:
    // it took at least 5 s, a regression.
    let comparison = compare(
        &with_causes(None, true, 1_000),
        &with_causes(None, false, 1_000),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    let judged = verdict_of(
        &comparison,
        "stabilization of event 1 (scale→5), superseded: at least",
    );
    assert_eq!(
        (judged.baseline, judged.current),
        (Some(1_200), Some(5_000))
    );
    assert_eq!(judged.verdict, MetricVerdict::Regressed);
    assert_eq!(comparison.verdict(), Verdict::Fail);
    // Overtaken soon after the baseline's time: within noise (never "improved").
    let mut soon = with_causes(None, true, 1_000);
    soon.measurements[1].t_start_ms = 1_300;
    let soon = fixtures::complete(soon);
    let comparison = compare(
        &soon,
        &with_causes(None, false, 1_000),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    assert_eq!(
        verdict_of(
            &comparison,
            "stabilization of event 1 (scale→5), superseded: at least"
        )
        .verdict,
        MetricVerdict::WithinNoise
    );
    let both = compare(
        &with_causes(None, true, 1_000),
        &with_causes(None, true, 1_000),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    assert_eq!(
        both.unmatched,
        ["event 1 (scale→5): superseded in both runs (nothing to compare)"]
    );
    let only_baseline = compare(
        &with_causes(None, false, 1_000),
        &with_causes(None, true, 1_000),
        &Tolerances::default(),
        false,
    )
    .expect("comparable");
    assert_eq!(
        only_baseline.unmatched,
        ["event 1 (scale→5): stabilized here, was superseded in the baseline"]
    );
}

#[test]
fn an_event_that_no_longer_finishes_regresses_whatever_its_cause() {
    // Emptied in the baseline, never stabilized now (a worker hangs in its graceful stop).
    let mut baseline = fixtures::recording(45);
    baseline.measurements[1].action = Action::ScaleTo(0);
    baseline.measurements[1].workers_after = 0;
    baseline.measurements[1].leader_changed = Some(true);
    let baseline = fixtures::complete(baseline);
    let mut current = baseline.clone();
    current.measurements[1].stabilization_ms = None;
    current.measurements[1].quiescence_ms = None;
    current.measurements[1].workers_after = 1;
    current.measurements[1].leader_changed = Some(false);
    let current = fixtures::complete(current);
    let comparison =
        compare(&current, &baseline, &Tolerances::default(), false).expect("comparable");
    assert_eq!(
        verdict_of(&comparison, "stabilization of event 2 (scale→0)").verdict,
        MetricVerdict::Regressed
    );
    assert_eq!(comparison.verdict(), Verdict::Fail);
}

#[test]
fn events_that_took_another_number_of_publishes_are_not_compared() {
    // Three workers cold-starting: one publish when all registered before the leader's first,
    // two when one came after it (a second publish after the rebalance interval).
    let mut baseline = fixtures::recording(45);
    baseline.measurements[1].versions_to_stable = Some(1);
    baseline.measurements[1].stabilization_ms = Some(40);
    let baseline = fixtures::complete(baseline);
    let mut current = fixtures::recording(45);
    current.measurements[1].versions_to_stable = Some(2);
    current.measurements[1].stabilization_ms = Some(1_200);
    let current = fixtures::complete(current);
    let comparison =
        compare(&current, &baseline, &Tolerances::default(), false).expect("comparable");
    assert!(!comparison.regressed(), "{comparison:?}");
    assert!(
        comparison
            .unmatched
            .iter()
            .any(|u| u.contains("stable after 2 versions here, after 1 version in the baseline")),
        "{:?}",
        comparison.unmatched
    );
    // The same path is judged: 1.2 s against 40 ms with one publish each regresses.
    let mut same = current.clone();
    same.measurements[1].versions_to_stable = Some(1);
    let same = fixtures::complete(same);
    let comparison = compare(&same, &baseline, &Tolerances::default(), false).expect("comparable");
    assert!(comparison.regressed(), "{comparison:?}");
}

#[test]
fn the_messages_p99_latency_is_compared_when_both_runs_had_load() {
    let with_p99 = |p99_us: u64| {
        let mut run = run_with(45, Some(900));
        run.load = Some(crate::record::summary::LoadFigures {
            ledger: crate::load::ledger::LedgerSummary {
                sent: 10,
                acked: 10,
                latency_p99_us: Some(p99_us),
                ..Default::default()
            },
            drained: true,
            ..Default::default()
        });
        run
    };
    let tolerances = Tolerances::default();
    let same = compare(&with_p99(40_000), &with_p99(41_000), &tolerances, false).expect("ok");
    assert_eq!(
        verdict_of(&same, LOAD_P99_METRIC).verdict,
        MetricVerdict::WithinNoise
    );
    let slower = compare(&with_p99(900_000), &with_p99(40_000), &tolerances, false).expect("ok");
    let p99 = verdict_of(&slower, LOAD_P99_METRIC);
    assert_eq!(p99.verdict, MetricVerdict::Regressed, "{p99:?}");
    assert_eq!((p99.baseline, p99.current), (Some(40), Some(900)));
    let without = compare(
        &run_with(45, Some(900)),
        &with_p99(40_000),
        &tolerances,
        false,
    )
    .expect("ok");
    assert!(
        without.unmatched.iter().any(|u| u.contains("message load")),
        "{:?}",
        without.unmatched
    );
}
