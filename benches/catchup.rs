//! Rebalance catch-up: how fast the consumers of N workers, newly given P partitions, drain
//! a backlog already in a WorkQueue stream, acking every message (server-confirmed acks).
//! Two layouts: `WorkerConsumer` (one durable per worker, `filter_subjects` with one subject
//! per partition, Go's layout) and `PartitionConsumers` (one durable per partition, a single
//! `filter_subject`). Starts its own nats-server; prints msgs/s and seconds, median of runs.
//!
//! The clock starts when the new owners' `update` calls begin and stops when the stream is
//! empty. The per-partition durables exist before the clock starts (a partition's consumer
//! outlives its owners); the per-worker durables are created by the update, because only a
//! fresh consumer sees the backlog (an existing one skips it, see docs/protocol.md).
//!
//! `cargo bench --bench catchup`; sizes from the environment: `CATCHUP_PARTITIONS` (100),
//! `CATCHUP_MSGS` per partition (200), `CATCHUP_WORKERS` (10), `CATCHUP_RUNS` (3),
//! `CATCHUP_BATCH` messages per pull request (comma-separated list, default `1,100`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use parti_top::parti::consumer::naming::partition_durable;
use parti_top::parti::consumer::{
    ConsumerConfig, ConsumerUpdater, Filter, HandlerFuture, HandlerOutcome, MessageHandler,
    PartitionConsumers, WorkerConsumer,
};
use parti_top::parti::partition::Partition;
use parti_top::testkit::TestServer;

struct Counter(AtomicU64);

impl MessageHandler for Counter {
    fn handle(&self, _: &str, _: Option<&Partition>, _: jetstream::Message) -> HandlerFuture {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { HandlerOutcome::Ack })
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    WorkerMultiFilter,
    PerPartition,
}

async fn fill(js: &jetstream::Context, partitions: &[Partition], per_partition: usize) {
    let _ = js.delete_stream("WORK").await;
    js.create_stream(stream::Config {
        name: "WORK".into(),
        subjects: vec!["work.>".into()],
        retention: stream::RetentionPolicy::WorkQueue,
        ..Default::default()
    })
    .await
    .expect("stream");
    let mut inflight = FuturesUnordered::new();
    let body = bytes::Bytes::from(vec![b'x'; 128]);
    for _ in 0..per_partition {
        for partition in partitions {
            let ack = js
                .publish(format!("work.{}", partition.subject_key()), body.clone())
                .await
                .expect("publish");
            inflight.push(ack.into_future());
            if inflight.len() >= 256 {
                inflight.next().await.expect("some").expect("publish ack");
            }
        }
    }
    while let Some(ack) = inflight.next().await {
        ack.expect("publish ack");
    }
}

/// One catch-up: returns the time until the updates returned and until the stream was empty.
async fn run(
    server: &TestServer,
    js: &jetstream::Context,
    layout: Layout,
    partitions: &[Partition],
    workers: usize,
    batch: usize,
    run: usize,
) -> (Duration, Duration) {
    let total = js
        .get_stream("WORK")
        .await
        .expect("stream")
        .get_info()
        .await
        .expect("info")
        .state
        .messages;
    let counter = Arc::new(Counter(AtomicU64::new(0)));
    let prefix = format!("r{run}b{batch}");
    if layout == Layout::PerPartition {
        let config = ConsumerConfig::new("WORK", prefix.clone(), "work.{{.PartitionID}}");
        for partition in partitions {
            let subject = format!("work.{}", partition.subject_key());
            js.create_consumer_on_stream(
                config.pull_config(
                    &partition_durable(&prefix, partition),
                    Filter::Single(subject),
                ),
                "WORK",
            )
            .await
            .expect("partition durable");
        }
    }
    let mut updaters: Vec<(String, Arc<dyn ConsumerUpdater>, Vec<Partition>)> = Vec::new();
    for w in 0..workers {
        let client = server.client().await;
        let mut config = ConsumerConfig::new("WORK", prefix.clone(), "work.{{.PartitionID}}");
        config.batch_size = batch;
        let mine: Vec<Partition> = partitions
            .iter()
            .enumerate()
            .filter(|(i, _)| i % workers == w)
            .map(|(_, p)| p.clone())
            .collect();
        let updater: Arc<dyn ConsumerUpdater> = match layout {
            Layout::WorkerMultiFilter => Arc::new(
                WorkerConsumer::new(jetstream::new(client), config, counter.clone())
                    .expect("consumer"),
            ),
            Layout::PerPartition => Arc::new(
                PartitionConsumers::new(jetstream::new(client), config, counter.clone())
                    .expect("consumer"),
            ),
        };
        updaters.push((format!("w{w}"), updater, mine));
    }
    let started = Instant::now();
    futures::future::join_all(
        updaters
            .iter()
            .map(|(id, updater, mine)| updater.update(id, mine)),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .expect("updates");
    let updated = started.elapsed();
    while counter.0.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if started.elapsed() > Duration::from_secs(300) {
            panic!("{layout:?}: no full drain within 300 s");
        }
    }
    // Drained when every ack was taken: the WorkQueue stream is empty.
    let stream = js.get_stream("WORK").await.expect("stream");
    while stream.get_info().await.expect("info").state.messages > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    for (_, updater, _) in &updaters {
        updater.close().await.expect("close");
    }
    (updated, elapsed)
}

fn main() {
    let partitions_n = env("CATCHUP_PARTITIONS", 100);
    let per_partition = env("CATCHUP_MSGS", 200);
    let workers = env("CATCHUP_WORKERS", 10);
    let runs = env("CATCHUP_RUNS", 3);
    let batches: Vec<usize> = std::env::var("CATCHUP_BATCH")
        .unwrap_or_else(|_| "1,100".into())
        .split(',')
        .filter_map(|b| b.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = TestServer::start().await;
        let js = jetstream::new(server.client().await);
        let partitions: Vec<Partition> = (0..partitions_n)
            .map(|i| Partition::new([format!("p{i:03}")], 0))
            .collect();
        let total = partitions_n * per_partition;
        println!(
            "catch-up: {partitions_n} partitions x {per_partition} msgs = {total} msgs, {workers} workers, WorkQueue, server-confirmed acks, median of {runs}"
        );
        println!(
            "{:<34} {:>6} {:>12} {:>10} {:>10}",
            "layout", "batch", "msgs/s", "seconds", "update s"
        );
        for batch in &batches {
            for layout in [Layout::WorkerMultiFilter, Layout::PerPartition] {
                let mut times = Vec::new();
                let mut updates = Vec::new();
                for r in 0..runs {
                    fill(&js, &partitions, per_partition).await;
                    let (updated, drained) =
                        run(&server, &js, layout, &partitions, workers, *batch, r).await;
                    times.push(drained);
                    updates.push(updated);
                }
                times.sort();
                updates.sort();
                let median = times[times.len() / 2];
                let update_median = updates[updates.len() / 2];
                let name = match layout {
                    Layout::WorkerMultiFilter => "WorkerConsumer (filter_subjects)",
                    Layout::PerPartition => "PartitionConsumers (1 filter)",
                };
                println!(
                    "{name:<34} {batch:>6} {:>12.0} {:>10.2} {:>10.3}   runs: {:?}",
                    total as f64 / median.as_secs_f64(),
                    median.as_secs_f64(),
                    update_median.as_secs_f64(),
                    times.iter().map(|t| format!("{:.2}", t.as_secs_f64())).collect::<Vec<_>>()
                );
            }
        }
    });
}
