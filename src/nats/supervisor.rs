//! Supervision of one managed nats-server child.
//!
//! Owns [`ManagedServer`]: a server on 127.0.0.1 with random client and monitoring ports (chosen
//! by the server itself and read back from its ports file, so there is no check-then-use race),
//! JetStream in a fresh temporary directory `parti-top-nats-<pid>-XXXX` (mode 0700), and
//! generated credentials in a mode-0600 config file there. Once it is ready, two more mode-0600
//! files there tell other tools how to connect (a nats CLI context and a shell environment file;
//! see [`super::connect_info`]), and [`ManagedServer::connect_info`] names them. Readiness is the
//! monitoring endpoint `/healthz?js-enabled-only=true` answering 200. Stop is SIGTERM, then SIGKILL after a grace
//! period. The child dies with this process (see [`super::process`]); temporary directories of
//! controllers that died anyway are swept at the next start.
//! [`ServerOptions`] may instead supply the credentials and the server name, and make the
//! server a cluster node ([`args::ClusterNodeSpec`]), as [`super::cluster::ManagedCluster`] does.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::args::{self, ClusterNodeSpec, LISTEN_HOST, LaunchSpec, Ports};
use super::connect_info::{self, ConnectInfo};
pub use super::credentials::Credentials;
use super::process::{OutputTail, is_process_alive, spawn_tied};
use super::resolve::ServerBinary;

/// Prefix of every managed server's temporary directory; `<pid>-` of the controller follows.
pub const TEMP_DIR_PREFIX: &str = "parti-top-nats-";
/// How long a start may take before it is abandoned.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`ManagedServer::stop`] waits after SIGTERM before SIGKILL.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5);
/// Lines of the server's stderr kept for error messages.
pub const STDERR_TAIL_LINES: usize = 20;

const POLL_INTERVAL: Duration = Duration::from_millis(10);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const DRAIN_WAIT: Duration = Duration::from_millis(500);
const REAP_ON_DROP: Duration = Duration::from_secs(2);

/// Tuning of a managed server. JetStream is always on.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Extra nats-server arguments, appended last.
    pub extra_args: Vec<String>,
    /// Start deadline; `None` is [`DEFAULT_READY_TIMEOUT`].
    pub ready_timeout: Option<Duration>,
    /// SIGTERM-to-SIGKILL grace period of `stop`; `None` is [`DEFAULT_GRACE_PERIOD`].
    pub grace_period: Option<Duration>,
    /// Credentials to accept instead of generated ones (the nodes of a cluster share a pair).
    pub credentials: Option<Credentials>,
    /// The server's `server_name`; `None` is the name of its temporary directory.
    pub server_name: Option<String>,
    /// Makes the server a node of a cluster (see [`args::cluster_config_text`]).
    pub cluster: Option<ClusterNodeSpec>,
}

/// Why starting or stopping a managed server failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("{action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("cannot start nats-server {}: {source}", .path.display())]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("nats-server exited during startup ({status}); its last stderr lines:\n{stderr_tail}")]
    ExitedDuringStartup { status: String, stderr_tail: String },
    #[error(
        "nats-server was not ready after {after:?} ({stage}); its last stderr lines:\n{stderr_tail}"
    )]
    NotReady {
        after: Duration,
        stage: String,
        stderr_tail: String,
    },
    #[error("cannot signal nats-server (pid {pid}): {source}")]
    Signal { pid: u32, source: nix::Error },
}

fn io_err(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> SupervisorError {
    let action = action.into();
    move |source| SupervisorError::Io { action, source }
}

/// One supervised nats-server process (see the module docs).
pub struct ManagedServer {
    binary: ServerBinary,
    opts: ServerOptions,
    credentials: Credentials,
    temp_dir: Option<tempfile::TempDir>,
    root: PathBuf,
    config_file: PathBuf,
    ports_dir: PathBuf,
    store_dir: PathBuf,
    ports: Ports,
    url: String,
    monitor_url: String,
    connect: ConnectInfo,
    child: Option<Child>,
    last_exit: Option<ExitStatus>,
    stderr: OutputTail,
    drain: Option<JoinHandle<()>>,
}

impl fmt::Debug for ManagedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedServer")
            .field("url", &self.url)
            .field("monitor_url", &self.monitor_url)
            .field("version", &self.binary.version)
            .field("pid", &self.child.as_ref().and_then(Child::id))
            .field("root", &self.root)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl ManagedServer {
    /// Starts a server and waits until it is ready (see the module docs). On failure the error
    /// carries the tail of the server's stderr and nothing is left behind.
    pub async fn start(bin: &ServerBinary, opts: ServerOptions) -> Result<Self, SupervisorError> {
        sweep_stale_temp_dirs(&std::env::temp_dir());
        let temp_dir = tempfile::Builder::new()
            .prefix(&format!("{TEMP_DIR_PREFIX}{}-", std::process::id()))
            .tempdir_in(std::env::temp_dir())
            .map_err(io_err("cannot create the nats-server temporary directory"))?;
        let root = temp_dir.path().to_path_buf();
        // Private to its owner: it holds the credentials and the store.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err(format!("cannot make {} private", root.display())))?;
        let (config_file, ports_dir, store_dir) = (
            root.join("nats-server.conf"),
            root.join("ports"),
            root.join("jetstream"),
        );
        for dir in [&ports_dir, &store_dir] {
            std::fs::create_dir(dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
        }
        let credentials = opts
            .credentials
            .clone()
            .unwrap_or_else(Credentials::generate);
        let server_name = opts.server_name.clone().unwrap_or_else(|| {
            root.file_name()
                .map_or_else(|| "parti-top".into(), |n| n.to_string_lossy().into_owned())
        });
        let mut config = args::config_text(&credentials, &server_name);
        if let Some(version) = super::resolve::parse_version(&bin.version) {
            config.push_str(&args::jetstream_limits_text((version.major, version.minor)));
        }
        if let Some(cluster) = &opts.cluster {
            config.push_str(&args::cluster_config_text(cluster, &credentials));
        }
        write_private(&config_file, &config)?;
        let connect = ConnectInfo::in_dir(&root, "", "");
        let mut server = Self {
            binary: bin.clone(),
            opts,
            credentials,
            temp_dir: Some(temp_dir),
            root,
            config_file,
            ports_dir,
            store_dir,
            ports: Ports {
                client: 0,
                monitor: 0,
            },
            url: String::new(),
            monitor_url: String::new(),
            connect,
            child: None,
            last_exit: None,
            stderr: OutputTail::new(STDERR_TAIL_LINES),
            drain: None,
        };
        server.launch(None).await?;
        server.write_connect_files()?;
        Ok(server)
    }

    /// Writes the nats CLI context and the environment file (mode 0600) once the URL is known.
    /// A restart keeps the ports, so they stay valid until the directory is removed.
    fn write_connect_files(&mut self) -> Result<(), SupervisorError> {
        self.connect = ConnectInfo::in_dir(&self.root, &self.url, &self.monitor_url);
        write_private(
            &self.connect.context_file,
            &connect_info::context_json(&self.url, &self.credentials),
        )?;
        write_private(
            &self.connect.env_file,
            &connect_info::env_text(&self.url, &self.credentials),
        )
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:PORT` of the monitoring endpoints (`/varz`, `/jsz`, `/healthz`, ...).
    pub fn monitor_url(&self) -> &str {
        &self.monitor_url
    }

    /// How other tools connect: the URLs and the connection files (see [`super::connect_info`];
    /// [`connect_info::hint_lines`] renders the operator's hints from it).
    pub fn connect_info(&self) -> &ConnectInfo {
        &self.connect
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn version(&self) -> &str {
        &self.binary.version
    }

    /// The server's process id; `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// The JetStream store directory (inside [`Self::temp_dir`]).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// The temporary directory holding the config, the ports file and the store.
    pub fn temp_dir(&self) -> &Path {
        &self.root
    }

    /// How the previous process ended, once it has been reaped.
    pub fn last_exit_status(&self) -> Option<ExitStatus> {
        self.last_exit
    }

    /// Whether the process is still running; reaps it if it exited.
    pub fn is_running(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                self.last_exit = Some(status);
                self.child = None;
                false
            }
            Err(err) => {
                tracing::warn!("cannot poll nats-server: {err}");
                true
            }
        }
    }

    /// SIGTERM, then SIGKILL if the server has not exited within the grace period. The store is
    /// kept. Does nothing when already stopped.
    pub async fn stop(&mut self) -> Result<(), SupervisorError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let grace = self.opts.grace_period.unwrap_or(DEFAULT_GRACE_PERIOD);
        if let Some(pid) = child.id() {
            let target = nix::unistd::Pid::from_raw(pid as i32);
            match nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(source) => {
                    self.child = Some(child);
                    return Err(SupervisorError::Signal { pid, source });
                }
            }
        }
        let status = match tokio::time::timeout(grace, child.wait()).await {
            Ok(waited) => waited,
            Err(_) => {
                tracing::warn!("nats-server did not exit {grace:?} after SIGTERM; sending SIGKILL");
                let _ = child.start_kill();
                child.wait().await
            }
        };
        self.last_exit = status.as_ref().ok().copied();
        self.finish_drain().await;
        status
            .map(|_| ())
            .map_err(io_err("cannot wait for nats-server"))
    }

    /// SIGKILL now, as a fault would; the store is kept.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            self.last_exit = child.wait().await.ok();
            self.finish_drain().await;
        }
    }

    /// Stops the server if it runs, then starts it again on the same client and monitoring ports
    /// with the same store and credentials, so connected clients reconnect to it.
    pub async fn restart(&mut self) -> Result<(), SupervisorError> {
        self.stop().await?;
        self.launch(Some(self.ports)).await
    }

    /// Stops the server and removes its temporary directory.
    pub async fn shutdown(mut self) -> Result<(), SupervisorError> {
        self.stop().await?;
        match self.temp_dir.take() {
            Some(dir) => dir
                .close()
                .map_err(io_err(format!("cannot remove {}", self.root.display()))),
            None => Ok(()),
        }
    }

    /// Spawns the process and waits for readiness; on failure kills it and reports its stderr.
    async fn launch(&mut self, ports: Option<Ports>) -> Result<(), SupervisorError> {
        clear_dir(&self.ports_dir);
        let spec = LaunchSpec {
            config_file: &self.config_file,
            ports_dir: &self.ports_dir,
            store_dir: &self.store_dir,
            client_port: ports.map(|p| p.client),
            monitor_port: ports.map(|p| p.monitor),
            extra_args: &self.opts.extra_args,
        };
        let mut cmd = Command::new(&self.binary.path);
        cmd.args(args::command_args(&spec))
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: a terminal's Ctrl-C reaches the controller, which then stops
            // the server in order, rather than killing both at once.
            .process_group(0);
        self.stderr.clear();
        let mut child = spawn_tied(cmd)
            .await
            .map_err(|source| SupervisorError::Spawn {
                path: self.binary.path.clone(),
                source,
            })?;
        if let Some(pipe) = child.stderr.take() {
            let label = format!("pid {}", child.id().unwrap_or_default());
            self.drain = Some(self.stderr.drain(pipe, label));
        }
        self.child = Some(child);
        match self.wait_ready().await {
            Ok(found) => {
                self.ports = found;
                self.url = format!("nats://{LISTEN_HOST}:{}", found.client);
                self.monitor_url = format!("http://{LISTEN_HOST}:{}", found.monitor);
                tracing::info!(url = %self.url, pid = ?self.pid(), "nats-server {} ready", self.binary.version);
                Ok(())
            }
            Err(err) => {
                self.kill().await;
                Err(err.with_tail(&self.stderr))
            }
        }
    }

    async fn wait_ready(&mut self) -> Result<Ports, Pending> {
        let timeout = self.opts.ready_timeout.unwrap_or(DEFAULT_READY_TIMEOUT);
        let deadline = Instant::now() + timeout;
        let mut stage = "waiting for the ports file".to_string();
        let mut ports = None;
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err(Pending::Exited("not running".into()));
            };
            if let Ok(Some(status)) = child.try_wait() {
                self.last_exit = Some(status);
                self.finish_drain().await;
                return Err(Pending::Exited(status.to_string()));
            }
            let pid = child.id().unwrap_or_default();
            if ports.is_none() {
                match read_ports_file(&self.ports_dir, pid) {
                    Ok(found) => {
                        ports = found;
                        stage = "waiting for /healthz".into();
                    }
                    Err(problem) => stage = problem.to_string(),
                }
            }
            if let Some(found) = ports {
                match healthz(found.monitor).await {
                    Ok(200) => return Ok(found),
                    Ok(code) => stage = format!("/healthz answered {code}"),
                    Err(err) => stage = format!("/healthz: {err}"),
                }
            }
            if Instant::now() >= deadline {
                return Err(Pending::Timeout {
                    after: timeout,
                    stage,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Lets the stderr drain task read to the end of the pipe so the tail is complete.
    async fn finish_drain(&mut self) {
        if let Some(drain) = self.drain.take() {
            let _ = tokio::time::timeout(DRAIN_WAIT, drain).await;
        }
    }
}

/// A start that has not (yet) succeeded, before the stderr tail is attached.
enum Pending {
    Exited(String),
    Timeout { after: Duration, stage: String },
}

impl Pending {
    fn with_tail(self, tail: &OutputTail) -> SupervisorError {
        let stderr_tail = tail.render();
        match self {
            Pending::Exited(status) => SupervisorError::ExitedDuringStartup {
                status,
                stderr_tail,
            },
            Pending::Timeout { after, stage } => SupervisorError::NotReady {
                after,
                stage,
                stderr_tail,
            },
        }
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Reap it (SIGKILL takes milliseconds) so no zombie stays and the store is no longer
            // written while it is removed.
            let deadline = Instant::now() + REAP_ON_DROP;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if let Some(drain) = self.drain.take() {
            drain.abort();
        }
        if let Some(dir) = self.temp_dir.take()
            && let Err(err) = dir.close()
        {
            tracing::warn!("cannot remove {}: {err}", self.root.display());
        }
    }
}

/// Writes `text` to a new file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), SupervisorError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("cannot create {}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(io_err(format!("cannot write {}", path.display())))
}

fn clear_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The ports of process `pid`: `Ok(None)` while its ports file is not written yet.
fn read_ports_file(dir: &Path, pid: u32) -> Result<Option<Ports>, SupervisorError> {
    let entries =
        std::fs::read_dir(dir).map_err(io_err(format!("cannot read {}", dir.display())))?;
    for entry in entries.flatten() {
        if args::is_ports_file_of(&entry.file_name().to_string_lossy(), pid) {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            // A file caught half-written does not parse yet; the next poll reads it again.
            return Ok(args::parse_ports_file(&text).ok());
        }
    }
    Ok(None)
}

/// The status code of `GET /healthz?js-enabled-only=true` on the monitoring port.
async fn healthz(monitor_port: u16) -> std::io::Result<u16> {
    let probe = async {
        let mut stream = TcpStream::connect((LISTEN_HOST, monitor_port)).await?;
        stream.write_all(args::HEALTHZ_REQUEST).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        args::http_status(&response).ok_or_else(|| std::io::Error::other("no HTTP status line"))
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))?
}

/// Removes `parti-top-nats-<pid>-*` directories in `temp_root` whose controller `<pid>` is gone
/// (it was killed before it could clean up). Best effort: errors are ignored.
pub fn sweep_stale_temp_dirs(temp_root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(temp_root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_DIR_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir
            && pid != std::process::id()
            && !is_process_alive(pid)
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            tracing::info!(
                "removed {} left by controller pid {pid}",
                entry.path().display()
            );
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_only_dirs_of_dead_controllers() {
        let root = tempfile::tempdir().expect("tempdir");
        let dead = root
            .path()
            .join(format!("{TEMP_DIR_PREFIX}{}-abc", u32::MAX / 2));
        let alive = root
            .path()
            .join(format!("{TEMP_DIR_PREFIX}{}-def", std::process::id()));
        let other = root.path().join("parti-top-nats-notapid-x");
        for dir in [&dead, &alive, &other] {
            std::fs::create_dir_all(dir.join("jetstream")).expect("mkdir");
        }
        assert_eq!(sweep_stale_temp_dirs(root.path()), 1);
        assert!(!dead.exists());
        assert!(alive.exists() && other.exists());
    }

    #[test]
    fn private_files_are_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("c.conf");
        write_private(&path, "x").expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(write_private(&path, "y").is_err(), "never overwrites");
    }

    #[test]
    fn ports_file_lookup_by_pid() {
        let root = tempfile::tempdir().expect("tempdir");
        let read = |pid| read_ports_file(root.path(), pid).expect("readable directory");
        assert_eq!(read(42), None);
        let text = r#"{"nats":["nats://127.0.0.1:4001"],"monitoring":["http://127.0.0.1:8001"]}"#;
        std::fs::write(root.path().join("nats-server_41.ports"), text).expect("write");
        assert_eq!(read(42), None);
        std::fs::write(root.path().join("nats-server_42.ports"), "{\"nats\":[").expect("write");
        assert_eq!(read(42), None);
        std::fs::write(root.path().join("nats-server_42.ports"), text).expect("write");
        assert_eq!(
            read(42),
            Some(Ports {
                client: 4001,
                monitor: 8001
            })
        );
        let missing = root.path().join("missing");
        let err = read_ports_file(&missing, 42).expect_err("no directory");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read {}: ", missing.display())),
            "{err}"
        );
    }
}
