//! The dashboard's pure update: `update(&mut Model, Msg) -> Vec<Effect>`. No IO, no clock: the
//! time arrives in messages. Observations fill the model here; keys are handled in [`keys`],
//! where they become the same [`Action`]s a profile step produces.

mod keys;

use crossterm::event::KeyEvent;

use super::keymap;
use super::model::{Marker, MemoryPoint, Model, Notice, StepView};
use crate::action::Action;
use crate::measure::ClusterState;
use crate::observation::{ClusterEventKind, Observation, StepStatus};

pub use super::keymap::PAUSE;

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
    /// The log has `n` lines written so far.
    LogWritten(u64),
    /// The terminal is now this many rows tall.
    Resized {
        rows: u16,
    },
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
        Msg::Key(key) => keys::on_key(model, &key),
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
        Msg::LogWritten(n) => {
            keys::log_written(model, n);
            Vec::new()
        }
        Msg::Resized { rows } => {
            model.screen_rows = rows;
            Vec::new()
        }
    }
}

fn on_observation(model: &mut Model, observation: Observation) {
    model.now_ms = model.now_ms.max(observation.t_ms());
    match observation {
        Observation::Sample(sample) => {
            if let Some(point) = sample.load {
                model.push_load(sample.t_ms, point);
            }
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
                    let key = keymap::binding(keymap::Command::RestartNats)
                        .and_then(|b| b.keys.first())
                        .map(|k| k.name())
                        .unwrap_or_default();
                    format!("{detail} — press {key} to restart it")
                };
                notice(model, hint, !up);
            }
        }
    }
}

#[cfg(test)]
mod tests;
