//! The headless runner: `parti-top --headless --profile P.ron`. Runs a profile to a verdict on a
//! [`Workbench`], shows progress on stderr (one live line on a terminal, plain lines otherwise),
//! records the run, prints the summary (a table, or JSON with `--json`), and returns the exit
//! code's error: `Failed` (1) for a failed threshold, invariant, step or baseline comparison,
//! `CouldNotRun` (2) for everything that kept the run from happening.

pub mod progress;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::error::AppError;
use crate::nats::client::ClientAuth;
use crate::profile::{self, Profile};
use crate::record::format::{Header, RunMode};
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
    PathBuf::from("recordings")
        .join("runs")
        .join(format!("{}-{stamp}-{run_id}.ron", profile.name))
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

/// Run a profile headless.
pub async fn run(options: HeadlessOptions) -> Result<(), AppError> {
    let profile = profile::load(&options.profile).map_err(AppError::could_not_run)?;
    let baseline_path = resolve_baseline(options.baseline.as_deref(), &profile, &options.profile);
    let baseline = match &baseline_path {
        Some(path) => Some(crate::record::io::load(path).map_err(AppError::could_not_run)?),
        None => None,
    };
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

    let cancel = CancellationToken::new();
    let mut outcome = Outcome::Completed;
    let mut interrupted = None;
    for repeat in 0..profile.repeats {
        if repeat > 0 {
            // Each repeat starts from an empty cluster.
            let reset = [
                profile::Step::ScaleTo(0),
                profile::Step::WaitStable {
                    timeout: std::time::Duration::from_secs(60),
                },
            ];
            let _ = scenario::run(&workbench, &reset, usize::MAX / 2, &cancel).await;
        }
        let first = repeat as usize * profile.steps.len();
        let steps = scenario::run(&workbench, &profile.steps, first, &cancel);
        tokio::pin!(steps);
        outcome = tokio::select! {
            outcome = &mut steps => outcome,
            signal = signals.next() => {
                interrupted = Some(signal);
                cancel.cancel();
                steps.await
            }
        };
        if outcome != Outcome::Completed {
            break;
        }
    }
    workbench.shutdown().await;
    printer.finish().await;
    let thresholds = profile.thresholds.clone();
    let (path, recording) = recorder
        .finish(move |recording, dropped| summary::summarize(recording, &thresholds, dropped))
        .await
        .map_err(AppError::could_not_run)?;
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
                baseline::compare(&recording, baseline, &tolerances, options.force)
                    .map_err(AppError::CouldNotRun)?,
            )
        }
        None => None,
    };
    if let Some(junit) = &options.junit {
        std::fs::write(junit, render::junit(&summary, &profile.name)).map_err(|err| {
            AppError::could_not_run(format!("cannot write {}: {err}", junit.display()))
        })?;
    }
    let table = render::table(&summary, comparison.as_ref());
    if options.json {
        eprintln!("{table}");
        println!(
            "{}",
            render::json(&summary, comparison.as_ref(), Some(&path))
        );
    } else {
        println!("{table}");
    }
    eprintln!("parti-top: recording written to {}", path.display());
    if let Some(signal) = interrupted {
        return Err(AppError::could_not_run(format!(
            "interrupted by {signal}; partial recording kept"
        )));
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
