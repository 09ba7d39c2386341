//! Assignment strategies: who owns which partition (protocol §6.8).
//!
//! Owns the [`Strategy`] trait, its error type, the result type [`AssignmentMap`], the strategy
//! selector as it appears in profiles ([`StrategyKind`], [`StrategyConfig`]), and re-exports the
//! three Go-compatible strategies ([`ConsistentHash`], [`WeightedConsistentHash`],
//! [`RoundRobin`]) and the pure measurement helpers ([`movement`], [`balance`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::parti::partition::Partition;

pub mod analysis;
pub mod consistent_hash;
pub mod ring;
pub mod round_robin;
pub mod weighted;

pub use analysis::{Movement, balance, movement};
pub use consistent_hash::ConsistentHash;
pub use ring::Ring;
pub use round_robin::RoundRobin;
pub use weighted::WeightedConsistentHash;

/// Worker ID → the partitions it owns. The built-in strategies give every input worker an entry,
/// possibly with an empty list.
pub type AssignmentMap = BTreeMap<String, Vec<Partition>>;

/// Virtual nodes per worker when none is configured (both hash strategies).
pub const DEFAULT_VIRTUAL_NODES: usize = 150;

/// Largest virtual-node count [`StrategyConfig::validate`] accepts. Go has no limit; this bound
/// (a ring of 100 workers would hold 10 million nodes) only catches typing mistakes in profiles.
pub const MAX_VIRTUAL_NODES: usize = 100_000;

/// Why an assignment could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    /// The worker list was empty.
    #[error("no workers to assign partitions to")]
    NoWorkers,
    /// The partition at `index` (source order) has no keys, so the hash ring cannot place it.
    #[error("partition #{index} cannot be placed on the hash ring: it has no keys")]
    Unplaceable {
        /// Position of the partition in the input list.
        index: usize,
    },
    /// The strategy parameters are unusable.
    #[error("invalid strategy configuration: {0}")]
    InvalidConfig(String),
}

/// An assignment strategy (Go `AssignmentStrategy`). Implementations are pure functions of their
/// inputs, apart from caches that do not change results.
pub trait Strategy: Send + Sync + fmt::Debug {
    /// The strategy's name as used in profiles and on the CLI.
    fn name(&self) -> &'static str;

    /// Distributes `partitions` over `workers`.
    fn assign(
        &self,
        workers: &[String],
        partitions: &[Partition],
    ) -> Result<AssignmentMap, StrategyError>;
}

/// Which strategy. Profiles (serde) name it by the variant identifier (`ConsistentHash`, a valid
/// RON identifier); the CLI and [`Strategy::name`] use the kebab-case name (`Display`/`FromStr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum StrategyKind {
    /// [`ConsistentHash`]: `consistent-hash`.
    #[default]
    ConsistentHash,
    /// [`WeightedConsistentHash`]: `weighted-consistent-hash`.
    WeightedConsistentHash,
    /// [`RoundRobin`]: `round-robin`.
    RoundRobin,
}

impl StrategyKind {
    /// Every kind, in declaration order.
    pub const ALL: [StrategyKind; 3] = [
        StrategyKind::ConsistentHash,
        StrategyKind::WeightedConsistentHash,
        StrategyKind::RoundRobin,
    ];

    /// The kebab-case name (same as [`Strategy::name`] of the built strategy).
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::ConsistentHash => "consistent-hash",
            StrategyKind::WeightedConsistentHash => "weighted-consistent-hash",
            StrategyKind::RoundRobin => "round-robin",
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StrategyKind {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StrategyKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| {
                StrategyError::InvalidConfig(format!(
                    "unknown strategy {s:?}; expected one of consistent-hash, \
                     weighted-consistent-hash, round-robin"
                ))
            })
    }
}

/// Strategy parameters as they appear in a profile. Every parameter is optional; `None` means the
/// Go default (virtual nodes 150, seed 0, overload 1.3, extreme 2.0, default weight 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    /// Which strategy.
    pub kind: StrategyKind,
    /// Virtual nodes per worker (both hash strategies).
    pub virtual_nodes: Option<usize>,
    /// Hash seed (both hash strategies).
    pub hash_seed: Option<u64>,
    /// Soft load cap as a multiple of the average worker load (weighted only; clamped to ≥ 1.15).
    pub overload_threshold: Option<f64>,
    /// Extreme-partition cutoff as a multiple of the average partition weight (weighted only;
    /// clamped to ≥ 1.5).
    pub extreme_threshold: Option<f64>,
    /// Weight used for partitions whose weight is ≤ 0 (weighted only; clamped to ≥ 1).
    pub default_weight: Option<i64>,
}

impl StrategyConfig {
    /// Checks that the parameters make sense for the chosen kind.
    ///
    /// Rejected: parameters the chosen strategy does not use, `virtual_nodes = 0` for
    /// consistent-hash (its ring would be empty), more than [`MAX_VIRTUAL_NODES`] virtual nodes,
    /// and non-finite thresholds. Values below the weighted strategy's minimums are accepted:
    /// that strategy clamps them, as Go does.
    pub fn validate(&self) -> Result<(), StrategyError> {
        let uses_hash = self.kind != StrategyKind::RoundRobin;
        let uses_weights = self.kind == StrategyKind::WeightedConsistentHash;
        let unused: Vec<&str> = [
            ("virtual_nodes", uses_hash, self.virtual_nodes.is_some()),
            ("hash_seed", uses_hash, self.hash_seed.is_some()),
            (
                "overload_threshold",
                uses_weights,
                self.overload_threshold.is_some(),
            ),
            (
                "extreme_threshold",
                uses_weights,
                self.extreme_threshold.is_some(),
            ),
            (
                "default_weight",
                uses_weights,
                self.default_weight.is_some(),
            ),
        ]
        .into_iter()
        .filter(|&(_, used, set)| set && !used)
        .map(|(field, _, _)| field)
        .collect();
        if !unused.is_empty() {
            return Err(StrategyError::InvalidConfig(format!(
                "{} not used by strategy {}",
                unused.join(", "),
                self.kind
            )));
        }
        if self.kind == StrategyKind::ConsistentHash && self.virtual_nodes == Some(0) {
            return Err(StrategyError::InvalidConfig(
                "virtual_nodes must be at least 1 for consistent-hash".into(),
            ));
        }
        if let Some(v) = self.virtual_nodes
            && v > MAX_VIRTUAL_NODES
        {
            return Err(StrategyError::InvalidConfig(format!(
                "virtual_nodes must be at most {MAX_VIRTUAL_NODES}, got {v}"
            )));
        }
        for (field, value) in [
            ("overload_threshold", self.overload_threshold),
            ("extreme_threshold", self.extreme_threshold),
        ] {
            if let Some(v) = value
                && !v.is_finite()
            {
                return Err(StrategyError::InvalidConfig(format!(
                    "{field} must be a finite number, got {v}"
                )));
            }
        }
        Ok(())
    }

    /// Builds the strategy, unset parameters taking the Go defaults. Does not validate; the
    /// weighted strategy clamps out-of-range values as Go does.
    pub fn build(&self) -> Arc<dyn Strategy> {
        let virtual_nodes = self.virtual_nodes.unwrap_or(DEFAULT_VIRTUAL_NODES);
        let seed = self.hash_seed.unwrap_or(0);
        match self.kind {
            StrategyKind::ConsistentHash => Arc::new(
                ConsistentHash::new()
                    .with_virtual_nodes(virtual_nodes)
                    .with_hash_seed(seed),
            ),
            StrategyKind::WeightedConsistentHash => {
                let mut wch = WeightedConsistentHash::new()
                    .with_virtual_nodes(virtual_nodes)
                    .with_hash_seed(seed);
                if let Some(t) = self.overload_threshold {
                    wch = wch.with_overload_threshold(t);
                }
                if let Some(t) = self.extreme_threshold {
                    wch = wch.with_extreme_threshold(t);
                }
                if let Some(w) = self.default_weight {
                    wch = wch.with_default_weight(w);
                }
                Arc::new(wch)
            }
            StrategyKind::RoundRobin => Arc::new(RoundRobin::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workers(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("worker-{i}")).collect()
    }

    fn parts(n: usize) -> Vec<Partition> {
        (0..n)
            .map(|i| Partition::new([format!("partition-{i}")], 0))
            .collect()
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in StrategyKind::ALL {
            assert_eq!(kind.name().parse::<StrategyKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.name());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(
                json,
                format!("\"{kind:?}\""),
                "profiles name strategies as RON identifiers"
            );
            assert_eq!(serde_json::from_str::<StrategyKind>(&json).unwrap(), kind);
            let config = StrategyConfig {
                kind,
                ..StrategyConfig::default()
            };
            assert_eq!(config.build().name(), kind.name());
        }
        assert_eq!(StrategyKind::default(), StrategyKind::ConsistentHash);
        let err = "weighted".parse::<StrategyKind>().unwrap_err();
        assert!(
            err.to_string().contains("unknown strategy \"weighted\""),
            "{err}"
        );
        assert!("Round-Robin".parse::<StrategyKind>().is_err());
    }

    #[test]
    fn config_serde_defaults_and_unknown_fields() {
        let config: StrategyConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, StrategyConfig::default());
        let config: StrategyConfig = serde_json::from_str(
            r#"{"kind":"WeightedConsistentHash","virtual_nodes":200,"overload_threshold":1.5}"#,
        )
        .unwrap();
        assert_eq!(config.kind, StrategyKind::WeightedConsistentHash);
        assert_eq!(config.virtual_nodes, Some(200));
        assert_eq!(config.overload_threshold, Some(1.5));
        assert_eq!(config.hash_seed, None);
        let err = serde_json::from_str::<StrategyConfig>(r#"{"vnodes":3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        assert!(serde_json::from_str::<StrategyConfig>(r#"{"kind":"ring"}"#).is_err());
    }

    #[test]
    fn validate_rejects_bad_or_unused_parameters() {
        let ok = |c: StrategyConfig| c.validate().is_ok();
        let base = |kind| StrategyConfig {
            kind,
            ..StrategyConfig::default()
        };
        for kind in StrategyKind::ALL {
            assert!(ok(base(kind)));
        }
        let ch = base(StrategyKind::ConsistentHash);
        let wch = base(StrategyKind::WeightedConsistentHash);
        let rr = base(StrategyKind::RoundRobin);
        assert!(ok(StrategyConfig {
            virtual_nodes: Some(1),
            hash_seed: Some(9),
            ..ch.clone()
        }));
        let err = StrategyConfig {
            virtual_nodes: Some(0),
            ..ch.clone()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("virtual_nodes"), "{err}");
        for kind in [
            StrategyKind::ConsistentHash,
            StrategyKind::WeightedConsistentHash,
        ] {
            assert!(ok(StrategyConfig {
                virtual_nodes: Some(MAX_VIRTUAL_NODES),
                ..base(kind)
            }));
            let err = StrategyConfig {
                virtual_nodes: Some(MAX_VIRTUAL_NODES + 1),
                ..base(kind)
            }
            .validate()
            .unwrap_err();
            assert!(err.to_string().contains("at most 100000"), "{err}");
        }
        let err = StrategyConfig {
            overload_threshold: Some(1.3),
            ..ch.clone()
        }
        .validate()
        .unwrap_err();
        assert!(
            err.to_string().contains("overload_threshold not used"),
            "{err}"
        );
        let err = StrategyConfig {
            virtual_nodes: Some(10),
            default_weight: Some(3),
            ..rr
        }
        .validate()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("virtual_nodes, default_weight not used"),
            "{err}"
        );
        // Weighted clamps instead of rejecting (Go behaviour) …
        assert!(ok(StrategyConfig {
            virtual_nodes: Some(0),
            overload_threshold: Some(0.5),
            extreme_threshold: Some(1.0),
            default_weight: Some(-4),
            hash_seed: Some(1),
            ..wch.clone()
        }));
        // … but non-finite thresholds are rejected.
        for bad in [f64::NAN, f64::INFINITY] {
            assert!(!ok(StrategyConfig {
                overload_threshold: Some(bad),
                ..wch.clone()
            }));
            assert!(!ok(StrategyConfig {
                extreme_threshold: Some(bad),
                ..wch.clone()
            }));
        }
    }

    #[test]
    fn build_applies_parameters() {
        let config = StrategyConfig {
            kind: StrategyKind::ConsistentHash,
            virtual_nodes: Some(10),
            hash_seed: Some(42),
            ..StrategyConfig::default()
        };
        let built = config.build().assign(&workers(3), &parts(40)).unwrap();
        let direct = ConsistentHash::new()
            .with_virtual_nodes(10)
            .with_hash_seed(42)
            .assign(&workers(3), &parts(40))
            .unwrap();
        let default = ConsistentHash::new()
            .assign(&workers(3), &parts(40))
            .unwrap();
        assert_eq!(built, direct);
        assert_ne!(built, default);

        let config = StrategyConfig {
            kind: StrategyKind::WeightedConsistentHash,
            default_weight: Some(7),
            overload_threshold: Some(2.5),
            extreme_threshold: Some(0.1),
            ..StrategyConfig::default()
        };
        let built = config.build();
        let text = format!("{built:?}");
        assert!(text.contains("default_weight: 7"), "{text}");
        assert!(text.contains("overload_threshold: 2.5"), "{text}");
        assert!(text.contains("extreme_threshold: 1.5"), "{text}");
    }

    #[test]
    fn error_messages_are_clear() {
        assert_eq!(
            StrategyError::NoWorkers.to_string(),
            "no workers to assign partitions to"
        );
        assert_eq!(
            StrategyError::Unplaceable { index: 3 }.to_string(),
            "partition #3 cannot be placed on the hash ring: it has no keys"
        );
        assert_eq!(
            StrategyError::InvalidConfig("x".into()).to_string(),
            "invalid strategy configuration: x"
        );
    }

    #[test]
    fn every_strategy_places_every_partition_exactly_once() {
        let mut weighted_parts = parts(300);
        for (i, p) in weighted_parts.iter_mut().enumerate() {
            p.weight = [0, 100, 500, 50, 1000][i % 5];
        }
        for kind in StrategyKind::ALL {
            let strategy = StrategyConfig {
                kind,
                ..StrategyConfig::default()
            }
            .build();
            for (w, input) in [(1, &weighted_parts), (7, &weighted_parts), (13, &parts(97))] {
                let map = strategy.assign(&workers(w), input).unwrap();
                assert_eq!(map.len(), w, "{kind}");
                let mut seen: Vec<&Partition> = map.values().flatten().collect();
                assert_eq!(seen.len(), input.len(), "{kind}");
                seen.sort_by(|a, b| a.compare(b));
                let mut expected: Vec<&Partition> = input.iter().collect();
                expected.sort_by(|a, b| a.compare(b));
                assert_eq!(seen, expected, "{kind}");
            }
        }
    }

    #[test]
    fn every_strategy_rejects_empty_worker_list() {
        for kind in StrategyKind::ALL {
            let strategy = StrategyConfig {
                kind,
                ..StrategyConfig::default()
            }
            .build();
            assert_eq!(
                strategy.assign(&[], &parts(3)),
                Err(StrategyError::NoWorkers)
            );
            assert_eq!(strategy.assign(&[], &[]), Err(StrategyError::NoWorkers));
        }
    }
}
