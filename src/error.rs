//! The application-boundary error and its exit code (DESIGN.md §6): 0 pass, 1 a check failed,
//! 2 could not run.

use std::process::ExitCode;

use crate::nats::NatsError;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A threshold, invariant or baseline comparison failed (exit 1).
    #[error("{0}")]
    Failed(String),
    /// Bad arguments or input, no nats-server, infrastructure failure (exit 2).
    #[error("{0}")]
    CouldNotRun(String),
}

impl AppError {
    pub fn could_not_run(message: impl std::fmt::Display) -> Self {
        AppError::CouldNotRun(message.to_string())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            AppError::Failed(_) => ExitCode::from(1),
            AppError::CouldNotRun(_) => ExitCode::from(2),
        }
    }
}

impl From<NatsError> for AppError {
    /// Whatever kept nats-server from being found, started or reached kept the run from
    /// happening (exit 2); the message is the nats module's, unchanged.
    fn from(err: NatsError) -> Self {
        AppError::could_not_run(err)
    }
}
