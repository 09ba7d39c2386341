//! Stabilization time per event as horizontal bars, one row per event, named by its action;
//! events that never stabilized are shown in red with a dash instead of a bar.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, Block, Paragraph};

use super::format;
use super::theme;
use crate::tui::model::Model;

/// The rows this pane wants: one per event plus its border.
pub fn wanted_height(model: &Model) -> u16 {
    u16::try_from(model.measurements.len().max(1) + 2).unwrap_or(u16::MAX)
}

/// Draw the bars of the last events that fit.
pub fn render(model: &Model, frame: &mut Frame, area: Rect) {
    let never = model
        .measurements
        .iter()
        .filter(|m| m.stabilization_ms.is_none())
        .count();
    let mut title = vec![Span::styled(" stabilization per event ", theme::TITLE)];
    if never > 0 {
        title.push(Span::styled(
            format!("· {never} not stabilized "),
            theme::BAD,
        ));
    }
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Line::from(title));
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
    let shown = &model.measurements[model.measurements.len().saturating_sub(rows)..];
    let max_ms = model
        .measurements
        .iter()
        .filter_map(|m| m.stabilization_ms)
        .max()
        .unwrap_or(1)
        .max(1);
    let bars: Vec<Bar> = shown
        .iter()
        .map(|m| {
            let label = format!("#{} {}", m.event, m.action.label());
            match m.stabilization_ms {
                Some(ms) => Bar::default()
                    .label(Line::raw(label))
                    .value(ms)
                    .text_value(format::duration(ms)),
                None => Bar::default()
                    .label(Line::styled(label, theme::BAD))
                    .value(0)
                    .text_value("— not stabilized")
                    .style(theme::BAD),
            }
        })
        .collect();
    let chart = BarChart::horizontal(bars)
        .block(block)
        .bar_width(1)
        .bar_gap(0)
        .max(max_ms)
        .bar_style(theme::BAR)
        .value_style(theme::BAR_VALUE);
    frame.render_widget(chart, area);
}
