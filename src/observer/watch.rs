//! Watching the four parti buckets from the observer's own connection. Every entry (initial
//! values first, then live changes, deletes included) becomes a [`KvChange`] on a channel.
//! A watch that ends (for example across a server restart) is opened again.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::measure::model::{BucketRole, KvChange};
use crate::parti::config::Config;
use crate::parti::kv::{Bucket, KvOp, Store, ensure_with_retry};
use crate::parti::nats_kv::NatsStore;

/// Open (creating with parti's own config if needed, with `replicas` copies on a clustered
/// JetStream) the four buckets and start one watch task per bucket. Changes arrive on
/// `changes` until `cancel` fires.
pub async fn spawn(
    client: async_nats::Client,
    config: &Config,
    replicas: usize,
    changes: mpsc::UnboundedSender<KvChange>,
    cancel: CancellationToken,
) -> Result<(), crate::parti::kv::KvError> {
    let store = NatsStore::new(client).with_replicas(replicas);
    let roles = [
        BucketRole::StableId,
        BucketRole::Election,
        BucketRole::Heartbeat,
        BucketRole::Assignment,
    ];
    for (role, spec) in roles.into_iter().zip(config.bucket_specs()) {
        let bucket = ensure_with_retry(&store as &dyn Store, &spec).await?;
        tokio::spawn(watch_bucket(role, bucket, changes.clone(), cancel.clone()));
    }
    Ok(())
}

async fn watch_bucket(
    role: BucketRole,
    bucket: Arc<dyn Bucket>,
    changes: mpsc::UnboundedSender<KvChange>,
    cancel: CancellationToken,
) {
    loop {
        let watch = tokio::select! {
            () = cancel.cancelled() => return,
            watch = bucket.watch(">") => watch,
        };
        match watch {
            Ok(mut stream) => loop {
                let item = tokio::select! {
                    () = cancel.cancelled() => return,
                    item = stream.next() => item,
                };
                match item {
                    Some(Ok(entry)) => {
                        let value = (entry.op == KvOp::Put).then(|| entry.value.to_vec());
                        if changes
                            .send(KvChange {
                                role,
                                key: entry.key,
                                value,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Some(Err(err)) => {
                        warn!("watch of {} failed: {err}; reopening", bucket.name());
                        break;
                    }
                    None => break,
                }
            },
            Err(err) => warn!("cannot watch {}: {err}", bucket.name()),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
