//! `parti-top attach` against real clusters: `--once --json` agrees with the KV buckets read
//! directly, names stale workers after `kill -9` of their host (exit 1) until a new host makes
//! the cluster valid again (exit 0); an unreachable server is exit 2 with one line, at once; a
//! server without parti buckets is exit 2 and gets none created; an attach (once and live)
//! leaves every bucket's stream sequence where it was; and a live attach measures a host's loss
//! from KV alone and records it in a file that `validate` and `review` read.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parti_top::observer::snapshot::Snapshot;
use parti_top::parti::nats_kv::NatsStore;
use parti_top::testkit::{TestServer, snapshot, wait_until};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");
const BUCKETS: [&str; 4] = [
    "parti-stableid",
    "parti-election",
    "parti-heartbeat",
    "parti-assignment",
];

fn with_auth(command: &mut Command, server: &TestServer) {
    let auth = server.auth();
    command
        .env("NATS_USER", auth.user.expect("user"))
        .env("NATS_PASSWORD", auth.password.expect("password"))
        .env_remove("NATS_URL")
        .stdin(Stdio::null());
}

/// `parti-top host` with `workers` workers, 100 partitions, fast timing, against `server`.
fn host(server: &TestServer, workers: usize) -> Child {
    let mut command = Command::new(BIN);
    command.args([
        "host",
        "--server",
        server.url(),
        "--partitions",
        "100",
        "--timing",
        "fast",
        "--workers",
        &workers.to_string(),
    ]);
    with_auth(&mut command, server);
    command
        .env("PARTI_TOP_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn host")
}

/// `parti-top attach --once --json` against `server`.
async fn attach_once(server: &TestServer) -> (Option<i32>, Value, String) {
    let mut command = Command::new(BIN);
    command.args(["attach", "--once", "--json", "--server", server.url()]);
    with_auth(&mut command, server);
    let output = tokio::task::spawn_blocking(move || command.output().expect("run attach"))
        .await
        .expect("join");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (
        output.status.code(),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// What the buckets say directly: leader, highest version, partitions per live worker.
fn direct(s: &Snapshot) -> (Option<String>, i64, BTreeMap<String, u64>) {
    let live = s.live();
    (
        s.leader_id().map(str::to_owned),
        s.assignments.values().map(|a| a.version).max().unwrap_or(0),
        s.assignments
            .iter()
            .filter(|(w, _)| live.contains(*w))
            .map(|(w, a)| (w.clone(), a.partitions.len() as u64))
            .collect(),
    )
}

/// The same figures from attach's JSON.
fn reported(json: &Value) -> (Option<String>, i64, BTreeMap<String, u64>) {
    let per_worker = json["partitions_per_worker"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(u64::MAX)))
                .collect()
        })
        .unwrap_or_default();
    (
        json["leader"].as_str().map(str::to_owned),
        json["version"].as_i64().unwrap_or(-1),
        per_worker,
    )
}

fn stale_workers(json: &Value) -> Vec<String> {
    json["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["state"] == "stale")
        .filter_map(|w| w["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_agrees_with_the_buckets_names_stale_workers_after_kill_9_and_recovers() {
    let server = TestServer::start().await;
    let reader = NatsStore::new(server.client().await);
    let mut first = host(&server, 5);

    // Valid, and the same leader, version and partitions per worker as the buckets show
    // (read before and after the attach, so that a publish in between is not a mismatch).
    let last = Mutex::new(None);
    let agreed = wait_until(Duration::from_secs(30), || async {
        let (code, json, stderr) = attach_once(&server).await;
        let before = snapshot(&reader).await.map(|s| direct(&s));
        let after = snapshot(&reader).await.map(|s| direct(&s));
        let seen = reported(&json);
        let ok = code == Some(0)
            && before == after
            && after.as_ref() == Some(&seen)
            && seen.2.len() == 5;
        *last.lock().expect("last") = Some((code, json, stderr, after));
        ok
    })
    .await;
    let (code, json, stderr, kv) = last.into_inner().expect("last").expect("ran");
    assert!(agreed, "attach {code:?} {json} {stderr}; buckets {kv:?}");
    assert_eq!(json["findings"], Value::Array(Vec::new()));
    assert_eq!(json["partitions_assigned"], 100);
    assert!(json["heartbeat_ttl_ms"].as_u64().is_some_and(|ms| ms > 0));
    let kv = kv.expect("buckets read");
    let workers: Vec<String> = kv.2.keys().cloned().collect();
    let w0 = &json["workers"][0];
    assert_eq!(w0["state"], "live");
    assert!(w0["heartbeat_age_ms"].as_u64().is_some(), "{w0}");

    // kill -9: every worker goes stale (exit 1) and is named.
    first.kill().expect("kill -9");
    first.wait().expect("reaped");
    let last = Mutex::new(None);
    let stale = wait_until(Duration::from_secs(20), || async {
        let (code, json, stderr) = attach_once(&server).await;
        let ok = code == Some(1) && stale_workers(&json) == workers;
        *last.lock().expect("last") = Some((code, json, stderr));
        ok
    })
    .await;
    let (code, json, stderr) = last.into_inner().expect("last").expect("ran");
    assert!(stale, "after kill -9: {code:?} {json} {stderr}");
    let findings = json["findings"].to_string();
    for worker in &workers {
        assert!(
            findings.contains(&format!("{worker} is stale")),
            "{findings}"
        );
    }
    assert!(stderr.contains("is not valid"), "{stderr}");

    // A new host: valid again.
    let mut second = host(&server, 5);
    let last = Mutex::new(Value::Null);
    let recovered = wait_until(Duration::from_secs(30), || async {
        let (code, json, _) = attach_once(&server).await;
        *last.lock().expect("last") = json;
        code == Some(0)
    })
    .await;
    assert!(
        recovered,
        "no recovery: {}",
        last.into_inner().expect("last")
    );
    second.kill().expect("kill");
    second.wait().expect("reaped");
}

#[test]
fn nothing_listening_is_exit_2_with_one_line_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let started = Instant::now();
    let output = Command::new(BIN)
        .args(["attach", "--once", "--json", "--server", &url])
        .env_remove("NATS_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to NATS at {url}")),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_parti_is_exit_2_and_no_bucket_is_created() {
    let server = TestServer::start().await;
    let (code, _, stderr) = attach_once(&server).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "parti-top: no parti cluster at {}: bucket parti-stableid does not exist",
            server.url()
        )
    );
    let js = async_nats::jetstream::new(server.client().await);
    let mut names = js.stream_names();
    use futures::StreamExt;
    assert!(names.next().await.is_none(), "attach created a stream");
}

/// Each bucket's stream: last sequence and message count.
async fn sequences(js: &async_nats::jetstream::Context) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for bucket in BUCKETS {
        let mut stream = js.get_stream(format!("KV_{bucket}")).await.expect("stream");
        let info = stream.info().await.expect("info");
        out.push((info.state.last_sequence, info.state.messages));
    }
    out
}

/// A `parti-top attach --headless` whose stdout lines are collected as they come.
struct LiveAttach {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl LiveAttach {
    fn start(server: &TestServer, extra: &[&str]) -> LiveAttach {
        let mut command = Command::new(BIN);
        command
            .args(["attach", "--headless", "--server", server.url()])
            .args(extra);
        with_auth(&mut command, server);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn attach");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        LiveAttach { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// SIGINT, then the exit status and stderr.
    async fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.child.try_wait().expect("wait").is_none() {
                assert!(Instant::now() < deadline, "attach did not exit on SIGINT");
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut stderr = String::new();
            if let Some(mut pipe) = self.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            (self.child.wait().expect("status").code(), stderr)
        })
        .await
        .expect("join")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attach_once_and_live_leaves_every_bucket_sequence_unchanged() {
    let server = TestServer::start().await;
    let js = async_nats::jetstream::new(server.client().await);
    let mut cluster = host(&server, 2);
    assert!(
        wait_until(Duration::from_secs(30), || async {
            attach_once(&server).await.0 == Some(0)
        })
        .await,
        "no valid cluster"
    );
    // Nothing writes once the host is gone: its keys stay until they expire.
    cluster.kill().expect("kill -9");
    cluster.wait().expect("reaped");
    let seen = Mutex::new(sequences(&js).await);
    // The server may still take in what the host sent before it died: wait until still.
    assert!(
        wait_until(Duration::from_secs(5), || async {
            let now = sequences(&js).await;
            let mut seen = seen.lock().expect("seen");
            let same = now == *seen;
            *seen = now;
            same
        })
        .await
    );
    let before: Vec<u64> = seen
        .into_inner()
        .expect("seen")
        .iter()
        .map(|(seq, _)| *seq)
        .collect();

    let (code, json, stderr) = attach_once(&server).await;
    assert!(matches!(code, Some(0 | 1)), "{stderr}");
    assert!(json["workers"].is_array());
    let live = LiveAttach::start(&server, &[]);
    // A live session of a few seconds: the first state line, then two seconds more.
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || async {
            !live.lines().is_empty() && started.elapsed() > Duration::from_secs(2)
        })
        .await,
        "no state line: {:?}",
        live.lines()
    );
    let (code, stderr) = live.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
    let after: Vec<u64> = sequences(&js).await.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(before, after, "an attach changed a bucket's stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_attach_measures_a_host_loss_from_kv_and_records_it_for_review() {
    let server = TestServer::start().await;
    let mut staying = host(&server, 3);
    let mut leaving = host(&server, 2);
    assert!(
        wait_until(Duration::from_secs(30), || async {
            let (code, json, _) = attach_once(&server).await;
            code == Some(0) && json["workers"].as_array().is_some_and(|w| w.len() == 5)
        })
        .await,
        "no valid 5-worker cluster"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("attach.ron");
    let path_text = path.to_str().expect("utf-8").to_owned();
    let live = LiveAttach::start(&server, &["--record", &path_text, "--quiet-period", "1s"]);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            live.lines()
                .iter()
                .any(|l| l.contains("5 live, 0 stale") && l.ends_with("valid"))
        })
        .await,
        "{:?}",
        live.lines()
    );
    leaving.kill().expect("kill -9");
    leaving.wait().expect("reaped");
    // The loss is seen from outside, and the event stabilizes once the 3 left own everything.
    let measured = wait_until(Duration::from_secs(30), || async {
        live.lines()
            .iter()
            .any(|l| l.contains("event #1 2 workers left") && l.contains("quiet after"))
    })
    .await;
    assert!(measured, "{:?}", live.lines());
    let (code, stderr) = live.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("recording saved to"), "{stderr}");

    let recording = parti_top::record::load(&path).expect("recording loads");
    let event = &recording.measurements[0];
    assert_eq!((event.workers_before, event.workers_after), (5, 3));
    let stable = event.stabilization_ms.expect("stabilized");
    assert!(stable > 0 && stable < 30_000, "{stable}");
    assert!(event.moved_partitions > 0);
    assert!(
        recording.events.iter().any(|e| matches!(
            e.kind,
            parti_top::observation::ClusterEventKind::WorkerEnded { .. }
        )),
        "worker ends recorded"
    );
    assert!(recording.summary.is_some());
    let validated = Command::new(BIN)
        .args(["validate", &path_text])
        .output()
        .expect("validate");
    assert_eq!(validated.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&validated.stdout).starts_with("ok: recording of attach"));
    // `review` prepares it (the terminal is the only thing it needs beyond this), and the worker
    // table at the end shows the three that stayed.
    let review = parti_top::commands::review::prepare(&path).expect("review opens it");
    let end = parti_top::tui::review::cluster_at(&review.recording, review.recording.duration_ms);
    assert_eq!(end.workers.len(), 3, "{:?}", end.workers);
    staying.kill().expect("kill");
    staying.wait().expect("reaped");
}

/// `parti-top attach` (the dashboard) in a pseudo-terminal: it shows the attached cluster
/// read-only, refuses a kill key with a notice, and quits on `q` with exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_attaches_read_only_and_quits_on_q() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};

    let server = TestServer::start().await;
    let mut cluster = host(&server, 2);
    assert!(
        wait_until(Duration::from_secs(30), || async {
            attach_once(&server).await.0 == Some(0)
        })
        .await,
        "no valid cluster"
    );
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 140,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let auth = server.auth();
    let mut command = CommandBuilder::new(BIN);
    command.args(["attach", "--server", server.url()]);
    command.env("TERM", "xterm-256color");
    command.env("NATS_USER", auth.user.expect("user"));
    command.env("NATS_PASSWORD", auth.password.expect("password"));
    command.env_remove("NATS_URL");
    let child = Mutex::new(pty.slave.spawn_command(command).expect("spawn attach"));
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
    assert!(
        wait_until(Duration::from_secs(10), || async {
            let text = screen();
            text.contains("ATTACH") && text.contains("valid") && text.contains("worker-1")
        })
        .await,
        "{}",
        screen()
    );
    keys.write_all(b"K").expect("press");
    keys.flush().expect("flush");
    assert!(
        wait_until(Duration::from_secs(5), || async {
            screen().contains("(kill the selected worker) does nothing")
        })
        .await,
        "{}",
        screen()
    );
    keys.write_all(b"q").expect("press");
    keys.flush().expect("flush");
    let quit = wait_until(Duration::from_secs(5), || async {
        child
            .lock()
            .expect("child")
            .try_wait()
            .expect("try_wait")
            .is_some()
    })
    .await;
    assert!(quit, "attach did not quit on q: {}", screen());
    let status = child.lock().expect("child").wait().expect("status");
    assert!(status.success(), "{status:?}: {}", screen());
    // The cluster it watched is untouched: still valid, both workers live.
    let (code, json, _) = attach_once(&server).await;
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["workers"].as_array().map(Vec::len), Some(2));
    cluster.kill().expect("kill");
    cluster.wait().expect("reaped");
}
