//! parti's own invariants (parti-protocol.md §12; parti-stress-harness.md §9 A9, A19, A20)
//! against a real nats-server: one server per test on a random port, workers with their own
//! connections, and a separate connection that reads only the KV buckets.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use parti_top::host::Pool;
use parti_top::nats::client;
use parti_top::observer::snapshot::{Snapshot, SnapshotBuckets, settled_problems};
use parti_top::parti::config::{BucketNames, Config, Timing};
use parti_top::parti::kv::{Bucket, BucketSpec, Store};
use parti_top::parti::nats_kv::NatsStore;
use parti_top::parti::partition::Partition;
use parti_top::parti::source::{StaticSource, numbered_partitions};
use parti_top::parti::stable_id;
use parti_top::parti::state::State;
use parti_top::parti::strategy::StrategyConfig;
use parti_top::parti::worker::WorkerSpec;
use parti_top::testkit::{TestServer, wait_until};
use tokio::sync::mpsc;

const SETTLE: Duration = Duration::from_secs(30);

struct Cluster {
    server: TestServer,
    pool: Pool,
    partitions: Vec<Partition>,
    reader: NatsStore,
}

impl Cluster {
    async fn start(workers: usize, partitions: usize) -> Cluster {
        let server = TestServer::start().await;
        let partitions = numbered_partitions(partitions);
        let spec = WorkerSpec {
            config: Config::with_timing(Timing::fast()),
            source: Arc::new(StaticSource::new(partitions.clone())),
            strategy: StrategyConfig::default().build(),
            consumer: None,
        };
        let (events, mut sink) = mpsc::unbounded_channel();
        tokio::spawn(async move { while sink.recv().await.is_some() {} });
        let mut pool = Pool::new(
            server.url().to_owned(),
            server.auth(),
            spec,
            "test".into(),
            events,
        );
        pool.add(workers).await.expect("workers connect");
        let reader = NatsStore::new(server.client().await);
        Cluster {
            server,
            pool,
            partitions,
            reader,
        }
    }

    async fn snapshot(&self) -> Option<Snapshot> {
        let names = BucketNames::default();
        let open = |name: String| {
            let reader = self.reader.clone();
            async move { reader.open_bucket(&name).await.ok() }
        };
        let stable_id = open(names.stable_id).await?;
        let election = open(names.election).await?;
        let heartbeat = open(names.heartbeat).await?;
        let assignment = open(names.assignment).await?;
        let buckets = SnapshotBuckets {
            stable_id: stable_id.as_ref(),
            election: election.as_ref(),
            heartbeat: heartbeat.as_ref(),
            assignment: assignment.as_ref(),
        };
        Snapshot::read(&buckets).await.ok()
    }

    fn leaders(&self) -> Vec<String> {
        self.pool
            .slots()
            .iter()
            .map(|s| s.status())
            .filter(|s| s.is_leader)
            .filter_map(|s| s.worker_id)
            .collect()
    }

    fn versions(&self) -> BTreeSet<i64> {
        self.pool
            .slots()
            .iter()
            .map(|s| s.status().version)
            .collect()
    }

    /// Settled: every worker Stable, one leader by the workers' account, and the KV picture
    /// valid (every partition once, one version, live IDs, well-formed leader).
    async fn settled(&self) -> bool {
        if !self
            .pool
            .slots()
            .iter()
            .all(|s| s.status().state == State::Stable)
        {
            return false;
        }
        if self.leaders().len() != 1 || self.versions().len() != 1 {
            return false;
        }
        let Some(snapshot) = self.snapshot().await else {
            return false;
        };
        let live: BTreeSet<String> = self
            .pool
            .slots()
            .iter()
            .filter_map(|s| s.status().worker_id)
            .collect();
        snapshot.live() == live
            && snapshot.leader_id() == self.leaders().first().map(String::as_str)
            && settled_problems(&snapshot, &self.partitions).is_empty()
    }

    async fn wait_settled(&self, what: &str) {
        if !wait_until(SETTLE, || self.settled()).await {
            let problems = match self.snapshot().await {
                Some(snapshot) => settled_problems(&snapshot, &self.partitions),
                None => vec!["buckets unreadable".into()],
            };
            let states: Vec<_> = self.pool.slots().iter().map(|s| s.status()).collect();
            panic!("{what}: not settled within {SETTLE:?}: {problems:?}; workers: {states:?}");
        }
    }

    fn leader_slot(&self) -> u64 {
        self.pool
            .slots()
            .iter()
            .find(|s| s.status().is_leader)
            .expect("a leader")
            .slot
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_and_down_keeps_every_partition_owned_exactly_once() {
    let mut cluster = Cluster::start(3, 50).await;
    cluster.wait_settled("3 workers").await;
    cluster.pool.scale_to(6).await.expect("scale up");
    cluster.wait_settled("6 workers").await;
    cluster.pool.scale_to(2).await.expect("scale down");
    cluster.wait_settled("2 workers").await;
    // The stopped workers released their IDs and deleted their heartbeats.
    let snapshot = cluster.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.ids.len(), 2, "{:?}", snapshot.ids);
    assert_eq!(snapshot.heartbeats.len(), 2);
    drop(cluster.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stop_gives_every_survivor_a_higher_version() {
    let mut cluster = Cluster::start(3, 20).await;
    cluster.wait_settled("start").await;
    let before = *cluster.versions().iter().max().expect("versions");
    let old = cluster.leaders();
    let slot = cluster.leader_slot();
    cluster
        .pool
        .stop_slot(slot)
        .await
        .expect("slot")
        .expect("graceful stop");
    assert!(
        wait_until(Duration::from_secs(5), || async {
            cluster.leaders().len() == 1
        })
        .await,
        "one new leader within 5 s"
    );
    assert_ne!(cluster.leaders(), old);
    cluster.wait_settled("after failover").await;
    assert!(
        cluster.versions().iter().all(|v| *v > before),
        "{:?} > {before}",
        cluster.versions()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rounds_of_leader_churn_leave_no_orphans() {
    let mut cluster = Cluster::start(4, 20).await;
    cluster.wait_settled("start").await;
    for round in 1..=3 {
        let slot = cluster.leader_slot();
        cluster
            .pool
            .stop_slot(slot)
            .await
            .expect("slot")
            .expect("graceful stop");
        cluster.wait_settled(&format!("round {round}")).await;
        assert_eq!(cluster.leaders().len(), 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_cleans_up_at_once_and_a_crash_is_handled_after_the_ttl() {
    let mut cluster = Cluster::start(3, 30).await;
    cluster.wait_settled("start").await;
    let followers: Vec<(u64, String)> = cluster
        .pool
        .slots()
        .iter()
        .filter(|s| !s.status().is_leader)
        .map(|s| (s.slot, s.status().worker_id.expect("id")))
        .collect();
    // Graceful: ID and heartbeat are gone as soon as stop returns.
    let (graceful_slot, graceful_id) = followers[0].clone();
    cluster
        .pool
        .stop_slot(graceful_slot)
        .await
        .expect("slot")
        .expect("stop");
    let snapshot = cluster.snapshot().await.expect("snapshot");
    assert!(
        !snapshot.ids.contains_key(&graceful_id) && !snapshot.heartbeats.contains_key(&graceful_id)
    );
    cluster.wait_settled("after graceful stop").await;
    // Crash: the keys stay until they expire, then the survivors take over.
    let (crash_slot, crash_id) = followers[1].clone();
    assert!(cluster.pool.kill_slot(crash_slot));
    let snapshot = cluster.snapshot().await.expect("snapshot");
    assert!(
        snapshot.heartbeats.contains_key(&crash_id),
        "a crash leaves the heartbeat behind"
    );
    cluster.wait_settled("after crash").await;
    let snapshot = cluster.snapshot().await.expect("snapshot");
    assert!(!snapshot.heartbeats.contains_key(&crash_id));
    let crashed_partitions = snapshot
        .assignments
        .get(&crash_id)
        .map_or(0, |a| a.partitions.len());
    assert_eq!(crashed_partitions, 0, "the crashed worker owns nothing");
}

async fn id_bucket(server: &TestServer, name: &str, ttl: Duration) -> Arc<dyn Bucket> {
    NatsStore::new(server.client().await)
        .ensure_bucket(&BucketSpec {
            name: name.into(),
            ttl,
        })
        .await
        .expect("bucket")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stable_ids_are_reclaimed_after_their_ttl() {
    let server = TestServer::start().await;
    // A9 (a): 20 rounds of claim-and-abandon over IDs 0–2 with a 300 ms TTL; every claim
    // succeeds within 3 s, and a fresh claim afterwards too.
    let ids = id_bucket(&server, "a9-churn", Duration::from_millis(300)).await;
    for round in 0..21 {
        let claimed = claim_within(&ids, 2, Duration::from_secs(3)).await;
        assert!(claimed.is_some(), "round {round}: no ID within 3 s");
    }
    // A9 (b): three abandoned claims; once they have expired, eight concurrent claimers over
    // 0–9 all get distinct IDs within 3 s.
    let ids = id_bucket(&server, "a9-concurrent", Duration::from_millis(350)).await;
    for _ in 0..3 {
        stable_id::claim(&ids, "worker", 0, 9)
            .await
            .expect("abandoned claim");
    }
    let expired = wait_until(Duration::from_secs(5), || async {
        ids.keys().await.is_ok_and(|keys| keys.is_empty())
    })
    .await;
    assert!(expired, "the abandoned claims expire");
    let claimers = (0..8).map(|_| {
        let ids = ids.clone();
        tokio::spawn(async move {
            tokio::time::timeout(
                Duration::from_secs(3),
                stable_id::claim(&ids, "worker", 0, 9),
            )
            .await
        })
    });
    let claimed: Vec<String> = futures::future::join_all(claimers)
        .await
        .into_iter()
        .map(|r| {
            r.expect("task")
                .expect("within 3 s")
                .expect("claimed")
                .worker_id
        })
        .collect();
    let distinct: BTreeSet<&String> = claimed.iter().collect();
    assert_eq!(distinct.len(), 8, "{claimed:?}");
}

async fn claim_within(ids: &Arc<dyn Bucket>, max: u32, within: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(claimed) = stable_id::claim(ids, "worker", 0, max).await {
            return Some(claimed.worker_id);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_keys_and_values_use_the_go_wire_format() {
    let cluster = Cluster::start(2, 10).await;
    cluster.wait_settled("start").await;
    let js = async_nats::jetstream::new(cluster.server.client().await);
    let timing = Timing::fast();
    for (bucket, ttl) in [
        ("parti-stableid", timing.worker_id_ttl),
        ("parti-election", timing.election_timeout),
        ("parti-heartbeat", timing.heartbeat_ttl),
        ("parti-assignment", Duration::ZERO),
    ] {
        let mut stream = js.get_stream(format!("KV_{bucket}")).await.expect("stream");
        let config = &stream.info().await.expect("info").config;
        assert_eq!(config.subjects, vec![format!("$KV.{bucket}.>")], "{bucket}");
        assert_eq!(config.max_messages_per_subject, 1, "{bucket} history");
        assert_eq!(config.max_age, ttl, "{bucket} max age");
        assert_eq!(
            config.storage,
            async_nats::jetstream::stream::StorageType::File,
            "{bucket}"
        );
        assert_eq!(config.num_replicas, 1);
        assert!(
            config.allow_direct && config.deny_delete && config.allow_rollup,
            "{bucket}"
        );
        assert_eq!(
            config.discard,
            async_nats::jetstream::stream::DiscardPolicy::New
        );
    }
    let snapshot = cluster.snapshot().await.expect("snapshot");
    let rfc3339_seconds = |v: &str| {
        chrono::DateTime::parse_from_rfc3339(v).is_ok() && !v.contains('.') && v.len() >= 20
    };
    assert_eq!(
        snapshot.ids.keys().cloned().collect::<Vec<_>>(),
        vec!["worker-0", "worker-1"]
    );
    assert!(
        snapshot.ids.values().all(|v| rfc3339_seconds(v)),
        "{:?}",
        snapshot.ids
    );
    assert!(
        snapshot
            .heartbeats
            .values()
            .all(|v| chrono::DateTime::parse_from_rfc3339(v).is_ok())
    );
    let leader = snapshot.leader.clone().expect("leader");
    let (id, unix) = leader.rsplit_once(':').expect("id:unix");
    assert!(id.starts_with("worker-"));
    let unix: i64 = unix.parse().expect("unix seconds");
    assert!((chrono::Utc::now().timestamp() - unix).abs() < 60);
    // Assignment JSON: Go's field order, byte for byte.
    let assignment = NatsStore::new(cluster.server.client().await)
        .open_bucket("parti-assignment")
        .await
        .expect("bucket");
    let raw = assignment
        .get("assignment.worker-0")
        .await
        .expect("get")
        .expect("value");
    let text = String::from_utf8(raw.value.to_vec()).expect("utf8");
    assert!(
        text.starts_with(r#"{"version":"#) && text.contains(r#","lifecycle":""#),
        "{text}"
    );
    assert!(
        text.contains(r#""partitions":[{"keys":["partition-"#)
            && text.contains(r#"],"weight":100}"#),
        "{text}"
    );
    let auth = cluster.server.auth();
    client::connect(cluster.server.url(), &auth, "check")
        .await
        .expect("reconnect");
}
