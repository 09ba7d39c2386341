//! The review's keys, as one table (pure): [`command`] looks keys up in [`BINDINGS`], and the
//! help overlay, the footer hints and docs/dashboard.md list the same table. The live
//! dashboard's keys that act on a cluster ([`read_only`]) do nothing here but say so.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::tui::keymap::{self, Command as Live, Key};
use crate::tui::model::Screen;

/// What a key asks of the review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Move the cursor one second back (-1) or forward (+1).
    Second(i8),
    /// Move the cursor a tenth of the run back (-1) or forward (+1).
    Tenth(i8),
    Start,
    End,
    PreviousTarget,
    NextTarget,
    ZoomIn,
    ZoomOut,
    /// The next worker in the table.
    Down,
    /// The previous worker in the table.
    Up,
    ToggleLogPane,
    Show(Screen),
    ToggleHelp,
    Back,
    Quit,
}

/// A key as the table names it: the live keymap's keys, and arrows with shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewKey {
    Key(Key),
    Shift(KeyCode),
}

impl ReviewKey {
    /// The key as the help and the hints write it.
    pub fn name(self) -> String {
        match self {
            ReviewKey::Key(key) => key.name(),
            ReviewKey::Shift(code) => format!("⇧{}", Key::Code(code).name()),
        }
    }

    /// Whether a key press is this key (a named key without shift is not the shifted one).
    pub fn matches(self, event: &KeyEvent) -> bool {
        let shift = event.modifiers.contains(KeyModifiers::SHIFT);
        match self {
            ReviewKey::Key(key @ Key::Code(_)) => !shift && key.matches(event),
            ReviewKey::Key(key) => key.matches(event),
            ReviewKey::Shift(code) => {
                shift
                    && event.code == code
                    && !event
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            }
        }
    }

    /// A press of this key, as a terminal would report it.
    pub fn event(self) -> KeyEvent {
        match self {
            ReviewKey::Key(key) => key.event(),
            ReviewKey::Shift(code) => KeyEvent::new(code, KeyModifiers::SHIFT),
        }
    }
}

/// One binding: the command, its keys (the first is the main one) and what it does.
pub struct Binding {
    pub command: Command,
    pub keys: &'static [ReviewKey],
    pub what: &'static str,
}

impl Binding {
    /// The keys as the help writes them: `⇧← PgUp`.
    pub fn keys_text(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

const fn bind(command: Command, keys: &'static [ReviewKey], what: &'static str) -> Binding {
    Binding {
        command,
        keys,
        what,
    }
}

const fn ch(c: char) -> ReviewKey {
    ReviewKey::Key(Key::Char(c))
}

const fn code(code: KeyCode) -> ReviewKey {
    ReviewKey::Key(Key::Code(code))
}

/// Every binding, in help order.
pub const BINDINGS: &[Binding] = &[
    bind(
        Command::Second(-1),
        &[code(KeyCode::Left)],
        "cursor 1 s back",
    ),
    bind(
        Command::Second(1),
        &[code(KeyCode::Right)],
        "cursor 1 s forward",
    ),
    bind(
        Command::Tenth(-1),
        &[ReviewKey::Shift(KeyCode::Left), code(KeyCode::PageUp)],
        "a tenth of the run back",
    ),
    bind(
        Command::Tenth(1),
        &[ReviewKey::Shift(KeyCode::Right), code(KeyCode::PageDown)],
        "a tenth of the run forward",
    ),
    bind(Command::Start, &[code(KeyCode::Home), ch('g')], "the start"),
    bind(Command::End, &[code(KeyCode::End), ch('G')], "the end"),
    bind(
        Command::PreviousTarget,
        &[ch('['), ch('p')],
        "previous event or mark",
    ),
    bind(
        Command::NextTarget,
        &[ch(']'), ch('n')],
        "next event or mark",
    ),
    bind(
        Command::ZoomIn,
        &[ch('+'), ch('='), ch('z')],
        "zoom in (charts' window)",
    ),
    bind(
        Command::ZoomOut,
        &[ch('-'), ch('_'), ch('Z')],
        "zoom out (to the whole run)",
    ),
    bind(
        Command::Down,
        &[code(KeyCode::Down), ch('j')],
        "next worker",
    ),
    bind(
        Command::Up,
        &[code(KeyCode::Up), ch('k')],
        "previous worker",
    ),
    bind(
        Command::ToggleLogPane,
        &[ch('l')],
        "show / hide the log pane",
    ),
    bind(Command::Show(Screen::Dashboard), &[ch('1')], "dashboard"),
    bind(Command::Show(Screen::Logs), &[ch('2')], "log screen"),
    bind(
        Command::Show(Screen::Findings),
        &[ch('3'), ch('f')],
        "findings and figures",
    ),
    bind(
        Command::ToggleHelp,
        &[ch('?'), ch('h'), code(KeyCode::F(1))],
        "this help",
    ),
    bind(
        Command::Back,
        &[code(KeyCode::Esc)],
        "close help / back / quit",
    ),
    bind(
        Command::Quit,
        &[ch('q'), ReviewKey::Key(Key::Ctrl('c'))],
        "quit",
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

/// The binding of a command (for hints that name its key).
pub fn binding(command: Command) -> Option<&'static Binding> {
    BINDINGS.iter().find(|b| b.command == command)
}

/// Whether a key the review does not use would act on a cluster on the live dashboard (kill,
/// stop, pause, restart, mark, recording): a review has no cluster to act on.
pub fn read_only(key: &KeyEvent) -> bool {
    keymap::command(key).is_some_and(|c| {
        matches!(
            c,
            Live::AddWorkers(_)
                | Live::RemoveWorkers(_)
                | Live::KillSelected
                | Live::StopSelected
                | Live::KillLeader
                | Live::PauseSelectedHost
                | Live::RestartNats
                | Live::Mark
                | Live::ToggleRecording
                | Live::Show(Screen::Connect)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_key_maps_to_its_command() {
        for b in BINDINGS {
            assert!(!b.keys.is_empty(), "{:?} lists no key", b.command);
            for k in b.keys {
                assert_eq!(command(&k.event()), Some(b.command), "{}", k.name());
            }
        }
    }

    #[test]
    fn shift_arrows_move_a_tenth_and_plain_arrows_a_second() {
        let right = KeyEvent::new(KeyCode::Right, KeyModifiers::NONE);
        let shift_right = KeyEvent::new(KeyCode::Right, KeyModifiers::SHIFT);
        assert_eq!(command(&right), Some(Command::Second(1)));
        assert_eq!(command(&shift_right), Some(Command::Tenth(1)));
        assert_eq!(
            command(&KeyEvent::new(KeyCode::Char('Z'), KeyModifiers::SHIFT)),
            Some(Command::ZoomOut)
        );
    }

    #[test]
    fn the_live_action_keys_are_read_only_here() {
        for c in ['K', 'S', 'L', 'P', 'N', 'm', 'r'] {
            let key = Key::Char(c).event();
            assert_eq!(command(&key), None, "{c}");
            assert!(read_only(&key), "{c}");
        }
        assert!(!read_only(&Key::Char('x').event()));
    }

    #[test]
    fn the_dashboard_page_lists_every_review_key() {
        let page = include_str!("../../../docs/dashboard.md");
        let review = page
            .split_once("## Review")
            .map(|(_, rest)| rest)
            .expect("docs/dashboard.md has a Review section");
        for b in BINDINGS {
            let row = format!("| `{}` | {}", b.keys_text(), b.what);
            assert!(review.contains(&row), "docs/dashboard.md lacks {row}");
        }
    }
}
