//! The comparison of runs that repeated their steps: each figure is the median across the
//! repeats ([`crate::report::repeats`]), judged by the same tolerances and like-with-like rules
//! as a single run's, with the spread (min–max) kept beside it. Events are matched by their
//! position within a repeat and label; at one position, the events that ended one way (and
//! kept or changed the leader) are set beside the baseline's events that ended the same way,
//! or else beside the way most of the baseline's repeats ended there.

use super::{MetricComparison, MetricVerdict, Pair, Range, Shape, Unit, metric, pair};
use crate::observation::ProcessKind;
use crate::profile::Tolerances;
use crate::record::summary::{RepeatSummary, RepeatedEvent, Spread};

fn range_of(spread: &Spread<u64>) -> Range {
    Range {
        min: Some(spread.min),
        max: Some(spread.max),
    }
}

fn time_range(spread: &Spread<Option<u64>>) -> Range {
    Range {
        min: spread.min,
        max: spread.max,
    }
}

/// A metric of two medians with their ranges.
fn median_metric(
    name: String,
    unit: Unit,
    (baseline, baseline_range): (Option<u64>, Range),
    (current, current_range): (Option<u64>, Range),
    tolerances: &Tolerances,
) -> MetricComparison {
    let mut judged = metric(name, unit, baseline, current, tolerances);
    judged.baseline_range = Some(baseline_range);
    judged.current_range = Some(current_range);
    judged
}

/// Peak RSS, live heap and tasks of each host: medians of the per-repeat peaks.
pub(super) fn compare_hosts(
    now: &RepeatSummary,
    then: &RepeatSummary,
    tolerances: &Tolerances,
    metrics: &mut Vec<MetricComparison>,
    unmatched: &mut Vec<String>,
) {
    let spread = |s: &Spread<u64>| (Some(s.median), range_of(s));
    for process in &now.processes {
        let ProcessKind::Host(host) = process.process else {
            continue;
        };
        let Some(old) = then.processes.iter().find(|p| p.process == process.process) else {
            unmatched.push(format!("host {host}: not in the baseline"));
            continue;
        };
        metrics.push(median_metric(
            format!("peak RSS of host {host}"),
            Unit::Bytes,
            spread(&old.peak_rss_bytes),
            spread(&process.peak_rss_bytes),
            tolerances,
        ));
        if let (Some(old_heap), Some(heap)) =
            (&old.peak_live_heap_bytes, &process.peak_live_heap_bytes)
        {
            metrics.push(median_metric(
                format!("peak live heap of host {host}"),
                Unit::Bytes,
                spread(old_heap),
                spread(heap),
                tolerances,
            ));
        }
        if let (Some(old_tasks), Some(tasks)) = (&old.peak_tasks, &process.peak_tasks) {
            metrics.push(median_metric(
                format!("peak tasks of host {host}"),
                Unit::Count,
                spread(old_tasks),
                spread(tasks),
                tolerances,
            ));
        }
    }
    for old in &then.processes {
        if let ProcessKind::Host(host) = old.process
            && !now.processes.iter().any(|p| p.process == old.process)
        {
            unmatched.push(format!("host {host}: only in the baseline"));
        }
    }
}

fn shape(event: &RepeatedEvent) -> Shape {
    Shape {
        outcome: event.outcome,
        leader_changed: event.leader_changed,
        // Repeats are grouped by outcome and leader change only; their medians absorb the
        // number of publishes.
        versions_to_stable: None,
        superseded_after_ms: event.superseded_after_ms.map(|s| s.median),
    }
}

/// `scale→2` alone, or `scale→2; never-stabilized, leader kept, 1 of 3 repeats` when the
/// events at its position ended in more than one way.
fn described(event: &RepeatedEvent, ways: usize, started: u32) -> String {
    if ways <= 1 {
        return event.label.clone();
    }
    let leader = match event.leader_changed {
        Some(true) => ", leader changed",
        Some(false) => ", leader kept",
        None => "",
    };
    format!(
        "{}; {}{leader}, {} of {started} repeats",
        event.label,
        event.outcome.name(),
        event.occurrences.len()
    )
}

/// Stabilization and quiescence of each event position: medians, like with like.
pub(super) fn compare_events(
    now: &RepeatSummary,
    then: &RepeatSummary,
    tolerances: &Tolerances,
    metrics: &mut Vec<MetricComparison>,
    unmatched: &mut Vec<String>,
) {
    let at = |summary: &RepeatSummary, position: usize| -> usize {
        summary
            .events
            .iter()
            .filter(|e| e.position == position)
            .count()
    };
    let mut used = vec![false; then.events.len()];
    for event in &now.events {
        let position = event.position;
        let what = format!(
            "repeat event {position} ({})",
            described(event, at(now, position), now.started)
        );
        let candidates: Vec<usize> = (0..then.events.len())
            .filter(|&i| then.events[i].position == position)
            .collect();
        let Some(&first) = candidates.first() else {
            unmatched.push(format!("{what}: not in the baseline"));
            continue;
        };
        let same_label: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| then.events[i].label == event.label)
            .collect();
        if same_label.is_empty() {
            unmatched.push(format!(
                "repeat event {position}: {} here, {} in the baseline",
                event.label, then.events[first].label
            ));
            continue;
        }
        let alike = same_label.iter().copied().find(|&i| {
            let old = &then.events[i];
            old.outcome == event.outcome && old.leader_changed == event.leader_changed
        });
        let most = same_label
            .iter()
            .copied()
            .max_by_key(|&i| (then.events[i].occurrences.len(), std::cmp::Reverse(i)));
        let Some(index) = alike.or(most) else {
            continue;
        };
        used[index] = true;
        let old = &then.events[index];
        let name = |metric: &str| format!("{metric} of {what}");
        match pair(&shape(event), &shape(old)) {
            Pair::Unlike(why) => unmatched.push(format!("{what}: {why}")),
            Pair::Compare => {
                for (metric_name, old_spread, spread) in [
                    (
                        "stabilization",
                        &old.stabilization_ms,
                        &event.stabilization_ms,
                    ),
                    ("quiescence", &old.quiescence_ms, &event.quiescence_ms),
                ] {
                    metrics.push(median_metric(
                        name(metric_name),
                        Unit::Millis,
                        (old_spread.median, time_range(old_spread)),
                        (spread.median, time_range(spread)),
                        tolerances,
                    ));
                }
            }
            Pair::AtLeast(bound_ms) => {
                let bound_range = event.superseded_after_ms.as_ref().map_or(
                    Range {
                        min: Some(bound_ms),
                        max: Some(bound_ms),
                    },
                    range_of,
                );
                let mut judged = median_metric(
                    format!("{}, superseded: at least", name("stabilization")),
                    Unit::Millis,
                    (
                        old.stabilization_ms.median,
                        time_range(&old.stabilization_ms),
                    ),
                    (Some(bound_ms), bound_range),
                    tolerances,
                );
                // The true times are longer than the bounds: they cannot have improved.
                if judged.verdict == MetricVerdict::Improved {
                    judged.verdict = MetricVerdict::WithinNoise;
                }
                metrics.push(judged);
            }
        }
    }
    for (old, _) in then.events.iter().zip(&used).filter(|(_, used)| !**used) {
        let what = described(old, at(then, old.position), then.started);
        let why = if at(now, old.position) == 0 {
            "only in the baseline".to_owned()
        } else {
            "no repeat here ended this way".to_owned()
        };
        unmatched.push(format!("repeat event {} ({what}): {why}", old.position));
    }
}

#[cfg(test)]
#[path = "repeated_tests.rs"]
mod tests;
