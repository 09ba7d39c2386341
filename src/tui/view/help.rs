//! The help overlay: every key binding, in a bordered box over the current screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Row, Table};

use super::theme;
use crate::tui::keymap::BINDINGS;

/// The box's size: wide enough for the longest binding, as tall as the list, within `area`.
fn centered(area: Rect) -> Rect {
    let keys = BINDINGS
        .iter()
        .map(|b| b.keys.chars().count())
        .max()
        .unwrap_or(0);
    let what = BINDINGS
        .iter()
        .map(|b| b.what.chars().count())
        .max()
        .unwrap_or(0);
    let wanted_width = u16::try_from(keys + what + 5).unwrap_or(u16::MAX);
    let wanted_height = u16::try_from(BINDINGS.len() + 2).unwrap_or(u16::MAX);
    let width = wanted_width.min(area.width);
    let height = wanted_height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

/// Draw the overlay on top of whatever `area` shows.
pub fn render(frame: &mut Frame, area: Rect) {
    let popup = centered(area);
    if popup.width == 0 || popup.height == 0 {
        return;
    }
    let keys_width = BINDINGS
        .iter()
        .map(|b| b.keys.chars().count())
        .max()
        .unwrap_or(0);
    let block = Block::bordered()
        .border_style(theme::TITLE)
        .title(Span::styled(" keys ", theme::TITLE))
        .title_bottom(Line::from(Span::styled(" esc or ? closes ", theme::DIM)).right_aligned());
    let rows = BINDINGS.iter().map(|b| {
        Row::new(vec![
            Cell::from(Span::styled(b.keys, theme::KEY)),
            Cell::from(b.what),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(u16::try_from(keys_width).unwrap_or(12)),
            Constraint::Fill(1),
        ],
    )
    .column_spacing(2)
    .block(block);
    frame.render_widget(Clear, popup);
    frame.render_widget(table, popup);
}
