//! A [`Session`] owns one run for every front end (the headless runner, the dashboard, a
//! replay): the workbench, the recorder and its gate, the recording's path and header, the
//! scenario (a profile's steps with their repeats, or a recorded timeline), and the one
//! shutdown order, ending in [`Session::finish`]. Front ends only show what happens and act
//! through [`Session::workbench`].

pub mod replay;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::action::ActionSource;
use crate::error::AppError;
use crate::observation::{Observation, StepStatus};
use crate::preflight;
use crate::profile::Profile;
use crate::record::RecordError;
use crate::record::format::{Header, Recording, RunMode};
use crate::record::recorder::Recorder;
use crate::report::summary::{self, Summary};
use crate::scenario::{self, Outcome};
use crate::workbench::{OBSERVATION_BUFFER, Workbench, WorkbenchOptions};

/// How often the recording is saved while the run goes on.
const AUTOSAVE: Duration = Duration::from_secs(2);

/// How long emptying the cluster between two repeats may take.
const EMPTY_TIMEOUT: Duration = Duration::from_secs(60);

/// What a session runs.
#[derive(Clone, Debug)]
pub enum Scenario {
    /// The profile's steps, `profile.repeats` times; each repeat after the first starts from an
    /// empty cluster.
    Profile,
    /// A recorded timeline, re-run at its recorded offsets ([`replay`]).
    Replay(replay::Timeline),
}

/// What a session needs besides its profile and scenario.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub mode: RunMode,
    /// Where to write the recording; default under [`preflight::RUNS_DIR`].
    pub record: Option<PathBuf>,
    pub workbench: WorkbenchOptions,
}

/// How the scenario ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    Outcome(Outcome),
    /// nats-server died without a step asking for it; the scenario was cancelled.
    NatsLost(String),
}

/// Where a run is recorded when no path is given.
pub fn default_recording_path(profile: &Profile, run_id: &str) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    PathBuf::from(preflight::RUNS_DIR).join(format!("{}-{stamp}-{run_id}.ron", profile.name))
}

/// The recording header of a run on `workbench`.
pub fn header(workbench: &Workbench, profile: &Profile, mode: RunMode) -> Header {
    let mut header = Header::new(mode, profile.clone(), workbench.run_id());
    header.nats_server_version = workbench.nats_version().map(str::to_owned);
    header
}

/// One run, from start to [`Session::finish`].
pub struct Session {
    workbench: Arc<Workbench>,
    profile: Profile,
    path: PathBuf,
    recorder: Recorder,
    recording: watch::Sender<bool>,
    cancel: CancellationToken,
    scenario: Option<JoinHandle<Ended>>,
    ended: Option<Ended>,
}

/// A finished session: the recording with its summary, whether it was written, how the
/// scenario ended.
pub struct Finished {
    pub path: PathBuf,
    pub recording: Recording,
    pub summary: Summary,
    pub saved: Result<(), RecordError>,
    pub ended: Ended,
}

impl Session {
    /// Start the cluster, the recorder and the scenario.
    pub async fn start(
        profile: Profile,
        scenario: Scenario,
        options: SessionOptions,
    ) -> Result<Session, AppError> {
        let workbench = Arc::new(Workbench::start(&profile, options.workbench).await?);
        let path = options
            .record
            .unwrap_or_else(|| default_recording_path(&profile, workbench.run_id()));
        let (record_tx, record_rx) = broadcast::channel(OBSERVATION_BUFFER);
        let (recording, gate_open) = watch::channel(true);
        recording_gate(workbench.subscribe(), record_tx, gate_open);
        let recorder = Recorder::spawn(
            header(&workbench, &profile, options.mode),
            path.clone(),
            record_rx,
            AUTOSAVE,
        );
        let cancel = CancellationToken::new();
        let task = {
            let (workbench, profile, cancel) = (workbench.clone(), profile.clone(), cancel.clone());
            tokio::spawn(async move { run_scenario(&workbench, &profile, scenario, &cancel).await })
        };
        Ok(Session {
            workbench,
            profile,
            path,
            recorder,
            recording,
            cancel,
            scenario: Some(task),
            ended: None,
        })
    }

    pub fn workbench(&self) -> &Arc<Workbench> {
        &self.workbench
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The file the recording goes to.
    pub fn recording_path(&self) -> &Path {
        &self.path
    }

    /// Pause or resume recording: while paused, samples and cluster events are held back
    /// (actions, steps, findings and measurements are always kept, so the timeline stays
    /// replayable).
    pub fn set_recording(&self, on: bool) {
        let _ = self.recording.send(on);
    }

    /// Wait until the scenario has ended (cancel-safe: it can be raced against a signal).
    pub async fn scenario_ended(&mut self) -> Ended {
        if let Some(ended) = &self.ended {
            return ended.clone();
        }
        let ended = match self.scenario.as_mut() {
            Some(task) => task.await.unwrap_or_else(|err| {
                Ended::Outcome(Outcome::StepFailed {
                    index: 0,
                    label: "scenario".into(),
                    reason: format!("the scenario task failed: {err}"),
                })
            }),
            None => Ended::Outcome(Outcome::Completed),
        };
        self.scenario = None;
        self.ended = Some(ended.clone());
        ended
    }

    /// End the run in the one order: cancel the scenario and the action in flight, close the
    /// open event and stop the workers gracefully, finish the recording (with its summary),
    /// stop the hosts and nats-server.
    pub async fn finish(mut self) -> Result<Finished, AppError> {
        self.cancel.cancel();
        let ended = self.scenario_ended().await;
        // The load drains while the workers still run.
        let load = match self.workbench.load() {
            Some(run) => {
                let figures = run.finish().await;
                Some((run, figures))
            }
            None => None,
        };
        self.workbench.stop_workers().await;
        let thresholds = self.profile.thresholds.clone();
        let finished = self
            .recorder
            .finish_keeping(move |recording, dropped| {
                if let Some((run, mut figures)) = load {
                    figures.events = run.per_event(&recording.measurements);
                    recording.load = Some(figures);
                }
                summary::summarize(recording, &thresholds, dropped)
            })
            .await;
        self.workbench.shutdown().await;
        let finished = finished.map_err(AppError::could_not_run)?;
        let summary = finished
            .recording
            .summary
            .clone()
            .ok_or_else(|| AppError::could_not_run("the recording has no summary"))?;
        Ok(Finished {
            path: finished.path,
            recording: finished.recording,
            summary,
            saved: finished.saved,
            ended,
        })
    }
}

/// Forward observations to the recorder, holding back samples and cluster events while
/// recording is paused.
fn recording_gate(
    mut from: broadcast::Receiver<Observation>,
    to: broadcast::Sender<Observation>,
    recording: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            match from.recv().await {
                Ok(observation) => {
                    let keep = *recording.borrow()
                        || !matches!(
                            observation,
                            Observation::Sample(_) | Observation::Cluster(_)
                        );
                    if keep {
                        // An error only means nobody records any more.
                        let _ = to.send(observation);
                    }
                }
                // The recorder behind the gate counts what it misses; the gate itself keeps up.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// Run the scenario until done, cancelled, or the loss of nats-server.
async fn run_scenario(
    workbench: &Workbench,
    profile: &Profile,
    scenario: Scenario,
    cancel: &CancellationToken,
) -> Ended {
    let mut state = workbench.state();
    let steps = async {
        match &scenario {
            Scenario::Profile => run_repeats(workbench, profile, cancel).await,
            Scenario::Replay(timeline) => replay::run(workbench, timeline, cancel).await,
        }
    };
    tokio::pin!(steps);
    let raced = tokio::select! {
        outcome = &mut steps => Ok(outcome),
        lost = state.wait_for(|s| s.nats_lost.is_some()) => {
            Err(lost.ok().and_then(|s| s.nats_lost.clone()).unwrap_or_default())
        }
    };
    let outcome = match raced {
        Ok(outcome) => outcome,
        Err(why) => {
            tracing::error!("{why}, and no step asked for it: stopping the scenario");
            cancel.cancel();
            let _ = steps.await;
            return Ended::NatsLost(why);
        }
    };
    // A step that failed because nats-server had died before the sampler saw it is an
    // infrastructure failure too.
    if !matches!(outcome, Outcome::Completed | Outcome::Cancelled { .. })
        && let Some(lost) = workbench.nats_lost()
    {
        return Ended::NatsLost(lost);
    }
    Ended::Outcome(outcome)
}

/// The profile's steps `repeats` times; each repeat after the first starts from an empty
/// cluster (the event before it closed, every worker stopped).
async fn run_repeats(
    workbench: &Workbench,
    profile: &Profile,
    cancel: &CancellationToken,
) -> Outcome {
    let mut outcome = Outcome::Completed;
    for repeat in 0..profile.repeats {
        let first = repeat as usize * profile.steps.len();
        if repeat > 0 {
            let source = ActionSource::Profile { step: first };
            let emptied = tokio::select! {
                () = cancel.cancelled() => return Outcome::Cancelled { index: first },
                emptied = workbench.empty(source, EMPTY_TIMEOUT) => emptied,
            };
            if let Err(reason) = emptied {
                let label = format!("before repeat {}: empty the cluster", repeat + 1);
                scenario::progress(workbench, first, &label, StepStatus::Failed(reason.clone()));
                return Outcome::StepFailed {
                    index: first,
                    label,
                    reason,
                };
            }
        }
        outcome = scenario::run(workbench, &profile.steps, first, cancel).await;
        if outcome != Outcome::Completed {
            break;
        }
    }
    outcome
}
