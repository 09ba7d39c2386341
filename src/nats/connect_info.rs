//! How other tools reach a managed nats-server: the connection files and the operator's hints.
//!
//! Owns [`ConnectInfo`] (the URL, the monitoring URL and two mode-0600 files beside the server's
//! config, removed with its temporary directory) and the pure text of those files and of the
//! hint lines every front end shows:
//!
//! - [`context_json`]: a nats CLI context (the format of `~/.config/nats/context/NAME.json`).
//!   `nats --context /path/FILE.json …` loads a context from a readable file whose name ends in
//!   `.json` (natscli since 2022, nats-io/natscli#388 and #527); `tools/check-cluster.py
//!   --context FILE` reads the same file.
//! - [`env_text`]: `NATS_URL`, `NATS_USER` and `NATS_PASSWORD` for a shell
//!   (`set -a; . FILE; set +a`), which the nats CLI and the checker honour.
//! - [`hint_lines`]: what to run, naming the files and never the password.
//!
//! The password is in the files only: never on a command line, never in a log line.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::credentials::Credentials;

/// File name of the nats CLI context, inside the server's temporary directory. It must end in
/// `.json`: natscli takes a `--context` value as a file only then.
pub const CONTEXT_FILE_NAME: &str = "nats-context.json";
/// File name of the shell environment file, inside the server's temporary directory.
pub const ENV_FILE_NAME: &str = "nats.env";

/// Where a managed server listens and the files that hold its credentials (mode 0600, in the
/// server's private temporary directory; they disappear when the server is shut down).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectInfo {
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    /// `http://127.0.0.1:PORT` of the monitoring endpoints (what nats-top reads).
    pub monitor_url: String,
    /// The nats CLI context (JSON with url, user, password).
    pub context_file: PathBuf,
    /// `NATS_URL=…`, `NATS_USER=…`, `NATS_PASSWORD=…` for `set -a; . FILE; set +a`.
    pub env_file: PathBuf,
}

impl ConnectInfo {
    /// The files' paths inside the server's temporary directory `dir`.
    pub fn in_dir(dir: &Path, url: &str, monitor_url: &str) -> Self {
        Self {
            url: url.to_owned(),
            monitor_url: monitor_url.to_owned(),
            context_file: dir.join(CONTEXT_FILE_NAME),
            env_file: dir.join(ENV_FILE_NAME),
        }
    }
}

/// What the checker's hint line passes besides the connection: the cluster it should expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterShape<'a> {
    pub partitions: usize,
    /// A timing preset name the checker knows (`production`, `integration`, `fast`).
    pub timing: &'a str,
}

#[derive(Serialize)]
struct ContextFile<'a> {
    description: &'a str,
    url: &'a str,
    user: &'a str,
    password: &'a str,
}

/// The nats CLI context for `url` with `credentials`, as pretty JSON with a final newline.
pub fn context_json(url: &str, credentials: &Credentials) -> String {
    let description = format!("parti-top managed nats-server at {url} (removed when it stops)");
    let context = ContextFile {
        description: &description,
        url,
        user: &credentials.user,
        password: &credentials.password,
    };
    // Serializing a struct of strings cannot fail.
    let mut text = serde_json::to_string_pretty(&context).unwrap_or_default();
    text.push('\n');
    text
}

/// The environment file: one `NAME='value'` line per variable, shell-quoted.
pub fn env_text(url: &str, credentials: &Credentials) -> String {
    format!(
        "# parti-top managed nats-server; removed when it stops. Use: set -a; . THIS_FILE; set +a\n\
         NATS_URL={}\nNATS_USER={}\nNATS_PASSWORD={}\n",
        shell_quote(url),
        shell_quote(&credentials.user),
        shell_quote(&credentials.password),
    )
}

/// `value` in single quotes, with each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The lines that tell an operator how to point other tools at the server. `shape` fills in
/// the checker's `--partitions`/`--timing`; without it they are left as `P` and `T`.
pub fn hint_lines(info: &ConnectInfo, shape: Option<ClusterShape<'_>>) -> Vec<String> {
    let context = info.context_file.display();
    let env = info.env_file.display();
    let cluster = shape.map_or_else(
        || "--partitions P --timing T".to_owned(),
        |s| format!("--partitions {} --timing {}", s.partitions, s.timing),
    );
    let mut lines = vec![
        format!(
            "connect other tools to {} (credentials in 0600 files, removed when the server stops):",
            info.url
        ),
        format!("  nats CLI:  nats --context {context} kv ls"),
        format!("  checker:   python3 tools/check-cluster.py --context {context} {cluster}"),
        format!("  shell:     set -a; . {env}; set +a   (NATS_URL, NATS_USER, NATS_PASSWORD)"),
    ];
    if let Some((host, port)) = host_and_port(&info.monitor_url) {
        lines.push(format!("  nats-top:  nats-top -s {host} -m {port}"));
    }
    lines
}

/// `("127.0.0.1", "8222")` from `http://127.0.0.1:8222`.
fn host_and_port(url: &str) -> Option<(&str, &str)> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    (!host.is_empty() && !port.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials {
            user: "parti-top".into(),
            password: "s3cretPassw0rd".into(),
        }
    }

    fn info() -> ConnectInfo {
        ConnectInfo::in_dir(
            Path::new("/tmp/parti-top-nats-1-x"),
            "nats://127.0.0.1:4001",
            "http://127.0.0.1:8001",
        )
    }

    #[test]
    fn the_context_is_nats_cli_json() {
        let text = context_json("nats://127.0.0.1:4001", &credentials());
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["url"], "nats://127.0.0.1:4001");
        assert_eq!(value["user"], "parti-top");
        assert_eq!(value["password"], "s3cretPassw0rd");
        assert!(
            value["description"]
                .as_str()
                .is_some_and(|d| d.contains("parti-top"))
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn the_env_file_is_shell_quoted() {
        let text = env_text("nats://127.0.0.1:4001", &credentials());
        assert!(
            text.contains("\nNATS_URL='nats://127.0.0.1:4001'\n"),
            "{text}"
        );
        assert!(text.contains("\nNATS_USER='parti-top'\n"), "{text}");
        assert!(
            text.contains("\nNATS_PASSWORD='s3cretPassw0rd'\n"),
            "{text}"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn hints_name_the_files_and_never_the_password() {
        let shape = ClusterShape {
            partitions: 100,
            timing: "fast",
        };
        let lines = hint_lines(&info(), Some(shape));
        let text = lines.join("\n");
        assert!(text.contains("nats://127.0.0.1:4001"), "{text}");
        assert!(
            text.contains("nats --context /tmp/parti-top-nats-1-x/nats-context.json"),
            "{text}"
        );
        assert!(
            text.contains(
                "python3 tools/check-cluster.py --context \
                 /tmp/parti-top-nats-1-x/nats-context.json --partitions 100 --timing fast"
            ),
            "{text}"
        );
        assert!(
            text.contains("set -a; . /tmp/parti-top-nats-1-x/nats.env; set +a"),
            "{text}"
        );
        assert!(text.contains("nats-top -s 127.0.0.1 -m 8001"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        let unshaped = hint_lines(&info(), None).join("\n");
        assert!(unshaped.contains("--partitions P --timing T"), "{unshaped}");
    }

    #[test]
    fn monitor_urls_split_into_host_and_port() {
        assert_eq!(
            host_and_port("http://127.0.0.1:8222"),
            Some(("127.0.0.1", "8222"))
        );
        assert_eq!(
            host_and_port("http://127.0.0.1:8222/varz"),
            Some(("127.0.0.1", "8222"))
        );
        assert_eq!(host_and_port("http://127.0.0.1"), None);
        assert_eq!(host_and_port(""), None);
    }
}
