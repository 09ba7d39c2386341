//! `--metrics ADDR` end to end: the real binary runs a profile headless against a test
//! nats-server with `--metrics 127.0.0.1:0`; the test finds the address on stderr, scrapes
//! `/metrics` while the cluster holds, parses it strictly, and checks its workers, states,
//! leader, versions and partitions against the KV buckets read directly. A port already in
//! use stops the run before it starts, with exit code 2 and one clear line.

#[path = "../src/metrics/exposition_parser.rs"]
mod exposition_parser;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use exposition_parser::{Sample, parse, value};
use parti_top::parti::nats_kv::NatsStore;
use parti_top::testkit::{TestServer, snapshot, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");
const WORKERS: usize = 3;
const PARTITIONS: usize = 30;

fn write_profile(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("metrics.ron");
    let body = format!(
        r#"(
    name: "metrics",
    cluster: (partitions: Count({PARTITIONS}), timing: Preset(Fast), hosts: 1),
    sample_interval: "250ms",
    quiet_period: "1s",
    steps: [ScaleTo({WORKERS}), WaitStable(timeout: "20s"), Hold("60s")],
    thresholds: (max_findings: 0),
)"#
    );
    std::fs::write(&path, body).expect("write profile");
    path
}

/// The binary, headless, against `server` (or an unreachable URL), with `--metrics addr`.
fn spawn_run(dir: &Path, url: &str, auth: Option<(String, String)>, metrics: &str) -> Child {
    let mut command = Command::new(BIN);
    command
        .args(["--headless", "--profile"])
        .arg(write_profile(dir))
        .arg("--record")
        .arg(dir.join("run.ron"))
        .args(["--server", url, "--metrics", metrics])
        .env_remove("NATS_URL")
        .env_remove("NATS_USER")
        .env_remove("NATS_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some((user, password)) = auth {
        command
            .env("NATS_USER", user)
            .env("NATS_PASSWORD", password);
    }
    command.spawn().expect("spawn parti-top")
}

/// Stderr, read on a thread: every line kept (for failure messages), the exporter's address
/// sent once it is announced.
fn follow_stderr(child: &mut Child) -> (mpsc::Receiver<SocketAddr>, Arc<Mutex<String>>) {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let log = Arc::new(Mutex::new(String::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("metrics on http://").nth(1)
                && let Some(addr) = rest.strip_suffix("/metrics")
                && let Ok(addr) = addr.parse()
            {
                let _ = tx.send(addr);
            }
            let mut kept = kept.lock().expect("log");
            kept.push_str(&line);
            kept.push('\n');
        }
    });
    (rx, log)
}

/// One scrape: the body of a 200 answer, or why not.
async fn scrape(addr: SocketAddr) -> Result<String, String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        let answer = String::from_utf8(answer).map_err(|e| e.to_string())?;
        let (head, body) = answer.split_once("\r\n\r\n").ok_or("no head")?;
        if !head.starts_with("HTTP/1.1 200 ")
            || !head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8")
        {
            return Err(format!("unexpected head: {head}"));
        }
        Ok(body.to_owned())
    };
    tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .map_err(|_| "no answer within 3 s".to_owned())?
}

/// Worker ID → value, for one per-worker family.
fn per_worker(samples: &[Sample], name: &str) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| (s.labels["worker_id"].clone(), s.value))
        .collect()
}

/// The run, stopped (SIGTERM, then waited for) however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_during_a_run_agrees_with_the_kv_buckets() {
    let server = TestServer::start().await;
    let auth = server.auth();
    let dir = tempfile::tempdir().expect("tempdir");
    let credentials = (auth.user.expect("user"), auth.password.expect("password"));
    let mut child = Running(spawn_run(
        dir.path(),
        server.url(),
        Some(credentials),
        "127.0.0.1:0",
    ));
    let (addresses, log) = follow_stderr(&mut child.0);
    let addr = tokio::task::spawn_blocking(move || addresses.recv_timeout(Duration::from_secs(10)))
        .await
        .expect("join")
        .unwrap_or_else(|_| {
            panic!(
                "no metrics address on stderr:\n{}",
                log.lock().expect("log")
            )
        });
    assert_ne!(addr.port(), 0);

    // Poll until the exporter shows the cluster stable with every worker Stable.
    let stable = wait_until(Duration::from_secs(25), || async {
        let Ok(body) = scrape(addr).await else {
            return false;
        };
        let Ok(samples) = parse(&body) else {
            return false;
        };
        value(&samples, "parti_top_cluster_stable", &[]) == Some(1.0)
            && value(&samples, "parti_workers", &[("state", "Stable")]) == Some(WORKERS as f64)
    })
    .await;
    assert!(
        stable,
        "never stable on /metrics:\n{}",
        log.lock().expect("log")
    );

    let reader = NatsStore::new(server.client().await);
    let kv = snapshot(&reader).await.expect("snapshot of the buckets");
    let body = scrape(addr).await.expect("scrape");
    let samples = parse(&body).unwrap_or_else(|err| panic!("{err}\n{body}"));

    // Workers: the heartbeat keys, all Stable, and none in any other state.
    let live: BTreeSet<String> = kv.live();
    assert_eq!(live.len(), WORKERS, "{kv:?}");
    let states: Vec<(String, String)> = samples
        .iter()
        .filter(|s| s.name == "parti_worker_state")
        .map(|s| (s.labels["worker_id"].clone(), s.labels["state"].clone()))
        .collect();
    let expected: Vec<(String, String)> = live
        .iter()
        .map(|id| (id.clone(), "Stable".to_owned()))
        .collect();
    assert_eq!(states, expected, "{body}");
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == "parti_workers")
        .map(|s| s.value)
        .sum();
    assert_eq!(total, WORKERS as f64, "{body}");

    // The leader: the election bucket's key.
    let leader = kv.leader_id().expect("a leader key").to_owned();
    let leaders: Vec<String> = per_worker(&samples, "parti_is_leader")
        .into_iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(leaders, [leader], "{body}");
    assert!(value(&samples, "parti_leader_changes_total", &[]) >= Some(1.0));

    // Partitions and versions: the assignment bucket's.
    let partitions: BTreeMap<String, f64> = kv
        .assignments
        .iter()
        .map(|(id, a)| (id.clone(), a.partitions.len() as f64))
        .collect();
    assert_eq!(
        per_worker(&samples, "parti_assigned_partitions"),
        partitions
    );
    assert_eq!(partitions.values().sum::<f64>(), PARTITIONS as f64);
    let newest = kv
        .assignments
        .values()
        .map(|a| a.version)
        .max()
        .expect("assignments");
    assert_eq!(
        value(&samples, "parti_assignment_version", &[]),
        Some(newest as f64)
    );

    // Heartbeats are recent, processes are measured, nothing was found.
    let ages = per_worker(&samples, "parti_heartbeat_age_seconds");
    assert_eq!(ages.keys().cloned().collect::<BTreeSet<_>>(), live);
    assert!(ages.values().all(|age| *age < 3.0), "{ages:?}");
    let rss = |process| {
        value(
            &samples,
            "parti_top_process_resident_memory_bytes",
            &[("process", process)],
        )
    };
    assert!(rss("host-0").is_some_and(|b| b > 1e6), "{body}");
    assert!(rss("controller").is_some_and(|b| b > 1e6), "{body}");
    assert_eq!(
        value(
            &samples,
            "parti_top_process_workers",
            &[("process", "host-0")]
        ),
        Some(WORKERS as f64)
    );
    let findings: f64 = samples
        .iter()
        .filter(|s| s.name == "parti_top_findings_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(findings, 0.0, "{body}");
    drop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_stops_the_run_before_it_starts_with_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    // Nothing listens on port 1: a run that started would fail on NATS instead.
    let dir = tempfile::tempdir().expect("tempdir");
    let child = spawn_run(dir.path(), "nats://127.0.0.1:1", None, &addr);
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("--metrics"))
        .unwrap_or_else(|| panic!("no line names --metrics:\n{stderr}"));
    assert!(line.contains(&addr), "{line}");
    assert!(line.to_lowercase().contains("in use"), "{line}");
    assert!(
        !stderr.contains("nats://127.0.0.1:1"),
        "the run went on to NATS:\n{stderr}"
    );
    assert!(!dir.path().join("run.ron").exists());
    drop(taken);
}

/// `parti-top host` with `workers` workers, `PARTITIONS` partitions, fast timing.
fn spawn_host(url: &str, user: &str, password: &str, workers: usize) -> Running {
    Running(
        Command::new(BIN)
            .args(["host", "--server", url, "--timing", "fast"])
            .args(["--partitions", &PARTITIONS.to_string()])
            .args(["--workers", &workers.to_string()])
            .env("NATS_USER", user)
            .env("NATS_PASSWORD", password)
            .env("PARTI_TOP_LOG", "warn")
            .env_remove("NATS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn host"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_metrics_agree_with_the_kv_buckets_of_a_cluster_it_did_not_start() {
    let server = TestServer::start().await;
    let auth = server.auth();
    let (user, password) = (auth.user.expect("user"), auth.password.expect("password"));
    let _host = spawn_host(server.url(), &user, &password, WORKERS);
    let reader = NatsStore::new(server.client().await);
    // Attach needs the buckets: wait for the cluster to create them.
    assert!(
        wait_until(Duration::from_secs(20), || async {
            snapshot(&reader)
                .await
                .is_some_and(|s| s.live().len() == WORKERS)
        })
        .await,
        "the hand-started cluster never showed {WORKERS} heartbeats"
    );
    let mut attach = Running(
        Command::new(BIN)
            .args(["attach", "--headless", "--server", server.url()])
            .args(["--metrics", "127.0.0.1:0"])
            .env("NATS_USER", &user)
            .env("NATS_PASSWORD", &password)
            .env_remove("NATS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn attach"),
    );
    let (addresses, log) = follow_stderr(&mut attach.0);
    let addr = tokio::task::spawn_blocking(move || addresses.recv_timeout(Duration::from_secs(10)))
        .await
        .expect("join")
        .unwrap_or_else(|_| panic!("no metrics address:\n{}", log.lock().expect("log")));

    // Poll until the exporter and the buckets agree on a settled cluster.
    let last = Arc::new(Mutex::new(String::new()));
    let agreed = wait_until(Duration::from_secs(25), || {
        let reader = &reader;
        let last = last.clone();
        async move {
            let (Ok(body), Some(kv)) = (scrape(addr).await, snapshot(reader).await) else {
                return false;
            };
            let Ok(samples) = parse(&body) else {
                *last.lock().expect("last") = body;
                return false;
            };
            *last.lock().expect("last") = body;
            let partitions: BTreeMap<String, f64> = kv
                .assignments
                .iter()
                .map(|(id, a)| (id.clone(), a.partitions.len() as f64))
                .collect();
            let leaders: Vec<String> = per_worker(&samples, "parti_is_leader")
                .into_iter()
                .filter(|(_, v)| *v == 1.0)
                .map(|(id, _)| id)
                .collect();
            let newest = kv.assignments.values().map(|a| a.version).max();
            value(&samples, "parti_top_cluster_stable", &[]) == Some(1.0)
                && samples
                    .iter()
                    .any(|s| s.name == "parti_top_info" && s.labels["mode"] == "attach")
                && per_worker(&samples, "parti_assigned_partitions") == partitions
                && partitions.len() == WORKERS
                && kv.leader_id().is_some_and(|l| leaders == [l.to_owned()])
                && value(&samples, "parti_assignment_version", &[]) == newest.map(|v| v as f64)
                && per_worker(&samples, "parti_heartbeat_age_seconds")
                    .keys()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    == kv.live()
        }
    })
    .await;
    assert!(
        agreed,
        "attach's /metrics never agreed with the buckets:\n{}",
        last.lock().expect("last")
    );
    drop(attach);
}
