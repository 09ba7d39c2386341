//! [`WorkerConsumer`]: Go's `subscription.WorkerConsumer` (parti-protocol.md §10). One
//! durable pull consumer per worker, `<prefix>-<workerID>` sanitised, whose `filter_subjects`
//! are the worker's partition subjects, sorted and de-duplicated. Updates are planned
//! (no-op, apply, or error), applied with `CreateOrUpdateConsumer` and back-off, and one pull
//! loop is started after the first apply; it follows later updates without a restart.
//!
//! Differences from Go, by design: an empty partition list applies an idle filter (a subject
//! no partition maps to) instead of an unfiltered consumer; an update refused for a transient
//! reason (a WorkQueue overlap while the previous owner still holds a subject) is retried
//! until it is applied or a newer update supersedes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::naming::{Routes, SubjectTemplate, worker_durable};
use super::plan::{Applied, Plan, PlanLimits, plan_update};
use super::pull_loop::{self, LoopCtx, LoopEnd, PullSource, Retry, RetryPolicy, Target};
use super::{
    ConsumerConfig, ConsumerError, ConsumerFuture, ConsumerStats, ConsumerUpdater, Filter,
    MessageHandler, StatsSnapshot,
};
use crate::parti::partition::Partition;

/// Budget for deleting the durable of a previous worker ID (Go: 2 s, in the background).
const DELETE_OLD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `close` waits for the pull loop to finish its current message.
const CLOSE_BUDGET: Duration = Duration::from_secs(5);

/// Go's worker consumer. See the module documentation.
pub struct WorkerConsumer {
    inner: Arc<Inner>,
}

struct Inner {
    js: jetstream::Context,
    config: Arc<ConsumerConfig>,
    template: SubjectTemplate,
    handler: Arc<dyn MessageHandler>,
    stats: Arc<ConsumerStats>,
    /// Cancelled by `close`/`abort`; replaced when a later update reopens the consumer.
    stop: Mutex<CancellationToken>,
    /// Serialises applies; the newest update wins.
    apply: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    /// Wakes an update sleeping between retries when a newer one arrives.
    wake: Notify,
    source: Arc<Source>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    known_worker: Option<String>,
    /// What the server holds; None when unknown (never applied, or an apply interrupted).
    applied: Option<Applied>,
    pull: Option<AbortOnDropHandle<LoopEnd>>,
    closed: bool,
}

/// What the pull loop reads at every cycle.
#[derive(Default)]
struct Source {
    view: Mutex<(Option<Target>, Routes)>,
}

impl PullSource for Source {
    fn target(&self) -> Option<Target> {
        self.view.lock().ok().and_then(|view| view.0.clone())
    }

    fn route(&self, subject: &str) -> Option<Partition> {
        self.view
            .lock()
            .ok()
            .and_then(|view| view.1.partition(subject).cloned())
    }
}

impl WorkerConsumer {
    /// A worker consumer on `js`; nothing is sent to the server before the first update.
    pub fn new(
        js: jetstream::Context,
        config: ConsumerConfig,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<Self, ConsumerError> {
        let template = SubjectTemplate::parse(&config.subject_template)?;
        Ok(Self {
            inner: Arc::new(Inner {
                js,
                config: Arc::new(config),
                template,
                handler,
                stats: Arc::new(ConsumerStats::default()),
                stop: Mutex::new(CancellationToken::new()),
                apply: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                wake: Notify::new(),
                source: Arc::new(Source::default()),
                state: Mutex::new(State::default()),
            }),
        })
    }

    /// The durable name this consumer uses for `worker_id`.
    pub fn durable_for(&self, worker_id: &str) -> String {
        worker_durable(&self.inner.config.consumer_prefix, worker_id)
    }

    /// The filter applied for an empty partition list: the template rendered with the
    /// reserved key `_idle_<durable>`, a subject no partition maps to.
    pub fn idle_filter(&self, worker_id: &str) -> String {
        self.inner
            .template
            .render_key(&format!("_idle_{}", self.durable_for(worker_id)))
    }

    /// The filter subjects the server holds, as far as this consumer knows.
    pub fn applied_subjects(&self) -> Option<Vec<String>> {
        self.inner
            .state
            .lock()
            .ok()?
            .applied
            .as_ref()
            .map(|a| a.filter_subjects.clone())
    }

    /// Whether the pull loop is running.
    pub fn is_pulling(&self) -> bool {
        self.inner
            .state
            .lock()
            .is_ok_and(|state| state.pull.as_ref().is_some_and(|pull| !pull.is_finished()))
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    fn stop_token(&self) -> CancellationToken {
        self.inner
            .stop
            .lock()
            .map(|stop| stop.clone())
            .unwrap_or_default()
    }

    /// After `close` or `abort`, an update starts a new life: a new stop token, no known
    /// worker ID, no applied state (a restarted worker may reuse its updater and claim another
    /// ID). Returns the stop token of the current life.
    fn reopen_if_closed(&self) -> CancellationToken {
        let inner = &self.inner;
        let (Ok(mut state), Ok(mut stop)) = (inner.state.lock(), inner.stop.lock()) else {
            return CancellationToken::new();
        };
        if state.closed {
            *state = State::default();
            *stop = CancellationToken::new();
            if let Ok(mut view) = inner.source.view.lock() {
                *view = (None, Routes::default());
            }
        }
        stop.clone()
    }

    async fn apply(&self, worker_id: &str, partitions: &[Partition]) -> Result<(), ConsumerError> {
        let inner = &self.inner;
        let stop = self.reopen_if_closed();
        let generation = inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        inner.wake.notify_waiters();
        let subjects = inner.template.render_all(partitions)?;
        let routes = inner.template.routes(partitions)?;
        let _serial = tokio::select! {
            () = stop.cancelled() => return Err(ConsumerError::Closed),
            guard = inner.apply.lock() => guard,
        };
        let superseded = || inner.generation.load(Ordering::SeqCst) != generation;
        if superseded() {
            return Err(ConsumerError::Superseded);
        }
        let durable = self.durable_for(worker_id);
        let limits = PlanLimits {
            max_subjects: inner.config.max_subjects,
            allow_worker_id_change: inner.config.allow_worker_id_change,
        };
        let plan = {
            let state = inner.state.lock().map_err(|_| ConsumerError::Closed)?;
            plan_update(
                state.known_worker.as_deref(),
                state.applied.as_ref(),
                worker_id,
                subjects,
                durable.clone(),
                self.idle_filter(worker_id),
                &limits,
            )
        };
        let plan = match plan {
            Ok(plan) => plan,
            Err(err) => {
                if matches!(err, ConsumerError::TooManySubjects { .. }) {
                    ConsumerStats::bump(&inner.stats.guardrail_errors);
                }
                return Err(err);
            }
        };
        if let Ok(mut view) = inner.source.view.lock() {
            view.1 = routes;
        }
        let Plan::Apply {
            durable,
            filter_subjects,
            idle,
            near_limit,
            delete_old,
        } = plan
        else {
            ConsumerStats::bump(&inner.stats.updates_noop);
            return Ok(());
        };
        if near_limit {
            ConsumerStats::bump(&inner.stats.guardrail_warnings);
            tracing::warn!(
                durable,
                count = filter_subjects.len(),
                max = inner.config.max_subjects,
                "consumer subjects near the limit"
            );
        }
        let previous = match inner.state.lock() {
            Ok(mut state) => {
                state.known_worker = Some(worker_id.to_owned());
                state.applied.take()
            }
            Err(_) => None,
        };
        let config = inner
            .config
            .pull_config(&durable, Filter::Many(filter_subjects.clone()));
        let attempts = inner.config.max_control_retries.saturating_add(1);
        let policy = if inner.config.retry_until_applied {
            RetryPolicy::UntilApplied(attempts)
        } else {
            RetryPolicy::Attempts(attempts)
        };
        let retry = Retry {
            backoff: inner.config.backoff(),
            policy,
            stop: &stop,
            superseded: &superseded,
            stats: &inner.stats,
            wake: Some(&inner.wake),
        };
        let consumer =
            pull_loop::create_with_retries(&inner.js, &inner.config.stream, &config, retry).await?;
        // A consumer that has delivered nothing yet starts at the beginning anyway.
        let delivered = consumer.cached_info().delivered.stream_sequence;
        ConsumerStats::bump(&inner.stats.updates_applied);
        tracing::debug!(
            durable,
            idle,
            subjects = filter_subjects.len(),
            "worker consumer applied"
        );
        if inner.config.rewind_on_added_subjects
            && !idle
            && delivered > 0
            && adds_subjects(previous.as_ref(), worker_id, &filter_subjects)
        {
            self.rewind(&durable).await;
        }
        if let Ok(mut view) = inner.source.view.lock() {
            view.0 = Some(Target {
                durable: durable.clone(),
                config,
                worker_id: worker_id.to_owned(),
            });
        }
        let mut state = inner.state.lock().map_err(|_| ConsumerError::Closed)?;
        state.applied = Some(Applied {
            worker_id: worker_id.to_owned(),
            filter_subjects,
        });
        if state.pull.is_none() && !state.closed {
            let ctx = LoopCtx {
                js: inner.js.clone(),
                config: inner.config.clone(),
                handler: inner.handler.clone(),
                source: inner.source.clone(),
                stop: stop.clone(),
                stats: inner.stats.clone(),
            };
            state.pull = Some(AbortOnDropHandle::new(tokio::spawn(pull_loop::run(ctx))));
        }
        drop(state);
        if let Some(old_worker) = delete_old {
            let old = self.durable_for(&old_worker);
            let (js, stream) = (inner.js.clone(), inner.config.stream.clone());
            tokio::spawn(async move {
                let deleted = tokio::time::timeout(DELETE_OLD_TIMEOUT, async {
                    js.get_stream_no_info(&stream)
                        .await
                        .ok()?
                        .delete_consumer(&old)
                        .await
                        .ok()
                })
                .await;
                tracing::debug!(
                    old,
                    deleted = deleted.ok().flatten().is_some(),
                    "old durable deleted"
                );
            });
        }
        Ok(())
    }

    /// Move the cursor back to the start of the stream (see `rewind_on_added_subjects`).
    async fn rewind(&self, durable: &str) {
        let inner = &self.inner;
        let reset = async {
            inner
                .js
                .get_stream_no_info(&inner.config.stream)
                .await
                .map_err(|err| err.to_string())?
                .reset_consumer(durable, Some(1))
                .await
                .map_err(|err| err.to_string())
        };
        match reset.await {
            Ok(_) => ConsumerStats::bump(&inner.stats.rewinds),
            Err(err) => tracing::warn!(durable, error = %err, "cannot rewind the consumer"),
        }
    }

    async fn shut(&self) -> Result<(), ConsumerError> {
        self.stop_token().cancel();
        let pull = match self.inner.state.lock() {
            Ok(mut state) => {
                state.closed = true;
                state.pull.take()
            }
            Err(_) => None,
        };
        if let Some(pull) = pull
            && tokio::time::timeout(CLOSE_BUDGET, pull).await.is_err()
        {
            tracing::warn!("the pull loop did not stop within {CLOSE_BUDGET:?}; aborted");
        }
        Ok(())
    }
}

impl ConsumerUpdater for WorkerConsumer {
    fn update<'a>(&'a self, worker_id: &'a str, partitions: &'a [Partition]) -> ConsumerFuture<'a> {
        Box::pin(self.apply(worker_id, partitions))
    }

    fn close<'a>(&'a self) -> ConsumerFuture<'a> {
        Box::pin(self.shut())
    }

    fn abort(&self) {
        self.stop_token().cancel();
        if let Ok(mut state) = self.inner.state.lock() {
            state.closed = true;
            if let Some(pull) = state.pull.take() {
                pull.abort();
            }
        }
    }
}

/// Whether `filter` holds a subject the previously applied filter of `worker_id` did not
/// (an unknown previous filter counts as adding).
fn adds_subjects(previous: Option<&Applied>, worker_id: &str, filter: &[String]) -> bool {
    previous.is_none_or(|p| {
        p.worker_id != worker_id || filter.iter().any(|s| !p.filter_subjects.contains(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_subjects_count_as_added() {
        let s = |l: &[&str]| l.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let held = Applied {
            worker_id: "w".into(),
            filter_subjects: s(&["a", "b"]),
        };
        assert!(!adds_subjects(Some(&held), "w", &s(&["a"])));
        assert!(!adds_subjects(Some(&held), "w", &s(&["a", "b"])));
        assert!(adds_subjects(Some(&held), "w", &s(&["a", "c"])));
        assert!(adds_subjects(Some(&held), "v", &s(&["a"])));
        assert!(adds_subjects(None, "w", &s(&["a"])));
    }
}
