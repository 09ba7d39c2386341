//! The load message: one per (producer, partition, partition sequence), a fixed binary header
//! padded to the payload size, its `Nats-Msg-Id` and its subject. Decoding never panics: a
//! short or foreign payload is a [`DecodeError`].
//!
//! Layout (little endian): `b"PTL1"`, producer `u32`, partition index `u32`, partition sequence
//! `u64` (from 1, contiguous), producer sequence `u64` (from 1), send time `u64` (µs since the
//! Unix epoch); then padding bytes up to the payload size.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The first bytes of every load message (format version 1).
pub const MAGIC: [u8; 4] = *b"PTL1";
/// Bytes taken by the header; a payload is at least this long.
pub const HEADER_BYTES: usize = 4 + 4 + 4 + 8 + 8 + 8;
/// The header carrying the publish de-duplication id.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// The identity of one load message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId {
    pub producer: u32,
    /// Index of the partition in the run's partition list.
    pub partition: u32,
    /// Sequence within (producer, partition), from 1, contiguous.
    pub seq: u64,
}

impl MessageId {
    /// The `Nats-Msg-Id` of the message: `<producer>-<partition>-<seq>`, so a retried publish is
    /// de-duplicated by the stream.
    pub fn nats_msg_id(&self) -> String {
        format!("{}-{}-{}", self.producer, self.partition, self.seq)
    }
}

/// One decoded load message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadMessage {
    pub id: MessageId,
    /// Sequence over everything this producer sent, from 1.
    pub producer_seq: u64,
    /// When the producer first tried to publish it, µs since the Unix epoch.
    pub sent_us: u64,
}

/// A payload that is not a load message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload of {got} bytes is shorter than the {HEADER_BYTES}-byte load header")]
    Truncated { got: usize },
    #[error("payload does not start with the load message magic")]
    BadMagic,
    #[error("load message has partition sequence 0 (sequences start at 1)")]
    ZeroSequence,
}

impl LoadMessage {
    /// The payload, padded with a repeating pattern up to `payload_bytes` (at least
    /// [`HEADER_BYTES`] are written whatever `payload_bytes` says).
    pub fn encode(&self, payload_bytes: usize) -> Bytes {
        let len = payload_bytes.max(HEADER_BYTES);
        let mut buf = BytesMut::with_capacity(len);
        buf.put_slice(&MAGIC);
        buf.put_u32_le(self.id.producer);
        buf.put_u32_le(self.id.partition);
        buf.put_u64_le(self.id.seq);
        buf.put_u64_le(self.producer_seq);
        buf.put_u64_le(self.sent_us);
        for i in HEADER_BYTES..len {
            #[allow(clippy::cast_possible_truncation, reason = "a repeating byte pattern")]
            buf.put_u8(b'a' + (i % 26) as u8);
        }
        buf.freeze()
    }

    /// Reads a payload written by [`LoadMessage::encode`]; the padding is not checked.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let header = payload
            .get(..HEADER_BYTES)
            .ok_or(DecodeError::Truncated { got: payload.len() })?;
        if header[..4] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let u32_at = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let message = Self {
            id: MessageId {
                producer: u32_at(4),
                partition: u32_at(8),
                seq: u64_at(12),
            },
            producer_seq: u64_at(20),
            sent_us: u64_at(28),
        };
        if message.id.seq == 0 {
            return Err(DecodeError::ZeroSequence);
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LoadMessage {
        LoadMessage {
            id: MessageId {
                producer: 3,
                partition: 17,
                seq: 42,
            },
            producer_seq: 1_000_001,
            sent_us: 1_790_000_000_123_456,
        }
    }

    #[test]
    fn round_trips_at_the_asked_size() {
        for size in [HEADER_BYTES, 128, 4096] {
            let bytes = sample().encode(size);
            assert_eq!(bytes.len(), size);
            assert_eq!(LoadMessage::decode(&bytes), Ok(sample()));
        }
        // Never shorter than the header.
        assert_eq!(sample().encode(3).len(), HEADER_BYTES);
        let extreme = LoadMessage {
            id: MessageId {
                producer: u32::MAX,
                partition: u32::MAX,
                seq: u64::MAX,
            },
            producer_seq: u64::MAX,
            sent_us: u64::MAX,
        };
        assert_eq!(LoadMessage::decode(&extreme.encode(64)), Ok(extreme));
    }

    #[test]
    fn truncated_or_foreign_payloads_are_errors() {
        let bytes = sample().encode(128);
        for cut in 0..HEADER_BYTES {
            assert_eq!(
                LoadMessage::decode(&bytes[..cut]),
                Err(DecodeError::Truncated { got: cut })
            );
        }
        assert_eq!(
            LoadMessage::decode(&[0xffu8; 64]),
            Err(DecodeError::BadMagic)
        );
        assert_eq!(
            LoadMessage::decode(b"{\"partition_id\":1,\"producer_id\":2,\"x\":3}"),
            Err(DecodeError::BadMagic)
        );
        let mut zero = sample();
        zero.id.seq = 0;
        assert_eq!(
            LoadMessage::decode(&zero.encode(64)),
            Err(DecodeError::ZeroSequence)
        );
    }

    #[test]
    fn msg_id_names_producer_partition_and_sequence() {
        assert_eq!(sample().id.nats_msg_id(), "3-17-42");
    }
}
