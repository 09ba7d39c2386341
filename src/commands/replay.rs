//! `parti-top replay R.ron [--headless]`: re-run a recording's timeline on its recorded setup
//! and judge the new run against the recording as its baseline. Headless, the verdict is the
//! exit code; in the dashboard the operator watches the replay (and may act), and the verdict
//! is printed when the dashboard closes.

use std::path::Path;

use crate::cli::ReplayArgs;
use crate::error::AppError;
use crate::headless::{self, HeadlessOptions, Prepared};
use crate::preflight;
use crate::record::format::RunMode;
use crate::session::{Scenario, replay};
use crate::tui::run::TuiOptions;

/// Load the source and check everything that can be checked before the replay starts.
pub fn prepare(source_path: &Path, options: &HeadlessOptions) -> Result<Prepared, AppError> {
    let source = crate::record::load(source_path).map_err(AppError::could_not_run)?;
    let profile = source.header.profile.clone();
    headless::check_outputs(options)?;
    preflight::check_capacity(&profile, options.workbench.server_url.as_deref())
        .map_err(AppError::could_not_run)?;
    let timeline = replay::timeline(&source);
    eprintln!(
        "parti-top: replaying {} ({} of profile {}, {})",
        source_path.display(),
        crate::text::plural(timeline.actions() as u64, "action"),
        profile.name,
        match &source.header.mode {
            RunMode::Headless => "a headless run".to_owned(),
            RunMode::Interactive => "an interactive session".to_owned(),
            RunMode::Replay { source } => format!("a replay of {source}"),
        }
    );
    let baseline = if timeline.incomplete {
        eprintln!(
            "parti-top: {} is incomplete (no summary: an autosave of a run that did not end); \
             replaying what it holds, with no comparison",
            source_path.display()
        );
        None
    } else {
        if let Some(refused) = crate::report::baseline::refusal(&profile, &source, options.force) {
            return Err(AppError::could_not_run(format!(
                "{}: {refused}",
                source_path.display()
            )));
        }
        let tolerances = profile
            .baseline
            .as_ref()
            .map(|b| b.tolerances.clone())
            .unwrap_or_default();
        Some((source, tolerances))
    };
    Ok(Prepared {
        profile,
        scenario: Scenario::Replay(timeline),
        mode: RunMode::Replay {
            source: source_path.display().to_string(),
        },
        baseline,
    })
}

pub async fn run(args: ReplayArgs) -> Result<(), AppError> {
    let options = super::headless_options(&args.outputs, &args.connection);
    if !args.headless {
        preflight::terminal().map_err(AppError::could_not_run)?;
    }
    let prepared = prepare(&args.recording, &options)?;
    if args.headless {
        return headless::run_prepared(&options, prepared).await;
    }
    let finished = crate::tui::run::run(TuiOptions {
        profile: prepared.profile.clone(),
        scenario: prepared.scenario.clone(),
        mode: prepared.mode.clone(),
        record: options.record.clone(),
        workbench: options.workbench.clone(),
        metrics: options.metrics,
    })
    .await?;
    headless::verdict(&options, &prepared, finished, None)
}
