//! The load path end to end on a real nats-server: a producer publishing its rate plan, a plain
//! durable pull consumer handing every message to the `Processor`, and the ledger fed by the
//! lossless reporters. The ledger must account for every message: all acked when the consumer
//! acks everything, exactly the skipped delivery lost when one is skipped, nothing lost across a
//! nats-server restart.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, stream::RetentionPolicy};
use futures::StreamExt;
use parti_top::load::ledger::{Ledger, LedgerSummary};
use parti_top::load::message::{LoadMessage, MessageId};
use parti_top::load::process::{Fence, Processor, no_fence};
use parti_top::load::producer::{Producer, ProducerJob, ProducerStats};
use parti_top::load::report::{Reporter, ReporterOptions, ledger_subject, serve_ledger};
use parti_top::load::spec::{Delay, LoadSpec};
use parti_top::load::stream::{ensure_work_stream, stored_messages};
use parti_top::parti::partition::Partition;
use parti_top::testkit::{TestServer, wait_until};
use tokio_util::sync::CancellationToken;

const RUN: &str = "t1";

fn partitions(count: usize) -> Vec<Partition> {
    (0..count)
        .map(|i| Partition::new([format!("partition-{i}")], 100))
        .collect()
}

fn spec(rate_per_s: f64) -> LoadSpec {
    LoadSpec {
        rate_per_s,
        delay: Delay::Fixed(Duration::ZERO),
        ack_wait: Duration::from_secs(30),
        ..LoadSpec::default()
    }
}

fn reporter_options() -> ReporterOptions {
    ReporterOptions {
        interval: Duration::from_millis(50),
        request_timeout: Duration::from_millis(500),
        ..ReporterOptions::default()
    }
}

fn summary_of(ledger: &Mutex<Ledger>) -> LedgerSummary {
    ledger.lock().expect("ledger").summary()
}

/// A JetStream context whose publish and double-ack answers time out after 1 s, so retries
/// across a server restart start soon.
fn js(client: &async_nats::Client) -> jetstream::Context {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(Duration::from_secs(1));
    js
}

/// What the test consumer does with a message instead of processing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Skip {
    /// Process it (the processor acks and reports it).
    No,
    /// Receive it and do nothing: no ack, no report.
    Drop,
    /// Ack it without reporting, as a process killed before its report was flushed.
    AckUnreported,
}

/// Everything of one test: the server, the ledger service, the stream and consumer.
struct Rig {
    server: TestServer,
    ledger: Arc<Mutex<Ledger>>,
    spec: LoadSpec,
    partitions: Vec<Partition>,
}

impl Rig {
    async fn start(spec: LoadSpec, partition_count: usize) -> Rig {
        let server = TestServer::start().await;
        let control = server.client().await;
        let ledger = Arc::new(Mutex::new(Ledger::new()));
        let _service = serve_ledger(&control, &ledger_subject(RUN), ledger.clone())
            .await
            .expect("ledger service");
        // Keep the service's client alive with the rig.
        std::mem::forget(control);
        let setup = server.client().await;
        ensure_work_stream(
            &js(&setup),
            "WORK",
            vec![spec.stream_subjects()],
            1,
            RetentionPolicy::WorkQueue,
        )
        .await
        .expect("stream");
        js(&setup)
            .get_stream("WORK")
            .await
            .expect("get stream")
            .create_consumer(pull::Config {
                durable_name: Some("w0".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: spec.ack_wait,
                max_deliver: spec.max_deliver,
                ..Default::default()
            })
            .await
            .expect("consumer");
        Rig {
            server,
            ledger,
            spec,
            partitions: partitions(partition_count),
        }
    }

    /// Starts the producer; returns its stop token and its task.
    async fn producer(&self) -> (CancellationToken, tokio::task::JoinHandle<ProducerStats>) {
        let client = self.server.client().await;
        let (reporter, _task) = Reporter::start(
            client.clone(),
            ledger_subject(RUN),
            "producer-0-test".into(),
            reporter_options(),
        );
        let job = ProducerJob {
            run_id: RUN.into(),
            producer: 0,
            spec: self.spec.clone(),
            partitions: self.partitions.clone(),
        };
        let producer = Producer::new(js(&client), job, reporter.clone()).expect("producer");
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let stats = producer.run(token, Duration::from_secs(5)).await;
            tokio::time::timeout(Duration::from_secs(5), reporter.flush())
                .await
                .expect("producer reports flushed in time")
                .expect("reporter running");
            stats
        });
        (stop, task)
    }

    /// Starts a consumer that hands each message to the processor unless `skip` says otherwise;
    /// it flushes its reports when stopped.
    async fn consumer(
        &self,
        skip: impl Fn(&LoadMessage) -> Skip + Send + Sync + 'static,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        self.consumer_fenced(no_fence(), skip).await
    }

    /// [`Rig::consumer`] with an ownership fence (fenced messages are nak'd with a 50 ms delay).
    async fn consumer_fenced(
        &self,
        fence: Fence,
        skip: impl Fn(&LoadMessage) -> Skip + Send + Sync + 'static,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let client = self.server.client().await;
        let (reporter, _task) = Reporter::start(
            client.clone(),
            ledger_subject(RUN),
            "host-0-test".into(),
            reporter_options(),
        );
        let processor = Arc::new(
            Processor::new(
                self.spec.delay.clone(),
                7,
                self.partitions.clone(),
                fence,
                reporter.clone(),
            )
            .with_fence_nak_delay(Some(Duration::from_millis(50))),
        );
        let consumer: jetstream::consumer::PullConsumer = js(&client)
            .get_stream("WORK")
            .await
            .expect("stream")
            .get_consumer("w0")
            .await
            .expect("consumer");
        let stop = CancellationToken::new();
        let token = stop.clone();
        let skip = Arc::new(skip);
        let task = tokio::spawn(async move {
            let mut messages = consumer.messages().await.expect("messages");
            let mut work = futures::stream::FuturesUnordered::new();
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    Some(()) = work.next(), if !work.is_empty() => {}
                    message = messages.next() => match message {
                        Some(Ok(message)) => {
                            let how = LoadMessage::decode(&message.payload)
                                .map_or(Skip::No, |m| skip(&m));
                            match how {
                                Skip::No => {}
                                Skip::Drop => continue,
                                Skip::AckUnreported => {
                                    message.double_ack().await.expect("ack");
                                    continue;
                                }
                            }
                            let processor = processor.clone();
                            work.push(async move {
                                processor.process("w0", None, message).await;
                            });
                        }
                        Some(Err(_)) => {}
                        None => break,
                    },
                }
            }
            while work.next().await.is_some() {}
            tokio::time::timeout(Duration::from_secs(5), reporter.flush())
                .await
                .expect("consumer reports flushed in time")
                .expect("reporter running");
        });
        (stop, task)
    }

    async fn wait_sent(&self, at_least: u64, within: Duration) {
        let ledger = self.ledger.clone();
        assert!(
            wait_until(within, || {
                let ledger = ledger.clone();
                async move { summary_of(&ledger).sent >= at_least }
            })
            .await,
            "the ledger saw {} sent, expected at least {at_least}",
            summary_of(&self.ledger).sent
        );
    }

    /// The drain: waits until everything sent is acked, at most `within`, then ends it.
    async fn drain(&self, within: Duration) -> LedgerSummary {
        let ledger = self.ledger.clone();
        wait_until(within, || {
            let ledger = ledger.clone();
            async move { summary_of(&ledger).in_flight == 0 }
        })
        .await;
        let mut ledger = self.ledger.lock().expect("ledger");
        ledger.end_drain();
        ledger.summary()
    }
}

/// A reporter whose ledger is not there yet keeps its batches and retries them until one
/// answers: nothing recorded is lost, nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_wait_for_a_late_ledger_and_arrive_once() {
    use parti_top::load::record::SentRecord;
    let server = TestServer::start().await;
    let client = server.client().await;
    let (reporter, _task) = Reporter::start(
        client.clone(),
        ledger_subject("late"),
        "producer-late".into(),
        ReporterOptions {
            max_batch: 7,
            ..reporter_options()
        },
    );
    for seq in 1..=50 {
        reporter.sent(SentRecord {
            id: MessageId {
                producer: 0,
                partition: 0,
                seq,
            },
            sent_us: 1,
        });
    }
    // No responder yet: the batches are retried, not dropped.
    let retried = || {
        let reporter = reporter.clone();
        async move {
            reporter
                .stats()
                .retries
                .load(std::sync::atomic::Ordering::Relaxed)
                >= 2
        }
    };
    assert!(wait_until(Duration::from_secs(5), retried).await);
    assert_eq!(reporter.unacknowledged(), 50);
    let ledger = Arc::new(Mutex::new(Ledger::new()));
    let _service = serve_ledger(&client, &ledger_subject("late"), ledger.clone())
        .await
        .expect("ledger service");
    tokio::time::timeout(Duration::from_secs(5), reporter.flush())
        .await
        .expect("flushed once the ledger is there")
        .expect("reporter running");
    assert_eq!(reporter.unacknowledged(), 0);
    let summary = summary_of(&ledger);
    assert_eq!((summary.sent, summary.rejected), (50, 0));
    assert_eq!(ledger.lock().expect("ledger").unacked(100).len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_sent_is_acked_exactly_once() {
    let rig = Rig::start(spec(500.0), 20).await;
    let (stop_consumer, consumer) = rig.consumer(|_| Skip::No).await;
    let started = Instant::now();
    let (stop_producer, producer) = rig.producer().await;
    rig.wait_sent(1000, Duration::from_secs(5)).await;
    stop_producer.cancel();
    let stats = producer.await.expect("producer");
    let elapsed = started.elapsed().as_secs_f64();
    let summary = rig.drain(Duration::from_secs(5)).await;
    stop_consumer.cancel();
    consumer.await.expect("consumer");
    let summary_after = summary_of(&rig.ledger);

    assert_eq!(summary.sent, stats.sent, "every stream ack reported once");
    assert_eq!(stats.abandoned, 0);
    assert_eq!(summary.acked, summary.sent);
    assert_eq!((summary.lost, summary.duplicated), (0, 0));
    assert_eq!((summary.redelivered, summary.acked_unsent), (0, 0));
    assert_eq!(summary_after, summary, "nothing arrived after the drain");
    assert!(summary.latency_p99_us.is_some());
    // Paced at 500/s: about 500 × elapsed (the pacing neither drops nor bursts).
    let rate = stats.sent as f64 / elapsed;
    assert!(
        (350.0..=560.0).contains(&rate),
        "{} sent in {elapsed:.2}s",
        stats.sent
    );
    // The per-second series adds up to the totals.
    let series = rig.ledger.lock().expect("ledger").series();
    assert_eq!(series.iter().map(|p| p.sent).sum::<u64>(), summary.sent);
    assert_eq!(series.iter().map(|p| p.acked).sum::<u64>(), summary.acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_never_acked_is_exactly_the_loss() {
    let rig = Rig::start(spec(500.0), 20).await;
    // Partition 3's fifth message is received and dropped: no ack, no report. With a 30 s ack
    // wait it is not redelivered before the drain's cut. Partition 4's fifth is acked but its
    // report is lost, as when its process is killed before flushing.
    let (stop_consumer, consumer) = rig
        .consumer(|m| match (m.id.partition, m.id.seq) {
            (3, 5) => Skip::Drop,
            (4, 5) => Skip::AckUnreported,
            _ => Skip::No,
        })
        .await;
    let (stop_producer, producer) = rig.producer().await;
    rig.wait_sent(400, Duration::from_secs(5)).await;
    stop_producer.cancel();
    let stats = producer.await.expect("producer");
    let summary = rig.drain(Duration::from_secs(2)).await;
    let ledger_js = js(&rig.server.client().await);
    let stored = stored_messages(&ledger_js, "WORK", &rig.spec.stream_subjects(), 10_000)
        .await
        .expect("stored messages");
    stop_consumer.cancel();
    consumer.await.expect("consumer");

    let dropped = MessageId {
        producer: 0,
        partition: 3,
        seq: 5,
    };
    let unreported = MessageId {
        partition: 4,
        ..dropped
    };
    assert_eq!(summary.sent, stats.sent);
    assert_eq!(summary.lost, 2, "{summary:?}");
    assert_eq!(summary.acked, summary.sent - 2);
    assert_eq!((summary.in_flight, summary.duplicated), (0, 0));
    assert_eq!(
        stored,
        HashSet::from([dropped]),
        "the stream holds exactly the unacked message"
    );
    let mut ledger = rig.ledger.lock().expect("ledger");
    assert_eq!(ledger.unacked(10), vec![dropped, unreported]);
    ledger.end_drain_with_stored(&stored);
    let reconciled = ledger.summary();
    assert_eq!((reconciled.lost, reconciled.ack_unreported), (1, 1));
    assert_eq!(ledger.first_ack(dropped), None);
    let neighbour = MessageId { seq: 6, ..dropped };
    assert!(ledger.first_ack(neighbour).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_message_is_nakd_redelivered_and_acked_once() {
    let rig = Rig::start(spec(300.0), 10).await;
    // Partition 2 is not ours until the ledger has seen three fenced naks.
    let owned = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fence: Fence = {
        let owned = owned.clone();
        Arc::new(move |p: &Partition| {
            p.keys != ["partition-2"] || owned.load(std::sync::atomic::Ordering::SeqCst)
        })
    };
    let (stop_consumer, consumer) = rig.consumer_fenced(fence, |_| Skip::No).await;
    let (stop_producer, producer) = rig.producer().await;
    let ledger = rig.ledger.clone();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let ledger = ledger.clone();
            async move { summary_of(&ledger).nak_by_fence >= 3 }
        })
        .await,
        "fenced naks reported"
    );
    owned.store(true, std::sync::atomic::Ordering::SeqCst);
    rig.wait_sent(300, Duration::from_secs(5)).await;
    stop_producer.cancel();
    let stats = producer.await.expect("producer");
    let summary = rig.drain(Duration::from_secs(5)).await;
    stop_consumer.cancel();
    consumer.await.expect("consumer");

    assert_eq!(summary.sent, stats.sent);
    assert_eq!((summary.lost, summary.duplicated), (0, 0), "{summary:?}");
    assert_eq!(summary.acked, summary.sent);
    assert!(summary.nak_by_fence >= 3, "{summary:?}");
    assert!(
        summary.redelivered >= summary.nak_by_fence.min(3),
        "a nak'd message comes back as a redelivery, not a duplicate: {summary:?}"
    );
    assert!(summary.deliveries > summary.acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_restart_mid_run_loses_nothing() {
    let mut rig = Rig::start(spec(500.0), 20).await;
    let (stop_consumer, consumer) = rig.consumer(|_| Skip::No).await;
    let (stop_producer, producer) = rig.producer().await;
    rig.wait_sent(300, Duration::from_secs(5)).await;
    rig.server.server().restart().await.expect("restart");
    let before = summary_of(&rig.ledger).sent;
    rig.wait_sent(before + 300, Duration::from_secs(8)).await;
    stop_producer.cancel();
    let stats = producer.await.expect("producer");
    rig.drain(Duration::from_secs(8)).await;
    // As a run's drain does: an ack sent as the server went down may have landed without its
    // reply (the ledger saw it fail); the stream no longer holding the message tells.
    let ledger_js = js(&rig.server.client().await);
    let stored = stored_messages(&ledger_js, "WORK", &rig.spec.stream_subjects(), 10_000)
        .await
        .expect("stored messages");
    let summary = {
        let mut ledger = rig.ledger.lock().expect("ledger");
        ledger.end_drain_with_stored(&stored);
        ledger.summary()
    };
    stop_consumer.cancel();
    consumer.await.expect("consumer");

    assert_eq!(summary.sent, stats.sent, "{summary:?} {stats:?}");
    assert_eq!(stats.abandoned, 0);
    assert!(
        stats.retries > 0,
        "the restart interrupted publishing: {stats:?}"
    );
    assert_eq!(summary.lost, 0, "{summary:?} {stats:?}");
    assert!(
        summary.ack_unreported <= summary.ack_failed,
        "only a failed ack may have landed unseen: {summary:?}"
    );
    assert_eq!(summary.acked + summary.ack_unreported, summary.sent);
    assert_eq!(summary.duplicated, 0, "{summary:?}");
    assert_eq!(summary.acked_unsent, 0);
    eprintln!("across the restart: {summary:?}, producer {stats:?}");
}

/// The producer process: by hand with the job in the environment and the credentials from
/// NATS_USER/NATS_PASSWORD, it publishes until SIGTERM, then finishes and flushes its reports,
/// so the ledger's "sent" is exactly what the stream stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_process_reports_exactly_what_the_stream_stored_before_it_exits() {
    let server = TestServer::start().await;
    let control = server.client().await;
    let ledger = Arc::new(Mutex::new(Ledger::new()));
    let _service = serve_ledger(&control, &ledger_subject("p1"), ledger.clone())
        .await
        .expect("ledger service");
    let job = ProducerJob {
        run_id: "p1".into(),
        producer: 0,
        spec: spec(300.0),
        partitions: partitions(5),
    };
    let auth = server.auth();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_parti-top"))
        .args(["producer", "--ensure-stream", "WORK"])
        .env("NATS_URL", server.url())
        .env("NATS_USER", auth.user.clone().expect("user"))
        .env("NATS_PASSWORD", auth.password.clone().expect("password"))
        .env(
            "PARTI_TOP_LOAD_JOB",
            serde_json::to_string(&job).expect("json"),
        )
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn producer");
    let sent = || {
        let ledger = ledger.clone();
        async move { summary_of(&ledger).sent >= 100 }
    };
    assert!(wait_until(Duration::from_secs(8), sent).await, "no reports");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().expect("pid")).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the producer exits after SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    let stored = js(&control)
        .get_stream("WORK")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .state
        .messages;
    let summary = summary_of(&ledger);
    assert_eq!(summary.sent, stored, "reported before exit == stored");
    assert_eq!(summary.rejected, 0);
    assert!(stored >= 100, "published until the signal, {stored} stored");
}

/// Raw JetStream throughput of the producer and of a plain consumer using the `Processor`
/// (confirmed acks), no parti: a figure for docs/load.md, not a check. Run with
/// `cargo test --release --test load measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run by hand in release mode"]
async fn measure_raw_throughput() {
    let window = Duration::from_secs(3);
    let fast = LoadSpec {
        rate_per_s: 1_000_000.0,
        window: 256,
        ..spec(1.0)
    };
    // Publish only.
    let rig = Rig::start(fast.clone(), 1000).await;
    let started = Instant::now();
    let (stop, producer) = rig.producer().await;
    tokio::time::sleep(window).await;
    stop.cancel();
    let stats = producer.await.expect("producer");
    let publish_only = stats.sent as f64 / started.elapsed().as_secs_f64();
    // Publish and consume at once.
    let rig = Rig::start(fast, 1000).await;
    let (stop_consumer, consumer) = rig.consumer(|_| Skip::No).await;
    let started = Instant::now();
    let (stop, producer) = rig.producer().await;
    tokio::time::sleep(window).await;
    let acked_in_window = summary_of(&rig.ledger).acked;
    stop.cancel();
    let stats = producer.await.expect("producer");
    let elapsed = started.elapsed().as_secs_f64();
    let summary = rig.drain(Duration::from_secs(60)).await;
    stop_consumer.cancel();
    consumer.await.expect("consumer");
    eprintln!(
        "publish only: {publish_only:.0} msg/s (window 256, 128-byte payloads, 1000 subjects)\n\
         publish + consume: {:.0} msg/s published, {:.0} msg/s acked (double_ack) within the \
         window (reported to the ledger at {:.1} s); after the drain {summary:?}",
        stats.sent as f64 / elapsed,
        acked_in_window as f64 / window.as_secs_f64(),
        window.as_secs_f64(),
    );
    assert_eq!(summary.lost, 0);
}

/// Under a controller: the bootstrap (with the credentials) and the job come on stdin, and the
/// producer leaves — after flushing its reports — when its stdin closes (the controller gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controlled_producer_takes_its_job_on_stdin_and_leaves_when_stdin_closes() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let control = server.client().await;
    let ledger = Arc::new(Mutex::new(Ledger::new()));
    let _service = serve_ledger(&control, &ledger_subject("c1"), ledger.clone())
        .await
        .expect("ledger service");
    ensure_work_stream(
        &js(&control),
        "WORK",
        vec![spec(1.0).stream_subjects()],
        1,
        RetentionPolicy::WorkQueue,
    )
    .await
    .expect("stream");
    let auth = server.auth();
    let bootstrap = parti_top::control::Bootstrap {
        run_id: "c1".into(),
        host: 1,
        server_url: server.url().to_owned(),
        worker_url: None,
        user: auth.user.clone(),
        password: auth.password.clone(),
        controller_pid: std::process::id(),
    };
    // The job names another run and producer: the bootstrap's win.
    let job = ProducerJob {
        run_id: "other".into(),
        producer: 0,
        spec: LoadSpec {
            producers: 2,
            ..spec(400.0)
        },
        partitions: partitions(6),
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_parti-top"))
        .args(["producer", "--controlled"])
        .env_remove("NATS_URL")
        .env_remove("NATS_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn producer");
    let mut stdin = child.stdin.take().expect("stdin");
    let lines = format!(
        "{}\n{}\n",
        serde_json::to_string(&bootstrap).expect("json"),
        serde_json::to_string(&job).expect("json")
    );
    stdin.write_all(lines.as_bytes()).await.expect("write");
    stdin.flush().await.expect("flush");
    let sent = || {
        let ledger = ledger.clone();
        async move { summary_of(&ledger).sent >= 100 }
    };
    assert!(wait_until(Duration::from_secs(8), sent).await, "no reports");
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the producer exits when stdin closes")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    let stored = js(&control)
        .get_stream("WORK")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .state
        .messages;
    let ledger = ledger.lock().expect("ledger");
    assert_eq!(ledger.summary().sent, stored);
    // Producer 1 of 2 published only its own half of the plan.
    let plan = parti_top::load::plan::plan(&job.spec, &job.partitions).expect("plan");
    let mine: Vec<u32> = plan.producers[1].partitions.clone();
    for partition in 0..6u32 {
        let id = MessageId {
            producer: 1,
            partition,
            seq: 1,
        };
        assert_eq!(
            ledger.fate(id).is_some(),
            mine.contains(&partition),
            "partition {partition}"
        );
    }
}
