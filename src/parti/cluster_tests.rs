//! Deterministic whole-cluster tests: several workers on the in-memory KV under paused tokio
//! time. The same scenarios run against a real nats-server in `tests/parti_cluster.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::assignment::Assignment;
use super::config::{Config, Timing};
use super::events::WorkerEvent;
use super::kv::Bucket;
use super::mem_kv::{MemConnection, MemStore};
use super::source::{StaticSource, numbered_partitions};
use super::state::State;
use super::strategy::StrategyConfig;
use super::worker::{Worker, WorkerSpec};

struct Cluster {
    store: MemStore,
    spec: WorkerSpec,
    workers: Vec<(Worker, MemConnection)>,
    events: mpsc::UnboundedReceiver<WorkerEvent>,
    events_tx: mpsc::UnboundedSender<WorkerEvent>,
    partitions: usize,
}

impl Cluster {
    fn new(partitions: usize, config: Config) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        Self {
            store: MemStore::new(),
            spec: WorkerSpec {
                config,
                source: Arc::new(StaticSource::new(numbered_partitions(partitions))),
                strategy: StrategyConfig::default().build(),
                consumer: None,
            },
            workers: Vec::new(),
            events,
            events_tx,
            partitions,
        }
    }

    fn add(&mut self) {
        let connection = MemConnection::new(&self.store);
        let worker = Worker::spawn(
            Arc::new(connection.clone()),
            self.spec.clone(),
            self.events_tx.clone(),
        );
        self.workers.push((worker, connection));
    }

    fn live_ids(&self) -> BTreeSet<String> {
        self.workers
            .iter()
            .filter_map(|(w, _)| w.status().worker_id)
            .collect()
    }

    fn leaders(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter(|(w, _)| w.status().is_leader)
            .filter_map(|(w, _)| w.status().worker_id)
            .collect()
    }

    fn all_stable(&self) -> bool {
        self.workers
            .iter()
            .all(|(w, _)| w.status().state == State::Stable)
    }

    fn versions(&self) -> BTreeSet<i64> {
        self.workers
            .iter()
            .map(|(w, _)| w.status().version)
            .collect()
    }

    async fn assignments(&self) -> BTreeMap<String, Assignment> {
        let bucket = self
            .store
            .bucket("parti-assignment")
            .expect("assignment bucket");
        let mut out = BTreeMap::new();
        for key in bucket.keys().await.expect("keys") {
            let entry = bucket.get(&key).await.expect("get").expect("entry");
            let worker = key.trim_start_matches("assignment.").to_owned();
            out.insert(worker, Assignment::decode(&entry.value).expect("decode"));
        }
        out
    }

    /// Every partition is owned exactly once across live workers, only live workers own
    /// partitions, and every live worker holds the newest version.
    async fn converged(&self) -> bool {
        if !self.all_stable() {
            return false;
        }
        let live = self.live_ids();
        let assignments = self.assignments().await;
        let mut owned = BTreeMap::new();
        for (worker, assignment) in &assignments {
            if !live.contains(worker) {
                if !assignment.partitions.is_empty() {
                    return false;
                }
                continue;
            }
            for partition in &assignment.partitions {
                *owned.entry(partition.keys.clone()).or_insert(0) += 1;
            }
        }
        let newest = assignments.values().map(|a| a.version).max().unwrap_or(0);
        owned.len() == self.partitions
            && owned.values().all(|count| *count == 1)
            && self.versions() == BTreeSet::from([newest])
    }

    async fn wait_converged(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.converged().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn leader_index(&self) -> usize {
        self.workers
            .iter()
            .position(|(w, _)| w.status().is_leader)
            .expect("a leader")
    }

    fn drain_events(&mut self) -> Vec<WorkerEvent> {
        let mut out = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            out.push(event);
        }
        out
    }
}

fn fast() -> Config {
    Config::with_timing(Timing::fast())
}

#[tokio::test(start_paused = true)]
async fn three_workers_converge_with_one_leader_and_one_version() {
    let mut cluster = Cluster::new(20, fast());
    for _ in 0..3 {
        cluster.add();
    }
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    assert_eq!(cluster.leaders().len(), 1);
    assert_eq!(
        cluster.live_ids(),
        BTreeSet::from(["worker-0".into(), "worker-1".into(), "worker-2".into()])
    );
    let events = cluster.drain_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, WorkerEvent::Published { .. }))
    );
    assert!(events.iter().any(|e| matches!(
        e,
        WorkerEvent::StateChanged {
            from: State::WaitingAssignment,
            to: State::Stable
        }
    )));
}

#[tokio::test(start_paused = true)]
async fn scale_up_then_down_keeps_every_partition_owned_exactly_once() {
    let mut cluster = Cluster::new(100, fast());
    for _ in 0..3 {
        cluster.add();
    }
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    for _ in 0..2 {
        cluster.add();
    }
    assert!(
        cluster.wait_converged(Duration::from_secs(30)).await,
        "after scale up to 5"
    );
    // Stop three followers gracefully.
    for _ in 0..3 {
        let index = (0..cluster.workers.len())
            .rev()
            .find(|i| !cluster.workers[*i].0.status().is_leader)
            .expect("a follower");
        let (worker, _) = cluster.workers.remove(index);
        worker.stop().await.expect("graceful stop");
    }
    assert!(
        cluster.wait_converged(Duration::from_secs(30)).await,
        "after scale down to 2"
    );
    // A graceful stop released the ID and deleted the heartbeat.
    let ids = cluster.store.bucket("parti-stableid").expect("bucket");
    assert_eq!(ids.keys().await.expect("keys").len(), 2);
    let heartbeats = cluster.store.bucket("parti-heartbeat").expect("bucket");
    assert_eq!(heartbeats.keys().await.expect("keys").len(), 2);
}

#[tokio::test(start_paused = true)]
async fn graceful_leader_stop_hands_over_with_higher_versions() {
    let mut cluster = Cluster::new(20, fast());
    for _ in 0..3 {
        cluster.add();
    }
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    let before = *cluster.versions().iter().max().expect("version");
    let old_leader = cluster.leaders()[0].clone();
    let (leader, _) = cluster.workers.remove(cluster.leader_index());
    leader.stop().await.expect("stop");
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    let leaders = cluster.leaders();
    assert_eq!(leaders.len(), 1);
    assert_ne!(leaders[0], old_leader);
    assert!(
        cluster.versions().iter().all(|v| *v > before),
        "{:?} vs {before}",
        cluster.versions()
    );
}

#[tokio::test(start_paused = true)]
async fn leader_crash_fails_over_after_the_lease_expires() {
    let mut cluster = Cluster::new(20, fast());
    for _ in 0..4 {
        cluster.add();
    }
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    for round in 0..3 {
        let before = *cluster.versions().iter().max().expect("version");
        let (leader, _) = cluster.workers.remove(cluster.leader_index());
        leader.kill();
        assert!(
            cluster.wait_converged(Duration::from_secs(60)).await,
            "round {round}"
        );
        assert_eq!(cluster.leaders().len(), 1, "round {round}");
        assert!(
            cluster.versions().iter().all(|v| *v > before),
            "round {round}"
        );
        cluster.add();
        assert!(
            cluster.wait_converged(Duration::from_secs(60)).await,
            "round {round} rejoin"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn follower_crash_is_an_emergency_after_ttl_and_grace() {
    let mut cluster = Cluster::new(30, fast());
    for _ in 0..3 {
        cluster.add();
    }
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    cluster.drain_events();
    let index = (0..3)
        .find(|i| !cluster.workers[*i].0.status().is_leader)
        .expect("follower");
    let (follower, _) = cluster.workers.remove(index);
    follower.kill();
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    let events = cluster.drain_events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            WorkerEvent::Published {
                lifecycle: super::assignment::Lifecycle::Emergency,
                ..
            }
        )),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stolen_stable_id_stops_the_worker_instead_of_sharing_it() {
    let mut config = fast();
    config.worker_id_max = 0;
    let mut cluster = Cluster::new(10, config);
    cluster.add();
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    // Cut the worker off long enough for its ID to expire, and let another process take it.
    cluster.workers[0].1.set_available(false);
    tokio::time::sleep(Timing::fast().worker_id_ttl + Duration::from_millis(100)).await;
    cluster.add();
    let thief = &cluster.workers[1].0;
    assert!(
        thief
            .wait_state(State::Stable, Duration::from_secs(10))
            .await
    );
    assert_eq!(thief.status().worker_id.as_deref(), Some("worker-0"));
    cluster.workers[0].1.set_available(true);
    let (original, _) = cluster.workers.remove(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !original.is_finished() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = original.stop().await.expect_err("the ID was lost");
    assert!(err.to_string().contains("taken over"), "{err}");
    // The thief keeps the ID (the original did not release it on the way out).
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    assert_eq!(cluster.live_ids(), BTreeSet::from(["worker-0".to_string()]));
}

#[tokio::test(start_paused = true)]
async fn a_long_disconnection_enters_degraded_and_recovers_to_stable() {
    let mut cluster = Cluster::new(10, fast());
    cluster.add();
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    cluster.workers[0].1.set_available(false);
    assert!(
        cluster.workers[0]
            .0
            .wait_state(State::Degraded, Duration::from_secs(15))
            .await
    );
    cluster.workers[0].1.set_available(true);
    assert!(
        cluster.workers[0]
            .0
            .wait_state(State::Stable, Duration::from_secs(15))
            .await
    );
}

#[tokio::test(start_paused = true)]
async fn a_leftover_assignment_from_a_previous_life_is_not_taken_as_current() {
    let mut cluster = Cluster::new(10, fast());
    cluster.add();
    cluster.add();
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    let newest = *cluster.versions().iter().max().expect("version");
    // A stale value under the key the next worker will claim (from its previous life).
    let stale = Assignment {
        version: newest - 1,
        lifecycle: "cold_start".into(),
        partitions: numbered_partitions(10)[..3].to_vec(),
    };
    let bucket = cluster.store.bucket("parti-assignment").expect("bucket");
    bucket
        .put("assignment.worker-2", stale.encode().into())
        .await
        .expect("plant");
    cluster.drain_events();
    cluster.add();
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    let first = cluster
        .drain_events()
        .into_iter()
        .find_map(|event| match event {
            WorkerEvent::AssignmentApplied {
                initial: true,
                version,
                ..
            } => Some(version),
            _ => None,
        });
    assert!(
        first.is_some_and(|v| v > newest),
        "first accepted version {first:?}, newest before {newest}"
    );
}

/// Records every partition list a worker hands its consumer.
#[derive(Default)]
struct RecordingConsumer {
    lists: std::sync::Mutex<Vec<usize>>,
}

impl super::consumer::ConsumerUpdater for RecordingConsumer {
    fn update<'a>(
        &'a self,
        _worker_id: &'a str,
        partitions: &'a [super::partition::Partition],
    ) -> super::consumer::ConsumerFuture<'a> {
        self.lists.lock().expect("lists").push(partitions.len());
        Box::pin(async { Ok(()) })
    }

    fn close<'a>(&'a self) -> super::consumer::ConsumerFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    fn abort(&self) {}
}

/// A worker whose assignment key is deleted (the leader counted it out) stops consuming,
/// although it keeps its last assignment as Go does (§7.5): its consumer gets an empty list.
#[tokio::test(start_paused = true)]
async fn a_deleted_assignment_stops_the_consumer_until_the_next_one() {
    let mut cluster = Cluster::new(10, fast());
    let consumer = Arc::new(RecordingConsumer::default());
    cluster.spec.consumer = Some(consumer.clone());
    cluster.add();
    assert!(cluster.wait_converged(Duration::from_secs(30)).await);
    let lists = || consumer.lists.lock().expect("lists").clone();
    assert_eq!(lists().last(), Some(&10), "{:?}", lists());
    let bucket = cluster
        .store
        .bucket("parti-assignment")
        .expect("assignment bucket");
    bucket.delete("assignment.worker-0").await.expect("delete");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while lists().last() != Some(&0) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lists().last(), Some(&0), "{:?}", lists());
    // The worker itself still holds its partitions (Go's behaviour).
    assert_eq!(cluster.workers[0].0.status().partitions, 10);
}
