//! Findings: the dashboard's panel (count and the last few, red when any) and the full-screen
//! view (every finding, then the per-event figures table).

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::format;
use super::theme;
use crate::observation::{Finding, Measurement};
use crate::tui::model::Model;

fn title(model: &Model, hidden: usize) -> Line<'_> {
    let count = model.findings.len();
    let style = if count > 0 { theme::BAD } else { theme::OK };
    let mut spans = vec![Span::styled(format!(" findings {count} "), style)];
    if hidden > 0 {
        spans.push(Span::styled(format!("· {hidden} earlier "), theme::DIM));
    }
    Line::from(spans)
}

fn finding_line(finding: &Finding) -> Line<'_> {
    Line::from(vec![
        Span::styled(format::clock(finding.t_ms), theme::DIM),
        Span::raw(" "),
        Span::styled(finding.check.name(), theme::BAD),
        Span::raw(" "),
        Span::raw(finding.message.as_str()),
    ])
}

/// The newest findings that fit in `rows`, and the bordered block that frames them.
fn newest(model: &Model, rows: usize) -> (&[Finding], Block<'_>) {
    let shown = &model.findings[model.findings.len().saturating_sub(rows)..];
    let border = if model.findings.is_empty() {
        theme::BORDER
    } else {
        theme::BAD
    };
    let block = Block::bordered()
        .border_style(border)
        .title(title(model, model.findings.len() - shown.len()));
    (shown, block)
}

/// Draw the dashboard's findings panel: the newest findings that fit.
pub fn panel(model: &Model, frame: &mut Frame, area: Rect) {
    let (shown, block) = newest(model, usize::from(area.height.saturating_sub(2)));
    let lines: Vec<Line> = if model.findings.is_empty() {
        vec![Line::styled("no invariant violated", theme::OK)]
    } else {
        shown.iter().map(finding_line).collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn first_assignment(m: &Measurement) -> String {
    m.first_assignments
        .iter()
        .map(|f| f.after_ms)
        .max()
        .map_or_else(|| "—".to_owned(), format::duration)
}

/// The figures of one event; `at` adds the event's start time.
fn figures_row(m: &Measurement, at: bool) -> Row<'_> {
    let stabilization = match m.stabilization_ms {
        Some(ms) => Cell::from(format::duration(ms)),
        None => Cell::from(Span::styled("— never", theme::BAD)),
    };
    let mut cells = vec![Cell::from(format!("#{}", m.event))];
    if at {
        cells.push(Cell::from(Span::styled(
            format::clock(m.t_start_ms),
            theme::DIM,
        )));
    }
    cells.extend([
        Cell::from(m.action.label()),
        stabilization,
        Cell::from(format::duration_or_dash(m.quiescence_ms)),
        Cell::from(format!("{:.1} %", m.moved_percent)),
        Cell::from(
            m.balance
                .map_or_else(|| "—".to_owned(), |b| format!("{b:.2}")),
        ),
        Cell::from(first_assignment(m)),
        Cell::from(format!("{}→{}", m.workers_before, m.workers_after)),
    ]);
    Row::new(cells)
}

/// The figures table of the events that fit, newest last.
fn figures(model: &Model, frame: &mut Frame, area: Rect) {
    let rows = usize::from(area.height.saturating_sub(3));
    let shown = &model.measurements[model.measurements.len().saturating_sub(rows)..];
    let hidden = model.measurements.len() - shown.len();
    let mut title = vec![Span::styled(" figures per event ", theme::TITLE)];
    if hidden > 0 {
        title.push(Span::styled(format!("· {hidden} earlier "), theme::DIM));
    }
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Line::from(title));
    if model.measurements.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("no events yet", theme::DIM)).block(block),
            area,
        );
        return;
    }
    let action_width = shown
        .iter()
        .map(|m| m.action.label().chars().count())
        .max()
        .unwrap_or(6)
        .clamp(6, 24);
    let at = area.width >= 90;
    let mut widths = vec![Constraint::Length(3)];
    let mut header = vec!["#"];
    if at {
        widths.push(Constraint::Length(7));
        header.push("at");
    }
    widths.extend([
        Constraint::Length(u16::try_from(action_width).unwrap_or(24)),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(7),
    ]);
    header.extend([
        "action",
        "stabilized",
        "quiet",
        "moved",
        "balance",
        "1st assign",
        "workers",
    ]);
    let table = Table::new(shown.iter().map(|m| figures_row(m, at)), widths)
        .header(Row::new(header).style(theme::HEADER))
        .flex(Flex::Start)
        .block(block);
    frame.render_widget(table, area);
}

/// Draw the findings screen: every finding (the newest that fit), then the figures per event.
pub fn screen(model: &Model, frame: &mut Frame, area: Rect) {
    let wanted = u16::try_from(model.findings.len().max(1) + 3).unwrap_or(u16::MAX);
    let top = wanted.min(area.height / 2).max(area.height.min(4));
    let [list_area, figures_area] =
        Layout::vertical([Constraint::Length(top), Constraint::Fill(1)]).areas(area);

    let (shown, block) = newest(model, usize::from(list_area.height.saturating_sub(3)));
    if model.findings.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("no invariant violated", theme::OK)).block(block),
            list_area,
        );
    } else {
        let list = Table::new(
            shown.iter().map(|f| {
                Row::new(vec![
                    Cell::from(Span::styled(format::clock(f.t_ms), theme::DIM)),
                    Cell::from(Span::styled(f.check.name(), theme::BAD)),
                    Cell::from(f.message.as_str()),
                ])
            }),
            [
                Constraint::Length(8),
                Constraint::Length(18),
                Constraint::Fill(1),
            ],
        )
        .header(Row::new(["time", "check", "message"]).style(theme::HEADER))
        .block(block);
        frame.render_widget(list, list_area);
    }

    figures(model, frame, figures_area);
}
