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
        baseline: args.baseline.clone(),
        repeats: args.repeats,
        ..super::headless_options(&args.outputs, &args.connection)
    })
    .await
}
