//! Everything that can be checked before a run is checked before it: each case below exits 2
//! with one line naming the problem, quickly, and starts nothing. "Nothing" is checked for real:
//! the nats-server given to parti-top is a script that leaves a mark when it is run (even the
//! version check runs it), and no recording appears.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");

fn smoke() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/smoke.ron")
}

/// A nats-server stand-in that marks `marker` when anything runs it.
fn marking_server(dir: &Path, marker: &Path) -> PathBuf {
    let script = dir.join("nats-server");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.display()),
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

/// Run parti-top with `args` (no terminal), and assert it refused before starting anything:
/// exit 2, one line on stderr containing every one of `says`, nothing on stdout.
fn refused_before_the_run(args: &[&str], says: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("nats-server-ran");
    let server = marking_server(dir.path(), &marker);
    let started = Instant::now();
    let output = Command::new(BIN)
        .args(args)
        .arg("--nats-server")
        .arg(&server)
        .env_remove("NATS_URL")
        .env("PARTI_TOP_NATS_SERVER", &server)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run parti-top");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got: {stderr}"
    );
    for said in says {
        assert!(stderr.contains(said), "{args:?}: {said:?} not in: {stderr}");
    }
    assert!(
        output.stdout.is_empty(),
        "{args:?}: stdout: {:?}",
        output.stdout
    );
    assert!(!marker.exists(), "{args:?}: nats-server was started");
    assert!(
        !dir.path().join("recordings").exists(),
        "{args:?}: a recording was started"
    );
    // A full smoke run takes about 25 s; a refusal before it is immediate.
    assert!(took < Duration::from_secs(5), "{args:?}: took {took:?}");
}

#[test]
fn unwritable_outputs_are_refused_before_the_run() {
    let profile = smoke();
    let profile = profile.to_str().expect("utf-8 path");
    refused_before_the_run(
        &[
            "--headless",
            "--profile",
            profile,
            "--record",
            "/proc/x.ron",
        ],
        &["--record /proc/x.ron", "cannot create files in /proc"],
    );
    refused_before_the_run(
        &["--headless", "--profile", profile, "--record", "/tmp"],
        &["--record /tmp", "is a directory"],
    );
    refused_before_the_run(
        &["--headless", "--profile", profile, "--junit", "/proc/x.xml"],
        &["--junit /proc/x.xml", "cannot create files in /proc"],
    );
    // The dashboard checks its recording path too (after the terminal: see below).
}

#[test]
fn an_existing_recording_is_not_overwritten_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let existing = dir.path().join("kept.ron");
    std::fs::write(&existing, "evidence").expect("write");
    let profile = smoke();
    refused_before_the_run(
        &[
            "--headless",
            "--profile",
            profile.to_str().expect("utf-8"),
            "--record",
            existing.to_str().expect("utf-8"),
        ],
        &["the file exists", "--force"],
    );
    assert_eq!(
        std::fs::read_to_string(&existing).expect("read"),
        "evidence"
    );
}

#[test]
fn a_baseline_of_another_setup_or_an_incomplete_one_is_refused_naming_force() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/golden/small-v2.ron");
    let profile = smoke();
    refused_before_the_run(
        &[
            "--headless",
            "--profile",
            profile.to_str().expect("utf-8"),
            "--baseline",
            golden.to_str().expect("utf-8"),
        ],
        &[
            "setups differ",
            "partitions: 100 here, 12 in the baseline",
            "--force",
        ],
    );
    // An autosave of a run that never finished: no summary.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut partial = parti_top::record::io::load(&golden).expect("golden");
    partial.summary = None;
    partial.header.profile = parti_top::profile::load(&profile).expect("smoke");
    let partial_path = dir.path().join("autosave.ron");
    parti_top::record::io::save_atomic(&partial, &partial_path).expect("save");
    refused_before_the_run(
        &[
            "--headless",
            "--profile",
            profile.to_str().expect("utf-8"),
            "--baseline",
            partial_path.to_str().expect("utf-8"),
        ],
        &["incomplete", "no summary", "--force"],
    );
}

#[test]
fn workers_beyond_the_process_limits_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("huge.ron");
    std::fs::write(
        &profile,
        r#"(name: "huge", cluster: (partitions: Count(100), worker_id_max: 99999),
            steps: [ScaleTo(100000), WaitStable(timeout: "60s")])"#,
    )
    .expect("write");
    // Whether descriptors or memory run out first depends on the machine; both are named.
    refused_before_the_run(
        &["--headless", "--profile", profile.to_str().expect("utf-8")],
        &["huge: 100000 workers need about"],
    );
}

#[test]
fn the_dashboard_without_a_terminal_says_so_and_starts_nothing() {
    refused_before_the_run(&[], &["no terminal: use --headless"]);
    let profile = smoke();
    refused_before_the_run(
        &["--profile", profile.to_str().expect("utf-8")],
        &["no terminal"],
    );
}
