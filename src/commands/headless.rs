//! `parti-top --headless --profile P.ron …`: argument checks, then the headless runner.

use crate::cli::RunArgs;
use crate::error::AppError;
use crate::headless::{self, HeadlessOptions};

pub async fn run(args: RunArgs) -> Result<(), AppError> {
    let Some(profile) = args.profile.clone() else {
        return Err(AppError::could_not_run("--headless needs --profile P.ron"));
    };
    let mut options = HeadlessOptions {
        profile,
        overrides: args.cluster.overrides(),
        baseline: args.baseline.clone(),
        repeats: args.repeats,
        ..super::headless_options(&args.outputs, &args.connection)
    };
    options.workbench.join = args.join.join();
    options.workbench.run_id = args.join.run_id.clone();
    headless::run(options).await
}
