//! Stabilization time per event, one row per event: its number and action (with `★→` when the
//! leader changed), then a fixed-width figure and a bar. An event the next action closed before
//! it settled is *superseded* (dim, no bar), one that left no worker running reads `empty after
//! …`, and only an event closed without ever stabilizing is red and counted as not stabilized.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::format::{self, Segment};
use super::theme;
use crate::observation::{EventOutcome, Measurement};
use crate::tui::model::Model;

/// How an event ended, as the dashboard tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stable after this long.
    Stabilized(u64),
    /// The last worker had ended after this long.
    Emptied(u64),
    /// The event numbered so (1-based) arrived before this one settled.
    Superseded(usize),
    /// Closed (by the end of the run) without ever stabilizing.
    NotStabilized,
}

impl Outcome {
    pub fn of(m: &Measurement) -> Self {
        let ms = m.stabilization_ms.unwrap_or_default();
        match m.outcome() {
            EventOutcome::Emptied => Outcome::Emptied(ms),
            EventOutcome::Stabilized => Outcome::Stabilized(ms),
            EventOutcome::Superseded => {
                Outcome::Superseded(m.superseded_by.map_or(0, |next| next + 1))
            }
            EventOutcome::NeverStabilized => Outcome::NotStabilized,
        }
    }

    /// The outcome in words, `compact` for table cells.
    pub fn text(self, compact: bool) -> String {
        match (self, compact) {
            (Outcome::Stabilized(ms), _) => format::duration(ms),
            (Outcome::Emptied(ms), false) => format!("empty after {}", format::duration(ms)),
            (Outcome::Emptied(ms), true) => format!("empty {}", format::duration(ms)),
            (Outcome::Superseded(next), false) => format!("superseded by #{next}"),
            (Outcome::Superseded(next), true) => format!("superseded #{next}"),
            (Outcome::NotStabilized, _) => "not stabilized".to_owned(),
        }
    }

    pub fn style(self) -> ratatui::style::Style {
        match self {
            Outcome::Stabilized(_) => theme::TEXT,
            Outcome::Emptied(_) | Outcome::Superseded(_) => theme::DIM,
            Outcome::NotStabilized => theme::BAD,
        }
    }
}

/// `#3 kill leader`, the event as people count it.
pub fn event_label(m: &Measurement) -> String {
    format!("#{} {}", m.number(), m.action.label())
}

/// The mark of an event during which the leader changed.
pub const LEADER_CHANGED: &str = "★→";

/// The rows this pane wants: one per event plus its border.
pub fn wanted_height(model: &Model) -> u16 {
    u16::try_from(model.measurements.len().max(1) + 2).unwrap_or(u16::MAX)
}

/// The title: counts of the events that did not stabilize and were superseded, the longest
/// stabilization; what does not fit is left out, least important first.
fn title(model: &Model, width: u16) -> Line<'static> {
    let outcomes = || model.measurements.iter().map(Outcome::of);
    let never = outcomes().filter(|o| *o == Outcome::NotStabilized).count();
    let superseded = outcomes()
        .filter(|o| matches!(o, Outcome::Superseded(_)))
        .count();
    let longest = outcomes()
        .filter_map(|o| match o {
            Outcome::Stabilized(ms) => Some(ms),
            _ => None,
        })
        .max();
    let mut segments = vec![
        Segment::new(0, vec![Span::styled("stabilization", theme::TITLE)]),
        Segment::attached(5, vec![Span::styled("per event", theme::TITLE)]),
    ];
    if never > 0 {
        segments.push(Segment::new(
            1,
            vec![Span::styled(format!("{never} not stabilized"), theme::BAD)],
        ));
    }
    if superseded > 0 {
        segments.push(Segment::new(
            3,
            vec![Span::styled(format!("{superseded} superseded"), theme::DIM)],
        ));
    }
    if let Some(ms) = longest {
        segments.push(Segment::new(
            2,
            vec![Span::styled(
                format!("max {}", format::duration(ms)),
                theme::DIM,
            )],
        ));
    }
    let mut line = format::fit(segments, Span::styled(" · ", theme::DIM), width);
    line.spans.insert(0, Span::raw(" "));
    line.spans.push(Span::raw(" "));
    line
}

/// One event's row: label padded to `label_width`, its figure right-aligned in `value_width`,
/// then its bar (stabilized events only; other outcomes are written out instead).
fn row(
    m: &Measurement,
    label_width: usize,
    value_width: usize,
    bar_width: usize,
    max_ms: u64,
) -> Line<'static> {
    let outcome = Outcome::of(m);
    let leader = m.leader_changed == Some(true);
    let mark_width = if leader {
        LEADER_CHANGED.chars().count() + 1
    } else {
        0
    };
    let label = format::cut(&event_label(m), label_width.saturating_sub(mark_width));
    let label_style = match outcome {
        Outcome::NotStabilized => theme::BAD,
        Outcome::Superseded(_) => theme::DIM,
        Outcome::Stabilized(_) | Outcome::Emptied(_) => theme::TEXT,
    };
    let used = label.chars().count() + mark_width;
    let mut spans = vec![Span::styled(label, label_style)];
    if leader {
        spans.push(Span::styled(format!(" {LEADER_CHANGED}"), theme::LEADER));
    }
    spans.push(Span::raw(" ".repeat(label_width.saturating_sub(used) + 1)));
    match outcome {
        Outcome::Stabilized(ms) => {
            spans.push(Span::raw(format!(
                "{:>value_width$} ",
                format::duration(ms)
            )));
            spans.push(Span::styled(format::bar(ms, max_ms, bar_width), theme::BAR));
        }
        other => spans.push(Span::styled(other.text(false), other.style())),
    }
    Line::from(spans)
}

/// Draw the rows of the last events that fit.
pub fn render(model: &Model, frame: &mut Frame, area: Rect) {
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(title(model, area.width.saturating_sub(4)));
    let inner = block.inner(area);
    if model.measurements.is_empty() || inner.height == 0 || inner.width < 8 {
        let text = if model.measurements.is_empty() {
            "no events yet"
        } else {
            ""
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme::DIM)).block(block),
            area,
        );
        return;
    }
    let rows = usize::from(inner.height);
    // The newest rows; under a time cursor, its event's row too (highlighted).
    let focus = model
        .cursor
        .as_ref()
        .and_then(|c| c.event)
        .and_then(|event| model.measurements.iter().position(|m| m.event == event));
    let first = model.measurements.len().saturating_sub(rows);
    let first = focus.map_or(first, |focus| first.min(focus));
    let shown = &model.measurements[first..(first + rows).min(model.measurements.len())];
    let durations = || {
        model
            .measurements
            .iter()
            .filter_map(|m| match Outcome::of(m) {
                Outcome::Stabilized(ms) => Some(ms),
                _ => None,
            })
    };
    let max_ms = durations().max().unwrap_or(1).max(1);
    let value_width = shown
        .iter()
        .filter_map(|m| match Outcome::of(m) {
            Outcome::Stabilized(ms) => Some(format::duration(ms).len()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let width = usize::from(inner.width);
    let wanted_label = shown
        .iter()
        .map(|m| {
            event_label(m).chars().count()
                + if m.leader_changed == Some(true) {
                    LEADER_CHANGED.chars().count() + 1
                } else {
                    0
                }
        })
        .max()
        .unwrap_or(0);
    // The label takes what it needs, up to half the pane; the figure and a bar the rest.
    let label_width = wanted_label.min(width / 2);
    let bar_width = width.saturating_sub(label_width + 1 + value_width + 1);
    let lines: Vec<Line> = shown
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let line = row(m, label_width, value_width, bar_width, max_ms);
            if focus == Some(first + i) {
                line.style(theme::SELECTED)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::sample_model;

    #[test]
    fn outcomes_tell_superseded_emptied_and_never_apart() {
        let model = sample_model();
        let outcomes: Vec<Outcome> = model.measurements.iter().map(Outcome::of).collect();
        assert_eq!(outcomes[2], Outcome::Stabilized(12_840));
        assert_eq!(outcomes[3], Outcome::Emptied(450));
        assert_eq!(outcomes[4], Outcome::Superseded(6));
        assert_eq!(outcomes[6], Outcome::NotStabilized);
        assert_eq!(outcomes[3].text(false), "empty after 450 ms");
        assert_eq!(outcomes[4].text(false), "superseded by #6");
        assert_eq!(outcomes[4].style(), theme::DIM);
    }

    #[test]
    fn only_events_that_never_stabilized_are_counted_red() {
        let title = title(&sample_model(), 200).to_string();
        assert!(title.contains("1 not stabilized"), "{title}");
        assert!(title.contains("1 superseded"), "{title}");
        assert!(title.contains("max 12.84 s"), "{title}");
    }

    #[test]
    fn rows_number_events_from_one_and_mark_a_new_leader() {
        let model = sample_model();
        let line = row(&model.measurements[2], 20, 7, 10, 12_840).to_string();
        assert!(line.starts_with("#3 kill leader ★→"), "{line}");
        assert!(line.contains("12.84 s ██████████"), "{line}");
        let line = row(&model.measurements[0], 20, 7, 10, 12_840).to_string();
        assert!(line.starts_with("#1 scale→3"), "{line}");
    }
}
