//! The per-message ledger: every message's fate from the producers' [`SentRecord`]s and the
//! workers' [`DeliveryRecord`]s, ingested in any order and de-duplicated by (reporter, batch).
//!
//! Memory: one 24-byte slot per message in a vector per (producer, partition) indexed by the
//! partition sequence (sequences are contiguous from 1), plus a list of the exceptional
//! deliveries only (redeliveries, failed acks, fenced naks, second acks); latencies go to a
//! [`Histogram`] and the time series to per-second counters. 1,500 msg/s for 10 minutes is
//! 900,000 slots, about 22 MB.
//!
//! Definitions (docs/load.md): *sent* = stored by the stream (a sent record); *delivered* = at
//! least one delivery record; *acked* = at least one confirmed ack; *duplicated* = acked more
//! than once (by one worker or several); *redelivered* = deliveries with a delivery count above 1
//! (not duplicates); *in flight* = sent, not acked yet; *lost* = the same once the drain has
//! ended ([`Ledger::end_drain`]), less those the work-queue stream no longer holds
//! ([`Ledger::end_drain_with_stored`]: acked, the report died with its process); latency =
//! first ack − send time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::histogram::Histogram;
use super::message::MessageId;
use super::record::{DeliveryRecord, Outcome, ReportBatch, SentRecord};

mod acks;
mod query;

pub use acks::Ack;
pub use query::{DeliveryTrace, MessageFate};

/// A sequence further than this beyond a stream's current end is refused (it would only be a
/// corrupt record, and would allocate its gap).
pub const MAX_SEQ_JUMP: u64 = 1 << 24;

const NO_WORKER: u16 = u16::MAX;
const SENT: u8 = 1;
const DELIVERED: u8 = 2;
/// The first ack's delivery is also in the exception list (its delivery count was above 1).
const FIRST_IN_EXCEPTIONS: u8 = 4;
/// Never reported acked, but gone from the work-queue stream after the drain: acked by a
/// process that died before its report was flushed.
const ACK_UNREPORTED: u8 = 8;

const EMPTY: Slot = Slot {
    sent_us: 0,
    acked_us: 0,
    ack_took_us: 0,
    acker: NO_WORKER,
    acks: 0,
    flags: 0,
};

/// One message's fate, compactly.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Send time, from the sent record or any delivery (0 unknown).
    sent_us: u64,
    /// The first confirmed ack (0 none).
    acked_us: u64,
    /// Receipt to ack of that first ack.
    ack_took_us: u32,
    /// Worker of the first ack ([`NO_WORKER`] none).
    acker: u16,
    /// Confirmed acks, saturating.
    acks: u8,
    flags: u8,
}

/// A delivery kept in full: anything but a message's first ack on its first delivery (that one
/// lives in the slot).
#[derive(Clone, Copy, Debug)]
struct Exception {
    id: MessageId,
    worker: u16,
    delivered: u32,
    sent_us: u64,
    received_us: u64,
    done_us: u64,
    outcome: Outcome,
}

/// Counters of one second (by Unix second).
#[derive(Clone, Copy, Debug, Default)]
struct Second {
    sent: u64,
    acked: u64,
    begun: u64,
    ended: u64,
}

/// Batches seen from one reporter: every batch below `below`, and those in `extra`.
#[derive(Clone, Debug, Default)]
struct Seen {
    below: u64,
    extra: BTreeSet<u64>,
}

impl Seen {
    /// Marks `batch` seen; false if it already was.
    fn insert(&mut self, batch: u64) -> bool {
        if batch < self.below || !self.extra.insert(batch) {
            return false;
        }
        while self.extra.remove(&self.below) {
            self.below += 1;
        }
        true
    }
}

/// The totals of the ledger (or of a time window of it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerSummary {
    pub sent: u64,
    /// Messages with at least one delivery.
    pub delivered: u64,
    /// Delivery records (every attempt).
    pub deliveries: u64,
    /// Messages acked at least once.
    pub acked: u64,
    /// Sent, never acked, and the drain has ended.
    pub lost: u64,
    /// Messages acked more than once.
    pub duplicated: u64,
    /// Deliveries with a delivery count above 1.
    pub redelivered: u64,
    /// Sent, not acked yet, while the drain has not ended.
    pub in_flight: u64,
    /// Deliveries whose ack the server did not confirm.
    pub ack_failed: u64,
    /// Deliveries nak'd by the ownership fence.
    pub nak_by_fence: u64,
    /// Acked messages no producer reported as sent (a reporting fault; 0 after the flushes).
    pub acked_unsent: u64,
    /// Sent, never reported acked, yet gone from the work-queue stream at the end of the drain
    /// ([`Ledger::end_drain_with_stored`]): acked by a process killed before it reported.
    #[serde(default)]
    pub ack_unreported: u64,
    /// Records refused as corrupt (sequence 0 or far beyond the stream's end).
    pub rejected: u64,
    pub latency_p50_us: Option<u64>,
    pub latency_p99_us: Option<u64>,
    pub latency_max_us: Option<u64>,
}

/// One point of the per-second series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Unix second.
    pub t_s: u64,
    /// Messages sent during this second (by send time).
    pub sent: u64,
    /// Messages first acked during this second.
    pub acked: u64,
    /// Deliveries begun and not ended at the end of this second.
    pub in_flight: u64,
    /// Sent minus acked up to the end of this second.
    pub lag: i64,
}

/// The ledger of a run.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    streams: HashMap<(u32, u32), Vec<Slot>>,
    workers: Vec<String>,
    worker_index: HashMap<String, u16>,
    seen: HashMap<String, Seen>,
    exceptions: Vec<Exception>,
    latency: Histogram,
    seconds: BTreeMap<u64, Second>,
    drained: bool,
    deliveries: u64,
    redelivered: u64,
    ack_failed: u64,
    nak_by_fence: u64,
    rejected: u64,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a batch unless it was taken before; returns whether it was new.
    pub fn ingest(&mut self, batch: &ReportBatch) -> bool {
        if !self
            .seen
            .entry(batch.reporter.clone())
            .or_default()
            .insert(batch.batch)
        {
            return false;
        }
        for record in &batch.sent {
            self.sent(record);
        }
        for record in &batch.deliveries {
            self.delivery(record);
        }
        true
    }

    /// The drain has ended: from now on, sent and unacked is lost, not in flight.
    pub fn end_drain(&mut self) {
        self.drained = true;
    }

    /// Ends the drain knowing which messages the work-queue stream still holds: a message sent,
    /// never reported acked and no longer stored was acked by a process whose report died with
    /// it; it counts as `ack_unreported`, not `lost`. The others stay lost.
    pub fn end_drain_with_stored(&mut self, stored: &std::collections::HashSet<MessageId>) {
        self.drained = true;
        for (&(producer, partition), slots) in &mut self.streams {
            for (i, slot) in slots.iter_mut().enumerate() {
                if slot.flags & SENT == 0 || slot.acks > 0 {
                    continue;
                }
                let id = MessageId {
                    producer,
                    partition,
                    seq: i as u64 + 1,
                };
                if stored.contains(&id) {
                    slot.flags &= !ACK_UNREPORTED;
                } else {
                    slot.flags |= ACK_UNREPORTED;
                }
            }
        }
    }

    pub fn drained(&self) -> bool {
        self.drained
    }

    fn slot(&mut self, id: MessageId) -> Option<&mut Slot> {
        let slots = self.streams.entry((id.producer, id.partition)).or_default();
        let len = slots.len() as u64;
        if id.seq == 0 || id.seq > len.saturating_add(MAX_SEQ_JUMP) {
            self.rejected += 1;
            return None;
        }
        let index = usize::try_from(id.seq - 1).ok()?;
        if index >= slots.len() {
            slots.resize(index + 1, EMPTY);
        }
        let slot = &mut slots[index];
        Some(slot)
    }

    fn sent(&mut self, record: &SentRecord) {
        let Some(slot) = self.slot(record.id) else {
            return;
        };
        if slot.flags & SENT != 0 {
            return;
        }
        slot.flags |= SENT;
        slot.sent_us = record.sent_us;
        self.seconds
            .entry(record.sent_us / 1_000_000)
            .or_default()
            .sent += 1;
    }

    fn worker(&mut self, name: &str) -> u16 {
        if let Some(&index) = self.worker_index.get(name) {
            return index;
        }
        let index = u16::try_from(self.workers.len())
            .unwrap_or(NO_WORKER - 1)
            .min(NO_WORKER - 1);
        if usize::from(index) == self.workers.len() {
            self.workers.push(name.to_owned());
            self.worker_index.insert(name.to_owned(), index);
        }
        index
    }

    fn delivery(&mut self, record: &DeliveryRecord) {
        let worker = self.worker(&record.worker);
        let Some(slot) = self.slot(record.id) else {
            return;
        };
        slot.flags |= DELIVERED;
        if slot.sent_us == 0 {
            slot.sent_us = record.sent_us;
        }
        let ack_took_us =
            u32::try_from(record.done_us.saturating_sub(record.received_us)).unwrap_or(u32::MAX);
        let first_ack_now =
            record.outcome == Outcome::Acked && (slot.acks == 0 || record.done_us < slot.acked_us);
        let exception = !first_ack_now || record.delivered > 1;
        let mut first_ack_moved: Option<(u64, u64)> = None; // (old second, new second)
        let mut latency = None;
        let mut displaced = None;
        if first_ack_now {
            if slot.acks == 0 {
                latency = Some(record.done_us.saturating_sub(slot.sent_us));
                first_ack_moved = Some((u64::MAX, record.done_us / 1_000_000));
            } else {
                // An earlier ack arrived later: it becomes the first; the old one is kept as an
                // exception (unless it is one already).
                if slot.flags & FIRST_IN_EXCEPTIONS == 0 {
                    displaced = Some((slot.acker, slot.acked_us, slot.ack_took_us));
                }
                first_ack_moved = Some((slot.acked_us / 1_000_000, record.done_us / 1_000_000));
            }
            slot.acked_us = record.done_us;
            slot.ack_took_us = ack_took_us;
            slot.acker = worker;
            if record.delivered > 1 {
                slot.flags |= FIRST_IN_EXCEPTIONS;
            } else {
                slot.flags &= !FIRST_IN_EXCEPTIONS;
            }
        }
        if record.outcome == Outcome::Acked {
            slot.acks = slot.acks.saturating_add(1);
        }
        let sent_us = slot.sent_us;
        if let Some((acker, acked_us, took)) = displaced {
            self.exceptions.push(Exception {
                id: record.id,
                worker: acker,
                delivered: 1,
                sent_us,
                received_us: acked_us.saturating_sub(u64::from(took)),
                done_us: acked_us,
                outcome: Outcome::Acked,
            });
        }
        if exception {
            self.exceptions.push(Exception {
                id: record.id,
                worker,
                delivered: record.delivered,
                sent_us: record.sent_us,
                received_us: record.received_us,
                done_us: record.done_us,
                outcome: record.outcome,
            });
        }
        if let Some(value) = latency {
            self.latency.record(value);
        }
        if let Some((old, new)) = first_ack_moved {
            if old != u64::MAX
                && let Some(second) = self.seconds.get_mut(&old)
            {
                second.acked = second.acked.saturating_sub(1);
            }
            self.seconds.entry(new).or_default().acked += 1;
        }
        self.deliveries += 1;
        if record.delivered > 1 {
            self.redelivered += 1;
        }
        match record.outcome {
            Outcome::Acked => {}
            Outcome::AckFailed => self.ack_failed += 1,
            Outcome::Fenced => self.nak_by_fence += 1,
        }
        self.seconds
            .entry(record.received_us / 1_000_000)
            .or_default()
            .begun += 1;
        self.seconds
            .entry(record.done_us / 1_000_000)
            .or_default()
            .ended += 1;
    }

    /// The totals of the whole run so far.
    pub fn summary(&self) -> LedgerSummary {
        let mut summary = self.count(|_| true);
        summary.deliveries = self.deliveries;
        summary.redelivered = self.redelivered;
        summary.ack_failed = self.ack_failed;
        summary.nak_by_fence = self.nak_by_fence;
        summary.rejected = self.rejected;
        summary.latency_p50_us = self.latency.quantile(0.5);
        summary.latency_p99_us = self.latency.quantile(0.99);
        summary.latency_max_us = (self.latency.count() > 0).then(|| self.latency.max());
        summary
    }

    /// Message counts over the slots `keep` accepts (by send time); delivery counters left 0.
    fn count(&self, keep: impl Fn(u64) -> bool) -> LedgerSummary {
        let mut s = LedgerSummary::default();
        for slots in self.streams.values() {
            for slot in slots {
                if slot.flags == 0 || !keep(slot.sent_us) {
                    continue;
                }
                let sent = slot.flags & SENT != 0;
                s.sent += u64::from(sent);
                s.delivered += u64::from(slot.flags & DELIVERED != 0);
                s.acked += u64::from(slot.acks > 0);
                s.duplicated += u64::from(slot.acks > 1);
                s.acked_unsent += u64::from(slot.acks > 0 && !sent);
                if sent && slot.acks == 0 {
                    if slot.flags & ACK_UNREPORTED != 0 {
                        s.ack_unreported += 1;
                    } else if self.drained {
                        s.lost += 1;
                    } else {
                        s.in_flight += 1;
                    }
                }
            }
        }
        s
    }

    /// The per-second series from the first to the last second with any record.
    pub fn series(&self) -> Vec<SeriesPoint> {
        let (Some((&first, _)), Some((&last, _))) = (
            self.seconds.first_key_value(),
            self.seconds.last_key_value(),
        ) else {
            return Vec::new();
        };
        let (mut sent, mut acked, mut begun, mut ended) = (0u64, 0u64, 0u64, 0u64);
        let mut points = Vec::new();
        for t_s in first..=last {
            let second = self.seconds.get(&t_s).copied().unwrap_or_default();
            sent += second.sent;
            acked += second.acked;
            begun += second.begun;
            ended += second.ended;
            points.push(SeriesPoint {
                t_s,
                sent: second.sent,
                acked: second.acked,
                in_flight: begun.saturating_sub(ended),
                lag: i64::try_from(sent).unwrap_or(i64::MAX)
                    - i64::try_from(acked).unwrap_or(i64::MAX),
            });
        }
        points
    }

    /// The name of a worker index.
    fn worker_name(&self, index: u16) -> Option<&str> {
        self.workers.get(usize::from(index)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests;
