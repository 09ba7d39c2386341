//! `parti-top diff A.ron B.ron [--json] [--force] [--html OUT.html]`: compare recording B with
//! recording A (the baseline) by the rules of `--baseline`, print the comparison (a table, or
//! JSON on stdout with the table on stderr), optionally write it as an HTML page, and exit 1
//! when B regressed, 2 when the recordings cannot be read or compared.

use std::path::Path;

use crate::cli::DiffArgs;
use crate::error::AppError;
use crate::preflight::{self, Existing};
use crate::record::format::Recording;
use crate::report::{baseline, html, render};

/// Why B cannot be compared with A unless forced: A incomplete or of another setup
/// ([`baseline::refusal`]), or B incomplete.
fn refusal(a: (&Path, &Recording), b: (&Path, &Recording), force: bool) -> Option<String> {
    if let Some(refused) = baseline::refusal(&b.1.header.profile, a.1, force) {
        return Some(format!(
            "{} (A) against {} (B): {refused}",
            a.0.display(),
            b.0.display()
        ));
    }
    (!force && b.1.summary.is_none()).then(|| {
        format!(
            "{} (B): refusing run {}: it is incomplete (no summary: an autosave of a run that \
             was killed or had not finished), so most of its events and peaks may be missing; \
             pass --force to compare with what it holds",
            b.0.display(),
            b.1.header.run_id
        )
    })
}

pub fn run(args: &DiffArgs) -> Result<(), AppError> {
    if let Some(out) = &args.html {
        preflight::output_file("--html", out, Existing::Replace)
            .map_err(AppError::could_not_run)?;
    }
    let a = crate::record::load(&args.a).map_err(AppError::could_not_run)?;
    let b = crate::record::load(&args.b).map_err(AppError::could_not_run)?;
    let (a_side, b_side) = ((args.a.as_path(), &a), (args.b.as_path(), &b));
    if let Some(refused) = refusal(a_side, b_side, args.force) {
        return Err(AppError::CouldNotRun(refused));
    }
    // B's own tolerances when its profile names a baseline, as `--baseline` would use them.
    let tolerances = b
        .header
        .profile
        .baseline
        .as_ref()
        .map(|spec| spec.tolerances.clone())
        .unwrap_or_default();
    let comparison =
        baseline::compare(&b, &a, &tolerances, args.force).map_err(AppError::CouldNotRun)?;
    let table = render::diff_table(a_side, b_side, &comparison);
    if args.json {
        eprint!("{table}");
        println!("{}", render::diff_json(a_side, b_side, &comparison));
    } else {
        print!("{table}");
    }
    if let Some(out) = &args.html {
        std::fs::write(out, html::render_diff(&a, &b, &comparison)).map_err(|err| {
            AppError::could_not_run(format!("cannot write {}: {err}", out.display()))
        })?;
        eprintln!("parti-top: HTML report written to {}", out.display());
    }
    let regressed = render::regressed_metrics(&comparison);
    if regressed.is_empty() {
        Ok(())
    } else {
        Err(AppError::Failed(format!(
            "B regressed against A: {}",
            regressed.join(", ")
        )))
    }
}
