//! `parti-top review R.ron`: open a recording in the dashboard, read-only, with a time cursor.
//! The file is read and checked (missing, truncated, a newer format) and a terminal is
//! required before the terminal is touched; each failure is one line and exit 2.

use std::path::Path;

use crate::error::AppError;
use crate::preflight;
use crate::tui::review::{ReviewModel, Reviewed};

/// Load the recording and prepare it for review (no terminal needed).
pub fn prepare(path: &Path) -> Result<ReviewModel, AppError> {
    let recording = crate::record::load(path).map_err(AppError::could_not_run)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(ReviewModel::new(Reviewed::new(recording, name)))
}

/// Check the recording and the terminal, then review until the operator quits.
pub async fn run(path: &Path) -> Result<(), AppError> {
    let review = prepare(path)?;
    preflight::terminal().map_err(|_| {
        AppError::could_not_run("no terminal: `parti-top review` needs one on stdin and stdout")
    })?;
    crate::tui::review::run::run(review).await
}
