//! The headless front end: `parti-top --headless --profile P.ron` and `parti-top replay R.ron
//! --headless`. A [`Session`] runs the scenario; this module checks what can be checked before
//! it starts, shows progress on stderr (one live line on a terminal, plain lines otherwise),
//! prints the summary (a table, or JSON with `--json`) and returns the exit code's error:
//! `Failed` (1) for a failed threshold, invariant, step or baseline comparison, `CouldNotRun`
//! (2) for everything that kept the run from happening.

pub mod progress;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tracing::info;

use crate::error::AppError;
use crate::metrics::{Live, RunSource};
use crate::preflight::{self, Existing};
use crate::profile::{self, Profile, Tolerances};
use crate::record::format::{Recording, RunMode};
use crate::report::{baseline, render, summary};
use crate::scenario::Outcome;
use crate::session::{Ended, Finished, Scenario, Session, SessionOptions};
use crate::signals::Signals;
use crate::workbench::WorkbenchOptions;

pub use crate::session::{default_recording_path, header};

/// Everything the headless command line gives.
#[derive(Clone, Debug, Default)]
pub struct HeadlessOptions {
    pub profile: PathBuf,
    pub record: Option<PathBuf>,
    pub json: bool,
    pub junit: Option<PathBuf>,
    /// `--html OUT.html`: the run as a self-contained HTML report.
    pub html: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub force: bool,
    /// How to reach (or start) nats-server.
    pub workbench: WorkbenchOptions,
    /// The command line's cluster flags, applied to the profile.
    pub overrides: profile::Overrides,
    /// `--repeats N`: overrides the profile's `repeats`.
    pub repeats: Option<u32>,
    /// `--metrics ADDR`: serve the live figures for Prometheus (docs/metrics.md).
    pub metrics: Option<std::net::SocketAddr>,
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
    pub scenario: Scenario,
    pub mode: RunMode,
    /// The recording the run is compared with, and how.
    pub baseline: Option<(Recording, Tolerances)>,
}

/// Everything that can be checked before a headless profile run, checked before anything
/// starts (DESIGN.md §6): the profile, the output paths, the baseline and the process limits.
pub fn prepare(options: &HeadlessOptions) -> Result<Prepared, AppError> {
    let profile = profile::load(&options.profile)
        .and_then(|loaded| profile::overrides::apply(loaded, &options.overrides, &options.profile))
        .map_err(AppError::could_not_run)?;
    let profile = Profile {
        repeats: options.repeats.unwrap_or(profile.repeats),
        ..profile
    };
    check_outputs(options)?;
    let tolerances = profile
        .baseline
        .as_ref()
        .map(|b| b.tolerances.clone())
        .unwrap_or_default();
    let baseline = resolve_baseline(options.baseline.as_deref(), &profile, &options.profile)
        .map(|path| preflight::baseline(&path, &profile, options.force))
        .transpose()
        .map_err(AppError::could_not_run)?
        .map(|recording| (recording, tolerances));
    preflight::check_capacity(&profile, options.workbench.server_url.as_deref())
        .map_err(AppError::could_not_run)?;
    Ok(Prepared {
        profile,
        scenario: Scenario::Profile,
        mode: RunMode::Headless,
        baseline,
    })
}

/// The output paths of a run: the recording, the JUnit report.
pub fn check_outputs(options: &HeadlessOptions) -> Result<(), AppError> {
    preflight::recording_output(options.record.as_deref(), options.force)
        .map_err(AppError::could_not_run)?;
    if let Some(junit) = &options.junit {
        // A report CI writes on every run: replacing it is expected.
        preflight::output_file("--junit", junit, Existing::Replace)
            .map_err(AppError::could_not_run)?;
    }
    if let Some(html) = &options.html {
        preflight::output_file("--html", html, Existing::Replace)
            .map_err(AppError::could_not_run)?;
    }
    Ok(())
}

/// Run a profile headless.
pub async fn run(options: HeadlessOptions) -> Result<(), AppError> {
    let prepared = prepare(&options)?;
    run_prepared(&options, prepared).await
}

/// Run a prepared scenario headless to its verdict.
pub async fn run_prepared(options: &HeadlessOptions, prepared: Prepared) -> Result<(), AppError> {
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;
    let metrics = Live::start(options.metrics, RunSource::mode_name(&prepared.mode)).await?;
    let session_options = SessionOptions {
        mode: prepared.mode.clone(),
        record: options.record.clone(),
        workbench: options.workbench.clone(),
    };
    let start = Session::start(
        prepared.profile.clone(),
        prepared.scenario.clone(),
        session_options,
    );
    let mut session = tokio::select! {
        started = start => started?,
        signal = signals.next() => return Err(AppError::could_not_run(format!("{signal} during start-up"))),
    };
    let workbench = session.workbench().clone();
    if let Some(metrics) = &metrics {
        let ages = workbench.clone();
        metrics.follow_run(RunSource::new(
            &prepared.mode,
            workbench.run_id(),
            workbench.state(),
            workbench.subscribe(),
            move || ages.heartbeat_ages(),
        ));
    }
    for line in workbench.connect_hints() {
        eprintln!("{line}");
    }
    let printer = progress::spawn(
        workbench.subscribe(),
        workbench.state(),
        prepared.profile.total_steps(),
        std::io::stderr().is_terminal(),
    );
    info!(
        "running {} (run {}), recording to {}",
        prepared.profile.name,
        workbench.run_id(),
        session.recording_path().display()
    );
    let interrupted = tokio::select! {
        _ = session.scenario_ended() => None,
        signal = signals.next() => Some(signal),
    };
    let finished = session.finish().await;
    printer.finish().await;
    verdict(options, &prepared, finished?, interrupted)
}

/// Print the summary (and the comparison with the baseline), write the outputs, and turn the
/// run into the exit code's error.
pub fn verdict(
    options: &HeadlessOptions,
    prepared: &Prepared,
    finished: Finished,
    interrupted: Option<&'static str>,
) -> Result<(), AppError> {
    let Finished {
        path,
        recording,
        summary,
        saved,
        ended,
    } = finished;
    let comparison = match &prepared.baseline {
        Some((baseline, tolerances)) => Some(
            baseline::compare(&recording, baseline, tolerances, options.force)
                .map_err(AppError::CouldNotRun)?,
        ),
        None => None,
    };
    // The summary first: an output that cannot be written must not take it with it.
    let table = render::table(&summary, comparison.as_ref());
    let saved_path = saved.is_ok().then_some(path.as_path());
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
    match &saved {
        Ok(()) => eprintln!("parti-top: recording written to {}", path.display()),
        Err(err) => not_written.push(format!("the recording was not written: {err}")),
    }
    if let Some(junit) = &options.junit
        && let Err(err) = std::fs::write(
            junit,
            render::junit(&summary, &prepared.profile, comparison.as_ref()),
        )
    {
        not_written.push(format!("cannot write {}: {err}", junit.display()));
    }
    if let Some(html) = &options.html {
        let page = crate::report::html::render(&recording, comparison.as_ref());
        match std::fs::write(html, page) {
            Ok(()) => eprintln!("parti-top: HTML report written to {}", html.display()),
            Err(err) => not_written.push(format!("cannot write {}: {err}", html.display())),
        }
    }
    if let Some(signal) = interrupted {
        let kept = if saved.is_ok() {
            "partial recording kept"
        } else {
            "the recording could not be written"
        };
        return Err(AppError::could_not_run(format!(
            "interrupted by {signal}; {kept}"
        )));
    }
    let outcome = match ended {
        Ended::Outcome(outcome) => outcome,
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
    if let Outcome::Cancelled { .. } = outcome {
        // Only the dashboard cancels without a signal: the operator quit before the end.
        eprintln!("parti-top: the dashboard closed before the scenario ended; judged on what ran");
    }
    match (&outcome, summary.verdict, regressed) {
        (Outcome::Completed | Outcome::Cancelled { .. }, summary::Verdict::Pass, false) => Ok(()),
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
        (_, _, true) => Err(AppError::Failed(comparison.as_ref().map_or_else(
            || "regressed against the baseline".to_owned(),
            regressed_names,
        ))),
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

/// "regressed against the baseline: <metrics>".
fn regressed_names(comparison: &baseline::Comparison) -> String {
    let names: Vec<&str> = comparison
        .metrics
        .iter()
        .filter(|m| m.verdict == baseline::MetricVerdict::Regressed)
        .map(|m| m.metric.as_str())
        .collect();
    format!("regressed against the baseline: {}", names.join(", "))
}
