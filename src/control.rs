//! The control plane between the controller and its hosts: NATS subjects namespaced by a run
//! id, and the JSON messages on them. Hosts ignore every subject outside their own run.
//!
//! | Subject | Direction | Body |
//! |---|---|---|
//! | `parti-top.<run>.controller.join` | joining host → controller, request/reply | [`JoinRequest`] → [`JoinReply`] |
//! | `parti-top.<run>.controller.spec` | host → controller, request/reply | [`SpecRequest`] → [`HostSpec`] |
//! | `parti-top.<run>.controller.alive` | controller → hosts, every second | empty |
//! | `parti-top.<run>.host.<n>.cmd` | controller → host, request/reply | [`HostCommand`] → [`HostReply`] |
//! | `parti-top.<run>.host.<n>.events` | host → controller, as they happen | [`HostEvent`] |
//! | `parti-top.<run>.host.<n>.telemetry` | host → controller, every sample interval | [`HostTelemetry`] |
//!
//! A host the controller started learns its number from its [`Bootstrap`]; a host started by
//! hand elsewhere (`parti-top host --join <run>`) asks for one on the join subject, and the
//! controller gives numbers in join order ([`Admissions`]). A joined host has no parent to die
//! with: it is judged lost when it stays silent for [`host_silence_limit`] ([`Silence`]).

use std::time::Duration;

mod partitions;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::observation::{ClusterEventKind, WorkerView};
use crate::parti::config::Config;
use crate::parti::partition::Partition;
use crate::parti::strategy::StrategyConfig;

/// Subjects of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    run: String,
}

impl Subjects {
    pub fn new(run_id: &str) -> Self {
        Self {
            run: run_id.to_owned(),
        }
    }
    pub fn run_id(&self) -> &str {
        &self.run
    }
    pub fn join(&self) -> String {
        format!("parti-top.{}.controller.join", self.run)
    }
    pub fn spec(&self) -> String {
        format!("parti-top.{}.controller.spec", self.run)
    }
    pub fn alive(&self) -> String {
        format!("parti-top.{}.controller.alive", self.run)
    }
    pub fn command(&self, host: u32) -> String {
        format!("parti-top.{}.host.{host}.cmd", self.run)
    }
    pub fn events(&self, host: u32) -> String {
        format!("parti-top.{}.host.{host}.events", self.run)
    }
    pub fn telemetry(&self, host: u32) -> String {
        format!("parti-top.{}.host.{host}.telemetry", self.run)
    }
    /// Every host's events (wildcard).
    pub fn all_events(&self) -> String {
        format!("parti-top.{}.host.*.events", self.run)
    }
    /// Every host's telemetry (wildcard).
    pub fn all_telemetry(&self) -> String {
        format!("parti-top.{}.host.*.telemetry", self.run)
    }
    /// The host number in a host subject.
    pub fn host_of(&self, subject: &str) -> Option<u32> {
        let rest = subject.strip_prefix(&format!("parti-top.{}.host.", self.run))?;
        rest.split('.').next()?.parse().ok()
    }
}

/// What a controlled host reads from stdin (one JSON line): never on the command line.
#[derive(Clone, Serialize, Deserialize)]
pub struct Bootstrap {
    pub run_id: String,
    pub host: u32,
    pub server_url: String,
    /// Where the host's workers connect, when not `server_url`: the host's fault proxy (so a
    /// cut link cuts the workers while the control connection, and so the host, stays up), or
    /// a cluster's seed list.
    #[serde(default)]
    pub worker_url: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The controller's pid: the host exits if its parent is no longer this process.
    pub controller_pid: u32,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrap")
            .field("run_id", &self.run_id)
            .field("host", &self.host)
            .field("server_url", &self.server_url)
            .field("worker_url", &self.worker_url)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A host asks for its worker specification.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpecRequest {
    pub host: u32,
    pub pid: u32,
}

/// Everything a host needs to run workers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostSpec {
    pub worker_id_prefix: String,
    pub worker_id_min: u32,
    pub worker_id_max: u32,
    pub timing: crate::parti::config::Timing,
    /// Sent as a count when they are parti-top's numbered partitions (see [`partitions`]).
    #[serde(with = "partitions")]
    pub partitions: Vec<Partition>,
    pub strategy: StrategyConfig,
    pub sample_interval_ms: u64,
    /// The host stops its workers and exits when the controller has been silent this long.
    pub controller_timeout_ms: u64,
    /// The message load its workers consume, when the profile has one.
    #[serde(default)]
    pub work: Option<HostWork>,
    /// One NATS connection per worker, or one shared by all the host's workers.
    #[serde(default)]
    pub connection: ConnectionMode,
}

/// How a host connects its workers to NATS (docs/profiles.md, `cluster.connection`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectionMode {
    /// Each worker has its own connection (a killed worker's connection drops with it).
    #[default]
    PerWorker,
    /// All workers of a host share one connection, as several Go Managers over one
    /// `nats.Conn` would.
    PerHost,
}

impl ConnectionMode {
    /// The command-line spelling: `per-worker` or `per-host`.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionMode::PerWorker => "per-worker",
            ConnectionMode::PerHost => "per-host",
        }
    }
}

impl std::fmt::Display for ConnectionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ConnectionMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "per-worker" => Ok(ConnectionMode::PerWorker),
            "per-host" => Ok(ConnectionMode::PerHost),
            other => Err(format!(
                "unknown connection mode {other:?} (expected per-worker or per-host)"
            )),
        }
    }
}

/// What a host's workers need to consume the load: the work stream, the load's settings and
/// how long a message may be held before it must not be acked any more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostWork {
    pub stream: String,
    pub consumer_prefix: String,
    pub load: crate::load::spec::LoadSpec,
    /// Never ack a message held longer than this (the heartbeat TTL: by then the partition may
    /// have moved and the message been redelivered).
    pub max_hold_ms: u64,
    /// After the host was frozen or a worker's connection was down, acks wait this long (the
    /// worker first catches up with the assignments published meanwhile).
    pub settle_ms: u64,
}

impl HostSpec {
    pub fn config(&self) -> Config {
        let mut config = Config::with_timing(self.timing.clone());
        config.worker_id_prefix = self.worker_id_prefix.clone();
        config.worker_id_min = self.worker_id_min;
        config.worker_id_max = self.worker_id_max;
        config
    }

    pub fn sample_interval(&self) -> Duration {
        Duration::from_millis(self.sample_interval_ms.max(10))
    }

    pub fn controller_timeout(&self) -> Duration {
        Duration::from_millis(self.controller_timeout_ms.max(500))
    }
}

/// A request to a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostCommand {
    /// Start `count` workers at once.
    Start { count: usize },
    /// Gracefully stop the newest `count` workers.
    StopNewest { count: usize },
    /// Gracefully stop the worker with this stable ID.
    Stop { worker_id: String },
    /// Crash the worker with this stable ID: abort and drop its connection.
    Kill { worker_id: String },
    /// Report the workers.
    Status,
    /// Exit at once without stopping the workers (a joined host's `kill -9`: its workers'
    /// keys expire by their TTLs, as after a crash).
    Abort,
    /// Stop every worker gracefully, then exit.
    Shutdown,
}

/// A host's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReply {
    pub ok: bool,
    pub error: Option<String>,
    /// The host's workers after the command was accepted.
    pub workers: Vec<WorkerView>,
    /// Slots started by a `Start`.
    pub started: Vec<u64>,
}

/// Something that happened in a host, stamped with the host's wall clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostEvent {
    pub t_unix_us: u64,
    pub host: u32,
    pub slot: Option<u64>,
    pub worker_id: Option<String>,
    pub kind: ClusterEventKind,
}

/// A host's periodic report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostTelemetry {
    pub t_unix_us: u64,
    pub host: u32,
    pub pid: u32,
    /// Allocator-reported live heap of the whole host process.
    pub live_heap_bytes: u64,
    /// tokio alive tasks of the whole host process.
    pub tasks: u64,
    pub workers: Vec<WorkerView>,
    /// Events the host could not send.
    pub events_dropped: u64,
    /// The host's own reading of its RSS and CPU, sent by a joined host only (the controller
    /// reads a local host's from `/proc`, but cannot read another machine's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessReading>,
}

/// A process's resident memory and CPU, as it reads them itself.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessReading {
    pub rss_bytes: u64,
    /// Percent of one core since the previous report (`None` on the first).
    pub cpu_percent: Option<f64>,
}

/// The version a joining host must run: the messages on the control subjects are this build's.
pub const PROTOCOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether `run_id` can name a run: it becomes one token of a NATS subject.
pub fn check_run_id(run_id: &str) -> Result<(), String> {
    let valid = !run_id.is_empty()
        && run_id.len() <= 64
        && run_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "run id {run_id:?}: use 1 to 64 letters, digits, '-' or '_'"
        ))
    }
}

/// A host started by hand asks to join a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// Unique per host process: a repeated request (a lost reply) gets the same number.
    pub nonce: String,
    /// The joining machine's name, for the controller's log.
    pub hostname: String,
    pub pid: u32,
    /// The host's parti-top version ([`PROTOCOL_VERSION`]).
    pub version: String,
}

impl JoinRequest {
    /// Where the host runs, for messages: `machine-b pid 4242`.
    pub fn origin(&self) -> String {
        format!("{} pid {}", self.hostname, self.pid)
    }
}

/// The controller's answer to a [`JoinRequest`]: a host number, or why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinReply {
    Accepted { host: u32 },
    Refused { reason: String },
}

/// The controller's book of joined hosts: numbers in join order, up to the number the run
/// needs, the same number again for a repeated request.
#[derive(Clone, Debug)]
pub struct Admissions {
    expected: u32,
    version: String,
    joined: Vec<JoinRequest>,
}

impl Admissions {
    pub fn new(expected: u32, version: &str) -> Self {
        Self {
            expected,
            version: version.to_owned(),
            joined: Vec::new(),
        }
    }

    /// Admit `request`: its host number and whether it is new, or why it is refused.
    pub fn admit(&mut self, request: &JoinRequest) -> Result<(u32, bool), String> {
        let number = |index: usize| u32::try_from(index).unwrap_or(u32::MAX);
        if let Some(index) = self.joined.iter().position(|j| j.nonce == request.nonce) {
            return Ok((number(index), false));
        }
        if request.version != self.version {
            return Err(format!(
                "version mismatch: the controller runs parti-top {}, this host {}",
                self.version, request.version
            ));
        }
        if self.joined.len() >= self.expected as usize {
            return Err(format!(
                "the run already has its {} (joins are taken until the run starts)",
                crate::text::plural(u64::from(self.expected), "host")
            ));
        }
        self.joined.push(request.clone());
        Ok((number(self.joined.len() - 1), true))
    }

    /// Hosts joined so far.
    pub fn joined(&self) -> usize {
        self.joined.len()
    }
}

/// How long a joined host may stay silent (no telemetry, no event) before the controller
/// counts it lost: three sample intervals, and never less than 3 s.
pub fn host_silence_limit(sample_interval: Duration) -> Duration {
    (3 * sample_interval).max(Duration::from_secs(3))
}

/// How long a peer has been silent, counting only time in which it could have been heard:
/// each watchdog tick adds the time since the previous one, but never more than two periods (a
/// longer gap means the listening process was frozen by SIGSTOP or starved, and could not
/// listen), and nothing while the listener's connection is down.
#[derive(Clone, Copy, Debug)]
pub struct Silence {
    silent: Duration,
    last_tick: Instant,
    period: Duration,
}

impl Silence {
    /// A silence clock ticked every 250 ms.
    pub fn new(now: Instant) -> Self {
        Self::with_period(now, Duration::from_millis(250))
    }

    /// A silence clock ticked every `period`.
    pub fn with_period(now: Instant, period: Duration) -> Self {
        Self {
            silent: Duration::ZERO,
            last_tick: now,
            period,
        }
    }

    /// The peer was heard at `now`.
    pub fn heard(&mut self, now: Instant) {
        self.silent = Duration::ZERO;
        self.last_tick = now;
    }

    /// A watchdog tick at `now`; returns the silence counted so far.
    pub fn tick(&mut self, now: Instant, connected: bool) -> Duration {
        let step = now.saturating_duration_since(self.last_tick);
        self.last_tick = now;
        if connected {
            self.silent += step.min(2 * self.period);
        }
        self.silent
    }
}

/// Microseconds since the Unix epoch, the clock hosts and controller share on one machine.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_namespaced_by_run() {
        let subjects = Subjects::new("r1");
        assert_eq!(subjects.command(3), "parti-top.r1.host.3.cmd");
        assert_eq!(subjects.host_of("parti-top.r1.host.3.events"), Some(3));
        assert_eq!(subjects.host_of("parti-top.r2.host.3.events"), None);
        assert_eq!(subjects.all_telemetry(), "parti-top.r1.host.*.telemetry");
    }

    fn request(nonce: &str, version: &str) -> JoinRequest {
        JoinRequest {
            nonce: nonce.into(),
            hostname: "machine-b".into(),
            pid: 7,
            version: version.into(),
        }
    }

    #[test]
    fn joins_get_numbers_in_join_order_up_to_the_hosts_the_run_needs() {
        let mut book = Admissions::new(2, "1.0");
        assert_eq!(book.admit(&request("a", "1.0")), Ok((0, true)));
        assert_eq!(book.admit(&request("b", "1.0")), Ok((1, true)));
        // A repeated request (its reply was lost) gets its number again.
        assert_eq!(book.admit(&request("a", "1.0")), Ok((0, false)));
        let refused = book.admit(&request("c", "1.0")).expect_err("full");
        assert!(refused.contains("already has its 2 hosts"), "{refused}");
        assert_eq!(book.joined(), 2);
        let mut book = Admissions::new(2, "1.0");
        let refused = book.admit(&request("a", "0.9")).expect_err("version");
        assert!(
            refused.contains("1.0") && refused.contains("0.9"),
            "{refused}"
        );
        assert_eq!(book.joined(), 0);
    }

    #[test]
    fn run_ids_are_one_subject_token() {
        assert!(check_run_id("lab-run_7").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", &"x".repeat(65)] {
            assert!(check_run_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Subjects::new("r1").join(), "parti-top.r1.controller.join");
    }

    #[test]
    fn a_joined_host_is_lost_after_three_sample_intervals_and_never_under_3_s() {
        assert_eq!(
            host_silence_limit(Duration::from_millis(250)),
            Duration::from_secs(3)
        );
        assert_eq!(
            host_silence_limit(Duration::from_secs(2)),
            Duration::from_secs(6)
        );
    }

    #[test]
    fn silence_counts_only_time_the_listener_could_listen() {
        let start = Instant::now();
        let mut silence = Silence::new(start);
        let at = |ms: u64| start + Duration::from_millis(ms);
        // Regular ticks add up.
        for ms in (250..=5_000).step_by(250) {
            silence.tick(at(ms), true);
        }
        assert_eq!(silence.tick(at(5_250), true), Duration::from_millis(5_250));
        silence.heard(at(5_300));
        assert_eq!(silence.tick(at(5_550), true), Duration::from_millis(250));
        // Frozen for 10 s (SIGSTOP): the first tick after SIGCONT adds at most two periods.
        assert_eq!(silence.tick(at(15_550), true), Duration::from_millis(750));
        // Disconnected: nothing counts, and the gap does not carry over.
        assert_eq!(silence.tick(at(25_000), false), Duration::from_millis(750));
        assert_eq!(silence.tick(at(25_250), true), Duration::from_millis(1_000));
    }

    #[test]
    fn join_messages_round_trip_as_json() {
        for reply in [
            JoinReply::Accepted { host: 2 },
            JoinReply::Refused {
                reason: "full".into(),
            },
        ] {
            let json = serde_json::to_string(&reply).expect("json");
            assert_eq!(
                serde_json::from_str::<JoinReply>(&json).expect("parse"),
                reply
            );
        }
        let json = serde_json::to_string(&HostCommand::Abort).expect("json");
        assert_eq!(
            serde_json::from_str::<HostCommand>(&json).expect("parse"),
            HostCommand::Abort
        );
    }

    #[test]
    fn bootstrap_debug_hides_the_password() {
        let bootstrap = Bootstrap {
            run_id: "r".into(),
            host: 0,
            server_url: "nats://127.0.0.1:1".into(),
            worker_url: None,
            user: Some("u".into()),
            password: Some("secret".into()),
            controller_pid: 1,
        };
        assert!(!format!("{bootstrap:?}").contains("secret"));
    }

    #[test]
    fn commands_round_trip_as_json() {
        for command in [
            HostCommand::Start { count: 3 },
            HostCommand::Kill {
                worker_id: "worker-1".into(),
            },
            HostCommand::Shutdown,
        ] {
            let json = serde_json::to_string(&command).expect("json");
            assert_eq!(
                serde_json::from_str::<HostCommand>(&json).expect("parse"),
                command
            );
        }
    }
}
