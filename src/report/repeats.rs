//! Statistics across repeats (a profile's `repeats: N`): which repeat, step and position each
//! event belongs to, each process's peaks per repeat, and min / median / max of every figure
//! across the repeats ([`statistics`]). Pure.
//!
//! A repeat's events are placed by the step that opened them: the action a profile step issued
//! (`ActionSource::Profile { step }`, where `step` counts across repeats as
//! `repeat × steps + i`) is matched to its event by start time and label; an event the cluster
//! opened on its own (a worker ending unasked) belongs to the step that was running. The reset
//! before each repeat after the first (a scale to 0 issued before that repeat's first step
//! started) is left out. A repeat's window runs from its first timeline entry to the next
//! repeat's; a process's peaks in a repeat are taken over the samples in that window.

use std::collections::BTreeMap;

use crate::action::ActionSource;
use crate::observation::ProcessKind;
use crate::record::format::{Recording, TimelineEntry};
use crate::record::summary::{
    EventOutcome, EventSummary, Occurrence, RepeatSummary, RepeatedEvent, RepeatedProcess, Spread,
};

/// Where an event of a run belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Opened by step `step` (from 0, within the repeat) of repeat `repeat` (from 0), the
    /// `ordinal`-th event (from 0) of that step.
    Step {
        repeat: u32,
        step: usize,
        ordinal: usize,
    },
    /// The cluster reset before repeat `repeat` (from 0).
    Reset { repeat: u32 },
    /// Before any profile step (an operator's action, say).
    Outside,
}

/// A profile action of the timeline.
struct ProfileAction {
    t_ms: u64,
    label: String,
    /// Across repeats.
    step: usize,
    /// Issued before its step started: the reset before a repeat.
    reset: bool,
    used: bool,
}

/// The repeat (from 0) a step index across repeats belongs to.
fn repeat_of(step: usize, steps: usize) -> u32 {
    u32::try_from(step / steps.max(1)).unwrap_or(u32::MAX)
}

/// The place of each event (in the order given), and the start of each repeat that started
/// (`starts[r]` for repeat `r`; repeat 0 starts at 0).
pub fn places(recording: &Recording, events: &[EventSummary]) -> (Vec<Place>, Vec<u64>) {
    let steps = recording.header.profile.steps.len().max(1);
    let mut actions = Vec::new();
    let mut step_starts: Vec<(u64, usize)> = Vec::new();
    let mut started = std::collections::BTreeSet::new();
    let mut starts: Vec<u64> = vec![0];
    let note_repeat = |step: usize, t_ms: u64, starts: &mut Vec<u64>| {
        let repeat = repeat_of(step, steps) as usize;
        while starts.len() <= repeat {
            starts.push(t_ms);
        }
    };
    for entry in &recording.timeline {
        match entry {
            TimelineEntry::Step(step) => {
                note_repeat(step.index, step.t_ms, &mut starts);
                if started.insert(step.index) {
                    step_starts.push((step.t_ms, step.index));
                }
            }
            TimelineEntry::Action(action) => {
                let ActionSource::Profile { step } = action.source else {
                    continue;
                };
                note_repeat(step, action.t_ms, &mut starts);
                if action.error.is_none() {
                    actions.push(ProfileAction {
                        t_ms: action.t_ms,
                        label: action.action.label(),
                        step,
                        reset: !started.contains(&step),
                        used: false,
                    });
                }
            }
        }
    }
    let mut ordinals: BTreeMap<(u32, usize), usize> = BTreeMap::new();
    let mut place_of = |repeat: u32, step: usize| {
        let ordinal = ordinals.entry((repeat, step)).or_insert(0);
        let place = Place::Step {
            repeat,
            step,
            ordinal: *ordinal,
        };
        *ordinal += 1;
        place
    };
    let places = events
        .iter()
        .map(|event| {
            let matched = actions
                .iter_mut()
                .find(|a| !a.used && a.t_ms == event.t_start_ms && a.label == event.label);
            if let Some(action) = matched {
                action.used = true;
                let repeat = repeat_of(action.step, steps);
                return if action.reset {
                    Place::Reset { repeat }
                } else {
                    place_of(repeat, action.step % steps)
                };
            }
            // Opened by the cluster itself: the step running then.
            match step_starts
                .iter()
                .rev()
                .find(|(t_ms, _)| *t_ms <= event.t_start_ms)
            {
                Some(&(_, step)) => place_of(repeat_of(step, steps), step % steps),
                None => Place::Outside,
            }
        })
        .collect();
    (places, starts)
}

/// The repeat (from 0) a moment belongs to, given the repeats' starts.
fn repeat_at(starts: &[u64], t_ms: u64) -> u32 {
    let index = starts.iter().rposition(|start| *start <= t_ms).unwrap_or(0);
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// Min / median / max of values already in order, `mid` giving the median of two.
fn spread_sorted<T: Copy>(sorted: &[T], mid: impl Fn(T, T) -> T) -> Option<Spread<T>> {
    let (first, last) = (*sorted.first()?, *sorted.last()?);
    let half = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[half]
    } else {
        mid(sorted[half - 1], sorted[half])
    };
    Some(Spread {
        min: first,
        median,
        max: last,
    })
}

/// Min / median / max of counts, bytes or milliseconds (`None` when there are none).
pub fn spread_u64(values: &[u64]) -> Option<Spread<u64>> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    spread_sorted(&sorted, |a, b| a / 2 + b / 2 + (a % 2 + b % 2) / 2)
}

/// Min / median / max of ratios and percentages (non-finite values left out).
pub fn spread_f64(values: &[f64]) -> Option<Spread<f64>> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    spread_sorted(&sorted, |a, b| (a + b) / 2.0)
}

/// Min / median / max of durations where `None` is never: it sorts after every time, and a
/// median next to it is never.
pub fn spread_time(values: &[Option<u64>]) -> Option<Spread<Option<u64>>> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by_key(|v| v.unwrap_or(u64::MAX));
    spread_sorted(&sorted, |a, b| match (a, b) {
        (Some(a), Some(b)) => Some(a / 2 + b / 2 + (a % 2 + b % 2) / 2),
        _ => None,
    })
}

/// How long a superseded event ran before the action that overtook it.
fn superseded_after_ms(event: &EventSummary, events: &[EventSummary]) -> Option<u64> {
    let by = event.superseded_by?;
    let next = events.iter().find(|e| e.event == by)?;
    Some(next.t_start_ms.saturating_sub(event.t_start_ms))
}

/// Per event position and per way the events ended, across the repeats.
fn repeated_events(events: &[EventSummary], places: &[Place]) -> Vec<RepeatedEvent> {
    // (step, ordinal) → kinds in order of first appearance → (repeat, event) pairs.
    type Kind = (String, EventOutcome, Option<bool>);
    type Group<'a> = (Kind, Vec<(u32, &'a EventSummary)>);
    let mut by_key: BTreeMap<(usize, usize), Vec<Group<'_>>> = BTreeMap::new();
    for (event, place) in events.iter().zip(places) {
        let Place::Step {
            repeat,
            step,
            ordinal,
        } = *place
        else {
            continue;
        };
        let kind = (event.label.clone(), event.outcome(), event.leader_changed);
        let kinds = by_key.entry((step, ordinal)).or_default();
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, list)) => list.push((repeat, event)),
            None => kinds.push((kind, vec![(repeat, event)])),
        }
    }
    let mut out = Vec::new();
    for (position, ((step, _), kinds)) in by_key.into_iter().enumerate() {
        for ((label, outcome, leader_changed), list) in kinds {
            let times = |f: fn(&EventSummary) -> Option<u64>| -> Spread<Option<u64>> {
                let values: Vec<Option<u64>> = list.iter().map(|(_, e)| f(e)).collect();
                spread_time(&values).unwrap_or(Spread {
                    min: None,
                    median: None,
                    max: None,
                })
            };
            let known = |f: fn(&EventSummary) -> Option<u64>| -> Option<Spread<u64>> {
                let values: Vec<u64> = list.iter().filter_map(|(_, e)| f(e)).collect();
                spread_u64(&values)
            };
            let moved: Vec<f64> = list.iter().map(|(_, e)| e.moved_percent).collect();
            let balance: Vec<f64> = list.iter().filter_map(|(_, e)| e.balance).collect();
            let superseded: Vec<u64> = list
                .iter()
                .filter_map(|(_, e)| superseded_after_ms(e, events))
                .collect();
            out.push(RepeatedEvent {
                position: position + 1,
                step: step + 1,
                label,
                outcome,
                leader_changed,
                occurrences: list
                    .iter()
                    .map(|(repeat, e)| Occurrence {
                        repeat: repeat + 1,
                        event: e.event,
                    })
                    .collect(),
                stabilization_ms: times(|e| e.stabilization_ms),
                quiescence_ms: times(|e| e.quiescence_ms),
                first_assignment_max_ms: known(|e| e.first_assignment_max_ms),
                moved_percent: spread_f64(&moved).unwrap_or(Spread {
                    min: 0.0,
                    median: 0.0,
                    max: 0.0,
                }),
                balance: spread_f64(&balance),
                superseded_after_ms: spread_u64(&superseded),
            });
        }
    }
    out
}

/// Each process's peaks within each repeat's window, summarized.
fn repeated_processes(recording: &Recording, starts: &[u64]) -> Vec<RepeatedProcess> {
    #[derive(Default)]
    struct Peaks {
        rss: u64,
        heap: Option<u64>,
        tasks: Option<u64>,
    }
    let mut by_process: BTreeMap<ProcessKind, BTreeMap<u32, Peaks>> = BTreeMap::new();
    for sample in &recording.samples {
        let repeat = repeat_at(starts, sample.t_ms);
        for process in &sample.processes {
            let peaks = by_process
                .entry(process.process)
                .or_default()
                .entry(repeat)
                .or_default();
            peaks.rss = peaks.rss.max(process.rss_bytes);
            peaks.heap = peaks.heap.max(process.live_heap_bytes);
            peaks.tasks = peaks.tasks.max(process.tasks);
        }
    }
    by_process
        .into_iter()
        .filter_map(|(process, repeats)| {
            let rss: Vec<u64> = repeats.values().map(|p| p.rss).collect();
            let heap: Vec<u64> = repeats.values().filter_map(|p| p.heap).collect();
            let tasks: Vec<u64> = repeats.values().filter_map(|p| p.tasks).collect();
            Some(RepeatedProcess {
                process,
                repeats: repeats.keys().map(|r| r + 1).collect(),
                peak_rss_bytes: spread_u64(&rss)?,
                peak_live_heap_bytes: spread_u64(&heap),
                peak_tasks: spread_u64(&tasks),
            })
        })
        .collect()
}

/// Min / median / max of every figure across the repeats of `recording`, whose events
/// (`summarize`'s, in event order) are given. Computed for any recording; a run of one repeat
/// gives spreads of one value each.
pub fn statistics(recording: &Recording, events: &[EventSummary]) -> RepeatSummary {
    let (places, starts) = places(recording, events);
    RepeatSummary {
        planned: recording.header.profile.repeats,
        started: u32::try_from(starts.len()).unwrap_or(u32::MAX),
        events: repeated_events(events, &places),
        processes: repeated_processes(recording, &starts),
    }
}

/// [`statistics`] when the profile ran its steps more than once; `None` otherwise (a run of
/// one repeat reports as it always has).
pub fn of(recording: &Recording, events: &[EventSummary]) -> Option<RepeatSummary> {
    (recording.header.profile.repeats > 1).then(|| statistics(recording, events))
}

#[cfg(test)]
#[path = "repeats_tests.rs"]
mod tests;
