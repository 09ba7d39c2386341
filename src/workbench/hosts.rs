//! Host processes as the controller sees them: spawning `parti-top host --controlled` with the
//! bootstrap on stdin (credentials never on a command line), draining its stderr into the log,
//! noticing its exit, and the signals the controller sends it (SIGKILL, SIGSTOP/SIGCONT,
//! SIGTERM).
//!
//! A host that joined from another machine (`parti-top host --join`) is a [`HostProcess`] too,
//! with no child process behind it: its "exit" is its silence (no telemetry and no event for
//! [`crate::control::host_silence_limit`], watched by [`watch_joined`] on what [`Heard`]
//! collects), its `kill -9` an `Abort` command, and it cannot be paused.

use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::control::{Bootstrap, HostCommand, Silence, Subjects};
use crate::nats::process::spawn_tied;

/// A host process ended.
#[derive(Debug, Clone)]
pub struct HostExit {
    pub host: u32,
    pub how: String,
}

/// What a child process of the controller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `parti-top host --controlled`: runs workers.
    Host,
    /// `parti-top producer --controlled`: publishes the message load.
    Producer,
}

impl Role {
    fn command(self) -> &'static str {
        match self {
            Role::Host => "host",
            Role::Producer => "producer",
        }
    }
}

/// One host (or producer) child process, or a host that joined from another machine.
pub struct HostProcess {
    pub host: u32,
    /// The child's pid; `None` for a joined host (its pid is on another machine).
    pid: Option<u32>,
    /// Kept open: the host exits when it reads end of file.
    stdin: Option<ChildStdin>,
    exited: tokio::sync::watch::Receiver<bool>,
    joined: Option<JoinedLink>,
}

/// How the controller reaches a joined host: its command subject, and the one way its exit is
/// reported.
#[derive(Clone)]
struct JoinedLink {
    control: async_nats::Client,
    subjects: Subjects,
    exit: ExitOnce,
    origin: String,
}

/// Reports a joined host's exit once, whoever notices it first (its silence, a `KillHost`, the
/// end of the run).
#[derive(Clone)]
struct ExitOnce {
    host: u32,
    exited: Arc<tokio::sync::watch::Sender<bool>>,
    exits: mpsc::UnboundedSender<HostExit>,
}

impl ExitOnce {
    /// Mark the host exited and report `how`, unless it already was.
    fn exit(&self, how: String) -> bool {
        let first = self
            .exited
            .send_if_modified(|exited| !std::mem::replace(exited, true));
        if first {
            let _ = self.exits.send(HostExit {
                host: self.host,
                how,
            });
        }
        first
    }
}

/// When each host was last heard on the control link (an event or a telemetry report), and
/// which joined hosts were given up as lost. Kept by the link, read by [`watch_joined`].
#[derive(Clone, Default)]
pub struct Heard {
    inner: Arc<Mutex<HeardInner>>,
}

#[derive(Default)]
struct HeardInner {
    last: HashMap<u32, Instant>,
    lost: BTreeSet<u32>,
}

impl Heard {
    fn lock(&self) -> std::sync::MutexGuard<'_, HeardInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Host `host` was heard now; returns whether it was already given up as lost (it must
    /// then be told to go: the run no longer counts its workers).
    pub fn note(&self, host: u32) -> bool {
        let mut inner = self.lock();
        inner.last.insert(host, Instant::now());
        inner.lost.contains(&host)
    }

    fn last(&self, host: u32) -> Option<Instant> {
        self.lock().last.get(&host).copied()
    }

    fn lose(&self, host: u32) {
        self.lock().lost.insert(host);
    }
}

/// Signals a host process from anywhere; once the host has exited it signals nothing, so a
/// reused pid is never hit. A joined host has no pid here: it signals nothing either.
#[derive(Clone, Debug)]
pub struct HostSignal {
    pid: Option<u32>,
    exited: tokio::sync::watch::Receiver<bool>,
}

impl HostSignal {
    fn send(&self, signal: Signal) -> bool {
        if *self.exited.borrow() {
            return false;
        }
        self.pid
            .and_then(|pid| i32::try_from(pid).ok())
            .filter(|pid| *pid > 0)
            .is_some_and(|pid| kill(Pid::from_raw(pid), signal).is_ok())
    }

    /// Resume (SIGCONT).
    pub fn resume(&self) -> bool {
        self.send(Signal::SIGCONT)
    }
}

impl HostProcess {
    /// Start host `bootstrap.host`; its exit is reported on `exits`.
    pub async fn spawn(
        bootstrap: &Bootstrap,
        extra_env: &[(String, String)],
        exits: mpsc::UnboundedSender<HostExit>,
    ) -> std::io::Result<HostProcess> {
        Self::spawn_as(Role::Host, bootstrap, &[], extra_env, exits).await
    }

    /// Start a child of `role` (number `bootstrap.host`), writing the bootstrap and then
    /// `lines` to its stdin; its exit is reported on `exits`.
    pub async fn spawn_as(
        role: Role,
        bootstrap: &Bootstrap,
        lines: &[String],
        extra_env: &[(String, String)],
        exits: mpsc::UnboundedSender<HostExit>,
    ) -> std::io::Result<HostProcess> {
        let exe = std::env::current_exe()?;
        let mut command = tokio::process::Command::new(exe);
        command
            .args([role.command(), "--controlled"])
            .env_remove("NATS_URL")
            .env_remove("NATS_USER")
            .env_remove("NATS_PASSWORD")
            .envs(extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the terminal reaches the controller only, which
            // then stops the hosts in order.
            .process_group(0);
        let mut child = spawn_tied(command).await?;
        let pid = child.id().unwrap_or(0);
        let mut stdin = child.stdin.take();
        if let Some(stdin) = stdin.as_mut() {
            let mut line = serde_json::to_vec(bootstrap).map_err(std::io::Error::other)?;
            line.push(b'\n');
            for extra in lines {
                line.extend_from_slice(extra.as_bytes());
                line.push(b'\n');
            }
            stdin.write_all(&line).await?;
            stdin.flush().await?;
        }
        if let Some(stderr) = child.stderr.take() {
            let label = format!("{} {}", role.command(), bootstrap.host);
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log_child_line(&label, &line);
                }
            });
        }
        let (exited_tx, exited) = tokio::sync::watch::channel(false);
        let host = bootstrap.host;
        tokio::spawn(async move {
            let how = describe_exit(&mut child).await;
            let _ = exited_tx.send(true);
            let _ = exits.send(HostExit { host, how });
        });
        Ok(HostProcess {
            host: bootstrap.host,
            pid: Some(pid).filter(|pid| *pid > 0),
            stdin,
            exited,
            joined: None,
        })
    }

    /// Host `host`, which joined from `origin` (`machine-b pid 4242`) and is reached on
    /// `control`; its loss after `silence_limit` without a word is reported on `exits`.
    pub fn joined(
        host: u32,
        origin: String,
        control: &async_nats::Client,
        subjects: &Subjects,
        heard: &Heard,
        silence_limit: Duration,
        exits: mpsc::UnboundedSender<HostExit>,
    ) -> HostProcess {
        let (exited_tx, exited) = tokio::sync::watch::channel(false);
        let link = JoinedLink {
            control: control.clone(),
            subjects: subjects.clone(),
            exit: ExitOnce {
                host,
                exited: Arc::new(exited_tx),
                exits,
            },
            origin,
        };
        heard.lock().last.insert(host, Instant::now());
        tokio::spawn(watch_joined(link.clone(), heard.clone(), silence_limit));
        HostProcess {
            host,
            pid: None,
            stdin: None,
            exited,
            joined: Some(link),
        }
    }

    /// The child's pid; `None` for a joined host.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Where a joined host runs (`machine-b pid 4242`); `None` for a child.
    pub fn origin(&self) -> Option<&str> {
        self.joined.as_ref().map(|link| link.origin.as_str())
    }

    /// Whether the host joined from another machine (it cannot be signalled or paused).
    pub fn is_joined(&self) -> bool {
        self.joined.is_some()
    }

    pub fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }

    /// A handle to signal this host from another task.
    pub fn signaller(&self) -> HostSignal {
        HostSignal {
            pid: self.pid,
            exited: self.exited.clone(),
        }
    }

    fn signal(&self, signal: Signal) -> bool {
        self.signaller().send(signal)
    }

    /// `kill -9`; a joined host is told to exit at once without cleanup (`Abort`), and counts
    /// as exited when it confirms or cannot be reached (a host that does not answer is left to
    /// its silence).
    pub fn kill(&self) -> bool {
        let Some(link) = self.joined.clone() else {
            return self.signal(Signal::SIGKILL);
        };
        if self.has_exited() {
            return false;
        }
        tokio::spawn(async move {
            let body = serde_json::to_vec(&HostCommand::Abort).unwrap_or_default();
            let request = link
                .control
                .request(link.subjects.command(link.exit.host), body.into());
            match tokio::time::timeout(ABORT_REPLY_TIMEOUT, request).await {
                Ok(Ok(_)) => {
                    link.exit.exit(format!(
                        "killed: exited without cleanup on request (joined host, {})",
                        link.origin
                    ));
                }
                Ok(Err(err)) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                    link.exit
                        .exit(format!("gone: no longer listening ({})", link.origin));
                }
                _ => warn!(
                    "host {} ({}) did not confirm the kill; waiting for its silence",
                    link.exit.host, link.origin
                ),
            }
        });
        true
    }

    /// Freeze (SIGSTOP).
    pub fn pause(&self) -> bool {
        self.signal(Signal::SIGSTOP)
    }

    /// Resume (SIGCONT).
    pub fn resume(&self) -> bool {
        self.signal(Signal::SIGCONT)
    }

    /// Ask the host to leave: close its stdin (it stops its workers and exits), then SIGTERM,
    /// then SIGKILL after `grace`. A joined host was sent `Shutdown` already (the end of the
    /// run): it now counts as gone.
    pub async fn stop(&mut self, grace: Duration) {
        if let Some(link) = &self.joined {
            link.exit
                .exit(format!("left at the end of the run ({})", link.origin));
            return;
        }
        self.stdin.take();
        let mut exited = self.exited.clone();
        if tokio::time::timeout(grace / 2, exited.wait_for(|e| *e))
            .await
            .is_ok()
        {
            return;
        }
        self.resume();
        self.signal(Signal::SIGTERM);
        if tokio::time::timeout(grace / 2, exited.wait_for(|e| *e))
            .await
            .is_err()
        {
            warn!(
                "host {} did not exit within {grace:?}; killing it",
                self.host
            );
            self.kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), exited.wait_for(|e| *e)).await;
        }
    }
}

/// How long a `KillHost` waits for a joined host to confirm its `Abort`.
const ABORT_REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a joined host's silence is checked.
const SILENCE_CHECK: Duration = Duration::from_millis(250);

/// Watch a joined host until it exits: silent for longer than `limit` (counted only while the
/// controller's own connection is up) it is lost, told to go (in case it is only cut off and
/// comes back) and reported as exited.
async fn watch_joined(link: JoinedLink, heard: Heard, limit: Duration) {
    let host = link.exit.host;
    let mut exited = link.exit.exited.subscribe();
    let mut silence = Silence::with_period(Instant::now(), SILENCE_CHECK);
    let mut seen = heard.last(host);
    let mut ticker = tokio::time::interval(SILENCE_CHECK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = exited.wait_for(|e| *e) => return,
            _ = ticker.tick() => {}
        }
        let last = heard.last(host);
        if last > seen {
            seen = last;
            if let Some(at) = last {
                silence.heard(at);
            }
        }
        let connected = link.control.connection_state() == async_nats::connection::State::Connected;
        let silent = silence.tick(Instant::now(), connected);
        if silent > limit {
            heard.lose(host);
            abort_lost(&link).await;
            link.exit.exit(format!(
                "silent for {:.1} s (joined host, {})",
                silent.as_secs_f64(),
                link.origin
            ));
            return;
        }
    }
}

/// Tell a host given up as lost to exit at once (it may only be cut off and come back).
pub(super) async fn abort_lost_host(control: &async_nats::Client, subjects: &Subjects, host: u32) {
    if let Ok(body) = serde_json::to_vec(&HostCommand::Abort) {
        let _ = control.publish(subjects.command(host), body.into()).await;
    }
}

async fn abort_lost(link: &JoinedLink) {
    abort_lost_host(&link.control, &link.subjects, link.exit.host).await;
}

async fn describe_exit(child: &mut Child) -> String {
    use std::os::unix::process::ExitStatusExt;
    match child.wait().await {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => "ended".into(),
        },
        Err(err) => format!("lost: {err}"),
    }
}

/// Re-log a child's stderr line (`LEVEL message`) under the controller's log at its level,
/// prefixed with `label` (`host 1`).
fn log_child_line(label: &str, line: &str) {
    let text = line.trim();
    let (level, message) = text.split_once(' ').unwrap_or(("", text));
    let message = message.trim_start();
    match level {
        "ERROR" | "WARN" => warn!("{label}: {message}"),
        "INFO" => info!("{label}: {message}"),
        _ => debug!("{label}: {text}"),
    }
}
