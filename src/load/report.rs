//! Lossless reporting to the ledger: a [`Reporter`] collects records into numbered batches and
//! sends each by request/reply to `parti-top.<run>.ledger`, retrying the same batch until the
//! receiver acknowledges it, one batch at a time; [`serve_ledger`] is the receiving end, which
//! ingests a batch into the [`Ledger`] (de-duplicated by reporter and batch number) before it
//! answers. Nothing is ever dropped: a record is either acknowledged by the ledger or still
//! queued in the reporter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::ledger::Ledger;
use super::record::{BatchAck, DeliveryRecord, ReportBatch, SentRecord};

/// The ledger subject of a run.
pub fn ledger_subject(run_id: &str) -> String {
    format!("parti-top.{run_id}.ledger")
}

/// A reporter name unique to this process start: `<prefix>-<pid>-<start µs>` (batch numbers
/// restart at 0 with every reporter, so a name must never be reused).
pub fn unique_reporter_id(prefix: &str) -> String {
    let start_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{prefix}-{}-{start_us}", std::process::id())
}

/// How a reporter batches and retries.
#[derive(Clone, Debug)]
pub struct ReporterOptions {
    /// A batch is sent when it holds this many records (default 500).
    pub max_batch: usize,
    /// ... or when its oldest record waited this long (default 100 ms).
    pub interval: Duration,
    /// How long one request waits for the receiver's answer (default 2 s).
    pub request_timeout: Duration,
    /// First pause between retries of a batch, doubled up to `max_backoff` (default 50 ms).
    pub backoff: Duration,
    /// Longest pause between retries (default 1 s).
    pub max_backoff: Duration,
}

impl Default for ReporterOptions {
    fn default() -> Self {
        Self {
            max_batch: 500,
            interval: Duration::from_millis(100),
            request_timeout: Duration::from_secs(2),
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
        }
    }
}

enum Command {
    Sent(SentRecord),
    Delivery(DeliveryRecord),
    Flush(oneshot::Sender<()>),
}

/// Counters of a reporter.
#[derive(Debug, Default)]
pub struct ReporterStats {
    /// Records handed to the reporter.
    pub recorded: AtomicU64,
    /// Records the ledger acknowledged.
    pub acknowledged: AtomicU64,
    /// Batches the ledger acknowledged.
    pub batches: AtomicU64,
    /// Requests that had to be retried.
    pub retries: AtomicU64,
}

/// The reporter task has ended (its client is gone), so a flush cannot complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the reporter has stopped")]
pub struct ReporterStopped;

/// A handle to one reporter task; clones share it. The task ends, after sending what is
/// queued, when every handle is dropped.
#[derive(Clone, Debug)]
pub struct Reporter {
    tx: mpsc::UnboundedSender<Command>,
    stats: Arc<ReporterStats>,
    id: Arc<str>,
}

impl Reporter {
    /// Starts a reporter named `id` sending to `subject` on `client`.
    pub fn start(
        client: async_nats::Client,
        subject: String,
        id: String,
        options: ReporterOptions,
    ) -> (Reporter, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(ReporterStats::default());
        let task = tokio::spawn(run(client, subject, id.clone(), options, rx, stats.clone()));
        (
            Reporter {
                tx,
                stats,
                id: id.into(),
            },
            task,
        )
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn sent(&self, record: SentRecord) {
        self.stats.recorded.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Command::Sent(record));
    }

    pub fn delivery(&self, record: DeliveryRecord) {
        self.stats.recorded.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Command::Delivery(record));
    }

    /// Returns once everything recorded before the call is acknowledged by the ledger (it waits
    /// as long as that takes: bound it with a timeout).
    pub async fn flush(&self) -> Result<(), ReporterStopped> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Flush(done))
            .map_err(|_| ReporterStopped)?;
        wait.await.map_err(|_| ReporterStopped)
    }

    pub fn stats(&self) -> &ReporterStats {
        &self.stats
    }

    /// Records handed over and not yet acknowledged by the ledger.
    pub fn unacknowledged(&self) -> u64 {
        self.stats
            .recorded
            .load(Ordering::Relaxed)
            .saturating_sub(self.stats.acknowledged.load(Ordering::Relaxed))
    }
}

async fn run(
    client: async_nats::Client,
    subject: String,
    id: String,
    options: ReporterOptions,
    mut rx: mpsc::UnboundedReceiver<Command>,
    stats: Arc<ReporterStats>,
) {
    let mut batch = ReportBatch {
        reporter: id,
        ..ReportBatch::default()
    };
    let mut tick = tokio::time::interval(options.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let max_batch = options.max_batch.max(1);
    loop {
        let len = batch.sent.len() + batch.deliveries.len();
        let command = tokio::select! {
            command = rx.recv() => command,
            _ = tick.tick(), if len > 0 => {
                send(&client, &subject, &options, &mut batch, &stats).await;
                continue;
            }
        };
        match command {
            Some(Command::Sent(record)) => batch.sent.push(record),
            Some(Command::Delivery(record)) => batch.deliveries.push(record),
            Some(Command::Flush(done)) => {
                send(&client, &subject, &options, &mut batch, &stats).await;
                let _ = done.send(());
                continue;
            }
            None => {
                send(&client, &subject, &options, &mut batch, &stats).await;
                return;
            }
        }
        if batch.sent.len() + batch.deliveries.len() >= max_batch {
            send(&client, &subject, &options, &mut batch, &stats).await;
        }
    }
}

/// Sends the batch until acknowledged, then starts the next (empty) one.
async fn send(
    client: &async_nats::Client,
    subject: &str,
    options: &ReporterOptions,
    batch: &mut ReportBatch,
    stats: &ReporterStats,
) {
    let records = (batch.sent.len() + batch.deliveries.len()) as u64;
    if records == 0 {
        return;
    }
    let body = match serde_json::to_vec(&*batch) {
        Ok(body) => Bytes::from(body),
        Err(err) => {
            // Plain data always serializes; keep the records rather than lose them.
            warn!("cannot encode report batch {}: {err}", batch.batch);
            return;
        }
    };
    let mut backoff = options.backoff;
    loop {
        let answer = tokio::time::timeout(
            options.request_timeout,
            client.request(subject.to_owned(), body.clone()),
        )
        .await;
        match answer {
            Ok(Ok(reply)) => match serde_json::from_slice::<BatchAck>(&reply.payload) {
                Ok(ack) if ack.reporter == batch.reporter && ack.batch == batch.batch => break,
                other => debug!("unexpected ledger answer {other:?}; retrying"),
            },
            Ok(Err(err)) => debug!(
                "report batch {} not delivered: {err}; retrying",
                batch.batch
            ),
            Err(_) => debug!("report batch {} unanswered; retrying", batch.batch),
        }
        stats.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(options.max_backoff);
    }
    stats.acknowledged.fetch_add(records, Ordering::Relaxed);
    stats.batches.fetch_add(1, Ordering::Relaxed);
    batch.batch += 1;
    batch.sent.clear();
    batch.deliveries.clear();
}

/// Serves `subject`: every [`ReportBatch`] is ingested into `ledger`, then acknowledged with a
/// [`BatchAck`] (also when it was a retry of a batch already taken). Ends when the subscription
/// does.
pub async fn serve_ledger(
    client: &async_nats::Client,
    subject: &str,
    ledger: Arc<Mutex<Ledger>>,
) -> Result<JoinHandle<()>, async_nats::Error> {
    let mut requests = client.subscribe(subject.to_owned()).await?;
    client.flush().await?;
    let client = client.clone();
    Ok(tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let Some(reply) = request.reply else {
                continue;
            };
            let batch: ReportBatch = match serde_json::from_slice(&request.payload) {
                Ok(batch) => batch,
                Err(err) => {
                    warn!("ignoring a malformed report batch: {err}");
                    continue;
                }
            };
            let new = match ledger.lock() {
                Ok(mut ledger) => ledger.ingest(&batch),
                Err(poisoned) => poisoned.into_inner().ingest(&batch),
            };
            let ack = BatchAck {
                reporter: batch.reporter,
                batch: batch.batch,
                new,
            };
            if let Ok(body) = serde_json::to_vec(&ack) {
                let _ = client.publish(reply, Bytes::from(body)).await;
            }
        }
    }))
}
