//! `parti-top validate P.ron`: load and check a profile; print `ok: <summary>` or the error.

use std::path::Path;

use crate::error::AppError;

pub fn run(path: &Path) -> Result<(), AppError> {
    let profile = crate::profile::load(path).map_err(|err| AppError::CouldNotRun(err.message))?;
    println!("ok: {}", crate::profile::load::summary(&profile));
    Ok(())
}
