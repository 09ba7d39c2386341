//! Keys, purely: an open prompt takes every key (a confirmation answers y/Enter or cancels, a
//! mark label is edited and submitted); otherwise the keymap's command runs. Destructive
//! commands open a confirmation naming their target instead of acting; the log scroll moves by
//! lines, pages, to the oldest line or back to following.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{Effect, notice};
use crate::action::{Action, NodeTarget, WorkerTarget};
use crate::parti::duration::Human;
use crate::text::plural;
use crate::tui::keymap::{CUT, Command, NODE_DOWN, PAUSE, SLOW, SLOW_LATENCY, command};
use crate::tui::model::{Model, Prompt, Screen};

/// The longest mark label the prompt takes.
pub const MARK_LABEL_MAX: usize = 40;

/// How far back the log scrolls (lines).
pub const LOG_HISTORY_LINES: usize = 1000;

/// Handle one key press.
pub fn on_key(model: &mut Model, key: &KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if model.quitting {
        return Vec::new();
    }
    if let Some(prompt) = model.prompt.take() {
        return on_prompt_key(model, prompt, key);
    }
    command(key)
        .map(|c| on_command(model, c))
        .unwrap_or_default()
}

fn on_prompt_key(model: &mut Model, prompt: Prompt, key: &KeyEvent) -> Vec<Effect> {
    let control = key.modifiers.contains(KeyModifiers::CONTROL);
    if control && key.code == KeyCode::Char('c') {
        return on_command(model, Command::Quit);
    }
    match prompt {
        Prompt::Confirm { action, .. } => match key.code {
            KeyCode::Enter | KeyCode::Char('y' | 'Y') => act(model, action),
            _ => {
                notice(model, format!("{action}: cancelled"), false);
                Vec::new()
            }
        },
        Prompt::Mark { mut label } => {
            match key.code {
                KeyCode::Enter => {
                    let label = if label.trim().is_empty() {
                        default_mark_label(model)
                    } else {
                        label.trim().to_owned()
                    };
                    return act(model, Action::Mark(label));
                }
                KeyCode::Esc => {
                    notice(model, "mark: cancelled", false);
                    return Vec::new();
                }
                KeyCode::Backspace => {
                    label.pop();
                }
                KeyCode::Char(c) if !control && label.chars().count() < MARK_LABEL_MAX => {
                    label.push(c);
                }
                _ => {}
            }
            model.prompt = Some(Prompt::Mark { label });
            Vec::new()
        }
    }
}

/// The label `m` proposes: the next mark's number (the timeline shows `mark 3`).
fn default_mark_label(model: &Model) -> String {
    let marks = model
        .markers
        .iter()
        .filter(|m| m.label.starts_with("mark "))
        .count();
    (marks + 1).to_string()
}

fn act(model: &mut Model, action: Action) -> Vec<Effect> {
    model.pending_actions += 1;
    notice(model, format!("{action}…"), false);
    vec![Effect::Act(action)]
}

/// Ask before `action`: the footer shows `question` until a key answers it.
fn confirm(model: &mut Model, action: Action, question: String) -> Vec<Effect> {
    model.prompt = Some(Prompt::Confirm { action, question });
    Vec::new()
}

/// The selected worker's host and how many workers it runs.
fn selected_host(model: &Model) -> Result<(u32, usize), &'static str> {
    let host = model
        .selected_worker()
        .map(|w| w.host)
        .ok_or("select a worker first")?;
    let workers = model
        .cluster
        .workers
        .iter()
        .filter(|w| w.host == host)
        .count();
    Ok((host, workers))
}

/// The action a destructive command would take and the question that asks for it, or why it
/// cannot be taken.
fn destructive(model: &Model, command: Command) -> Result<(Action, String), &'static str> {
    let selected = model.selected_worker();
    match command {
        Command::KillSelected | Command::StopSelected => {
            let id = selected
                .and_then(|w| w.worker_id.clone())
                .ok_or("select a worker with a stable ID first")?;
            let target = WorkerTarget::Id(id.clone());
            Ok(if command == Command::KillSelected {
                (
                    Action::KillWorker(target),
                    format!("kill {id} (a crash: no cleanup)?"),
                )
            } else {
                (Action::StopWorker(target), format!("stop {id} gracefully?"))
            })
        }
        Command::KillLeader => {
            let leader = model.cluster.leader.as_deref().unwrap_or("(none yet)");
            Ok((
                Action::KillWorker(WorkerTarget::Leader),
                format!("kill the leader {leader}?"),
            ))
        }
        Command::PauseSelectedHost => {
            let (host, workers) = selected_host(model)?;
            Ok((
                Action::PauseHost {
                    host,
                    duration: PAUSE,
                },
                format!(
                    "pause host {host} ({}) for {} with SIGSTOP?",
                    plural(workers as u64, "worker"),
                    Human(PAUSE)
                ),
            ))
        }
        Command::KillSelectedHost => {
            let (host, workers) = selected_host(model)?;
            Ok((
                Action::KillHost(host),
                format!(
                    "kill -9 host {host} ({})?",
                    plural(workers as u64, "worker")
                ),
            ))
        }
        Command::CutSelectedLink | Command::SlowSelectedLink => {
            if !model.facts.proxied {
                return Err("hosts reach NATS directly here: no link to cut or slow");
            }
            let (host, workers) = selected_host(model)?;
            let workers = plural(workers as u64, "worker");
            Ok(if command == Command::CutSelectedLink {
                (
                    Action::CutLink {
                        host,
                        duration: CUT,
                    },
                    format!(
                        "cut host {host}'s link to NATS ({workers}) for {}?",
                        Human(CUT)
                    ),
                )
            } else {
                (
                    Action::SlowLink {
                        host,
                        latency: SLOW_LATENCY,
                        bandwidth_bytes_per_s: None,
                        duration: SLOW,
                    },
                    format!(
                        "add {} to host {host}'s link ({workers}) for {}?",
                        Human(SLOW_LATENCY),
                        Human(SLOW)
                    ),
                )
            })
        }
        Command::KillNatsNode => {
            if !model.facts.managed || model.facts.nats_nodes < 2 {
                return Err("no managed NATS cluster: use N to restart the one server");
            }
            Ok((
                Action::KillNatsNode {
                    node: NodeTarget::MetaLeader,
                    down: NODE_DOWN,
                },
                format!(
                    "kill -9 the NATS node of the meta leader, restart it after {}?",
                    Human(NODE_DOWN)
                ),
            ))
        }
        Command::RestartNats => {
            if !model.facts.managed {
                return Err("nats-server is external; parti-top cannot restart it");
            }
            Ok((
                Action::RestartNats,
                "restart nats-server (every worker loses its connection)?".to_owned(),
            ))
        }
        _ => Err("not a destructive command"),
    }
}

fn on_command(model: &mut Model, command: Command) -> Vec<Effect> {
    if model.help && !matches!(command, Command::ToggleHelp | Command::Back | Command::Quit) {
        // Any other key closes the help first.
        model.help = false;
        return Vec::new();
    }
    if command.is_destructive() {
        return match destructive(model, command) {
            Ok((action, question)) => confirm(model, action, question),
            Err(why) => {
                notice(model, why, true);
                Vec::new()
            }
        };
    }
    match command {
        Command::AddWorkers(n) => act(model, Action::AddWorkers(n)),
        Command::RemoveWorkers(n) => {
            let running = model.cluster.workers.len();
            if running == 0 {
                notice(model, "no worker to remove", true);
                return Vec::new();
            }
            act(model, Action::RemoveWorkers(n.min(running)))
        }
        Command::Mark => {
            model.prompt = Some(Prompt::Mark {
                label: default_mark_label(model),
            });
            Vec::new()
        }
        Command::ToggleRecording => {
            model.facts.recording = !model.facts.recording;
            let text = if model.facts.recording {
                "recording resumed"
            } else {
                "recording paused (actions are still kept)"
            };
            notice(model, text, false);
            vec![Effect::SetRecording(model.facts.recording)]
        }
        Command::ToggleLogPane => {
            model.log_pane = !model.log_pane;
            Vec::new()
        }
        Command::Show(screen) => {
            model.screen = screen;
            Vec::new()
        }
        Command::ToggleHelp => {
            model.help = !model.help;
            Vec::new()
        }
        Command::Back => {
            if model.help {
                model.help = false;
            } else {
                model.screen = Screen::Dashboard;
            }
            Vec::new()
        }
        Command::Down if model.screen == Screen::Logs => scroll(model, -1),
        Command::Up if model.screen == Screen::Logs => scroll(model, 1),
        Command::Down => {
            let last = model.cluster.workers.len().saturating_sub(1);
            model.selected = (model.selected + 1).min(last);
            Vec::new()
        }
        Command::Up => {
            model.selected = model.selected.saturating_sub(1);
            Vec::new()
        }
        Command::LogPageUp => scroll(model, page(model)),
        Command::LogPageDown => scroll(model, -page(model)),
        Command::LogTop => scroll(model, isize::MAX),
        Command::LogFollow => {
            model.log.back_lines = 0;
            Vec::new()
        }
        Command::CycleWindow => {
            model.window = model.window.next();
            Vec::new()
        }
        Command::Quit => {
            model.quitting = true;
            notice(model, "stopping workers, saving the recording…", false);
            vec![Effect::Quit]
        }
        Command::KillSelected
        | Command::StopSelected
        | Command::KillLeader
        | Command::PauseSelectedHost
        | Command::KillSelectedHost
        | Command::CutSelectedLink
        | Command::SlowSelectedLink
        | Command::KillNatsNode
        | Command::RestartNats => Vec::new(),
    }
}

/// A log page: the log screen's height less the header, footer and borders.
fn page(model: &Model) -> isize {
    isize::try_from(model.screen_rows.saturating_sub(6).max(1)).unwrap_or(1)
}

/// The farthest back the log scrolls: the lines written (when counted), at most the history.
fn oldest(model: &Model) -> usize {
    model.log.written_lines.map_or(LOG_HISTORY_LINES, |n| {
        usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(LOG_HISTORY_LINES)
    })
}

/// Scroll the log `lines` back (negative: forward), between following and the oldest line.
fn scroll(model: &mut Model, lines: isize) -> Vec<Effect> {
    let back = model.log.back_lines.saturating_add_signed(lines);
    model.log.back_lines = back.min(oldest(model));
    Vec::new()
}

/// The log now has `written` lines: a scrolled-back view moves back by as many, so that it
/// stays on the lines the operator is reading.
pub fn log_written(model: &mut Model, written: u64) {
    let before = model.log.written_lines.unwrap_or(written);
    model.log.written_lines = Some(written);
    if model.log.back_lines > 0 {
        let grown = usize::try_from(written.saturating_sub(before)).unwrap_or(usize::MAX);
        model.log.back_lines = model
            .log
            .back_lines
            .saturating_add(grown)
            .min(oldest(model));
    }
}
