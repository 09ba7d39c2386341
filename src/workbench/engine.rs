//! The engine task: the one owner of the measurement engine ([`Measure`]). It takes inputs from
//! the hosts, the observer and the workbench in arrival order, stamps them with run time,
//! broadcasts what comes out (cluster events, findings, measurements) and keeps a
//! [`ClusterState`] snapshot current for whoever waits on it.

use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::control::{HostEvent, HostTelemetry};
use crate::measure::model::KvChange;
use crate::measure::{ClusterState, Input, Measure, Output};
use crate::observation::{ActionRecord, ClusterEvent, Observation};

/// Inputs of the engine task.
pub enum EngineInput {
    HostEvent(HostEvent),
    Telemetry(HostTelemetry),
    Kv(KvChange),
    HostGone {
        host: u32,
        how: String,
        expected: bool,
    },
    /// An action about to be carried out (`record.t_ms` is its time).
    Action {
        record: ActionRecord,
        expected_live: usize,
    },
    /// The fault of the event opened at `event_t_ms` is over (a paused host resumed,
    /// nats-server is back).
    FaultCleared {
        event_t_ms: u64,
    },
    /// The managed nats-server went down or came back; `expected` while a restart is under
    /// way.
    Nats {
        up: bool,
        detail: String,
        expected: bool,
    },
    /// Close the open event and answer.
    Finish(oneshot::Sender<()>),
    /// Close the open event (it never stabilized if it had not: nothing overtook it) and
    /// answer once its measurement is out; the run goes on.
    CloseEvent(oneshot::Sender<()>),
}

/// The clock of a run: controller time as an `Instant`, hosts' time as Unix microseconds.
#[derive(Clone, Copy, Debug)]
pub struct RunClock {
    pub started: Instant,
    pub started_unix_us: u64,
}

impl RunClock {
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
            started_unix_us: crate::control::unix_us(),
        }
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A host's Unix timestamp as run time.
    pub fn from_unix_us(&self, unix_us: u64) -> u64 {
        unix_us.saturating_sub(self.started_unix_us) / 1000
    }
}

/// Log what an operator wants to see in the log pane: leadership, publishes, workers ending,
/// lost IDs, nats-server coming and going. Routine transitions stay out.
pub(super) fn log_event(event: &ClusterEvent) {
    use crate::observation::ClusterEventKind as K;
    let who = event
        .worker_id
        .clone()
        .unwrap_or_else(|| match (event.host, event.slot) {
            (Some(host), Some(slot)) => format!("host {host} slot {slot}"),
            (Some(host), None) => format!("host {host}"),
            _ => "cluster".to_owned(),
        });
    match &event.kind {
        K::Leadership { is_leader: true } => tracing::info!("{who} became leader"),
        K::Leadership { is_leader: false } => tracing::info!("{who} lost leadership"),
        K::Published {
            version,
            lifecycle,
            workers,
            partitions,
        } => {
            tracing::info!(
                "{who} published v{version} ({lifecycle}): {} over {}",
                crate::text::plural(*partitions as u64, "partition"),
                crate::text::plural(*workers as u64, "worker")
            );
        }
        K::WorkerEnded { how } => tracing::info!("{who} ended: {how}"),
        K::IdLost { reclaimed } => {
            tracing::warn!("{who} lost its stable ID (reclaimed: {reclaimed})")
        }
        K::Nats { up, detail } => {
            if *up {
                tracing::info!("{detail}");
            } else {
                tracing::warn!("{detail}");
            }
        }
        K::Warning { message } => tracing::warn!("{who}: {message}"),
        // A host's exit is reported as a finding when nobody asked for it.
        K::HostLost { .. }
        | K::WorkerStarted
        | K::StateChanged { .. }
        | K::IdClaimed
        | K::AssignmentApplied { .. } => {}
    }
}

/// Run the engine until its input channel closes.
pub async fn run(
    mut measure: Measure,
    clock: RunClock,
    mut inputs: mpsc::UnboundedReceiver<EngineInput>,
    observations: broadcast::Sender<Observation>,
    state: watch::Sender<ClusterState>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut actions = 0usize;
    let mut findings = 0usize;
    let mut measurements = 0usize;
    let mut nats_lost: Option<String> = None;
    loop {
        let mut ticked = false;
        let mut answer = None;
        let (t_ms, outputs) = tokio::select! {
            _ = tick.tick() => {
                let t = clock.now_ms();
                ticked = true;
                (t, measure.input(t, Input::Tick))
            }
            input = inputs.recv() => {
                let Some(input) = input else { break };
                match input {
                    EngineInput::HostEvent(event) => {
                        let t = clock.from_unix_us(event.t_unix_us);
                        let cluster_event = ClusterEvent {
                            t_ms: t,
                            host: Some(event.host),
                            slot: event.slot,
                            worker_id: event.worker_id.clone(),
                            kind: event.kind.clone(),
                        };
                        log_event(&cluster_event);
                        let _ = observations.send(Observation::Cluster(cluster_event));
                        (t, measure.input(t, Input::Event(&event)))
                    }
                    EngineInput::Telemetry(telemetry) => {
                        let t = clock.from_unix_us(telemetry.t_unix_us);
                        (t, measure.input(t, Input::Telemetry(&telemetry)))
                    }
                    EngineInput::Kv(change) => {
                        if measure.is_noop(&Input::Kv(&change)) {
                            continue;
                        }
                        let t = clock.now_ms();
                        (t, measure.input(t, Input::Kv(&change)))
                    }
                    EngineInput::HostGone { host, how, expected } => {
                        let t = clock.now_ms();
                        let _ = observations.send(Observation::Cluster(ClusterEvent {
                            t_ms: t,
                            host: Some(host),
                            slot: None,
                            worker_id: None,
                            kind: crate::observation::ClusterEventKind::HostLost { how: how.clone() },
                        }));
                        (t, measure.input(t, Input::HostGone { host, how, expected }))
                    }
                    EngineInput::Action { record, expected_live } => {
                        actions += 1;
                        let t = record.t_ms;
                        let action = record.action.clone();
                        let _ = observations.send(Observation::Action(record));
                        (t, measure.input(t, Input::Action { action, expected_live }))
                    }
                    EngineInput::Nats { up: true, .. } => {
                        nats_lost = None;
                        (clock.now_ms(), Vec::new())
                    }
                    EngineInput::Nats { up: false, detail, expected } => {
                        if !expected {
                            nats_lost = Some(detail.clone());
                        }
                        let t = clock.now_ms();
                        (t, measure.input(t, Input::NatsGone { how: detail, expected }))
                    }
                    EngineInput::CloseEvent(done) => {
                        answer = Some(done);
                        let t = clock.now_ms();
                        (t, measure.input(t, Input::CloseEvent))
                    }
                    EngineInput::FaultCleared { event_t_ms } => {
                        let t = clock.now_ms();
                        (t, measure.input(t, Input::FaultCleared { event_t_ms }))
                    }
                    EngineInput::Finish(done) => {
                        let t = clock.now_ms();
                        let outputs = measure.input(t, Input::Finish);
                        for output in &outputs {
                            if let Output::Measurement(m) = output {
                                measurements += 1;
                                let _ = observations.send(Observation::Measurement(m.clone()));
                            }
                        }
                        let _ = done.send(());
                        continue;
                    }
                }
            }
        };
        for output in outputs {
            match output {
                Output::Measurement(m) => {
                    measurements += 1;
                    match (m.stabilization_ms, m.superseded_by) {
                        (Some(ms), _) => tracing::info!(
                            "event {} ({}): stable after {ms} ms, {}",
                            m.number(),
                            m.action,
                            crate::text::plural(m.workers_after as u64, "worker")
                        ),
                        (None, Some(by)) => tracing::info!(
                            "event {} ({}): superseded by event {} before it stabilized",
                            m.number(),
                            m.action,
                            by + 1
                        ),
                        (None, None) => tracing::info!(
                            "event {} ({}): the run ended before it stabilized",
                            m.number(),
                            m.action
                        ),
                    }
                    let _ = observations.send(Observation::Measurement(m));
                }
                Output::Finding(f) => {
                    findings += 1;
                    tracing::warn!(
                        "finding at {} ms: {} — {}",
                        f.t_ms,
                        f.check.name(),
                        f.message
                    );
                    let _ = observations.send(Observation::Finding(f));
                }
            }
        }
        let model = measure.model();
        let (stable, quiet, reason, paused_hosts) = (
            measure.is_stable(),
            measure.is_quiet(),
            measure.unstable_reason(),
            measure.paused_hosts(),
        );
        // A tick changes no worker, leader or version: only the time-driven fields move.
        let cluster = (!ticked).then(|| {
            (
                model.views(),
                model.leader().map(str::to_owned),
                model.max_version(),
            )
        });
        state.send_if_modified(|current| {
            let mut changed = current.stable != stable
                || current.quiet != quiet
                || current.actions != actions
                || current.findings != findings
                || current.measurements != measurements
                || current.reason != reason
                || current.paused_hosts != paused_hosts
                || current.nats_lost != nats_lost;
            current.t_ms = t_ms;
            current.stable = stable;
            current.quiet = quiet;
            current.reason = reason;
            current.actions = actions;
            current.findings = findings;
            current.measurements = measurements;
            current.paused_hosts = paused_hosts;
            current.nats_lost.clone_from(&nats_lost);
            if let Some((workers, leader, max_version)) = cluster {
                changed |= current.workers != workers
                    || current.leader != leader
                    || current.max_version != max_version;
                current.workers = workers;
                current.leader = leader;
                current.max_version = max_version;
            }
            changed
        });
        if let Some(answer) = answer {
            let _ = answer.send(());
        }
    }
}
