//! What producers and workers report to the ledger: [`SentRecord`] (a message the stream
//! stored), [`DeliveryRecord`] (one delivery of a message to a worker and how it ended), batched
//! in a [`ReportBatch`] numbered per reporter so the receiver can drop a batch it already has.

use serde::{Deserialize, Serialize};

use super::message::MessageId;

/// A message the stream acknowledged (so it is stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRecord {
    pub id: MessageId,
    /// The send time carried in the message, µs since the Unix epoch.
    pub sent_us: u64,
}

/// How one delivery ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Processed, and the server confirmed the ack.
    Acked,
    /// Processed, but the ack was not confirmed (the server will redeliver it).
    AckFailed,
    /// Refused by the ownership fence: nak'd, not processed, not acked.
    Fenced,
}

/// One delivery of a message to a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: MessageId,
    pub worker: String,
    /// The server's delivery count (1 on the first delivery).
    pub delivered: u32,
    /// The send time carried in the message, µs since the Unix epoch.
    pub sent_us: u64,
    /// When the worker received it.
    pub received_us: u64,
    /// When the worker settled it: the moment its ack left (confirmed or not), or its nak.
    pub done_us: u64,
    pub outcome: Outcome,
}

/// A numbered batch of records from one reporter. `reporter` must be unique per process start
/// (batch numbers restart at 0 with a new reporter).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportBatch {
    pub reporter: String,
    /// From 0, one more per batch.
    pub batch: u64,
    #[serde(default)]
    pub sent: Vec<SentRecord>,
    #[serde(default)]
    pub deliveries: Vec<DeliveryRecord>,
}

/// The receiver's answer to a batch: it is in the ledger (now or before).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAck {
    pub reporter: String,
    pub batch: u64,
    /// False when the batch had been received before (and so was ignored).
    pub new: bool,
}
