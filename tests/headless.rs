//! The headless runner end to end: the real binary, a managed nats-server, real host
//! processes. Profiles are written into a temporary directory so each test runs a short,
//! specific scenario.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use parti_top::action::Action;
use parti_top::observation::ProcessKind;
use parti_top::record::format::Recording;
use parti_top::record::io::load;
use parti_top::testkit::{descendants, still_alive_after};

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");

fn write_profile(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.ron"));
    std::fs::write(&path, body).expect("write profile");
    path
}

fn headless(profile: &Path, record: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(["--headless", "--json", "--profile"])
        .arg(profile)
        .arg("--record")
        .arg(record)
        .env_remove("NATS_URL")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run parti-top")
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn profile_text(name: &str, hosts: u32, steps: &str, thresholds: &str) -> String {
    format!(
        r#"(
    name: "{name}",
    cluster: (partitions: Count(60), timing: Preset(Fast), hosts: {hosts}),
    sample_interval: "250ms",
    quiet_period: "1s",
    steps: [{steps}],
    thresholds: ({thresholds}),
)"#
    )
}

/// Run `steps` on `hosts` hosts with `max_findings: 0`, assert the run passed (exit 0), and
/// return its recording.
fn run_passing(name: &str, hosts: u32, steps: &str) -> Recording {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        name,
        &profile_text(name, hosts, steps, "max_findings: 0"),
    );
    let record = dir.path().join("run.ron");
    let output = headless(&profile, &record, &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    load(&record).expect("recording")
}

#[test]
fn scaling_up_and_down_to_zero_measures_every_event_with_no_findings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let steps = r#"ScaleTo(10), WaitStable(timeout: "30s"), ScaleTo(3), WaitStable(timeout: "30s"), ScaleTo(0), Hold("3s")"#;
    let profile = write_profile(
        dir.path(),
        "updown",
        &profile_text("updown", 1, steps, "max_findings: 0"),
    );
    let record = dir.path().join("run.ron");
    let output = headless(&profile, &record, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let summary = json(&output);
    assert_eq!(summary["verdict"], "pass", "{summary}");
    let recording = load(&record).expect("recording loads");
    assert!(recording.findings.is_empty(), "{:?}", recording.findings);
    let validated = Command::new(BIN)
        .arg("validate")
        .arg(&record)
        .output()
        .expect("validate");
    let said = String::from_utf8_lossy(&validated.stdout);
    assert!(
        validated.status.success() && said.starts_with("ok: recording of updown"),
        "{said}"
    );
    let stabilized: Vec<Option<u64>> = recording
        .measurements
        .iter()
        .map(|m| m.stabilization_ms)
        .collect();
    assert_eq!(stabilized.len(), 3, "{stabilized:?}");
    assert!(stabilized.iter().all(Option::is_some), "{stabilized:?}");
    let after: Vec<usize> = recording
        .measurements
        .iter()
        .map(|m| m.workers_after)
        .collect();
    assert_eq!(after, vec![10, 3, 0]);
    // The scale to zero is measured until the last worker ended: emptied, never "stable".
    assert!(
        recording.measurements[2].emptied(),
        "{:?}",
        recording.measurements[2]
    );
    assert!(
        recording
            .samples
            .iter()
            .any(|s| s.processes.iter().any(|p| p.live_heap_bytes.is_some()))
    );
}

#[test]
fn killing_a_follower_then_the_leader_converges_without_findings() {
    let steps = r#"ScaleTo(4), WaitStable(timeout: "30s"), KillWorker(AnyFollower), WaitStable(timeout: "30s"), KillLeader, WaitStable(timeout: "40s")"#;
    let recording = run_passing("kills", 1, steps);
    assert!(recording.findings.is_empty(), "{:?}", recording.findings);
    let after: Vec<usize> = recording
        .measurements
        .iter()
        .map(|m| m.workers_after)
        .collect();
    assert_eq!(after, vec![4, 3, 2]);
    assert!(
        recording
            .measurements
            .iter()
            .all(|m| m.stabilization_ms.is_some())
    );
}

#[test]
fn after_kill_9_of_a_host_the_survivors_converge() {
    let steps = r#"ScaleTo(6), WaitStable(timeout: "30s"), KillHost(1), WaitStable(timeout: "40s"), Hold("1s")"#;
    let recording = run_passing("hostkill", 2, steps);
    let after: Vec<usize> = recording
        .measurements
        .iter()
        .map(|m| m.workers_after)
        .collect();
    assert_eq!(after, vec![6, 3]);
}

#[test]
fn a_paused_host_and_a_restarted_nats_server_are_measured_until_workers_heartbeat_again_and_hosts_obey_after()
 {
    let steps = r#"ScaleTo(4), WaitStable(timeout: "30s"), PauseHost(host: 1, duration: "1500ms"), WaitStable(timeout: "30s"), RestartNats, WaitStable(timeout: "40s"), ScaleTo(2), WaitStable(timeout: "30s")"#;
    let recording = run_passing("faults", 2, steps);
    assert!(recording.findings.is_empty(), "{:?}", recording.findings);
    let stabilized: Vec<Option<u64>> = recording
        .measurements
        .iter()
        .map(|m| m.stabilization_ms)
        .collect();
    assert_eq!(stabilized.len(), 4, "{stabilized:?}");
    // The hosts take commands again after the restart.
    assert_eq!(recording.measurements[3].workers_after, 2);
    assert!(stabilized[3].is_some(), "{stabilized:?}");
    // The frozen host's last reports looked stable all along; only its workers' heartbeats
    // after the resume end the event.
    assert!(
        stabilized[1].is_some_and(|ms| ms >= 1_500),
        "pause: {stabilized:?}"
    );
    // Unchanged KV is not proof: the workers must have written to the restarted server.
    assert!(
        stabilized[2].is_some_and(|ms| ms > 0),
        "restart: {stabilized:?}"
    );
}

#[test]
fn a_host_paused_longer_than_every_ttl_comes_back_and_its_workers_are_stable_again() {
    // 10 s frozen: heartbeats (1.5 s), stable IDs (5 s) and the leader lease (5 s) all expire.
    let steps = r#"ScaleTo(3), WaitStable(timeout: "30s"), PauseHost(host: 0, duration: "10s"), WaitStable(timeout: "30s")"#;
    let recording = run_passing("long-pause", 1, steps);
    assert!(recording.findings.is_empty(), "{:?}", recording.findings);
    let pause = &recording.measurements[1];
    assert!(
        matches!(pause.action, Action::PauseHost { .. }),
        "{pause:?}"
    );
    assert_eq!(pause.workers_after, 3, "{pause:?}");
    assert!(
        pause.stabilization_ms.is_some_and(|ms| ms >= 10_000),
        "{pause:?}"
    );
    // The same host process reports its three workers after the pause.
    let stable_at = pause.t_start_ms + pause.stabilization_ms.unwrap_or(0);
    let reported_after = recording
        .samples
        .iter()
        .filter(|s| s.t_ms > stable_at)
        .flat_map(|s| s.processes.iter())
        .find(|p| p.process == ProcessKind::Host(0))
        .expect("a host sample after the pause");
    assert_eq!(reported_after.workers, Some(3));
    let first_pid = recording
        .samples
        .iter()
        .flat_map(|s| s.processes.iter())
        .find(|p| p.process == ProcessKind::Host(0))
        .map(|p| p.pid);
    assert_eq!(Some(reported_after.pid), first_pid);
}

#[test]
fn log_lines_name_each_host_once_and_count_in_the_right_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let steps = r#"ScaleTo(1), WaitStable(timeout: "30s")"#;
    let profile = write_profile(
        dir.path(),
        "one",
        &profile_text("one", 1, steps, "max_findings: 0"),
    );
    let output = headless(
        &profile,
        &dir.path().join("run.ron"),
        &[("PARTI_TOP_LOG", "info")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("host 0: ready for run"), "{stderr}");
    // How to point other NATS tools at the managed server.
    assert!(
        stderr.contains("connect other tools to nats://127.0.0.1:")
            && stderr.contains("python3 tools/check-cluster.py --context ")
            && stderr.contains("--partitions 60 --timing fast"),
        "{stderr}"
    );
    assert!(!stderr.contains("host 0: host 0"), "{stderr}");
    assert!(stderr.contains("partitions over 1 worker"), "{stderr}");
    assert!(!stderr.contains(" 1 workers"), "{stderr}");
}

#[test]
fn repeats_run_each_time_on_an_emptied_cluster_and_judge_every_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        "twice",
        &profile_text(
            "twice",
            1,
            r#"ScaleTo(2), WaitStable(timeout: "30s")"#,
            r#"max_findings: 0, stabilization: "20s""#,
        )
        .replace("steps:", "repeats: 2,\n    steps:"),
    );
    let record = dir.path().join("run.ron");
    let output = headless(&profile, &record, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let recording = load(&record).expect("recording");
    let actions: Vec<String> = recording
        .measurements
        .iter()
        .map(|m| m.action.label())
        .collect();
    // The second repeat starts from an empty cluster: its scale-up starts from zero.
    assert_eq!(actions, ["scale→2", "scale→0", "scale→2"], "{stderr}");
    assert!(
        recording.measurements[1].emptied(),
        "{:?}",
        recording.measurements[1]
    );
    assert_eq!(recording.measurements[2].workers_before, 0);
    assert!(recording.measurements[2].stabilization_ms.is_some());
}

#[test]
fn a_memory_threshold_catches_host_ballast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let steps = r#"ScaleTo(1), WaitStable(timeout: "30s"), Hold("1s")"#;
    let profile = write_profile(
        dir.path(),
        "ballast",
        &profile_text(
            "ballast",
            1,
            steps,
            r#"peak_rss_per_host: "128MiB", peak_live_heap_per_host: "64MiB""#,
        ),
    );
    let record = dir.path().join("run.ron");
    let output = headless(&profile, &record, &[("PARTI_TOP_HOST_BALLAST_MB", "256")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let summary = json(&output);
    assert_eq!(summary["verdict"], "fail");
    let text = summary.to_string();
    assert!(
        text.contains("peak RSS") && text.contains("128MiB"),
        "{text}"
    );
    assert!(stderr.contains("peak RSS of host 0"), "{stderr}");
}

#[test]
fn bad_profiles_exit_2_naming_the_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("never.ron");
    let syntax = write_profile(
        dir.path(),
        "syntax",
        "(\n  name: \"x\",\n  cluster: (partitions: Count(10)\n  steps: [],\n)",
    );
    let output = headless(&syntax, &record, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:", syntax.display())),
        "{stderr}"
    );

    let unknown = write_profile(
        dir.path(),
        "unknown",
        &profile_text("u", 1, "ScaleTo(1)", "max_findings: 0")
            .replace("quiet_period", "bogus_field"),
    );
    let output = headless(&unknown, &record, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:5:5:", unknown.display())) && stderr.contains("bogus_field"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.ron");
    let output = headless(&missing, &record, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.ron"));
    assert!(
        !record.exists(),
        "nothing is recorded for a run that could not start"
    );
}

#[test]
fn kill_9_of_the_controller_leaves_no_process_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let steps = r#"ScaleTo(2), WaitStable(timeout: "30s"), Hold("60s")"#;
    let profile = write_profile(
        dir.path(),
        "long",
        &profile_text("long", 2, steps, "max_findings: 0"),
    );
    let mut controller = Command::new(BIN)
        .args(["--headless", "--profile"])
        .arg(&profile)
        .arg("--record")
        .arg(dir.path().join("run.ron"))
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = controller.id();
    // Wait until the controller runs nats-server and both hosts.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut children = Vec::new();
    while Instant::now() < deadline {
        children = descendants(pid);
        if children.len() >= 3 && dir.path().join("run.ron").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        children.len() >= 3,
        "expected nats-server and two hosts, found {children:?}"
    );
    controller.kill().expect("kill -9");
    controller.wait().expect("reap");
    let left = still_alive_after(&children, Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:?}");
    // The autosaved recording is loadable.
    let recording = load(&dir.path().join("run.ron")).expect("autosaved recording");
    assert!(recording.summary.is_none());
}
