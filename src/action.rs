//! Actions: the one command type for everything that changes a running cluster. A profile step
//! and an operator's key press produce the same [`Action`], so the controller, the recorder and
//! the checks cannot tell scripted from manual control, and a recorded session replays.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::parti::duration::{Human, serde_human};

/// Which worker an action targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerTarget {
    /// The current leader (read from KV at the moment of the action).
    Leader,
    /// A follower chosen by the run's seeded random generator.
    AnyFollower,
    /// Any worker chosen by the seeded random generator.
    Any,
    /// A worker by its stable ID, e.g. `worker-3`.
    Id(String),
}

impl fmt::Display for WorkerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerTarget::Leader => f.write_str("the leader"),
            WorkerTarget::AnyFollower => f.write_str("a follower"),
            WorkerTarget::Any => f.write_str("a worker"),
            WorkerTarget::Id(id) => f.write_str(id),
        }
    }
}

/// A change to the running cluster (or a note in the timeline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Start or gracefully stop workers until `n` run (spread over the hosts).
    ScaleTo(usize),
    /// Start `n` more workers.
    AddWorkers(usize),
    /// Gracefully stop the `n` newest workers.
    RemoveWorkers(usize),
    /// Crash a worker: abort its tasks and drop its connection, no cleanup.
    KillWorker(WorkerTarget),
    /// Gracefully stop one worker.
    StopWorker(WorkerTarget),
    /// `kill -9` a whole host process.
    KillHost(u32),
    /// Freeze a host process (SIGSTOP) for a while, then resume it (SIGCONT).
    PauseHost {
        host: u32,
        #[serde(with = "serde_human")]
        duration: Duration,
    },
    /// Restart the managed nats-server, keeping its store.
    RestartNats,
    /// A named moment in the timeline.
    Mark(String),
    /// Not asked for: something the cluster did on its own (a worker ended, a host exited),
    /// measured like an action. Never produced by a key or a profile step.
    Observed(String),
}

impl Action {
    /// Whether the action disturbs the cluster (and so opens a measured event).
    pub fn is_event(&self) -> bool {
        !matches!(self, Action::Mark(_))
    }

    /// A short label for charts and tables, e.g. `scale→5`, `kill leader`.
    pub fn label(&self) -> String {
        match self {
            Action::ScaleTo(n) => format!("scale→{n}"),
            Action::AddWorkers(n) => format!("+{n}"),
            Action::RemoveWorkers(n) => format!("-{n}"),
            Action::KillWorker(WorkerTarget::Leader) => "kill leader".into(),
            Action::KillWorker(target) => format!("kill {target}"),
            Action::StopWorker(target) => format!("stop {target}"),
            Action::KillHost(host) => format!("kill host {host}"),
            Action::PauseHost { host, duration } => {
                format!("pause host {host} {}", Human(*duration))
            }
            Action::RestartNats => "restart nats".into(),
            Action::Mark(label) => format!("mark {label}"),
            Action::Observed(what) => what.clone(),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Who asked for an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionSource {
    /// A key press in the TUI.
    Operator,
    /// Step `index` of the running profile.
    Profile { step: usize },
    /// Replaying a recording's timeline.
    Replay,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_and_name_the_target() {
        assert_eq!(Action::ScaleTo(5).label(), "scale→5");
        assert_eq!(
            Action::KillWorker(WorkerTarget::Leader).label(),
            "kill leader"
        );
        assert_eq!(
            Action::KillWorker(WorkerTarget::Id("worker-3".into())).label(),
            "kill worker-3"
        );
        assert_eq!(
            Action::PauseHost {
                host: 1,
                duration: Duration::from_millis(1500)
            }
            .label(),
            "pause host 1 1.5s"
        );
        assert!(!Action::Mark("x".into()).is_event());
        assert!(Action::RestartNats.is_event());
    }

    #[test]
    fn actions_round_trip_through_ron() {
        let actions = vec![
            Action::ScaleTo(3),
            Action::KillWorker(WorkerTarget::Id("worker-1".into())),
            Action::PauseHost {
                host: 0,
                duration: Duration::from_secs(2),
            },
            Action::Mark("after".into()),
        ];
        let text = ron::to_string(&actions).expect("serialize");
        assert!(text.contains("PauseHost(host:0,duration:\"2s\")"), "{text}");
        let back: Vec<Action> = ron::from_str(&text).expect("parse");
        assert_eq!(back, actions);
    }
}
