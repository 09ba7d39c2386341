//! A host's share of the message load: each worker gets a per-partition consumer
//! ([`PartitionConsumers`], docs/protocol.md "Consumers") whose messages go to a load
//! [`Processor`] (delay, confirmed ack, a ledger record through the host's one [`Reporter`] on
//! the control connection, so records survive a cut worker link).
//!
//! The fence (docs/load.md, "Fencing"): a worker acks only while its own connection is up and
//! has been for `settle`, and the host has not been frozen within `settle`; and never a message
//! it held longer than `max_hold`. A worker frozen by SIGSTOP or cut off beyond its heartbeat
//! TTL may have lost its partitions meanwhile; until it has caught up with the assignments
//! published while it was away, what it holds is nak'd (redelivered), never acked.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;

use crate::control::HostWork;
use crate::load::process::{Fence, Processor};
use crate::load::report::{Reporter, ReporterOptions, ledger_subject, unique_reporter_id};
use crate::parti::consumer::{
    ConsumerConfig, ConsumerUpdater, HandlerFuture, HandlerOutcome, MessageHandler,
    PartitionConsumers,
};
use crate::parti::partition::Partition;

/// How often the freeze and connection watches look.
const WATCH_PERIOD: Duration = Duration::from_millis(50);
/// A fenced message comes back after this long (not at once, which would spin on it).
const FENCE_NAK_DELAY: Duration = Duration::from_millis(100);
/// A watch tick this late means the process was frozen (or starved) meanwhile.
const FREEZE_GAP: Duration = Duration::from_millis(400);

/// The load side of one host.
pub struct Work {
    spec: HostWork,
    partitions: Vec<Partition>,
    reporter: Reporter,
    /// Milliseconds since `epoch` until which acks wait after a freeze of the host.
    frozen_until_ms: Arc<AtomicU64>,
    epoch: Instant,
    _reporter_task: AbortOnDropHandle<()>,
    _freeze_watch: AbortOnDropHandle<()>,
}

impl Work {
    /// Start the host's reporter (on `control`) and its freeze watch.
    pub fn start(
        control: &async_nats::Client,
        run_id: &str,
        host: u32,
        spec: HostWork,
        partitions: Vec<Partition>,
    ) -> Work {
        let (reporter, task) = Reporter::start(
            control.clone(),
            ledger_subject(run_id),
            unique_reporter_id(&format!("host-{host}")),
            ReporterOptions::default(),
        );
        let epoch = Instant::now();
        let frozen_until_ms = Arc::new(AtomicU64::new(0));
        let settle = Duration::from_millis(spec.settle_ms);
        let freeze_watch = tokio::spawn(watch_freezes(epoch, settle, frozen_until_ms.clone()));
        Work {
            spec,
            partitions,
            reporter,
            frozen_until_ms,
            epoch,
            _reporter_task: AbortOnDropHandle::new(task),
            _freeze_watch: AbortOnDropHandle::new(freeze_watch),
        }
    }

    /// The consumer of a worker connected with `client`.
    pub fn consumer(
        &self,
        client: &async_nats::Client,
        slot: u64,
    ) -> Result<Arc<dyn ConsumerUpdater>, String> {
        let settle = Duration::from_millis(self.spec.settle_ms);
        let connection = Arc::new(AtomicU64::new(0));
        let watch = tokio::spawn(watch_connection(
            client.clone(),
            self.epoch,
            settle,
            connection.clone(),
        ));
        let (epoch, frozen) = (self.epoch, self.frozen_until_ms.clone());
        let fence: Fence = Arc::new(move |_partition: &Partition| {
            let now_ms = millis_since(epoch);
            now_ms >= frozen.load(Ordering::Relaxed) && now_ms >= connection.load(Ordering::Relaxed)
        });
        let load = &self.spec.load;
        let processor = Processor::new(
            load.delay.clone(),
            load.seed ^ slot.wrapping_mul(0x9e37_79b9),
            self.partitions.clone(),
            fence,
            self.reporter.clone(),
        )
        .with_max_hold(Some(Duration::from_millis(self.spec.max_hold_ms)))
        .with_fence_nak_delay(Some(FENCE_NAK_DELAY));
        let handler = Arc::new(Handler {
            processor: Arc::new(processor),
            _watch: AbortOnDropHandle::new(watch),
        });
        let mut config = ConsumerConfig::new(
            self.spec.stream.clone(),
            self.spec.consumer_prefix.clone(),
            load.subject_template.replace("{key}", "{{.PartitionID}}"),
        );
        config.ack_wait = load.ack_wait;
        config.max_deliver = load.max_deliver;
        config.manual_ack = true;
        let js = async_nats::jetstream::new(client.clone());
        let consumers =
            PartitionConsumers::new(js, config, handler).map_err(|err| err.to_string())?;
        Ok(Arc::new(consumers))
    }

    /// Send every record taken so far (before the host exits).
    pub async fn flush(&self, budget: Duration) {
        let _ = tokio::time::timeout(budget, self.reporter.flush()).await;
    }
}

/// Hands a worker's messages to its processor; the processor settles them itself.
struct Handler {
    processor: Arc<Processor>,
    _watch: AbortOnDropHandle<()>,
}

impl MessageHandler for Handler {
    fn handle(
        &self,
        worker_id: &str,
        partition: Option<&Partition>,
        msg: async_nats::jetstream::Message,
    ) -> HandlerFuture {
        let processor = self.processor.clone();
        let (worker_id, partition) = (worker_id.to_owned(), partition.cloned());
        Box::pin(async move {
            processor.process(&worker_id, partition.as_ref(), msg).await;
            HandlerOutcome::Handled
        })
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Notice the host being frozen: a tick much later than due closes the fence for `settle`.
async fn watch_freezes(epoch: Instant, settle: Duration, frozen_until_ms: Arc<AtomicU64>) {
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(WATCH_PERIOD).await;
        let now = Instant::now();
        if now.duration_since(last) > FREEZE_GAP {
            let until = millis_since(epoch) + u64::try_from(settle.as_millis()).unwrap_or(0);
            frozen_until_ms.store(until, Ordering::Relaxed);
        }
        last = now;
    }
}

/// Close the fence while the worker's connection is down and for `settle` after it is back.
async fn watch_connection(
    client: async_nats::Client,
    epoch: Instant,
    settle: Duration,
    open_from_ms: Arc<AtomicU64>,
) {
    let settle_ms = u64::try_from(settle.as_millis()).unwrap_or(0);
    loop {
        tokio::time::sleep(WATCH_PERIOD).await;
        if client.connection_state() != async_nats::connection::State::Connected {
            open_from_ms.store(millis_since(epoch) + settle_ms, Ordering::Relaxed);
        }
    }
}
