//! `tools/check-cluster.py` against real nats-servers: every failure to check is one line on
//! stderr and exit code 2, at once (no traceback, no reconnect loop), and the connection hints
//! `parti-top host` prints for its managed server let the checker validate the cluster.
//!
//! The checker needs python3 and the PyPI module nats-py. Without python3 these tests say so
//! and pass; without nats-py they install it, like the nats-server the tests use, with pip into
//! the per-user cache (`~/.cache/parti-top/nats-py-<version>`), and run the checker with it on
//! `PYTHONPATH` (`.ci/run` installs it for the user beforehand, so CI needs no second copy).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use parti_top::testkit::{TestServer, server_binary};

const BIN: &str = env!("CARGO_BIN_EXE_parti-top");
const CHECKER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/check-cluster.py");
/// A checker run that fails must end well within this (its connect timeout is 5 s).
const CHECKER_DEADLINE: Duration = Duration::from_secs(15);
/// Connection variables of the NATS tools, removed so that the machine's own do not leak in.
const NATS_VARIABLES: [&str; 8] = [
    "NATS_URL",
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_CONTEXT",
    "NATS_CREDS",
    "NATS_CA",
    "NATS_CERT",
    "NATS_KEY",
];

/// Whether python3 runs; a test without it prints why it is skipped.
fn have_python(test: &str) -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("{test}: skipped: python3 is not installed, and the checker is a Python script");
    }
    found
}

/// The nats-py release the tests install when the machine has none.
const NATS_PY: &str = "2.16.0";

/// Where nats-py is when python3 cannot import it by itself: set once per test binary.
static NATS_PY_PATH: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// Make sure the checker can import nats-py: the machine's, or one installed into the per-user
/// cache (into a temporary directory first, then renamed into place, so that concurrent test
/// binaries never see half an install). Fails the test, saying why, when pip cannot install it.
fn require_nats_py() {
    NATS_PY_PATH.get_or_init(|| {
        let imports = |path: Option<&Path>| {
            let mut command = Command::new("python3");
            command.args(["-c", "import nats, nats.js"]);
            if let Some(path) = path {
                command.env("PYTHONPATH", path);
            }
            command.output().is_ok_and(|o| o.status.success())
        };
        if imports(None) {
            return None;
        }
        let cache = parti_top::nats::resolve::default_cache_dir(
            std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()),
            std::env::var_os("HOME").filter(|v| !v.is_empty()),
        )
        .expect("a per-user cache directory (HOME or XDG_CACHE_HOME)");
        let target = cache.join(format!("nats-py-{NATS_PY}"));
        if !imports(Some(&target)) {
            std::fs::create_dir_all(&cache).expect("create the cache directory");
            let staging = tempfile::tempdir_in(&cache).expect("staging directory");
            eprintln!(
                "installing nats-py {NATS_PY} from PyPI into {}",
                target.display()
            );
            let output = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("--target")
                .arg(staging.path())
                .arg(format!("nats-py=={NATS_PY}"))
                .output()
                .expect("run pip");
            assert!(
                output.status.success(),
                "tools/check-cluster.py needs the PyPI module nats-py, and pip could not \
                 install it (install it with `python3 -m pip install --user nats-py`): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            // Another test binary may have won the race: either copy is complete.
            let _ = std::fs::rename(staging.keep(), &target);
            assert!(
                imports(Some(&target)),
                "nats-py in {} does not import",
                target.display()
            );
        }
        Some(target)
    });
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Outcome {
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// Exit code 2 and exactly one stderr line, containing every one of `expected`.
    fn assert_one_line(&self, expected: &[&str]) {
        let lines = self.stderr_lines();
        assert_eq!(self.code, Some(2), "{self:?}");
        assert_eq!(lines.len(), 1, "not one line: {self:?}");
        assert!(
            lines[0].starts_with("parti-top check-cluster: "),
            "{self:?}"
        );
        for part in expected {
            assert!(lines[0].contains(part), "no {part:?}: {self:?}");
        }
        assert!(self.stdout.is_empty(), "{self:?}");
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

/// Runs the checker with `args` and `env` (and none of the machine's NATS variables), polling
/// for its exit until [`CHECKER_DEADLINE`]; kills it and fails the test after that.
fn checker(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let file = |path: &Path| std::fs::File::create(path).expect("create");
    let mut command = Command::new("python3");
    command
        .arg(CHECKER)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file(&out))
        .stderr(file(&err))
        // An empty nats config dir: a context is only ever the file a test names.
        .env("XDG_CONFIG_HOME", dir.path());
    for name in NATS_VARIABLES {
        command.env_remove(name);
    }
    if let Some(Some(path)) = NATS_PY_PATH.get() {
        command.env("PYTHONPATH", path);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn python3");
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > CHECKER_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the checker ran past {CHECKER_DEADLINE:?}; its stderr began:\n{}",
                std::fs::read_to_string(&err)
                    .unwrap_or_default()
                    .chars()
                    .take(2000)
                    .collect::<String>()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        code: status.code(),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        took: started.elapsed(),
    }
}

async fn checker_async(args: Vec<String>, env: Vec<(String, String)>) -> Outcome {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        checker(&args, &env)
    })
    .await
    .expect("join")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_the_checker_says_so_in_one_line_and_exits_2_at_once() {
    if !have_python("without_credentials") {
        return;
    }
    require_nats_py();
    let server = TestServer::start().await;
    let args = ["--server", server.url(), "--partitions", "10"];
    let outcome = checker_async(strings(&args), Vec::new()).await;
    outcome.assert_one_line(&["authorization violation at", server.url(), "--context FILE"]);

    let auth = server.auth();
    let wrong = vec![
        ("NATS_USER".to_owned(), auth.user.expect("user")),
        ("NATS_PASSWORD".to_owned(), "wrong-password".to_owned()),
    ];
    let outcome = checker_async(strings(&args), wrong).await;
    outcome.assert_one_line(&["authorization violation at", "refused these credentials"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_or_a_server_without_buckets_is_one_line() {
    if !have_python("unreachable_or_empty") {
        return;
    }
    require_nats_py();
    // Bind then drop to find a port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let outcome = checker_async(
        strings(&["--server", &url, "--partitions", "10"]),
        Vec::new(),
    );
    outcome
        .await
        .assert_one_line(&["cannot reach", &url, "connection refused"]);

    let mut server = TestServer::start().await;
    let context = server.server().connect_info().context_file.clone();
    let context = context.to_string_lossy().into_owned();
    let args = strings(&["--context", &context, "--partitions", "10"]);
    let outcome = checker_async(args, Vec::new()).await;
    outcome.assert_one_line(&[
        "no bucket parti-stableid at",
        server.url(),
        "parti-top host",
    ]);
}

#[test]
fn a_missing_nats_module_and_bad_arguments_are_exit_2_and_help_lists_the_codes() {
    if !have_python("missing_module") {
        return;
    }
    // A `nats` package that cannot be imported stands for a machine without nats-py.
    let fake = tempfile::tempdir().expect("tempdir");
    let package = fake.path().join("nats");
    std::fs::create_dir(&package).expect("mkdir");
    std::fs::write(
        package.join("__init__.py"),
        "raise ModuleNotFoundError(\"No module named 'nats'\", name='nats')\n",
    )
    .expect("write");
    let pythonpath = fake.path().to_string_lossy().into_owned();
    let outcome = checker(&["--partitions", "10"], &[("PYTHONPATH", &pythonpath)]);
    outcome.assert_one_line(&["python3 -m pip install nats-py"]);

    let outcome = checker(
        &["--context", "/no/such/context.json", "--partitions", "1"],
        &[],
    );
    if outcome.stderr.contains("nats-py") {
        return; // covered by require_nats_py in the other tests
    }
    outcome.assert_one_line(&["context /no/such/context.json"]);

    let outcome = checker(&["--help"], &[]);
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    for line in ["exit codes:", "  0  ", "  1  ", "  2  ", "--context"] {
        assert!(outcome.stdout.contains(line), "no {line:?}: {outcome:?}");
    }
}

/// The stderr lines of a child, read on a thread.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let pipe = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Collects lines from `rx` into `log` until one contains `needle`; `None` after `within`.
fn wait_for_line(
    rx: &mpsc::Receiver<String>,
    log: &mut Vec<String>,
    needle: &str,
    within: Duration,
) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        log.push(line.clone());
        if line.contains(needle) {
            return Some(line);
        }
    }
}

/// A host stopped when the test ends early (a failed assertion), so none outlives it: SIGTERM
/// (it stops its managed server and removes its directory), SIGKILL if it is still there 5 s later.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(None)) {
            return;
        }
        sigterm(&self.0);
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sigterm(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hints_of_a_managed_host_let_the_checker_validate_its_cluster() {
    if !have_python("managed_host_hints") {
        return;
    }
    require_nats_py();
    let binary = server_binary().await;
    let child = Command::new(BIN)
        .args([
            "host",
            "--workers",
            "3",
            "--partitions",
            "30",
            "--timing",
            "fast",
        ])
        .arg("--nats-server")
        .arg(&binary.path)
        .env_remove("NATS_URL")
        .env("PARTI_TOP_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host");
    let mut child = KillOnDrop(child);
    let rx = stderr_lines(&mut child.0);
    let mut log = Vec::new();
    let hint = wait_for_line(
        &rx,
        &mut log,
        "check-cluster.py --context ",
        CHECKER_DEADLINE,
    );
    let Some(hint) = hint else {
        panic!("no checker hint in:\n{}", log.join("\n"));
    };
    let hinted: Vec<String> = hint
        .split_once("python3 tools/check-cluster.py ")
        .map(|(_, args)| args.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    assert!(hinted.len() == 6, "{hint}");
    assert_eq!(
        hinted[2..],
        strings(&["--partitions", "30", "--timing", "fast"]),
        "{hint}"
    );
    let context = PathBuf::from(&hinted[1]);
    let password = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(&context).expect("the hinted context file exists"),
    )
    .expect("JSON")["password"]
        .as_str()
        .expect("a password")
        .to_owned();

    // The cluster forms in about a second; poll the checker until it says valid.
    let mut args = hinted.clone();
    args.extend(strings(&["--workers", "3"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    let last = loop {
        let outcome = checker_async(args.clone(), Vec::new()).await;
        assert!(
            !outcome.stderr.contains("authorization"),
            "the context was refused: {outcome:?}"
        );
        if outcome.code == Some(0) || Instant::now() > deadline {
            break outcome;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(last.code, Some(0), "{last:?}");
    assert!(
        last.stdout.starts_with("valid parti cluster: 3 workers"),
        "{last:?}"
    );

    sigterm(&child.0);
    let exited = wait_for_line(&rx, &mut log, "; exiting", CHECKER_DEADLINE);
    let status = child.0.wait().expect("wait");
    for line in rx.try_iter() {
        log.push(line);
    }
    let log = log.join("\n");
    assert!(exited.is_some() && status.success(), "{status}:\n{log}");
    assert!(
        !log.contains(&password),
        "the password is in the log:\n{log}"
    );
    assert!(
        !context.exists(),
        "{} outlived the server",
        context.display()
    );
}
