//! Questions asked of the ledger about a time window: the totals of the messages sent in it
//! ([`Ledger::summary_sent_between`]) and, around a cluster event, what one worker received in
//! it and who finally acked each message ([`Ledger::delivered_to`]); and per message, its whole
//! fate ([`Ledger::fate`]) and the list of those never acked ([`Ledger::unacked`]).

use serde::{Deserialize, Serialize};

use super::{FIRST_IN_EXCEPTIONS, Ledger, LedgerSummary, NO_WORKER, SENT};
use crate::load::histogram::Histogram;
use crate::load::message::MessageId;
use crate::load::record::Outcome;

/// Everything the ledger knows of one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFate {
    pub id: MessageId,
    /// Reported sent by its producer (stored by the stream).
    pub sent: bool,
    pub sent_us: u64,
    /// Confirmed acks.
    pub acks: u32,
    /// Every delivery the ledger has, by receipt time (each with the first ack).
    pub deliveries: Vec<DeliveryTrace>,
}

/// One delivery to a worker, and where the message went in the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryTrace {
    pub id: MessageId,
    /// The server's delivery count of this delivery.
    pub delivered: u32,
    pub received_us: u64,
    pub done_us: u64,
    pub outcome: Outcome,
    /// The worker of the message's first confirmed ack (maybe another worker), if any.
    pub first_acked_by: Option<String>,
    pub first_acked_us: Option<u64>,
    /// The worker of this delivery (set by [`Ledger::fate`]; `delivered_to` asks for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

impl Ledger {
    /// The totals of the messages sent in `[t0_us, t1_us)` (by their send time); the delivery
    /// counters count those messages' deliveries.
    pub fn summary_sent_between(&self, t0_us: u64, t1_us: u64) -> LedgerSummary {
        let within = |t: u64| t0_us <= t && t < t1_us;
        let mut summary = self.count(within);
        let mut latency = Histogram::new();
        for slots in self.streams.values() {
            for slot in slots.iter().filter(|s| s.flags != 0 && within(s.sent_us)) {
                if slot.acks > 0 {
                    latency.record(slot.acked_us.saturating_sub(slot.sent_us));
                    if slot.flags & FIRST_IN_EXCEPTIONS == 0 {
                        summary.deliveries += 1;
                    }
                }
            }
        }
        for e in self.exceptions.iter().filter(|e| within(e.sent_us)) {
            summary.deliveries += 1;
            summary.redelivered += u64::from(e.delivered > 1);
            summary.ack_failed += u64::from(e.outcome == Outcome::AckFailed);
            summary.nak_by_fence += u64::from(e.outcome == Outcome::Fenced);
        }
        summary.latency_p50_us = latency.quantile(0.5);
        summary.latency_p99_us = latency.quantile(0.99);
        summary.latency_max_us = (latency.count() > 0).then(|| latency.max());
        summary
    }

    /// Every delivery to `worker` received in `[t0_us, t1_us)`, by receipt time, each with the
    /// message's first ack (by whom, when): "what was in flight on worker-3 when it died, and
    /// where did it go".
    pub fn delivered_to(&self, worker: &str, t0_us: u64, t1_us: u64) -> Vec<DeliveryTrace> {
        let Some(&index) = self.worker_index.get(worker) else {
            return Vec::new();
        };
        let within = |t: u64| t0_us <= t && t < t1_us;
        let mut traces = Vec::new();
        for (&(producer, partition), slots) in &self.streams {
            for (i, slot) in slots.iter().enumerate() {
                let received_us = slot.acked_us.saturating_sub(u64::from(slot.ack_took_us));
                if slot.acker == index
                    && slot.flags & FIRST_IN_EXCEPTIONS == 0
                    && within(received_us)
                {
                    traces.push(DeliveryTrace {
                        id: MessageId {
                            producer,
                            partition,
                            seq: i as u64 + 1,
                        },
                        delivered: 1,
                        received_us,
                        done_us: slot.acked_us,
                        outcome: Outcome::Acked,
                        first_acked_by: Some(worker.to_owned()),
                        first_acked_us: Some(slot.acked_us),
                        worker: None,
                    });
                }
            }
        }
        for e in self
            .exceptions
            .iter()
            .filter(|e| e.worker == index && within(e.received_us))
        {
            let first = self.first_ack(e.id);
            traces.push(DeliveryTrace {
                id: e.id,
                delivered: e.delivered,
                received_us: e.received_us,
                done_us: e.done_us,
                outcome: e.outcome,
                first_acked_by: first.map(|(w, _)| w.to_owned()),
                first_acked_us: first.map(|(_, t)| t),
                worker: None,
            });
        }
        traces.sort_by(|a, b| a.received_us.cmp(&b.received_us).then(a.id.cmp(&b.id)));
        traces
    }

    /// Everything known of one message (`None` if the ledger never heard of it).
    pub fn fate(&self, id: MessageId) -> Option<MessageFate> {
        let slot = *self
            .streams
            .get(&(id.producer, id.partition))?
            .get(usize::try_from(id.seq.checked_sub(1)?).ok()?)?;
        if slot.flags == 0 {
            return None;
        }
        let first = self.first_ack(id);
        let trace = |worker: u16, delivered, received_us, done_us, outcome| DeliveryTrace {
            id,
            delivered,
            received_us,
            done_us,
            outcome,
            first_acked_by: first.map(|(w, _)| w.to_owned()),
            first_acked_us: first.map(|(_, t)| t),
            worker: self.worker_name(worker).map(str::to_owned),
        };
        let mut deliveries = Vec::new();
        if slot.acks > 0 && slot.flags & FIRST_IN_EXCEPTIONS == 0 {
            deliveries.push(trace(
                slot.acker,
                1,
                slot.acked_us.saturating_sub(u64::from(slot.ack_took_us)),
                slot.acked_us,
                Outcome::Acked,
            ));
        }
        for e in self.exceptions.iter().filter(|e| e.id == id) {
            deliveries.push(trace(
                e.worker,
                e.delivered,
                e.received_us,
                e.done_us,
                e.outcome,
            ));
        }
        deliveries.sort_by_key(|d| d.received_us);
        Some(MessageFate {
            id,
            sent: slot.flags & SENT != 0,
            sent_us: slot.sent_us,
            acks: u32::from(slot.acks),
            deliveries,
        })
    }

    /// Up to `limit` messages sent and never acked (in flight, or lost after the drain), by
    /// producer, partition and sequence.
    pub fn unacked(&self, limit: usize) -> Vec<MessageId> {
        let mut keys: Vec<&(u32, u32)> = self.streams.keys().collect();
        keys.sort_unstable();
        let mut out = Vec::new();
        for &(producer, partition) in keys {
            for (i, slot) in self.streams[&(producer, partition)].iter().enumerate() {
                if out.len() >= limit {
                    return out;
                }
                if slot.flags & SENT != 0 && slot.acks == 0 {
                    out.push(MessageId {
                        producer,
                        partition,
                        seq: i as u64 + 1,
                    });
                }
            }
        }
        out
    }

    /// The worker and time of a message's first confirmed ack.
    pub fn first_ack(&self, id: MessageId) -> Option<(&str, u64)> {
        let slots = self.streams.get(&(id.producer, id.partition))?;
        let slot = slots.get(usize::try_from(id.seq.checked_sub(1)?).ok()?)?;
        if slot.acks == 0 || slot.acker == NO_WORKER {
            return None;
        }
        Some((self.worker_name(slot.acker)?, slot.acked_us))
    }
}
