//! One parti worker (Go's `Manager`, parti-protocol.md §7): the start sequence, the running
//! loop that mirrors the calculator and applies assignments, and the stop sequence.
//!
//! A worker is one tokio task plus a few helpers (ID renewal, election loop, heartbeats, the
//! assignment watcher, and the calculator while leader). [`Worker::stop`] is a graceful stop:
//! calculator stopped, heartbeat deleted, leadership handed back, ID released.
//! [`Worker::kill`] aborts everything with no cleanup, like a crashed process; if the worker
//! owns its connection, the connection drops with it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

mod apply;
mod liveness;

use liveness::{LivenessInput, liveness};

use super::assignment::Assignment;
use super::calculator::driver::{CalcEvent, CalculatorHandle};
use super::config::Config;
use super::consumer::{ConsumerUpdater, UpdateDriver};
use super::election::Election;
use super::error::Error;
use super::events::{WorkerEvent, WorkerStatus};
use super::heartbeat;
use super::kv::{BucketSpec, Buckets, KvEntry, Store, ensure_with_retry};
use super::partition::Partition;
use super::publisher::{Publisher, assignment_key};
use super::source::PartitionSource;
use super::stable_id::{self, ClaimedId, Renewal};
use super::state::{State, mirror_calculator};
use super::strategy::Strategy;

/// Go's pause before a starting leader's calculator (parti-protocol.md §7.4 step 6).
const FIRST_CALCULATOR_DELAY: Duration = Duration::from_millis(10);
/// Time budget for a KV delete during the stop sequence.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Timeout of one heartbeat put.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most a graceful stop may take before the worker is aborted.
const STOP_BUDGET: Duration = Duration::from_secs(20);
/// Bound on a KV read done while handling a message in the main loop.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Budget for stopping the calculator.
const CALCULATOR_STOP_BUDGET: Duration = Duration::from_secs(5);
/// Degraded mode: disconnected this long enters Degraded, connected this long leaves it
/// (parti's `balanced` preset).
const DEGRADED_ENTER: Duration = Duration::from_secs(10);
const DEGRADED_EXIT: Duration = Duration::from_secs(5);

/// Where a worker's events go. A channel sender is one; a host can pass its own sink to tag
/// events without a forwarding task per worker.
pub trait EventSink: Send + Sync + 'static {
    /// Deliver one event; `worker_id` is the worker's stable ID once claimed.
    fn deliver(&self, worker_id: Option<&str>, event: WorkerEvent);
}

impl EventSink for mpsc::UnboundedSender<WorkerEvent> {
    fn deliver(&self, _worker_id: Option<&str>, event: WorkerEvent) {
        let _ = self.send(event);
    }
}

/// What a worker is made of besides its connection.
#[derive(Clone)]
pub struct WorkerSpec {
    pub config: Config,
    pub source: Arc<dyn PartitionSource>,
    pub strategy: Arc<dyn Strategy>,
    /// Optional message consumption that follows the worker's partitions (Go's
    /// `WithWorkerConsumerUpdater`): updated after every accepted assignment, closed on a
    /// graceful stop, aborted when the worker is killed.
    pub consumer: Option<Arc<dyn ConsumerUpdater>>,
}

/// A running worker.
pub struct Worker {
    cancel: CancellationToken,
    task: AbortOnDropHandle<Result<(), Error>>,
    status: watch::Receiver<WorkerStatus>,
    refresh: mpsc::Sender<oneshot::Sender<Result<(), Error>>>,
}

impl Worker {
    /// Start a worker. Its events go to `events`.
    pub fn spawn(store: Arc<dyn Store>, spec: WorkerSpec, events: impl EventSink) -> Worker {
        let cancel = CancellationToken::new();
        let (status_tx, status) = watch::channel(WorkerStatus::default());
        let (refresh, refresh_rx) = mpsc::channel(4);
        let machine = Machine {
            status: status_tx,
            events: Box::new(events),
            spec,
            store,
            cancel: cancel.clone(),
        };
        let task = tokio::spawn(machine.run(refresh_rx));
        Worker {
            cancel,
            task: AbortOnDropHandle::new(task),
            status,
            refresh,
        }
    }

    /// The current status.
    pub fn status(&self) -> WorkerStatus {
        self.status.borrow().clone()
    }

    /// Whether the worker's task has ended (stopped, failed or killed).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Graceful stop: runs the stop sequence and returns how the worker ended.
    pub async fn stop(self) -> Result<(), Error> {
        self.cancel.cancel();
        // Every step of the stop sequence is bounded; this is the last resort if one is not.
        match tokio::time::timeout(STOP_BUDGET, self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Cancelled("stop")),
            Err(_) => {
                tracing::warn!(
                    "a worker did not finish its stop sequence within {STOP_BUDGET:?}; aborted"
                );
                Err(Error::Cancelled("stop (timed out, aborted)"))
            }
        }
    }

    /// Crash: abort every task of the worker without any cleanup.
    pub fn kill(self) {
        self.task.abort();
    }

    /// Go's `RefreshPartitions`: on the leader, rebalance now; on a follower, do nothing.
    pub async fn refresh_partitions(&self) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.refresh
            .send(reply)
            .await
            .map_err(|_| Error::Cancelled("refresh"))?;
        answer.await.unwrap_or(Err(Error::Cancelled("refresh")))
    }

    /// Wait until the worker reaches `state`, up to `timeout`.
    pub async fn wait_state(&self, state: State, timeout: Duration) -> bool {
        let mut status = self.status.clone();
        tokio::time::timeout(timeout, status.wait_for(|s| s.state == state))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Messages from a worker's helper tasks to its main loop.
enum Internal {
    Assignment(Box<KvEntry>),
    Leadership(bool, Option<String>),
    IdRenewal(Renewal),
    Warning(String),
}

struct Machine {
    status: watch::Sender<WorkerStatus>,
    events: Box<dyn EventSink>,
    spec: WorkerSpec,
    store: Arc<dyn Store>,
    cancel: CancellationToken,
}

/// Helper tasks; the liveness task hands the ID and the election back when it ends.
struct Helpers {
    stop: CancellationToken,
    liveness: AbortOnDropHandle<(Option<ClaimedId>, Option<Election>)>,
    _watcher: AbortOnDropHandle<()>,
}

struct Running {
    buckets: Buckets,
    worker_id: String,
    held: Option<Assignment>,
    /// Revision of `assignment.<id>` when the worker started, if the key existed.
    leftover_revision: Option<u64>,
    calculator: Option<(CalculatorHandle, mpsc::UnboundedReceiver<CalcEvent>)>,
    id_lost: bool,
    /// Feeds the consumer; dropped without a close (a kill), it aborts the consumer.
    consumer: Option<UpdateDriver>,
}

impl Machine {
    fn emit(&self, event: WorkerEvent) {
        let worker_id = self.status.borrow().worker_id.clone();
        self.events.deliver(worker_id.as_deref(), event);
    }

    fn state(&self) -> State {
        self.status.borrow().state
    }

    /// Apply a transition if the table allows it (Degraded entry/exit bypass the table).
    fn transition(&self, to: State) -> bool {
        let from = self.state();
        if from == to {
            return false;
        }
        if !(from.can_transition_to(to) || from.can_bypass_to(to)) {
            self.emit(WorkerEvent::Warning {
                message: format!("invalid transition {from} -> {to} ignored"),
            });
            return false;
        }
        self.status.send_modify(|s| s.state = to);
        self.emit(WorkerEvent::StateChanged { from, to });
        true
    }

    async fn run(
        self,
        refresh: mpsc::Receiver<oneshot::Sender<Result<(), Error>>>,
    ) -> Result<(), Error> {
        if let Err(err) = self.spec.config.validate() {
            self.transition(State::Shutdown);
            return Err(err.into());
        }
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let startup = self.spec.config.timing.startup_timeout;
        let started = tokio::select! {
            () = self.cancel.cancelled() => Err(Error::Cancelled("startup")),
            result = tokio::time::timeout(startup, self.start()) => match result {
                Ok(result) => result,
                Err(_) => Err(Error::StartupTimeout { stage: self.state().name(), timeout: startup }),
            },
        };
        let (buckets, claimed, election) = match started {
            Ok(parts) => parts,
            Err(err) => {
                self.transition(State::Shutdown);
                return Err(err);
            }
        };
        let worker_id = claimed.worker_id.clone();
        let is_leader = election.is_leader();
        let leftover_revision = buckets
            .assignment
            .get(&assignment_key(&worker_id))
            .await
            .ok()
            .flatten()
            .map(|entry| entry.revision);
        let consumer = self.spec.consumer.clone().map(|updater| {
            let internal = internal_tx.clone();
            UpdateDriver::spawn(updater, worker_id.clone(), move |err| {
                let _ = internal.send(Internal::Warning(format!("consumer update failed: {err}")));
            })
        });
        let helpers = self.spawn_helpers(&buckets, claimed, election, internal_tx);
        let mut running = Running {
            consumer,
            buckets,
            worker_id,
            held: None,
            calculator: None,
            id_lost: false,
            leftover_revision,
        };
        if is_leader {
            // Go sleeps about 10 ms before starting a new leader's calculator (§7.4 step 6),
            // which gives workers starting beside it time to write their first heartbeat
            // before the immediate rebalance lists the live set.
            tokio::select! {
                () = self.cancel.cancelled() => {}
                () = tokio::time::sleep(FIRST_CALCULATOR_DELAY) => {}
            }
            self.start_calculator(&mut running);
        }
        self.transition(State::WaitingAssignment);
        let outcome = self.main_loop(&mut running, internal_rx, refresh).await;
        self.shutdown(running, helpers).await;
        outcome
    }

    /// Ensure buckets, claim an ID, run the first election and write the first heartbeat.
    async fn start(&self) -> Result<(Buckets, ClaimedId, Election), Error> {
        let config = &self.spec.config;
        let [stable_id, election, heartbeat, assignment] = config.bucket_specs();
        let ensure = |spec: BucketSpec| async move {
            ensure_with_retry(self.store.as_ref(), &spec)
                .await
                .map_err(|err| Error::kv(format!("ensure bucket {}", spec.name), err))
        };
        // Opened one after the other, in this order (struct fields are evaluated as written).
        let buckets = Buckets {
            stable_id: ensure(stable_id).await?,
            election: ensure(election).await?,
            heartbeat: ensure(heartbeat).await?,
            assignment: ensure(assignment).await?,
        };
        self.transition(State::ClaimingId);
        let claimed = stable_id::claim(
            &buckets.stable_id,
            &config.worker_id_prefix,
            config.worker_id_min,
            config.worker_id_max,
        )
        .await?;
        self.status
            .send_modify(|s| s.worker_id = Some(claimed.worker_id.clone()));
        self.emit(WorkerEvent::IdClaimed {
            worker_id: claimed.worker_id.clone(),
        });
        self.transition(State::Election);
        let mut election = Election::new(&claimed.worker_id);
        let leader = match election.try_acquire(&buckets.election).await {
            Ok(leader) => leader,
            Err(err) => {
                let _ = claimed.release(&buckets.stable_id).await;
                return Err(Error::kv("leader election", err));
            }
        };
        if let Err(err) = heartbeat::publish(&buckets.heartbeat, &claimed.worker_id).await {
            let _ = election.step_down(&buckets.election).await;
            let _ = claimed.release(&buckets.stable_id).await;
            return Err(Error::kv("first heartbeat", err));
        }
        if leader {
            self.set_leader(true);
        }
        Ok((buckets, claimed, election))
    }

    fn spawn_helpers(
        &self,
        buckets: &Buckets,
        claimed: ClaimedId,
        election: Election,
        internal: mpsc::UnboundedSender<Internal>,
    ) -> Helpers {
        let timing = self.spec.config.timing.clone();
        let stop = self.cancel.child_token();
        let worker_id = claimed.worker_id.clone();

        let liveness = {
            let (stop, internal) = (stop.clone(), internal.clone());
            let buckets = buckets.clone();
            let worker_id = worker_id.clone();
            tokio::spawn(liveness(LivenessInput {
                stop,
                internal,
                buckets,
                worker_id,
                timing,
                claimed,
                election,
            }))
        };

        let watcher = {
            let (stop, bucket) = (stop.clone(), buckets.assignment.clone());
            let key = assignment_key(&worker_id);
            tokio::spawn(async move {
                use futures::StreamExt;
                loop {
                    let mut watch = tokio::select! {
                        () = stop.cancelled() => return,
                        watch = bucket.watch(&key) => match watch {
                            Ok(watch) => watch,
                            Err(err) => {
                                let _ = internal.send(Internal::Warning(format!("assignment watch failed: {err}")));
                                tokio::select! {
                                    () = stop.cancelled() => return,
                                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                                }
                            }
                        },
                    };
                    loop {
                        let item = tokio::select! {
                            () = stop.cancelled() => return,
                            item = watch.next() => item,
                        };
                        match item {
                            Some(Ok(entry)) => {
                                let _ = internal.send(Internal::Assignment(Box::new(entry)));
                            }
                            Some(Err(_)) | None => break,
                        }
                    }
                }
            })
        };

        Helpers {
            stop,
            liveness: AbortOnDropHandle::new(liveness),
            _watcher: AbortOnDropHandle::new(watcher),
        }
    }

    fn start_calculator(&self, running: &mut Running) {
        if running.calculator.is_some() {
            return;
        }
        let publisher = Publisher::new(
            running.buckets.heartbeat.clone(),
            running.buckets.assignment.clone(),
            self.spec.source.clone(),
            self.spec.strategy.clone(),
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let handle =
            CalculatorHandle::spawn(publisher, self.spec.config.timing.clone(), tx, &self.cancel);
        running.calculator = Some((handle, rx));
    }

    async fn main_loop(
        &self,
        running: &mut Running,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut refresh: mpsc::Receiver<oneshot::Sender<Result<(), Error>>>,
    ) -> Result<(), Error> {
        let wait_deadline = Instant::now() + self.spec.config.timing.assignment_wait_timeout();
        let mut connection_tick = tokio::time::interval(Duration::from_secs(1));
        let mut disconnected_since: Option<Instant> = None;
        let mut connected_since: Option<Instant> = None;
        loop {
            let waiting = running.held.is_none();
            tokio::select! {
                () = self.cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(wait_deadline), if waiting => {
                    return Err(Error::AssignmentTimeout {
                        worker_id: running.worker_id.clone(),
                        timeout: self.spec.config.timing.assignment_wait_timeout(),
                    });
                }
                Some(message) = internal.recv() => match message {
                    Internal::Assignment(entry) => self.on_assignment(running, *entry).await,
                    Internal::Leadership(true, _) => {
                        self.set_leader(true);
                        self.start_calculator(running);
                    }
                    Internal::Leadership(false, reason) => self.on_leadership_lost(running, reason).await,
                    Internal::IdRenewal(outcome) => {
                        let reclaimed = outcome == Renewal::Reclaimed;
                        self.emit(WorkerEvent::IdLost { worker_id: running.worker_id.clone(), reclaimed });
                        if !reclaimed {
                            running.id_lost = true;
                            return Err(Error::IdLost { worker_id: running.worker_id.clone() });
                        }
                    }
                    Internal::Warning(message) => self.emit(WorkerEvent::Warning { message }),
                },
                Some(event) = next_calc_event(&mut running.calculator) => self.on_calc_event(event),
                Some(reply) = refresh.recv() => {
                    let result = match &running.calculator {
                        Some((calculator, _)) => calculator.refresh().await,
                        None if running.held.is_none() && self.state() != State::Stable => Err(Error::Cancelled("refresh before start")),
                        None => Ok(()),
                    };
                    let _ = reply.send(result);
                }
                _ = connection_tick.tick() => {
                    self.check_connection(running, &mut disconnected_since, &mut connected_since).await;
                }
            }
        }
    }

    /// Publish a leadership change in the status and as an event.
    fn set_leader(&self, is_leader: bool) {
        self.status.send_modify(|s| s.is_leader = is_leader);
        self.emit(WorkerEvent::Leadership { is_leader });
    }

    async fn on_leadership_lost(&self, running: &mut Running, reason: Option<String>) {
        self.set_leader(false);
        if let Some(reason) = reason {
            self.emit(WorkerEvent::Warning {
                message: format!("leadership lost: {reason}"),
            });
        }
        if let Some((calculator, _)) = running.calculator.take() {
            calculator.stop(CALCULATOR_STOP_BUDGET).await;
        }
        if matches!(
            self.state(),
            State::Scaling | State::Rebalancing | State::Emergency
        ) {
            let has_partitions = running
                .held
                .as_ref()
                .is_some_and(|held| !held.partitions.is_empty());
            self.transition(if has_partitions {
                State::Stable
            } else {
                State::WaitingAssignment
            });
        }
    }

    fn on_calc_event(&self, event: CalcEvent) {
        match event {
            CalcEvent::State(calc) => {
                self.emit(WorkerEvent::Calculator { state: calc });
                if let Some(target) = mirror_calculator(self.state(), calc) {
                    self.transition(target);
                }
            }
            CalcEvent::Published {
                version,
                lifecycle,
                workers,
                partitions,
            } => {
                self.emit(WorkerEvent::Published {
                    version,
                    lifecycle,
                    workers,
                    partitions,
                });
            }
            CalcEvent::Warning(message) => self.emit(WorkerEvent::Warning { message }),
        }
    }

    /// The optional Degraded state: entered after a long disconnection, left once the
    /// connection has been back for a while and the assignment key reads again.
    async fn check_connection(
        &self,
        running: &Running,
        disconnected_since: &mut Option<Instant>,
        connected_since: &mut Option<Instant>,
    ) {
        let now = Instant::now();
        if self.store.is_connected() {
            *disconnected_since = None;
            let since = *connected_since.get_or_insert(now);
            if self.state() == State::Degraded
                && now - since >= DEGRADED_EXIT
                && tokio::time::timeout(
                    READ_TIMEOUT,
                    running
                        .buckets
                        .assignment
                        .get(&assignment_key(&running.worker_id)),
                )
                .await
                .is_ok_and(|read| read.is_ok())
            {
                self.transition(State::Stable);
            }
        } else {
            *connected_since = None;
            let since = *disconnected_since.get_or_insert(now);
            if now - since >= DEGRADED_ENTER
                && matches!(
                    self.state(),
                    State::Stable
                        | State::Scaling
                        | State::Rebalancing
                        | State::Emergency
                        | State::WaitingAssignment
                )
            {
                self.transition(State::Degraded);
            }
        }
    }

    /// Go's stop sequence (§7.8): Shutdown, calculator, heartbeat, leadership, ID.
    async fn shutdown(&self, mut running: Running, helpers: Helpers) {
        self.transition(State::Shutdown);
        if let Some(consumer) = running.consumer.take() {
            consumer.close(CLEANUP_TIMEOUT).await;
        }
        if let Some((calculator, _)) = running.calculator.take() {
            tracing::debug!(worker = %running.worker_id, "stopping the calculator");
            calculator.stop(CALCULATOR_STOP_BUDGET).await;
        }
        helpers.stop.cancel();
        let (claimed, election) = helpers.liveness.await.unwrap_or((None, None));
        tracing::debug!(worker = %running.worker_id, "liveness stopped; cleaning up KV");
        let _ = tokio::time::timeout(
            CLEANUP_TIMEOUT,
            heartbeat::remove(&running.buckets.heartbeat, &running.worker_id),
        )
        .await;
        if let Some(mut election) = election {
            let _ = tokio::time::timeout(
                CLEANUP_TIMEOUT,
                election.step_down(&running.buckets.election),
            )
            .await;
        }
        self.status.send_modify(|s| s.is_leader = false);
        if let Some(claimed) = claimed
            && !running.id_lost
        {
            {
                let _ = tokio::time::timeout(
                    CLEANUP_TIMEOUT,
                    claimed.release(&running.buckets.stable_id),
                )
                .await;
            }
        }
    }
}

async fn next_calc_event(
    calculator: &mut Option<(CalculatorHandle, mpsc::UnboundedReceiver<CalcEvent>)>,
) -> Option<CalcEvent> {
    match calculator {
        Some((_, events)) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// Partitions in `new` but not `old`, and in `old` but not `new` (by key tuple).
pub fn diff(old: &[Partition], new: &[Partition]) -> (Vec<Partition>, Vec<Partition>) {
    use std::collections::HashSet;
    let old_keys: HashSet<&Vec<String>> = old.iter().map(|p| &p.keys).collect();
    let new_keys: HashSet<&Vec<String>> = new.iter().map(|p| &p.keys).collect();
    let added = new
        .iter()
        .filter(|p| !old_keys.contains(&p.keys))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|p| !new_keys.contains(&p.keys))
        .cloned()
        .collect();
    (added, removed)
}
