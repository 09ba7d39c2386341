//! [`Figures`]: everything the Prometheus exporter shows, as one plain value that a front end
//! fills and [`super::render`] turns into text. The cluster part can be filled from a KV
//! snapshot alone (workers, leader, versions, partitions, heartbeat ages); the processes part
//! only by a run that samples its own processes. [`RunTally`] folds a run's observation stream
//! into the counters a snapshot does not hold (findings by check, events by outcome, CPU
//! seconds, the last event's stabilization).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::measure::ClusterState;
use crate::observation::{Check, EventOutcome, Observation, ProcessKind, ProcessSample};
use crate::parti::state::State;

/// What the exporter serves at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// What produces the figures: `headless`, `dashboard`, `replay`, `attach`.
    pub mode: String,
    /// The run's id, when there is a run.
    pub run_id: Option<String>,
    pub cluster: ClusterFigures,
    /// Findings so far, by check name (`single-owner`, …); every known check is rendered,
    /// with 0 when absent.
    pub findings: BTreeMap<String, u64>,
    pub events: EventFigures,
    pub processes: Vec<ProcessFigures>,
}

/// The parti cluster, as KV (and, in a run, the hosts) show it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterFigures {
    /// Every worker known, with or without a stable ID yet.
    pub workers: Vec<WorkerFigures>,
    /// The worker the election bucket's `leader` key names.
    pub leader: Option<String>,
    /// Times the leader key came to name a different worker (the first election included).
    pub leader_changes: u64,
    /// The newest assignment version in the assignment bucket (`None`: nothing published).
    pub assignment_version: Option<i64>,
    /// Whether the cluster is stable (a run: the current event stabilized; attach: the checks
    /// pass). `None` when the source cannot say.
    pub stable: Option<bool>,
}

/// One worker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerFigures {
    /// `None` before the worker has claimed an ID: counted by state, no series of its own.
    pub worker_id: Option<String>,
    /// `None` when only KV was read (the state is not in KV).
    pub state: Option<State>,
    pub partitions: usize,
    /// The version of the assignment the worker holds (`None`: none yet).
    pub assignment_version: Option<i64>,
    /// Time since the worker's heartbeat key was last written.
    pub heartbeat_age: Option<Duration>,
}

/// Events measured so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventFigures {
    /// Measured events by outcome name (`stabilized`, `emptied`, `superseded`,
    /// `never-stabilized`).
    pub by_outcome: BTreeMap<String, u64>,
    /// The stabilization time of the last measured event, when it stabilized.
    pub last_stabilization: Option<Duration>,
}

/// One measured process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessFigures {
    /// `host-0`, `nats-server`, `controller`, …
    pub process: String,
    pub rss_bytes: u64,
    pub live_heap_bytes: Option<u64>,
    pub tasks: Option<u64>,
    pub workers: Option<u32>,
    /// CPU time used since the run began sampling it.
    pub cpu_seconds: Option<f64>,
}

/// Every check a finding can be about, in the order the exporter lists them.
pub fn check_names() -> [&'static str; 7] {
    // An exhaustive match: a new check fails to compile here until it is listed.
    let _ = |check: Check| match check {
        Check::SingleOwner
        | Check::SingleLeader
        | Check::MonotonicVersions
        | Check::UniqueIds
        | Check::NoDeadOwner
        | Check::Stabilization
        | Check::Infrastructure => (),
    };
    [
        Check::SingleOwner.name(),
        Check::SingleLeader.name(),
        Check::MonotonicVersions.name(),
        Check::UniqueIds.name(),
        Check::NoDeadOwner.name(),
        Check::Stabilization.name(),
        Check::Infrastructure.name(),
    ]
}

/// Every event outcome, in the order the exporter lists them.
pub fn outcome_names() -> [&'static str; 4] {
    [
        EventOutcome::Stabilized.name(),
        EventOutcome::Emptied.name(),
        EventOutcome::Superseded.name(),
        EventOutcome::NeverStabilized.name(),
    ]
}

/// The `process` label of a measured process.
pub fn process_label(process: ProcessKind) -> String {
    match process {
        ProcessKind::Host(n) => format!("host-{n}"),
        ProcessKind::NatsServer => "nats-server".to_owned(),
        ProcessKind::Controller => "controller".to_owned(),
    }
}

/// Counts leader changes from successive readings of the leader key: a change is the key
/// naming a worker other than the last one it named (a key that vanished and came back with
/// the same worker is no change).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeaderTracker {
    last: Option<String>,
    changes: u64,
}

impl LeaderTracker {
    /// Note the leader key's current reading.
    pub fn observe(&mut self, leader: Option<&str>) {
        if let Some(leader) = leader
            && self.last.as_deref() != Some(leader)
        {
            self.last = Some(leader.to_owned());
            self.changes += 1;
        }
    }

    pub fn changes(&self) -> u64 {
        self.changes
    }
}

/// What a run's observation stream adds to its [`ClusterState`]: counters and the latest
/// process sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunTally {
    pub leaders: LeaderTracker,
    findings: BTreeMap<String, u64>,
    events: EventFigures,
    /// The processes of the latest sample.
    processes: BTreeMap<ProcessKind, ProcessSample>,
    /// CPU seconds per process over the whole run (kept when a process misses a sample, so
    /// the counter never goes back).
    cpu_seconds: BTreeMap<ProcessKind, f64>,
    last_sample_ms: Option<u64>,
}

impl RunTally {
    /// Fold one observation in.
    pub fn observe(&mut self, observation: &Observation) {
        match observation {
            Observation::Finding(finding) => {
                *self
                    .findings
                    .entry(finding.check.name().to_owned())
                    .or_default() += 1;
            }
            Observation::Measurement(measurement) => {
                *self
                    .events
                    .by_outcome
                    .entry(measurement.outcome().name().to_owned())
                    .or_default() += 1;
                self.events.last_stabilization = measurement
                    .stabilization_ms
                    .filter(|_| measurement.outcome() == EventOutcome::Stabilized)
                    .map(Duration::from_millis);
            }
            Observation::Sample(sample) => {
                let interval_s = self
                    .last_sample_ms
                    .map_or(0.0, |last| sample.t_ms.saturating_sub(last) as f64 / 1000.0);
                self.last_sample_ms = Some(sample.t_ms);
                self.processes.clear();
                for process in &sample.processes {
                    let used = process
                        .cpu_percent
                        .filter(|p| p.is_finite() && *p >= 0.0)
                        .map_or(0.0, |p| p / 100.0 * interval_s);
                    *self.cpu_seconds.entry(process.process).or_default() += used;
                    self.processes.insert(process.process, process.clone());
                }
            }
            Observation::Action(_) | Observation::Cluster(_) | Observation::Step(_) => {}
        }
    }

    /// Findings counted so far, by check name.
    pub fn findings(&self) -> &BTreeMap<String, u64> {
        &self.findings
    }

    /// Events counted so far, by outcome, and the last one's stabilization.
    pub fn events(&self) -> &EventFigures {
        &self.events
    }

    /// The figures of a run: its cluster state, the heartbeat age of each worker ID, and what
    /// the tally counted. Findings the engine counted but the tally missed (a lagging
    /// subscription) are shown under `check="unknown"`, so the total is always the engine's.
    pub fn figures(
        &self,
        mode: &str,
        run_id: &str,
        state: &ClusterState,
        heartbeat_ages: &BTreeMap<String, Duration>,
    ) -> Figures {
        let workers = state
            .workers
            .iter()
            .map(|view| WorkerFigures {
                heartbeat_age: view
                    .worker_id
                    .as_ref()
                    .and_then(|id| heartbeat_ages.get(id).copied()),
                worker_id: view.worker_id.clone(),
                state: Some(view.state),
                partitions: view.partitions,
                assignment_version: (view.version > 0).then_some(view.version),
            })
            .collect();
        let mut findings = self.findings.clone();
        let counted: u64 = findings.values().sum();
        let missed = (state.findings as u64).saturating_sub(counted);
        if missed > 0 {
            *findings.entry("unknown".to_owned()).or_default() += missed;
        }
        Figures {
            mode: mode.to_owned(),
            run_id: Some(run_id.to_owned()),
            cluster: ClusterFigures {
                workers,
                leader: state.leader.clone(),
                leader_changes: self.leaders.changes(),
                assignment_version: (state.max_version > 0).then_some(state.max_version),
                stable: Some(state.stable),
            },
            findings,
            events: self.events.clone(),
            processes: self
                .processes
                .iter()
                .map(|(kind, sample)| ProcessFigures {
                    process: process_label(*kind),
                    rss_bytes: sample.rss_bytes,
                    live_heap_bytes: sample.live_heap_bytes,
                    tasks: sample.tasks,
                    workers: sample.workers,
                    cpu_seconds: self.cpu_seconds.get(kind).copied(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::observation::{Finding, Measurement, Sample, WorkerView};

    fn sample(t_ms: u64, cpu_percent: Option<f64>) -> Observation {
        Observation::Sample(Sample {
            t_ms,
            processes: vec![ProcessSample {
                process: ProcessKind::Host(0),
                pid: 7,
                rss_bytes: 1 << 20,
                live_heap_bytes: Some(4096),
                tasks: Some(12),
                workers: Some(3),
                cpu_percent,
            }],
            load: None,
        })
    }

    fn measurement(stabilization_ms: Option<u64>, superseded_by: Option<usize>) -> Observation {
        Observation::Measurement(Measurement {
            event: 0,
            action: Action::ScaleTo(3),
            t_start_ms: 0,
            stabilization_ms,
            first_assignments: Vec::new(),
            quiescence_ms: None,
            versions_published: 1,
            versions_to_stable: None,
            moved_partitions: 0,
            moved_percent: 0.0,
            balance: None,
            workers_before: 0,
            workers_after: 3,
            superseded_by,
            leader_changed: None,
        })
    }

    #[test]
    fn leader_changes_count_new_names_not_gaps() {
        let mut leaders = LeaderTracker::default();
        for reading in [
            None,
            Some("w-0"),
            Some("w-0"),
            None,
            Some("w-0"),
            Some("w-1"),
        ] {
            leaders.observe(reading);
        }
        assert_eq!(leaders.changes(), 2);
    }

    #[test]
    fn cpu_seconds_accumulate_percent_times_interval_and_ignore_nan() {
        let mut tally = RunTally::default();
        tally.observe(&sample(0, Some(50.0)));
        tally.observe(&sample(1000, Some(50.0)));
        tally.observe(&sample(3000, Some(25.0)));
        tally.observe(&sample(4000, Some(f64::NAN)));
        // A sample without the host (nats-server restarting, say) does not reset its count.
        tally.observe(&Observation::Sample(Sample {
            t_ms: 5000,
            processes: Vec::new(),
            load: None,
        }));
        assert!(
            tally
                .figures("headless", "r", &ClusterState::default(), &BTreeMap::new())
                .processes
                .is_empty()
        );
        tally.observe(&sample(6000, Some(0.0)));
        let figures = tally.figures("headless", "r", &ClusterState::default(), &BTreeMap::new());
        let host = &figures.processes[0];
        assert_eq!(host.process, "host-0");
        assert_eq!(host.cpu_seconds, Some(0.5 + 0.5));
        assert_eq!(host.tasks, Some(12));
    }

    #[test]
    fn findings_missed_by_the_stream_show_as_unknown() {
        let mut tally = RunTally::default();
        tally.observe(&Observation::Finding(Finding {
            t_ms: 1,
            check: Check::SingleOwner,
            message: "x".into(),
        }));
        let state = ClusterState {
            findings: 3,
            ..ClusterState::default()
        };
        let figures = tally.figures("headless", "r", &state, &BTreeMap::new());
        assert_eq!(figures.findings.get("single-owner"), Some(&1));
        assert_eq!(figures.findings.get("unknown"), Some(&2));
    }

    #[test]
    fn the_last_event_keeps_its_stabilization_only_when_it_stabilized() {
        let mut tally = RunTally::default();
        tally.observe(&measurement(Some(1500), None));
        assert_eq!(
            tally.events.last_stabilization,
            Some(Duration::from_millis(1500))
        );
        tally.observe(&measurement(None, Some(2)));
        assert_eq!(tally.events.last_stabilization, None);
        assert_eq!(tally.events.by_outcome.get("stabilized"), Some(&1));
        assert_eq!(tally.events.by_outcome.get("superseded"), Some(&1));
    }

    #[test]
    fn workers_take_their_heartbeat_age_by_id() {
        let state = ClusterState {
            workers: vec![
                WorkerView {
                    host: 0,
                    slot: 0,
                    worker_id: Some("w-0".into()),
                    state: State::Stable,
                    is_leader: true,
                    version: 4,
                    partitions: 10,
                },
                WorkerView {
                    host: 0,
                    slot: 1,
                    worker_id: None,
                    state: State::ClaimingId,
                    is_leader: false,
                    version: 0,
                    partitions: 0,
                },
            ],
            leader: Some("w-0".into()),
            max_version: 4,
            stable: true,
            ..ClusterState::default()
        };
        let ages = BTreeMap::from([("w-0".to_owned(), Duration::from_millis(300))]);
        let figures = RunTally::default().figures("dashboard", "r", &state, &ages);
        assert_eq!(
            figures.cluster.workers[0].heartbeat_age,
            Some(Duration::from_millis(300))
        );
        assert_eq!(figures.cluster.workers[0].assignment_version, Some(4));
        assert_eq!(figures.cluster.workers[1].heartbeat_age, None);
        assert_eq!(figures.cluster.workers[1].assignment_version, None);
        assert_eq!(figures.cluster.assignment_version, Some(4));
        assert_eq!(figures.cluster.stable, Some(true));
    }
}
