//! [`ClusterState`]: the cluster as the measurement engine sees it at one moment, the value every
//! front end, waiter and view reads. Plain data; the engine task keeps it current.

use crate::observation::WorkerView;

/// What anyone waiting on the cluster can read at any moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterState {
    pub t_ms: u64,
    /// The current event has stabilized (or, with no event yet, the cluster is stable).
    pub stable: bool,
    /// The last event is closed: it stabilized and then no new version appeared for the quiet
    /// period, so its figures are complete.
    pub quiet: bool,
    /// Why not stable, when not.
    pub reason: Option<String>,
    /// Actions processed so far (the next waiter compares against the count it expects).
    pub actions: usize,
    pub workers: Vec<WorkerView>,
    pub leader: Option<String>,
    pub max_version: i64,
    pub findings: usize,
    pub measurements: usize,
    /// Hosts frozen (SIGSTOP) by a pause that has not ended: their workers' last reports are
    /// stale, not Stable.
    pub paused_hosts: Vec<u32>,
    /// Set while the managed nats-server is down without an action having asked for it: an
    /// infrastructure failure, not something the cluster under test did.
    pub nats_lost: Option<String>,
}
