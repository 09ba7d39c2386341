//! Command-line overrides of a profile's cluster (`--workers`, `--partitions`, `--timing`,
//! `--hosts`, `--strategy`), as k6's `--vus` override a script's options: [`apply`] returns the
//! profile the run actually uses, re-validated, so the recording's header holds what ran.
//!
//! - `--workers N`: the number of workers the run starts with. The profile's first `ScaleTo`
//!   step becomes `ScaleTo(N)`; a profile without one gets `ScaleTo(N)` inserted as its first
//!   step. Later steps are unchanged.
//! - `--partitions N`: `Count(N)`, also in place of a listed partition set.
//! - `--timing P`: `Preset(P)`, also in place of explicit timing.
//! - `--hosts N`: the number of host processes.
//! - `--strategy S`: the strategy kind; the parameters the new kind does not use are dropped.

use std::fmt;
use std::path::Path;

use super::load::{HOSTS_MAX, PARTITIONS_MAX, ProfileError, check};
use super::{PartitionsSetup, Profile, Step, TimingSetup};
use crate::parti::config::TimingPreset;
use crate::parti::strategy::{StrategyConfig, StrategyKind};

/// The cluster settings given on the command line; `None` keeps the profile's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub workers: Option<usize>,
    pub partitions: Option<usize>,
    pub timing: Option<TimingPreset>,
    pub hosts: Option<u32>,
    pub strategy: Option<StrategyKind>,
    pub connection: Option<crate::control::ConnectionMode>,
    /// Replaces the profile's seed (targets of random picks, chaos schedules).
    pub seed: Option<u64>,
}

impl Overrides {
    /// Whether no setting is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

impl fmt::Display for Overrides {
    /// The flags as they were given, e.g. `--workers 2 --partitions 20`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags: Vec<String> = [
            self.workers.map(|n| format!("--workers {n}")),
            self.partitions.map(|n| format!("--partitions {n}")),
            self.timing.map(|t| format!("--timing {t}")),
            self.hosts.map(|n| format!("--hosts {n}")),
            self.strategy.map(|s| format!("--strategy {s}")),
            self.connection.map(|c| format!("--connection {c}")),
            self.seed.map(|s| format!("--seed {s}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        f.write_str(&flags.join(" "))
    }
}

/// The profile as it runs: the overrides applied and validated again, and every `Chaos` step
/// expanded with the (possibly overridden) seed. `path` names the profile in
/// errors. A flag with an impossible value is named in the error (`--partitions 0: …`); a
/// profile the overrides make invalid (a step that kills host 1 with `--hosts 1`) gets the
/// validator's messages, prefixed with the flags.
pub fn apply(
    mut profile: Profile,
    overrides: &Overrides,
    path: &Path,
) -> Result<Profile, ProfileError> {
    if overrides.is_empty() {
        super::chaos::expand_all(&mut profile);
        return Ok(profile);
    }
    let error = |message: String| ProfileError {
        path: path.to_owned(),
        message,
    };
    let cluster = &mut profile.cluster;
    if let Some(hosts) = overrides.hosts {
        if !(1..=HOSTS_MAX).contains(&hosts) {
            return Err(error(format!(
                "--hosts {hosts}: must be between 1 and {HOSTS_MAX}"
            )));
        }
        cluster.hosts = hosts;
    }
    if let Some(partitions) = overrides.partitions {
        if !(1..=PARTITIONS_MAX).contains(&partitions) {
            return Err(error(format!(
                "--partitions {partitions}: must be between 1 and {PARTITIONS_MAX}"
            )));
        }
        cluster.partitions = PartitionsSetup::Count(partitions);
    }
    if let Some(workers) = overrides.workers {
        let pool = u64::from(cluster.worker_id_max.saturating_sub(cluster.worker_id_min)) + 1;
        if workers == 0 {
            return Err(error(
                "--workers 0: a run starts with at least 1 worker".to_owned(),
            ));
        }
        if cluster.worker_id_min > cluster.worker_id_max || workers as u64 > pool {
            return Err(error(format!(
                "--workers {workers}: more workers than the worker ID range {p}-{}…{p}-{} holds \
                 ({pool} IDs; raise cluster.worker_id_max in a profile)",
                cluster.worker_id_min,
                cluster.worker_id_max,
                p = cluster.worker_id_prefix,
            )));
        }
        match profile
            .steps
            .iter_mut()
            .find(|step| matches!(step, Step::ScaleTo(_)))
        {
            Some(first) => *first = Step::ScaleTo(workers),
            None => profile.steps.insert(0, Step::ScaleTo(workers)),
        }
    }
    if let Some(preset) = overrides.timing {
        profile.cluster.timing = TimingSetup::Preset(preset);
    }
    if let Some(kind) = overrides.strategy {
        profile.cluster.strategy = with_kind(&profile.cluster.strategy, kind);
    }
    if let Some(connection) = overrides.connection {
        profile.cluster.connection = connection;
    }
    if let Some(seed) = overrides.seed {
        profile.seed = seed;
    }
    let note = format!("(command-line overrides: {overrides})");
    profile.description = if profile.description.is_empty() {
        note
    } else {
        format!("{} {note}", profile.description)
    };
    check(&profile, path).map_err(|err| {
        let file = format!("{}: ", path.display());
        let lines: Vec<String> = err
            .problems()
            .map(|line| {
                let rest = line.strip_prefix(&file).unwrap_or(line);
                format!("{file}with {overrides}: {rest}")
            })
            .collect();
        error(lines.join("\n"))
    })?;
    super::chaos::expand_all(&mut profile);
    Ok(profile)
}

/// `config` with another kind, keeping only the parameters that kind uses.
fn with_kind(config: &StrategyConfig, kind: StrategyKind) -> StrategyConfig {
    let hashed = kind != StrategyKind::RoundRobin;
    let weighted = kind == StrategyKind::WeightedConsistentHash;
    StrategyConfig {
        kind,
        virtual_nodes: config.virtual_nodes.filter(|_| hashed),
        hash_seed: config.hash_seed.filter(|_| hashed),
        overload_threshold: config.overload_threshold.filter(|_| weighted),
        extreme_threshold: config.extreme_threshold.filter(|_| weighted),
        default_weight: config.default_weight.filter(|_| weighted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::WorkerTarget;
    use std::time::Duration;

    const PATH: &str = "profiles/p.ron";

    fn profile(text: &str) -> Profile {
        super::super::parse(text, Path::new(PATH)).expect("valid profile")
    }

    fn failover() -> Profile {
        profile(
            r#"(
    name: "p",
    description: "a failover",
    cluster: (partitions: Count(100), timing: Preset(Integration), hosts: 2),
    steps: [
        ScaleTo(10), WaitStable(timeout: "1m"), KillWorker(AnyFollower),
        WaitStable(timeout: "30s"), KillHost(1), ScaleTo(10), WaitStable(timeout: "1m"),
    ],
)"#,
        )
    }

    fn applied(overrides: Overrides) -> Result<Profile, String> {
        apply(failover(), &overrides, Path::new(PATH)).map_err(|err| err.message)
    }

    #[test]
    fn no_override_leaves_the_profile_as_it_is() {
        assert_eq!(applied(Overrides::default()), Ok(failover()));
    }

    #[test]
    fn chaos_expands_with_the_seed_the_run_uses() {
        let text = "(name: \"c\", cluster: (partitions: Count(10), hosts: 2), \
                    steps: [ScaleTo(4), WaitStable(timeout: \"10s\"), Chaos((faults: 5))], seed: 3)";
        let path = Path::new("c.ron");
        let loaded = crate::profile::parse(text, path).expect("valid");
        assert!(
            matches!(loaded.steps[2], Step::Chaos(_)),
            "loading keeps the step"
        );
        let plain = apply(loaded.clone(), &Overrides::default(), path).expect("valid");
        let same = apply(loaded.clone(), &Overrides::default(), path).expect("valid");
        let seeded = Overrides {
            seed: Some(4),
            ..Overrides::default()
        };
        let other = apply(loaded, &seeded, path).expect("valid");
        assert!(!plain.steps.iter().any(|s| matches!(s, Step::Chaos(_))));
        assert!(plain.steps.len() > 5, "{:?}", plain.steps);
        assert_eq!(plain.steps, same.steps);
        assert_ne!(plain.steps, other.steps, "another seed, another schedule");
    }

    #[test]
    fn each_flag_replaces_its_setting() {
        let out = applied(Overrides {
            workers: Some(4),
            partitions: Some(20),
            timing: Some(TimingPreset::Fast),
            hosts: Some(3),
            strategy: Some(StrategyKind::RoundRobin),
            connection: Some(crate::control::ConnectionMode::PerHost),
            seed: Some(9),
        })
        .expect("valid");
        assert_eq!(out.seed, 9);
        assert_eq!(
            out.cluster.connection,
            crate::control::ConnectionMode::PerHost
        );
        assert_eq!(out.cluster.partitions, PartitionsSetup::Count(20));
        assert_eq!(out.cluster.timing, TimingSetup::Preset(TimingPreset::Fast));
        assert_eq!(out.cluster.hosts, 3);
        assert_eq!(out.cluster.strategy.kind, StrategyKind::RoundRobin);
        // Only the first ScaleTo is the starting size; the later one is the profile's.
        assert_eq!(out.steps[0], Step::ScaleTo(4));
        assert_eq!(out.steps[5], Step::ScaleTo(10));
        assert_eq!(out.steps.len(), failover().steps.len());
        assert_eq!(
            out.description,
            "a failover (command-line overrides: --workers 4 --partitions 20 --timing fast \
             --hosts 3 --strategy round-robin --connection per-host --seed 9)"
        );
    }

    #[test]
    fn workers_are_inserted_first_when_no_step_scales() {
        let text = r#"(name: "p", cluster: (partitions: Count(10)),
            steps: [AddWorkers(2), WaitStable(timeout: "5s")])"#;
        let out = apply(
            profile(text),
            &Overrides {
                workers: Some(3),
                ..Overrides::default()
            },
            Path::new(PATH),
        )
        .expect("valid");
        assert_eq!(
            out.steps,
            vec![
                Step::ScaleTo(3),
                Step::AddWorkers(2),
                Step::WaitStable {
                    timeout: Duration::from_secs(5)
                },
            ]
        );
    }

    #[test]
    fn listed_partitions_and_explicit_timing_are_replaced() {
        let text = r#"(name: "p",
            cluster: (
                partitions: List([(keys: ["a"]), (keys: ["b"])]),
                strategy: (kind: WeightedConsistentHash, virtual_nodes: 50, overload_threshold: 1.5),
                timing: Explicit((
                    worker_id_ttl: "5s", heartbeat_interval: "500ms", heartbeat_ttl: "1.5s",
                    cold_start_window: "1s", planned_scale_window: "500ms",
                    emergency_grace_period: "750ms", restart_detection_ratio: 0.5,
                    election_timeout: "5s", startup_timeout: "30s",
                    min_rebalance_interval: "100ms", assignment_ttl: "0s",
                )),
            ),
            steps: [ScaleTo(1)])"#;
        let out = apply(
            profile(text),
            &Overrides {
                partitions: Some(7),
                timing: Some(TimingPreset::Production),
                strategy: Some(StrategyKind::ConsistentHash),
                ..Overrides::default()
            },
            Path::new(PATH),
        )
        .expect("valid");
        assert_eq!(out.cluster.partitions, PartitionsSetup::Count(7));
        assert_eq!(
            out.cluster.timing,
            TimingSetup::Preset(TimingPreset::Production)
        );
        // The weighted-only parameter is dropped; the ring's size is kept.
        assert_eq!(
            out.cluster.strategy,
            StrategyConfig {
                kind: StrategyKind::ConsistentHash,
                virtual_nodes: Some(50),
                ..StrategyConfig::default()
            }
        );
    }

    #[test]
    fn impossible_values_name_the_flag() {
        let cases = [
            (
                Overrides {
                    partitions: Some(0),
                    ..Overrides::default()
                },
                "--partitions 0: must be between 1 and 100000",
            ),
            (
                Overrides {
                    workers: Some(101),
                    ..Overrides::default()
                },
                "--workers 101: more workers than the worker ID range worker-0…worker-99 holds \
                 (100 IDs; raise cluster.worker_id_max in a profile)",
            ),
            (
                Overrides {
                    workers: Some(0),
                    ..Overrides::default()
                },
                "--workers 0: a run starts with at least 1 worker",
            ),
            (
                Overrides {
                    hosts: Some(65),
                    ..Overrides::default()
                },
                "--hosts 65: must be between 1 and 64",
            ),
        ];
        for (overrides, expected) in cases {
            assert_eq!(applied(overrides), Err(expected.to_owned()));
        }
    }

    #[test]
    fn a_profile_the_flags_make_invalid_gets_the_validators_messages() {
        // KillWorker(AnyFollower) needs two workers; KillHost(1) needs a second host.
        let err = applied(Overrides {
            workers: Some(1),
            hosts: Some(1),
            ..Overrides::default()
        })
        .expect_err("invalid");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        for line in &lines {
            assert!(
                line.starts_with("profiles/p.ron: with --workers 1 --hosts 1: step "),
                "{line}"
            );
        }
        assert!(
            lines[0].contains("step 3: KillWorker(AnyFollower)"),
            "{err}"
        );
        assert!(lines[1].contains("step 4: WaitStable"), "{err}");
        assert!(
            lines[2].contains("step 5: KillHost(1): host 1 does not exist"),
            "{err}"
        );
    }

    #[test]
    fn the_first_scale_step_is_the_one_replaced() {
        let out = applied(Overrides {
            workers: Some(2),
            ..Overrides::default()
        })
        .expect("valid");
        assert_eq!(out.steps[0], Step::ScaleTo(2));
        assert_eq!(out.steps[2], Step::KillWorker(WorkerTarget::AnyFollower));
    }
}
