//! The log pane: tui-logger's widget over the process-wide log buffer that tracing feeds. Times,
//! files, lines and targets are left out so that the pane shows the messages themselves.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Block;
use tui_logger::TuiLoggerWidget;

use super::theme;

/// Draw the log widget in a bordered box titled `title`.
pub fn render(frame: &mut Frame, area: Rect, title: &str) {
    if area.width < 3 || area.height < 3 {
        return;
    }
    let widget = TuiLoggerWidget::default()
        .block(
            Block::bordered()
                .border_style(theme::BORDER)
                .title(Span::styled(format!(" {title} "), theme::TITLE)),
        )
        .output_timestamp(None)
        .output_file(false)
        .output_line(false)
        .output_target(false)
        .style_error(theme::BAD)
        .style_warn(theme::WARN)
        .style_info(theme::TEXT)
        .style_debug(theme::DIM)
        .style_trace(theme::DIM);
    frame.render_widget(widget, area);
}
