//! Failures of the run's surroundings, not of the cluster under test. A managed nats-server
//! that dies without a step asking for it is an infrastructure failure: a finding at once, the
//! run stops, the hosts go without waiting on a graceful stop that cannot happen, the summary
//! still reaches stdout, and the exit code is 2 (could not run), not 1. An output that cannot
//! be written at the end does not take the summary with it. A controller killed while a host is
//! frozen by a pause leaves nothing behind.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parti_top::nats::process::is_process_alive;
use parti_top::observation::Check;
use parti_top::record::io::load;
use parti_top::testkit::{descendants, still_alive_after};

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");

/// The pid of the nats-server among `pids`.
fn nats_server(pids: &[u32]) -> Option<u32> {
    pids.iter().copied().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| comm.trim() == "nats-server")
    })
}

/// Start a headless run of `steps` (fast timing, 30 partitions) recording to `dir/run.ron`,
/// with `extra` arguments, stdout and stderr piped.
fn spawn_run(dir: &Path, steps: &str, extra: &[&std::ffi::OsStr]) -> std::process::Child {
    let profile = dir.join("run-profile.ron");
    std::fs::write(
        &profile,
        format!(
            r#"(
    name: "surroundings",
    cluster: (partitions: Count(30), timing: Preset(Fast)),
    sample_interval: "250ms",
    steps: [{steps}],
)"#
        ),
    )
    .expect("write profile");
    Command::new(BIN)
        .args(["--headless", "--profile"])
        .arg(&profile)
        .arg("--record")
        .arg(dir.join("run.ron"))
        .args(extra)
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

#[test]
fn a_nats_server_that_dies_unasked_ends_the_run_at_once_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("run.ron");
    let mut controller = spawn_run(
        dir.path(),
        r#"ScaleTo(2), WaitStable(timeout: "30s"), Hold("60s")"#,
        &[],
    );
    let pid = controller.id();
    // Wait for the cluster to be stable (the first event measured and autosaved).
    let deadline = Instant::now() + Duration::from_secs(40);
    let nats = loop {
        let stable = load(&record).is_ok_and(|r| !r.measurements.is_empty());
        if stable && let Some(nats) = nats_server(&descendants(pid)) {
            break nats;
        }
        assert!(Instant::now() < deadline, "the cluster never became stable");
        std::thread::sleep(Duration::from_millis(100));
    };
    let children = descendants(pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(nats).expect("pid")),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill nats-server");
    let killed = Instant::now();
    // The 60 s hold is cut short: the run ends well before it would have.
    let deadline = killed + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = controller.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = controller.kill();
            panic!("the run went on for 20 s after nats-server died");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    controller
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    controller
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("infrastructure failure: nats-server (pid")
            && stderr.contains("is gone, and no step asked for it"),
        "{stderr}"
    );
    // The summary still reaches stdout, with the finding.
    assert!(stdout.contains("findings: 1"), "{stdout}");
    assert!(stdout.contains("verdict:"), "{stdout}");
    let recording = load(&record).expect("final recording");
    assert!(
        recording
            .findings
            .iter()
            .any(|f| f.check == Check::Infrastructure && f.message.contains("nats-server")),
        "{:?}",
        recording.findings
    );
    assert!(recording.summary.is_some());
    let left = still_alive_after(&children, Duration::ZERO);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || !is_process_alive(pid));
}

#[test]
fn an_output_that_cannot_be_written_at_the_end_leaves_the_summary_on_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).expect("mkdir");
    let record = dir.path().join("run.ron");
    let junit = reports.join("junit.xml");
    let controller = spawn_run(
        dir.path(),
        r#"ScaleTo(1), WaitStable(timeout: "30s"), Hold("2s")"#,
        &["--junit".as_ref(), junit.as_os_str()],
    );
    // The checks before the run passed; now the report's directory goes away.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !record.exists() {
        assert!(Instant::now() < deadline, "the run never started recording");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_dir(&reports).expect("remove the report directory");
    let output = controller.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "cannot write {}",
            reports.join("junit.xml").display()
        )),
        "{stderr}"
    );
    assert!(load(&record).is_ok_and(|r| r.summary.is_some()));
}

#[test]
fn kill_9_of_the_controller_while_a_host_is_paused_leaves_no_process_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("run.ron");
    let mut controller = spawn_run(
        dir.path(),
        r#"ScaleTo(2), WaitStable(timeout: "30s"), PauseHost(host: 0, duration: "60s"), Hold("60s")"#,
        &[],
    );
    let pid = controller.id();
    // Wait until the pause is under way (the autosave holds its action).
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let paused = load(&record).is_ok_and(|r| {
            r.timeline.iter().any(|entry| {
                matches!(
                    entry,
                    parti_top::record::format::TimelineEntry::Action(a)
                        if matches!(a.action, parti_top::action::Action::PauseHost { .. })
                )
            })
        });
        if paused {
            break;
        }
        assert!(Instant::now() < deadline, "the pause never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let children = descendants(pid);
    assert!(
        children.len() >= 2,
        "expected nats-server and a host: {children:?}"
    );
    controller.kill().expect("kill -9");
    controller.wait().expect("reap");
    let left = still_alive_after(&children, Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:?}");
}
