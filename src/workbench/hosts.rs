//! Host processes as the controller sees them: spawning `parti-top host --controlled` with the
//! bootstrap on stdin (credentials never on a command line), draining its stderr into the log,
//! noticing its exit, and the signals the controller sends it (SIGKILL, SIGSTOP/SIGCONT,
//! SIGTERM).

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::control::Bootstrap;
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

/// One host (or producer) child process.
pub struct HostProcess {
    pub host: u32,
    pid: u32,
    /// Kept open: the host exits when it reads end of file.
    stdin: Option<ChildStdin>,
    exited: tokio::sync::watch::Receiver<bool>,
}

/// Signals a host process from anywhere; once the host has exited it signals nothing, so a
/// reused pid is never hit.
#[derive(Clone, Debug)]
pub struct HostSignal {
    pid: u32,
    exited: tokio::sync::watch::Receiver<bool>,
}

impl HostSignal {
    fn send(&self, signal: Signal) -> bool {
        if *self.exited.borrow() {
            return false;
        }
        i32::try_from(self.pid).is_ok_and(|pid| kill(Pid::from_raw(pid), signal).is_ok())
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
            pid,
            stdin,
            exited,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
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

    /// `kill -9`.
    pub fn kill(&self) -> bool {
        self.signal(Signal::SIGKILL)
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
    /// then SIGKILL after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
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
