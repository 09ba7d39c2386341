//! Every confirmed ack in the ledger, with its worker and time: what the zombie check
//! ([`crate::load::zombie`]) holds against the partitions' owners.

use super::{FIRST_IN_EXCEPTIONS, Ledger, NO_WORKER};
use crate::load::message::MessageId;
use crate::load::record::Outcome;

/// One confirmed ack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack<'a> {
    pub id: MessageId,
    pub worker: &'a str,
    pub acked_us: u64,
}

impl Ledger {
    /// Every confirmed ack: each message's first (kept in its slot) and every later one.
    pub fn acks(&self) -> Vec<Ack<'_>> {
        let mut out = Vec::new();
        for (&(producer, partition), slots) in &self.streams {
            for (i, slot) in slots.iter().enumerate() {
                if slot.acks == 0
                    || slot.acker == NO_WORKER
                    || slot.flags & FIRST_IN_EXCEPTIONS != 0
                {
                    continue;
                }
                if let Some(worker) = self.worker_name(slot.acker) {
                    out.push(Ack {
                        id: MessageId {
                            producer,
                            partition,
                            seq: i as u64 + 1,
                        },
                        worker,
                        acked_us: slot.acked_us,
                    });
                }
            }
        }
        for e in self
            .exceptions
            .iter()
            .filter(|e| e.outcome == Outcome::Acked)
        {
            if let Some(worker) = self.worker_name(e.worker) {
                out.push(Ack {
                    id: e.id,
                    worker,
                    acked_us: e.done_us,
                });
            }
        }
        out
    }
}
