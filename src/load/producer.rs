//! The producer: publishes its share of the rate plan to JetStream with async publish and a
//! bounded window of in-flight acks, retries a failed publish with the same `Nats-Msg-Id`
//! (de-duplicated by the stream) until the server acks it, and reports every acked message to
//! the ledger. "Sent" therefore means "stored in the stream", and each partition's sequences
//! stay contiguous through a server restart: a sequence is never skipped.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use async_nats::jetstream::context::PublishError;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, publish::PublishAck};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{Future, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::message::{LoadMessage, MessageId};
use super::plan::{PlanError, RatePlan, Schedule, plan};
use super::record::SentRecord;
use super::report::Reporter;
use super::spec::{LoadSpec, SpecError};
use crate::parti::partition::Partition;

/// Everything one producer process needs (JSON between processes; no credentials).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProducerJob {
    pub run_id: String,
    /// This producer's index, below `spec.producers`.
    pub producer: u32,
    pub spec: LoadSpec,
    pub partitions: Vec<Partition>,
}

/// A job that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("producer {producer} is out of range: the spec has {producers} producers")]
    Producer { producer: u32, producers: usize },
}

/// How retries pause.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// At most one warning about failing publishes this often.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// What a producer did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStats {
    /// Messages the stream acked (each reported as sent).
    pub sent: u64,
    /// Publishes retried after an error or a missing ack.
    pub retries: u64,
    /// Acks that said the stream already had the message (a retry of a stored message).
    pub duplicate_acks: u64,
    /// Messages given up at the stop's deadline without an ack (not reported as sent; the
    /// stream may or may not hold them).
    pub abandoned: u64,
    /// The most a message was published after its due time, µs.
    pub max_behind_us: u64,
}

/// A message between its first publish and its ack.
struct Pending {
    id: MessageId,
    subject: String,
    payload: Bytes,
    sent_us: u64,
    attempts: u32,
}

enum Step {
    Acked(Pending, PublishAck),
    Failed(Pending, PublishError),
    RetryDue(Pending),
}

type StepFuture = Pin<Box<dyn Future<Output = Step> + Send>>;

/// One producer of a run.
pub struct Producer {
    js: jetstream::Context,
    job: ProducerJob,
    plan: RatePlan,
    subjects: Vec<String>,
    reporter: Reporter,
}

impl Producer {
    /// Checks the job and plans it.
    pub fn new(
        js: jetstream::Context,
        job: ProducerJob,
        reporter: Reporter,
    ) -> Result<Self, JobError> {
        job.spec.validate()?;
        if job.producer as usize >= job.spec.producers {
            return Err(JobError::Producer {
                producer: job.producer,
                producers: job.spec.producers,
            });
        }
        let plan = plan(&job.spec, &job.partitions)?;
        let subjects = job
            .partitions
            .iter()
            .map(|p| job.spec.subject(&p.subject_key()))
            .collect();
        Ok(Self {
            js,
            job,
            plan,
            subjects,
            reporter,
        })
    }

    pub fn plan(&self) -> &RatePlan {
        &self.plan
    }

    /// Publishes on schedule until `stop`, then finishes the messages in flight (retrying them)
    /// for at most `stop_grace`. The caller flushes the reporter afterwards.
    pub async fn run(&self, stop: CancellationToken, stop_grace: Duration) -> ProducerStats {
        let spec = &self.job.spec;
        let producer = self.job.producer;
        let share = &self.plan.producers[producer as usize];
        let mut schedule = Schedule::new(
            &self.plan,
            share,
            spec.seed ^ u64::from(producer).rotate_left(32),
        );
        let window = spec.window.max(1);
        let start = Instant::now();
        let mut stats = ProducerStats::default();
        let mut inflight: FuturesUnordered<StepFuture> = FuturesUnordered::new();
        let mut retry_now: VecDeque<Pending> = VecDeque::new();
        let mut next = schedule.next();
        let mut producer_seq = 0u64;
        let mut give_up_at: Option<Instant> = None;
        let mut last_warning: Option<Instant> = None;
        loop {
            if give_up_at.is_some() && inflight.is_empty() && retry_now.is_empty() {
                break;
            }
            if let Some(pending) = retry_now.pop_front() {
                let step = self.publish(pending).await;
                inflight.push(step);
                continue;
            }
            let due = next.filter(|_| give_up_at.is_none() && inflight.len() < window);
            let due_at = due.map(|d| start + d.at);
            tokio::select! {
                biased;
                () = stop.cancelled(), if give_up_at.is_none() => {
                    give_up_at = Some(Instant::now() + stop_grace);
                }
                () = sleep_until_opt(give_up_at), if give_up_at.is_some() => {
                    stats.abandoned = (inflight.len() + retry_now.len()) as u64;
                    if stats.abandoned > 0 {
                        warn!("producer {producer}: {} unacked at the stop deadline", stats.abandoned);
                    }
                    break;
                }
                Some(step) = inflight.next(), if !inflight.is_empty() => match step {
                    Step::Acked(pending, ack) => {
                        stats.sent += 1;
                        stats.duplicate_acks += u64::from(ack.duplicate);
                        self.reporter.sent(SentRecord { id: pending.id, sent_us: pending.sent_us });
                    }
                    Step::Failed(mut pending, err) => {
                        debug!("publish of {} failed: {err}; retrying", pending.id.nats_msg_id());
                        if last_warning.is_none_or(|at: Instant| at.elapsed() >= WARN_EVERY) {
                            warn!("producer {producer}: publish failing ({err}); retrying with the same message ids");
                            last_warning = Some(Instant::now());
                        }
                        stats.retries += 1;
                        pending.attempts += 1;
                        let pause = backoff(pending.attempts);
                        inflight.push(Box::pin(async move {
                            tokio::time::sleep(pause).await;
                            Step::RetryDue(pending)
                        }));
                    }
                    Step::RetryDue(pending) => retry_now.push_back(pending),
                },
                () = sleep_until_opt(due_at), if due_at.is_some() => {
                    let Some(due) = due else { continue };
                    let behind = Instant::now().saturating_duration_since(start + due.at);
                    stats.max_behind_us = stats.max_behind_us.max(micros(behind));
                    producer_seq += 1;
                    let pending = self.message(due.partition, due.seq, producer_seq);
                    let step = self.publish(pending).await;
                    inflight.push(step);
                    next = schedule.next();
                }
            }
        }
        stats
    }

    fn message(&self, partition: u32, seq: u64, producer_seq: u64) -> Pending {
        let sent_us = unix_us();
        let message = LoadMessage {
            id: MessageId {
                producer: self.job.producer,
                partition,
                seq,
            },
            producer_seq,
            sent_us,
        };
        Pending {
            id: message.id,
            subject: self
                .subjects
                .get(partition as usize)
                .cloned()
                .unwrap_or_default(),
            payload: message.encode(self.job.spec.payload_bytes),
            sent_us,
            attempts: 0,
        }
    }

    /// Sends the message and returns the future of its ack (or of its failure).
    async fn publish(&self, pending: Pending) -> StepFuture {
        let publish = PublishMessage::build()
            .payload(pending.payload.clone())
            .message_id(pending.id.nats_msg_id());
        match self.js.send_publish(pending.subject.clone(), publish).await {
            Ok(ack) => Box::pin(async move {
                match ack.await {
                    Ok(ack) => Step::Acked(pending, ack),
                    Err(err) => Step::Failed(pending, err),
                }
            }),
            Err(err) => Box::pin(async move { Step::Failed(pending, err) }),
        }
    }
}

fn backoff(attempts: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(10))
        .min(MAX_BACKOFF)
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), Duration::from_millis(50));
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(5), Duration::from_millis(800));
        assert_eq!(backoff(6), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn jobs_round_trip_as_json() {
        let job = ProducerJob {
            run_id: "r1".into(),
            producer: 0,
            spec: LoadSpec::default(),
            partitions: vec![Partition::new(["partition-0"], 100)],
        };
        let text = serde_json::to_string(&job).expect("json");
        assert_eq!(
            serde_json::from_str::<ProducerJob>(&text).expect("parse"),
            job
        );
    }
}
