//! The control plane between the controller and its hosts: NATS subjects namespaced by a run
//! id, and the JSON messages on them. Hosts ignore every subject outside their own run.
//!
//! | Subject | Direction | Body |
//! |---|---|---|
//! | `parti-top.<run>.controller.spec` | host → controller, request/reply | [`SpecRequest`] → [`HostSpec`] |
//! | `parti-top.<run>.controller.alive` | controller → hosts, every second | empty |
//! | `parti-top.<run>.host.<n>.cmd` | controller → host, request/reply | [`HostCommand`] → [`HostReply`] |
//! | `parti-top.<run>.host.<n>.events` | host → controller, as they happen | [`HostEvent`] |
//! | `parti-top.<run>.host.<n>.telemetry` | host → controller, every sample interval | [`HostTelemetry`] |

use std::time::Duration;

use serde::{Deserialize, Serialize};

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
