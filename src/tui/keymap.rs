//! Keys to commands, as a table (pure). Bindings follow Locust/k9s/htop habits and DESIGN.md §7.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::Screen;

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    AddWorkers(usize),
    RemoveWorkers(usize),
    KillSelected,
    StopSelected,
    KillLeader,
    PauseSelectedHost,
    RestartNats,
    Mark,
    ToggleRecording,
    ToggleLogPane,
    Show(Screen),
    ToggleHelp,
    Back,
    SelectNext,
    SelectPrevious,
    CycleWindow,
    Quit,
}

/// One binding, as the help overlay lists it.
pub struct Binding {
    pub keys: &'static str,
    pub what: &'static str,
}

/// Every binding, in help order.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "+ / -",
        what: "add / gracefully remove one worker",
    },
    Binding {
        keys: "] / [",
        what: "add / remove ten workers",
    },
    Binding {
        keys: "k",
        what: "kill the selected worker (crash: no cleanup)",
    },
    Binding {
        keys: "s",
        what: "stop the selected worker gracefully",
    },
    Binding {
        keys: "L",
        what: "kill the leader",
    },
    Binding {
        keys: "p",
        what: "pause the selected worker's host for 5 s (SIGSTOP)",
    },
    Binding {
        keys: "n",
        what: "restart nats-server (keeps its store)",
    },
    Binding {
        keys: "m",
        what: "mark this moment in the timeline",
    },
    Binding {
        keys: "r",
        what: "pause / resume recording samples and events",
    },
    Binding {
        keys: "l",
        what: "show / hide the log pane",
    },
    Binding {
        keys: "1 2 3",
        what: "dashboard, logs, findings",
    },
    Binding {
        keys: "w",
        what: "chart window: 1 min, 5 min, whole run",
    },
    Binding {
        keys: "↑ ↓ / j",
        what: "select a worker",
    },
    Binding {
        keys: "?",
        what: "this help",
    },
    Binding {
        keys: "esc",
        what: "close help / back to the dashboard",
    },
    Binding {
        keys: "q / ctrl-c",
        what: "quit: stop workers, save the recording, stop nats-server",
    },
];

/// The command of a key press, if any.
pub fn command(key: &KeyEvent) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(key.code, KeyCode::Char('c')).then_some(Command::Quit);
    }
    Some(match key.code {
        KeyCode::Char('+' | '=') => Command::AddWorkers(1),
        KeyCode::Char('-' | '_') => Command::RemoveWorkers(1),
        KeyCode::Char(']') => Command::AddWorkers(10),
        KeyCode::Char('[') => Command::RemoveWorkers(10),
        KeyCode::Char('k') => Command::KillSelected,
        KeyCode::Char('s') => Command::StopSelected,
        KeyCode::Char('L') => Command::KillLeader,
        KeyCode::Char('p') => Command::PauseSelectedHost,
        KeyCode::Char('n') => Command::RestartNats,
        KeyCode::Char('m') => Command::Mark,
        KeyCode::Char('r') => Command::ToggleRecording,
        KeyCode::Char('l') => Command::ToggleLogPane,
        KeyCode::Char('1') => Command::Show(Screen::Dashboard),
        KeyCode::Char('2') => Command::Show(Screen::Logs),
        KeyCode::Char('3' | 'f') => Command::Show(Screen::Findings),
        KeyCode::Char('w') => Command::CycleWindow,
        KeyCode::Char('?' | 'h') | KeyCode::F(1) => Command::ToggleHelp,
        KeyCode::Esc => Command::Back,
        KeyCode::Down | KeyCode::Char('j') => Command::SelectNext,
        KeyCode::Up => Command::SelectPrevious,
        KeyCode::Char('q') => Command::Quit,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_design_bindings_map_to_their_commands() {
        let cases = [
            (KeyCode::Char('+'), Command::AddWorkers(1)),
            (KeyCode::Char('-'), Command::RemoveWorkers(1)),
            (KeyCode::Char(']'), Command::AddWorkers(10)),
            (KeyCode::Char('['), Command::RemoveWorkers(10)),
            (KeyCode::Char('k'), Command::KillSelected),
            (KeyCode::Char('L'), Command::KillLeader),
            (KeyCode::Char('p'), Command::PauseSelectedHost),
            (KeyCode::Char('n'), Command::RestartNats),
            (KeyCode::Char('r'), Command::ToggleRecording),
            (KeyCode::Char('m'), Command::Mark),
            (KeyCode::Char('l'), Command::ToggleLogPane),
            (KeyCode::Char('?'), Command::ToggleHelp),
            (KeyCode::Char('q'), Command::Quit),
        ];
        for (code, expected) in cases {
            assert_eq!(command(&key(code)), Some(expected), "{code:?}");
        }
        assert_eq!(
            command(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        assert_eq!(command(&key(KeyCode::Char('x'))), None);
    }

    #[test]
    fn releases_and_other_control_keys_do_nothing() {
        let mut release = key(KeyCode::Char('+'));
        release.kind = KeyEventKind::Release;
        assert_eq!(command(&release), None);
        assert_eq!(
            command(&KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn every_binding_is_listed_in_the_help() {
        let listed: String = BINDINGS
            .iter()
            .map(|b| b.keys)
            .collect::<Vec<_>>()
            .join(" ");
        for needle in [
            "+", "-", "]", "[", "k", "L", "p", "n", "m", "r", "l", "?", "q",
        ] {
            assert!(listed.contains(needle), "{needle} missing from help");
        }
    }
}
