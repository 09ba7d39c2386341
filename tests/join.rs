//! Hosts started by hand (`parti-top host --join`), as on other machines: the controller runs
//! against a separate nats-server with `--join-hosts`, starts no host, and knows the hosts only
//! through NATS. The hosts are started by the test from the command the controller printed,
//! with the password only in their environment. A run reaches its verdict; a `kill -9` of a
//! joined host is a `HostLost` from its silence, not a hang; too few joins end the run with
//! exit 2 and say how many came; a join to a run nobody serves fails at once with one line;
//! `KillHost` of a joined host makes it exit at once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parti_top::observation::{ClusterEventKind, ProcessKind};
use parti_top::record::io::load;
use parti_top::testkit::TestServer;

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");

fn write_profile(dir: &Path, hosts: u32, steps: &str, max_findings: u32) -> PathBuf {
    let path = dir.join("join.ron");
    let body = format!(
        r#"(
    name: "join",
    cluster: (partitions: Count(40), timing: Preset(Fast), hosts: {hosts}),
    sample_interval: "250ms",
    quiet_period: "1s",
    steps: [{steps}],
    thresholds: (max_findings: {max_findings}),
)"#
    );
    std::fs::write(&path, body).expect("write profile");
    path
}

/// A child whose stderr is collected line by line as it comes.
struct Watched {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watched {
    fn spawn(mut command: Command) -> Watched {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("lines").push(line);
            }
        });
        Watched { child, lines }
    }

    fn stderr(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// The first stderr line `matches` accepts, waiting up to `within`.
    fn wait_line(&mut self, within: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .expect("lines")
                .iter()
                .find(|l| matches(l))
            {
                return line.clone();
            }
            let exited = self.child.try_wait().expect("try_wait").is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "no such line within {within:?} (exited: {exited}):\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the exit (killing the child after `within`), with stdout and all of stderr.
    fn finish(mut self, within: Duration) -> (Output, String) {
        let deadline = Instant::now() + within;
        while self.child.try_wait().expect("try_wait").is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("did not exit within {within:?}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = self.child.wait_with_output().expect("output");
        // The reader thread ends with the pipe; give it the last lines.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut text = self.lines.lock().expect("lines").join("\n");
        while Instant::now() < deadline && Arc::strong_count(&self.lines) > 1 {
            std::thread::sleep(Duration::from_millis(10));
            text = self.lines.lock().expect("lines").join("\n");
        }
        (output, text)
    }
}

/// The controller: headless, against `server`, waiting for its hosts to join.
fn controller(server: &TestServer, profile: &Path, record: &Path, extra: &[&str]) -> Watched {
    let auth = server.auth();
    let mut command = Command::new(BIN);
    command
        .args(["--headless", "--json", "--join-hosts", "--profile"])
        .arg(profile)
        .arg("--record")
        .arg(record)
        .args(["--server", server.url()])
        .args(extra)
        .env("NATS_USER", auth.user.expect("user"))
        .env("NATS_PASSWORD", auth.password.expect("password"))
        .env("PARTI_TOP_LOG", "warn");
    Watched::spawn(command)
}

/// The join command the controller printed (`parti-top host --join …`), as arguments.
fn printed_join_args(controller: &mut Watched) -> Vec<String> {
    let line = controller.wait_line(Duration::from_secs(20), |l| {
        l.contains("parti-top host --join")
    });
    let command = line
        .split_once("parti-top host ")
        .map(|(_, rest)| rest)
        .expect("command");
    let mut args = vec!["host".to_owned()];
    args.extend(command.split_whitespace().map(str::to_owned));
    args
}

/// A host started by hand with `args`, the password only in its environment.
fn joining_host(server: &TestServer, args: &[String]) -> Watched {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("NATS_USER")
        .env("NATS_PASSWORD", server.auth().password.expect("password"))
        .env("PARTI_TOP_LOG", "info,async_nats=warn");
    Watched::spawn(command)
}

fn summary(output: &Output, stderr: &str) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_started_by_hand_join_a_run_that_passes() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        2,
        r#"ScaleTo(4), WaitStable(timeout: "20s"), Hold("1s")"#,
        0,
    );
    let record = dir.path().join("run.ron");
    let mut run = controller(&server, &profile, &record, &["--run-id", "join-pass"]);
    let args = printed_join_args(&mut run);
    assert_eq!(
        args[..5],
        ["host", "--join", "join-pass", "--server", server.url()],
        "{args:?}"
    );
    let hosts: Vec<Watched> = (0..2).map(|_| joining_host(&server, &args)).collect();

    let (output, stderr) = run.finish(Duration::from_secs(60));
    let password = server.auth().password.expect("password");
    assert!(!stderr.contains(&password), "the password was printed");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(summary(&output, &stderr)["verdict"], "pass", "{stderr}");
    assert!(stderr.contains("host 1 joined from"), "{stderr}");

    // Both hosts ran workers, and left when the run ended, saying so.
    let recording = load(&record).expect("recording");
    for host in 0..2u32 {
        assert!(
            recording
                .events
                .iter()
                .any(|e| e.host == Some(host) && matches!(e.kind, ClusterEventKind::WorkerStarted)),
            "no worker started on host {host}"
        );
    }
    // Their own readings of RSS and CPU stand in for /proc, which cannot be read remotely.
    for host in 0..2u32 {
        assert!(
            recording.samples.iter().any(|s| s
                .processes
                .iter()
                .any(|p| p.process == ProcessKind::Host(host)
                    && p.rss_bytes > 0
                    && p.cpu_percent.is_some())),
            "no process figures of host {host}"
        );
    }
    for host in hosts {
        let (output, log) = host.finish(Duration::from_secs(20));
        assert_eq!(output.status.code(), Some(0), "{log}");
        assert!(log.contains("joined run join-pass as host"), "{log}");
        assert!(log.contains("the run ended"), "{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_host_killed_with_kill_9_is_lost_from_its_silence_and_the_run_ends() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The loss is the one finding the profile allows (an infrastructure finding, as for a
    // local host that dies unasked).
    let profile = write_profile(
        dir.path(),
        2,
        // After the loss, ScaleTo(4) must start the lost host's workers on the other one.
        r#"ScaleTo(4), WaitStable(timeout: "20s"), Hold("6s"), ScaleTo(4),
           WaitStable(timeout: "20s")"#,
        1,
    );
    let record = dir.path().join("run.ron");
    let mut run = controller(&server, &profile, &record, &["--run-id", "join-kill"]);
    let args = printed_join_args(&mut run);
    let mut first = joining_host(&server, &args);
    first.wait_line(Duration::from_secs(20), |l| l.contains("as host 0"));
    let second = joining_host(&server, &args);
    run.wait_line(Duration::from_secs(30), |l| l.contains(": hold 6s"));
    first.child.kill().expect("kill -9");
    let killed_at = Instant::now();
    first.child.wait().expect("reaped");

    let (output, stderr) = run.finish(Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("FINDING infrastructure: host 0 exited: silent for"),
        "{stderr}"
    );
    let recording = load(&record).expect("recording");
    let lost = recording
        .events
        .iter()
        .find_map(|e| match &e.kind {
            ClusterEventKind::HostLost { how } if e.host == Some(0) => Some(how.clone()),
            _ => None,
        })
        .expect("a HostLost of host 0");
    assert!(
        lost.contains("silent for") && lost.contains("joined host"),
        "{lost}"
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(40),
        "the run did not end in time after the kill"
    );
    // The last event, the second ScaleTo(4), ended with 4 workers, all on host 1.
    let summary = summary(&output, &stderr);
    let events = summary["events"].as_array().expect("events");
    let last = events.last().expect("an event");
    assert_eq!(last["workers_after"], 4, "{summary}");
    assert_eq!(last["outcome"], "stabilized", "{summary}");
    // The other host ran on and left at the end.
    let (output, log) = second.finish(Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains("the run ended"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_joins_end_the_run_with_exit_2_and_a_join_nobody_serves_fails_at_once() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(dir.path(), 2, r#"ScaleTo(2), Hold("1s")"#, 0);
    let record = dir.path().join("run.ron");
    let mut run = controller(
        &server,
        &profile,
        &record,
        &["--run-id", "join-short", "--join-timeout", "3s"],
    );
    let args = printed_join_args(&mut run);
    let lonely = joining_host(&server, &args);
    let (output, stderr) = run.finish(Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("only 1 of 2 hosts joined in 3s"),
        "{stderr}"
    );
    // The host that came is told to leave.
    let (output, log) = lonely.finish(Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains("the run ended"), "{log}");

    // Nobody serves this run: one clear line, exit 2, within a few seconds.
    let started = Instant::now();
    let mut args = args;
    args[2] = "nobody-runs-this".to_owned();
    let (output, log) = joining_host(&server, &args).finish(Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(started.elapsed() < Duration::from_secs(10), "{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("no controller serves run nobody-runs-this"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_host_makes_a_joined_host_exit_at_once_and_the_run_passes() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        2,
        r#"ScaleTo(4), WaitStable(timeout: "20s"), KillHost(1), WaitStable(timeout: "20s"),
           Hold("1s")"#,
        0,
    );
    let record = dir.path().join("run.ron");
    let mut run = controller(&server, &profile, &record, &["--run-id", "join-killhost"]);
    let args = printed_join_args(&mut run);
    let mut first = joining_host(&server, &args);
    first.wait_line(Duration::from_secs(20), |l| l.contains("as host 0"));
    let second = joining_host(&server, &args);

    // Host 1 exits at once, as after kill -9: no graceful stop of its workers.
    let (output, log) = second.finish(Duration::from_secs(40));
    assert_eq!(output.status.code(), Some(137), "{log}");
    assert!(log.contains("killed by the controller"), "{log}");
    assert!(!log.contains("stopping"), "{log}");

    let (output, stderr) = run.finish(Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(summary(&output, &stderr)["verdict"], "pass", "{stderr}");
    let recording = load(&record).expect("recording");
    let killed = recording
        .events
        .iter()
        .find_map(|e| match &e.kind {
            ClusterEventKind::HostLost { how } if e.host == Some(1) => Some(how.clone()),
            _ => None,
        })
        .expect("a HostLost of host 1");
    assert!(killed.contains("without cleanup"), "{killed}");
    let (output, log) = first.finish(Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(0), "{log}");
}
