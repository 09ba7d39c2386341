//! The scenario runner: carries out a profile's steps on a [`Workbench`], one after the other,
//! reporting each step's progress on the observation stream. Action steps go through
//! [`Workbench::act`] exactly like an operator's key press; `WaitStable` waits on the engine's
//! state; `Hold` lets time pass.

use tokio_util::sync::CancellationToken;

use crate::action::ActionSource;
use crate::observation::{Observation, StepProgress, StepStatus};
use crate::parti::duration::Human;
use crate::profile::Step;
use crate::workbench::Workbench;

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step ran.
    Completed,
    /// A step failed; the rest were skipped.
    StepFailed {
        index: usize,
        label: String,
        reason: String,
    },
    /// Cancelled (a signal, or the operator).
    Cancelled { index: usize },
}

/// Report a step's progress on the observation stream (the recorder and progress lines read
/// it; a failed step fails the summary).
pub fn progress(workbench: &Workbench, index: usize, label: &str, status: StepStatus) {
    let step = StepProgress {
        t_ms: workbench.now_ms(),
        index,
        label: label.to_owned(),
        status,
    };
    let _ = workbench.observations().send(Observation::Step(step));
}

/// Run `steps` (numbered from `first_index` in progress reports) until done, failed or
/// cancelled.
pub async fn run(
    workbench: &Workbench,
    steps: &[Step],
    first_index: usize,
    cancel: &CancellationToken,
) -> Outcome {
    // The action count the next WaitStable waits for.
    let mut last_action = workbench.state().borrow().actions;
    for (offset, step) in steps.iter().enumerate() {
        let index = first_index + offset;
        let label = step.label();
        progress(workbench, index, &label, StepStatus::Started);
        let result = tokio::select! {
            () = cancel.cancelled() => {
                progress(workbench, index, &label, StepStatus::Failed("cancelled".into()));
                return Outcome::Cancelled { index };
            }
            result = run_step(workbench, step, index, &mut last_action) => result,
        };
        match result {
            Ok(()) => progress(workbench, index, &label, StepStatus::Done),
            Err(reason) => {
                progress(workbench, index, &label, StepStatus::Failed(reason.clone()));
                return Outcome::StepFailed {
                    index,
                    label,
                    reason,
                };
            }
        }
    }
    Outcome::Completed
}

async fn run_step(
    workbench: &Workbench,
    step: &Step,
    index: usize,
    last_action: &mut usize,
) -> Result<(), String> {
    match step {
        Step::WaitStable { timeout } => workbench
            .wait_stable(*last_action, *timeout)
            .await
            .map_err(|reason| format!("not stable within {}: {reason}", Human(*timeout))),
        Step::Hold(duration) => {
            tokio::time::sleep(*duration).await;
            Ok(())
        }
        other => {
            let Some(action) = other.action() else {
                return Ok(());
            };
            let seq = workbench
                .act(action, ActionSource::Profile { step: index })
                .await?;
            *last_action = seq;
            Ok(())
        }
    }
}
