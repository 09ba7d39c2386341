//! The calculator actor: one task per leadership term that feeds [`Core`] with live-set
//! observations and carries out its decisions (parti-protocol.md §5.2, §6.1, §6.4).
//!
//! It owns the worker monitor (a watch on `heartbeat.*` whose first event opens a 100 ms batch
//! window, plus polling every HeartbeatTTL/2), the initial assignment (immediate phase, then the
//! final phase after the chosen window), the scaling timer and manual refresh. Everything runs
//! in one task, so the Idle check and the state change cannot race, and the initial phases stop
//! with the calculator (Go's stale-leader publish, §13.6, cannot happen).

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::{Core, Decision, RebalanceOutcome, initial_window};
use crate::parti::assignment::Lifecycle;
use crate::parti::config::Timing;
use crate::parti::error::Error;
use crate::parti::kv::KvWatch;
use crate::parti::publisher::Publisher;
use crate::parti::state::CalculatorState;

/// The watcher's batch window (hard-coded in Go).
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);

/// What the calculator reports to its manager.
#[derive(Debug, Clone, PartialEq)]
pub enum CalcEvent {
    State(CalculatorState),
    Published {
        version: i64,
        lifecycle: Lifecycle,
        workers: usize,
        partitions: usize,
    },
    Warning(String),
}

/// Requests to a running calculator.
pub enum Command {
    /// Rebalance now with `manual-refresh`, bypassing the rate limit and the state machine.
    Refresh(oneshot::Sender<Result<(), Error>>),
}

/// A running calculator. Dropping it aborts the task; [`CalculatorHandle::stop`] ends it
/// cleanly.
pub struct CalculatorHandle {
    cancel: CancellationToken,
    commands: mpsc::Sender<Command>,
    task: AbortOnDropHandle<()>,
}

impl CalculatorHandle {
    /// Start a calculator for a new leadership term.
    pub fn spawn(
        publisher: Publisher,
        timing: Timing,
        events: mpsc::UnboundedSender<CalcEvent>,
        parent: &CancellationToken,
    ) -> Self {
        let cancel = parent.child_token();
        let (commands, receiver) = mpsc::channel(4);
        let actor = Actor {
            core: Core::default(),
            publisher,
            timing,
            events,
        };
        let task = tokio::spawn(actor.run(cancel.clone(), receiver));
        Self {
            cancel,
            commands,
            task: AbortOnDropHandle::new(task),
        }
    }

    /// Signal stop and wait up to `budget` for the task to end (Go's 5 s calculator budget).
    pub async fn stop(self, budget: Duration) {
        self.cancel.cancel();
        let _ = tokio::time::timeout(budget, self.task).await;
    }

    /// Ask for a manual refresh.
    pub async fn refresh(&self) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::Refresh(reply)).await.is_err() {
            return Err(Error::Cancelled("refresh"));
        }
        answer.await.unwrap_or(Err(Error::Cancelled("refresh")))
    }
}

struct Actor {
    core: Core,
    publisher: Publisher,
    timing: Timing,
    events: mpsc::UnboundedSender<CalcEvent>,
}

async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn next_entry(watch: &mut Option<KvWatch>) -> Option<bool> {
    match watch {
        Some(stream) => Some(matches!(stream.next().await, Some(Ok(_)))),
        None => std::future::pending().await,
    }
}

impl Actor {
    fn emit(&self, event: CalcEvent) {
        let _ = self.events.send(event);
    }

    /// Report the core's state (after it changed).
    fn report_state(&self) {
        self.emit(CalcEvent::State(self.core.state));
    }

    /// Run the rebalance the state machine decided on, then go back to Idle.
    async fn run_decided(&mut self, lifecycle: Lifecycle) {
        let outcome = self.rebalance(lifecycle).await;
        self.core.rebalance_finished(outcome.as_ref());
        self.report_state();
    }

    async fn open_watch(&self) -> Option<KvWatch> {
        match self
            .publisher
            .heartbeat
            .watch(&format!("{}.*", crate::parti::heartbeat::PREFIX))
            .await
        {
            Ok(watch) => Some(watch),
            Err(err) => {
                self.emit(CalcEvent::Warning(format!(
                    "heartbeat watch unavailable, polling only: {err}"
                )));
                None
            }
        }
    }

    async fn run(mut self, cancel: CancellationToken, mut commands: mpsc::Receiver<Command>) {
        let _ = cancelled_or(&cancel, self.publisher.discover_version()).await;
        let mut watch = match cancelled_or(&cancel, self.open_watch()).await {
            Some(watch) => watch,
            None => return,
        };
        self.emit(CalcEvent::State(CalculatorState::Idle));
        let Some(immediate) =
            cancelled_or(&cancel, self.rebalance(Lifecycle::ColdStartImmediate)).await
        else {
            return;
        };
        // The immediate rebalance has just listed the partitions.
        let (live, partitions) = immediate.as_ref().map_or((0, 0), |outcome| {
            (outcome.workers.len(), outcome.partitions)
        });
        let mut final_at = Some(Instant::now() + initial_window(live, partitions, &self.timing));
        let mut batch_at: Option<Instant> = None;
        let mut scaling_at: Option<Instant> = None;
        let period = self.timing.live_set_poll_interval();
        let mut poll = tokio::time::interval_at(Instant::now() + period, period);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);

        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                entry = next_entry(&mut watch) => match entry {
                    Some(true) => {
                        batch_at.get_or_insert_with(|| Instant::now() + BATCH_WINDOW);
                    }
                    _ => watch = None,
                },
                () = at(batch_at) => {
                    batch_at = None;
                    if let Some(deadline) = self.poll_changes().await {
                        scaling_at = Some(deadline);
                    }
                }
                _ = poll.tick() => {
                    if watch.is_none() {
                        watch = self.open_watch().await;
                    }
                    if let Some(deadline) = self.poll_changes().await {
                        scaling_at = Some(deadline);
                    }
                }
                () = at(scaling_at) => {
                    scaling_at = None;
                    let reason = self.core.begin_scaled_rebalance();
                    self.report_state();
                    self.run_decided(reason).await;
                }
                () = at(final_at) => {
                    final_at = None;
                    if let Some(outcome) = self.rebalance(Lifecycle::ColdStartFinal).await {
                        self.core.last_workers = outcome.workers.iter().cloned().collect::<BTreeSet<_>>();
                    }
                }
                Some(command) = commands.recv() => match command {
                    Command::Refresh(reply) => {
                        let result = self.rebalance_checked(Lifecycle::ManualRefresh).await;
                        let _ = reply.send(result.map(|_| ()));
                    }
                },
            }
        }
    }

    /// List the live set and evaluate it. Returns the scaling deadline if Scaling was entered.
    async fn poll_changes(&mut self) -> Option<Instant> {
        let mut live = match self.publisher.live_workers().await {
            Ok(live) => live,
            Err(err) => {
                self.emit(CalcEvent::Warning(format!("live set unavailable: {err}")));
                return None;
            }
        };
        // A key listing can miss a key that is rewritten while the listing runs; a listing can
        // never invent one. When the set looks smaller, list once more and take the union.
        if live.len() < self.core.last_workers.len()
            && let Ok(again) = self.publisher.live_workers().await
        {
            for worker in again {
                if !live.contains(&worker) {
                    live.push(worker);
                }
            }
        }
        let now = Instant::now();
        match self.core.check(now, &live, &self.timing) {
            Decision::Nothing(_) => None,
            Decision::Scale { window, .. } => {
                self.report_state();
                Some(now + window)
            }
            Decision::Emergency { .. } => {
                self.report_state();
                self.run_decided(Lifecycle::Emergency).await;
                None
            }
        }
    }

    /// Run one rebalance, report it, and record success in the core. `None` on failure (the
    /// failure is reported as a warning).
    async fn rebalance(&mut self, lifecycle: Lifecycle) -> Option<RebalanceOutcome> {
        match self.rebalance_checked(lifecycle).await {
            Ok(outcome) => Some(outcome),
            Err(err) => {
                self.emit(CalcEvent::Warning(format!(
                    "rebalance ({lifecycle}) failed: {err}"
                )));
                None
            }
        }
    }

    async fn rebalance_checked(&mut self, lifecycle: Lifecycle) -> Result<RebalanceOutcome, Error> {
        let disappeared = self.core.take_disappeared();
        let outcome = self.publisher.rebalance(lifecycle, &disappeared).await?;
        if let Some(version) = outcome.version {
            self.emit(CalcEvent::Published {
                version,
                lifecycle,
                workers: outcome.workers.len(),
                partitions: outcome.partitions,
            });
        }
        self.core.record_success(&outcome);
        Ok(outcome)
    }
}

/// Run `future` unless `cancel` fires first.
async fn cancelled_or<F: Future>(cancel: &CancellationToken, future: F) -> Option<F::Output> {
    tokio::select! {
        () = cancel.cancelled() => None,
        output = future => Some(output),
    }
}
