//! The charts of the HTML report, from recordings: RSS, live heap and tokio tasks per process
//! over time, stabilization time per event as bars, and the timeline of actions, marks,
//! findings and failed steps. A diff overlays two runs: A and B each have a colour, and each
//! process a dash pattern. Pure.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::esc;
use super::svg::{self, Bar, Marker, Scale, Series, Style, Tick, TickKind};
use crate::action::Action;
use crate::observation::{ProcessKind, ProcessSample, StepStatus};
use crate::record::format::{Recording, TimelineEntry};
use crate::record::summary::{EventOutcome, EventSummary};
use crate::report::summary::human_ms;

/// Colours of one run's processes: hosts in turn, then nats-server and parti-top.
const PALETTE: [&str; 8] = [
    "#1f6fd1", "#d9480f", "#2b8a3e", "#ae3ec9", "#0c8599", "#e8590c", "#5c940d", "#c2255c",
];
const NATS_COLOR: &str = "#7048e8";
const CONTROLLER_COLOR: &str = "#868e96";
/// The two runs of a diff.
pub const A_COLOR: &str = "#1f6fd1";
pub const B_COLOR: &str = "#e8590c";

/// How the processes of a run are told apart on a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colouring {
    /// One run: a colour per process.
    PerProcess,
    /// One of two runs: the run's colour, a dash pattern per process.
    Run(&'static str),
}

fn style(process: ProcessKind, colouring: Colouring) -> Style {
    match colouring {
        Colouring::PerProcess => Style {
            color: match process {
                ProcessKind::Host(n) => PALETTE[n as usize % PALETTE.len()],
                ProcessKind::NatsServer => NATS_COLOR,
                ProcessKind::Controller => CONTROLLER_COLOR,
            },
            dash: match process {
                ProcessKind::Controller => "4 3",
                _ => "",
            },
        },
        Colouring::Run(color) => Style {
            color,
            dash: match process {
                ProcessKind::Host(n) => ["", "8 4", "3 3", "12 4 3 4"][n as usize % 4],
                ProcessKind::NatsServer => "1 3",
                ProcessKind::Controller => "6 2 1 2",
            },
        },
    }
}

/// One series per process that reports the figure, named `prefix` + the process.
/// One figure of a process sample, as a chart plots it.
pub type Figure = fn(&ProcessSample) -> Option<f64>;

pub fn process_series(
    recording: &Recording,
    figure: Figure,
    colouring: Colouring,
    prefix: &str,
) -> Vec<Series> {
    let mut by_process: BTreeMap<ProcessKind, Vec<(u64, f64)>> = BTreeMap::new();
    for sample in &recording.samples {
        for process in &sample.processes {
            if let Some(value) = figure(process) {
                by_process
                    .entry(process.process)
                    .or_default()
                    .push((sample.t_ms, value));
            }
        }
    }
    by_process
        .into_iter()
        .map(|(process, points)| Series {
            name: format!("{prefix}{process}"),
            style: style(process, colouring),
            points,
        })
        .collect()
}

#[allow(clippy::cast_precision_loss, reason = "figures far below 2^52")]
pub fn rss(p: &ProcessSample) -> Option<f64> {
    Some(p.rss_bytes as f64)
}

#[allow(clippy::cast_precision_loss, reason = "figures far below 2^52")]
pub fn heap(p: &ProcessSample) -> Option<f64> {
    p.live_heap_bytes.map(|b| b as f64)
}

#[allow(clippy::cast_precision_loss, reason = "figures far below 2^52")]
pub fn tasks(p: &ProcessSample) -> Option<f64> {
    p.tasks.map(|t| t as f64)
}

/// A marker at each event's start.
pub fn event_markers(
    events: &[EventSummary],
    color: &'static str,
    prefix: &str,
    row: u8,
) -> Vec<Marker> {
    events
        .iter()
        .map(|event| Marker {
            t_ms: event.t_start_ms,
            label: format!("{prefix}{}", event.event),
            title: format!(
                "{prefix}event {} ({}) at {}",
                event.event,
                event.label,
                human_ms(event.t_start_ms)
            ),
            color,
            row,
        })
        .collect()
}

/// A legend: a line sample and the name of each series.
pub fn legend(series: &[Series]) -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for line in series {
        let dash = if line.style.dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{}\"", line.style.dash)
        };
        let _ = write!(
            out,
            "<li><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"30\" height=\"10\" viewBox=\"0 0 30 10\"><line x1=\"0\" y1=\"5\" x2=\"30\" y2=\"5\" stroke=\"{}\" stroke-width=\"2.5\"{dash}/></svg>{}</li>",
            line.style.color,
            esc(&line.name)
        );
    }
    out.push_str("</ul>");
    out
}

/// A figure: heading, chart and legend.
pub fn figure(heading: &str, chart: &str, legend_html: &str) -> String {
    format!(
        "<figure><figcaption>{}</figcaption>{chart}{legend_html}</figure>",
        esc(heading)
    )
}

/// A line-chart figure of one figure of every process, or a note when no process reported it.
pub fn process_figure(
    heading: &str,
    class: &str,
    series: &[Series],
    scale: Scale,
    x_max_ms: u64,
    markers: &[Marker],
) -> String {
    if series.is_empty() {
        return format!(
            "<figure><figcaption>{}</figcaption><p class=\"note\">No process reported it.</p></figure>",
            esc(heading)
        );
    }
    let chart = svg::line_chart(class, heading, series, scale, x_max_ms, markers);
    figure(heading, &chart, &legend(series))
}

/// The bar of one event: its stabilization time (the time until it emptied the cluster; for a
/// superseded event the time until the overtaking action, hatched; never: a full red bar).
pub fn event_bar(
    event: &EventSummary,
    events: &[EventSummary],
    run: &str,
    color: &'static str,
) -> Bar {
    let outcome = event.outcome();
    let superseded_after = event
        .superseded_by
        .and_then(|by| events.iter().find(|e| e.event == by))
        .map(|next| next.t_start_ms.saturating_sub(event.t_start_ms));
    let (value_ms, text, color) = match outcome {
        EventOutcome::Superseded => (
            superseded_after.or(Some(0)),
            format!(
                "≥ {}",
                superseded_after.map_or_else(|| "?".to_owned(), human_ms)
            ),
            "#8a8f98",
        ),
        EventOutcome::NeverStabilized => (None, "never".to_owned(), "#e03131"),
        _ => (
            event.stabilization_ms,
            event.stabilization_ms.map_or_else(String::new, human_ms),
            color,
        ),
    };
    let prefix = if run.is_empty() {
        String::new()
    } else {
        format!("{run}: ")
    };
    Bar {
        group: event.event.to_string(),
        event: event.event,
        value_ms,
        text,
        title: format!(
            "{prefix}event {} ({}): {}",
            event.event,
            event.label,
            event.stabilization_text()
        ),
        class: format!(
            "{} {}",
            outcome.name(),
            if run.is_empty() { "run" } else { run }
        )
        .trim()
        .to_lowercase(),
        color,
    }
}

/// The stabilization bars of one run.
pub fn stabilization_figure(events: &[EventSummary]) -> String {
    let heading = "Stabilization time per event";
    if events.is_empty() {
        return format!(
            "<figure><figcaption>{heading}</figcaption><p class=\"note\">No event was measured.</p></figure>"
        );
    }
    let bars: Vec<Bar> = events
        .iter()
        .map(|e| event_bar(e, events, "", PALETTE[0]))
        .collect();
    let chart = svg::bar_chart("stabilization", heading, &bars);
    figure(heading, &chart, &outcome_legend(None))
}

/// The stabilization bars of two runs, A's and B's side by side per event number.
pub fn stabilization_overlay(a: &[EventSummary], b: &[EventSummary]) -> String {
    let heading = "Stabilization time per event, A and B";
    let mut numbers: Vec<usize> = a.iter().chain(b).map(|e| e.event).collect();
    numbers.sort_unstable();
    numbers.dedup();
    if numbers.is_empty() {
        return format!(
            "<figure><figcaption>{heading}</figcaption><p class=\"note\">No event was measured.</p></figure>"
        );
    }
    let mut bars = Vec::new();
    for number in numbers {
        for (run, events, color) in [("A", a, A_COLOR), ("B", b, B_COLOR)] {
            if let Some(event) = events.iter().find(|e| e.event == number) {
                bars.push(event_bar(event, events, run, color));
            }
        }
    }
    let chart = svg::bar_chart("stabilization", heading, &bars);
    figure(heading, &chart, &outcome_legend(Some(("A", "B"))))
}

/// What the bar colours mean.
fn outcome_legend(runs: Option<(&str, &str)>) -> String {
    let swatch = |fill: &str, text: &str| {
        format!(
            "<li><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"14\" height=\"10\" viewBox=\"0 0 14 10\"><rect width=\"14\" height=\"10\" fill=\"{fill}\"/></svg>{}</li>",
            esc(text)
        )
    };
    let mut out = String::from("<ul class=\"legend\">");
    match runs {
        Some((a, b)) => {
            out.push_str(&swatch(A_COLOR, a));
            out.push_str(&swatch(B_COLOR, b));
        }
        None => out.push_str(&swatch(PALETTE[0], "stabilized (emptied: time to empty)")),
    }
    out.push_str(&swatch(
        "#8a8f98",
        "superseded (hatched: at least the time until the next action)",
    ));
    out.push_str(&swatch("#e03131", "never stabilized"));
    out.push_str("</ul>");
    out
}

/// The ticks of a run's timeline: actions, marks, failed steps and findings.
pub fn ticks(recording: &Recording) -> Vec<Tick> {
    let mut ticks = Vec::new();
    for entry in &recording.timeline {
        match entry {
            TimelineEntry::Action(action) => {
                let (kind, label) = match &action.action {
                    Action::Mark(label) => (TickKind::Mark, format!("◆ {label}")),
                    other => (TickKind::Action, other.label()),
                };
                let failed = action
                    .error
                    .as_ref()
                    .map(|e| format!(" (failed: {e})"))
                    .unwrap_or_default();
                ticks.push(Tick {
                    t_ms: action.t_ms,
                    kind,
                    title: format!(
                        "{} at {}{failed}",
                        action.action.label(),
                        human_ms(action.t_ms)
                    ),
                    label,
                });
            }
            TimelineEntry::Step(step) => {
                if let StepStatus::Failed(reason) = &step.status {
                    ticks.push(Tick {
                        t_ms: step.t_ms,
                        kind: TickKind::Failed,
                        label: format!("step {} failed", step.number()),
                        title: format!(
                            "step {} ({}) failed at {}: {reason}",
                            step.number(),
                            step.label,
                            human_ms(step.t_ms)
                        ),
                    });
                }
            }
        }
    }
    for finding in &recording.findings {
        ticks.push(Tick {
            t_ms: finding.t_ms,
            kind: TickKind::Finding,
            label: finding.check.name().to_owned(),
            title: format!(
                "finding at {}: {} ({})",
                human_ms(finding.t_ms),
                finding.message,
                finding.check.name()
            ),
        });
    }
    ticks
}

/// A run's timeline figure.
pub fn timeline_figure(heading: &str, recording: &Recording, x_max_ms: u64) -> String {
    let chart = svg::timeline(heading, &ticks(recording), x_max_ms);
    let legend = "<ul class=\"legend\"><li><span class=\"key action\"></span>action</li>\
                  <li><span class=\"key mark\"></span>mark</li>\
                  <li><span class=\"key finding\"></span>finding (below the axis)</li>\
                  <li><span class=\"key failed\"></span>failed step (below the axis)</li></ul>";
    figure(heading, &chart, legend)
}
