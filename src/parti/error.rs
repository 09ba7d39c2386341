//! Errors of the parti library, one enum with a variant per failure a caller can act on.

use std::time::Duration;

use super::config::ConfigError;
use super::kv::KvError;
use super::source::SourceError;
use super::strategy::StrategyError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{context}: {source}")]
    Kv { context: String, source: KvError },
    #[error("no available worker ID in pool {prefix}-{min}..{prefix}-{max}")]
    NoFreeId { prefix: String, min: u32, max: u32 },
    #[error("startup did not finish within {timeout:?} (stuck in {stage})")]
    StartupTimeout {
        stage: &'static str,
        timeout: Duration,
    },
    #[error("no assignment for {worker_id} within {timeout:?}")]
    AssignmentTimeout {
        worker_id: String,
        timeout: Duration,
    },
    #[error("stable ID {worker_id} was taken over by another process")]
    IdLost { worker_id: String },
    #[error("cancelled during {0}")]
    Cancelled(&'static str),
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl Error {
    pub fn kv(context: impl Into<String>, source: KvError) -> Self {
        Error::Kv {
            context: context.into(),
            source,
        }
    }
}
