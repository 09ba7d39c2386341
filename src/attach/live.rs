//! The live attach: one task keeps the cluster's [`KvState`] current from the buckets' watches
//! (seeded by one full read, so the first judgement sees the whole cluster), judges it on a
//! clock, feeds the judgement to the event [`Tracker`], and publishes the result as one value
//! ([`LiveAttach`]) on a `tokio::sync::watch` channel and the observations on another. Front
//! ends (the dashboard, the line printer, a recorder, a metrics renderer) only read these.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::events::{Settings, Tracker};
use super::judge::{AttachState, KvState, judge};
use super::read::{Cluster, ReadError};
use crate::observation::{Measurement, Observation};
use crate::parti::partition::Partition;

/// How often the cluster is judged (heartbeat ages move with the clock, not only with writes).
pub const TICK: Duration = Duration::from_millis(250);

/// Everything the live attach knows at one moment: what a dashboard, a line printer or a metrics
/// renderer reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveAttach {
    /// Milliseconds since the attach began.
    pub t_ms: u64,
    pub url: String,
    /// The latest judgement.
    pub state: AttachState,
    /// The latest measurement: the open event's once it stabilized, else the last closed one.
    pub last_event: Option<Measurement>,
    /// The open event, while it has not stabilized (`event #2 worker-3 left`).
    pub settling: Option<String>,
    /// Events opened so far.
    pub events: usize,
    /// Findings reported so far (problems that lasted).
    pub findings_reported: usize,
    /// Times the leader key changed hands (or went away) since the attach began.
    pub leader_changes: u64,
    /// Whether the connection to NATS is up.
    pub connected: bool,
}

/// What the live attach is asked to do.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Partitions that must be owned besides those the assignments hold.
    pub expected: Vec<Partition>,
    pub settings: Settings,
}

/// The running live attach.
pub struct Live {
    pub state: watch::Receiver<LiveAttach>,
    pub observations: mpsc::UnboundedReceiver<Observation>,
    task: JoinHandle<()>,
    cancel: CancellationToken,
}

impl Live {
    /// Stop watching; the open event is closed (its measurement is the last observation).
    pub async fn stop(self) -> mpsc::UnboundedReceiver<Observation> {
        self.cancel.cancel();
        let _ = self.task.await;
        self.observations
    }
}

/// Read the cluster once, then follow it until [`Live::stop`].
pub async fn start(cluster: Cluster, options: LiveOptions) -> Result<Live, ReadError> {
    let kv = cluster.read().await?;
    let cancel = CancellationToken::new();
    let (writes_tx, writes) = mpsc::unbounded_channel();
    cluster.watch(writes_tx, cancel.clone());
    let (state_tx, state) = watch::channel(LiveAttach {
        url: cluster.url.clone(),
        connected: true,
        ..LiveAttach::default()
    });
    let (observations_tx, observations) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(
        cluster,
        kv,
        writes,
        options,
        state_tx,
        observations_tx,
        cancel.clone(),
    ));
    Ok(Live {
        state,
        observations,
        task,
        cancel,
    })
}

async fn run(
    cluster: Cluster,
    mut kv: KvState,
    mut writes: mpsc::UnboundedReceiver<super::judge::KvWrite>,
    options: LiveOptions,
    state_tx: watch::Sender<LiveAttach>,
    observations: mpsc::UnboundedSender<Observation>,
    cancel: CancellationToken,
) {
    let started = tokio::time::Instant::now();
    let t_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut tracker = Tracker::new(options.settings);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leader: Option<Option<String>> = None;
    let mut leader_changes = 0;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            Some(write) = writes.recv() => {
                kv.apply(&write);
                // Take in every write already waiting before judging.
                while let Ok(write) = writes.try_recv() {
                    kv.apply(&write);
                }
            }
            _ = tick.tick() => {
                let now_ms = t_ms();
                let state = judge(&kv, super::now_unix_ms(), &cluster.ttls, &options.expected);
                if leader.as_ref().is_some_and(|l| *l != state.leader) {
                    leader_changes += 1;
                }
                leader = Some(state.leader.clone());
                for observation in tracker.observe(now_ms, &state) {
                    let _ = observations.send(observation);
                }
                let connected = cluster.client.connection_state()
                    == async_nats::connection::State::Connected;
                state_tx.send_replace(LiveAttach {
                    t_ms: now_ms,
                    url: cluster.url.clone(),
                    state,
                    last_event: tracker.last_measurement().cloned(),
                    settling: tracker.settling(),
                    events: tracker.events(),
                    findings_reported: tracker.findings(),
                    leader_changes,
                    connected,
                });
            }
        }
    }
    for observation in tracker.finish(t_ms()) {
        let _ = observations.send(observation);
    }
}
