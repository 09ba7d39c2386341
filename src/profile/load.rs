//! Reading a profile: RON with strict fields, errors that carry `file:line:col`, and value
//! validation.

use std::path::{Path, PathBuf};

use super::Profile;

/// A profile that could not be used. The message starts with `file:line:col` where the input
/// has a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProfileError {
    pub path: PathBuf,
    pub message: String,
}

/// Read and parse a profile file.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|err| ProfileError {
        path: path.to_owned(),
        message: format!("{}: cannot read profile: {err}", path.display()),
    })?;
    parse(&text, path)
}

/// Parse profile text; `path` names the source in errors.
pub fn parse(text: &str, path: &Path) -> Result<Profile, ProfileError> {
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    options.from_str::<Profile>(text).map_err(|err| ProfileError {
        path: path.to_owned(),
        message: format!("{}:{}:{}: {}", path.display(), err.span.start.line, err.span.start.col, err.code),
    })
}
