//! The work stream the load goes through: file storage, work-queue retention by default, and a
//! duplicate window long enough for a producer's retries after a server restart.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

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
