//! The assignment value written under `assignment.<workerID>` (parti-protocol.md §2.1): the
//! only structured payload of the protocol, and the lifecycle tags that explain a publish.

use serde::{Deserialize, Serialize};

use super::partition::{Partition, null_as_empty};

/// One worker's complete partition set at a version. Field order and names match Go's
/// `encoding/json` output; reading accepts `null`, missing and unknown fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub lifecycle: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub partitions: Vec<Partition>,
}

impl Assignment {
    /// Decode a KV value.
    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Encode for KV, byte-compatible with Go (Go also escapes `<`, `>`, `&`; any JSON reader
    /// accepts both forms).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why a rebalance was published (the `lifecycle` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lifecycle {
    ColdStartImmediate,
    ColdStartFinal,
    ColdStart,
    PlannedScale,
    Emergency,
    ManualRefresh,
}

impl Lifecycle {
    /// The exact string Go writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::ColdStartImmediate => "cold_start_immediate",
            Lifecycle::ColdStartFinal => "cold_start_final",
            Lifecycle::ColdStart => "cold_start",
            Lifecycle::PlannedScale => "planned_scale",
            Lifecycle::Emergency => "emergency",
            Lifecycle::ManualRefresh => "manual-refresh",
        }
    }
}

impl std::fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_in_go_field_order() {
        let value = Assignment {
            version: 7,
            lifecycle: Lifecycle::PlannedScale.to_string(),
            partitions: vec![
                Partition::new(["tool001", "chamber1"], 100),
                Partition::new(["tool001", "chamber2"], 150),
            ],
        };
        let text = String::from_utf8(value.encode()).expect("utf8");
        assert_eq!(
            text,
            r#"{"version":7,"lifecycle":"planned_scale","partitions":[{"keys":["tool001","chamber1"],"weight":100},{"keys":["tool001","chamber2"],"weight":150}]}"#
        );
        assert_eq!(Assignment::decode(text.as_bytes()).expect("decode"), value);
    }

    #[test]
    fn decodes_null_missing_and_unknown_fields() {
        let value = Assignment::decode(br#"{"version":3,"partitions":null,"extra":{"a":1}}"#)
            .expect("decode");
        assert_eq!(
            value,
            Assignment {
                version: 3,
                lifecycle: String::new(),
                partitions: vec![]
            }
        );
        let value =
            Assignment::decode(br#"{"partitions":[{"keys":null,"weight":0},{"weight":5}]}"#)
                .expect("decode");
        assert_eq!(value.version, 0);
        assert_eq!(
            value.partitions,
            vec![
                Partition::new(Vec::<String>::new(), 0),
                Partition::new(Vec::<String>::new(), 5)
            ]
        );
        let escaped =
            Assignment::decode(br#"{"version":1,"lifecycle":"\u003cx\u003e","partitions":[]}"#)
                .expect("decode");
        assert_eq!(escaped.lifecycle, "<x>");
        assert!(Assignment::decode(b"not json").is_err());
    }
}
