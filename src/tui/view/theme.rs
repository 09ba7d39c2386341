//! The dashboard's colours, in one place: every style the view uses comes from here.

use ratatui::style::{Color, Modifier, Style};

use crate::parti::state::State;

/// Plain text.
pub const TEXT: Style = Style::new();
/// Secondary text: units, hints, separators.
pub const DIM: Style = Style::new().fg(Color::DarkGray);
/// The product name and pane titles.
pub const TITLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
/// Keys in hints and in the help.
pub const KEY: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
/// Healthy: NATS up, Stable workers, stabilized events.
pub const OK: Style = Style::new().fg(Color::Green);
/// In between: transitional worker states, pending actions.
pub const WARN: Style = Style::new().fg(Color::Yellow);
/// Broken: NATS down, findings, failed steps, error notices.
pub const BAD: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
/// The recording indicator.
pub const REC: Style = Style::new()
    .fg(Color::LightRed)
    .add_modifier(Modifier::BOLD);
/// Workers of a host frozen by SIGSTOP, and the header's note of it.
pub const PAUSED: Style = Style::new()
    .fg(Color::LightBlue)
    .add_modifier(Modifier::BOLD);
/// The leader mark.
pub const LEADER: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// The selected table row.
pub const SELECTED: Style = Style::new()
    .bg(Color::DarkGray)
    .add_modifier(Modifier::BOLD);
/// Action markers on the time charts.
pub const MARKER: Style = Style::new().fg(Color::LightMagenta);
/// The time cursor of a reviewed run on the charts.
pub const CURSOR: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// A chart cell the time cursor crosses.
pub const CURSOR_OVER: Style = Style::new().bg(Color::Yellow);
/// Pane borders.
pub const BORDER: Style = Style::new().fg(Color::Gray);
/// Table headers.
pub const HEADER: Style = Style::new()
    .fg(Color::Gray)
    .add_modifier(Modifier::UNDERLINED);
/// nats-server's series.
pub const NATS: Color = Color::LightRed;
/// parti-top's own (overhead) series.
pub const OVERHEAD: Color = Color::Gray;
/// Stabilization bars.
pub const BAR: Style = Style::new().fg(Color::Green);
/// A value printed inside a bar.
pub const BAR_VALUE: Style = Style::new().fg(Color::Black).bg(Color::Green);
/// Ownership bars.
pub const OWNERSHIP: Style = Style::new().fg(Color::Blue);
/// A count printed inside an ownership bar.
pub const OWNERSHIP_VALUE: Style = Style::new().fg(Color::White).bg(Color::Blue);

/// Host `n`'s colours: (RSS and tasks, live heap).
pub fn host_colors(host: u32) -> (Color, Color) {
    const PALETTE: [(Color, Color); 4] = [
        (Color::Cyan, Color::Blue),
        (Color::Green, Color::LightGreen),
        (Color::Yellow, Color::LightYellow),
        (Color::LightCyan, Color::LightBlue),
    ];
    PALETTE[host as usize % PALETTE.len()]
}

/// A worker state's colour: Stable green, Shutdown/Degraded/Emergency red, the rest yellow.
pub fn state(state: State) -> Style {
    match state {
        State::Stable => OK,
        State::Shutdown | State::Degraded | State::Emergency => BAD,
        _ => WARN,
    }
}
