//! Rendering the dashboard from a shared reference to the model: `render(&Model, &mut Frame)`
//! draws the header, the current screen, the key hints (or the open prompt) and, on top, the
//! help overlay. It reads
//! no clock, changes nothing and prints nothing; every size of terminal gets a sensible picture,
//! with less important panes left out when they do not fit.

mod charts;
mod connect;
mod figures;
mod findings;
pub(crate) mod format;
mod header;
mod help;
mod layout;
mod logs;
mod markers;
mod prompt;
mod stabilization;
pub mod theme;
mod workers;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use self::format::Segment;
use self::layout::{Pane, stack};
use super::keymap::{self, Command};
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
        Screen::Logs => logs::render(model, frame, body, "log"),
        Screen::Findings => findings::screen(model, frame, body),
        Screen::Connect => connect::render(model, frame, body),
    }
    footer(model, frame, bottom);
    if model.help {
        help::render(frame, area);
    }
}

/// The dashboard: charts on the left, workers, ownership and findings on the right (stacked on
/// narrow terminals), the log pane underneath when it is on.
fn dashboard(model: &Model, frame: &mut Frame, area: Rect) {
    dashboard_with_log(model, frame, area, |frame, log| {
        logs::render(model, frame, log, "log · l hides");
    });
}

/// The second header row (progress, stability, the last notice), for screens that draw their
/// own first row over the same model (`parti-top review`).
pub fn header_progress(model: &Model, frame: &mut Frame, area: Rect) {
    header::progress(model, frame, area);
}

/// The findings and figures screen.
pub fn findings_screen(model: &Model, frame: &mut Frame, area: Rect) {
    findings::screen(model, frame, area);
}

/// The dashboard's panes with `log` drawing the log pane (when the model shows one): the live
/// dashboard draws tracing's log there, a reviewed run the lines it rebuilt from the recording.
pub fn dashboard_with_log(
    model: &Model,
    frame: &mut Frame,
    area: Rect,
    log: impl FnOnce(&mut Frame, Rect),
) {
    let area = if model.log_pane && area.height >= 12 {
        let log_height = (area.height / 4).clamp(4, 14);
        let [panes, log_area] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(log_height)]).areas(area);
        log(frame, log_area);
        panes
    } else {
        area
    };
    // The memory chart wants room for its figures table under the plot, leaving the
    // stabilization bars their minimum.
    let memory_min = (6 + figures::height(model))
        .min(area.height.saturating_sub(4))
        .max(7);
    let memory = Pane::new(memory_min, None, 3, 0);
    let tasks = Pane::new(7, None, 2, 4);
    let bars = Pane::new(4, Some(stabilization::wanted_height(model)), 2, 2);
    let table_height = workers::wanted_height(model);
    let table = Pane::new(table_height.min(10), Some(table_height), 3, 1);
    let ownership = Pane::new(4, Some(workers::ownership_height(model)), 2, 5);
    let found = Pane::new(3, None, 1, 3);
    // Only a run with message load has the messages pane.
    let loaded = !model.load.is_empty();
    let messages = Pane::new(7, None, 2, 2);
    if area.width >= 60 {
        let left_width = area.width * 11 / 20;
        let [left, right] =
            Layout::horizontal([Constraint::Length(left_width), Constraint::Fill(1)]).areas(area);
        let r = stack(right, &[table, ownership, found]);
        if loaded {
            let l = stack(left, &[memory, messages, tasks, bars]);
            draw(model, frame, &[l[0], l[2], l[3], r[0], r[1], r[2], l[1]]);
        } else {
            let l = stack(left, &[memory, tasks, bars]);
            draw(model, frame, &[l[0], l[1], l[2], r[0], r[1], r[2]]);
        }
    } else if loaded {
        let s = stack(
            area,
            &[memory, tasks, bars, table, ownership, found, messages],
        );
        draw(model, frame, &s);
    } else {
        let s = stack(area, &[memory, tasks, bars, table, ownership, found]);
        draw(model, frame, &s);
    }
}

/// Draw the dashboard's panes into the areas the layout gave them (memory, tasks, bars, table,
/// ownership, findings, messages).
fn draw(model: &Model, frame: &mut Frame, areas: &[Option<Rect>]) {
    type Painter = fn(&Model, &mut Frame, Rect);
    let painters: [Painter; 7] = [
        charts::memory,
        charts::tasks,
        stabilization::render,
        workers::table,
        workers::ownership,
        findings::panel,
        charts::messages,
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

/// The key hints line, the most useful first, or the open prompt.
fn footer(model: &Model, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    if let Some(prompt) = &model.prompt {
        prompt::render(prompt, frame, area);
        return;
    }
    // Hints name their keys through the keymap, so that they always say what the keys do.
    let hints = |priority: u8, commands: &[Command], what: &'static str| {
        let key = commands
            .iter()
            .filter_map(|c| keymap::binding(*c).and_then(|b| b.keys.first()))
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join("/");
        Segment::new(
            priority,
            vec![
                Span::styled(key, theme::KEY),
                Span::styled(format!(" {what}"), theme::DIM),
            ],
        )
    };
    let hint =
        |priority: u8, command: Command, what: &'static str| hints(priority, &[command], what);
    let segments = match model.screen {
        Screen::Dashboard => vec![
            hints(
                1,
                &[Command::AddWorkers(1), Command::RemoveWorkers(1)],
                "worker",
            ),
            hints(
                3,
                &[Command::AddWorkers(10), Command::RemoveWorkers(10)],
                "±10",
            ),
            hint(2, Command::KillSelected, "kill"),
            hint(5, Command::StopSelected, "stop"),
            hint(2, Command::KillLeader, "kill leader"),
            hint(4, Command::PauseSelectedHost, "pause host"),
            hint(3, Command::RestartNats, "restart nats"),
            hint(4, Command::Mark, "mark"),
            hint(5, Command::ToggleRecording, "rec"),
            hint(5, Command::ToggleLogPane, "log pane"),
            hint(6, Command::CycleWindow, "window"),
            hint(6, Command::Show(Screen::Logs), "logs"),
            hint(6, Command::Show(Screen::Findings), "findings"),
            hint(6, Command::Show(Screen::Connect), "connect"),
            hint(0, Command::ToggleHelp, "help"),
            hint(0, Command::Quit, "quit"),
        ],
        Screen::Logs => vec![
            hint(1, Command::Show(Screen::Dashboard), "dashboard"),
            hints(2, &[Command::Up, Command::Down], "line"),
            hints(2, &[Command::LogPageUp, Command::LogPageDown], "page"),
            hint(3, Command::LogTop, "oldest"),
            hint(1, Command::LogFollow, "follow"),
            hint(2, Command::Back, "back"),
            hint(0, Command::ToggleHelp, "help"),
            hint(0, Command::Quit, "quit"),
        ],
        Screen::Findings | Screen::Connect => vec![
            hint(1, Command::Show(Screen::Dashboard), "dashboard"),
            hint(2, Command::Show(Screen::Logs), "logs"),
            hint(1, Command::Back, "back"),
            hint(0, Command::ToggleHelp, "help"),
            hint(0, Command::Quit, "quit"),
        ],
    };
    let line = format::fit(segments, Span::raw("  "), area.width);
    frame.render_widget(Paragraph::new(line), area);
}
