//! The dashboard end to end: the real binary in a pseudo-terminal on the managed default setup.
//! Keys reach the cluster and the recording's timeline; an operator's session replays headless
//! at its recorded offsets (and fails with ballast); quitting does not wait behind a serial
//! start.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parti_top::action::{Action, ActionSource};
use parti_top::observation::ClusterEventKind;
use parti_top::record::format::{Recording, TimelineEntry};
use parti_top::record::io::load;
use parti_top::testkit::{descendants, still_alive_after};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");

/// Poll the autosaved recording until `ready` holds for it.
fn wait_for(
    path: &Path,
    within: Duration,
    ready: impl Fn(&Recording) -> bool,
) -> Option<Recording> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(recording) = load(path)
            && ready(&recording)
        {
            return Some(recording);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

fn settled_with(recording: &Recording, workers: usize) -> bool {
    recording
        .measurements
        .iter()
        .any(|m| m.workers_after == workers && m.stabilization_ms.is_some())
}

/// The dashboard in a pseudo-terminal: its output collected, keys written to it.
struct Dashboard {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    keys: Box<dyn Write + Send>,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Dashboard {
    fn spawn(dir: &Path, args: &[&str]) -> Dashboard {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("pty");
        let mut command = CommandBuilder::new(BIN);
        command.args(args);
        command.env("TERM", "xterm-256color");
        command.env_remove("NATS_URL");
        command.cwd(dir);
        let child = pty.slave.spawn_command(command).expect("spawn parti-top");
        drop(pty.slave);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("output").extend_from_slice(&buffer[..n]);
            }
        });
        let keys = pty.master.take_writer().expect("writer");
        Dashboard {
            child,
            keys,
            output,
        }
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("output")).into_owned()
    }

    fn press(&mut self, keys: &[u8]) {
        self.keys.write_all(keys).expect("press");
        self.keys.flush().expect("flush");
    }

    fn pid(&self) -> u32 {
        self.child.process_id().expect("pid")
    }

    /// Wait for the exit; panics after `within`.
    fn exit_within(&mut self, within: Duration) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "parti-top did not quit within {within:?}; terminal: {}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn plus_three_times_adds_three_stable_workers_and_the_recording_keeps_the_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("session.ron");
    let mut dashboard = Dashboard::spawn(dir.path(), &["--record", "session.ron"]);

    let started = wait_for(&record, Duration::from_secs(60), |r| settled_with(r, 3));
    assert!(
        started.is_some(),
        "the three default workers never settled; terminal: {}",
        dashboard.screen()
    );
    let processes = descendants(dashboard.pid());
    assert!(
        processes.len() >= 2,
        "nats-server and a host run under parti-top: {processes:?}"
    );

    dashboard.press(b"+++");
    let grown = wait_for(&record, Duration::from_secs(60), |r| settled_with(r, 6));
    assert!(
        grown.is_some(),
        "six workers never settled; terminal: {}",
        dashboard.screen()
    );

    // `k` moves up, `K` asks first and `n` cancels: neither kills. `m` asks for a label; the
    // default (`1`) plus a typed `x` is what the timeline records.
    dashboard.press(b"kKn");
    dashboard.press(b"mx\r");
    let marked = wait_for(&record, Duration::from_secs(30), |r| {
        r.timeline.iter().any(
            |entry| matches!(entry, TimelineEntry::Action(a) if a.action == Action::Mark("1x".into())),
        )
    });
    let Some(marked) = marked else {
        panic!(
            "the mark never reached the timeline; terminal: {}",
            dashboard.screen()
        );
    };
    assert!(
        !marked.timeline.iter().any(|entry| matches!(
            entry,
            TimelineEntry::Action(a) if matches!(a.action, Action::KillWorker(_))
        )),
        "k, K and n killed nothing: {:?}",
        marked.timeline
    );

    dashboard.press(b"q");
    let status = dashboard.exit_within(Duration::from_secs(45));
    assert!(status.success(), "exit status {status:?}");
    let left = still_alive_after(&processes, Duration::from_secs(10));
    assert!(left.is_empty(), "left behind: {left:?}");
    let printed = wait_until_blocking(Duration::from_secs(5), || {
        dashboard.screen().contains("recording saved to")
    });
    assert!(
        printed,
        "the path is printed after the terminal is restored: {}",
        dashboard.screen()
    );

    let recording = load(&record).expect("final recording");
    let presses: Vec<&TimelineEntry> = recording
        .timeline
        .iter()
        .filter(|entry| matches!(entry, TimelineEntry::Action(a) if a.action == Action::AddWorkers(1) && a.source == ActionSource::Operator))
        .collect();
    assert_eq!(presses.len(), 3, "{:?}", recording.timeline);
    assert!(recording.summary.is_some());
}

fn wait_until_blocking(within: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ready()
}

/// The actions of a recording with their offsets.
fn actions(recording: &Recording) -> Vec<(u64, Action)> {
    recording
        .actions()
        .filter(|a| a.error.is_none())
        .map(|a| (a.t_ms, a.action.clone()))
        .collect()
}

/// An operator's session (two `+`, a leader kill, `q`) replays headless: exit 0 with a
/// per-event comparison, the same actions in the same order each within 1 s of its recorded
/// offset; with 64 MiB of ballast in every host the same replay fails naming memory.
#[test]
fn an_interactive_session_replays_headless_and_ballast_fails_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("session.ron");
    let mut dashboard = Dashboard::spawn(dir.path(), &["--record", "session.ron"]);
    let started = wait_for(&record, Duration::from_secs(60), |r| settled_with(r, 3));
    assert!(started.is_some(), "terminal: {}", dashboard.screen());
    dashboard.press(b"++");
    let grown = wait_for(&record, Duration::from_secs(60), |r| settled_with(r, 5));
    assert!(grown.is_some(), "terminal: {}", dashboard.screen());
    dashboard.press(b"Ly");
    let killed = wait_for(&record, Duration::from_secs(60), |r| {
        r.measurements.iter().any(|m| {
            m.action == Action::KillWorker(parti_top::action::WorkerTarget::Leader)
                && m.stabilization_ms.is_some()
        })
    });
    assert!(killed.is_some(), "terminal: {}", dashboard.screen());
    dashboard.press(b"q");
    let status = dashboard.exit_within(Duration::from_secs(45));
    assert!(status.success(), "exit status {status:?}");
    let source = load(&record).expect("source recording");

    let replayed = dir.path().join("replay.ron");
    let output = std::process::Command::new(BIN)
        .args([
            "replay",
            "session.ron",
            "--headless",
            "--record",
            "replay.ron",
        ])
        .current_dir(dir.path())
        .env_remove("NATS_URL")
        .output()
        .expect("run the replay");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    // The kill is either compared or set aside with its reason (a failover may take a
    // different number of versions to settle than it did in the session); either way the
    // comparison names it beside the compared memory of the host.
    let comparison = stdout.split("baseline: run").nth(1).unwrap_or_default();
    assert!(
        comparison.contains("peak RSS of host 0") && comparison.contains("event 4 (kill leader)"),
        "a per-event comparison is printed: {stdout}"
    );
    let replay = load(&replayed).expect("replay recording");
    assert!(
        matches!(&replay.header.mode, parti_top::record::RunMode::Replay { source } if source.ends_with("session.ron")),
        "{:?}",
        replay.header.mode
    );
    let (recorded, again) = (actions(&source), actions(&replay));
    let names = |list: &[(u64, Action)]| list.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&again),
        names(&recorded),
        "the same actions in the same order"
    );
    for ((t_source, action), (t_replay, _)) in recorded.iter().zip(&again) {
        assert!(
            t_source.abs_diff(*t_replay) <= 1_000,
            "{action} at {t_replay} ms, recorded at {t_source} ms"
        );
    }

    let output = std::process::Command::new(BIN)
        .args([
            "replay",
            "session.ron",
            "--headless",
            "--record",
            "ballast.ron",
        ])
        .current_dir(dir.path())
        .env_remove("NATS_URL")
        .env(parti_top::procfs::BALLAST_ENV, "64")
        .output()
        .expect("run the replay with ballast");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("regressed against the baseline: peak RSS of host 0"),
        "names the memory metric: {stderr}"
    );
}

/// Quitting while a serial start of ten workers is under way does not wait for it: the action
/// is cancelled, the workers that did start are stopped, and nothing is left running.
#[test]
fn quitting_in_the_middle_of_a_serial_start_does_not_wait_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("serial.ron"),
        r#"(
    name: "serial",
    cluster: (
        partitions: Count(50),
        timing: Preset(Integration),
        start_mode: Serial,
        hosts: 1,
    ),
    steps: [ScaleTo(10)],
)"#,
    )
    .expect("write profile");
    let record = dir.path().join("serial-run.ron");
    let mut dashboard = Dashboard::spawn(
        dir.path(),
        &["--profile", "serial.ron", "--record", "serial-run.ron"],
    );
    let two_started = wait_for(&record, Duration::from_secs(90), |r| {
        r.events
            .iter()
            .filter(|e| e.kind == ClusterEventKind::WorkerStarted)
            .count()
            >= 2
    });
    assert!(two_started.is_some(), "terminal: {}", dashboard.screen());
    let processes = descendants(dashboard.pid());
    let pressed = Instant::now();
    dashboard.press(b"q");
    let status = dashboard.exit_within(Duration::from_secs(15));
    let quit_after = pressed.elapsed();
    eprintln!("quit {quit_after:?} after q");
    assert!(status.success(), "exit status {status:?}");
    let left = still_alive_after(&processes, Duration::from_secs(10));
    assert!(left.is_empty(), "left behind: {left:?}");
    let recording = load(&record).expect("final recording");
    let started = recording
        .events
        .iter()
        .filter(|e| e.kind == ClusterEventKind::WorkerStarted)
        .count();
    assert!(
        started < 10,
        "the serial start was cut short: {started} workers started"
    );
}
