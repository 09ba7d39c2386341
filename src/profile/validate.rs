//! Value rules for profiles: what ron's type checks cannot see (ranges, cross-field limits, the
//! worker count the steps lead to). Each broken rule is one [`Problem`] that names the field path
//! (`cluster.hosts`, `steps[3]`); [`super`] turns them into `file:line:col` messages.

use std::collections::HashMap;
use std::time::Duration;

use super::locate::Node;
use crate::action::WorkerTarget;
use crate::parti::duration::Human;
use crate::parti::strategy::StrategyError;
use crate::profile::{
    BaselineSpec, ClusterSetup, NatsSetup, PartitionsSetup, Profile, Step, Thresholds, TimingSetup,
};

/// Shortest and longest allowed `sample_interval`.
pub const SAMPLE_INTERVAL_MIN: Duration = Duration::from_millis(50);
pub const SAMPLE_INTERVAL_MAX: Duration = Duration::from_secs(60);
/// Most host processes one profile may ask for.
pub const HOSTS_MAX: u32 = 64;
/// Most partitions one profile may ask for; larger counts are typing mistakes (parti's own
/// largest benchmark uses 10 000).
pub const PARTITIONS_MAX: usize = 100_000;
/// Most nodes a managed NATS cluster may have.
pub const NATS_NODES_MAX: usize = 5;
/// URL schemes an external NATS server may use.
const NATS_SCHEMES: [&str; 4] = ["nats://", "tls://", "ws://", "wss://"];

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The field path shown to the user, e.g. `cluster.partitions[2].keys`.
    pub field: String,
    /// Where to look for the position in the text; usually `field`, sometimes a child of it
    /// that the message names.
    pub anchor: String,
    pub message: String,
}

/// Every broken rule of `profile`, in the order of the schema.
pub fn check(profile: &Profile) -> Vec<Problem> {
    let mut rules = Rules::default();
    rules.top_level(profile);
    rules.cluster(&profile.cluster);
    rules.steps(profile);
    if let Some(load) = &profile.load
        && let Err(err) = load.validate()
    {
        let message = err.to_string();
        let anchor = child_anchor("load", &message);
        rules.report_at("load", anchor, message);
    }
    rules.thresholds(&profile.thresholds);
    if let Some(baseline) = &profile.baseline {
        rules.baseline(baseline);
    }
    rules.problems
}

/// Fields written in the text that the schema would ignore: serde rejects unknown fields only
/// in structs, so the fields of enum variants (`External`, `WaitStable`, `PauseHost`) and of
/// listed partitions (which share the wire type that must ignore unknown JSON fields) are
/// checked here against the text.
pub fn check_fields(profile: &Profile, root: &Node) -> Vec<Problem> {
    let mut rules = Rules::default();
    if let NatsSetup::External { .. } = profile.nats {
        rules.known_fields(root, "nats", "External takes only `url`", &["url"]);
    }
    if let PartitionsSetup::List(list) = &profile.cluster.partitions {
        for index in 0..list.len() {
            let path = format!("cluster.partitions[{index}]");
            let what = "a partition takes only `keys` and `weight`";
            rules.known_fields(root, &path, what, &["keys", "weight"]);
        }
    }
    for (index, step) in profile.steps.iter().enumerate() {
        let path = format!("steps[{index}]");
        match step {
            Step::WaitStable { .. } => {
                rules.known_fields(root, &path, "WaitStable takes only `timeout`", &["timeout"]);
            }
            Step::PauseHost { .. } => {
                let what = "PauseHost takes only `host` and `duration`";
                rules.known_fields(root, &path, what, &["host", "duration"]);
            }
            Step::CutLink { .. } => {
                let what = "CutLink takes only `host` and `duration`";
                rules.known_fields(root, &path, what, &["host", "duration"]);
            }
            Step::SlowLink { .. } => {
                let what = "SlowLink takes only `host`, `latency`, `bandwidth` and `duration`";
                let known = ["host", "latency", "bandwidth", "duration"];
                rules.known_fields(root, &path, what, &known);
            }
            Step::KillNatsNode { .. } => {
                let what = "KillNatsNode takes only `node` and `down`";
                rules.known_fields(root, &path, what, &["node", "down"]);
            }
            _ => {}
        }
    }
    rules.problems
}

#[derive(Default)]
struct Rules {
    problems: Vec<Problem>,
}

impl Rules {
    fn report(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        self.problems.push(Problem {
            anchor: field.clone(),
            field,
            message: message.into(),
        });
    }

    fn report_at(&mut self, field: &str, anchor: String, message: String) {
        self.problems.push(Problem {
            field: field.to_owned(),
            anchor,
            message,
        });
    }

    fn known_fields(&mut self, root: &Node, path: &str, expected: &str, known: &[&str]) {
        let Some(node) = root.find(path) else { return };
        for name in node.field_names().filter(|name| !known.contains(name)) {
            self.report_at(
                path,
                format!("{path}.{name}"),
                format!("unknown field `{name}`; {expected}"),
            );
        }
    }

    fn top_level(&mut self, profile: &Profile) {
        if profile.name.trim().is_empty() {
            self.report("name", "must not be empty");
        }
        let interval = profile.sample_interval;
        if !(SAMPLE_INTERVAL_MIN..=SAMPLE_INTERVAL_MAX).contains(&interval) {
            self.report(
                "sample_interval",
                format!(
                    "{} is outside the allowed range {}–{}",
                    Human(interval),
                    Human(SAMPLE_INTERVAL_MIN),
                    Human(SAMPLE_INTERVAL_MAX)
                ),
            );
        }
        if profile.quiet_period.is_zero() {
            self.report("quiet_period", "must be greater than 0");
        }
        if profile.repeats == 0 {
            self.report("repeats", "must be at least 1");
        }
        if let NatsSetup::Cluster(n) = profile.nats
            && !(3..=NATS_NODES_MAX).contains(&n)
        {
            self.report(
                "nats",
                format!(
                    "Cluster({n}): a managed cluster has 3–{NATS_NODES_MAX} nodes (JetStream \
                     needs a majority to survive the loss of one)"
                ),
            );
        }
        if let NatsSetup::External { url } = &profile.nats {
            let rest = NATS_SCHEMES
                .iter()
                .find_map(|scheme| url.strip_prefix(scheme));
            match rest {
                None => self.report(
                    "nats.url",
                    format!("{url:?} must start with nats://, tls://, ws:// or wss://"),
                ),
                Some("") => self.report("nats.url", format!("{url:?} names no host")),
                Some(_) => {}
            }
        }
    }

    fn cluster(&mut self, cluster: &ClusterSetup) {
        self.partitions(&cluster.partitions);
        if cluster.hosts == 0 || cluster.hosts > HOSTS_MAX {
            self.report(
                "cluster.hosts",
                format!(
                    "{} is outside the allowed range 1–{HOSTS_MAX}",
                    cluster.hosts
                ),
            );
        }
        if cluster.worker_id_min > cluster.worker_id_max {
            self.report(
                "cluster.worker_id_min",
                format!(
                    "{} is greater than cluster.worker_id_max ({}): the worker ID range is empty",
                    cluster.worker_id_min, cluster.worker_id_max
                ),
            );
        }
        let prefix = &cluster.worker_id_prefix;
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.report(
                "cluster.worker_id_prefix",
                format!("{prefix:?} must be non-empty and use only letters, digits, '-' and '_'"),
            );
        }
        if let TimingSetup::Explicit(timing) = &cluster.timing
            && let Err(err) = timing.validate()
        {
            let anchor = child_anchor("cluster.timing", &err.0);
            self.report_at("cluster.timing", anchor, err.0);
        }
        if let Err(err) = cluster.strategy.validate() {
            let message = match err {
                StrategyError::InvalidConfig(message) => message,
                other => other.to_string(),
            };
            let anchor = child_anchor("cluster.strategy", &message);
            self.report_at("cluster.strategy", anchor, message);
        }
    }

    fn partitions(&mut self, partitions: &PartitionsSetup) {
        let list = match partitions {
            PartitionsSetup::Count(0) => {
                self.report(
                    "cluster.partitions",
                    "Count(0): at least 1 partition is needed",
                );
                return;
            }
            PartitionsSetup::Count(n) if *n > PARTITIONS_MAX => {
                self.report(
                    "cluster.partitions",
                    format!("Count({n}): at most {PARTITIONS_MAX} partitions are allowed"),
                );
                return;
            }
            PartitionsSetup::Count(_) => return,
            PartitionsSetup::List(list) => list,
        };
        if list.len() > PARTITIONS_MAX {
            self.report(
                "cluster.partitions",
                format!(
                    "{} partitions listed: at most {PARTITIONS_MAX} are allowed",
                    list.len()
                ),
            );
        }
        if list.is_empty() {
            self.report(
                "cluster.partitions",
                "the list is empty: at least 1 partition is needed",
            );
        }
        let mut seen: HashMap<&[String], usize> = HashMap::new();
        for (index, partition) in list.iter().enumerate() {
            let field = format!("cluster.partitions[{index}]");
            if partition.keys.is_empty() {
                self.report(format!("{field}.keys"), "must hold at least one key");
            }
            if let Some(key) = partition.keys.iter().find(|key| !is_subject_token(key)) {
                self.report(
                    format!("{field}.keys"),
                    format!(
                        "key {key:?} is not a usable NATS subject token (it must be non-empty, \
                         without whitespace, '.', '*' or '>')"
                    ),
                );
            }
            if partition.weight < 0 {
                self.report(
                    format!("{field}.weight"),
                    format!(
                        "{} must be ≥ 0 (0 means the strategy's default weight)",
                        partition.weight
                    ),
                );
            }
            if partition.keys.is_empty() {
                continue;
            }
            if let Some(first) = seen.insert(&partition.keys, index) {
                self.report(
                    format!("{field}.keys"),
                    format!(
                        "{:?} duplicates the keys of cluster.partitions[{first}]",
                        partition.keys
                    ),
                );
            }
        }
    }

    fn steps(&mut self, profile: &Profile) {
        if profile.steps.is_empty() {
            self.report("steps", "the list is empty: at least one step is needed");
            return;
        }
        let cluster = &profile.cluster;
        let pool = WorkerPool::of(cluster);
        // The worker count after each step as a range that surely holds it: after a host is
        // killed the count depends on how the workers were spread. Only certain mistakes are
        // reported: "too many" against `low`, "too few" against `high`.
        let mut low = 0usize;
        let mut high = 0usize;
        // The step that killed each host; a killed host stays down for the rest of the run.
        // (An out-of-range host count is reported on its own; the tracking stays bounded.)
        let mut killed: Vec<Option<usize>> = vec![None; cluster.hosts.min(HOSTS_MAX) as usize];
        for (index, step) in profile.steps.iter().enumerate() {
            let field = format!("steps[{index}]");
            let shown = step_text(step);
            let no_host_left = !killed.is_empty() && killed.iter().all(Option::is_some);
            match step {
                Step::ScaleTo(n) => {
                    self.check_pool(&field, &pool, *n, &format!("{shown} needs {n} workers"));
                    if *n > high && no_host_left {
                        self.report(&field, format!("{shown}: every host has been killed"));
                    }
                    (low, high) = (*n, *n);
                }
                Step::AddWorkers(n) => {
                    if *n == 0 {
                        self.report(&field, format!("{shown} adds no workers"));
                    } else if no_host_left {
                        self.report(&field, format!("{shown}: every host has been killed"));
                    }
                    let total = low.saturating_add(*n);
                    let bound = if low == high { "" } else { "at least " };
                    let what = format!("{shown} brings the cluster to {bound}{total} workers");
                    self.check_pool(&field, &pool, total, &what);
                    (low, high) = (total, high.saturating_add(*n));
                }
                Step::RemoveWorkers(n) => {
                    if *n == 0 {
                        self.report(&field, format!("{shown} removes no workers"));
                    } else if *n > high {
                        self.report(
                            &field,
                            format!("{shown} removes more workers than run here (at most {high})"),
                        );
                    }
                    (low, high) = (low.saturating_sub(*n), high.saturating_sub(*n));
                }
                Step::KillWorker(target) | Step::StopWorker(target) => {
                    self.check_target(&field, &shown, target, &pool, high);
                    (low, high) = (low.saturating_sub(1), high.saturating_sub(1));
                }
                Step::KillLeader => {
                    self.check_target(&field, &shown, &WorkerTarget::Leader, &pool, high);
                    (low, high) = (low.saturating_sub(1), high.saturating_sub(1));
                }
                Step::KillHost(host) => {
                    self.check_host(&field, &shown, *host, cluster.hosts, &killed);
                    if let Some(slot) = killed.get_mut(*host as usize)
                        && slot.is_none()
                    {
                        *slot = Some(index);
                    }
                    if killed.iter().all(Option::is_some) {
                        (low, high) = (0, 0);
                    } else {
                        // The host held anything from none to all of the workers.
                        low = 0;
                    }
                }
                Step::PauseHost { host, duration } => {
                    self.check_host(&field, &shown, *host, cluster.hosts, &killed);
                    if duration.is_zero() {
                        self.report_at(
                            &field,
                            format!("{field}.duration"),
                            format!("{shown}: duration must be greater than 0"),
                        );
                    }
                }
                Step::RestartNats => {
                    if !matches!(profile.nats, NatsSetup::Managed) {
                        self.report(
                            &field,
                            format!(
                                "{shown} needs a single managed nats-server (a cluster's nodes \
                                 are killed with KillNatsNode)"
                            ),
                        );
                    }
                }
                Step::KillHostOf(target) => {
                    self.check_target(&field, &shown, target, &pool, high);
                    // Which host goes is known only at run time: every count is possible.
                    low = 0;
                }
                Step::CutLink { host, duration } | Step::SlowLink { host, duration, .. } => {
                    self.check_host(&field, &shown, *host, cluster.hosts, &killed);
                    if duration.is_zero() {
                        self.report_at(
                            &field,
                            format!("{field}.duration"),
                            format!("{shown}: duration must be greater than 0"),
                        );
                    }
                    if matches!(profile.nats, NatsSetup::External { .. }) {
                        self.report(
                            &field,
                            format!(
                                "{shown} needs managed NATS: hosts reach an external server directly"
                            ),
                        );
                    }
                }
                Step::KillNatsNode { node, down } => {
                    let nodes = match profile.nats {
                        NatsSetup::Cluster(n) => n,
                        _ => 0,
                    };
                    if nodes < 3 {
                        self.report(
                            &field,
                            format!("{shown} needs a managed NATS cluster (nats: Cluster(3))"),
                        );
                    } else if let crate::action::NodeTarget::Index(i) = node
                        && *i >= nodes
                    {
                        self.report(
                            &field,
                            format!("{shown}: node {i} does not exist (nodes 0–{})", nodes - 1),
                        );
                    }
                    if down.is_zero() {
                        self.report_at(
                            &field,
                            format!("{field}.down"),
                            format!("{shown}: down must be greater than 0"),
                        );
                    }
                }
                Step::Chaos(spec) => {
                    for (name, message) in spec.problems(&profile.nats, cluster.hosts, high) {
                        self.report_at(
                            &field,
                            format!("{field}.{name}"),
                            format!("{shown}: {name}: {message}"),
                        );
                    }
                }
                Step::Mark(label) => {
                    if label.trim().is_empty() {
                        self.report(&field, "Mark needs a non-empty label");
                    }
                }
                Step::WaitStable { timeout } => {
                    if high == 0 {
                        self.report(
                            &field,
                            format!(
                                "{shown}: no worker runs here, and a cluster with none is never \
                                 stable (let the workers stop with Hold instead)"
                            ),
                        );
                    }
                    if timeout.is_zero() {
                        self.report_at(
                            &field,
                            format!("{field}.timeout"),
                            format!("{shown}: timeout must be greater than 0"),
                        );
                    }
                }
                Step::Hold(duration) => {
                    if duration.is_zero() {
                        self.report(&field, format!("{shown}: duration must be greater than 0"));
                    }
                }
            }
        }
    }

    fn check_pool(&mut self, field: &str, pool: &WorkerPool, workers: usize, what: &str) {
        if let Some(size) = pool.size
            && workers as u64 > size
        {
            self.report(
                field,
                format!(
                    "{what}, but the worker ID range {} has only {size} IDs (raise \
                     cluster.worker_id_max)",
                    pool.range_text()
                ),
            );
        }
    }

    fn check_target(
        &mut self,
        field: &str,
        shown: &str,
        target: &WorkerTarget,
        pool: &WorkerPool,
        running: usize,
    ) {
        if running == 0 {
            self.report(field, format!("{shown}: no worker runs at this point"));
            return;
        }
        match target {
            WorkerTarget::AnyFollower if running < 2 => self.report(
                field,
                format!("{shown}: needs a follower, but at most {running} worker runs here"),
            ),
            WorkerTarget::Id(id) if !pool.contains(id) => self.report(
                field,
                format!(
                    "{shown}: {id:?} is not in the worker ID range {}",
                    pool.range_text()
                ),
            ),
            _ => {}
        }
    }

    fn check_host(
        &mut self,
        field: &str,
        shown: &str,
        host: u32,
        hosts: u32,
        killed: &[Option<usize>],
    ) {
        if host >= hosts {
            let valid = match hosts {
                0 => "none".to_owned(),
                1 => "0".to_owned(),
                _ => format!("0–{}", hosts - 1),
            };
            self.report(
                field,
                format!(
                    "{shown}: host {host} does not exist (cluster.hosts is {hosts}; valid: {valid})"
                ),
            );
        } else if let Some(Some(by)) = killed.get(host as usize) {
            self.report(
                field,
                format!("{shown}: host {host} was killed by step {}", by + 1),
            );
        }
    }

    fn thresholds(&mut self, thresholds: &Thresholds) {
        let zero = [
            (
                "peak_rss_per_host",
                thresholds.peak_rss_per_host.is_some_and(|s| s.0 == 0),
            ),
            (
                "peak_live_heap_per_host",
                thresholds.peak_live_heap_per_host.is_some_and(|s| s.0 == 0),
            ),
            (
                "peak_tasks_per_host",
                thresholds.peak_tasks_per_host == Some(0),
            ),
            (
                "stabilization",
                thresholds.stabilization.is_some_and(|d| d.is_zero()),
            ),
        ];
        for (name, is_zero) in zero {
            if is_zero {
                self.report(
                    format!("thresholds.{name}"),
                    "must be greater than 0 when set (leave it out for no limit)",
                );
            }
        }
    }

    fn baseline(&mut self, baseline: &BaselineSpec) {
        if baseline.recording.as_os_str().is_empty() {
            self.report("baseline.recording", "must name a recording file");
        }
        let tolerances = &baseline.tolerances;
        for (name, value) in [
            ("memory_relative", tolerances.memory_relative),
            ("duration_relative", tolerances.duration_relative),
            ("tasks_relative", tolerances.tasks_relative),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                self.report(
                    format!("baseline.tolerances.{name}"),
                    format!("{value} must be a finite number ≥ 0 (0.1 means +10 %)"),
                );
            }
        }
    }
}

/// The stable IDs a cluster may claim: `prefix-min` … `prefix-max`.
struct WorkerPool {
    prefix: String,
    min: u32,
    max: u32,
    /// `None` when the range is empty (reported on its own).
    size: Option<u64>,
}

impl WorkerPool {
    fn of(cluster: &ClusterSetup) -> Self {
        let (min, max) = (cluster.worker_id_min, cluster.worker_id_max);
        let size = (min <= max).then(|| u64::from(max) - u64::from(min) + 1);
        Self {
            prefix: cluster.worker_id_prefix.clone(),
            min,
            max,
            size,
        }
    }

    fn range_text(&self) -> String {
        format!("{p}-{}…{p}-{}", self.min, self.max, p = self.prefix)
    }

    /// Whether `id` is `<prefix>-<n>` with `n` in the range, written as parti writes it (no
    /// sign, no leading zeros).
    fn contains(&self, id: &str) -> bool {
        id.strip_prefix(&self.prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|digits| Some((digits, digits.parse::<u32>().ok()?)))
            .is_some_and(|(digits, n)| {
                digits == n.to_string() && (self.min..=self.max).contains(&n)
            })
    }
}

/// A step as written in RON (`ScaleTo(200)`, `Hold("0s")`), for messages.
fn step_text(step: &Step) -> String {
    ron::to_string(step).unwrap_or_else(|_| step.label())
}

/// `parent.<first word of message>` when the message starts with a field name (parti's
/// timing and strategy messages do), else `parent`.
fn child_anchor(parent: &str, message: &str) -> String {
    let word: String = message
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if word.contains('_') {
        format!("{parent}.{word}")
    } else {
        parent.to_owned()
    }
}

/// Non-empty and free of the characters NATS subjects reserve.
fn is_subject_token(key: &str) -> bool {
    !key.is_empty()
        && !key
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>'))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
