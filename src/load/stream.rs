//! The work stream the load goes through: file storage, work-queue retention by default, and a
//! duplicate window long enough for a producer's retries after a server restart; and, after the
//! drain, the load messages it still holds ([`stored_messages`]), which tell a message nobody
//! acked from one whose ack report died with its process.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, stream};

use super::message::{LoadMessage, MessageId};

/// The duplicate window of the work stream: publishes retried within it with the same
/// `Nats-Msg-Id` are stored once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The stream configuration [`ensure_work_stream`] applies.
pub fn work_stream_config(
    name: &str,
    subjects: Vec<String>,
    replicas: usize,
    retention: stream::RetentionPolicy,
) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects,
        retention,
        storage: stream::StorageType::File,
        num_replicas: replicas.max(1),
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

/// Creates the work stream, or updates it to this configuration if it exists (a change of
/// retention is refused by the server and returned as the error).
pub async fn ensure_work_stream(
    js: &jetstream::Context,
    name: &str,
    subjects: Vec<String>,
    replicas: usize,
    retention: stream::RetentionPolicy,
) -> Result<stream::Info, jetstream::context::CreateStreamError> {
    js.create_or_update_stream(work_stream_config(name, subjects, replicas, retention))
        .await
}

/// [`ensure_work_stream`] for `consumers` consumers at least: nats-server 2.15 limits a
/// stream without its own limit to 1,000 consumers, and one consumer per partition needs more
/// on a run with more partitions.
pub async fn ensure_work_stream_for(
    js: &jetstream::Context,
    name: &str,
    subjects: Vec<String>,
    replicas: usize,
    consumers: usize,
) -> Result<stream::Info, jetstream::context::CreateStreamError> {
    let mut config =
        work_stream_config(name, subjects, replicas, stream::RetentionPolicy::WorkQueue);
    config.max_consumers = i32::try_from(consumers.max(MIN_MAX_CONSUMERS)).unwrap_or(i32::MAX);
    js.create_or_update_stream(config).await
}

/// The least consumer limit a work stream gets (the server's own default).
pub const MIN_MAX_CONSUMERS: usize = 1_000;

/// Why the stored messages could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error("cannot read stream {stream}: {source}")]
    Stream {
        stream: String,
        source: async_nats::Error,
    },
    #[error("stream {stream} still holds more than {limit} messages")]
    TooMany { stream: String, limit: u64 },
}

/// The load messages `stream` still holds (at most `limit`, else an error), read one by one
/// from the lowest sequence. Payloads that are not load messages are skipped. On a work-queue
/// stream after the drain these are exactly the messages no worker acked.
pub async fn stored_messages(
    js: &jetstream::Context,
    stream: &str,
    subjects: &str,
    limit: u64,
) -> Result<HashSet<MessageId>, StoredError> {
    let fail = |source: async_nats::Error| StoredError::Stream {
        stream: stream.to_owned(),
        source,
    };
    let handle = js.get_stream(stream).await.map_err(|e| fail(Box::new(e)))?;
    let state = handle.cached_info().state.clone();
    if state.messages > limit {
        return Err(StoredError::TooMany {
            stream: stream.to_owned(),
            limit,
        });
    }
    let mut stored = HashSet::new();
    let mut next = state.first_sequence.max(1);
    while state.messages > 0 && next <= state.last_sequence {
        match handle
            .get_first_raw_message_by_subject(subjects, next)
            .await
        {
            Ok(message) => {
                if let Ok(load) = LoadMessage::decode(&message.payload) {
                    stored.insert(load.id);
                }
                next = message.sequence + 1;
            }
            Err(err) if err.kind() == stream::LastRawMessageErrorKind::NoMessageFound => break,
            Err(err) => return Err(fail(Box::new(err))),
        }
        if stored.len() as u64 > limit {
            return Err(StoredError::TooMany {
                stream: stream.to_owned(),
                limit,
            });
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_keeps_retries_deduplicated_and_messages_on_disk() {
        let config = work_stream_config(
            "WORK",
            vec!["work.>".into()],
            0,
            stream::RetentionPolicy::WorkQueue,
        );
        assert!(config.duplicate_window >= Duration::from_secs(120));
        assert_eq!(config.storage, stream::StorageType::File);
        assert_eq!(config.retention, stream::RetentionPolicy::WorkQueue);
        assert_eq!(config.num_replicas, 1);
    }
}
