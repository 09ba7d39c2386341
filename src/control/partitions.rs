//! The partitions of a [`super::HostSpec`] on the wire: parti-top's numbered partitions
//! (`partition-0` … `partition-<n-1>`, weight 100) travel as their count, any other list as
//! the list. 30,000 numbered partitions as a list are about 1.2 MB, more than a NATS message
//! may carry by default (1 MiB); as a count they are a few bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::parti::partition::Partition;
use crate::parti::source::numbered_partitions;

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Numbered { numbered: usize },
    List(Vec<Partition>),
}

/// The count `n` when `partitions` are exactly `numbered_partitions(n)`.
fn numbered_count(partitions: &[Partition]) -> Option<usize> {
    partitions
        .iter()
        .enumerate()
        .all(|(i, p)| p.weight == 100 && p.keys.len() == 1 && p.keys[0] == format!("partition-{i}"))
        .then_some(partitions.len())
}

pub fn serialize<S: Serializer>(
    partitions: &[Partition],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match numbered_count(partitions) {
        Some(numbered) if numbered > 0 => Wire::Numbered { numbered }.serialize(serializer),
        _ => Wire::List(partitions.to_vec()).serialize(serializer),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Partition>, D::Error> {
    Ok(match Wire::deserialize(deserializer)? {
        Wire::Numbered { numbered } => numbered_partitions(numbered),
        Wire::List(list) => list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        partitions: Vec<Partition>,
    }

    fn round_trip(partitions: Vec<Partition>) -> String {
        let holder = Holder { partitions };
        let text = serde_json::to_string(&holder).expect("serialize");
        let back: Holder = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, holder);
        text
    }

    #[test]
    fn numbered_partitions_travel_as_their_count() {
        let text = round_trip(numbered_partitions(30_000));
        assert_eq!(text, r#"{"partitions":{"numbered":30000}}"#);
    }

    #[test]
    fn any_other_list_travels_whole() {
        let mut weighted = numbered_partitions(3);
        weighted[1].weight = 7;
        assert!(round_trip(weighted).contains("\"weight\":7"));
        let renamed = vec![Partition::new(["orders".to_owned()], 100)];
        assert!(round_trip(renamed).contains("orders"));
        let shifted: Vec<Partition> = numbered_partitions(3).into_iter().skip(1).collect();
        assert!(round_trip(shifted).contains("partition-1"));
        assert_eq!(round_trip(Vec::new()), r#"{"partitions":[]}"#);
    }
}
