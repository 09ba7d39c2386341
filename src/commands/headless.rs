//! `parti-top --headless --profile P.ron …`: argument checks, then the headless runner.

use crate::cli::RunArgs;
use crate::error::AppError;
use crate::headless::{self, HeadlessOptions};

pub async fn run(args: RunArgs) -> Result<(), AppError> {
    let Some(profile) = args.profile.clone() else {
        return Err(AppError::could_not_run("--headless needs --profile P.ron"));
    };
    headless::run(HeadlessOptions {
        profile,
        overrides: args.cluster.overrides(),
        record: args.record.clone(),
        json: args.json,
        junit: args.junit.clone(),
        html: args.html.clone(),
        baseline: args.baseline.clone(),
        repeats: args.repeats,
        force: args.force,
        workbench: super::workbench_options(&args.connection),
    })
    .await
}
