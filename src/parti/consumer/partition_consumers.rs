//! [`PartitionConsumers`]: one durable pull consumer per partition, `<prefix>-p-<subject
//! key>` sanitised, with the single `filter_subject` of that partition, pulled by whichever
//! worker owns the partition. An update starts a pull loop for each newly owned partition
//! and stops the loops of the partitions given away; a partition's cursor and pending
//! messages live in its own consumer, so they move with the partition: no overlapping
//! filters, no skipped cursor, and a single-filter consumer catches up on a backlog fast.
//!
//! A stopped loop naks the messages it had received but not handled; a message the handler
//! was given and never settled is redelivered by the server after the ack wait.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::naming::{SubjectTemplate, partition_durables};
use super::pull_loop::{self, LoopCtx, LoopEnd, PullSource, Retry, RetryPolicy, Target};
use super::{
    ConsumerConfig, ConsumerError, ConsumerFuture, ConsumerStats, ConsumerUpdater, Filter,
    MessageHandler, StatsSnapshot,
};
use crate::parti::partition::Partition;

/// How long stopping a loop waits for its current message.
const STOP_BUDGET: Duration = Duration::from_secs(5);

/// Per-partition consumers. See the module documentation.
pub struct PartitionConsumers {
    js: jetstream::Context,
    config: Arc<ConsumerConfig>,
    template: SubjectTemplate,
    handler: Arc<dyn MessageHandler>,
    stats: Arc<ConsumerStats>,
    /// Cancelled by `close`/`abort`; replaced when a later update reopens.
    stop: Mutex<CancellationToken>,
    /// Serialises updates.
    serial: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    worker_id: Option<String>,
    loops: BTreeMap<String, Running>,
    closed: bool,
}

struct Running {
    stop: CancellationToken,
    task: AbortOnDropHandle<LoopEnd>,
}

/// One partition's fixed target.
struct Fixed {
    target: Target,
    subject: String,
    partition: Partition,
}

impl PullSource for Fixed {
    fn target(&self) -> Option<Target> {
        Some(self.target.clone())
    }

    fn route(&self, subject: &str) -> Option<Partition> {
        (subject == self.subject).then(|| self.partition.clone())
    }
}

impl PartitionConsumers {
    pub fn new(
        js: jetstream::Context,
        config: ConsumerConfig,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<Self, ConsumerError> {
        let template = SubjectTemplate::parse(&config.subject_template)?;
        Ok(Self {
            js,
            config: Arc::new(config),
            template,
            handler,
            stats: Arc::new(ConsumerStats::default()),
            stop: Mutex::new(CancellationToken::new()),
            serial: tokio::sync::Mutex::new(()),
            state: Mutex::new(State::default()),
        })
    }

    /// The durables this worker is pulling, by name.
    pub fn pulling(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|state| {
                state
                    .loops
                    .iter()
                    .filter(|(_, running)| !running.task.is_finished())
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    fn stop_token(&self) -> CancellationToken {
        self.stop
            .lock()
            .map(|stop| stop.clone())
            .unwrap_or_default()
    }

    /// After `close` or `abort`, an update starts a new life with a new stop token (a
    /// restarted worker may reuse its updater). Returns the current life's stop token.
    fn reopen_if_closed(&self) -> CancellationToken {
        let (Ok(mut state), Ok(mut stop)) = (self.state.lock(), self.stop.lock()) else {
            return CancellationToken::new();
        };
        if state.closed {
            *state = State::default();
            *stop = CancellationToken::new();
        }
        stop.clone()
    }

    async fn apply(&self, worker_id: &str, partitions: &[Partition]) -> Result<(), ConsumerError> {
        let stop = self.reopen_if_closed();
        let wanted = partition_durables(&self.config.consumer_prefix, partitions)?;
        let subjects = wanted
            .iter()
            .map(|(name, p)| Ok((name.clone(), self.template.render(p)?)))
            .collect::<Result<BTreeMap<_, _>, ConsumerError>>()?;
        let _serial = tokio::select! {
            () = stop.cancelled() => return Err(ConsumerError::Closed),
            guard = self.serial.lock() => guard,
        };
        // Loops to stop: partitions given away, or every loop when the worker ID changed.
        let stopping: Vec<Running> = {
            let mut state = self.state.lock().map_err(|_| ConsumerError::Closed)?;
            if state.closed {
                return Err(ConsumerError::Closed);
            }
            let renamed = state.worker_id.as_deref().is_some_and(|w| w != worker_id);
            state.worker_id = Some(worker_id.to_owned());
            let gone: Vec<String> = state
                .loops
                .keys()
                .filter(|name| renamed || !wanted.contains_key(*name))
                .cloned()
                .collect();
            gone.iter()
                .filter_map(|name| state.loops.remove(name))
                .collect()
        };
        for running in &stopping {
            running.stop.cancel();
        }
        for running in stopping {
            if tokio::time::timeout(STOP_BUDGET, running.task)
                .await
                .is_err()
            {
                tracing::warn!("a partition loop did not stop within {STOP_BUDGET:?}; aborted");
            }
        }
        let added: Vec<(String, Partition)> = {
            let state = self.state.lock().map_err(|_| ConsumerError::Closed)?;
            wanted
                .iter()
                .filter(|(name, _)| !state.loops.contains_key(*name))
                .map(|(name, p)| (name.clone(), p.clone()))
                .collect()
        };
        let attempts = self.config.max_control_retries.saturating_add(1);
        let stop_ref = &stop;
        let creates = added.iter().map(|(name, partition)| {
            let subject = subjects.get(name).cloned().unwrap_or_default();
            let config = self
                .config
                .pull_config(name, Filter::Single(subject.clone()));
            async move {
                let retry = Retry {
                    backoff: self.config.backoff(),
                    policy: RetryPolicy::Attempts(attempts),
                    stop: stop_ref,
                    superseded: &|| false,
                    stats: &self.stats,
                    wake: None,
                };
                let created =
                    pull_loop::create_with_retries(&self.js, &self.config.stream, &config, retry)
                        .await;
                (name.clone(), partition.clone(), subject, config, created)
            }
        });
        let results = futures::future::join_all(creates).await;
        let mut first_error = None;
        let mut state = self.state.lock().map_err(|_| ConsumerError::Closed)?;
        for (name, partition, subject, config, created) in results {
            if let Err(err) = created {
                if matches!(err, ConsumerError::Closed) {
                    return Err(err);
                }
                // The loop recreates a missing consumer itself; report the failure anyway.
                tracing::warn!(durable = name, error = %err, "partition consumer not created");
                first_error.get_or_insert(err);
            } else {
                ConsumerStats::bump(&self.stats.updates_applied);
            }
            let stop = stop.child_token();
            let source = Arc::new(Fixed {
                target: Target {
                    durable: name.clone(),
                    config,
                    worker_id: worker_id.to_owned(),
                },
                subject,
                partition,
            });
            let ctx = LoopCtx {
                js: self.js.clone(),
                config: self.config.clone(),
                handler: self.handler.clone(),
                source,
                stop: stop.clone(),
                stats: self.stats.clone(),
            };
            let task = AbortOnDropHandle::new(tokio::spawn(pull_loop::run(ctx)));
            state.loops.insert(name, Running { stop, task });
        }
        if added.is_empty() {
            ConsumerStats::bump(&self.stats.updates_noop);
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn shut(&self) -> Result<(), ConsumerError> {
        self.stop_token().cancel();
        let loops = match self.state.lock() {
            Ok(mut state) => {
                state.closed = true;
                std::mem::take(&mut state.loops)
            }
            Err(_) => BTreeMap::new(),
        };
        for (name, running) in loops {
            if tokio::time::timeout(STOP_BUDGET, running.task)
                .await
                .is_err()
            {
                tracing::warn!(
                    durable = name,
                    "a partition loop did not stop in time; aborted"
                );
            }
        }
        Ok(())
    }
}

impl ConsumerUpdater for PartitionConsumers {
    fn update<'a>(&'a self, worker_id: &'a str, partitions: &'a [Partition]) -> ConsumerFuture<'a> {
        Box::pin(self.apply(worker_id, partitions))
    }

    fn close<'a>(&'a self) -> ConsumerFuture<'a> {
        Box::pin(self.shut())
    }

    fn abort(&self) {
        self.stop_token().cancel();
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
            for (_, running) in std::mem::take(&mut state.loops) {
                running.task.abort();
            }
        }
    }
}
