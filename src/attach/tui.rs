//! The read-only dashboard of an attach.

use super::live::Live;
use super::record::AttachRecorder;
use crate::error::AppError;

/// Show the attach until the operator quits.
pub async fn run(live: Live, recorder: Option<AttachRecorder>) -> Result<(), AppError> {
    let _ = (live, recorder);
    Err(AppError::could_not_run(
        "the attach dashboard is not there yet: use --headless",
    ))
}
