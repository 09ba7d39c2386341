//! Tests of the statistics across repeats: spreads, placing events, per-repeat peaks.

use super::*;
use crate::action::Action;
use crate::observation::Observation;
use crate::profile::Thresholds;
use crate::report::fixtures::{self, MIB, RepeatFigures};
use crate::report::summarize;

fn spread<T>(min: T, median: T, max: T) -> Spread<T> {
    Spread { min, median, max }
}

#[test]
fn spreads_take_the_middle_value_or_the_mean_of_the_two_middle_ones() {
    assert_eq!(spread_u64(&[]), None);
    assert_eq!(spread_u64(&[7]), Some(spread(7, 7, 7)));
    assert_eq!(spread_u64(&[30, 10, 20]), Some(spread(10, 20, 30)));
    assert_eq!(spread_u64(&[40, 10, 20, 30]), Some(spread(10, 25, 40)));
    assert_eq!(
        spread_u64(&[u64::MAX, u64::MAX]),
        Some(spread(u64::MAX, u64::MAX, u64::MAX))
    );
    assert_eq!(
        spread_f64(&[1.5, f64::NAN, 1.0]),
        Some(spread(1.0, 1.25, 1.5))
    );
}

#[test]
fn never_sorts_after_every_time_and_a_median_beside_it_is_never() {
    assert_eq!(
        spread_time(&[None, Some(900), Some(1200)]),
        Some(spread(Some(900), Some(1200), None))
    );
    assert_eq!(
        spread_time(&[None, Some(900)]),
        Some(spread(Some(900), None, None))
    );
    assert_eq!(
        spread_time(&[Some(1000), Some(900)]),
        Some(spread(Some(900), Some(950), Some(1000)))
    );
}

#[test]
fn one_repeat_reports_as_it_always_has() {
    let recording = fixtures::repeated(&[RepeatFigures::new(40, 1000, 5000)]);
    let summary = recording.summary.expect("complete");
    assert_eq!(summary.repeats, None);
    assert_eq!(summary.events.len(), 2);
}

#[test]
fn events_are_placed_by_step_and_resets_are_left_out() {
    let recording = fixtures::repeated(&[
        RepeatFigures::new(40, 1000, 5000),
        RepeatFigures::new(44, 1400, 6000),
        RepeatFigures::new(42, 1100, 9000),
    ]);
    let summary = recording.summary.clone().expect("complete");
    // Repeat 1: events 1, 2; repeat 2: reset 3, events 4, 5; repeat 3: reset 6, events 7, 8.
    assert_eq!(summary.events.len(), 8);
    let (places, starts) = places(&recording, &summary.events);
    assert_eq!(starts, [0, 10_000, 20_000]);
    assert_eq!(places[2], Place::Reset { repeat: 1 });
    assert_eq!(
        places[4],
        Place::Step {
            repeat: 1,
            step: 2,
            ordinal: 0
        }
    );
    let repeats = summary.repeats.expect("three repeats");
    assert_eq!((repeats.planned, repeats.started), (3, 3));
    assert_eq!(repeats.events.len(), 2, "{:#?}", repeats.events);
    let scale = &repeats.events[0];
    assert_eq!(
        (scale.position, scale.step, scale.label.as_str()),
        (1, 1, "scale→5")
    );
    assert_eq!(scale.outcome, EventOutcome::Stabilized);
    assert_eq!(
        scale
            .occurrences
            .iter()
            .map(|o| (o.repeat, o.event))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 4), (3, 7)]
    );
    assert_eq!(
        scale.stabilization_ms,
        spread(Some(1000), Some(1100), Some(1400))
    );
    assert_eq!(
        scale.quiescence_ms,
        spread(Some(1500), Some(1600), Some(1900))
    );
    assert_eq!(scale.first_assignment_max_ms, Some(spread(450, 450, 450)));
    let kill = &repeats.events[1];
    assert_eq!(
        (kill.position, kill.step, kill.label.as_str()),
        (2, 3, "kill leader")
    );
    assert_eq!(
        kill.stabilization_ms,
        spread(Some(5000), Some(6000), Some(9000))
    );
    assert_eq!(kill.leader_changed, Some(true));
}

#[test]
fn peaks_are_taken_per_repeat() {
    let recording = fixtures::repeated(&[
        RepeatFigures::new(40, 1000, 5000),
        RepeatFigures::new(48, 1000, 5000),
        RepeatFigures::new(42, 1000, 5000),
        RepeatFigures::new(41, 1000, 5000),
    ]);
    let repeats = recording.summary.and_then(|s| s.repeats).expect("repeats");
    let host = &repeats.processes[0];
    assert_eq!(host.process, ProcessKind::Host(0));
    assert_eq!(host.repeats, [1, 2, 3, 4]);
    assert_eq!(
        host.peak_rss_bytes,
        spread(40 * MIB, 41 * MIB + MIB / 2, 48 * MIB)
    );
    assert_eq!(host.peak_tasks, Some(spread(120, 120, 120)));
    assert_eq!(repeats.processes[1].process, ProcessKind::NatsServer);
    assert_eq!(repeats.processes[1].peak_live_heap_bytes, None);
}

#[test]
fn events_at_one_position_that_ended_differently_are_kept_apart() {
    let mut kept = RepeatFigures::new(40, 1000, 700);
    kept.leader_changed = false;
    let never = RepeatFigures {
        scale_ms: None,
        ..RepeatFigures::new(40, 0, 5000)
    };
    let recording = fixtures::repeated(&[
        RepeatFigures::new(40, 1000, 5000),
        kept,
        never,
        RepeatFigures::new(40, 1200, 6000),
    ]);
    let repeats = recording.summary.and_then(|s| s.repeats).expect("repeats");
    let at = |position: usize| -> Vec<&RepeatedEvent> {
        repeats
            .events
            .iter()
            .filter(|e| e.position == position)
            .collect()
    };
    let scale = at(1);
    assert_eq!(scale.len(), 2);
    assert_eq!(scale[0].outcome, EventOutcome::Stabilized);
    assert_eq!(scale[0].occurrences.len(), 3);
    assert_eq!(scale[1].outcome, EventOutcome::NeverStabilized);
    assert_eq!(scale[1].stabilization_ms, spread(None, None, None));
    let kill = at(2);
    assert_eq!(kill.len(), 2);
    assert_eq!(kill[0].leader_changed, Some(true));
    assert_eq!(
        kill[0].stabilization_ms,
        spread(Some(5000), Some(5000), Some(6000))
    );
    assert_eq!(kill[1].leader_changed, Some(false));
    assert_eq!(kill[1].occurrences[0].repeat, 2);
}

#[test]
fn an_event_the_cluster_opened_belongs_to_the_running_step_and_moves_nothing_else() {
    let mut recording = fixtures::repeated(&[
        RepeatFigures::new(40, 1000, 5000),
        RepeatFigures::new(40, 1000, 5000),
    ]);
    // In repeat 2, a worker ends unasked during the wait after the scale (events: 1, 2, reset
    // 3, 4 scale, 5 observed, 6 kill).
    let mut measurements = recording.measurements.clone();
    for m in &mut measurements {
        if m.event >= 4 {
            m.event += 1;
        }
    }
    let observed = fixtures::measurement(
        4,
        Action::Observed("worker-2 ended (killed)".into()),
        10_700,
        Some(800),
    );
    measurements.push(observed);
    recording.measurements.clear();
    for m in measurements {
        recording.push(Observation::Measurement(m));
    }
    let summary = summarize(&recording, &Thresholds::default(), 0);
    let repeats = summary.repeats.expect("repeats");
    let labels: Vec<(usize, &str, usize)> = repeats
        .events
        .iter()
        .map(|e| (e.position, e.label.as_str(), e.occurrences.len()))
        .collect();
    assert_eq!(
        labels,
        [
            (1, "scale→5", 2),
            (2, "worker-2 ended (killed)", 1),
            (3, "kill leader", 2)
        ]
    );
    assert_eq!(repeats.events[1].step, 2);
}
