//! The dashboard end to end: the real binary in a pseudo-terminal on the managed default setup.
//! It waits for the three default workers, presses `+` three times, sees six workers settle,
//! checks that `k` (move up) and a cancelled `K` kill nothing and that `m` records the label
//! typed into its prompt, quits with `q`, and finds the three key presses in the recording's
//! timeline.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parti_top::action::{Action, ActionSource};
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

#[test]
fn plus_three_times_adds_three_stable_workers_and_the_recording_keeps_the_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("session.ron");
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut command = CommandBuilder::new(BIN);
    command.arg("--record");
    command.arg(&record);
    command.env("TERM", "xterm-256color");
    command.env_remove("NATS_URL");
    command.cwd(dir.path());
    let mut child = pty.slave.spawn_command(command).expect("spawn parti-top");
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
    let mut keys = pty.master.take_writer().expect("writer");
    let screen = || String::from_utf8_lossy(&output.lock().expect("output")).into_owned();

    let started = wait_for(&record, Duration::from_secs(60), |r| settled_with(r, 3));
    assert!(
        started.is_some(),
        "the three default workers never settled; terminal: {}",
        screen()
    );
    let pid = child.process_id().expect("pid");
    let processes = descendants(pid);
    assert!(
        processes.len() >= 2,
        "nats-server and a host run under parti-top: {processes:?}"
    );

    for _ in 0..3 {
        keys.write_all(b"+").expect("press +");
        keys.flush().expect("flush");
    }
    let grown = wait_for(&record, Duration::from_secs(60), |r| settled_with(r, 6));
    assert!(
        grown.is_some(),
        "six workers never settled; terminal: {}",
        screen()
    );

    // `k` moves up, `K` asks first and `n` cancels: neither kills. `m` asks for a label; the
    // default (`1`) plus a typed `x` is what the timeline records.
    keys.write_all(b"kKn").expect("press k, K, n");
    keys.flush().expect("flush");
    keys.write_all(b"mx\r").expect("mark with a label");
    keys.flush().expect("flush");
    let marked = wait_for(&record, Duration::from_secs(30), |r| {
        r.timeline.iter().any(
            |entry| matches!(entry, TimelineEntry::Action(a) if a.action == Action::Mark("1x".into())),
        )
    });
    let Some(marked) = marked else {
        panic!(
            "the mark never reached the timeline; terminal: {}",
            screen()
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

    keys.write_all(b"q").expect("press q");
    keys.flush().expect("flush");
    let deadline = Instant::now() + Duration::from_secs(45);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "parti-top did not quit; terminal: {}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status:?}");
    let left = still_alive_after(&processes, Duration::from_secs(10));
    assert!(left.is_empty(), "left behind: {left:?}");
    std::thread::sleep(Duration::from_millis(200));
    let text = screen();
    assert!(
        text.contains("recording saved to"),
        "the path is printed after the terminal is restored: {text}"
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
