//! The footer's one-line prompt: a destructive action's question (`y`/Enter confirms, any
//! other key cancels) or the mark label being typed, with a cursor.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme;
use crate::tui::model::Prompt;

/// The prompt's line.
pub fn line(prompt: &Prompt) -> Line<'_> {
    match prompt {
        Prompt::Confirm { question, .. } => Line::from(vec![
            Span::styled(question.as_str(), theme::WARN),
            Span::raw(" "),
            Span::styled("y", theme::KEY),
            Span::styled("/", theme::DIM),
            Span::styled("Enter", theme::KEY),
            Span::styled(" confirms · any other key cancels", theme::DIM),
        ]),
        Prompt::Mark { label } => Line::from(vec![
            Span::styled("mark ", theme::KEY),
            Span::raw(label.as_str()),
            Span::styled(" ", theme::TEXT.add_modifier(Modifier::REVERSED)),
            Span::styled("  Enter marks · Esc cancels", theme::DIM),
        ]),
    }
}

/// Draw the prompt in the footer's row.
pub fn render(prompt: &Prompt, frame: &mut Frame, area: Rect) {
    frame.render_widget(Paragraph::new(line(prompt)), area);
}
