//! The table of statistics across repeats: per event position and per process, each figure as
//! `min / median / max`.

use super::{cells, columns};
use crate::profile::ByteSize;
use crate::record::summary::{EventOutcome, RepeatSummary, RepeatedEvent, Spread};
use crate::report::summary::human_ms;

/// `a / b / c` of any figure.
pub(super) fn spread_text<T: Copy>(spread: &Spread<T>, format: impl Fn(T) -> String) -> String {
    format!(
        "{} / {} / {}",
        format(spread.min),
        format(spread.median),
        format(spread.max)
    )
}

/// A duration, `never` for none.
pub(super) fn time_text(ms: Option<u64>) -> String {
    ms.map_or_else(|| "never".to_owned(), human_ms)
}

fn bytes_text(bytes: u64) -> String {
    ByteSize(bytes).to_string()
}

/// How the events of one row ended: `stabilized`, `emptied`, `superseded`, `never`.
fn ended(event: &RepeatedEvent) -> &'static str {
    match event.outcome {
        EventOutcome::Stabilized => "stabilized",
        EventOutcome::Emptied => "emptied",
        EventOutcome::Superseded => "superseded",
        EventOutcome::NeverStabilized => "never",
    }
}

fn event_row(event: &RepeatedEvent, started: u32) -> Vec<String> {
    let dash = || "-".to_owned();
    let stabilization = match (event.outcome, &event.superseded_after_ms) {
        (EventOutcome::Superseded, Some(after)) => {
            format!("≥ {}", spread_text(after, human_ms))
        }
        _ => spread_text(&event.stabilization_ms, time_text),
    };
    vec![
        event.position.to_string(),
        event.step.to_string(),
        event.label.clone(),
        ended(event).to_owned(),
        format!("{}/{started}", event.occurrences.len()),
        stabilization,
        spread_text(&event.quiescence_ms, time_text),
        spread_text(&event.moved_percent, |p| format!("{p:.1}%")),
        event
            .first_assignment_max_ms
            .as_ref()
            .map_or_else(dash, |s| spread_text(s, human_ms)),
        match event.leader_changed {
            Some(true) => "changed",
            Some(false) => "kept",
            None => "-",
        }
        .to_owned(),
    ]
}

/// The repeats section of the summary table.
pub(super) fn table(repeats: &RepeatSummary) -> String {
    let mut out = format!(
        "repeats: {} of {} ran; min / median / max across them\n",
        repeats.started, repeats.planned
    );
    if repeats.events.is_empty() {
        out.push_str("  events: none\n");
    } else {
        let mut rows = vec![cells(&[
            "#",
            "step",
            "action",
            "ended",
            "repeats",
            "stabilization",
            "quiescence",
            "moved",
            "first assignment",
            "leader",
        ])];
        rows.extend(
            repeats
                .events
                .iter()
                .map(|event| event_row(event, repeats.started)),
        );
        out.push_str(&columns(
            &rows,
            &[
                true, true, false, false, true, true, true, true, true, false,
            ],
        ));
        out.push_str(
            "  #: the place in a repeat; events there that ended differently have a row each\n",
        );
    }
    if !repeats.processes.is_empty() {
        out.push('\n');
        let dash = || "-".to_owned();
        let mut rows = vec![cells(&[
            "process",
            "repeats",
            "peak RSS",
            "peak heap",
            "peak tasks",
        ])];
        rows.extend(repeats.processes.iter().map(|p| {
            vec![
                p.process.to_string(),
                p.repeats.len().to_string(),
                spread_text(&p.peak_rss_bytes, bytes_text),
                p.peak_live_heap_bytes
                    .as_ref()
                    .map_or_else(dash, |s| spread_text(s, bytes_text)),
                p.peak_tasks
                    .as_ref()
                    .map_or_else(dash, |s| spread_text(s, |t| t.to_string())),
            ]
        }));
        out.push_str(&columns(&rows, &[false, true, true, true, true]));
    }
    out
}
