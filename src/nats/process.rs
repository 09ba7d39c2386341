//! Child processes that never outlive this process, and the tail of their stderr.
//!
//! Owns [`spawn_tied`]: children get `kill_on_drop` and, on Linux, `PR_SET_PDEATHSIG` = SIGKILL, so
//! they die even when this process is killed with SIGKILL. The kernel sends that signal when the
//! *thread* that forked the child exits, so every fork happens on one process-lifetime thread
//! ("parti-top-spawner") rather than on a runtime worker or blocking-pool thread that may be
//! retired while the child still runs. Also owns [`OutputTail`] (a drained pipe's last lines) and
//! [`is_process_alive`].

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

type SpawnJob = Box<dyn FnOnce() + Send + 'static>;

static SPAWNER: OnceLock<Option<Sender<SpawnJob>>> = OnceLock::new();

fn spawner() -> Option<&'static Sender<SpawnJob>> {
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<SpawnJob>();
            std::thread::Builder::new()
                .name("parti-top-spawner".to_string())
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Spawns `cmd` so that the child dies with this process (see the module docs). Must be called
/// inside a tokio runtime, which then owns the child (its reaping and `wait`).
pub async fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    cmd.kill_on_drop(true);
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|err| io::Error::other(format!("spawn_tied needs a tokio runtime: {err}")))?;
    let Some(spawner) = spawner() else {
        tracing::warn!("no spawner thread; the child is tied to the calling thread instead");
        die_with_parent(&mut cmd);
        return cmd.spawn();
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: SpawnJob = Box::new(move || {
        let _runtime = handle.enter();
        die_with_parent(&mut cmd);
        // If the caller went away, the returned child is dropped here and killed (kill_on_drop).
        let _ = tx.send(cmd.spawn());
    });
    spawner
        .send(job)
        .map_err(|_| io::Error::other("the spawner thread has stopped"))?;
    rx.await
        .map_err(|_| io::Error::other("the spawner thread dropped the request"))?
}

/// Makes the child receive SIGKILL when the forking thread (the spawner thread, which lives as
/// long as the process) exits, and refuses to start it if this process already died.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child between fork and exec. It only calls prctl(2)
    // and getppid(2), which are async-signal-safe, and builds errors from raw OS codes, which does
    // not allocate; it takes no locks and touches no shared state.
    unsafe {
        cmd.pre_exec(move || {
            let signal = libc::SIGKILL as libc::c_ulong;
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                signal,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then no signal would ever come.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Whether process `pid` exists and is not a zombie.
pub fn is_process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: "1234 (nats-server) S 1 ...".
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next()),
            Some("Z" | "X" | "x")
        ),
        Err(_) if std::path::Path::new("/proc/self").exists() => false,
        Err(_) => {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            !matches!(
                nix::sys::signal::kill(pid, None),
                Err(nix::errno::Errno::ESRCH)
            )
        }
    }
}

/// The last lines read from a child's output pipe, shared with the task that drains it.
#[derive(Clone, Debug)]
pub struct OutputTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    capacity_lines: usize,
}

/// Longest line kept, in characters; longer lines are cut.
const MAX_LINE_CHARS: usize = 2_000;

impl OutputTail {
    pub fn new(capacity_lines: usize) -> Self {
        Self {
            lines: Arc::new(Mutex::new(VecDeque::new())),
            capacity_lines,
        }
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn push(&self, line: &str) {
        let line: String = line.chars().take(MAX_LINE_CHARS).collect();
        let mut lines = self.guard();
        lines.push_back(line);
        while lines.len() > self.capacity_lines {
            lines.pop_front();
        }
    }

    pub fn clear(&self) {
        self.guard().clear();
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.guard().iter().cloned().collect()
    }

    /// The kept lines, indented, one per line, for error messages.
    pub fn render(&self) -> String {
        let lines = self.lines();
        if lines.is_empty() {
            return "  (no output)".to_string();
        }
        lines
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Reads `pipe` to its end on a task, keeping the last lines and logging each one at debug
    /// level under `label`, so the child never blocks on a full pipe.
    pub fn drain<R>(&self, pipe: R, label: String) -> JoinHandle<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let tail = self.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&buf);
                        let line = text.trim_end();
                        tracing::debug!(target: "parti_top::nats_server", server = %label, "{line}");
                        tail.push(line);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let tail = OutputTail::new(3);
        assert_eq!(tail.render(), "  (no output)");
        for i in 0..5 {
            tail.push(&format!("line {i}"));
        }
        assert_eq!(tail.lines(), ["line 2", "line 3", "line 4"]);
        assert_eq!(tail.render(), "  line 2\n  line 3\n  line 4");
        tail.clear();
        assert!(tail.lines().is_empty());
    }

    #[tokio::test]
    async fn drain_reads_to_the_end() {
        let tail = OutputTail::new(2);
        let input: &[u8] = b"a\nb\r\nc";
        tail.drain(input, "test".into()).await.expect("drain task");
        assert_eq!(tail.lines(), ["b", "c"]);
    }

    #[test]
    fn liveness() {
        assert!(is_process_alive(std::process::id()));
        assert!(!is_process_alive(u32::MAX / 2));
    }

    #[tokio::test]
    async fn tied_children_run_and_are_reaped() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 7"]);
        let mut child = spawn_tied(cmd).await.expect("spawn");
        let status = child.wait().await.expect("wait");
        assert_eq!(status.code(), Some(7));
    }
}
