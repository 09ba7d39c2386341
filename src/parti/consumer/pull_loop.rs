//! The pull loop both layouts run, and the control requests they share.
//!
//! One loop pulls one durable: every cycle starts with a consumer `Info` (recreate on not
//! found, stop on 401/403), then a `messages()` iterator (batch, expiry = fetch timeout,
//! idle heartbeat = half of it) feeds the handler one message at a time. An iterator that
//! stays idle for a fetch timeout triggers another `Info`, without dropping the iterator.
//! Iterator errors: missed heartbeat restarts at once, anything else backs off and counts a
//! failure; repeated failures re-apply the consumer config in the background.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer, consumer::pull, message::AckKind};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::plan::{ApiClass, FailureWindow, IterAction, classify_api, classify_iterator};
use super::{ConsumerConfig, ConsumerError, ConsumerStats, HandlerOutcome, MessageHandler};
use crate::parti::partition::Partition;

/// The durable a loop pulls and how to recreate it.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub durable: String,
    pub config: pull::Config,
    pub worker_id: String,
}

/// What a loop pulls from; read again at every cycle, so updates apply without a restart.
pub(crate) trait PullSource: Send + Sync + 'static {
    /// The current target; None while there is nothing to pull.
    fn target(&self) -> Option<Target>;
    /// The owned partition a subject belongs to.
    fn route(&self, subject: &str) -> Option<Partition>;
}

/// How a loop ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LoopEnd {
    Stopped,
    Unauthorized(String),
    Exit(String),
}

/// Everything a loop needs.
pub(crate) struct LoopCtx {
    pub js: jetstream::Context,
    pub config: Arc<ConsumerConfig>,
    pub handler: Arc<dyn MessageHandler>,
    pub source: Arc<dyn PullSource>,
    pub stop: CancellationToken,
    pub stats: Arc<ConsumerStats>,
}

/// A classified control-request failure.
#[derive(Clone, Debug)]
pub(crate) struct ControlError {
    pub class: ApiClass,
    pub message: String,
}

impl ControlError {
    pub fn into_consumer_error(self) -> ConsumerError {
        match self.class {
            ApiClass::Unauthorized => ConsumerError::Unauthorized(self.message),
            ApiClass::Transient => ConsumerError::Request(self.message),
            _ => ConsumerError::Server(self.message),
        }
    }
}

fn classify_consumer_error(err: &async_nats::jetstream::stream::ConsumerError) -> ControlError {
    use async_nats::jetstream::stream::ConsumerErrorKind as K;
    let class = match err.kind() {
        K::JetStream(api) => classify_api(api.code(), api.error_code().0),
        K::TimedOut | K::Request | K::Other => ApiClass::Transient,
        K::InvalidConsumerType | K::InvalidName => ApiClass::Permanent,
    };
    ControlError {
        class,
        message: err.to_string(),
    }
}

/// Fetch a consumer handle (its `Info`).
pub(crate) async fn consumer_handle(
    js: &jetstream::Context,
    stream: &str,
    durable: &str,
) -> Result<PullConsumer, ControlError> {
    js.get_consumer_from_stream::<pull::Config, _, _>(durable, stream)
        .await
        .map_err(|err| classify_consumer_error(&err))
}

/// One `CreateOrUpdateConsumer` request.
pub(crate) async fn create_or_update(
    js: &jetstream::Context,
    stream: &str,
    config: &pull::Config,
) -> Result<PullConsumer, ControlError> {
    js.create_consumer_on_stream(config.clone(), stream)
        .await
        .map_err(|err| classify_consumer_error(&err))
}

/// When to give up retrying a control request.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RetryPolicy {
    /// At most this many attempts in total.
    Attempts(u32),
    /// Retry transient failures (WorkQueue overlap included) until applied; other failures
    /// still end after this many attempts.
    UntilApplied(u32),
}

/// How a control request is retried.
pub(crate) struct Retry<'a> {
    pub backoff: Backoff,
    pub policy: RetryPolicy,
    pub stop: &'a CancellationToken,
    /// True once a newer update makes this one pointless.
    pub superseded: &'a (dyn Fn() -> bool + Send + Sync),
    pub stats: &'a ConsumerStats,
    /// Woken when a newer update arrives, to cut a back-off sleep short.
    pub wake: Option<&'a tokio::sync::Notify>,
}

/// `CreateOrUpdateConsumer` with back-off between attempts. Ends early with `Closed` when
/// `stop` fires and with `Superseded` when `superseded()` turns true.
pub(crate) async fn create_with_retries(
    js: &jetstream::Context,
    stream: &str,
    config: &pull::Config,
    retry: Retry<'_>,
) -> Result<PullConsumer, ConsumerError> {
    let Retry {
        mut backoff,
        policy,
        stop,
        superseded,
        stats,
        wake,
    } = retry;
    let mut attempt: u32 = 0;
    loop {
        if stop.is_cancelled() {
            return Err(ConsumerError::Closed);
        }
        if superseded() {
            return Err(ConsumerError::Superseded);
        }
        attempt += 1;
        let err = match create_or_update(js, stream, config).await {
            Ok(consumer) => return Ok(consumer),
            Err(err) => err,
        };
        let keep_going = match (policy, err.class) {
            (_, ApiClass::Unauthorized) => false,
            (RetryPolicy::UntilApplied(_), ApiClass::Transient | ApiClass::Overlap) => true,
            (RetryPolicy::UntilApplied(max) | RetryPolicy::Attempts(max), _) => attempt < max,
        };
        if !keep_going {
            return Err(err.into_consumer_error());
        }
        ConsumerStats::bump(&stats.update_retries);
        tracing::debug!(stream, attempt, error = %err.message, "consumer request failed; retrying");
        let delay = backoff.next_delay();
        let notified = async {
            match wake {
                Some(notify) => notify.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return Err(ConsumerError::Closed),
            () = tokio::time::sleep(delay) => {}
            () = notified => {}
        }
    }
}

/// Sleep for the next back-off delay; false when stopped meanwhile.
async fn pause(stop: &CancellationToken, backoff: &mut Backoff) -> bool {
    let delay = backoff.next_delay();
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

enum Health {
    Ok(Box<PullConsumer>),
    Gone(LoopEnd),
    Retry,
}

/// The per-cycle check: `Info`, recreating the consumer when it is not found.
async fn check(ctx: &LoopCtx, target: &Target) -> Health {
    let stream = ctx.config.stream.as_str();
    match consumer_handle(&ctx.js, stream, &target.durable).await {
        Ok(consumer) => Health::Ok(Box::new(consumer)),
        Err(err) => match err.class {
            ApiClass::NotFound => {
                ConsumerStats::bump(&ctx.stats.recreations);
                tracing::info!(durable = %target.durable, "consumer not found; recreating");
                let attempts = ctx.config.max_control_retries.saturating_add(1);
                let retry = Retry {
                    backoff: ctx.config.backoff(),
                    policy: RetryPolicy::Attempts(attempts),
                    stop: &ctx.stop,
                    superseded: &|| false,
                    stats: &ctx.stats,
                    wake: None,
                };
                match create_with_retries(&ctx.js, stream, &target.config, retry).await {
                    Ok(consumer) => Health::Ok(Box::new(consumer)),
                    Err(ConsumerError::Closed) => Health::Gone(LoopEnd::Stopped),
                    Err(ConsumerError::Unauthorized(message)) => {
                        Health::Gone(LoopEnd::Unauthorized(message))
                    }
                    Err(_) => Health::Retry,
                }
            }
            ApiClass::Unauthorized => Health::Gone(LoopEnd::Unauthorized(err.message)),
            _ => Health::Retry,
        },
    }
}

/// Runs one pull loop until stopped or until it cannot go on.
pub(crate) async fn run(ctx: LoopCtx) -> LoopEnd {
    let mut backoff = ctx.config.backoff();
    let mut failures = FailureWindow::new(
        ctx.config.iterator_escalation_threshold,
        ctx.config.iterator_escalation_window,
    );
    let fetch = ctx.config.fetch_timeout.max(Duration::from_millis(100));
    loop {
        if ctx.stop.is_cancelled() {
            return LoopEnd::Stopped;
        }
        let Some(target) = ctx.source.target() else {
            tokio::select! {
                () = ctx.stop.cancelled() => return LoopEnd::Stopped,
                () = tokio::time::sleep(fetch) => continue,
            }
        };
        let consumer = match check(&ctx, &target).await {
            Health::Ok(consumer) => consumer,
            Health::Gone(end) => return end,
            Health::Retry => {
                if !pause(&ctx.stop, &mut backoff).await {
                    return LoopEnd::Stopped;
                }
                continue;
            }
        };
        let opened = consumer
            .stream()
            .max_messages_per_batch(ctx.config.batch_size.max(1))
            .expires(fetch)
            .heartbeat(fetch / 2)
            .messages()
            .await;
        let mut messages = match opened {
            Ok(messages) => messages,
            Err(err) => {
                tracing::debug!(durable = %target.durable, error = %err, "cannot open the message iterator");
                ConsumerStats::bump(&ctx.stats.iterator_failures);
                failures.record(tokio::time::Instant::now());
                if !pause(&ctx.stop, &mut backoff).await {
                    return LoopEnd::Stopped;
                }
                continue;
            }
        };
        loop {
            let item = tokio::select! {
                () = ctx.stop.cancelled() => {
                    nak_buffered(&mut messages).await;
                    return LoopEnd::Stopped;
                }
                item = tokio::time::timeout(fetch, messages.next()) => item,
            };
            match item {
                Err(_idle) => {
                    // The per-cycle health check, keeping the iterator.
                    match check_idle(&ctx, &target).await {
                        Idle::Keep => {}
                        Idle::Reopen => break,
                        Idle::End(end) => return end,
                    }
                }
                Ok(None) => {
                    ConsumerStats::bump(&ctx.stats.iterator_failures);
                    failures.record(tokio::time::Instant::now());
                    if !pause(&ctx.stop, &mut backoff).await {
                        return LoopEnd::Stopped;
                    }
                    break;
                }
                Ok(Some(Err(err))) => match classify_iterator(err.kind()) {
                    IterAction::Exit => return LoopEnd::Exit(err.to_string()),
                    IterAction::RestartNow => {
                        tracing::debug!(durable = %target.durable, "missed heartbeat; reopening");
                        break;
                    }
                    IterAction::BackoffRestart => {
                        ConsumerStats::bump(&ctx.stats.iterator_failures);
                        tracing::debug!(durable = %target.durable, error = %err, "iterator error");
                        if failures.record(tokio::time::Instant::now()) {
                            escalate(&ctx, &target);
                        }
                        if !pause(&ctx.stop, &mut backoff).await {
                            return LoopEnd::Stopped;
                        }
                        break;
                    }
                },
                Ok(Some(Ok(message))) => {
                    failures.success();
                    backoff.reset();
                    dispatch(&ctx, &target, message).await;
                    if ctx
                        .source
                        .target()
                        .is_none_or(|now| now.durable != target.durable)
                    {
                        break;
                    }
                }
            }
        }
    }
}

/// On stop: give back the messages already delivered to this iterator but not yet handled,
/// so the server redelivers them now rather than after the ack wait.
async fn nak_buffered(messages: &mut pull::Stream) {
    use futures::FutureExt;
    while let Some(Some(Ok(message))) = messages.next().now_or_never() {
        let _ = message.ack_with(AckKind::Nak(None)).await;
    }
}

enum Idle {
    Keep,
    Reopen,
    End(LoopEnd),
}

async fn check_idle(ctx: &LoopCtx, target: &Target) -> Idle {
    if ctx
        .source
        .target()
        .is_none_or(|now| now.durable != target.durable)
    {
        return Idle::Reopen;
    }
    match consumer_handle(&ctx.js, &ctx.config.stream, &target.durable).await {
        Ok(_) => Idle::Keep,
        Err(err) => match err.class {
            ApiClass::NotFound => Idle::Reopen,
            ApiClass::Unauthorized => Idle::End(LoopEnd::Unauthorized(err.message)),
            _ => Idle::Keep,
        },
    }
}

/// Re-apply the consumer config once, in the background.
fn escalate(ctx: &LoopCtx, target: &Target) {
    tracing::info!(durable = %target.durable, "repeated iterator failures; re-applying the consumer");
    let (js, stream, config, stop) = (
        ctx.js.clone(),
        ctx.config.stream.clone(),
        target.config.clone(),
        ctx.stop.clone(),
    );
    tokio::spawn(async move {
        tokio::select! {
            () = stop.cancelled() => {}
            result = create_or_update(&js, &stream, &config) => {
                if let Err(err) = result {
                    tracing::debug!(error = %err.message, "re-applying the consumer failed");
                }
            }
        }
    });
}

/// Hand one message to the handler and settle it.
async fn dispatch(ctx: &LoopCtx, target: &Target, message: jetstream::Message) {
    ConsumerStats::bump(&ctx.stats.messages);
    let partition = ctx.source.route(message.subject.as_str());
    if partition.is_none() {
        ConsumerStats::bump(&ctx.stats.unrouted);
    }
    let outcome = ctx
        .handler
        .handle(&target.worker_id, partition.as_ref(), message.clone())
        .await;
    let outcome = if ctx.config.manual_ack {
        HandlerOutcome::Handled
    } else {
        outcome
    };
    let settled = match outcome {
        HandlerOutcome::Handled => return,
        HandlerOutcome::Ack if ctx.config.fast_ack => {
            ConsumerStats::bump(&ctx.stats.acks);
            message.ack().await
        }
        HandlerOutcome::Ack => {
            ConsumerStats::bump(&ctx.stats.acks);
            message.double_ack().await
        }
        HandlerOutcome::Nak(delay) => {
            ConsumerStats::bump(&ctx.stats.naks);
            message.ack_with(AckKind::Nak(delay)).await
        }
    };
    if let Err(err) = settled {
        ConsumerStats::bump(&ctx.stats.ack_errors);
        tracing::warn!(durable = %target.durable, subject = %message.subject, error = %err, "ack not confirmed");
    }
}
