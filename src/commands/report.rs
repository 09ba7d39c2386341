//! `parti-top report R.ron [--html OUT.html] [--json]`: print a recording's summary (its stored
//! one, or one computed from what an incomplete recording holds) and write it as a
//! self-contained HTML page. Exit 2 when the recording cannot be read or the page written.

use crate::cli::ReportArgs;
use crate::error::AppError;
use crate::preflight::{self, Existing};
use crate::report::{html, render, summarize};

pub fn run(args: &ReportArgs) -> Result<(), AppError> {
    if let Some(out) = &args.html {
        preflight::output_file("--html", out, Existing::Replace)
            .map_err(AppError::could_not_run)?;
    }
    let recording = crate::record::load(&args.recording).map_err(AppError::could_not_run)?;
    let summary = recording.summary.clone().unwrap_or_else(|| {
        eprintln!(
            "parti-top: {} has no summary (the run did not finish); figures from what it holds",
            args.recording.display()
        );
        summarize(&recording, &recording.header.profile.thresholds, 0)
    });
    if args.json {
        println!("{}", render::json(&summary, None, Some(&args.recording)));
    } else {
        print!("{}", render::table(&summary, None));
    }
    if let Some(out) = &args.html {
        std::fs::write(out, html::render(&recording, None)).map_err(|err| {
            AppError::could_not_run(format!("cannot write {}: {err}", out.display()))
        })?;
        eprintln!("parti-top: HTML report written to {}", out.display());
    }
    Ok(())
}
