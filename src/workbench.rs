//! The workbench: the composition root of a run. It starts (or connects to) nats-server, the
//! host processes and the observer, runs the engine, the sampler and the control link, carries
//! out [`Action`]s, and shuts everything down in order. Front ends (headless runner, TUI) hold a
//! [`Workbench`] and read its observation broadcast and [`ClusterState`].

pub mod act;
mod actor;
pub mod engine;
mod heartbeats;
pub mod hosts;
pub mod link;
pub mod links;
pub mod load;
pub mod sampler;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::action::{Action, ActionSource};
use crate::control::{Bootstrap, HostCommand, HostReply, HostSpec, Subjects};
use crate::error::AppError;
use crate::measure::ClusterState;
use crate::measure::{Measure, Settings};
use crate::nats::ManagedCluster;
use crate::nats::client::{self, ClientAuth};
use crate::nats::supervisor::ManagedServer;
use crate::observation::Observation;
use crate::parti::duration::Human;
use crate::profile::{NatsSetup, Profile};
use engine::{EngineInput, RunClock};
use hosts::HostProcess;
use sampler::Targets;

/// How soon a command that found no host listening is sent again.
const COMMAND_RETRY: Duration = Duration::from_millis(100);

pub use crate::action::Rng;

/// How many observations the broadcast keeps for a slow consumer before it starts dropping (the
/// ring is allocated up front: about 190 bytes a slot).
pub const OBSERVATION_BUFFER: usize = 8_192;

/// Options that do not come from the profile.
#[derive(Clone, Debug, Default)]
pub struct WorkbenchOptions {
    /// `--nats-server PATH` for a managed server.
    pub nats_server: Option<PathBuf>,
    /// Credentials for an external server.
    pub auth: ClientAuth,
    /// An external server URL that overrides the profile's NATS setup.
    pub server_url: Option<String>,
    /// Extra environment for host processes.
    pub host_env: Vec<(String, String)>,
    /// Start no host: wait this long for the profile's hosts to join from other machines
    /// (`parti-top host --join`, docs/scaling.md).
    pub join: Option<Duration>,
    /// The run id, instead of a random one.
    pub run_id: Option<String>,
}

/// A running workbench. It is shared (`&self` everywhere): the TUI and a profile's scenario can
/// act on it at the same time. Actions go to one actor task ([`actor`]) that owns the parts
/// actions change and carries them out one at a time, replying on a oneshot; nothing holds a
/// lock across a NATS round trip. Ending the run ([`Workbench::stop_workers`],
/// [`Workbench::shutdown`]) cancels the action in flight at its next await and refuses later
/// ones, so quitting never waits behind a long action (a serial start of many workers).
pub struct Workbench {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<actor::Command>,
    end_actions: CancellationToken,
}

impl std::ops::Deref for Workbench {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// The parts of a workbench that never change once it runs, readable from every task.
pub struct Shared {
    profile: Profile,
    run_id: String,
    clock: RunClock,
    nats_version: Option<String>,
    url: String,
    control: async_nats::Client,
    subjects: Subjects,
    engine: mpsc::UnboundedSender<EngineInput>,
    observations: broadcast::Sender<Observation>,
    state: watch::Receiver<ClusterState>,
    targets: Targets,
    cancel: CancellationToken,
    /// Hosts whose exit an action asked for.
    expected_exits: Arc<Mutex<BTreeSet<u32>>>,
    managed_server: bool,
    /// The managed NATS cluster, when the profile asks for one (`KillNatsNode` acts on it from
    /// a task of its own, hence the lock).
    cluster: Option<Arc<tokio::sync::Mutex<ManagedCluster>>>,
    nats_nodes: usize,
    /// The message load, when the profile has one.
    load: Option<Arc<load::LoadRun>>,
    /// Each host's link to a managed NATS (its fault proxy), by host.
    links: Vec<crate::netfault::LinkControl>,
    /// What the machine allows (open files, memory): no action starts more workers.
    capacity: crate::limits::Capacity,
    /// How other NATS tools reach a managed server.
    connect_info: Option<crate::nats::connect_info::ConnectInfo>,
    /// How hosts on other machines join the run (empty when the controller started them).
    join_hints: Vec<String>,
    /// When the observer last saw each worker's heartbeat key written.
    heartbeats: heartbeats::HeartbeatsSeen,
}

/// The part of a workbench that actions change.
pub(crate) struct Mutable {
    managed: Option<ManagedServer>,
    /// The hosts' fault proxies (stopped after the hosts).
    proxies: Option<links::Links>,
    hosts: Vec<HostProcess>,
    /// Workers each host is meant to run.
    planned: Vec<usize>,
    rng: Rng,
    /// Actions handed to the engine so far.
    actions_sent: usize,
    workers_stopped: bool,
    shut_down: bool,
}

fn run_id() -> String {
    let seed = crate::control::unix_us() ^ (u64::from(std::process::id()) << 32);
    format!("{:08x}", Rng::new(seed).next_u64() & 0xffff_ffff)
}

impl Workbench {
    /// Start everything a profile's cluster needs (no workers yet).
    pub async fn start(
        profile: &Profile,
        options: WorkbenchOptions,
    ) -> Result<Workbench, AppError> {
        let mut spec = HostSpec {
            worker_id_prefix: profile.cluster.worker_id_prefix.clone(),
            worker_id_min: profile.cluster.worker_id_min,
            worker_id_max: profile.cluster.worker_id_max,
            timing: profile.cluster.timing.timing(),
            partitions: profile.cluster.partitions.partitions(),
            strategy: profile.cluster.strategy.clone(),
            sample_interval_ms: millis(profile.sample_interval),
            controller_timeout_ms: 5_000,
            work: None,
            connection: profile.cluster.connection,
        };
        let config = spec.config();
        let setup = match (&options.server_url, &profile.nats) {
            (Some(url), _) => NatsSetup::External { url: url.clone() },
            (None, setup) => setup.clone(),
        };
        if options.join.is_some() && !matches!(setup, NatsSetup::External { .. }) {
            return Err(AppError::could_not_run(
                "--join-hosts needs --server URL: a NATS the other machines reach",
            ));
        }
        if let Some(id) = &options.run_id {
            crate::control::check_run_id(id).map_err(AppError::could_not_run)?;
        }
        let (managed, cluster, servers, auth) = match setup {
            NatsSetup::External { url } => (None, None, vec![url], options.auth.clone()),
            NatsSetup::Managed => {
                let server = crate::nats::start_managed(options.nats_server.clone()).await?;
                let auth = ClientAuth::from(server.credentials());
                let servers = vec![server.url().to_owned()];
                (Some(server), None, servers, auth)
            }
            NatsSetup::Cluster(nodes) => {
                let cluster =
                    crate::nats::start_cluster(options.nats_server.clone(), nodes).await?;
                let auth = ClientAuth::from(cluster.credentials());
                let servers = cluster.seed_urls();
                (None, Some(cluster), servers, auth)
            }
        };
        let url = servers.join(",");
        // Buckets (and the work stream) are replicated on up to 3 nodes of a managed cluster.
        let replicas = cluster.as_ref().map_or(1, |c| c.node_count().min(3));
        let proxies = if managed.is_some() || cluster.is_some() {
            Some(
                links::Links::start(profile.cluster.hosts, &servers)
                    .await
                    .map_err(AppError::could_not_run)?,
            )
        } else {
            None
        };
        let run_id = options.run_id.clone().unwrap_or_else(run_id);
        let subjects = Subjects::new(&run_id);
        let control = client::connect(&url, &auth, "parti-top-controller")
            .await
            .map_err(AppError::could_not_run)?;
        let nats_version = Some(control.server_info().version).filter(|v| !v.is_empty());
        let cancel = CancellationToken::new();
        let clock = RunClock::start();
        let (observations, _) = broadcast::channel(OBSERVATION_BUFFER);
        let (engine_tx, engine_rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(ClusterState::default());
        let timing = &spec.timing;
        let settings = Settings {
            quiet_period_ms: millis(profile.quiet_period),
            leader_overlap_ms: millis(timing.election_interval()) + 1_000,
            dead_owner_grace_ms: millis(
                timing.heartbeat_ttl
                    + timing.emergency_grace_period
                    + timing.min_rebalance_interval
                    + timing.cold_start_window
                    + timing.election_timeout,
            ) + 1_000,
        };
        let measure = Measure::new(spec.partitions.clone(), settings);
        tokio::spawn(engine::run(
            measure,
            clock,
            engine_rx,
            observations.clone(),
            state_tx,
        ));

        let load = match &profile.load {
            Some(load) => {
                let run = load::LoadRun::start(
                    &control,
                    &run_id,
                    load,
                    &spec.partitions,
                    replicas,
                    clock.now_ms(),
                    &spec.timing,
                )
                .await
                .map_err(AppError::could_not_run)?;
                spec.work = Some(run.host_work(&spec.timing));
                Some(Arc::new(run))
            }
            None => None,
        };
        let targets = Targets::default();
        targets.set_nats(managed.as_ref().and_then(ManagedServer::pid));
        let heard = hosts::Heard::default();
        let silence_limit = crate::control::host_silence_limit(spec.sample_interval());
        link::serve_link(
            &control,
            &subjects,
            spec,
            engine_tx.clone(),
            targets.clone(),
            heard.clone(),
            cancel.clone(),
        )
        .await?;

        let observer = client::connect(&url, &auth, "parti-top-observer")
            .await
            .map_err(AppError::could_not_run)?;
        let (kv_tx, mut kv_rx) = mpsc::unbounded_channel();
        crate::observer::watch::spawn(observer, &config, replicas, kv_tx, cancel.clone())
            .await
            .map_err(|err| {
                AppError::could_not_run(format!("cannot watch the parti buckets: {err}"))
            })?;
        let forward = engine_tx.clone();
        let owners = load.clone();
        let heartbeats = heartbeats::HeartbeatsSeen::default();
        let seen = heartbeats.clone();
        tokio::spawn(async move {
            while let Some(change) = kv_rx.recv().await {
                heartbeats::note(&seen, &change);
                if let Some(load) = &owners {
                    load.note(&change);
                }
                if forward.send(EngineInput::Kv(change)).is_err() {
                    break;
                }
            }
        });

        let expected_exits = Arc::new(Mutex::new(BTreeSet::new()));
        let (exits_tx, exits_rx) = mpsc::unbounded_channel();
        tokio::spawn(link::watch_exits(
            exits_rx,
            engine_tx.clone(),
            targets.clone(),
            expected_exits.clone(),
        ));
        let (mut hosts, join_hints) = match options.join {
            Some(timeout) => {
                link::join_hosts(link::JoinWait {
                    control: &control,
                    subjects: &subjects,
                    url: &url,
                    auth: &auth,
                    expected: profile.cluster.hosts,
                    timeout,
                    heard: &heard,
                    silence_limit,
                    exits: exits_tx.clone(),
                    cancel: cancel.clone(),
                })
                .await?
            }
            None => (Vec::new(), Vec::new()),
        };
        for host in (0..profile.cluster.hosts).filter(|_| options.join.is_none()) {
            let bootstrap = Bootstrap {
                run_id: run_id.clone(),
                host,
                server_url: url.clone(),
                worker_url: proxies.as_ref().and_then(|p| p.url(host)),
                user: auth.user.clone(),
                password: auth.password.clone(),
                controller_pid: std::process::id(),
            };
            let process = HostProcess::spawn(&bootstrap, &options.host_env, exits_tx.clone())
                .await
                .map_err(|err| {
                    AppError::could_not_run(format!("cannot start host {host}: {err}"))
                })?;
            targets.set_host(host, process.pid());
            hosts.push(process);
        }
        let host_count = hosts.len();
        let shared = Arc::new(Shared {
            profile: profile.clone(),
            run_id,
            clock,
            nats_version,
            url,
            control,
            subjects,
            engine: engine_tx,
            observations,
            state,
            targets: targets.clone(),
            cancel,
            expected_exits,
            managed_server: managed.is_some() || cluster.is_some(),
            links: proxies
                .as_ref()
                .map(|p| {
                    (0..host_count as u32)
                        .filter_map(|h| p.control(h))
                        .collect()
                })
                .unwrap_or_default(),
            nats_nodes: cluster.as_ref().map_or(1, ManagedCluster::node_count),
            load: load.clone(),
            cluster: cluster.map(|c| Arc::new(tokio::sync::Mutex::new(c))),
            capacity: crate::limits::capacity(),
            connect_info: managed.as_ref().map(|m| m.connect_info().clone()),
            join_hints,
            heartbeats,
        });
        let mut mutable = Mutable {
            managed,
            proxies,
            planned: vec![0; host_count],
            hosts,
            rng: Rng::new(profile.seed),
            actions_sent: 0,
            workers_stopped: false,
            shut_down: false,
        };
        for host in 0..host_count {
            let host = u32::try_from(host).unwrap_or(u32::MAX);
            if let Err(err) = shared.wait_host_ready(&mutable, host).await {
                actor::shutdown(&shared, &mut mutable).await;
                return Err(err);
            }
        }
        if let Some(load) = &shared.load {
            let template = Bootstrap {
                run_id: shared.run_id.clone(),
                host: 0,
                server_url: shared.url.clone(),
                worker_url: None,
                user: auth.user.clone(),
                password: auth.password.clone(),
                controller_pid: std::process::id(),
            };
            let partitions = profile.cluster.partitions.partitions();
            if let Err(err) = load
                .start_producers(&template, &partitions, &options.host_env)
                .await
            {
                actor::shutdown(&shared, &mut mutable).await;
                return Err(AppError::could_not_run(err));
            }
        }
        let (commands, receiver) = mpsc::unbounded_channel();
        let end_actions = CancellationToken::new();
        tokio::spawn(actor::run(
            shared.clone(),
            mutable,
            receiver,
            end_actions.clone(),
        ));
        let workbench = Workbench {
            shared,
            commands,
            end_actions,
        };
        tokio::spawn(sampler::run(
            targets,
            profile.sample_interval,
            clock.started,
            workbench.observations.clone(),
            workbench.engine.clone(),
            workbench.load.clone(),
            workbench.cancel.clone(),
        ));
        info!(
            "run {} ready: {} on {}",
            workbench.run_id,
            crate::text::plural(host_count as u64, "host"),
            workbench.url
        );
        Ok(workbench)
    }
}

impl Shared {
    async fn wait_host_ready(&self, mutable: &Mutable, host: u32) -> Result<(), AppError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let exited = mutable
                .hosts
                .get(host as usize)
                .is_none_or(HostProcess::has_exited);
            if exited {
                return Err(AppError::could_not_run(format!(
                    "host {host} exited during start-up (see the log)"
                )));
            }
            if self.command(host, &HostCommand::Status).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(AppError::could_not_run(format!(
                    "host {host} did not answer within 20 s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Send a command to a host and wait for its reply.
    pub async fn command(&self, host: u32, command: &HostCommand) -> Result<HostReply, String> {
        let body: bytes::Bytes = serde_json::to_vec(command)
            .map_err(|err| err.to_string())?
            .into();
        // "No responders" means the host never got the command (its control subscription is
        // not there, e.g. while it reconnects after a nats-server restart): asking again is
        // safe. A timeout is not retried: the command may have been carried out.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let message = loop {
            let request = self
                .control
                .request(self.subjects.command(host), body.clone());
            match tokio::time::timeout_at(deadline, request).await {
                Err(_) => return Err(format!("host {host} did not answer within 5 s")),
                Ok(Ok(message)) => break message,
                Ok(Err(err))
                    if err.kind() == async_nats::RequestErrorKind::NoResponders
                        && tokio::time::Instant::now() + COMMAND_RETRY < deadline =>
                {
                    tokio::time::sleep(COMMAND_RETRY).await;
                }
                Ok(Err(err)) => return Err(format!("host {host}: {err}")),
            }
        };
        let reply: HostReply = serde_json::from_slice(&message.payload)
            .map_err(|err| format!("host {host}: bad reply: {err}"))?;
        if reply.ok {
            Ok(reply)
        } else {
            Err(reply.error.unwrap_or_else(|| "refused".into()))
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn nats_version(&self) -> Option<&str> {
        self.nats_version.as_deref()
    }

    pub fn server_url(&self) -> &str {
        &self.url
    }

    pub fn is_managed(&self) -> bool {
        self.managed_server
    }

    /// Nodes of the managed NATS cluster; 1 for a single server (managed or external).
    pub fn nats_nodes(&self) -> usize {
        self.nats_nodes
    }

    /// The message load of the run, if it has one.
    pub fn load(&self) -> Option<Arc<load::LoadRun>> {
        self.load.clone()
    }

    /// Whether each host reaches NATS through its fault proxy.
    pub fn proxied(&self) -> bool {
        !self.links.is_empty()
    }

    /// Each host's link counters (bytes, connections, cut), by host; empty when not proxied.
    pub fn link_stats(&self) -> Vec<crate::netfault::LinkStats> {
        self.links
            .iter()
            .map(crate::netfault::LinkControl::stats)
            .collect()
    }

    /// How to point the nats CLI, nats-top and the checker at the managed server (no password:
    /// it is in 0600 files the lines name); for hosts that joined from other machines, who
    /// they are and the join command; else empty.
    pub fn connect_hints(&self) -> Vec<String> {
        use crate::nats::connect_info::{ClusterShape, hint_lines};
        use crate::profile::TimingSetup;
        let Some(info) = &self.connect_info else {
            return self.join_hints.clone();
        };
        let cluster = &self.profile.cluster;
        let shape = match &cluster.timing {
            TimingSetup::Preset(preset) => Some(ClusterShape {
                partitions: cluster.partitions.len(),
                timing: preset.name(),
            }),
            TimingSetup::Explicit(_) => None,
        };
        hint_lines(info, shape)
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Observation> {
        self.observations.subscribe()
    }

    pub fn observations(&self) -> &broadcast::Sender<Observation> {
        &self.observations
    }

    /// Each worker ID's time since the observer last saw its heartbeat key written.
    pub fn heartbeat_ages(&self) -> std::collections::BTreeMap<String, Duration> {
        heartbeats::ages(&self.heartbeats)
    }

    pub fn state(&self) -> watch::Receiver<ClusterState> {
        self.state.clone()
    }

    /// Wait until at least `actions` actions have been processed and the last event is
    /// complete: stable, then quiet for the quiet period. Returns why not on timeout. A
    /// cluster with no worker is never stable: waiting on one fails.
    pub async fn wait_stable(&self, actions: usize, timeout: Duration) -> Result<(), String> {
        self.wait_quiet(actions, timeout).await?;
        if self.state.borrow().workers.is_empty() {
            return Err(crate::measure::EMPTY_REASON.to_owned());
        }
        Ok(())
    }

    /// Wait until at least `actions` actions have been processed and the last event has
    /// closed after stabilizing (or emptying) and staying quiet.
    async fn wait_quiet(&self, actions: usize, timeout: Duration) -> Result<(), String> {
        let mut state = self.state.clone();
        let waited =
            tokio::time::timeout(timeout, state.wait_for(|s| s.actions >= actions && s.quiet))
                .await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err("the engine stopped".into()),
            Err(_) => {
                let state = self.state.borrow();
                Err(match (&state.reason, state.stable) {
                    (Some(reason), _) => reason.clone(),
                    (None, true) => {
                        "stable, but new versions kept appearing (no quiet period)".into()
                    }
                    (None, false) => "not stable".into(),
                })
            }
        }
    }

    /// Why the managed nats-server is down when nothing asked for it, if it is: as the sampler
    /// reported it, or as a check of its pid finds it now.
    pub fn nats_lost(&self) -> Option<String> {
        self.state.borrow().nats_lost.clone().or_else(|| {
            self.targets
                .nats_gone()
                .map(|pid| format!("nats-server (pid {pid}) is gone"))
        })
    }
}

impl Workbench {
    /// Carry out an action. Returns the number of actions processed so far (to wait on), or why
    /// it could not be carried out (the failure is recorded too). Actions are carried out one
    /// at a time, whoever asks (an operator's key, a profile step); once the run is ending they
    /// are refused.
    pub async fn act(&self, action: Action, source: ActionSource) -> Result<usize, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let command = actor::Command::Act {
            action,
            source,
            reply,
        };
        if self.commands.send(command).is_err() {
            return Err(actor::ENDED.to_owned());
        }
        answer
            .await
            .unwrap_or_else(|_| Err(actor::ENDED.to_owned()))
    }

    /// Between the repeats of a profile: let a pause under way end, close the open event (if
    /// it had not stabilized it never did: nothing overtook it), then stop every worker
    /// gracefully and wait until none runs and that event has closed.
    pub async fn empty(&self, source: ActionSource, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut state = self.state.clone();
        tokio::time::timeout_at(deadline, state.wait_for(|s| s.paused_hosts.is_empty()))
            .await
            .map_err(|_| format!("hosts still paused after {}", Human(timeout)))?
            .map_err(|_| "the engine stopped".to_owned())?;
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        if self.engine.send(EngineInput::CloseEvent(done_tx)).is_ok() {
            let _ = tokio::time::timeout_at(deadline, done_rx).await;
        }
        let seq = self.act(Action::ScaleTo(0), source).await?;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.wait_quiet(seq, left).await
    }

    /// Close the open event and stop every worker gracefully. The action in flight is cancelled
    /// and later ones are refused: the run is ending. The hosts and nats-server keep running.
    /// A second call does nothing. With nats-server lost no worker can stop gracefully (nor
    /// hear the command): the hosts stop them when they are stopped.
    pub async fn stop_workers(&self) {
        self.end_actions.cancel();
        self.ask(actor::Command::StopWorkers).await;
    }

    /// Stop in order: the action in flight, the open event, the workers (gracefully), the hosts,
    /// the background tasks, nats-server. A second call does nothing.
    pub async fn shutdown(&self) {
        self.end_actions.cancel();
        self.ask(actor::Command::Shutdown).await;
    }

    async fn ask(&self, command: impl FnOnce(tokio::sync::oneshot::Sender<()>) -> actor::Command) {
        let (reply, done) = tokio::sync::oneshot::channel();
        if self.commands.send(command(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

pub(crate) fn live_hosts(hosts: &[HostProcess]) -> Vec<u32> {
    hosts
        .iter()
        .filter(|h| !h.has_exited())
        .map(|h| h.host)
        .collect()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
