//! Key listings without a lingering consumer: the same headers-only, last-per-subject consumer
//! nats.go's `Keys` creates, subscribed before it exists and deleted as soon as the listing is
//! read (nats.go deletes it on unsubscribe too). async-nats' `kv::Store::keys` leaves its
//! ordered consumer to the server's 30 s inactivity threshold, so a leader that lists the
//! heartbeat keys after every heartbeat burst kept dozens of idle consumers alive.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, ReplayPolicy, push};
use futures::StreamExt;

use super::{NatsBucket, classify, op_of};
use crate::parti::kv::{KvError, KvOp};

/// The most one listing may take.
pub const LISTING_TIMEOUT: Duration = Duration::from_secs(5);
/// If the delete after a listing is lost, the server removes the consumer after this long
/// without interest.
const INACTIVE_THRESHOLD: Duration = Duration::from_secs(2);

/// The number of messages still pending after this one, from a JetStream ack subject
/// (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or the v2 form with
/// domain and account hash after `ACK` and a random token at the end).
pub fn pending_of(reply: &str) -> Option<u64> {
    let rest = reply.strip_prefix("$JS.ACK.")?;
    let tokens: Vec<&str> = rest.split('.').collect();
    let index = match tokens.len() {
        7 => 6,
        n if n >= 9 => 8,
        _ => return None,
    };
    tokens.get(index)?.parse().ok()
}

/// Whether a listed message is a live value (not a delete or purge marker).
fn is_live(headers: Option<&async_nats::HeaderMap>) -> bool {
    op_of(headers) == KvOp::Put
}

impl NatsBucket {
    /// Live keys, least recently written first, through one short-lived consumer.
    pub(super) async fn list_keys(&self) -> Result<Vec<String>, KvError> {
        let map = |what: &str, err: &dyn std::fmt::Display| {
            classify(
                &self.client,
                format!("list keys of {}: {what}: {err}", self.name),
            )
        };
        let inbox = self.client.new_inbox();
        let mut messages = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|err| map("subscribe", &err))?;
        let consumer = self
            .stream
            .create_consumer(push::Config {
                deliver_subject: inbox,
                description: Some("kv keys listing".to_owned()),
                filter_subject: format!("{}>", self.prefix),
                headers_only: true,
                replay_policy: ReplayPolicy::Instant,
                deliver_policy: DeliverPolicy::LastPerSubject,
                ack_policy: AckPolicy::None,
                max_deliver: 1,
                inactive_threshold: INACTIVE_THRESHOLD,
                memory_storage: true,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(|err| map("create consumer", &err))?;
        let name = consumer.cached_info().name.clone();
        let expected = consumer.cached_info().num_pending;
        let mut keys = Vec::new();
        let read = async {
            if expected == 0 {
                return Ok(());
            }
            while let Some(message) = messages.next().await {
                let Some(key) = message.subject.as_str().strip_prefix(&self.prefix) else {
                    continue;
                };
                if is_live(message.headers.as_ref()) {
                    keys.push(key.to_owned());
                }
                let pending = message.reply.as_deref().and_then(pending_of);
                if pending == Some(0) {
                    return Ok(());
                }
            }
            Err(KvError::Connection(format!(
                "list keys of {}: the subscription closed",
                self.name
            )))
        };
        let outcome = tokio::time::timeout(LISTING_TIMEOUT, read).await;
        drop(messages);
        // Delete the consumer without waiting for the answer; the inactivity threshold
        // removes it if the delete is lost.
        let stream = self.stream.clone();
        tokio::spawn(async move {
            let _ = stream.delete_consumer(&name).await;
        });
        match outcome {
            Ok(Ok(())) => Ok(keys),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(KvError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::KV_OPERATION;
    use super::*;

    #[test]
    fn pending_is_read_from_both_ack_subject_forms() {
        assert_eq!(
            pending_of("$JS.ACK.KV_b.cons.1.42.7.1700000000000000000.3"),
            Some(3)
        );
        assert_eq!(
            pending_of("$JS.ACK.hub.ACCHASH.KV_b.cons.1.42.7.1700000000000000000.0.rand"),
            Some(0)
        );
        assert_eq!(pending_of("$JS.ACK.KV_b.cons.1"), None);
        assert_eq!(pending_of("_INBOX.x"), None);
    }

    #[test]
    fn markers_are_not_live() {
        let mut deleted = async_nats::HeaderMap::new();
        deleted.insert(KV_OPERATION, "DEL");
        let mut purged = async_nats::HeaderMap::new();
        purged.insert(KV_OPERATION, "PURGE");
        let mut expired = async_nats::HeaderMap::new();
        expired.insert("Nats-Marker-Reason", "MaxAge");
        let mut put = async_nats::HeaderMap::new();
        put.insert("Nats-Msg-Size", "12");
        assert!(!is_live(Some(&deleted)));
        assert!(!is_live(Some(&purged)));
        assert!(!is_live(Some(&expired)));
        assert!(is_live(Some(&put)));
        assert!(is_live(None));
    }
}
