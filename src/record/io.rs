//! Writing and reading recording files. Writes are atomic (a temp file in the same directory,
//! fsynced, then renamed over the target, then the directory fsynced), so a reader or a crash
//! sees either the old file or the new one, never a mix. Read errors name the file and, for
//! syntax and field errors, carry `path:line:col`; a cut-off file and a file from a newer
//! parti-top each get their own message.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::format::{FORMAT_VERSION, Recording};

/// A recording that could not be written or read. `Display` is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{}: cannot read recording: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write recording: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot serialize recording: {message}", path.display())]
    Serialize { path: PathBuf, message: String },
    /// A syntax or field error at a position.
    #[error("{}:{line}:{col}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    /// The file ends in the middle of the recording; `line:col` is where it ends.
    #[error(
        "{}:{line}:{col}: the recording is truncated (incomplete): the file ends before the \
         recording does; it may be a cut-off copy",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        line: usize,
        col: usize,
    },
    #[error(
        "{}: recording format version {found} is newer than this parti-top ({tool}) reads \
         (format version {supported}); use a newer parti-top",
        path.display(),
        tool = env!("CARGO_PKG_VERSION")
    )]
    NewerVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "{}: unsupported recording format version {found} (this parti-top reads format version {supported})",
        path.display()
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The recorder task ended without handing back its recording.
    #[error("{}: the recorder stopped unexpectedly: {message}", path.display())]
    Recorder { path: PathBuf, message: String },
}

impl RecordError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            RecordError::Read { path, .. }
            | RecordError::Write { path, .. }
            | RecordError::Serialize { path, .. }
            | RecordError::Parse { path, .. }
            | RecordError::Truncated { path, .. }
            | RecordError::NewerVersion { path, .. }
            | RecordError::UnsupportedVersion { path, .. }
            | RecordError::Recorder { path, .. } => path,
        }
    }
}

/// The recording as file text: pretty RON, nested values below depth 4 on one line (one line
/// per process sample, per cluster event's kind, per step).
pub fn to_ron(recording: &Recording) -> Result<String, ron::Error> {
    let config = ron::ser::PrettyConfig::new()
        .depth_limit(4)
        .indentor("  ".to_owned());
    let mut text = ron::ser::to_string_pretty(recording, config)?;
    text.push('\n');
    Ok(text)
}

/// Write `recording` to `path` atomically, creating parent directories.
pub fn save_atomic(recording: &Recording, path: &Path) -> Result<(), RecordError> {
    let text = to_ron(recording).map_err(|err| RecordError::Serialize {
        path: path.to_owned(),
        message: err.to_string(),
    })?;
    write_atomic(path, text.as_bytes())
}

/// Write `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync of
/// the directory. The temp file is removed when anything fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    let write_error = |source| RecordError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(write_error)?;
    let name = path.file_name().map_or_else(
        || "recording".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(write_error)?;
    temp.write_all(bytes).map_err(write_error)?;
    temp.as_file().sync_all().map_err(write_error)?;
    temp.persist(path).map_err(|err| write_error(err.error))?;
    // Make the rename itself durable; not every filesystem supports syncing a directory.
    if let Ok(dir) = std::fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Read a recording file.
pub fn load(path: &Path) -> Result<Recording, RecordError> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Parse recording text; `path` names the source in errors.
pub fn parse(text: &str, path: &Path) -> Result<Recording, RecordError> {
    let version_error = |found: u32| {
        if found > FORMAT_VERSION {
            Some(RecordError::NewerVersion {
                path: path.to_owned(),
                found,
                supported: FORMAT_VERSION,
            })
        } else if found == 0 {
            Some(RecordError::UnsupportedVersion {
                path: path.to_owned(),
                found,
                supported: FORMAT_VERSION,
            })
        } else {
            None
        }
    };
    match ron::from_str::<Recording>(text) {
        Ok(recording) => match version_error(recording.header.format_version) {
            Some(err) => Err(err),
            None => Ok(recording),
        },
        Err(err) => {
            // A file of another version fails on its fields; say so rather than naming a field.
            if let Some(version_err) = probe_version(text).and_then(version_error) {
                return Err(version_err);
            }
            if text.trim().is_empty() {
                return Err(RecordError::Parse {
                    path: path.to_owned(),
                    line: 1,
                    col: 1,
                    message: "the file is empty, not a recording".to_owned(),
                });
            }
            if matches!(err.code, ron::Error::Eof) || unclosed_brackets(text) > 0 {
                let (line, col) = end_position(text);
                return Err(RecordError::Truncated {
                    path: path.to_owned(),
                    line,
                    col,
                });
            }
            Err(RecordError::Parse {
                path: path.to_owned(),
                line: err.span.start.line,
                col: err.span.start.col,
                message: err.code.to_string(),
            })
        }
    }
}

/// The 1-based line and column just after the last character of `text`.
fn end_position(text: &str) -> (usize, usize) {
    let line = text.matches('\n').count() + 1;
    let last_line = text.rsplit('\n').next().unwrap_or("");
    (line, last_line.chars().count() + 1)
}

/// The header's `format_version`, read leniently (every other field ignored) so that a file of
/// a newer format is recognised as such even when its fields no longer match.
fn probe_version(text: &str) -> Option<u32> {
    #[derive(Deserialize)]
    struct Probe {
        header: HeaderProbe,
    }
    #[derive(Deserialize)]
    struct HeaderProbe {
        format_version: u32,
    }
    if let Ok(probe) = ron::from_str::<Probe>(text) {
        return Some(probe.header.format_version);
    }
    // A cut-off or otherwise broken file: the version is the first field of the header.
    let at = text.find("format_version")?;
    let rest = text[at + "format_version".len()..]
        .trim_start()
        .strip_prefix(':')?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// How many `(`/`[`/`{` are still open at the end of `text`, outside strings, characters and
/// comments. A complete RON value has none.
fn unclosed_brackets(text: &str) -> usize {
    let mut depth: usize = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_unclosed_brackets_outside_strings_and_comments() {
        assert_eq!(unclosed_brackets("(a: [1, 2], b: \"(([\")"), 0);
        assert_eq!(unclosed_brackets("(a: [1, 2"), 2);
        assert_eq!(unclosed_brackets("(a: \"x\\\")\" // )\n"), 1);
        assert_eq!(unclosed_brackets("(/* ) */ a: 1"), 1);
    }

    #[test]
    fn the_end_position_is_after_the_last_character() {
        assert_eq!(end_position("(a: 1"), (1, 6));
        assert_eq!(end_position("(\n  a: [\n"), (3, 1));
        assert_eq!(end_position("(\n  é"), (2, 4));
    }

    #[test]
    fn probes_the_version_of_broken_files() {
        assert_eq!(
            probe_version("(header: (format_version: 7, extra: 1), more: ["),
            Some(7)
        );
        assert_eq!(probe_version("(header: (format_version: 3))"), Some(3));
        assert_eq!(probe_version("()"), None);
    }
}
