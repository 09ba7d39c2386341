//! `parti-top validate FILE`: check a profile (errors carry file:line:col) or read back a
//! recording, and print a one-line summary of what it holds.

use std::path::Path;

use crate::error::AppError;

/// Whether the text is a recording (it has a header with a format version) rather than a
/// profile.
fn looks_like_recording(text: &str) -> bool {
    text.contains("format_version")
}

pub fn run(path: &Path) -> Result<(), AppError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        AppError::could_not_run(format!("{}: cannot read: {err}", path.display()))
    })?;
    if looks_like_recording(&text) {
        let recording = crate::record::io::parse(&text, path).map_err(AppError::could_not_run)?;
        let verdict = recording.summary.as_ref().map_or_else(
            || "no summary (the run did not finish)".to_owned(),
            |s| format!("verdict {}", s.verdict.name()),
        );
        println!(
            "ok: recording of {} (run {}, format {}): {} actions and steps, {} events measured, {} samples, {} findings, {}",
            recording.header.profile.name,
            recording.header.run_id,
            recording.header.format_version,
            recording.timeline.len(),
            recording.measurements.len(),
            recording.samples.len(),
            recording.findings.len(),
            verdict
        );
        return Ok(());
    }
    let profile = crate::profile::parse(&text, path).map_err(AppError::could_not_run)?;
    println!("ok: {}", crate::profile::load::summary(&profile));
    Ok(())
}
