//! The headless runner: `parti-top --headless --profile P.ron`. Runs a profile to a verdict on a
//! [`Workbench`], shows progress on stderr (one live line on a terminal, plain lines otherwise),
//! records the run, prints the summary (a table, or JSON with `--json`), and returns the exit
//! code's error: `Failed` (1) for a failed threshold, invariant, step or baseline comparison,
//! `CouldNotRun` (2) for everything that kept the run from happening.

pub mod progress;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::action::ActionSource;
use crate::error::AppError;
use crate::nats::client::ClientAuth;
use crate::observation::StepStatus;
use crate::preflight::{self, Existing};
use crate::profile::{self, Profile};
use crate::record::format::{Header, Recording, RunMode};
use crate::record::recorder::Recorder;
use crate::report::{baseline, render, summary};
use crate::scenario::{self, Outcome};
use crate::signals::Signals;
use crate::workbench::{Workbench, WorkbenchOptions};

/// Everything the headless command line gives.
#[derive(Clone, Debug, Default)]
pub struct HeadlessOptions {
    pub profile: PathBuf,
    pub record: Option<PathBuf>,
    pub json: bool,
    pub junit: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub force: bool,
    pub nats_server: Option<PathBuf>,
    pub server_url: Option<String>,
    pub auth: ClientAuth,
}

/// Where a run is recorded when `--record` is not given.
pub fn default_recording_path(profile: &Profile, run_id: &str) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    PathBuf::from(preflight::RUNS_DIR).join(format!("{}-{stamp}-{run_id}.ron", profile.name))
}

/// The recording header of a run.
pub fn header(workbench: &Workbench, profile: &Profile, mode: RunMode) -> Header {
    let mut header = Header::new(mode, profile.clone(), workbench.run_id());
    header.nats_server_version = workbench.nats_version().map(str::to_owned);
    header
}

fn resolve_baseline(
    option: Option<&Path>,
    profile: &Profile,
    profile_path: &Path,
) -> Option<PathBuf> {
    option.map(Path::to_path_buf).or_else(|| {
        profile.baseline.as_ref().map(|spec| {
            let dir = profile_path.parent().unwrap_or_else(|| Path::new("."));
            dir.join(&spec.recording)
        })
    })
}

/// What [`prepare`] checked and loaded before the run.
pub struct Prepared {
    pub profile: Profile,
    pub baseline: Option<Recording>,
}

/// Everything that can be checked before a headless run, checked before anything starts
/// (DESIGN.md §6): the profile, the output paths, the baseline and the process limits.
pub fn prepare(options: &HeadlessOptions) -> Result<Prepared, AppError> {
    let profile = profile::load(&options.profile).map_err(AppError::could_not_run)?;
    preflight::recording_output(options.record.as_deref(), options.force)
        .map_err(AppError::could_not_run)?;
    if let Some(junit) = &options.junit {
        // A report CI writes on every run: replacing it is expected.
        preflight::output_file("--junit", junit, Existing::Replace)
            .map_err(AppError::could_not_run)?;
    }
    let baseline = resolve_baseline(options.baseline.as_deref(), &profile, &options.profile)
        .map(|path| preflight::baseline(&path, &profile, options.force))
        .transpose()
        .map_err(AppError::could_not_run)?;
    preflight::check_capacity(&profile, options.server_url.as_deref())
        .map_err(AppError::could_not_run)?;
    Ok(Prepared { profile, baseline })
}

/// How the steps ended.
enum Ended {
    Outcome(Outcome),
    /// A signal arrived; the scenario was cancelled.
    Interrupted(&'static str),
    /// nats-server died without a step asking for it; the scenario was cancelled.
    NatsLost(String),
}

/// Run the profile's steps `repeats` times on the workbench until done, a signal, or the loss
/// of nats-server.
async fn run_steps(workbench: &Workbench, profile: &Profile, signals: &mut Signals) -> Ended {
    let cancel = CancellationToken::new();
    let mut state = workbench.state();
    let mut outcome = Outcome::Completed;
    for repeat in 0..profile.repeats {
        let first = repeat as usize * profile.steps.len();
        let steps = async {
            if repeat > 0 {
                // Each repeat starts from an empty cluster; if that fails, the step that could
                // not start fails with it (and the summary says so).
                let source = ActionSource::Profile { step: first };
                if let Err(reason) = workbench
                    .empty(source, std::time::Duration::from_secs(60))
                    .await
                {
                    let label = format!("before repeat {}: empty the cluster", repeat + 1);
                    let failed = StepStatus::Failed(reason.clone());
                    scenario::progress(workbench, first, &label, failed);
                    return Outcome::StepFailed {
                        index: first,
                        label,
                        reason,
                    };
                }
            }
            scenario::run(workbench, &profile.steps, first, &cancel).await
        };
        tokio::pin!(steps);
        outcome = tokio::select! {
            outcome = &mut steps => outcome,
            signal = signals.next() => {
                cancel.cancel();
                let _ = steps.await;
                return Ended::Interrupted(signal);
            }
            lost = state.wait_for(|s| s.nats_lost.is_some()) => {
                let why = lost.ok().and_then(|s| s.nats_lost.clone()).unwrap_or_default();
                cancel.cancel();
                let _ = steps.await;
                return Ended::NatsLost(why);
            }
        };
        if outcome != Outcome::Completed {
            break;
        }
    }
    // A step that failed because nats-server had died before the sampler saw it is an
    // infrastructure failure too.
    if outcome != Outcome::Completed
        && let Some(lost) = workbench.nats_lost()
    {
        return Ended::NatsLost(lost);
    }
    Ended::Outcome(outcome)
}

/// Run a profile headless.
pub async fn run(options: HeadlessOptions) -> Result<(), AppError> {
    let Prepared { profile, baseline } = prepare(&options)?;
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;
    let workbench_options = WorkbenchOptions {
        nats_server: options.nats_server.clone(),
        auth: options.auth.clone(),
        server_url: options.server_url.clone(),
        host_env: Vec::new(),
    };
    let workbench = tokio::select! {
        started = Workbench::start(&profile, workbench_options) => started?,
        signal = signals.next() => return Err(AppError::could_not_run(format!("{signal} during start-up"))),
    };
    let path = options
        .record
        .clone()
        .unwrap_or_else(|| default_recording_path(&profile, workbench.run_id()));
    let recorder = Recorder::spawn(
        header(&workbench, &profile, RunMode::Headless),
        path.clone(),
        workbench.subscribe(),
        std::time::Duration::from_secs(2),
    );
    for line in workbench.connect_hints() {
        eprintln!("{line}");
    }
    let live = std::io::stderr().is_terminal();
    let printer = progress::spawn(
        workbench.subscribe(),
        workbench.state(),
        profile.steps.len() * profile.repeats as usize,
        live,
    );
    info!(
        "running profile {} (run {}), recording to {}",
        profile.name,
        workbench.run_id(),
        path.display()
    );

    let ended = run_steps(&workbench, &profile, &mut signals).await;
    if let Ended::NatsLost(why) = &ended {
        error!("{why}, and no step asked for it: stopping the run");
    }
    workbench.shutdown().await;
    printer.finish().await;
    let thresholds = profile.thresholds.clone();
    let finished = recorder
        .finish_keeping(move |recording, dropped| {
            summary::summarize(recording, &thresholds, dropped)
        })
        .await
        .map_err(AppError::could_not_run)?;
    let recording = &finished.recording;
    let Some(summary) = recording.summary.clone() else {
        return Err(AppError::could_not_run("the recording has no summary"));
    };
    let comparison = match &baseline {
        Some(baseline) => {
            let tolerances = profile
                .baseline
                .as_ref()
                .map(|b| b.tolerances.clone())
                .unwrap_or_default();
            Some(
                baseline::compare(recording, baseline, &tolerances, options.force)
                    .map_err(AppError::CouldNotRun)?,
            )
        }
        None => None,
    };
    // The summary first: an output that cannot be written must not take it with it.
    let table = render::table(&summary, comparison.as_ref());
    let saved_path = finished.saved.is_ok().then_some(path.as_path());
    if options.json {
        eprintln!("{table}");
        println!(
            "{}",
            render::json(&summary, comparison.as_ref(), saved_path)
        );
    } else {
        println!("{table}");
    }
    let mut not_written = Vec::new();
    match &finished.saved {
        Ok(()) => eprintln!("parti-top: recording written to {}", path.display()),
        Err(err) => not_written.push(format!("the recording was not written: {err}")),
    }
    if let Some(junit) = &options.junit
        && let Err(err) = std::fs::write(
            junit,
            render::junit(&summary, &profile, comparison.as_ref()),
        )
    {
        not_written.push(format!("cannot write {}: {err}", junit.display()));
    }
    let outcome = match ended {
        Ended::Outcome(outcome) => outcome,
        Ended::Interrupted(signal) => {
            let kept = if finished.saved.is_ok() {
                "partial recording kept"
            } else {
                "the recording could not be written"
            };
            return Err(AppError::could_not_run(format!(
                "interrupted by {signal}; {kept}"
            )));
        }
        Ended::NatsLost(why) => {
            return Err(AppError::could_not_run(format!(
                "infrastructure failure: {why}, and no step asked for it; the run could not \
                 complete"
            )));
        }
    };
    if !not_written.is_empty() {
        return Err(AppError::could_not_run(not_written.join("; ")));
    }
    let regressed = comparison
        .as_ref()
        .is_some_and(baseline::Comparison::regressed);
    match (&outcome, summary.verdict, regressed) {
        (Outcome::Completed, summary::Verdict::Pass, false) => Ok(()),
        (
            Outcome::StepFailed {
                index,
                label,
                reason,
            },
            _,
            _,
        ) => Err(AppError::Failed(format!(
            "step {} ({label}) failed: {reason}",
            index + 1
        ))),
        (_, _, true) => Err(AppError::Failed("regressed against the baseline".into())),
        _ => Err(AppError::Failed(format!(
            "verdict: fail ({})",
            summary
                .failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}
