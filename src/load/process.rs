//! The worker side of the load: [`Processor::process`] decodes a delivered message, checks the
//! ownership fence (refused: nak, not processed, not acked), sleeps the drawn processing delay,
//! acks with the server's confirmation (`double_ack`), and reports the delivery and its outcome
//! to the ledger. It acks by itself, so a consumer's handler maps it to "handled".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};

use super::message::LoadMessage;
use super::producer::unix_us;
use super::record::{DeliveryRecord, Outcome};
use super::report::Reporter;
use super::rng::DelaySampler;
use super::spec::Delay;
use crate::parti::partition::Partition;

/// The ownership fence: whether this worker may process a message of the partition now.
pub type Fence = Arc<dyn Fn(&Partition) -> bool + Send + Sync>;

/// A fence that lets everything through.
pub fn no_fence() -> Fence {
    Arc::new(|_| true)
}

/// What [`Processor::process`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processed {
    /// Processed and the ack confirmed.
    Acked,
    /// Processed, the ack not confirmed (reported as such; the server will redeliver).
    AckFailed,
    /// Refused by the fence and nak'd.
    Fenced,
    /// Not a load message (or of an unknown partition): terminated, not reported.
    Undecodable,
}

/// Counters of a processor.
#[derive(Debug, Default)]
pub struct ProcessorStats {
    pub acked: AtomicU64,
    pub ack_failed: AtomicU64,
    pub fenced: AtomicU64,
    pub undecodable: AtomicU64,
}

/// Processes load messages for the workers of one process.
pub struct Processor {
    delay: Mutex<DelaySampler>,
    fence: Fence,
    fence_nak_delay: Option<Duration>,
    /// A message held longer than this is nak'd instead of acked (see [`Self::with_max_hold`]).
    max_hold: Option<Duration>,
    partitions: Vec<Partition>,
    reporter: Reporter,
    stats: ProcessorStats,
}

impl Processor {
    /// A processor drawing delays from `delay` with `seed`, for the run's `partitions` (in the
    /// producers' order: a message's partition index points into it).
    pub fn new(
        delay: Delay,
        seed: u64,
        partitions: Vec<Partition>,
        fence: Fence,
        reporter: Reporter,
    ) -> Self {
        Self {
            delay: Mutex::new(DelaySampler::new(delay, seed)),
            fence,
            fence_nak_delay: None,
            max_hold: None,
            partitions,
            reporter,
            stats: ProcessorStats::default(),
        }
    }

    /// Asks the server to wait this long before redelivering a fenced message (default: no
    /// delay).
    pub fn with_fence_nak_delay(mut self, delay: Option<Duration>) -> Self {
        self.fence_nak_delay = delay;
        self
    }

    /// Never ack a message held longer than `max_hold` since it arrived: it is nak'd and
    /// reported as fenced. A worker frozen (SIGSTOP) or cut off beyond its heartbeat TTL may
    /// have lost the partition meanwhile, and the message may already be redelivered to the new
    /// owner; acking it late would be a zombie's ack.
    pub fn with_max_hold(mut self, max_hold: Option<Duration>) -> Self {
        self.max_hold = max_hold;
        self
    }

    pub fn stats(&self) -> &ProcessorStats {
        &self.stats
    }

    pub fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    fn next_delay(&self) -> Duration {
        match self.delay.lock() {
            Ok(mut sampler) => sampler.sample(),
            Err(poisoned) => poisoned.into_inner().sample(),
        }
    }

    /// Handles one delivery on `worker_id`; `partition` is the consumer's partition of the
    /// message when it knows it (else the message's own partition index is used).
    pub async fn process(
        &self,
        worker_id: &str,
        partition: Option<&Partition>,
        msg: jetstream::Message,
    ) -> Processed {
        let received_us = unix_us();
        let decoded = LoadMessage::decode(&msg.payload);
        let known = decoded.as_ref().ok().and_then(|m| {
            partition
                .or_else(|| self.partitions.get(m.id.partition as usize))
                .map(|p| (*m, p))
        });
        let Some((message, partition)) = known else {
            self.stats.undecodable.fetch_add(1, Ordering::Relaxed);
            let _ = msg.ack_with(AckKind::Term).await;
            return Processed::Undecodable;
        };
        let delivered = msg
            .info()
            .map_or(1, |info| u32::try_from(info.delivered).unwrap_or(1));
        let arrived = tokio::time::Instant::now();
        let mut ack_sent_us = None;
        let outcome = if (self.fence)(partition) {
            tokio::time::sleep(self.next_delay()).await;
            let held_too_long = self.max_hold.is_some_and(|max| arrived.elapsed() > max);
            if held_too_long || !(self.fence)(partition) {
                let _ = msg.ack_with(AckKind::Nak(self.fence_nak_delay)).await;
                Outcome::Fenced
            } else {
                // The ack's time is when it left: the server takes it between then and the
                // confirmation, and a freeze in between must not move it past a rebalance.
                ack_sent_us = Some(unix_us());
                match msg.double_ack().await {
                    Ok(()) => Outcome::Acked,
                    Err(_) => Outcome::AckFailed,
                }
            }
        } else {
            let _ = msg.ack_with(AckKind::Nak(self.fence_nak_delay)).await;
            Outcome::Fenced
        };
        self.reporter.delivery(DeliveryRecord {
            id: message.id,
            worker: worker_id.to_owned(),
            delivered,
            sent_us: message.sent_us,
            received_us,
            done_us: ack_sent_us.unwrap_or_else(unix_us),
            outcome,
        });
        match outcome {
            Outcome::Acked => {
                self.stats.acked.fetch_add(1, Ordering::Relaxed);
                Processed::Acked
            }
            Outcome::AckFailed => {
                self.stats.ack_failed.fetch_add(1, Ordering::Relaxed);
                Processed::AckFailed
            }
            Outcome::Fenced => {
                self.stats.fenced.fetch_add(1, Ordering::Relaxed);
                Processed::Fenced
            }
        }
    }
}
