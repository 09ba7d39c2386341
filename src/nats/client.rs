//! Connecting an `async_nats::Client` the way the NATS tools do (`--creds`, `--user/--password`,
//! a token, `--tls-ca/--tls-cert/--tls-key`), with a bounded connect time and errors that name
//! the server.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::credentials::Credentials;

/// Initial read buffer of a connection. async-nats starts at 64 KiB, which would be most of a
/// worker's heap (a host holds one connection per worker); the buffer grows on demand, and
/// parti's messages are small.
pub const READ_BUFFER_BYTES: u16 = 1024;

/// The longest an initial connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to authenticate to a server. `Debug` hides the password and the token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientAuth {
    /// A `.creds` file (JWT and NKey seed).
    pub creds_file: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// CA certificate to trust; implies TLS.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate; needs `tls_key` too; implies TLS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("ClientAuth")
            .field("creds_file", &self.creds_file)
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("token", &hidden(&self.token))
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .finish()
    }
}

impl From<&Credentials> for ClientAuth {
    fn from(credentials: &Credentials) -> Self {
        Self {
            user: Some(credentials.user.clone()),
            password: Some(credentials.password.clone()),
            ..Self::default()
        }
    }
}

/// Why a connection could not be made. Each message names the server URL.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Nats {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot connect to NATS at {url}: no connection within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("cannot connect to NATS at {url}: cannot read credentials file {}: {source}", .path.display())]
    CredsFile {
        url: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot connect to NATS at {url}: --tls-cert and --tls-key must be given together")]
    TlsPair { url: String },
}

impl ConnectError {
    /// Whether the server refused the credentials (as opposed to being unreachable).
    pub fn is_authorization(&self) -> bool {
        matches!(self, ConnectError::Nats { source, .. }
            if matches!(source.kind(), async_nats::ConnectErrorKind::AuthorizationViolation
                | async_nats::ConnectErrorKind::Authentication))
    }
}

/// Connects to `url` within [`CONNECT_TIMEOUT`]; `name` is the NATS connection name shown by
/// the server's monitoring. After the first connection the client reconnects on its own.
/// `url` may be a comma-separated seed list (`nats://a:4222,nats://b:4222`).
pub async fn connect(
    url: &str,
    auth: &ClientAuth,
    name: &str,
) -> Result<async_nats::Client, ConnectError> {
    connect_within(url, auth, name, CONNECT_TIMEOUT).await
}

/// [`connect`], but only ever to the servers in `url`: the servers a cluster gossips are
/// ignored, so a connection made through a fault proxy stays behind it (a cut link is not
/// bypassed by reconnecting to another node directly).
pub async fn connect_pinned(
    url: &str,
    auth: &ClientAuth,
    name: &str,
) -> Result<async_nats::Client, ConnectError> {
    let options = options(url, auth).await?.ignore_discovered_servers();
    connect_with(options, url, name, CONNECT_TIMEOUT).await
}

/// [`connect`] with another bound on the initial connection.
pub async fn connect_within(
    url: &str,
    auth: &ClientAuth,
    name: &str,
    timeout: Duration,
) -> Result<async_nats::Client, ConnectError> {
    connect_with(options(url, auth).await?, url, name, timeout).await
}

/// The servers of a URL or comma-separated seed list.
pub fn seed_list(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn connect_with(
    options: async_nats::ConnectOptions,
    url: &str,
    name: &str,
    timeout: Duration,
) -> Result<async_nats::Client, ConnectError> {
    let options = options
        .name(name)
        .read_buffer_capacity(READ_BUFFER_BYTES)
        .connection_timeout(timeout);
    let servers = seed_list(url);
    // The outer bound also covers the handshake after the TCP connection.
    match tokio::time::timeout(
        timeout + Duration::from_millis(500),
        options.connect(servers),
    )
    .await
    {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => Err(ConnectError::Nats {
            url: url.to_string(),
            source,
        }),
        Err(_) => Err(ConnectError::Timeout {
            url: url.to_string(),
            after: timeout,
        }),
    }
}

async fn options(url: &str, auth: &ClientAuth) -> Result<async_nats::ConnectOptions, ConnectError> {
    let mut options = match &auth.creds_file {
        Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|source| ConnectError::CredsFile {
                url: url.to_string(),
                path: path.clone(),
                source,
            })?,
        None => async_nats::ConnectOptions::new(),
    };
    if let Some(user) = &auth.user {
        options =
            options.user_and_password(user.clone(), auth.password.clone().unwrap_or_default());
    }
    if let Some(token) = &auth.token {
        options = options.token(token.clone());
    }
    if let Some(ca) = &auth.tls_ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    match (&auth.tls_cert, &auth.tls_key) {
        (Some(cert), Some(key)) => {
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        (None, None) => {}
        _ => {
            return Err(ConnectError::TlsPair {
                url: url.to_string(),
            });
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let auth = ClientAuth {
            user: Some("bob".into()),
            password: Some("hunter2".into()),
            token: Some("tok-secret".into()),
            ..ClientAuth::default()
        };
        let text = format!("{auth:?}");
        assert!(
            text.contains("bob") && text.contains("<redacted>"),
            "{text}"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("tok-secret"),
            "{text}"
        );
        assert!(format!("{:?}", ClientAuth::default()).contains("password: None"));
    }

    #[test]
    fn a_seed_list_is_split_on_commas() {
        assert_eq!(
            seed_list("nats://a:1, nats://b:2,"),
            vec!["nats://a:1".to_owned(), "nats://b:2".to_owned()]
        );
        assert_eq!(seed_list("nats://a:1"), vec!["nats://a:1".to_owned()]);
    }

    #[test]
    fn from_generated_credentials() {
        let creds = Credentials::generate();
        let auth = ClientAuth::from(&creds);
        assert_eq!(auth.user.as_deref(), Some(creds.user.as_str()));
        assert_eq!(auth.password.as_deref(), Some(creds.password.as_str()));
        assert!(auth.token.is_none() && auth.creds_file.is_none());
    }

    #[tokio::test]
    async fn unreachable_server_fails_fast_naming_the_url() {
        // Bind then drop to find a port with nothing listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let url = format!("nats://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        let err = connect(&url, &ClientAuth::default(), "test")
            .await
            .expect_err("nothing listens");
        assert!(started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(1));
        assert!(err.to_string().contains(&url), "{err}");
        assert!(!err.is_authorization());
    }

    #[tokio::test]
    async fn half_a_tls_pair_and_missing_creds_file_are_errors() {
        let auth = ClientAuth {
            tls_cert: Some("/x.pem".into()),
            ..ClientAuth::default()
        };
        let err = connect("nats://127.0.0.1:1", &auth, "t")
            .await
            .expect_err("pair");
        assert!(matches!(err, ConnectError::TlsPair { .. }), "{err:?}");
        let auth = ClientAuth {
            creds_file: Some("/no/such.creds".into()),
            ..ClientAuth::default()
        };
        let err = connect("nats://127.0.0.1:1", &auth, "t")
            .await
            .expect_err("creds");
        assert!(err.to_string().contains("/no/such.creds"), "{err}");
    }
}
