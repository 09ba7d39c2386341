//! Everything that can be checked before a run starts (DESIGN.md §6), checked before anything
//! starts: output paths, the baseline, the terminal, and the process limits the profile's
//! workers need. Each check answers in well under a second with one line naming the problem
//! and the way out, and nothing (no nats-server, no host) has been started when it fails.
//!
//! The limit arithmetic lives in [`crate::limits`]; probing directories and the terminal is the
//! only IO here.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::limits::capacity;
use crate::profile::{NatsSetup, Profile};
use crate::record::format::Recording;
use crate::report::baseline;

/// Whether the profile's busiest moment fits the machine (its limits raised first, see
/// [`crate::limits::capacity`]); `server_url` is an external server given on the command line,
/// whose descriptors are not ours to count.
pub fn check_capacity(profile: &Profile, server_url: Option<&str>) -> Result<(), String> {
    let managed = server_url.is_none() && matches!(profile.nats, NatsSetup::Managed);
    let workers = crate::profile::load::peak_workers(&profile.steps) as u64;
    match capacity().refusal(workers, profile.cluster.hosts, managed) {
        Some(why) => Err(format!("{}: {why}", profile.name)),
        None => Ok(()),
    }
}

/// May an existing output file be replaced?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Refuse an existing file (a recording is evidence: never overwrite it silently).
    Refuse,
    /// Replace it (`--force`, or a report CI writes on every run).
    Replace,
}

/// Check that `path` (given with `flag`) can be written at the end of the run: not a
/// directory, not an existing file unless `existing` allows it, and in a directory that
/// exists (or can be created) and accepts new files.
pub fn output_file(flag: &str, path: &Path, existing: Existing) -> Result<(), String> {
    let shown = path.display();
    // `out/`, `x/..`: a directory by its spelling, whether it exists or not.
    let spelled_as_dir =
        path.as_os_str().to_string_lossy().ends_with('/') || path.file_name().is_none();
    if spelled_as_dir {
        return Err(format!(
            "{flag} {shown}: names a directory; give a file name"
        ));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(format!("{flag} {shown}: is a directory; give a file name"));
        }
        Ok(_) if existing == Existing::Refuse => {
            return Err(format!(
                "{flag} {shown}: the file exists; choose another name, or pass --force to \
                 overwrite it"
            ));
        }
        _ => {}
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    writable_dir(&parent).map_err(|why| format!("{flag} {shown}: {why}"))
}

/// Where new recordings go when `--record` is not given.
pub const RUNS_DIR: &str = "recordings/runs";

/// Check the recording's path: `--record` (an existing file only with `force`), or the
/// default directory [`RUNS_DIR`].
pub fn recording_output(record: Option<&Path>, force: bool) -> Result<(), String> {
    let existing = if force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    match record {
        Some(path) => output_file("--record", path, existing),
        None => writable_dir(Path::new(RUNS_DIR))
            .map_err(|why| format!("cannot record the run under {RUNS_DIR}: {why}; give --record")),
    }
}

/// Check that new files can be created in `dir`, or in the nearest existing directory above it
/// (where `dir` would be created).
pub fn writable_dir(dir: &Path) -> Result<(), String> {
    let mut existing = dir;
    loop {
        match std::fs::metadata(existing) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => return Err(format!("{} is not a directory", existing.display())),
            Err(_) => match existing.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                _ => {
                    existing = Path::new(".");
                    break;
                }
            },
        }
    }
    tempfile::Builder::new()
        .prefix(".parti-top-probe")
        .tempfile_in(existing)
        .map(drop)
        .map_err(|err| {
            // The error names the probe's random file; the reason is what matters.
            let reason = err.raw_os_error().map_or_else(
                || err.to_string(),
                |code| std::io::Error::from_raw_os_error(code).to_string(),
            );
            format!("cannot create files in {}: {reason}", existing.display())
        })
}

/// Load a baseline recording and check that it can serve as the baseline of `profile`.
pub fn baseline(path: &Path, profile: &Profile, force: bool) -> Result<Recording, String> {
    let recording = crate::record::io::load(path).map_err(|err| err.to_string())?;
    match baseline::refusal(profile, &recording, force) {
        Some(refused) => Err(format!("--baseline {}: {refused}", path.display())),
        None => Ok(recording),
    }
}

/// The dashboard needs a terminal on stdin and stdout.
pub fn terminal() -> Result<(), String> {
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        Ok(())
    } else {
        Err("no terminal: use --headless (with --profile P.ron) to run without one".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_that_cannot_be_written_are_refused_before_the_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("run.ron");
        assert!(output_file("--record", &file, Existing::Refuse).is_ok());
        // Missing directories are created at the end: fine.
        assert!(
            output_file(
                "--record",
                &dir.path().join("a/b/run.ron"),
                Existing::Refuse
            )
            .is_ok()
        );
        std::fs::write(&file, "x").expect("write");
        let err = output_file("--record", &file, Existing::Refuse).expect_err("exists");
        assert!(err.contains("exists") && err.contains("--force"), "{err}");
        assert!(output_file("--record", &file, Existing::Replace).is_ok());
        let err = output_file("--record", dir.path(), Existing::Replace).expect_err("dir");
        assert!(err.contains("is a directory"), "{err}");
        for spelled in ["new-dir/", "missing/..", "."] {
            let err = output_file("--record", &dir.path().join(spelled), Existing::Refuse)
                .expect_err(spelled);
            assert!(err.contains("directory"), "{spelled}: {err}");
        }
        let err =
            output_file("--junit", Path::new("/proc/x.xml"), Existing::Replace).expect_err("proc");
        assert!(
            err.starts_with("--junit /proc/x.xml: cannot create files in /proc"),
            "{err}"
        );
        let under_file = file.join("run.ron");
        let err = output_file("--record", &under_file, Existing::Refuse).expect_err("file");
        assert!(err.contains("is not a directory"), "{err}");
    }
}
