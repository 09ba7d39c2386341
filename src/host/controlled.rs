//! A host started by a controller (`parti-top host --controlled`): it reads a [`Bootstrap`] line
//! from stdin (credentials never appear on a command line), asks the controller for its worker
//! specification, then serves commands, forwards worker events as they happen and publishes
//! telemetry every sample interval. A host that joined a run from another machine
//! (`parti-top host --join`, [`run_joined`]) does the same without stdin or a parent: it leaves
//! when the controller's `alive` beat stops or the run ends, and exits at once (no worker
//! stopped) on an `Abort`, the controller's `kill -9` of a host it cannot signal.
//!
//! It exits — stopping its workers gracefully first — on SIGTERM/SIGINT, on a `Shutdown`
//! command, when stdin reaches end of file (the controller's end of the pipe closed, which also
//! happens after `kill -9` of the controller), or when the controller's `alive` messages stop
//! for the configured timeout; it is killed at once when its parent is gone
//! (`PR_SET_PDEATHSIG`, SIGKILL, which also ends a host frozen by a pause). That silence is
//! counted only over time the host ran with its connection up ([`Silence`]): a host frozen by
//! SIGSTOP, or cut off from nats-server, has heard nothing because it could not listen, and
//! after SIGCONT it stays and lets its workers rejoin.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use super::{Pool, SlotEvent, stop_slots};
pub use crate::control::Silence;
use crate::control::{
    Bootstrap, HostCommand, HostEvent, HostReply, HostSpec, HostTelemetry, SpecRequest, Subjects,
    unix_us,
};
use crate::error::AppError;
use crate::nats::client::{self, ClientAuth};
use crate::observation::{ClusterEventKind, WorkerView};
use crate::parti::events::WorkerEvent;
use crate::parti::source::StaticSource;
use crate::parti::worker::WorkerSpec;
use crate::procfs;

/// How long the stop of all workers may take on the way out when the controller asked for it.
const SHUTDOWN_STOP_BUDGET: Duration = Duration::from_secs(10);
/// The same when the controller is gone (its nats-server is usually gone with it, so cleanup
/// writes can only time out).
const ORPHANED_STOP_BUDGET: Duration = Duration::from_secs(3);

/// A joined host leaves when it could not reach NATS for this long (it cannot hear whether its
/// controller still runs).
const JOINED_UNREACHABLE_LIMIT: Duration = Duration::from_secs(60);

/// How often the host checks how long the controller has been silent.
const WATCHDOG_PERIOD: Duration = Duration::from_millis(250);

/// Read the bootstrap line from stdin.
pub async fn read_bootstrap(
    stdin: &mut tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>,
) -> Result<Bootstrap, AppError> {
    let line = tokio::time::timeout(Duration::from_secs(10), stdin.next_line())
        .await
        .map_err(|_| AppError::could_not_run("no bootstrap line on stdin within 10 s"))?
        .map_err(AppError::could_not_run)?
        .ok_or_else(|| AppError::could_not_run("stdin closed before the bootstrap line"))?;
    serde_json::from_str(&line)
        .map_err(|err| AppError::could_not_run(format!("bad bootstrap line: {err}")))
}

/// Map a worker event to the observation vocabulary (`None` for internal ones).
pub fn cluster_event_kind(event: &WorkerEvent) -> Option<ClusterEventKind> {
    Some(match event {
        WorkerEvent::StateChanged { from, to } => ClusterEventKind::StateChanged {
            from: *from,
            to: *to,
        },
        WorkerEvent::IdClaimed { .. } => ClusterEventKind::IdClaimed,
        WorkerEvent::IdLost { reclaimed, .. } => ClusterEventKind::IdLost {
            reclaimed: *reclaimed,
        },
        WorkerEvent::Leadership { is_leader } => ClusterEventKind::Leadership {
            is_leader: *is_leader,
        },
        WorkerEvent::Calculator { .. } => return None,
        WorkerEvent::AssignmentApplied {
            version,
            initial,
            total,
            added,
            removed,
            ..
        } => ClusterEventKind::AssignmentApplied {
            version: *version,
            initial: *initial,
            total: *total,
            added: added.len(),
            removed: removed.len(),
        },
        WorkerEvent::Published {
            version,
            lifecycle,
            workers,
            partitions,
        } => ClusterEventKind::Published {
            version: *version,
            lifecycle: lifecycle.as_str().to_owned(),
            workers: *workers,
            partitions: *partitions,
        },
        WorkerEvent::Warning { message } => ClusterEventKind::Warning {
            message: message.clone(),
        },
    })
}

/// Why the host is leaving.
enum Exit {
    Signal(&'static str),
    Shutdown,
    StdinClosed,
    ControllerSilent,
    ControlConnectionLost,
    Unreachable(Duration),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Signal(signal) => write!(f, "{signal}"),
            Exit::Shutdown => f.write_str("the run ended (the controller asked the host to leave)"),
            Exit::StdinClosed => f.write_str("the controller closed stdin"),
            Exit::ControllerSilent => f.write_str("the controller's alive beat stopped"),
            Exit::ControlConnectionLost => f.write_str("the control connection closed"),
            Exit::Unreachable(limit) => write!(
                f,
                "NATS was unreachable for {}",
                crate::parti::duration::Human(*limit)
            ),
        }
    }
}

enum Done {
    Connected(crate::host::Connected),
    Stopped(Vec<(u64, Result<(), crate::parti::Error>)>),
}

struct Host {
    bootstrap: Bootstrap,
    subjects: Subjects,
    control: async_nats::Client,
    pool: Pool,
    events_dropped: u64,
    done_tx: mpsc::UnboundedSender<Done>,
    /// A joined host reads its own RSS and CPU for its telemetry.
    own_meter: Option<procfs::CpuMeter>,
}

/// This process's RSS and CPU since the previous reading.
fn read_own_process(meter: &mut procfs::CpuMeter) -> Option<crate::control::ProcessReading> {
    let pid = std::process::id();
    let reading = procfs::read(pid)?;
    Some(crate::control::ProcessReading {
        rss_bytes: reading.rss_bytes,
        cpu_percent: meter.percent(pid, reading.cpu_ticks, std::time::Instant::now()),
    })
}

/// Stdin of a host the controller started (its end of file means the controller is gone).
type StdinLines = tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>;

/// Run a controlled host to completion.
pub async fn run() -> Result<(), AppError> {
    let signals = crate::signals::Signals::new().map_err(AppError::could_not_run)?;
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let bootstrap = read_bootstrap(&mut stdin).await?;
    die_with_controller(bootstrap.controller_pid)?;
    let auth = ClientAuth {
        user: bootstrap.user.clone(),
        password: bootstrap.password.clone(),
        ..ClientAuth::default()
    };
    let name = format!("parti-top-host-{}-control", bootstrap.host);
    let control = client::connect(&bootstrap.server_url, &auth, &name)
        .await
        .map_err(AppError::could_not_run)?;
    serve(bootstrap, auth, control, Some(stdin), signals).await
}

/// Run a host that joined a run from another machine (`parti-top host --join`): the same as a
/// controlled host once it has its number, but with no parent and no stdin to watch; it leaves
/// when the controller's `alive` beat stops or the run ends.
pub async fn run_joined(
    bootstrap: Bootstrap,
    auth: ClientAuth,
    control: async_nats::Client,
    signals: crate::signals::Signals,
) -> Result<(), AppError> {
    serve(bootstrap, auth, control, None, signals).await
}

/// The next stdin line, or never when there is no stdin to watch.
async fn next_line(stdin: &mut Option<StdinLines>) -> std::io::Result<Option<String>> {
    match stdin {
        Some(lines) => lines.next_line().await,
        None => std::future::pending().await,
    }
}

async fn serve(
    bootstrap: Bootstrap,
    auth: ClientAuth,
    control: async_nats::Client,
    mut stdin: Option<StdinLines>,
    mut signals: crate::signals::Signals,
) -> Result<(), AppError> {
    let _ballast = match procfs::ballast_from_env().map_err(AppError::could_not_run)? {
        Some(mib) => {
            info!("holding {mib} MiB of ballast ({})", procfs::BALLAST_ENV);
            Some(procfs::ballast(mib))
        }
        None => None,
    };
    let subjects = Subjects::new(&bootstrap.run_id);
    let spec = request_spec(&control, &subjects, bootstrap.host).await?;
    let mut commands = control
        .subscribe(subjects.command(bootstrap.host))
        .await
        .map_err(AppError::could_not_run)?;
    let mut alive = control
        .subscribe(subjects.alive())
        .await
        .map_err(AppError::could_not_run)?;
    control.flush().await.map_err(AppError::could_not_run)?;

    let worker_spec = WorkerSpec {
        config: spec.config(),
        source: Arc::new(StaticSource::new(spec.partitions.clone())),
        strategy: spec.strategy.build(),
        consumer: None,
    };
    let work = spec.work.clone().map(|work| {
        Arc::new(super::work::Work::start(
            &control,
            &bootstrap.run_id,
            bootstrap.host,
            work,
            spec.partitions.clone(),
        ))
    });
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let pool = match bootstrap.worker_url.clone() {
        Some(url) => Pool::new(
            url,
            auth,
            worker_spec,
            format!("parti-top-host-{}", bootstrap.host),
            events_tx,
        )
        .pinned(),
        None => Pool::new(
            bootstrap.server_url.clone(),
            auth,
            worker_spec,
            format!("parti-top-host-{}", bootstrap.host),
            events_tx,
        ),
    };
    let pool = match &work {
        Some(work) => pool.with_work(work.clone()),
        None => pool,
    }
    .with_connection(spec.connection);
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut host = Host {
        bootstrap,
        subjects,
        control,
        pool,
        events_dropped: 0,
        done_tx,
        own_meter: stdin.is_none().then(procfs::CpuMeter::default),
    };
    info!("ready for run {}", host.subjects.run_id());

    let mut telemetry = tokio::time::interval(spec.sample_interval());
    telemetry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watchdog = tokio::time::interval(WATCHDOG_PERIOD);
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reap = tokio::time::interval(Duration::from_secs(1));
    let mut silence = Silence::with_period(Instant::now(), WATCHDOG_PERIOD);
    let timeout = spec.controller_timeout();
    // A joined host has no parent whose death would end it: it also leaves when it could not
    // reach NATS at all for this long.
    let unreachable_limit = stdin.is_none().then_some(JOINED_UNREACHABLE_LIMIT);
    let mut disconnected_since: Option<Instant> = None;
    let exit = loop {
        tokio::select! {
            signal = signals.next() => break Exit::Signal(signal),
            line = next_line(&mut stdin) => {
                if !matches!(line, Ok(Some(_))) {
                    break Exit::StdinClosed;
                }
            }
            message = commands.next() => {
                let Some(message) = message else { break Exit::ControlConnectionLost };
                if host.on_command(message).await {
                    break Exit::Shutdown;
                }
            }
            message = alive.next() => {
                if message.is_none() {
                    break Exit::ControlConnectionLost;
                }
                silence.heard(Instant::now());
            }
            Some(event) = events.recv() => host.forward(event).await,
            Some(finished) = done.recv() => host.on_done(finished).await,
            _ = telemetry.tick() => host.publish_telemetry().await,
            _ = reap.tick() => {
                for (slot, result) in host.pool.reap_finished().await {
                    let how = match result { Ok(()) => "stopped".to_owned(), Err(err) => err.to_string() };
                    host.publish_event(Some(slot), None, ClusterEventKind::WorkerEnded { how }).await;
                }
            }
            _ = watchdog.tick() => {
                // Stdin and the parent-death signal still catch a dead controller while the
                // silence clock is held.
                let connected =
                    host.control.connection_state() == async_nats::connection::State::Connected;
                let now = Instant::now();
                if silence.tick(now, connected) > timeout {
                    break Exit::ControllerSilent;
                }
                disconnected_since = if connected { None } else { disconnected_since.or(Some(now)) };
                if let (Some(since), Some(limit)) = (disconnected_since, unreachable_limit)
                    && now.duration_since(since) > limit
                {
                    break Exit::Unreachable(limit);
                }
            }
        }
    };
    info!(
        "leaving run {}: {exit}; stopping {}",
        host.subjects.run_id(),
        crate::text::plural(host.pool.len() as u64, "worker")
    );
    let budget = match exit {
        Exit::Shutdown => SHUTDOWN_STOP_BUDGET,
        _ => ORPHANED_STOP_BUDGET,
    };
    let stopped = tokio::time::timeout(budget, host.pool.stop_all())
        .await
        .unwrap_or_default();
    for (slot, _) in stopped {
        host.publish_event(
            Some(slot),
            None,
            ClusterEventKind::WorkerEnded {
                how: "stopped".into(),
            },
        )
        .await;
    }
    if let Some(work) = &work {
        work.flush(Duration::from_secs(5)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), host.control.flush()).await;
    Ok(())
}

/// Exit at once, as `kill -9` would end the process: no worker is stopped, nothing is flushed
/// (the kernel closes the connections).
fn abort_now() -> ! {
    std::process::exit(137)
}

/// Die with the controller even if it is killed with SIGKILL. The signal is SIGKILL: a host
/// frozen by a pause when its controller dies would hold a SIGTERM pending forever (nobody is
/// left to send SIGCONT). Its workers' keys then expire by their TTLs, as after a crash. A
/// producer process dies with its controller the same way.
pub fn die_with_controller(controller_pid: u32) -> Result<(), AppError> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(AppError::could_not_run)?;
    let parent = nix::unistd::getppid().as_raw();
    if u32::try_from(parent).ok() != Some(controller_pid) {
        return Err(AppError::could_not_run(format!(
            "the controller (pid {controller_pid}) is gone; parent is now {parent}"
        )));
    }
    Ok(())
}

async fn request_spec(
    control: &async_nats::Client,
    subjects: &Subjects,
    host: u32,
) -> Result<HostSpec, AppError> {
    let request = serde_json::to_vec(&SpecRequest {
        host,
        pid: std::process::id(),
    })
    .map_err(AppError::could_not_run)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = tokio::time::timeout(
            Duration::from_secs(2),
            control.request(subjects.spec(), request.clone().into()),
        )
        .await;
        match reply {
            Ok(Ok(message)) => {
                return serde_json::from_slice(&message.payload)
                    .map_err(|err| AppError::could_not_run(format!("bad host spec: {err}")));
            }
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => {
                return Err(AppError::could_not_run(
                    "the controller did not send a host spec within 10 s",
                ));
            }
        }
    }
}

impl Host {
    fn views(&self) -> Vec<WorkerView> {
        self.pool
            .slots()
            .iter()
            .map(|slot| {
                let status = slot.status();
                WorkerView {
                    host: self.bootstrap.host,
                    slot: slot.slot,
                    worker_id: status.worker_id,
                    state: status.state,
                    is_leader: status.is_leader,
                    version: status.version,
                    partitions: status.partitions,
                }
            })
            .collect()
    }

    async fn publish_event(
        &mut self,
        slot: Option<u64>,
        worker_id: Option<String>,
        kind: ClusterEventKind,
    ) {
        let event = HostEvent {
            t_unix_us: unix_us(),
            host: self.bootstrap.host,
            slot,
            worker_id,
            kind,
        };
        let sent = match serde_json::to_vec(&event) {
            Ok(body) => self
                .control
                .publish(self.subjects.events(self.bootstrap.host), body.into())
                .await
                .is_ok(),
            Err(_) => false,
        };
        if !sent {
            self.events_dropped += 1;
        }
    }

    async fn forward(&mut self, event: SlotEvent) {
        if let Some(kind) = cluster_event_kind(&event.event) {
            self.publish_event(Some(event.slot), event.worker_id, kind)
                .await;
        }
    }

    async fn publish_telemetry(&mut self) {
        let telemetry = HostTelemetry {
            t_unix_us: unix_us(),
            host: self.bootstrap.host,
            pid: std::process::id(),
            live_heap_bytes: procfs::live_heap_bytes(),
            tasks: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks() as u64,
            workers: self.views(),
            events_dropped: self.events_dropped,
            process: self.own_meter.as_mut().and_then(read_own_process),
        };
        if let Ok(body) = serde_json::to_vec(&telemetry) {
            let _ = self
                .control
                .publish(self.subjects.telemetry(self.bootstrap.host), body.into())
                .await;
        }
    }

    async fn on_done(&mut self, done: Done) {
        match done {
            Done::Connected(connected) => {
                for (slot, client) in connected {
                    match client {
                        Ok(client) => {
                            self.pool.spawn_worker(slot, client);
                            self.publish_event(Some(slot), None, ClusterEventKind::WorkerStarted)
                                .await;
                        }
                        Err(err) => {
                            warn!("slot {slot}: {err}");
                            let how = format!("could not connect: {err}");
                            self.publish_event(
                                Some(slot),
                                None,
                                ClusterEventKind::WorkerEnded { how },
                            )
                            .await;
                        }
                    }
                }
            }
            Done::Stopped(stopped) => {
                for (slot, result) in stopped {
                    let how = match result {
                        Ok(()) => "stopped".to_owned(),
                        Err(err) => format!("stopped with error: {err}"),
                    };
                    self.publish_event(Some(slot), None, ClusterEventKind::WorkerEnded { how })
                        .await;
                }
            }
        }
    }

    /// Handle one command and reply; returns true for `Shutdown`.
    async fn on_command(&mut self, message: async_nats::Message) -> bool {
        let command: Result<HostCommand, _> = serde_json::from_slice(&message.payload);
        let mut reply = HostReply {
            ok: true,
            error: None,
            workers: Vec::new(),
            started: Vec::new(),
        };
        let mut shutdown = false;
        match command {
            Err(err) => {
                reply.ok = false;
                reply.error = Some(format!("bad command: {err}"));
            }
            Ok(HostCommand::Start { count }) => {
                let reserved = self.pool.reserve(count);
                reply.started = reserved.iter().map(|(slot, _)| *slot).collect();
                let connector = self.pool.connector(reserved);
                let done = self.done_tx.clone();
                tokio::spawn(async move {
                    let _ = done.send(Done::Connected(connector.await));
                });
            }
            Ok(HostCommand::StopNewest { count }) => {
                let slots = self.pool.take_newest(count);
                self.stop_in_background(slots);
            }
            Ok(HostCommand::Stop { worker_id }) => match self.pool.take_worker(&worker_id) {
                Some(slot) => self.stop_in_background(vec![slot]),
                None => {
                    reply.ok = false;
                    reply.error = Some(format!(
                        "no worker {worker_id} on host {}",
                        self.bootstrap.host
                    ));
                }
            },
            Ok(HostCommand::Kill { worker_id }) => match self.pool.kill_worker(&worker_id) {
                Some(slot) => {
                    let how = "killed".to_owned();
                    self.publish_event(
                        Some(slot),
                        Some(worker_id),
                        ClusterEventKind::WorkerEnded { how },
                    )
                    .await;
                }
                None => {
                    reply.ok = false;
                    reply.error = Some(format!(
                        "no worker {worker_id} on host {}",
                        self.bootstrap.host
                    ));
                }
            },
            Ok(HostCommand::Status) => {}
            Ok(HostCommand::Shutdown) => shutdown = true,
            Ok(HostCommand::Abort) => {
                if let Some(subject) = message.reply
                    && let Ok(body) = serde_json::to_vec(&reply)
                {
                    let _ = self.control.publish(subject, body.into()).await;
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), self.control.flush()).await;
                warn!(
                    "killed by the controller of run {}: exiting at once, workers left to expire",
                    self.subjects.run_id()
                );
                abort_now();
            }
        }
        reply.workers = self.views();
        if let (Some(subject), Ok(body)) = (message.reply, serde_json::to_vec(&reply)) {
            let _ = self.control.publish(subject, body.into()).await;
            let _ = self.control.flush().await;
        }
        shutdown
    }

    fn stop_in_background(&self, slots: Vec<super::Slot>) {
        if slots.is_empty() {
            return;
        }
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let _ = done.send(Done::Stopped(stop_slots(slots).await));
        });
    }
}
