//! Findings: the dashboard's panel (count and the last few, red when any) and the full-screen
//! view (every finding, then the per-event figures table, whose columns narrow screens drop
//! least important first rather than cutting a figure).

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::format;
use super::stabilization::{self, Outcome};
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

/// A finding as panel lines: time, check and message, the message wrapped (never cut) to
/// `width` with its continuation lines indented.
fn finding_lines(finding: &Finding, width: usize) -> Vec<Line<'_>> {
    let time = format::clock(finding.t_ms);
    let prefix = time.chars().count() + 1 + finding.check.name().chars().count() + 1;
    let wrapped = format::wrap(
        &finding.message,
        width.saturating_sub(prefix),
        width.saturating_sub(2),
    );
    let mut lines = Vec::with_capacity(wrapped.len());
    for (i, text) in wrapped.into_iter().enumerate() {
        lines.push(if i == 0 {
            Line::from(vec![
                Span::styled(time.clone(), theme::DIM),
                Span::raw(" "),
                Span::styled(finding.check.name(), theme::BAD),
                Span::raw(" "),
                Span::raw(text),
            ])
        } else {
            Line::from(format!("  {text}"))
        });
    }
    lines
}

/// How many of the newest findings fit in `rows` when each takes `height` rows.
fn newest_fitting(findings: &[Finding], rows: usize, height: impl Fn(&Finding) -> usize) -> usize {
    let mut used = 0;
    findings
        .iter()
        .rev()
        .take_while(|f| {
            used += height(f);
            used <= rows
        })
        .count()
}

/// The newest `count` findings, and the bordered block that frames them.
fn newest(model: &Model, count: usize) -> (&[Finding], Block<'_>) {
    let shown = &model.findings[model.findings.len().saturating_sub(count)..];
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

/// Draw the dashboard's findings panel: the newest findings that fit, messages wrapped.
pub fn panel(model: &Model, frame: &mut Frame, area: Rect) {
    let width = usize::from(area.width.saturating_sub(2));
    let rows = usize::from(area.height.saturating_sub(2));
    let count = newest_fitting(&model.findings, rows, |f| finding_lines(f, width).len());
    // When even the newest does not fit whole, show its start rather than nothing.
    let (shown, block) = newest(model, count.max(1));
    let lines: Vec<Line> = if model.findings.is_empty() {
        vec![Line::styled("no invariant violated", theme::OK)]
    } else {
        shown.iter().flat_map(|f| finding_lines(f, width)).collect()
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

/// A column of the figures table: header, width, importance (lower stays longer on narrow
/// screens) and the cell of one event.
struct Column {
    header: &'static str,
    width: u16,
    priority: u8,
    cell: fn(&Measurement) -> Cell<'static>,
}

fn stabilization_cell(m: &Measurement) -> Cell<'static> {
    let outcome = Outcome::of(m);
    Cell::from(Span::styled(outcome.text(true), outcome.style()))
}

fn action_cell(m: &Measurement) -> Cell<'static> {
    let mut spans = vec![Span::raw(m.action.label())];
    if m.leader_changed == Some(true) {
        spans.push(Span::styled(
            format!(" {}", stabilization::LEADER_CHANGED),
            theme::LEADER,
        ));
    }
    Cell::from(Line::from(spans))
}

/// The columns, in display order; narrow screens leave out the least important first.
fn columns(action_width: u16) -> Vec<Column> {
    vec![
        Column {
            header: "#",
            width: 4,
            priority: 0,
            cell: |m| Cell::from(format!("#{}", m.number())),
        },
        Column {
            header: "at",
            width: 7,
            priority: 6,
            cell: |m| Cell::from(Span::styled(format::clock(m.t_start_ms), theme::DIM)),
        },
        Column {
            header: "action",
            width: action_width,
            priority: 0,
            cell: action_cell,
        },
        Column {
            header: "stabilized",
            width: 14,
            priority: 0,
            cell: stabilization_cell,
        },
        Column {
            header: "quiet",
            width: 8,
            priority: 4,
            cell: |m| Cell::from(format::duration_or_dash(m.quiescence_ms)),
        },
        Column {
            header: "moved",
            width: 7,
            priority: 2,
            cell: |m| Cell::from(format!("{:.1} %", m.moved_percent)),
        },
        Column {
            header: "balance",
            width: 7,
            priority: 3,
            cell: |m| {
                Cell::from(
                    m.balance
                        .map_or_else(|| "—".to_owned(), |b| format!("{b:.2}")),
                )
            },
        },
        Column {
            header: "1st assign",
            width: 10,
            priority: 5,
            cell: |m| Cell::from(first_assignment(m)),
        },
        Column {
            header: "workers",
            width: 7,
            priority: 1,
            cell: |m| Cell::from(format!("{}→{}", m.workers_before, m.workers_after)),
        },
    ]
}

/// The columns that fit in `width` (with one space between columns), least important left out
/// first.
fn fitting(mut columns: Vec<Column>, width: u16) -> Vec<Column> {
    loop {
        let total: u16 = columns.iter().map(|c| c.width + 1).sum();
        if total <= width + 1 {
            return columns;
        }
        let Some(worst) = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.priority > 0)
            .max_by_key(|(i, c)| (c.priority, *i))
            .map(|(i, _)| i)
        else {
            return columns;
        };
        columns.remove(worst);
    }
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
        .map(|m| {
            m.action.label().chars().count() + if m.leader_changed == Some(true) { 3 } else { 0 }
        })
        .max()
        .unwrap_or(6)
        .clamp(6, 24);
    let columns = fitting(
        columns(u16::try_from(action_width).unwrap_or(24)),
        block.inner(area).width,
    );
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| Constraint::Length(c.width))
        .collect();
    let header: Vec<&str> = columns.iter().map(|c| c.header).collect();
    let table = Table::new(
        shown
            .iter()
            .map(|m| Row::new(columns.iter().map(|c| (c.cell)(m)).collect::<Vec<_>>())),
        widths,
    )
    .header(Row::new(header).style(theme::HEADER))
    .column_spacing(1)
    .flex(Flex::Start)
    .block(block);
    frame.render_widget(table, area);
}

/// Draw the findings screen: every finding (the newest that fit), then the figures per event.
pub fn screen(model: &Model, frame: &mut Frame, area: Rect) {
    // The message column takes what the time and check columns leave; messages wrap in it.
    let message_width = usize::from(area.width.saturating_sub(2 + 8 + 18 + 2));
    let wrapped = |f: &Finding| format::wrap(&f.message, message_width, message_width);
    let wanted_rows: usize = model
        .findings
        .iter()
        .map(|f| wrapped(f).len())
        .sum::<usize>()
        .max(1);
    let wanted = u16::try_from(wanted_rows + 3).unwrap_or(u16::MAX);
    let top = wanted.min(area.height / 2).max(area.height.min(4));
    let [list_area, figures_area] =
        Layout::vertical([Constraint::Length(top), Constraint::Fill(1)]).areas(area);

    let rows = usize::from(list_area.height.saturating_sub(3));
    let count = newest_fitting(&model.findings, rows, |f| wrapped(f).len());
    let (shown, block) = newest(model, count.max(1));
    if model.findings.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("no invariant violated", theme::OK)).block(block),
            list_area,
        );
    } else {
        let list = Table::new(
            shown.iter().map(|f| {
                let lines = wrapped(f);
                let height = u16::try_from(lines.len()).unwrap_or(1);
                Row::new(vec![
                    Cell::from(Span::styled(format::clock(f.t_ms), theme::DIM)),
                    Cell::from(Span::styled(f.check.name(), theme::BAD)),
                    Cell::from(Text::from(
                        lines.into_iter().map(Line::from).collect::<Vec<_>>(),
                    )),
                ])
                .height(height)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_tables_drop_whole_columns_least_important_first() {
        let all = columns(12);
        let wide: u16 = all.iter().map(|c| c.width + 1).sum();
        assert_eq!(fitting(columns(12), wide).len(), all.len());
        let narrow: Vec<&str> = fitting(columns(12), 60).iter().map(|c| c.header).collect();
        assert_eq!(
            narrow,
            ["#", "action", "stabilized", "moved", "balance", "workers"]
        );
    }
}
