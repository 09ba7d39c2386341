//! Fault steps end to end, with the real binary, nats-server, fault proxies and host processes:
//! a cut link holds its event open until the link is back and every worker has heartbeated,
//! a slowed link delays a round trip, and `KillHostOf(Leader)` kills the host the leader ran on.

use std::process::{Command, Stdio};

use parti_top::action::{Action, WorkerTarget};
use parti_top::record::io::load;

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");

const PROFILE: &str = r#"(
    name: "faults",
    cluster: (partitions: Count(24), timing: Preset(Fast), hosts: 2),
    steps: [
        ScaleTo(4),
        WaitStable(timeout: "30s"),
        CutLink(host: 1, duration: "3s"),
        WaitStable(timeout: "45s"),
        ScaleTo(4),
        WaitStable(timeout: "30s"),
        SlowLink(host: 0, latency: "200ms", duration: "2s"),
        WaitStable(timeout: "30s"),
        KillHostOf(Leader),
        WaitStable(timeout: "30s"),
    ],
    thresholds: (max_findings: 0),
)"#;

#[test]
fn cut_and_slowed_links_and_the_leaders_host_kill_are_measured_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("faults.ron");
    std::fs::write(&profile, PROFILE).expect("write profile");
    let record = dir.path().join("run.ron");
    let output = Command::new(BIN)
        .args(["--headless", "--json", "--profile"])
        .arg(&profile)
        .arg("--record")
        .arg(&record)
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run parti-top");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let recording = load(&record).expect("recording");
    let measured = |pred: &dyn Fn(&Action) -> bool| {
        recording
            .measurements
            .iter()
            .find(|m| pred(&m.action))
            .unwrap_or_else(|| panic!("no such event in {:?}", recording.measurements))
            .clone()
    };
    let cut = measured(&|a| matches!(a, Action::CutLink { host: 1, .. }));
    let cut_ms = cut.stabilization_ms.expect("the cut event stabilized");
    assert!(
        cut_ms >= 3_000,
        "a cut event cannot stabilize before the link is back: {cut_ms} ms"
    );
    let slow = measured(&|a| matches!(a, Action::SlowLink { host: 0, .. }));
    assert!(
        slow.stabilization_ms.is_some_and(|ms| ms >= 2_000),
        "{slow:?}"
    );
    let kill = measured(&|a| *a == Action::KillHostOf(WorkerTarget::Leader));
    assert!(kill.stabilization_ms.is_some(), "{kill:?}");
    assert_eq!(
        kill.leader_changed,
        Some(true),
        "the leader's host went with the leader: {kill:?}"
    );
    // Half the workers went with their host.
    assert_eq!(kill.workers_after, 2, "{kill:?}");
}
