//! Names and subjects of the consumers: durable-name sanitising (`[A-Za-z0-9_-]`), the
//! per-worker and per-partition durable names, the subject template (`{{.PartitionID}}`,
//! rendered with [`Partition::subject_key`]), the sorted de-duplicated subject list, and the
//! lookup from a message subject back to the owned partition.

use std::collections::BTreeMap;

use super::ConsumerError;
use crate::parti::partition::Partition;

/// The only field a subject template may use (Go `text/template` syntax).
const FIELD: &str = ".PartitionID";

/// Every character outside `[A-Za-z0-9_-]` replaced by `_` (Go's durable-name sanitiser).
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The durable (and `Name`) of a worker's consumer: `<prefix>-<workerID>`, sanitised.
pub fn worker_durable(prefix: &str, worker_id: &str) -> String {
    sanitize(&format!("{prefix}-{worker_id}"))
}

/// The durable of a partition's consumer: `<prefix>-p-<subject key>`, sanitised.
///
/// Two partitions whose subject keys differ only in characters outside `[A-Za-z0-9_-]`
/// (`a.b` and `a_b`) share a name; [`partition_durables`] reports that as an error.
pub fn partition_durable(prefix: &str, partition: &Partition) -> String {
    sanitize(&format!("{prefix}-p-{}", partition.subject_key()))
}

/// A parsed subject template: literal pieces with the partition's subject key between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectTemplate {
    /// Literal text; the subject key goes between consecutive pieces.
    pieces: Vec<String>,
}

impl SubjectTemplate {
    /// Parses a template such as `work.{{.PartitionID}}` (`{{ .PartitionID }}` also accepted).
    /// Any other action, an unclosed `{{`, or no `{{.PartitionID}}` at all is an error.
    pub fn parse(template: &str) -> Result<Self, ConsumerError> {
        let invalid = |why: &str| ConsumerError::InvalidTemplate {
            template: template.to_owned(),
            reason: why.to_owned(),
        };
        let mut pieces = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| invalid("unclosed {{"))?;
            if after[..close].trim() != FIELD {
                return Err(invalid("only {{.PartitionID}} is supported"));
            }
            pieces.push(rest[..open].to_owned());
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return Err(invalid("unmatched }}"));
        }
        pieces.push(rest.to_owned());
        if pieces.len() < 2 {
            return Err(invalid("no {{.PartitionID}}"));
        }
        Ok(Self { pieces })
    }

    /// The subject of one partition. A partition without keys is an error.
    pub fn render(&self, partition: &Partition) -> Result<String, ConsumerError> {
        if partition.keys.is_empty() {
            return Err(ConsumerError::EmptyPartition);
        }
        Ok(self.pieces.join(&partition.subject_key()))
    }

    /// The subject made from an arbitrary key, for subjects no partition owns.
    pub fn render_key(&self, key: &str) -> String {
        self.pieces.join(key)
    }

    /// One subject per partition, de-duplicated and sorted by byte order.
    pub fn render_all(&self, partitions: &[Partition]) -> Result<Vec<String>, ConsumerError> {
        let mut subjects = partitions
            .iter()
            .map(|p| self.render(p))
            .collect::<Result<Vec<_>, _>>()?;
        subjects.sort_unstable();
        subjects.dedup();
        Ok(subjects)
    }

    /// Subject → partition for `partitions` (the first partition wins on a duplicate subject).
    pub fn routes(&self, partitions: &[Partition]) -> Result<Routes, ConsumerError> {
        let mut map = BTreeMap::new();
        for partition in partitions {
            map.entry(self.render(partition)?)
                .or_insert_with(|| partition.clone());
        }
        Ok(Routes(map))
    }
}

/// Which owned partition a message subject belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routes(BTreeMap<String, Partition>);

impl Routes {
    /// The owned partition whose rendered subject is `subject`, if any.
    pub fn partition(&self, subject: &str) -> Option<&Partition> {
        self.0.get(subject)
    }

    /// The number of distinct subjects.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The per-partition durables for `partitions`, keyed by name; an error if two distinct
/// partitions map to one name or a partition has no keys.
pub fn partition_durables(
    prefix: &str,
    partitions: &[Partition],
) -> Result<BTreeMap<String, Partition>, ConsumerError> {
    let mut out: BTreeMap<String, Partition> = BTreeMap::new();
    for partition in partitions {
        if partition.keys.is_empty() {
            return Err(ConsumerError::EmptyPartition);
        }
        let name = partition_durable(prefix, partition);
        match out.get(&name) {
            Some(existing) if existing.keys != partition.keys => {
                return Err(ConsumerError::NameCollision {
                    name,
                    first: existing.subject_key(),
                    second: partition.subject_key(),
                });
            }
            Some(_) => {}
            None => {
                out.insert(name, partition.clone());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(keys: &[&str]) -> Partition {
        Partition::new(keys.iter().copied(), 0)
    }

    #[test]
    fn sanitize_keeps_only_the_go_alphabet() {
        assert_eq!(sanitize("abc-XYZ_09"), "abc-XYZ_09");
        assert_eq!(sanitize("a.b c*d>e/é"), "a_b_c_d_e__");
        assert_eq!(
            worker_durable("parti-wc", "worker.7"),
            "parti-wc-worker_7",
            "the Go name <prefix>-<workerID>"
        );
        assert_eq!(
            partition_durable("load", &p(&["tool001", "chamber1"])),
            "load-p-tool001_chamber1"
        );
    }

    #[test]
    fn template_renders_the_subject_key() {
        let t = SubjectTemplate::parse("work.{{.PartitionID}}").expect("parse");
        assert_eq!(
            t.render(&p(&["tool001", "chamber1"])).expect("render"),
            "work.tool001.chamber1"
        );
        let spaced = SubjectTemplate::parse("a.{{ .PartitionID }}.b").expect("parse");
        assert_eq!(spaced.render(&p(&["x"])).expect("render"), "a.x.b");
        assert_eq!(spaced.render_key("k"), "a.k.b");
        let twice = SubjectTemplate::parse("{{.PartitionID}}.{{.PartitionID}}").expect("parse");
        assert_eq!(twice.render(&p(&["x"])).expect("render"), "x.x");
        assert_eq!(t.render(&p(&[])), Err(ConsumerError::EmptyPartition));
    }

    #[test]
    fn bad_templates_are_errors() {
        for bad in [
            "work",
            "work.{{.Other}}",
            "work.{{.PartitionID",
            "work.}}",
            "{{.PartitionID}}}}",
        ] {
            assert!(
                matches!(
                    SubjectTemplate::parse(bad),
                    Err(ConsumerError::InvalidTemplate { .. })
                ),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn subjects_are_sorted_by_bytes_and_deduplicated() {
        let t = SubjectTemplate::parse("w.{{.PartitionID}}").expect("parse");
        let parts = [
            p(&["b"]),
            p(&["a", "2"]),
            p(&["B"]),
            p(&["b"]),
            p(&["a", "10"]),
        ];
        assert_eq!(
            t.render_all(&parts).expect("render"),
            vec!["w.B", "w.a.10", "w.a.2", "w.b"]
        );
        assert_eq!(
            t.render_all(&[p(&["a"]), p(&[])]),
            Err(ConsumerError::EmptyPartition)
        );
        assert!(t.render_all(&[]).expect("empty").is_empty());
    }

    #[test]
    fn routes_map_subjects_back_to_partitions() {
        let t = SubjectTemplate::parse("w.{{.PartitionID}}").expect("parse");
        let routes = t.routes(&[p(&["a", "1"]), p(&["b"])]).expect("routes");
        assert_eq!(routes.partition("w.a.1"), Some(&p(&["a", "1"])));
        assert_eq!(routes.partition("w.c"), None);
        assert_eq!(routes.len(), 2);
    }

    #[test]
    fn partition_durables_detect_collisions() {
        let names = partition_durables("x", &[p(&["a", "b"]), p(&["c"]), p(&["c"])]).expect("ok");
        assert_eq!(
            names.keys().cloned().collect::<Vec<_>>(),
            vec!["x-p-a_b", "x-p-c"]
        );
        assert!(matches!(
            partition_durables("x", &[p(&["a", "b"]), p(&["a_b"])]),
            Err(ConsumerError::NameCollision { .. })
        ));
        assert_eq!(
            partition_durables("x", &[p(&[])]),
            Err(ConsumerError::EmptyPartition)
        );
    }
}
