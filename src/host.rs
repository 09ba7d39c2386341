//! `parti-top host`: a process that runs parti workers as tokio tasks, each with its own NATS
//! connection or all over one shared connection ([`ConnectionMode`]), and stops them
//! gracefully on SIGTERM/SIGINT.
//!
//! [`Pool`] owns the worker slots and can scale, stop and kill them. `parti-top host` by hand
//! uses it directly (`commands::host`); a host started by a controller runs [`controlled`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

pub use crate::control::ConnectionMode;
use crate::nats::client::{self, ClientAuth};
use crate::parti::Error as PartiError;

pub mod controlled;
pub mod join;
pub mod work;
use crate::parti::events::{WorkerEvent, WorkerStatus};
use crate::parti::kv::Store;
use crate::parti::nats_kv::NatsStore;
use crate::parti::worker::{EventSink, Worker, WorkerSpec};
use crate::text::plural;

/// One running worker and its connection (its own, or a handle on the host's shared one).
pub struct Slot {
    /// The host-local slot number (stable for the slot's life, never reused).
    pub slot: u64,
    pub worker: Worker,
    client: async_nats::Client,
}

impl Slot {
    pub fn status(&self) -> WorkerStatus {
        self.worker.status()
    }
}

/// Connections opened for reserved slots.
pub type Connected = Vec<(u64, Result<async_nats::Client, client::ConnectError>)>;

/// A worker's event, tagged with its slot and (once claimed) its stable ID.
#[derive(Debug, Clone)]
pub struct SlotEvent {
    pub slot: u64,
    pub worker_id: Option<String>,
    pub event: WorkerEvent,
}

/// Tags a worker's events with its slot and sends them to the host's one channel.
struct SlotSink {
    slot: u64,
    events: mpsc::UnboundedSender<SlotEvent>,
}

impl EventSink for SlotSink {
    fn deliver(&self, worker_id: Option<&str>, event: WorkerEvent) {
        let worker_id = worker_id.map(str::to_owned);
        let _ = self.events.send(SlotEvent {
            slot: self.slot,
            worker_id,
            event,
        });
    }
}

/// The workers of one host.
pub struct Pool {
    url: String,
    /// Connect only to `url` (a fault proxy): never to servers a cluster gossips.
    pinned: bool,
    auth: ClientAuth,
    spec: WorkerSpec,
    slots: Vec<Slot>,
    next_slot: u64,
    events: mpsc::UnboundedSender<SlotEvent>,
    connection_name: String,
    /// The message load each new worker consumes, if any.
    work: Option<Arc<work::Work>>,
    mode: ConnectionMode,
    /// The one connection of a [`ConnectionMode::PerHost`] pool, opened by the first start.
    shared: Arc<tokio::sync::OnceCell<async_nats::Client>>,
    /// The one store (and so one set of bucket handles) of a per-host pool.
    shared_store: Option<Arc<dyn Store>>,
}

impl Pool {
    pub fn new(
        url: String,
        auth: ClientAuth,
        spec: WorkerSpec,
        connection_name: String,
        events: mpsc::UnboundedSender<SlotEvent>,
    ) -> Self {
        Self {
            url,
            pinned: false,
            auth,
            spec,
            slots: Vec::new(),
            next_slot: 0,
            events,
            connection_name,
            work: None,
            mode: ConnectionMode::PerWorker,
            shared: Arc::new(tokio::sync::OnceCell::new()),
            shared_store: None,
        }
    }

    /// Run the workers started from now on over one connection each (the default) or over
    /// the pool's one shared connection.
    pub fn with_connection(mut self, mode: ConnectionMode) -> Self {
        self.mode = mode;
        self
    }

    /// How the workers connect.
    pub fn connection_mode(&self) -> ConnectionMode {
        self.mode
    }

    /// Give every worker started from now on a consumer of the message load.
    pub fn with_work(mut self, work: Arc<work::Work>) -> Self {
        self.work = Some(work);
        self
    }

    /// Connect the workers only to the pool's URL (a fault proxy), ignoring the servers a
    /// cluster gossips.
    pub fn pinned(mut self) -> Self {
        self.pinned = true;
        self
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Reserve `count` slot numbers and the connection names for them.
    pub fn reserve(&mut self, count: usize) -> Vec<(u64, String)> {
        (0..count)
            .map(|_| {
                let slot = self.next_slot;
                self.next_slot += 1;
                (slot, format!("{}-slot-{slot}", self.connection_name))
            })
            .collect()
    }

    /// A future that opens one connection per reserved slot, concurrently, or for a per-host
    /// pool gives every slot a handle on the shared connection (opened by the first start; a
    /// failed open is tried again by the next slot). It borrows nothing from the pool, so it
    /// can run in another task.
    pub fn connector(
        &self,
        reserved: Vec<(u64, String)>,
    ) -> impl Future<Output = Connected> + Send + 'static {
        let (url, auth, pinned) = (self.url.clone(), self.auth.clone(), self.pinned);
        let shared = (self.mode == ConnectionMode::PerHost).then(|| self.shared.clone());
        let shared_name = format!("{}-shared", self.connection_name);
        async move {
            let connects = reserved.iter().map(|(_, name)| {
                let (url, auth, shared, shared_name) = (&url, &auth, &shared, &shared_name);
                async move {
                    let connect = |name: &str| {
                        let name = name.to_owned();
                        async move {
                            if pinned {
                                client::connect_pinned(url, auth, &name).await
                            } else {
                                client::connect(url, auth, &name).await
                            }
                        }
                    };
                    match shared {
                        Some(cell) => cell.get_or_try_init(|| connect(shared_name)).await.cloned(),
                        None => connect(name).await,
                    }
                }
            });
            let clients = futures::future::join_all(connects).await;
            reserved
                .into_iter()
                .map(|(slot, _)| slot)
                .zip(clients)
                .collect()
        }
    }

    /// Start `count` workers at once (parallel start), each with its own connection or on the
    /// shared one.
    pub async fn add(&mut self, count: usize) -> Result<Vec<u64>, client::ConnectError> {
        let reserved = self.reserve(count);
        let connected = self.connector(reserved).await;
        let mut started = Vec::new();
        let mut first_error = None;
        for (slot, client) in connected {
            match client {
                Ok(client) => {
                    self.spawn_worker(slot, client);
                    started.push(slot);
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(err) if started.is_empty() => Err(err),
            Some(err) => {
                warn!("some workers could not connect: {err}");
                Ok(started)
            }
            None => Ok(started),
        }
    }

    /// Start a worker on an open connection in a reserved slot.
    pub fn spawn_worker(&mut self, slot: u64, client: async_nats::Client) {
        let store = match self.mode {
            ConnectionMode::PerWorker => Arc::new(NatsStore::new(client.clone())) as Arc<dyn Store>,
            ConnectionMode::PerHost => self
                .shared_store
                .get_or_insert_with(|| {
                    Arc::new(NatsStore::new(client.clone()).sharing_buckets()) as Arc<dyn Store>
                })
                .clone(),
        };
        let sink = SlotSink {
            slot,
            events: self.events.clone(),
        };
        let mut spec = self.spec.clone();
        if let Some(work) = &self.work {
            match work.consumer(&client, slot) {
                Ok(consumer) => spec.consumer = Some(consumer),
                Err(err) => warn!("slot {slot}: no consumer of the load: {err}"),
            }
        }
        let worker = Worker::spawn(store, spec, sink);
        self.slots.push(Slot {
            slot,
            worker,
            client,
        });
    }

    /// Take the newest `count` slots out of the pool (to stop them elsewhere).
    pub fn take_newest(&mut self, count: usize) -> Vec<Slot> {
        let keep = self.slots.len().saturating_sub(count);
        self.slots.drain(keep..).collect()
    }

    /// Take the slot running the worker with this stable ID.
    pub fn take_worker(&mut self, worker_id: &str) -> Option<Slot> {
        let index = self
            .slots
            .iter()
            .position(|s| s.status().worker_id.as_deref() == Some(worker_id))?;
        Some(self.slots.remove(index))
    }

    /// Gracefully stop the newest `count` workers, concurrently.
    pub async fn remove(&mut self, count: usize) -> Vec<(u64, Result<(), PartiError>)> {
        let removed = self.take_newest(count);
        stop_slots(removed).await
    }

    /// Start or stop workers until `target` are running.
    pub async fn scale_to(&mut self, target: usize) -> Result<(), client::ConnectError> {
        let current = self.slots.len();
        if target > current {
            self.add(target - current).await?;
        } else if target < current {
            self.remove(current - target).await;
        }
        Ok(())
    }

    /// Gracefully stop one worker by slot.
    pub async fn stop_slot(&mut self, slot: u64) -> Option<Result<(), PartiError>> {
        let index = self.slots.iter().position(|s| s.slot == slot)?;
        let removed = self.slots.remove(index);
        stop_slots(vec![removed])
            .await
            .pop()
            .map(|(_, result)| result)
    }

    /// Crash one worker: abort its tasks and drop its connection, no cleanup. On a per-host
    /// pool the shared connection stays up: the worker's keys expire by their TTLs, as after
    /// `kill -9` of a process whose connection the server has not yet noticed gone.
    pub fn kill_slot(&mut self, slot: u64) -> bool {
        let Some(index) = self.slots.iter().position(|s| s.slot == slot) else {
            return false;
        };
        let removed = self.slots.remove(index);
        removed.worker.kill();
        drop(removed.client);
        true
    }

    /// Crash the worker with this stable ID; returns its slot.
    pub fn kill_worker(&mut self, worker_id: &str) -> Option<u64> {
        let slot = self.take_worker(worker_id)?;
        let number = slot.slot;
        slot.worker.kill();
        drop(slot.client);
        Some(number)
    }

    /// Remove slots whose worker ended on its own (failed start, lost ID), with how it ended.
    pub async fn reap_finished(&mut self) -> Vec<(u64, Result<(), PartiError>)> {
        let (done, alive): (Vec<Slot>, Vec<Slot>) = std::mem::take(&mut self.slots)
            .into_iter()
            .partition(|s| s.worker.is_finished());
        self.slots = alive;
        stop_slots(done).await
    }

    /// Gracefully stop every worker, concurrently.
    pub async fn stop_all(&mut self) -> Vec<(u64, Result<(), PartiError>)> {
        let all = std::mem::take(&mut self.slots);
        stop_slots(all).await
    }
}

/// Gracefully stop slots concurrently, flushing each connection before it closes.
pub async fn stop_slots(slots: Vec<Slot>) -> Vec<(u64, Result<(), PartiError>)> {
    let stops = slots.into_iter().map(|slot| async move {
        let result = slot.worker.stop().await;
        // Make sure the cleanup writes are on the server before the connection goes.
        let _ = tokio::time::timeout(Duration::from_secs(2), slot.client.flush()).await;
        (slot.slot, result)
    });
    futures::future::join_all(stops).await
}

/// Log a worker's event at a level an operator wants to see, under its stable ID (or
/// `slot-N` before it has one).
pub fn log_event(slot_event: &SlotEvent) {
    let slot = slot_event.slot;
    let id = slot_event
        .worker_id
        .clone()
        .unwrap_or_else(|| format!("slot-{slot}"));
    let event = &slot_event.event;
    match event {
        WorkerEvent::StateChanged { from, to } => info!(worker = %id, "{from} -> {to}"),
        WorkerEvent::IdClaimed { worker_id } => info!(slot, "claimed {worker_id}"),
        WorkerEvent::IdLost {
            reclaimed: true, ..
        } => warn!(worker = %id, "stable ID expired; reclaimed"),
        WorkerEvent::IdLost {
            reclaimed: false, ..
        } => warn!(worker = %id, "stable ID taken by another process; stopping"),
        WorkerEvent::Leadership { is_leader: true } => info!(worker = %id, "became leader"),
        WorkerEvent::Leadership { is_leader: false } => info!(worker = %id, "lost leadership"),
        WorkerEvent::Calculator { .. } => {}
        WorkerEvent::AssignmentApplied {
            version,
            total,
            added,
            removed,
            ..
        } => info!(
            worker = %id,
            "assignment v{version}: {} (+{} -{})",
            plural(*total as u64, "partition"),
            added.len(),
            removed.len()
        ),
        WorkerEvent::Published {
            version,
            lifecycle,
            workers,
            partitions,
        } => info!(
            worker = %id,
            "published v{version} ({lifecycle}): {} over {}",
            plural(*partitions as u64, "partition"),
            plural(*workers as u64, "worker")
        ),
        WorkerEvent::Warning { message } => warn!(worker = %id, "{message}"),
    }
}
