//! Replay: a recording's timeline as a scenario. [`timeline`] (pure) turns a recording into two
//! streams of cues: the profile's (its actions, `WaitStable` waits and holds, in order, with
//! their step numbers) and the operator's (every key press that acted). [`run`] carries both
//! out at once on a workbench, each cue at its recorded offset from the start of the run, or
//! as soon as the one before it is done when that is later (a `WaitStable` waits as it did).
//! Replayed actions keep their recorded source, so a replay of a replay is the same timeline.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::action::{Action, ActionSource};
use crate::observation::StepStatus;
use crate::parti::duration::Human;
use crate::profile::Step;
use crate::record::format::{Recording, TimelineEntry};
use crate::scenario::{self, Outcome};
use crate::workbench::Workbench;

/// A recording's timeline, ready to re-run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// The profile's steps, in order.
    pub profile: Vec<Cue>,
    /// The operator's actions, in order.
    pub operator: Vec<Cue>,
    /// The source holds no summary (an autosave of a run that did not end): its timeline may
    /// stop short of what the run did.
    pub incomplete: bool,
    /// When the recorded run ended (its summary's duration, or the last thing an incomplete
    /// recording holds): the replay runs at least as long, so the last event is measured as
    /// long as it was.
    pub end_ms: u64,
}

impl Timeline {
    /// Every action the replay will carry out.
    pub fn actions(&self) -> usize {
        self.profile
            .iter()
            .chain(&self.operator)
            .filter(|cue| matches!(cue.what, What::Act { .. }))
            .count()
    }
}

/// One thing to do at (or after) a moment of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Cue {
    /// Recorded offset from the start of the run.
    pub t_ms: u64,
    pub what: What,
}

#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// Carry out an action; `step` when it was a profile step (its progress is reported).
    Act {
        action: Action,
        source: ActionSource,
        step: Option<(usize, String)>,
    },
    /// A `WaitStable` step: wait for the last action of the stream to settle.
    WaitStable {
        index: usize,
        label: String,
        timeout: Duration,
    },
    /// A `Hold` step: let time pass until its recorded end.
    Hold {
        index: usize,
        label: String,
        until_ms: u64,
    },
}

/// The cues of a recording (pure).
pub fn timeline(source: &Recording) -> Timeline {
    let profile = &source.header.profile;
    let step_at = |index: usize| profile.step_at(index);
    let mut out = Timeline {
        incomplete: source.summary.is_none(),
        end_ms: source
            .summary
            .as_ref()
            .map_or_else(|| source.duration_ms(), |summary| summary.duration_ms),
        ..Timeline::default()
    };
    for (position, entry) in source.timeline.iter().enumerate() {
        match entry {
            TimelineEntry::Action(record) => {
                if record.error.is_some() || matches!(record.action, Action::Observed(_)) {
                    continue;
                }
                let cue = |step| Cue {
                    t_ms: record.t_ms,
                    what: What::Act {
                        action: record.action.clone(),
                        source: record.source.clone(),
                        step,
                    },
                };
                match &record.source {
                    ActionSource::Profile { step } => {
                        // A step's own action reports the step's progress; another action
                        // under its number (emptying the cluster before a repeat) does not.
                        let own = step_at(*step)
                            .and_then(Step::action)
                            .is_some_and(|action| action == record.action);
                        let label = step_at(*step).map(Step::label).unwrap_or_default();
                        out.profile.push(cue(own.then_some((*step, label))));
                    }
                    ActionSource::Operator | ActionSource::Replay => out.operator.push(cue(None)),
                }
            }
            TimelineEntry::Step(progress) if progress.status == StepStatus::Started => {
                let index = progress.index;
                match step_at(index) {
                    Some(Step::WaitStable { timeout }) => out.profile.push(Cue {
                        t_ms: progress.t_ms,
                        what: What::WaitStable {
                            index,
                            label: progress.label.clone(),
                            timeout: *timeout,
                        },
                    }),
                    Some(Step::Hold(duration)) => {
                        let ended = source.timeline[position + 1..]
                            .iter()
                            .find_map(|e| match e {
                                TimelineEntry::Step(p)
                                    if p.index == index && p.status != StepStatus::Started =>
                                {
                                    Some(p.t_ms)
                                }
                                _ => None,
                            });
                        let planned = progress.t_ms.saturating_add(millis(*duration));
                        out.profile.push(Cue {
                            t_ms: progress.t_ms,
                            what: What::Hold {
                                index,
                                label: progress.label.clone(),
                                until_ms: ended.unwrap_or(planned),
                            },
                        });
                    }
                    _ => {}
                }
            }
            TimelineEntry::Step(_) => {}
        }
    }
    out
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Carry out both streams of `timeline` at once. The outcome is the profile stream's (a
/// replayed `WaitStable` that times out fails the replay as it would have failed the run); an
/// operator's action that fails is recorded, as it was in the dashboard.
pub async fn run(
    workbench: &Workbench,
    timeline: &Timeline,
    cancel: &CancellationToken,
) -> Outcome {
    let operator = async {
        for cue in &timeline.operator {
            if !wait_until(workbench, cue.t_ms, cancel).await {
                return;
            }
            if let What::Act { action, source, .. } = &cue.what {
                let _ = workbench.act(action.clone(), source.clone()).await;
            }
        }
    };
    let profile = run_profile(workbench, &timeline.profile, cancel);
    let (outcome, ()) = tokio::join!(profile, operator);
    if outcome == Outcome::Completed && !wait_until(workbench, timeline.end_ms, cancel).await {
        return Outcome::Cancelled {
            index: timeline.profile.len(),
        };
    }
    outcome
}

/// Sleep until the run's clock reads `t_ms`; false when cancelled first.
async fn wait_until(workbench: &Workbench, t_ms: u64, cancel: &CancellationToken) -> bool {
    let delay = Duration::from_millis(t_ms.saturating_sub(workbench.now_ms()));
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

async fn run_profile(workbench: &Workbench, cues: &[Cue], cancel: &CancellationToken) -> Outcome {
    let mut last_action = workbench.state().borrow().actions;
    for cue in cues {
        let index = match &cue.what {
            What::Act { step, .. } => step.as_ref().map_or(0, |(index, _)| *index),
            What::WaitStable { index, .. } | What::Hold { index, .. } => *index,
        };
        if !wait_until(workbench, cue.t_ms, cancel).await {
            return Outcome::Cancelled { index };
        }
        let step = match &cue.what {
            What::Act { step, .. } => step.clone(),
            What::WaitStable { index, label, .. } | What::Hold { index, label, .. } => {
                Some((*index, label.clone()))
            }
        };
        if let Some((index, label)) = &step {
            scenario::progress(workbench, *index, label, StepStatus::Started);
        }
        let carried_out = tokio::select! {
            () = cancel.cancelled() => {
                if let Some((index, label)) = &step {
                    scenario::progress(workbench, *index, label, StepStatus::Failed("cancelled".into()));
                }
                return Outcome::Cancelled { index };
            }
            result = carry_out(workbench, &cue.what, &mut last_action) => result,
        };
        let Some((index, label)) = step else {
            continue;
        };
        match carried_out {
            Ok(()) => scenario::progress(workbench, index, &label, StepStatus::Done),
            Err(reason) => {
                scenario::progress(workbench, index, &label, StepStatus::Failed(reason.clone()));
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

async fn carry_out(
    workbench: &Workbench,
    what: &What,
    last_action: &mut usize,
) -> Result<(), String> {
    match what {
        What::Act { action, source, .. } => {
            *last_action = workbench.act(action.clone(), source.clone()).await?;
            Ok(())
        }
        What::WaitStable { timeout, .. } => workbench
            .wait_stable(*last_action, *timeout)
            .await
            .map_err(|reason| format!("not stable within {}: {reason}", Human(*timeout))),
        What::Hold { until_ms, .. } => {
            let delay = Duration::from_millis(until_ms.saturating_sub(workbench.now_ms()));
            tokio::time::sleep(delay).await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::WorkerTarget;
    use crate::observation::{ActionRecord, StepProgress};
    use crate::record::format::{Header, RunMode};

    fn recording() -> Recording {
        let text = "(name: \"t\", cluster: (partitions: Count(4)), \
                    steps: [ScaleTo(3), WaitStable(timeout: \"30s\"), Hold(\"2s\")])";
        let profile = crate::profile::parse(text, std::path::Path::new("t.ron")).expect("profile");
        let mut recording = Recording::new(Header::new(RunMode::Interactive, profile, "r"));
        let step = |t_ms, index, label: &str, status| {
            TimelineEntry::Step(StepProgress {
                t_ms,
                index,
                label: label.into(),
                status,
            })
        };
        let action = |t_ms, action, source, error: Option<&str>| {
            TimelineEntry::Action(ActionRecord {
                t_ms,
                action,
                source,
                error: error.map(str::to_owned),
            })
        };
        recording.timeline = vec![
            step(10, 0, "scale→3", StepStatus::Started),
            action(
                11,
                Action::ScaleTo(3),
                ActionSource::Profile { step: 0 },
                None,
            ),
            step(12, 0, "scale→3", StepStatus::Done),
            step(12, 1, "wait stable", StepStatus::Started),
            action(500, Action::AddWorkers(1), ActionSource::Operator, None),
            step(1_300, 1, "wait stable", StepStatus::Done),
            step(1_300, 2, "hold 2s", StepStatus::Started),
            action(
                1_400,
                Action::KillWorker(WorkerTarget::Leader),
                ActionSource::Operator,
                Some("no leader in KV right now"),
            ),
            action(
                2_000,
                Action::Mark("m".into()),
                ActionSource::Operator,
                None,
            ),
            step(3_310, 2, "hold 2s", StepStatus::Done),
        ];
        recording
    }

    #[test]
    fn the_profile_and_the_operator_each_get_their_stream_in_order() {
        let timeline = timeline(&recording());
        assert_eq!(
            timeline.profile,
            vec![
                Cue {
                    t_ms: 11,
                    what: What::Act {
                        action: Action::ScaleTo(3),
                        source: ActionSource::Profile { step: 0 },
                        step: Some((0, "scale→3".into())),
                    },
                },
                Cue {
                    t_ms: 12,
                    what: What::WaitStable {
                        index: 1,
                        label: "wait stable".into(),
                        timeout: Duration::from_secs(30),
                    },
                },
                Cue {
                    t_ms: 1_300,
                    what: What::Hold {
                        index: 2,
                        label: "hold 2s".into(),
                        until_ms: 3_310,
                    },
                },
            ]
        );
        // The failed kill is left out: it changed nothing, and a replay that fails it again
        // records that failure itself.
        let operator: Vec<(u64, Action)> = timeline
            .operator
            .iter()
            .map(|cue| match &cue.what {
                What::Act { action, .. } => (cue.t_ms, action.clone()),
                other => panic!("operator cues are actions: {other:?}"),
            })
            .collect();
        assert_eq!(
            operator,
            vec![
                (500, Action::AddWorkers(1)),
                (2_000, Action::Mark("m".into()))
            ]
        );
        assert_eq!(timeline.actions(), 3);
    }

    #[test]
    fn an_autosave_without_summary_is_incomplete_and_ends_at_its_last_entry() {
        let source = recording();
        let timeline = timeline(&source);
        assert!(timeline.incomplete);
        assert_eq!(timeline.end_ms, 3_310);
        let mut ended = source;
        ended.summary = Some(crate::report::summary::summarize(
            &ended,
            &Default::default(),
            0,
        ));
        let complete = super::timeline(&ended);
        assert!(!complete.incomplete);
        assert_eq!(
            complete.end_ms,
            ended.summary.as_ref().map(|s| s.duration_ms).unwrap_or(0)
        );
    }

    #[test]
    fn an_action_under_a_step_number_that_is_not_the_step_reports_no_progress() {
        let mut source = recording();
        // Emptying the cluster before a second repeat runs under the repeat's first step.
        source.timeline.push(TimelineEntry::Action(ActionRecord {
            t_ms: 4_000,
            action: Action::ScaleTo(0),
            source: ActionSource::Profile { step: 3 },
            error: None,
        }));
        let timeline = timeline(&source);
        let last = timeline.profile.last().expect("cue");
        assert_eq!(
            last.what,
            What::Act {
                action: Action::ScaleTo(0),
                source: ActionSource::Profile { step: 3 },
                step: None,
            }
        );
    }
}
