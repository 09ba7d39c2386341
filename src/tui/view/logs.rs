//! The log pane: tui-logger's widget over the process-wide log buffer that tracing feeds. Times,
//! files, lines and targets are left out so that the pane shows the messages themselves.
//!
//! Scrolled back (`model.log.back_lines` > 0), the widget draws the newest lines into a taller
//! scratch buffer and the pane shows the part of it that many lines above the bottom; the title
//! then says how far back the view is and that End follows again.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};
use tui_logger::TuiLoggerWidget;

use super::theme;
use crate::tui::model::Model;

fn widget<'a>() -> TuiLoggerWidget<'a> {
    TuiLoggerWidget::default()
        .output_timestamp(None)
        .output_file(false)
        .output_line(false)
        .output_target(false)
        .style_error(theme::BAD)
        .style_warn(theme::WARN)
        .style_info(theme::TEXT)
        .style_debug(theme::DIM)
        .style_trace(theme::DIM)
}

/// The pane's title: its name, and how far back it is scrolled.
fn title(title: &str, back_lines: usize) -> Line<'static> {
    let mut spans = vec![Span::styled(format!(" {title} "), theme::TITLE)];
    if back_lines > 0 {
        let unit = if back_lines == 1 { "line" } else { "lines" };
        spans.push(Span::styled(
            format!("· ↑ {back_lines} {unit} back · End follows "),
            theme::WARN,
        ));
    }
    Line::from(spans)
}

/// The rows of `buffer` that hold text (the log is drawn from the top when it is shorter than
/// the buffer).
fn used_rows(buffer: &Buffer) -> u16 {
    let area = buffer.area;
    (area.top()..area.bottom())
        .rev()
        .find(|&y| (area.left()..area.right()).any(|x| buffer[(x, y)].symbol() != " "))
        .map_or(0, |y| y + 1 - area.top())
}

/// Draw the log in a bordered box titled `title`, scrolled as the model says.
pub fn render(model: &Model, frame: &mut Frame, area: Rect, name: &str) {
    if area.width < 3 || area.height < 3 {
        return;
    }
    let block = Block::bordered().border_style(theme::BORDER);
    let inner = block.inner(area);
    let back = u16::try_from(model.log.back_lines).unwrap_or(u16::MAX);
    if back == 0 {
        frame.render_widget(widget().block(block.title(title(name, 0))), area);
        return;
    }
    let tall = Rect::new(0, 0, inner.width, inner.height.saturating_add(back));
    let mut scratch = Buffer::empty(tall);
    widget().render(tall, &mut scratch);
    let used = used_rows(&scratch);
    let first = used.saturating_sub(back.saturating_add(inner.height));
    let shown_back = used.saturating_sub(first + inner.height);
    frame.render_widget(block.title(title(name, usize::from(shown_back))), area);
    let buf = frame.buffer_mut();
    for row in 0..inner.height.min(tall.height - first) {
        for column in 0..inner.width {
            buf[(inner.x + column, inner.y + row)] = scratch[(column, first + row)].clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_says_when_the_log_is_scrolled_back() {
        assert_eq!(title("log", 0).to_string(), " log ");
        assert_eq!(
            title("log", 12).to_string(),
            " log · ↑ 12 lines back · End follows "
        );
    }

    #[test]
    fn used_rows_ignores_the_blank_bottom() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 4, 5));
        buffer.set_string(0, 1, "ab", theme::TEXT);
        assert_eq!(used_rows(&buffer), 2);
        assert_eq!(used_rows(&Buffer::empty(Rect::new(0, 0, 4, 5))), 0);
    }
}
