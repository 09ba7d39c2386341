//! Keys to commands, as one table (pure): [`command`] looks keys up in [`BINDINGS`] and the help
//! overlay lists the same table, so no binding can be missing from the help. Bindings follow
//! Locust/k9s/htop habits and DESIGN.md §7: `j`/`k` and the arrows move, and every key that
//! kills, stops, pauses or restarts something is a capital letter that asks for a one-key
//! confirmation (y or Enter) first; no lowercase key destroys anything.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::Screen;

/// How long `P` freezes a host.
pub const PAUSE: Duration = Duration::from_secs(5);
/// How long `C` cuts the selected worker's host off NATS.
pub const CUT: Duration = Duration::from_secs(10);
/// How long `W` slows the selected worker's host's link, and by how much.
pub const SLOW: Duration = Duration::from_secs(20);
pub const SLOW_LATENCY: Duration = Duration::from_millis(100);
/// How long `X` keeps the killed NATS node down.
pub const NODE_DOWN: Duration = Duration::from_secs(5);

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    AddWorkers(usize),
    RemoveWorkers(usize),
    KillSelected,
    StopSelected,
    KillLeader,
    PauseSelectedHost,
    KillSelectedHost,
    CutSelectedLink,
    SlowSelectedLink,
    RestartNats,
    KillNatsNode,
    Mark,
    ToggleRecording,
    ToggleLogPane,
    Show(Screen),
    ToggleHelp,
    Back,
    /// The next worker on the dashboard, the next log line on the log screen.
    Down,
    /// The previous worker on the dashboard, the previous log line on the log screen.
    Up,
    LogPageUp,
    LogPageDown,
    LogTop,
    LogFollow,
    CycleWindow,
    Quit,
}

impl Command {
    /// Whether the command kills, stops, pauses or restarts something: it asks first.
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            Command::KillSelected
                | Command::StopSelected
                | Command::KillLeader
                | Command::PauseSelectedHost
                | Command::KillSelectedHost
                | Command::CutSelectedLink
                | Command::SlowSelectedLink
                | Command::RestartNats
                | Command::KillNatsNode
        )
    }
}

/// A key as the table names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A character, typed with or without shift.
    Char(char),
    /// A character with the control key.
    Ctrl(char),
    /// A named key (arrows, pages, function keys).
    Code(KeyCode),
}

impl Key {
    /// The key as the help and the hints write it.
    pub fn name(self) -> String {
        match self {
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("^{}", c.to_ascii_uppercase()),
            Key::Code(code) => match code {
                KeyCode::Up => "↑".into(),
                KeyCode::Down => "↓".into(),
                KeyCode::Left => "←".into(),
                KeyCode::Right => "→".into(),
                KeyCode::PageUp => "PgUp".into(),
                KeyCode::PageDown => "PgDn".into(),
                KeyCode::Home => "Home".into(),
                KeyCode::End => "End".into(),
                KeyCode::Esc => "Esc".into(),
                KeyCode::Enter => "Enter".into(),
                KeyCode::F(n) => format!("F{n}"),
                other => format!("{other:?}"),
            },
        }
    }

    /// Whether a key press is this key.
    pub fn matches(self, key: &KeyEvent) -> bool {
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match self {
            Key::Char(c) => !control && !alt && key.code == KeyCode::Char(c),
            Key::Ctrl(c) => control && key.code == KeyCode::Char(c),
            Key::Code(code) => !control && !alt && key.code == code,
        }
    }

    /// A press of this key, as a terminal would report it.
    pub fn event(self) -> KeyEvent {
        match self {
            Key::Char(c) if c.is_ascii_uppercase() => {
                KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT)
            }
            Key::Char(c) => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
            Key::Ctrl(c) => KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL),
            Key::Code(code) => KeyEvent::new(code, KeyModifiers::NONE),
        }
    }
}

/// The longest description, so that the help fits two columns in 80 terminal columns.
pub const WHAT_MAX: usize = 26;

/// One binding: the command, its keys (the first is the main one) and what it does.
pub struct Binding {
    pub command: Command,
    pub keys: &'static [Key],
    pub what: &'static str,
}

impl Binding {
    /// The keys as the help writes them: `+ =`, `↓ j`.
    pub fn keys_text(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

const fn bind(command: Command, keys: &'static [Key], what: &'static str) -> Binding {
    Binding {
        command,
        keys,
        what,
    }
}

use Key::{Char, Code, Ctrl};

/// Every binding, in help order. Destructive commands ([`Command::is_destructive`]) are capital
/// letters and ask for confirmation.
pub const BINDINGS: &[Binding] = &[
    bind(
        Command::AddWorkers(1),
        &[Char('+'), Char('=')],
        "add a worker",
    ),
    bind(
        Command::RemoveWorkers(1),
        &[Char('-'), Char('_')],
        "remove a worker (graceful)",
    ),
    bind(Command::AddWorkers(10), &[Char(']')], "add ten workers"),
    bind(
        Command::RemoveWorkers(10),
        &[Char('[')],
        "remove ten workers",
    ),
    bind(
        Command::KillSelected,
        &[Char('K')],
        "kill the selected worker",
    ),
    bind(
        Command::StopSelected,
        &[Char('S')],
        "stop the selected worker",
    ),
    bind(Command::KillLeader, &[Char('L')], "kill the leader"),
    bind(
        Command::PauseSelectedHost,
        &[Char('P')],
        "pause selected's host 5 s",
    ),
    bind(
        Command::KillSelectedHost,
        &[Char('H')],
        "kill -9 selected's host",
    ),
    bind(
        Command::CutSelectedLink,
        &[Char('C')],
        "cut selected's link 10 s",
    ),
    bind(
        Command::SlowSelectedLink,
        &[Char('W')],
        "slow selected's link 20 s",
    ),
    bind(Command::RestartNats, &[Char('N')], "restart nats-server"),
    bind(
        Command::KillNatsNode,
        &[Char('X')],
        "kill nats meta leader 5 s",
    ),
    bind(Command::Mark, &[Char('m')], "mark the timeline (label)"),
    bind(
        Command::ToggleRecording,
        &[Char('r')],
        "pause / resume recording",
    ),
    bind(
        Command::ToggleLogPane,
        &[Char('l')],
        "show / hide the log pane",
    ),
    bind(
        Command::CycleWindow,
        &[Char('w')],
        "chart window 1 m/5 m/all",
    ),
    bind(Command::Show(Screen::Dashboard), &[Char('1')], "dashboard"),
    bind(Command::Show(Screen::Logs), &[Char('2')], "log screen"),
    bind(
        Command::Show(Screen::Findings),
        &[Char('3'), Char('f')],
        "findings and figures",
    ),
    bind(
        Command::Show(Screen::Connect),
        &[Char('4'), Char('c')],
        "connect other NATS tools",
    ),
    bind(
        Command::Down,
        &[Code(KeyCode::Down), Char('j')],
        "next worker / log line",
    ),
    bind(
        Command::Up,
        &[Code(KeyCode::Up), Char('k')],
        "previous worker / log line",
    ),
    bind(
        Command::LogPageUp,
        &[Code(KeyCode::PageUp)],
        "log: a page back",
    ),
    bind(
        Command::LogPageDown,
        &[Code(KeyCode::PageDown)],
        "log: a page forward",
    ),
    bind(
        Command::LogTop,
        &[Code(KeyCode::Home), Char('g')],
        "log: the oldest lines",
    ),
    bind(
        Command::LogFollow,
        &[Code(KeyCode::End), Char('G')],
        "log: follow new lines",
    ),
    bind(
        Command::ToggleHelp,
        &[Char('?'), Char('h'), Code(KeyCode::F(1))],
        "this help",
    ),
    bind(
        Command::Back,
        &[Code(KeyCode::Esc)],
        "close help / back / cancel",
    ),
    bind(
        Command::Quit,
        &[Char('q'), Ctrl('c')],
        "quit (saves the recording)",
    ),
];

/// The command of a key press, if any.
pub fn command(key: &KeyEvent) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(key)))
        .map(|b| b.command)
}

/// The binding of a command (for hints and prompts that name its key).
pub fn binding(command: Command) -> Option<&'static Binding> {
    BINDINGS.iter().find(|b| b.command == command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    /// Every command. The match fails to compile when a variant is added, so that it is added
    /// here too (and so checked for a binding below).
    fn every_command() -> Vec<Command> {
        let all = vec![
            Command::AddWorkers(1),
            Command::RemoveWorkers(1),
            Command::AddWorkers(10),
            Command::RemoveWorkers(10),
            Command::KillSelected,
            Command::StopSelected,
            Command::KillLeader,
            Command::PauseSelectedHost,
            Command::KillSelectedHost,
            Command::CutSelectedLink,
            Command::SlowSelectedLink,
            Command::RestartNats,
            Command::KillNatsNode,
            Command::Mark,
            Command::ToggleRecording,
            Command::ToggleLogPane,
            Command::Show(Screen::Dashboard),
            Command::Show(Screen::Logs),
            Command::Show(Screen::Findings),
            Command::Show(Screen::Connect),
            Command::ToggleHelp,
            Command::Back,
            Command::Down,
            Command::Up,
            Command::LogPageUp,
            Command::LogPageDown,
            Command::LogTop,
            Command::LogFollow,
            Command::CycleWindow,
            Command::Quit,
        ];
        for command in &all {
            match command {
                Command::AddWorkers(_)
                | Command::RemoveWorkers(_)
                | Command::KillSelected
                | Command::StopSelected
                | Command::KillLeader
                | Command::PauseSelectedHost
                | Command::KillSelectedHost
                | Command::CutSelectedLink
                | Command::SlowSelectedLink
                | Command::KillNatsNode
                | Command::RestartNats
                | Command::Mark
                | Command::ToggleRecording
                | Command::ToggleLogPane
                | Command::ToggleHelp
                | Command::Back
                | Command::Down
                | Command::Up
                | Command::LogPageUp
                | Command::LogPageDown
                | Command::LogTop
                | Command::LogFollow
                | Command::CycleWindow
                | Command::Quit => {}
                Command::Show(screen) => match screen {
                    Screen::Dashboard | Screen::Logs | Screen::Findings | Screen::Connect => {}
                },
            }
        }
        all
    }

    #[test]
    fn every_command_has_a_binding_and_every_listed_key_maps_to_its_command() {
        for command in every_command() {
            assert!(binding(command).is_some(), "{command:?} has no key");
        }
        for b in BINDINGS {
            assert!(!b.keys.is_empty(), "{:?} lists no key", b.command);
            for k in b.keys {
                assert_eq!(command(&k.event()), Some(b.command), "{}", k.name());
            }
        }
    }

    #[test]
    fn the_design_bindings_map_to_their_commands() {
        let cases = [
            (Char('+'), Command::AddWorkers(1)),
            (Char('-'), Command::RemoveWorkers(1)),
            (Char(']'), Command::AddWorkers(10)),
            (Char('['), Command::RemoveWorkers(10)),
            (Char('j'), Command::Down),
            (Char('k'), Command::Up),
            (Code(KeyCode::Down), Command::Down),
            (Code(KeyCode::Up), Command::Up),
            (Char('L'), Command::KillLeader),
            (Char('r'), Command::ToggleRecording),
            (Char('m'), Command::Mark),
            (Char('l'), Command::ToggleLogPane),
            (Char('?'), Command::ToggleHelp),
            (Char('q'), Command::Quit),
            (Ctrl('c'), Command::Quit),
        ];
        for (k, expected) in cases {
            assert_eq!(command(&k.event()), Some(expected), "{}", k.name());
        }
        assert_eq!(command(&key(KeyCode::Char('x'))), None);
    }

    #[test]
    fn no_lowercase_key_destroys_anything() {
        for b in BINDINGS {
            if b.command.is_destructive() {
                for k in b.keys {
                    assert!(
                        matches!(k, Char(c) if c.is_ascii_uppercase()),
                        "{} for {:?} must be a capital letter",
                        k.name(),
                        b.command
                    );
                }
            }
        }
        for c in 'a'..='z' {
            if let Some(command) = command(&key(KeyCode::Char(c))) {
                assert!(!command.is_destructive(), "{c} → {command:?}");
            }
        }
    }

    #[test]
    fn the_help_says_how_long_a_pause_lasts() {
        let pause = binding(Command::PauseSelectedHost).map(|b| b.what);
        let seconds = format!("{} s", PAUSE.as_secs());
        assert!(pause.is_some_and(|w| w.contains(&seconds)), "{pause:?}");
    }

    #[test]
    fn the_dashboard_page_lists_every_key() {
        let page = include_str!("../../docs/dashboard.md");
        for b in BINDINGS {
            let row = format!("| `{}` | {}", b.keys_text(), b.what);
            assert!(page.contains(&row), "docs/dashboard.md lacks {row}");
        }
    }

    #[test]
    fn descriptions_are_short_enough_for_two_help_columns_in_80_columns() {
        for b in BINDINGS {
            assert!(b.what.chars().count() <= WHAT_MAX, "{}", b.what);
            assert!(b.keys_text().chars().count() <= 10, "{}", b.keys_text());
        }
    }

    #[test]
    fn releases_and_other_control_keys_do_nothing() {
        let mut release = key(KeyCode::Char('+'));
        release.kind = KeyEventKind::Release;
        assert_eq!(command(&release), None);
        assert_eq!(command(&Ctrl('k').event()), None);
    }
}
