//! Partition sources: where the leader reads the partition list on every rebalance
//! (parti-protocol.md §9). A static list, and a refreshable one whose list can be replaced while
//! workers run.

use std::sync::{Arc, RwLock};

use super::partition::Partition;

/// Gives the current partition list. Called by the leader on every rebalance.
pub trait PartitionSource: Send + Sync {
    fn list(&self) -> Result<Vec<Partition>, SourceError>;
}

/// A partition list could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("partition source failed: {0}")]
pub struct SourceError(pub String);

/// A fixed list.
#[derive(Clone, Debug)]
pub struct StaticSource {
    partitions: Arc<Vec<Partition>>,
}

impl StaticSource {
    pub fn new(partitions: Vec<Partition>) -> Self {
        Self {
            partitions: Arc::new(partitions),
        }
    }
}

impl PartitionSource for StaticSource {
    fn list(&self) -> Result<Vec<Partition>, SourceError> {
        Ok(self.partitions.as_ref().clone())
    }
}

/// A list that can be replaced at run time (Go's `source.Static` with `Update`). Clones share
/// the list, so a host can update the source its workers read.
#[derive(Clone, Debug, Default)]
pub struct RefreshableSource {
    partitions: Arc<RwLock<Vec<Partition>>>,
}

impl RefreshableSource {
    pub fn new(partitions: Vec<Partition>) -> Self {
        Self {
            partitions: Arc::new(RwLock::new(partitions)),
        }
    }

    /// Replace the list; the next rebalance uses it.
    pub fn update(&self, partitions: Vec<Partition>) {
        let mut guard = self
            .partitions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = partitions;
    }
}

impl PartitionSource for RefreshableSource {
    fn list(&self) -> Result<Vec<Partition>, SourceError> {
        let guard = self
            .partitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(guard.clone())
    }
}

/// `count` single-key partitions named `partition-<i>` (i from 0), weight 100: the layout of
/// parti's stress harness.
pub fn numbered_partitions(count: usize) -> Vec<Partition> {
    (0..count)
        .map(|i| Partition::new([format!("partition-{i}")], 100))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshable_source_is_shared_between_clones() {
        let source = RefreshableSource::new(numbered_partitions(2));
        let clone = source.clone();
        source.update(numbered_partitions(5));
        assert_eq!(clone.list().expect("list").len(), 5);
        assert_eq!(
            clone.list().expect("list")[4].keys,
            vec!["partition-4".to_string()]
        );
    }

    #[test]
    fn static_source_returns_a_copy() {
        let source = StaticSource::new(numbered_partitions(3));
        let mut list = source.list().expect("list");
        list.clear();
        assert_eq!(source.list().expect("list").len(), 3);
    }
}
