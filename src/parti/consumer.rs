//! Message consumption for a worker's partitions (parti-protocol.md §10): the contract a
//! worker drives ([`ConsumerUpdater`]), the handler a message goes to ([`MessageHandler`]),
//! the shared configuration ([`ConsumerConfig`]), and two layouts behind the contract:
//!
//! - [`WorkerConsumer`]: Go's `subscription.WorkerConsumer`, wire-compatible. One durable
//!   pull consumer per worker whose `filter_subjects` lists the worker's partitions.
//! - [`PartitionConsumers`]: one durable pull consumer per partition with a single
//!   `filter_subject`, pulled by whichever worker owns the partition, so a partition's cursor
//!   and pending messages move with it.
//!
//! Pure parts (names, subjects, plans, back-off, error classes) live in `naming`, `plan` and
//! `backoff`; the server-facing parts in `pull`, `worker_consumer` and `partition_consumers`.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};

use super::partition::Partition;

pub mod backoff;
pub mod driver;
pub mod naming;
mod partition_consumers;
pub mod plan;
mod pull_loop;
mod worker_consumer;

pub use driver::UpdateDriver;
pub use partition_consumers::PartitionConsumers;
pub use worker_consumer::WorkerConsumer;

/// The future of [`ConsumerUpdater::update`] and [`ConsumerUpdater::close`].
pub type ConsumerFuture<'a> =
    Pin<Box<dyn std::future::Future<Output = Result<(), ConsumerError>> + Send + 'a>>;

/// What a worker drives: its consumers follow its partition list.
pub trait ConsumerUpdater: Send + Sync + 'static {
    /// Called with the worker's full partition list after every accepted assignment, including an empty one.
    fn update<'a>(&'a self, worker_id: &'a str, partitions: &'a [Partition]) -> ConsumerFuture<'a>;
    /// Stop pulling (worker stop); never deletes server state.
    fn close<'a>(&'a self) -> ConsumerFuture<'a>;
    /// Crash: end every task at once, synchronously, without a word to the server (a killed
    /// worker must not keep pulling). Never deletes server state.
    fn abort(&self);
}

/// The future of [`MessageHandler::handle`].
pub type HandlerFuture = Pin<Box<dyn std::future::Future<Output = HandlerOutcome> + Send>>;

/// What the pull loop does with a handled message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandlerOutcome {
    /// Acknowledge, confirmed by the server (`double_ack`) unless `fast_ack` is set.
    Ack,
    /// Negative acknowledgement, with an optional redelivery delay.
    Nak(Option<Duration>),
    /// The handler acked or naked the message itself (manual ack).
    Handled,
}

/// Where messages go.
pub trait MessageHandler: Send + Sync + 'static {
    /// One message at a time per pull loop. `partition` is the owned partition the message's subject maps to (None if the subject maps to no owned partition).
    fn handle(
        &self,
        worker_id: &str,
        partition: Option<&Partition>,
        msg: async_nats::jetstream::Message,
    ) -> HandlerFuture;
}

/// Failures of the consumers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerError {
    #[error("subject template {template:?}: {reason}")]
    InvalidTemplate { template: String, reason: String },
    #[error("a partition has no keys")]
    EmptyPartition,
    #[error("partitions {first:?} and {second:?} both map to consumer {name}")]
    NameCollision {
        name: String,
        first: String,
        second: String,
    },
    #[error("{count} subjects exceed the limit of {max}")]
    TooManySubjects { count: usize, max: usize },
    #[error("worker ID changed from {from} to {to}, which is not allowed")]
    WorkerIdChanged { from: String, to: String },
    #[error("a newer update superseded this one")]
    Superseded,
    #[error("the consumer is closed")]
    Closed,
    #[error("not authorised: {0}")]
    Unauthorized(String),
    #[error("server refused: {0}")]
    Server(String),
    #[error("request failed: {0}")]
    Request(String),
}

/// The configuration of both layouts (Go `subscription.Config` with its defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerConfig {
    /// The stream, created by the user; the consumers never create streams.
    pub stream: String,
    /// Durable names start with this.
    pub consumer_prefix: String,
    /// Subject of a partition, e.g. `work.{{.PartitionID}}` (the partition's subject key).
    pub subject_template: String,
    pub ack_wait: Duration,
    pub max_deliver: i64,
    pub inactive_threshold: Duration,
    /// Messages per pull request.
    pub batch_size: usize,
    pub max_waiting: i64,
    /// 0 = the server default.
    pub max_ack_pending: i64,
    /// Pull request expiry; the idle heartbeat is half of it.
    pub fetch_timeout: Duration,
    /// Retries of a failed control request (create, update, recreate): Go's effective
    /// MaxControlRetries and MaxRecreationRetries.
    pub max_control_retries: u32,
    pub retry_base: Duration,
    pub retry_multiplier: f64,
    pub retry_max: Duration,
    pub max_subjects: usize,
    pub iterator_escalation_window: Duration,
    pub iterator_escalation_threshold: u32,
    pub allow_worker_id_change: bool,
    /// The handler acks itself ([`HandlerOutcome::Handled`]); other outcomes still apply.
    pub manual_ack: bool,
    /// Ack with a fire-and-forget publish instead of the server-confirmed `double_ack`.
    pub fast_ack: bool,
    /// Keep retrying an update the server refuses for a transient reason (a WorkQueue
    /// overlap, a timeout) until it is applied or superseded, instead of giving up after
    /// `max_control_retries` like Go.
    pub retry_until_applied: bool,
    /// After an update that adds subjects, move the worker consumer's cursor back to the
    /// start of the stream (`CONSUMER.RESET`, nats-server 2.14+), so the backlog of the added
    /// partitions is delivered instead of skipped. Meant for WorkQueue streams, where the
    /// stream holds only unacked messages: messages this consumer holds unacked are delivered
    /// again (duplicates, not loss). Off by default, as in Go.
    pub rewind_on_added_subjects: bool,
}

impl ConsumerConfig {
    /// A configuration with Go's defaults.
    pub fn new(
        stream: impl Into<String>,
        consumer_prefix: impl Into<String>,
        subject_template: impl Into<String>,
    ) -> Self {
        Self {
            stream: stream.into(),
            consumer_prefix: consumer_prefix.into(),
            subject_template: subject_template.into(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 3,
            inactive_threshold: Duration::from_secs(24 * 3600),
            batch_size: 1,
            max_waiting: 512,
            max_ack_pending: 0,
            fetch_timeout: Duration::from_secs(5),
            max_control_retries: 3,
            retry_base: Duration::from_millis(100),
            retry_multiplier: 1.6,
            retry_max: Duration::from_secs(5),
            max_subjects: 500,
            iterator_escalation_window: Duration::from_secs(60),
            iterator_escalation_threshold: 3,
            allow_worker_id_change: false,
            manual_ack: false,
            fast_ack: false,
            retry_until_applied: true,
            rewind_on_added_subjects: false,
        }
    }

    /// The server-side consumer configuration for `durable` with `filter_subjects`
    /// (one subject goes into `filter_subject`, more into `filter_subjects`, as given).
    pub fn pull_config(&self, durable: &str, filter: Filter) -> pull::Config {
        let (filter_subject, filter_subjects) = match filter {
            Filter::Single(subject) => (subject, Vec::new()),
            Filter::Many(subjects) => (String::new(), subjects),
        };
        pull::Config {
            name: Some(durable.to_owned()),
            durable_name: Some(durable.to_owned()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            inactive_threshold: self.inactive_threshold,
            max_waiting: self.max_waiting,
            max_ack_pending: self.max_ack_pending,
            filter_subject,
            filter_subjects,
            ..Default::default()
        }
    }

    fn backoff(&self) -> backoff::Backoff {
        backoff::Backoff::new(
            self.retry_base,
            self.retry_multiplier,
            self.retry_max,
            backoff::fresh_seed(),
        )
    }
}

/// The filter of a consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `filter_subject` (a partition consumer).
    Single(String),
    /// `filter_subjects` (a worker consumer, Go's layout).
    Many(Vec<String>),
}

/// Counters of one consumer layout, for dashboards and tests.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    pub updates_applied: AtomicU64,
    pub updates_noop: AtomicU64,
    pub update_retries: AtomicU64,
    pub guardrail_errors: AtomicU64,
    pub guardrail_warnings: AtomicU64,
    pub recreations: AtomicU64,
    pub iterator_failures: AtomicU64,
    pub messages: AtomicU64,
    pub acks: AtomicU64,
    pub naks: AtomicU64,
    pub ack_errors: AtomicU64,
    pub unrouted: AtomicU64,
    pub rewinds: AtomicU64,
}

/// A copy of [`ConsumerStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub updates_applied: u64,
    pub updates_noop: u64,
    pub update_retries: u64,
    pub guardrail_errors: u64,
    pub guardrail_warnings: u64,
    pub recreations: u64,
    pub iterator_failures: u64,
    pub messages: u64,
    pub acks: u64,
    pub naks: u64,
    pub ack_errors: u64,
    pub unrouted: u64,
    pub rewinds: u64,
}

impl ConsumerStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            updates_applied: get(&self.updates_applied),
            updates_noop: get(&self.updates_noop),
            update_retries: get(&self.update_retries),
            guardrail_errors: get(&self.guardrail_errors),
            guardrail_warnings: get(&self.guardrail_warnings),
            recreations: get(&self.recreations),
            iterator_failures: get(&self.iterator_failures),
            messages: get(&self.messages),
            acks: get(&self.acks),
            naks: get(&self.naks),
            ack_errors: get(&self.ack_errors),
            unrouted: get(&self.unrouted),
            rewinds: get(&self.rewinds),
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_gos_effective_defaults() {
        let c = ConsumerConfig::new("S", "p", "work.{{.PartitionID}}");
        assert_eq!(c.ack_wait, Duration::from_secs(30));
        assert_eq!(c.max_deliver, 3);
        assert_eq!(c.inactive_threshold, Duration::from_secs(86_400));
        assert_eq!(
            (c.batch_size, c.max_waiting, c.max_ack_pending),
            (1, 512, 0)
        );
        assert_eq!(c.fetch_timeout, Duration::from_secs(5));
        assert_eq!(c.max_control_retries, 3);
        assert_eq!(c.retry_base, Duration::from_millis(100));
        assert_eq!(c.retry_multiplier, 1.6);
        assert_eq!(c.retry_max, Duration::from_secs(5));
        assert_eq!(c.max_subjects, 500);
        assert!(!c.allow_worker_id_change && !c.manual_ack && !c.fast_ack);
    }

    #[test]
    fn pull_config_names_and_filters() {
        let c = ConsumerConfig::new("S", "p", "work.{{.PartitionID}}");
        let many = c.pull_config("p-w1", Filter::Many(vec!["work.a".into(), "work.b".into()]));
        assert_eq!(many.name.as_deref(), Some("p-w1"));
        assert_eq!(many.durable_name.as_deref(), Some("p-w1"));
        assert_eq!(many.filter_subjects, vec!["work.a", "work.b"]);
        assert!(many.filter_subject.is_empty());
        assert_eq!(many.ack_policy, AckPolicy::Explicit);
        assert_eq!(many.deliver_policy, DeliverPolicy::All);
        assert_eq!(
            (many.max_deliver, many.max_waiting, many.max_ack_pending),
            (3, 512, 0)
        );
        let single = c.pull_config("p-p-a", Filter::Single("work.a".into()));
        assert_eq!(single.filter_subject, "work.a");
        assert!(single.filter_subjects.is_empty());
    }
}
