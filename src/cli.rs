//! Command-line surface (DESIGN.md §6) as clap types, and their translation into the
//! configuration values the rest of the crate takes. No IO here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::nats::client::ClientAuth;
use crate::parti::config::{Config, Timing, TimingPreset};
use crate::parti::duration;
use crate::parti::strategy::{StrategyConfig, StrategyKind};
use crate::profile::Overrides;

/// parti-top: a terminal workbench for load-testing parti clusters.
#[derive(Debug, Parser)]
#[command(name = "parti-top", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// A run of the workbench: the TUI, or headless with `--headless`.
#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    /// Run without the terminal UI; progress on stderr, exit code is the verdict.
    #[arg(long)]
    pub headless: bool,
    /// The profile to run.
    #[arg(long, value_name = "P.ron")]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub outputs: OutputArgs,
    /// Run the profile's steps N times (overrides its `repeats`); the summary gives min /
    /// median / max per metric and comparisons use medians.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeats: Option<u32>,
    /// Compare with this recording (overrides the profile's baseline).
    #[arg(long, value_name = "R.ron")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub cluster: ClusterOverrides,
    #[command(flatten)]
    pub join: JoinArgs,
}

/// Hosts started by hand on other machines (docs/scaling.md).
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Hosts on other machines")]
pub struct JoinArgs {
    /// Start no host processes: print the `parti-top host --join` command to run on each
    /// machine and wait until the profile's `cluster.hosts` hosts have joined (needs
    /// `--server`).
    #[arg(long)]
    pub join_hosts: bool,
    /// How long to wait for the hosts to join (then exit 2).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "5m")]
    pub join_timeout: Duration,
    /// The run id (letters, digits, '-', '_'; default random): lets scripts start the joining
    /// hosts with a known `--join` value.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
}

impl JoinArgs {
    /// The join mode, when asked for.
    pub fn join(&self) -> Option<Duration> {
        self.join_hosts.then_some(self.join_timeout)
    }
}

/// The cluster of a run, set on the command line: without `--profile` they change the built-in
/// default setup, with it they override the profile's cluster (docs/profiles.md, "Overriding
/// the cluster from the command line").
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Cluster (overrides the profile's)")]
pub struct ClusterOverrides {
    /// Workers the run starts with: the profile's first ScaleTo step becomes ScaleTo(N) (one is
    /// inserted first when there is none).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Partitions: N single-key partitions `partition-0` … `partition-<N-1>`, weight 100.
    #[arg(long, value_name = "N")]
    pub partitions: Option<usize>,
    /// Timing preset: production (parti defaults), integration or fast.
    #[arg(long, value_name = "PRESET")]
    pub timing: Option<TimingPreset>,
    /// Host processes the workers are spread over.
    #[arg(long, value_name = "N")]
    pub hosts: Option<u32>,
    /// Assignment strategy: consistent-hash, weighted-consistent-hash or round-robin.
    #[arg(long, value_name = "STRATEGY")]
    pub strategy: Option<StrategyKind>,
    /// NATS connections of each host: per-worker (one each) or per-host (one shared by all
    /// the host's workers).
    #[arg(long, value_name = "MODE")]
    pub connection: Option<crate::control::ConnectionMode>,
    /// Seed of every random choice (kill targets, chaos schedules): another seed, another
    /// schedule; the same seed, the same one.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

impl ClusterOverrides {
    /// The overrides as the profile module takes them.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            workers: self.workers,
            partitions: self.partitions,
            timing: self.timing,
            hosts: self.hosts,
            strategy: self.strategy,
            connection: self.connection,
            seed: self.seed,
        }
    }
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once; boxing would only obscure the clap types"
)]
pub enum Command {
    /// Check a profile (errors carry file:line:col), or read back a recording.
    Validate {
        /// A profile or a recording.
        profile: PathBuf,
    },
    /// Re-run a recording's timeline on its recorded setup and compare the new run with it
    /// (exit 0 pass, 1 regressed or failed, 2 could not run).
    Replay(ReplayArgs),
    /// Open a recording in the dashboard, read-only, with a time cursor (←/→, [/], +/-).
    Review {
        /// A recording (an autosave of a run still going opens too).
        recording: PathBuf,
    },
    /// Run K parti workers in this process until SIGTERM/SIGINT (started by the controller, or by
    /// hand against any NATS server).
    Host(HostArgs),
    /// Publish one producer's share of a run's message load (docs/load.md) until SIGTERM/SIGINT,
    /// reporting every stored message to the run's ledger (started by the controller, or by
    /// hand against a server with --job).
    Producer(ProducerArgs),
    /// Compare recording B with recording A (the baseline), metric by metric; exit 1 when B
    /// regressed.
    Diff(DiffArgs),
    /// Print a recording's summary, and write it as a self-contained HTML page with --html.
    Report(ReportArgs),
    /// Watch an existing parti cluster (Go or Rust workers) read-only, from its KV buckets
    /// alone: the dashboard, line by line with --headless, or the state once with --once (exit
    /// 0 valid, 1 invalid, 2 could not read).
    Attach(AttachArgs),
}

/// `parti-top attach --server URL`.
#[derive(Debug, Clone, Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Read the buckets once, print the state and exit (0 valid, 1 invalid, 2 could not read).
    #[arg(long)]
    pub once: bool,
    /// Print the state as JSON (with --once: one object; with --headless: one line per change).
    #[arg(long)]
    pub json: bool,
    /// Print state changes, events and findings line by line until SIGINT, without the
    /// dashboard (the default when there is no terminal).
    #[arg(long)]
    pub headless: bool,
    /// Record what the attach saw (a recording `parti-top review` opens).
    #[arg(long, value_name = "OUT.ron")]
    pub record: Option<PathBuf>,
    /// Overwrite an existing --record file.
    #[arg(long)]
    pub force: bool,
    /// The cluster runs partitions `partition-0` … `partition-<N-1>`: each must be owned (without
    /// it, the partitions the assignments hold are the ones checked).
    #[arg(long, value_name = "N")]
    pub partitions: Option<usize>,
    /// Give up connecting after this long.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// An event closes once no new version has appeared for this long after it stabilized.
    #[arg(long, value_parser = parse_duration, default_value = "2s", value_name = "DURATION")]
    pub quiet_period: Duration,
    /// A problem lasting this long is reported as a finding (default: five heartbeat TTLs,
    /// at least 10 s).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub finding_after: Option<Duration>,
    /// Serve the live figures in the Prometheus text format at http://ADDR/metrics (port 0
    /// takes any free port; the address is printed). Not with --once.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
}

/// `parti-top diff A.ron B.ron`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The baseline recording.
    #[arg(value_name = "A.ron")]
    pub a: PathBuf,
    /// The recording compared with it.
    #[arg(value_name = "B.ron")]
    pub b: PathBuf,
    /// Print the comparison as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Compare even if the setups differ or a recording is incomplete.
    #[arg(long)]
    pub force: bool,
    /// Also write the comparison as a self-contained HTML page (replaced if it exists).
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
}

/// `parti-top report R.ron`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The recording.
    #[arg(value_name = "R.ron")]
    pub recording: PathBuf,
    /// Write a self-contained HTML report (inline CSS and SVG; replaced if it exists).
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Print the summary as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `parti-top replay R.ron`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The recording to replay (a headless run, an interactive session, a replay, or an
    /// autosave of a run that did not end).
    pub recording: PathBuf,
    /// Run without the terminal UI; the exit code is the verdict.
    #[arg(long)]
    pub headless: bool,
    #[command(flatten)]
    pub outputs: OutputArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Where a run's recording and reports go, shared by runs and replays.
#[derive(Debug, Clone, Args, Default)]
pub struct OutputArgs {
    /// Where to write the recording (default: recordings/runs/<profile>-<time>-<run>.ron).
    #[arg(long, value_name = "OUT.ron")]
    pub record: Option<PathBuf>,
    /// Print the summary as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report.
    #[arg(long, value_name = "OUT.xml")]
    pub junit: Option<PathBuf>,
    /// Also write the run as a self-contained HTML report (charts, events, verdict).
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Compare with a baseline (a replay's source) even if the setups differ or it is
    /// incomplete, and overwrite an existing --record file.
    #[arg(long)]
    pub force: bool,
    /// Serve the live figures for Prometheus at http://ADDR/metrics (port 0: any free port;
    /// the address is printed on stderr). See docs/metrics.md.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
}

/// How to reach NATS, following the NATS tools' conventions.
#[derive(Debug, Clone, Args, Default)]
pub struct ConnectionArgs {
    /// NATS server URL. Without it (and without NATS_URL) a managed nats-server is started.
    #[arg(short = 's', long = "server", env = "NATS_URL", value_name = "URL")]
    pub server: Option<String>,
    /// Credentials file (JWT + NKey seed).
    #[arg(long, value_name = "FILE")]
    pub creds: Option<PathBuf>,
    /// User name.
    #[arg(long, env = "NATS_USER", value_name = "USER")]
    pub user: Option<String>,
    /// Password (prefer the NATS_PASSWORD variable: command lines are visible in `ps`).
    #[arg(
        long,
        env = "NATS_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// CA certificate to trust (enables TLS).
    #[arg(long = "tls-ca", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (with --tls-key).
    #[arg(long = "tls-cert", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Client key (with --tls-cert).
    #[arg(long = "tls-key", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// nats-server binary to use for a managed server.
    #[arg(long = "nats-server", value_name = "PATH")]
    pub nats_server: Option<PathBuf>,
}

impl ConnectionArgs {
    pub fn auth(&self) -> ClientAuth {
        ClientAuth {
            creds_file: self.creds.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            token: None,
            tls_ca: self.tls_ca.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
        }
    }
}

/// `parti-top host`.
#[derive(Debug, Clone, Args)]
pub struct HostArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Number of workers to run.
    #[arg(short = 'w', long, default_value_t = 1)]
    pub workers: usize,
    /// Number of partitions: single-key partitions `partition-0` … `partition-<P-1>`, weight 100.
    #[arg(short = 'p', long, default_value_t = 100)]
    pub partitions: usize,
    /// NATS connections: one per worker, or one shared by all the host's workers.
    #[arg(long = "connection", default_value = "per-worker", value_name = "MODE")]
    pub connection_mode: crate::control::ConnectionMode,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Run under a controller: read the bootstrap (credentials, run id) from stdin and take
    /// commands over NATS. Set by parti-top itself.
    #[arg(long, hide = true)]
    pub controlled: bool,
    /// Join run RUN of a controller on another machine (`--join-hosts`): take a host number
    /// and the worker specification from it over NATS (`--server`, with this machine's own
    /// credentials) and run its share of the workers until the run ends (docs/scaling.md).
    #[arg(
        long,
        value_name = "RUN",
        conflicts_with_all = ["controlled", "workers", "partitions"]
    )]
    pub join: Option<String>,
}

/// `parti-top producer`.
#[derive(Debug, Clone, Args)]
pub struct ProducerArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The job as JSON (`load::producer::ProducerJob`: run_id, producer, spec, partitions).
    #[arg(long, env = "PARTI_TOP_LOAD_JOB", value_name = "JSON")]
    pub job: Option<String>,
    /// Run id, overriding the job's (namespaces the ledger subject).
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Producer index, overriding the job's.
    #[arg(long, value_name = "N")]
    pub producer: Option<u32>,
    /// Create (or update) this work stream before publishing.
    #[arg(long, value_name = "NAME")]
    pub ensure_stream: Option<String>,
    /// Stop after this long instead of waiting for a signal.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Run under a controller: read the bootstrap line (credentials, run id, producer index)
    /// and then the job line from stdin. Set by parti-top itself.
    #[arg(long, hide = true)]
    pub controlled: bool,
}

/// Protocol settings shared by every way of running workers.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Timing preset: production (parti defaults), integration or fast.
    #[arg(long, default_value = "production", value_name = "PRESET")]
    pub timing: TimingPreset,
    /// Assignment strategy: consistent-hash, weighted-consistent-hash or round-robin.
    #[arg(long, default_value = "consistent-hash", value_name = "STRATEGY")]
    pub strategy: StrategyKind,
    /// Virtual nodes per worker on the hash ring (default 150).
    #[arg(long, value_name = "N")]
    pub virtual_nodes: Option<usize>,
    /// Hash seed of the ring (default 0).
    #[arg(long, value_name = "SEED")]
    pub hash_seed: Option<u64>,
    /// Worker ID prefix.
    #[arg(long, default_value = "worker", value_name = "PREFIX")]
    pub worker_id_prefix: String,
    /// Lowest worker ID number.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub worker_id_min: u32,
    /// Highest worker ID number.
    #[arg(long, default_value_t = 99, value_name = "N")]
    pub worker_id_max: u32,
    #[command(flatten)]
    pub durations: DurationArgs,
}

/// Explicit durations that override the preset (e.g. `500ms`, `1.5s`, `2m`).
#[derive(Debug, Clone, Default, Args)]
pub struct DurationArgs {
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub heartbeat_interval: Option<Duration>,
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub heartbeat_ttl: Option<Duration>,
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub worker_id_ttl: Option<Duration>,
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub election_timeout: Option<Duration>,
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub cold_start_window: Option<Duration>,
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub planned_scale_window: Option<Duration>,
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub min_rebalance_interval: Option<Duration>,
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub emergency_grace_period: Option<Duration>,
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub startup_timeout: Option<Duration>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    duration::parse(text).map_err(|err| err.to_string())
}

impl DurationArgs {
    /// Apply the overrides to a preset's timing.
    pub fn apply(&self, mut timing: Timing) -> Timing {
        let overrides = [
            (self.heartbeat_interval, &mut timing.heartbeat_interval),
            (self.heartbeat_ttl, &mut timing.heartbeat_ttl),
            (self.worker_id_ttl, &mut timing.worker_id_ttl),
            (self.election_timeout, &mut timing.election_timeout),
            (self.cold_start_window, &mut timing.cold_start_window),
            (self.planned_scale_window, &mut timing.planned_scale_window),
            (
                self.min_rebalance_interval,
                &mut timing.min_rebalance_interval,
            ),
            (
                self.emergency_grace_period,
                &mut timing.emergency_grace_period,
            ),
            (self.startup_timeout, &mut timing.startup_timeout),
        ];
        for (value, slot) in overrides {
            if let Some(value) = value {
                *slot = value;
            }
        }
        timing
    }
}

impl ClusterArgs {
    /// The worker configuration these flags describe (not yet validated).
    pub fn config(&self) -> Config {
        let mut config = Config::with_timing(self.durations.apply(self.timing.timing()));
        config.worker_id_prefix = self.worker_id_prefix.clone();
        config.worker_id_min = self.worker_id_min;
        config.worker_id_max = self.worker_id_max;
        config
    }

    /// The strategy these flags describe (not yet validated).
    pub fn strategy(&self) -> StrategyConfig {
        StrategyConfig {
            kind: self.strategy,
            virtual_nodes: self.virtual_nodes,
            hash_seed: self.hash_seed,
            ..StrategyConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn host_flags_build_a_config() {
        let cli = Cli::try_parse_from([
            "parti-top",
            "host",
            "--server",
            "nats://127.0.0.1:4222",
            "--workers",
            "5",
            "--partitions",
            "100",
            "--timing",
            "fast",
            "--heartbeat-ttl",
            "2s",
        ])
        .expect("parse");
        let Some(Command::Host(host)) = cli.command else {
            panic!("not host")
        };
        assert_eq!(host.workers, 5);
        let config = host.cluster.config();
        assert_eq!(config.timing.heartbeat_ttl, Duration::from_secs(2));
        assert_eq!(
            config.timing.heartbeat_interval,
            Timing::fast().heartbeat_interval
        );
        config.validate().expect("valid");
    }

    #[test]
    fn cluster_flags_parse_on_a_run_and_stay_apart_from_the_hosts() {
        let cli = Cli::try_parse_from([
            "parti-top",
            "--headless",
            "--profile",
            "p.ron",
            "--workers",
            "10",
            "--partitions",
            "500",
            "--timing",
            "integration",
            "--hosts",
            "2",
            "--strategy",
            "round-robin",
            "--connection",
            "per-host",
        ])
        .expect("parse");
        assert!(cli.command.is_none());
        assert_eq!(
            cli.run.cluster.overrides(),
            Overrides {
                workers: Some(10),
                partitions: Some(500),
                timing: Some(TimingPreset::Integration),
                hosts: Some(2),
                strategy: Some(StrategyKind::RoundRobin),
                connection: Some(crate::control::ConnectionMode::PerHost),
                seed: None,
            }
        );
        let bare = Cli::try_parse_from(["parti-top"]).expect("parse");
        assert!(bare.run.cluster.overrides().is_empty());
        // `host` keeps its own flags and defaults.
        let cli = Cli::try_parse_from(["parti-top", "host", "--workers", "5"]).expect("parse");
        let Some(Command::Host(host)) = cli.command else {
            panic!("not host")
        };
        assert_eq!((host.workers, host.partitions), (5, 100));
        for args in [
            vec!["parti-top", "--timing", "warp"],
            vec!["parti-top", "--workers", "many"],
            vec!["parti-top", "--strategy", "random"],
            vec!["parti-top", "--connection", "shared"],
        ] {
            let err = Cli::try_parse_from(&args).expect_err("rejected");
            assert!(err.to_string().contains(args[1]), "{err}");
        }
    }

    #[test]
    fn repeats_override_the_profile() {
        let cli =
            Cli::try_parse_from(["parti-top", "--headless", "--repeats", "3"]).expect("parse");
        assert_eq!(cli.run.repeats, Some(3));
    }

    #[test]
    fn bad_values_are_rejected_by_the_parser() {
        for args in [
            vec!["parti-top", "host", "--timing", "warp"],
            vec!["parti-top", "host", "--heartbeat-ttl", "soon"],
            vec!["parti-top", "host", "--strategy", "random"],
            vec!["parti-top", "host", "--workers", "-3"],
            vec!["parti-top", "--headless", "--repeats", "0"],
        ] {
            assert!(Cli::try_parse_from(&args).is_err(), "{args:?}");
        }
    }
}
