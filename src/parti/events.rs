//! What a worker tells its owner: lifecycle events (the Rust form of parti's hooks) and a status
//! snapshot. Events are delivered in order over a channel, unlike Go's hooks, which run in
//! parallel goroutines.

use serde::{Deserialize, Serialize};

use super::assignment::Lifecycle;
use super::partition::Partition;
use super::state::{CalculatorState, State};

/// Something that happened to one worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WorkerEvent {
    /// An accepted manager transition (Go's `OnStateChanged`).
    StateChanged { from: State, to: State },
    /// The stable ID was claimed.
    IdClaimed { worker_id: String },
    /// The stable ID's key was found gone or overwritten; `reclaimed` tells whether the worker
    /// took it back (otherwise it stops).
    IdLost { worker_id: String, reclaimed: bool },
    /// Leadership acquired (true) or lost (false).
    Leadership { is_leader: bool },
    /// The leader's calculator changed state.
    Calculator { state: CalculatorState },
    /// A new assignment was accepted (Go's `OnAssignmentChanged`, with real deltas).
    /// `initial` marks the first one, which Go's hook does not report.
    AssignmentApplied {
        initial: bool,
        version: i64,
        lifecycle: String,
        added: Vec<Partition>,
        removed: Vec<Partition>,
        total: usize,
    },
    /// The leader published a rebalance.
    Published {
        version: i64,
        lifecycle: Lifecycle,
        workers: usize,
        partitions: usize,
    },
    /// A non-fatal problem (renewal failure, decode error, failed publish).
    Warning { message: String },
}

/// A worker's current view of itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub worker_id: Option<String>,
    pub state: State,
    pub is_leader: bool,
    /// Version of the assignment held (0 before the first).
    pub version: i64,
    pub partitions: usize,
}
