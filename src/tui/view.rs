//! Rendering the dashboard from a shared reference to the model: `render(&Model, &mut Frame)`
//! draws the header, the current screen, the key hints and, on top, the help overlay. It reads
//! no clock, changes nothing and prints nothing; every size of terminal gets a sensible picture,
//! with less important panes left out when they do not fit.

mod charts;
mod findings;
mod format;
mod header;
mod help;
mod layout;
mod logs;
mod stabilization;
pub mod theme;
mod workers;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use self::format::Segment;
use self::layout::{Pane, stack};
use super::model::{Model, Screen};

/// Draw the whole screen for `model`.
pub fn render(model: &Model, frame: &mut Frame) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let header_height = header::height(area.height).min(area.height);
    let footer_height = u16::from(area.height > header_height + 2);
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Fill(1),
        Constraint::Length(footer_height),
    ])
    .areas(area);
    header::render(model, frame, top);
    match model.screen {
        Screen::Dashboard => dashboard(model, frame, body),
        Screen::Logs => logs::render(frame, body, "log"),
        Screen::Findings => findings::screen(model, frame, body),
    }
    footer(model, frame, bottom);
    if model.help {
        help::render(frame, area);
    }
}

/// The dashboard: charts on the left, workers, ownership and findings on the right (stacked on
/// narrow terminals), the log pane underneath when it is on.
fn dashboard(model: &Model, frame: &mut Frame, area: Rect) {
    let area = if model.log_pane && area.height >= 12 {
        let log_height = (area.height / 4).clamp(4, 14);
        let [panes, log] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(log_height)]).areas(area);
        logs::render(frame, log, "log · l hides");
        panes
    } else {
        area
    };
    let memory = Pane::new(7, None, 3, 0);
    let tasks = Pane::new(7, None, 2, 4);
    let bars = Pane::new(4, Some(stabilization::wanted_height(model)), 2, 2);
    let table_height = workers::wanted_height(model);
    let table = Pane::new(table_height.min(10), Some(table_height), 3, 1);
    let ownership = Pane::new(4, Some(workers::ownership_height(model)), 2, 5);
    let found = Pane::new(3, None, 1, 3);
    if area.width >= 60 {
        let left_width = area.width * 11 / 20;
        let [left, right] =
            Layout::horizontal([Constraint::Length(left_width), Constraint::Fill(1)]).areas(area);
        let l = stack(left, &[memory, tasks, bars]);
        let r = stack(right, &[table, ownership, found]);
        draw(model, frame, &[l[0], l[1], l[2], r[0], r[1], r[2]]);
    } else {
        let s = stack(area, &[memory, tasks, bars, table, ownership, found]);
        draw(model, frame, &s);
    }
}

/// Draw the dashboard's panes into the areas the layout gave them (memory, tasks, bars, table,
/// ownership, findings).
fn draw(model: &Model, frame: &mut Frame, areas: &[Option<Rect>]) {
    type Painter = fn(&Model, &mut Frame, Rect);
    let painters: [Painter; 6] = [
        charts::memory,
        charts::tasks,
        stabilization::render,
        workers::table,
        workers::ownership,
        findings::panel,
    ];
    for (area, paint) in areas.iter().zip(painters) {
        if let Some(area) = area
            && area.width >= 4
            && area.height >= 2
        {
            paint(model, frame, *area);
        }
    }
}

/// The key hints line, the most useful first.
fn footer(model: &Model, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let hint = |priority: u8, key: &'static str, what: &'static str| {
        Segment::new(
            priority,
            vec![
                Span::styled(key, theme::KEY),
                Span::styled(format!(" {what}"), theme::DIM),
            ],
        )
    };
    let segments = match model.screen {
        Screen::Dashboard => vec![
            hint(1, "+/-", "worker"),
            hint(3, "]/[", "±10"),
            hint(2, "k", "kill"),
            hint(5, "s", "stop"),
            hint(2, "L", "kill leader"),
            hint(4, "p", "pause host"),
            hint(3, "n", "restart nats"),
            hint(5, "m", "mark"),
            hint(4, "r", "rec"),
            hint(4, "l", "log pane"),
            hint(5, "w", "window"),
            hint(6, "2/3", "logs/findings"),
            hint(0, "?", "help"),
            hint(0, "q", "quit"),
        ],
        Screen::Logs | Screen::Findings => vec![
            hint(1, "1", "dashboard"),
            hint(2, "2", "logs"),
            hint(2, "3", "findings"),
            hint(1, "esc", "back"),
            hint(0, "?", "help"),
            hint(0, "q", "quit"),
        ],
    };
    let line = format::fit(segments, Span::raw("  "), area.width);
    frame.render_widget(Paragraph::new(line), area);
}
