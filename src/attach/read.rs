//! Reading an existing parti cluster, and nothing else: connect within a short bound, open the
//! four buckets without ever creating one (a missing bucket is "no parti cluster here"), learn
//! their TTLs from the server, read every key once, or watch every change. Only reads, key
//! listings and watches (ephemeral ordered consumers) are made: no put, create, update, delete
//! or purge, so the buckets' streams never change because of an attach.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::judge::{KvState, KvWrite, Ttls};
use crate::measure::model::BucketRole;
use crate::nats::client::{ClientAuth, ConnectError, connect_within};
use crate::parti::config::BucketNames;

/// Why an attach could not read the cluster: one line each, naming the server.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("no parti cluster at {url}: bucket {bucket} does not exist")]
    NoBucket { url: String, bucket: String },
    #[error("JetStream is not enabled at {url}: parti needs a server started with --jetstream")]
    NoJetStream { url: String },
    #[error("cannot read bucket {bucket} at {url}: {detail}")]
    Bucket {
        url: String,
        bucket: String,
        detail: String,
    },
}

/// The four buckets of a cluster, opened read-only, with their TTLs.
pub struct Cluster {
    pub url: String,
    pub client: async_nats::Client,
    /// Stable-ID, election, heartbeat, assignment, in that order.
    buckets: Vec<(BucketRole, kv::Store)>,
    pub ttls: Ttls,
    /// The server's version, from its INFO.
    pub server_version: String,
}

/// The roles in the order of [`bucket_names`].
const ROLES: [BucketRole; 4] = [
    BucketRole::StableId,
    BucketRole::Election,
    BucketRole::Heartbeat,
    BucketRole::Assignment,
];

/// The bucket names a cluster uses, in the order of the roles.
pub fn bucket_names(names: &BucketNames) -> [String; 4] {
    [
        names.stable_id.clone(),
        names.election.clone(),
        names.heartbeat.clone(),
        names.assignment.clone(),
    ]
}

/// Connect to `url` within `timeout` (one attempt: an unreachable server is an error at once).
pub async fn connect(
    url: &str,
    auth: &ClientAuth,
    timeout: Duration,
) -> Result<async_nats::Client, ReadError> {
    Ok(connect_within(url, auth, "parti-top attach", timeout).await?)
}

/// Open the buckets of the cluster at `url` on `client`, never creating one.
pub async fn open(
    client: async_nats::Client,
    url: &str,
    names: &BucketNames,
) -> Result<Cluster, ReadError> {
    let js = jetstream::new(client.clone());
    let mut buckets = Vec::new();
    let mut ttl = [Duration::ZERO; 4];
    for (i, (role, name)) in ROLES.into_iter().zip(bucket_names(names)).enumerate() {
        let stream = js
            .get_stream(format!("KV_{name}"))
            .await
            .map_err(|err| stream_error(url, &name, &err))?;
        ttl[i] = stream.cached_info().config.max_age;
        let store = js
            .get_key_value(&name)
            .await
            .map_err(|err| ReadError::Bucket {
                url: url.to_owned(),
                bucket: name.clone(),
                detail: err.to_string(),
            })?;
        buckets.push((role, store));
    }
    Ok(Cluster {
        url: url.to_owned(),
        server_version: client.server_info().version,
        client,
        buckets,
        ttls: Ttls {
            stable_id: ttl[0],
            election: ttl[1],
            heartbeat: ttl[2],
        },
    })
}

fn stream_error(url: &str, bucket: &str, err: &jetstream::context::GetStreamError) -> ReadError {
    use jetstream::context::GetStreamErrorKind;
    match err.kind() {
        GetStreamErrorKind::JetStream(js)
            if js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
        {
            ReadError::NoBucket {
                url: url.to_owned(),
                bucket: bucket.to_owned(),
            }
        }
        GetStreamErrorKind::Request if err.to_string().contains("no responders") => {
            ReadError::NoJetStream {
                url: url.to_owned(),
            }
        }
        _ => ReadError::Bucket {
            url: url.to_owned(),
            bucket: bucket.to_owned(),
            detail: err.to_string(),
        },
    }
}

/// The server time of an entry, Unix milliseconds.
fn written_unix_ms(entry: &kv::Entry) -> i64 {
    i64::try_from(entry.created.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn write_of(role: BucketRole, entry: kv::Entry) -> KvWrite {
    let written_unix_ms = written_unix_ms(&entry);
    KvWrite {
        role,
        value: (entry.operation == kv::Operation::Put).then(|| entry.value.to_vec()),
        key: entry.key,
        written_unix_ms,
    }
}

impl Cluster {
    /// Read every live key of the four buckets once.
    pub async fn read(&self) -> Result<KvState, ReadError> {
        let mut state = KvState::default();
        for (role, store) in &self.buckets {
            let fail = |detail: String| ReadError::Bucket {
                url: self.url.clone(),
                bucket: store.name.clone(),
                detail,
            };
            let keys: Vec<String> = store
                .keys()
                .await
                .map_err(|err| fail(err.to_string()))?
                .try_collect()
                .await
                .map_err(|err| fail(err.to_string()))?;
            for key in keys {
                // A key that expired between the listing and the read is simply gone.
                if let Some(entry) = store.entry(key).await.map_err(|e| fail(e.to_string()))? {
                    state.apply(&write_of(*role, entry));
                }
            }
        }
        Ok(state)
    }

    /// Watch every key of the four buckets (their current values first, then each change)
    /// until `cancel` fires, sending each entry on `writes`. A watch that ends (the connection
    /// dropped) is opened again.
    pub fn watch(&self, writes: mpsc::UnboundedSender<KvWrite>, cancel: CancellationToken) {
        for (role, store) in &self.buckets {
            tokio::spawn(watch_bucket(
                *role,
                store.clone(),
                writes.clone(),
                cancel.clone(),
            ));
        }
    }
}

async fn watch_bucket(
    role: BucketRole,
    store: kv::Store,
    writes: mpsc::UnboundedSender<KvWrite>,
    cancel: CancellationToken,
) {
    loop {
        let watch = tokio::select! {
            () = cancel.cancelled() => return,
            watch = store.watch_with_history(">") => watch,
        };
        match watch {
            Ok(mut entries) => loop {
                let item = tokio::select! {
                    () = cancel.cancelled() => return,
                    item = entries.next() => item,
                };
                match item {
                    Some(Ok(entry)) => {
                        if writes.send(write_of(role, entry)).is_err() {
                            return;
                        }
                    }
                    Some(Err(err)) => {
                        tracing::warn!("watch of {} failed: {err}; reopening", store.name);
                        break;
                    }
                    None => break,
                }
            },
            Err(err) => tracing::warn!("cannot watch {}: {err}", store.name),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
