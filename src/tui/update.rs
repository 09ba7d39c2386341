//! The dashboard's pure update: `update(&mut Model, Msg) -> Vec<Effect>`. No IO, no clock: the
//! time arrives in messages. Key presses become the same [`Action`]s a profile step produces.

use std::time::Duration;

use crossterm::event::KeyEvent;

use super::keymap::{Command, command};
use super::model::{Marker, MemoryPoint, Model, Notice, Screen, StepView};
use crate::action::{Action, WorkerTarget};
use crate::observation::{ClusterEventKind, Observation, StepStatus};
use crate::workbench::engine::ClusterState;

/// How long `p` freezes a host.
pub const PAUSE: Duration = Duration::from_secs(5);

/// Something that happened, for the dashboard.
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// Time passed (run time in milliseconds).
    Tick(u64),
    Observation(Box<Observation>),
    Cluster(Box<ClusterState>),
    /// An action sent earlier finished.
    ActionDone {
        action: Action,
        error: Option<String>,
    },
    /// The dashboard missed `n` observations.
    Lagged(u64),
}

/// What the shell must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Act(Action),
    SetRecording(bool),
    Quit,
}

fn notice(model: &mut Model, text: impl Into<String>, error: bool) {
    model.notice = Some(Notice {
        t_ms: model.now_ms,
        text: text.into(),
        error,
    });
}

/// Apply one message.
pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => command(&key)
            .map(|c| on_command(model, c))
            .unwrap_or_default(),
        Msg::Tick(now_ms) => {
            model.now_ms = model.now_ms.max(now_ms);
            Vec::new()
        }
        Msg::Observation(observation) => {
            on_observation(model, *observation);
            Vec::new()
        }
        Msg::Cluster(state) => {
            model.now_ms = model.now_ms.max(state.t_ms);
            model.cluster = *state;
            model.selected = model
                .selected
                .min(model.cluster.workers.len().saturating_sub(1));
            Vec::new()
        }
        Msg::ActionDone { action, error } => {
            model.pending_actions = model.pending_actions.saturating_sub(1);
            match error {
                Some(error) => notice(model, format!("{action} failed: {error}"), true),
                None => notice(model, format!("{action} done"), false),
            }
            Vec::new()
        }
        Msg::Lagged(n) => {
            model.dropped += n;
            Vec::new()
        }
    }
}

fn act(model: &mut Model, action: Action) -> Vec<Effect> {
    model.pending_actions += 1;
    notice(model, format!("{action}…"), false);
    vec![Effect::Act(action)]
}

fn on_command(model: &mut Model, command: Command) -> Vec<Effect> {
    if model.quitting {
        return Vec::new();
    }
    if model.help && !matches!(command, Command::ToggleHelp | Command::Back | Command::Quit) {
        // Any other key closes the help first.
        model.help = false;
        return Vec::new();
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
        Command::KillSelected | Command::StopSelected => {
            let Some(id) = model.selected_worker().and_then(|w| w.worker_id.clone()) else {
                notice(model, "select a worker with a stable ID first", true);
                return Vec::new();
            };
            let target = WorkerTarget::Id(id);
            let action = if command == Command::KillSelected {
                Action::KillWorker(target)
            } else {
                Action::StopWorker(target)
            };
            act(model, action)
        }
        Command::KillLeader => act(model, Action::KillWorker(WorkerTarget::Leader)),
        Command::PauseSelectedHost => {
            let Some(host) = model.selected_worker().map(|w| w.host) else {
                notice(model, "select a worker first", true);
                return Vec::new();
            };
            act(
                model,
                Action::PauseHost {
                    host,
                    duration: PAUSE,
                },
            )
        }
        Command::RestartNats => {
            if !model.facts.managed {
                notice(
                    model,
                    "nats-server is external; parti-top cannot restart it",
                    true,
                );
                return Vec::new();
            }
            act(model, Action::RestartNats)
        }
        Command::Mark => {
            let label = format!(
                "mark {}",
                model
                    .markers
                    .iter()
                    .filter(|m| m.label.starts_with("mark"))
                    .count()
                    + 1
            );
            act(model, Action::Mark(label))
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
        Command::SelectNext => {
            let last = model.cluster.workers.len().saturating_sub(1);
            model.selected = (model.selected + 1).min(last);
            Vec::new()
        }
        Command::SelectPrevious => {
            model.selected = model.selected.saturating_sub(1);
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
    }
}

fn on_observation(model: &mut Model, observation: Observation) {
    model.now_ms = model.now_ms.max(observation.t_ms());
    match observation {
        Observation::Sample(sample) => {
            for process in sample.processes {
                model.push_memory(
                    process.process,
                    MemoryPoint {
                        t_ms: sample.t_ms,
                        rss_bytes: process.rss_bytes,
                        live_heap_bytes: process.live_heap_bytes,
                        tasks: process.tasks,
                        cpu_percent: process.cpu_percent,
                    },
                );
            }
        }
        Observation::Action(record) => {
            if let Some(error) = &record.error {
                notice(model, format!("{} failed: {error}", record.action), true);
            } else {
                model.markers.push(Marker {
                    t_ms: record.t_ms,
                    label: record.action.label(),
                });
            }
        }
        Observation::Measurement(measurement) => {
            match model
                .measurements
                .iter_mut()
                .find(|m| m.event == measurement.event)
            {
                Some(existing) => *existing = measurement,
                None => model.measurements.push(measurement),
            }
        }
        Observation::Finding(finding) => {
            notice(
                model,
                format!("finding: {} — {}", finding.check.name(), finding.message),
                true,
            );
            model.findings.push(finding);
        }
        Observation::Step(step) => {
            // Repeats continue the count; the header shows the step within the profile.
            let total = model.steps_total.max(1);
            model.step = Some(StepView {
                number: (step.number() - 1) % total + 1,
                total,
                label: step.label,
                failed: match step.status {
                    StepStatus::Failed(reason) => Some(reason),
                    StepStatus::Started | StepStatus::Done => None,
                },
            });
        }
        Observation::Cluster(event) => {
            if let ClusterEventKind::Nats { up, detail } = event.kind {
                model.facts.nats_up = up;
                let hint = if up {
                    detail
                } else {
                    format!("{detail} — press n to restart it")
                };
                notice(model, hint, !up);
            }
        }
    }
}

#[cfg(test)]
mod tests;
