//! `parti-top [--profile P.ron]`: the checks that can be made before the dashboard starts
//! (a terminal, the profile, the recording path, the process limits), then the dashboard.

use crate::cli::RunArgs;
use crate::error::AppError;
use crate::preflight;
use crate::profile::overrides;
use crate::record::format::RunMode;
use crate::session::Scenario;
use crate::tui::run::{DEFAULT_PROFILE_PATH, TuiOptions, load_profile};
use std::path::Path;

/// Check what can be checked, then run the dashboard until the operator quits.
pub async fn run(args: RunArgs) -> Result<(), AppError> {
    preflight::terminal().map_err(AppError::could_not_run)?;
    let profile = overrides::apply(
        load_profile(args.profile.as_deref())?,
        &args.cluster.overrides(),
        args.profile
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_PROFILE_PATH)),
    )
    .map_err(AppError::could_not_run)?;
    let profile = crate::profile::Profile {
        repeats: args.repeats.unwrap_or(profile.repeats),
        ..profile
    };
    preflight::recording_output(args.outputs.record.as_deref(), args.outputs.force)
        .map_err(AppError::could_not_run)?;
    preflight::check_capacity(&profile, args.connection.server.as_deref())
        .map_err(AppError::could_not_run)?;
    let finished = crate::tui::run::run(TuiOptions {
        profile,
        scenario: Scenario::Profile,
        mode: RunMode::Interactive,
        record: args.outputs.record.clone(),
        workbench: crate::workbench::WorkbenchOptions {
            join: args.join.join(),
            run_id: args.join.run_id.clone(),
            ..super::workbench_options(&args.connection)
        },
        metrics: args.outputs.metrics,
    })
    .await?;
    match finished.saved {
        Ok(()) => {
            println!("parti-top: recording saved to {}", finished.path.display());
            Ok(())
        }
        Err(err) => Err(AppError::could_not_run(err)),
    }
}
