//! Watches as nats.go makes them: an ordered push consumer on `$KV.<bucket>.<pattern>` that
//! delivers the last message of every matching key, then live changes. Made on the stream
//! directly, without opening a `kv::Store` (which fetches and keeps the stream's info).

use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy, push};
use futures::StreamExt;

use super::{NatsBucket, classify, op_of};
use crate::parti::kv::{KvEntry, KvError, KvWatch};

/// The entry a watched message carries, or `None` for a subject outside the bucket.
fn entry_of(prefix: &str, message: &async_nats::jetstream::Message) -> Option<KvEntry> {
    let key = message.subject.as_str().strip_prefix(prefix)?;
    let revision = message.info().ok()?.stream_sequence;
    Some(KvEntry {
        key: key.to_owned(),
        value: message.payload.clone(),
        revision,
        op: op_of(message.headers.as_ref()),
    })
}

impl NatsBucket {
    pub(super) async fn watch_ordered(&self, pattern: &str) -> Result<KvWatch, KvError> {
        let consumer = self
            .stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                description: Some("kv watch consumer".to_owned()),
                filter_subject: format!("{}{pattern}", self.prefix),
                replay_policy: ReplayPolicy::Instant,
                deliver_policy: DeliverPolicy::LastPerSubject,
                ..Default::default()
            })
            .await
            .map_err(|err| classify(&self.client, format!("watch {pattern}: {err}")))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|err| classify(&self.client, format!("watch {pattern}: {err}")))?;
        let prefix = self.prefix.clone();
        let stream: KvWatch = messages
            .filter_map(move |item| {
                let entry = match item {
                    Ok(message) => entry_of(&prefix, &message).map(Ok),
                    Err(err) => Some(Err(KvError::Other(err.to_string()))),
                };
                std::future::ready(entry)
            })
            .boxed();
        Ok(stream)
    }
}
