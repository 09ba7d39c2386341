//! Tests of comparisons between repeated runs: medians, spreads, like with like.

use crate::profile::Tolerances;
use crate::report::baseline::{Comparison, MetricComparison, MetricVerdict, Range, compare};
use crate::report::fixtures::{self, MIB, RepeatFigures};

fn run(figures: &[(u64, u64, u64)]) -> crate::record::format::Recording {
    let figures: Vec<RepeatFigures> = figures
        .iter()
        .map(|&(rss, scale, kill)| RepeatFigures::new(rss, scale, kill))
        .collect();
    fixtures::repeated(&figures)
}

fn metric<'a>(comparison: &'a Comparison, name: &str) -> &'a MetricComparison {
    comparison
        .metrics
        .iter()
        .find(|m| m.metric == name)
        .unwrap_or_else(|| panic!("no metric {name:?} in {:#?}", comparison.metrics))
}

const KILL: &str = "stabilization of repeat event 2 (kill leader)";

#[test]
fn medians_are_compared_and_the_spread_is_kept_beside_them() {
    let baseline = run(&[(40, 1000, 5000), (44, 1100, 6000), (42, 1200, 9000)]);
    // One slow repeat moves the maximum, not the median.
    let current = run(&[(40, 1000, 5000), (42, 1100, 6100), (41, 1200, 30_000)]);
    let comparison =
        compare(&current, &baseline, &Tolerances::default(), false).expect("comparable");
    assert_eq!(
        comparison.repeats.map(|r| (r.baseline, r.current)),
        Some((3, 3))
    );
    assert!(
        comparison.unmatched.is_empty(),
        "{:?}",
        comparison.unmatched
    );
    let kill = metric(&comparison, KILL);
    assert_eq!((kill.baseline, kill.current), (Some(6000), Some(6100)));
    assert_eq!(kill.verdict, MetricVerdict::WithinNoise);
    assert_eq!(
        kill.current_range,
        Some(Range {
            min: Some(5000),
            max: Some(30_000)
        })
    );
    let rss = metric(&comparison, "peak RSS of host 0");
    assert_eq!(
        (rss.baseline, rss.current),
        (Some(42 * MIB), Some(41 * MIB))
    );
    assert_eq!(rss.verdict, MetricVerdict::WithinNoise);
    assert_eq!(comparison.regressions(), 0);
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
            "stabilization of repeat event 1 (scale→5)",
            "quiescence of repeat event 1 (scale→5)",
            KILL,
            "quiescence of repeat event 2 (kill leader)",
        ]
    );
}

#[test]
fn a_median_beyond_both_tolerances_regresses() {
    let baseline = run(&[(40, 1000, 5000), (44, 1100, 6000), (42, 1200, 9000)]);
    let current = run(&[(40, 1000, 9000), (60, 1100, 9500), (62, 1200, 10_000)]);
    let comparison =
        compare(&current, &baseline, &Tolerances::default(), false).expect("comparable");
    let kill = metric(&comparison, KILL);
    assert_eq!((kill.baseline, kill.current), (Some(6000), Some(9500)));
    assert_eq!(kill.verdict, MetricVerdict::Regressed);
    let rss = metric(&comparison, "peak RSS of host 0");
    assert_eq!(
        (rss.baseline, rss.current),
        (Some(42 * MIB), Some(60 * MIB))
    );
    assert_eq!(rss.verdict, MetricVerdict::Regressed);
    // Stabilization, quiescence (half a second later each time) and RSS.
    assert_eq!(comparison.regressions(), 3);
}

#[test]
fn a_repeat_that_never_stabilized_regresses_beside_the_baselines_finished_ones() {
    let baseline = run(&[(40, 1000, 5000), (40, 1100, 6000), (40, 1200, 9000)]);
    let mut figures = vec![RepeatFigures::new(40, 1000, 5000); 3];
    figures[1].scale_ms = None;
    let current = fixtures::repeated(&figures);
    let comparison =
        compare(&current, &baseline, &Tolerances::default(), false).expect("comparable");
    let never = metric(
        &comparison,
        "stabilization of repeat event 1 (scale→5; never-stabilized, leader kept, 1 of 3 repeats)",
    );
    assert_eq!((never.baseline, never.current), (Some(1100), None));
    assert_eq!(never.verdict, MetricVerdict::Regressed);
    let finished = metric(
        &comparison,
        "stabilization of repeat event 1 (scale→5; stabilized, leader kept, 2 of 3 repeats)",
    );
    assert_eq!(finished.verdict, MetricVerdict::WithinNoise);
}

#[test]
fn repeats_that_differ_in_cause_from_the_baseline_are_not_compared() {
    let baseline = run(&[(40, 1000, 5000), (40, 1100, 6000), (40, 1200, 9000)]);
    let mut figures = vec![RepeatFigures::new(40, 1000, 700); 2];
    for f in &mut figures {
        f.leader_changed = false;
    }
    let current = fixtures::repeated(&figures);
    let comparison =
        compare(&current, &baseline, &Tolerances::default(), false).expect("comparable");
    assert_eq!(
        comparison.repeats.map(|r| (r.baseline, r.current)),
        Some((3, 2))
    );
    assert!(
        !comparison
            .metrics
            .iter()
            .any(|m| m.metric.contains("kill leader"))
    );
    assert_eq!(
        comparison.unmatched,
        [
            "repeat event 2 (kill leader): the leader kept here, changed in the baseline \
          (different causes)"
        ]
    );
}

#[test]
fn a_single_run_beside_a_repeated_one_is_a_spread_of_one() {
    let baseline = run(&[(40, 1000, 5000)]);
    let current = run(&[(40, 1000, 5000), (40, 1100, 6000), (40, 1200, 9000)]);
    let comparison =
        compare(&current, &baseline, &Tolerances::default(), false).expect("comparable");
    assert_eq!(
        comparison.repeats.map(|r| (r.baseline, r.current)),
        Some((1, 3))
    );
    let kill = metric(&comparison, KILL);
    assert_eq!(
        kill.baseline_range,
        Some(Range {
            min: Some(5000),
            max: Some(5000)
        })
    );
    assert_eq!(kill.current, Some(6000));
}

#[test]
fn single_runs_are_compared_as_before() {
    let run = fixtures::recording(45);
    let comparison = compare(&run, &run, &Tolerances::default(), false).expect("comparable");
    assert_eq!(comparison.repeats, None);
    assert!(
        comparison
            .metrics
            .iter()
            .all(|m| m.baseline_range.is_none() && m.current_range.is_none())
    );
}
