//! The consumers of `parti::consumer` against a real nats-server: the Go-compatible
//! `WorkerConsumer` (durable name, sorted filters, no-op updates, the idle filter for an
//! empty list, delivery and acks, the WorkQueue overlap during a rebalance), the
//! per-partition `PartitionConsumers` (a partition moving between workers with a backlog is
//! processed exactly once), the worker hook (a killed worker stops pulling), and the server
//! behaviour both layouts rest on (what a filter update does to a consumer's cursor, and to
//! messages delivered but not acked).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{
    self, consumer::AckPolicy, consumer::PullConsumer, consumer::pull, stream,
};
use futures::StreamExt;
use parti_top::parti::consumer::{
    ConsumerConfig, ConsumerError, ConsumerUpdater, HandlerFuture, HandlerOutcome, MessageHandler,
    PartitionConsumers, WorkerConsumer,
};
use parti_top::parti::partition::Partition;
use parti_top::testkit::{TestServer, wait_until};

const DEADLINE: Duration = Duration::from_secs(8);

fn p(key: &str) -> Partition {
    Partition::new([key], 0)
}

/// One handled message.
#[derive(Clone, Debug)]
struct Seen {
    worker: String,
    partition: Option<String>,
    subject: String,
    seq: u64,
    acked: bool,
}

/// Records every message. Acks it, unless `hold_after` messages were acked already: from
/// then on it keeps messages without settling them (a worker that received but never acked).
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    hold_after: Option<usize>,
}

impl Recorder {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            hold_after: None,
        })
    }

    fn holding_after(acks: usize) -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            hold_after: Some(acks),
        })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    fn acked(&self) -> usize {
        self.seen().iter().filter(|s| s.acked).count()
    }
}

impl MessageHandler for Recorder {
    fn handle(
        &self,
        worker_id: &str,
        partition: Option<&Partition>,
        msg: jetstream::Message,
    ) -> HandlerFuture {
        let mut seen = self.seen.lock().expect("lock");
        let acks = seen.iter().filter(|s| s.acked).count();
        let ack = self.hold_after.is_none_or(|limit| acks < limit);
        seen.push(Seen {
            worker: worker_id.to_owned(),
            partition: partition.map(Partition::subject_key),
            subject: msg.subject.to_string(),
            seq: msg.info().map(|i| i.stream_sequence).unwrap_or(0),
            acked: ack,
        });
        Box::pin(async move {
            if ack {
                HandlerOutcome::Ack
            } else {
                HandlerOutcome::Handled
            }
        })
    }
}

async fn setup(retention: stream::RetentionPolicy) -> (TestServer, jetstream::Context) {
    let server = TestServer::start().await;
    let js = jetstream::new(server.client().await);
    js.create_stream(stream::Config {
        name: "WORK".into(),
        subjects: vec!["work.>".into()],
        retention,
        ..Default::default()
    })
    .await
    .expect("stream");
    (server, js)
}

async fn publish(js: &jetstream::Context, subject: &str, count: usize) {
    for i in 0..count {
        js.publish(subject.to_owned(), format!("{subject}#{i}").into())
            .await
            .expect("publish")
            .await
            .expect("publish ack");
    }
}

fn config(prefix: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new("WORK", prefix, "work.{{.PartitionID}}");
    config.fetch_timeout = Duration::from_millis(500);
    config.retry_max = Duration::from_millis(300);
    config
}

async fn info(js: &jetstream::Context, durable: &str) -> jetstream::consumer::Info {
    js.get_stream("WORK")
        .await
        .expect("stream")
        .consumer_info(durable)
        .await
        .expect("consumer info")
}

async fn stream_messages(js: &jetstream::Context) -> u64 {
    js.get_stream("WORK")
        .await
        .expect("stream")
        .get_info()
        .await
        .expect("stream info")
        .state
        .messages
}

#[tokio::test]
async fn worker_consumer_names_filters_noops_and_empty_lists_like_go_minus_the_whole_stream_bug() {
    let (_server, js) = setup(stream::RetentionPolicy::Limits).await;
    let handler = Recorder::new();
    let wc = WorkerConsumer::new(js.clone(), config("wc"), handler.clone()).expect("consumer");

    wc.update("worker.1", &[p("b"), p("a"), p("b")])
        .await
        .expect("first update");
    let durable = "wc-worker_1";
    assert_eq!(wc.durable_for("worker.1"), durable);
    let first = info(&js, durable).await;
    assert_eq!(first.name, durable);
    assert_eq!(first.config.durable_name.as_deref(), Some(durable));
    assert_eq!(first.config.filter_subjects, vec!["work.a", "work.b"]);
    assert_eq!(first.config.ack_policy, AckPolicy::Explicit);
    assert_eq!(first.config.ack_wait, Duration::from_secs(30));
    assert_eq!(first.config.max_deliver, 3);
    assert_eq!(first.config.max_waiting, 512);
    assert!(wc.is_pulling());

    // Same list, other order: a no-op, nothing sent to the server.
    wc.update("worker.1", &[p("a"), p("b")])
        .await
        .expect("same");
    assert_eq!(wc.stats().updates_applied, 1);
    assert_eq!(wc.stats().updates_noop, 1);
    assert_eq!(info(&js, durable).await.config, first.config);

    wc.update("worker.1", &[p("c"), p("a")])
        .await
        .expect("changed");
    assert_eq!(
        info(&js, durable).await.config.filter_subjects,
        vec!["work.a", "work.c"]
    );
    assert_eq!(wc.stats().updates_applied, 2);

    // A different worker ID is refused (AllowWorkerIDChange is off by default).
    assert!(matches!(
        wc.update("worker.2", &[p("a")]).await,
        Err(ConsumerError::WorkerIdChanged { .. })
    ));

    // Empty list: the idle filter, never an unfiltered consumer of the whole stream.
    wc.update("worker.1", &[]).await.expect("empty");
    let idle = info(&js, durable).await;
    assert_eq!(
        idle.config.filter_subjects,
        vec![wc.idle_filter("worker.1")]
    );
    let delivered = idle.delivered.stream_sequence;
    publish(&js, "work.a", 3).await;
    publish(&js, "work.z", 3).await;
    let after = info(&js, durable).await;
    assert_eq!(after.num_pending, 0, "nothing in the stream matches");
    assert_eq!(after.delivered.stream_sequence, delivered);
    assert_eq!(handler.count(), 0);
    assert!(wc.is_pulling(), "the single pull loop keeps running");

    wc.close().await.expect("close");
    assert!(!wc.is_pulling());
    // Close never deletes the durable.
    info(&js, durable).await;
}

#[tokio::test]
async fn worker_consumer_delivers_owned_partitions_and_acks_them() {
    let (_server, js) = setup(stream::RetentionPolicy::WorkQueue).await;
    let handler = Recorder::new();
    let wc = WorkerConsumer::new(js.clone(), config("wc"), handler.clone()).expect("consumer");
    wc.update("w1", &[p("a"), p("b")]).await.expect("update");
    publish(&js, "work.a", 5).await;
    publish(&js, "work.b", 5).await;
    publish(&js, "work.c", 3).await;

    assert!(wait_until(DEADLINE, || async { handler.count() >= 10 }).await);
    // Every ack was confirmed by the server, so the stream keeps only the unowned subject.
    assert!(wait_until(DEADLINE, || async { stream_messages(&js).await == 3 }).await);
    let consumer = info(&js, "wc-w1").await;
    assert_eq!(consumer.num_ack_pending, 0);
    assert_eq!(consumer.ack_floor.consumer_sequence, 10);
    let seen = handler.seen();
    assert_eq!(seen.len(), 10, "work.c is not owned: {seen:?}");
    for s in &seen {
        assert_eq!(s.worker, "w1");
        assert_eq!(
            Some(s.subject.clone()),
            s.partition.as_ref().map(|k| format!("work.{k}")),
            "the handler is told the owned partition of the subject"
        );
    }
    assert_eq!(wc.stats().ack_errors, 0);
    wc.close().await.expect("close");
}

#[tokio::test]
async fn worker_consumer_update_waits_out_a_workqueue_overlap_until_the_old_owner_lets_go() {
    let (_server, js) = setup(stream::RetentionPolicy::WorkQueue).await;
    let a = WorkerConsumer::new(js.clone(), config("wc"), Recorder::new()).expect("a");
    let b = Arc::new(WorkerConsumer::new(js.clone(), config("wc"), Recorder::new()).expect("b"));
    a.update("A", &[p("x"), p("y")])
        .await
        .expect("a owns x and y");

    // Go gives up after MaxControlRetries + 1 attempts.
    let mut go_like = config("go");
    go_like.retry_until_applied = false;
    let go = WorkerConsumer::new(js.clone(), go_like, Recorder::new()).expect("go");
    let refused = go.update("G", &[p("y")]).await;
    assert!(
        matches!(&refused, Err(ConsumerError::Server(m)) if m.contains("10100")),
        "{refused:?}"
    );
    assert_eq!(go.stats().update_retries, 3);

    // Ours keeps trying until the old owner drops the subject.
    let task = {
        let b = b.clone();
        tokio::spawn(async move { b.update("B", &[p("y")]).await })
    };
    assert!(wait_until(DEADLINE, || async { b.stats().update_retries >= 4 }).await);
    assert!(!task.is_finished());
    a.update("A", &[p("x")]).await.expect("a lets y go");
    let applied = tokio::time::timeout(DEADLINE, task)
        .await
        .expect("b's update ends")
        .expect("task");
    assert_eq!(applied, Ok(()));
    assert_eq!(
        info(&js, "wc-B").await.config.filter_subjects,
        vec!["work.y"]
    );
    a.close().await.expect("close");
    b.close().await.expect("close");
}

#[tokio::test]
async fn partition_consumers_move_a_backlog_between_workers_exactly_once() {
    let (_server, js) = setup(stream::RetentionPolicy::Limits).await;
    let partitions: Vec<Partition> = (0..4).map(|i| p(&format!("p{i}"))).collect();
    for partition in &partitions {
        publish(&js, &format!("work.{}", partition.subject_key()), 20).await;
    }
    let total = 80;
    let mut cfg = config("pc");
    cfg.ack_wait = Duration::from_secs(1);
    cfg.max_ack_pending = 2;

    // Worker A acks six messages, then keeps what it receives without acking it.
    let a_handler = Recorder::holding_after(6);
    let a = PartitionConsumers::new(js.clone(), cfg.clone(), a_handler.clone()).expect("a");
    a.update("A", &partitions).await.expect("a");
    assert_eq!(a.pulling().len(), 4);
    assert_eq!(info(&js, "pc-p-p0").await.config.filter_subject, "work.p0");
    assert!(
        wait_until(DEADLINE, || async {
            a_handler.acked() == 6 && a_handler.count() >= 8
        })
        .await
    );

    // The partitions move to B while most of the backlog is still there.
    let b_handler = Recorder::new();
    let b = PartitionConsumers::new(js.clone(), cfg, b_handler.clone()).expect("b");
    a.update("A", &[]).await.expect("a gives all away");
    assert!(a.pulling().is_empty());
    b.update("B", &partitions).await.expect("b takes all");

    assert!(
        wait_until(DEADLINE, || async {
            a_handler.acked() + b_handler.acked() >= total
        })
        .await,
        "acked {} + {}",
        a_handler.acked(),
        b_handler.acked()
    );
    let mut acks_per_seq: BTreeMap<u64, usize> = BTreeMap::new();
    for s in a_handler
        .seen()
        .iter()
        .chain(b_handler.seen().iter())
        .filter(|s| s.acked)
    {
        *acks_per_seq.entry(s.seq).or_default() += 1;
    }
    assert_eq!(acks_per_seq.len(), total, "every message acked");
    assert!(acks_per_seq.values().all(|n| *n == 1), "{acks_per_seq:?}");
    let held: Vec<u64> = a_handler
        .seen()
        .iter()
        .filter(|s| !s.acked)
        .map(|s| s.seq)
        .collect();
    assert!(!held.is_empty());
    let b_seqs: Vec<u64> = b_handler.seen().iter().map(|s| s.seq).collect();
    assert!(
        held.iter().all(|seq| b_seqs.contains(seq)),
        "B got what A never acked"
    );
    for partition in &partitions {
        let name = format!("pc-p-{}", partition.subject_key());
        assert!(
            wait_until(DEADLINE, || async {
                info(&js, &name).await.num_ack_pending == 0
            })
            .await
        );
    }
    b.close().await.expect("close");
}

#[tokio::test]
async fn a_killed_worker_stops_pulling_a_stopped_one_closes() {
    use parti_top::parti::config::{Config, Timing};
    use parti_top::parti::nats_kv::NatsStore;
    use parti_top::parti::source::StaticSource;
    use parti_top::parti::state::State;
    use parti_top::parti::strategy::StrategyConfig;
    use parti_top::parti::worker::{Worker, WorkerSpec};

    let (server, js) = setup(stream::RetentionPolicy::Limits).await;
    let partitions: Vec<Partition> = (0..3).map(|i| p(&format!("k{i}"))).collect();
    let spec = |consumer: Arc<dyn ConsumerUpdater>| WorkerSpec {
        config: Config::with_timing(Timing::fast()),
        source: Arc::new(StaticSource::new(partitions.clone())),
        strategy: StrategyConfig::default().build(),
        consumer: Some(consumer),
    };
    for kill in [true, false] {
        let handler = Recorder::new();
        let consumers = Arc::new(
            PartitionConsumers::new(js.clone(), config(&format!("k{kill}")), handler.clone())
                .expect("consumers"),
        );
        let (events, mut sink) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move { while sink.recv().await.is_some() {} });
        let worker = Worker::spawn(
            Arc::new(NatsStore::new(server.client().await)),
            spec(consumers.clone()),
            events,
        );
        assert!(
            worker
                .wait_state(State::Stable, Duration::from_secs(15))
                .await
        );
        assert!(wait_until(DEADLINE, || async { consumers.pulling().len() == 3 }).await);
        let before = handler.count();
        publish(&js, "work.k1", 2).await;
        assert!(wait_until(DEADLINE, || async { handler.count() >= before + 2 }).await);
        if kill {
            worker.kill();
        } else {
            worker.stop().await.expect("graceful stop");
            assert!(consumers.pulling().is_empty(), "stop closes the consumer");
        }
        assert!(
            wait_until(DEADLINE, || async { consumers.pulling().is_empty() }).await,
            "kill={kill}: no pull loop outlives the worker"
        );
        // Nothing pulls any more: a new message stays pending on the server.
        publish(&js, "work.k2", 1).await;
        let name = format!("k{kill}-p-k2");
        assert!(
            wait_until(DEADLINE, || async {
                let info = info(&js, &name).await;
                info.num_pending == 1 && info.num_waiting == 0
            })
            .await,
            "kill={kill}: nobody pulls any more"
        );
        // The durables survive the worker.
        assert_eq!(info(&js, &name).await.num_ack_pending, 0);
    }
}

/// Fetch what is there now (up to 100), acking each message when `ack` is set.
async fn fetch_now(consumer: &PullConsumer, ack: bool) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut batch = consumer
        .fetch()
        .max_messages(100)
        .expires(Duration::from_millis(300))
        .messages()
        .await
        .expect("fetch");
    while let Some(message) = batch.next().await {
        let message = message.expect("message");
        out.push((
            message.subject.to_string(),
            message.info().expect("info").stream_sequence,
        ));
        if ack {
            message.double_ack().await.expect("ack");
        }
    }
    out
}

fn durable(name: &str, filters: &[&str]) -> pull::Config {
    pull::Config {
        name: Some(name.into()),
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        filter_subjects: filters.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// nats-server 2.15: adding a subject to an existing consumer's `filter_subjects` does not
/// rewind its cursor. Messages on the added subject with a lower stream sequence than the
/// consumer already delivered are never delivered to it; on a WorkQueue stream they stay in
/// the stream with no consumer to take them. This is how the per-worker layout (Go's) loses
/// a partition's backlog when the partition moves to a worker whose consumer is ahead.
#[tokio::test]
async fn server_adding_a_filter_subject_skips_older_messages_on_it() {
    for retention in [
        stream::RetentionPolicy::Limits,
        stream::RetentionPolicy::WorkQueue,
    ] {
        let (_server, js) = setup(retention).await;
        let st = js.get_stream("WORK").await.expect("stream");
        publish(&js, "work.b", 3).await; // seq 1..3: the backlog of the partition that moves
        publish(&js, "work.a", 3).await; // seq 4..6
        let before: PullConsumer = st
            .create_consumer(durable("c", &["work.a"]))
            .await
            .expect("c");
        assert_eq!(fetch_now(&before, true).await.len(), 3);

        let after: PullConsumer = st
            .create_consumer(durable("c", &["work.a", "work.b"]))
            .await
            .expect("update");
        let info = st.consumer_info("c").await.expect("info");
        assert_eq!(info.config.filter_subjects, vec!["work.a", "work.b"]);
        assert_eq!(
            info.num_pending, 0,
            "{retention:?}: the older work.b messages are not pending"
        );
        publish(&js, "work.b", 1).await; // seq 7
        assert_eq!(
            fetch_now(&after, true).await,
            vec![("work.b".to_owned(), 7)],
            "{retention:?}: only messages after the cursor arrive"
        );
        if retention == stream::RetentionPolicy::WorkQueue {
            assert_eq!(
                stream_messages(&js).await,
                3,
                "the skipped backlog is stranded"
            );
        }
    }
}

/// nats-server 2.15, WorkQueue stream: when a consumer's filter drops a subject while it holds
/// delivered-but-unacked messages on it, a consumer that then takes the subject receives
/// those messages at once (no ack wait): both hold them. The old holder's late ack is
/// answered with success but does not remove the message, which the new holder gets again
/// after its own ack wait. Processing is duplicated, not lost.
#[tokio::test]
async fn server_workqueue_unacked_messages_follow_the_subject_not_the_consumer() {
    let (_server, js) = setup(stream::RetentionPolicy::WorkQueue).await;
    let st = js.get_stream("WORK").await.expect("stream");
    publish(&js, "work.a", 3).await;
    let a: PullConsumer = st
        .create_consumer(durable("A", &["work.a", "work.c"]))
        .await
        .expect("A");
    let mut held = Vec::new();
    let mut batch = a
        .fetch()
        .max_messages(3)
        .expires(Duration::from_millis(300))
        .messages()
        .await
        .expect("fetch");
    while let Some(message) = batch.next().await {
        held.push(message.expect("message"));
    }
    assert_eq!(held.len(), 3);

    let overlap = st
        .create_consumer::<pull::Config>(durable("B", &["work.a"]))
        .await;
    assert!(
        overlap
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("10100")),
        "overlapping filters are refused while A holds work.a"
    );
    let _: PullConsumer = st
        .create_consumer(durable("A", &["work.c"]))
        .await
        .expect("A drops a");
    assert_eq!(st.consumer_info("A").await.expect("A").num_ack_pending, 3);
    let b: PullConsumer = st
        .create_consumer(durable("B", &["work.a"]))
        .await
        .expect("B");
    assert_eq!(
        fetch_now(&b, false).await,
        vec![
            ("work.a".to_owned(), 1),
            ("work.a".to_owned(), 2),
            ("work.a".to_owned(), 3)
        ],
        "B receives A's unacked messages immediately"
    );
    held[0]
        .double_ack()
        .await
        .expect("the late ack is answered");
    assert_eq!(stream_messages(&js).await, 3, "but removes nothing");
}

/// Through `WorkerConsumer` itself, on a WorkQueue stream: a partition with a backlog is added
/// to a worker whose consumer has already delivered past the backlog's sequences. With Go's
/// behaviour the backlog is never delivered and stays stranded in the stream; with
/// `rewind_on_added_subjects` the cursor moves back and the backlog is delivered once.
#[tokio::test]
async fn worker_consumer_strands_an_added_backlog_unless_it_rewinds() {
    for rewind in [false, true] {
        let (_server, js) = setup(stream::RetentionPolicy::WorkQueue).await;
        publish(&js, "work.b", 3).await; // seq 1..3: the backlog of partition b
        let handler = Recorder::new();
        let mut cfg = config("wc");
        cfg.rewind_on_added_subjects = rewind;
        let wc = WorkerConsumer::new(js.clone(), cfg, handler.clone()).expect("consumer");
        wc.update("B", &[p("a")]).await.expect("owns a");
        publish(&js, "work.a", 2).await; // seq 4..5
        assert!(wait_until(DEADLINE, || async { handler.acked() == 2 }).await);

        wc.update("B", &[p("a"), p("b")]).await.expect("gains b");
        publish(&js, "work.a", 1).await; // seq 6: delivered after anything older
        assert!(
            wait_until(DEADLINE, || async {
                handler.seen().iter().any(|s| s.seq == 6 && s.acked)
            })
            .await
        );
        let backlog: Vec<u64> = handler
            .seen()
            .iter()
            .filter(|s| s.subject == "work.b")
            .map(|s| s.seq)
            .collect();
        if rewind {
            assert!(wait_until(DEADLINE, || async { stream_messages(&js).await == 0 }).await);
            let backlog: Vec<u64> = handler
                .seen()
                .iter()
                .filter(|s| s.subject == "work.b")
                .map(|s| s.seq)
                .collect();
            assert_eq!(backlog, vec![1, 2, 3]);
            assert_eq!(wc.stats().rewinds, 1);
        } else {
            assert!(backlog.is_empty(), "{backlog:?}");
            assert_eq!(info(&js, "wc-B").await.num_pending, 0);
            assert_eq!(stream_messages(&js).await, 3, "the backlog is stranded");
        }
        wc.close().await.expect("close");
    }
}

/// A restarted worker may reuse the updater of its spec: after `abort` (or `close`) an
/// update starts again, even under another worker ID.
#[tokio::test]
async fn updaters_can_be_reused_after_abort_and_close() {
    let (_server, js) = setup(stream::RetentionPolicy::Limits).await;
    let handler = Recorder::new();
    let wc = WorkerConsumer::new(js.clone(), config("wc"), handler.clone()).expect("wc");
    let pc = PartitionConsumers::new(js.clone(), config("pc"), handler.clone()).expect("pc");
    wc.update("w1", &[p("a")]).await.expect("wc first life");
    pc.update("w1", &[p("b")]).await.expect("pc first life");
    wc.abort();
    pc.abort();
    assert!(!wc.is_pulling());
    assert!(pc.pulling().is_empty());

    wc.update("w2", &[p("a")])
        .await
        .expect("wc second life, new ID");
    pc.update("w2", &[p("b")]).await.expect("pc second life");
    assert!(wc.is_pulling());
    assert_eq!(pc.pulling(), vec!["pc-p-b"]);
    publish(&js, "work.a", 1).await;
    publish(&js, "work.b", 1).await;
    assert!(wait_until(DEADLINE, || async { handler.acked() == 2 }).await);
    assert!(handler.seen().iter().all(|s| s.worker == "w2"));

    wc.close().await.expect("close");
    pc.close().await.expect("close");
    wc.update("w3", &[p("a")]).await.expect("after close");
    assert!(wc.is_pulling());
    wc.close().await.expect("close");
}
