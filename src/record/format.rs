//! The recording format (`recordings/*.ron`, version [`FORMAT_VERSION`]): a header describing
//! the run and its machine, the action/step timeline, cluster events, samples, per-event
//! measurements, findings, and the summary once the run has ended. Documented field by field in
//! `docs/recording-format.md`. Times are milliseconds since the run started (`t_ms`); wall-clock
//! time appears only in [`Header::started_at`].

use serde::{Deserialize, Serialize};

use super::summary::Summary;
use crate::observation::{
    ActionRecord, ClusterEvent, Finding, Measurement, Observation, Sample, StepProgress,
};
use crate::profile::Profile;

pub use super::machine::Machine;

/// The version of the format this build writes and the newest it reads. Bump it (and add a
/// golden file under `recordings/golden/`) whenever a change breaks reading older files, or
/// older builds reading newer files. Version 2: measurements record `superseded_by` and
/// `leader_changed`, and the stored summary numbers events from 1 (version 1 files still load).
pub const FORMAT_VERSION: u32 = 2;

/// One run, as stored in a recording file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    pub header: Header,
    /// Actions and profile steps in the order they happened.
    pub timeline: Vec<TimelineEntry>,
    pub events: Vec<ClusterEvent>,
    pub samples: Vec<Sample>,
    /// One per event, by event index (a later measurement of the same event replaces the
    /// earlier one).
    pub measurements: Vec<Measurement>,
    pub findings: Vec<Finding>,
    /// The message load's ledger figures, once the run with load has drained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<super::summary::LoadFigures>,
    /// `None` while the run is still going (autosaves) or when it ended without a summary.
    pub summary: Option<Summary>,
}

/// What the run was, where and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format_version: u32,
    /// The parti-top version that wrote the file.
    pub tool_version: String,
    /// The git commit parti-top was built from, when known.
    pub git_revision: Option<String>,
    pub machine: Machine,
    /// As reported by `nats-server --version` or the server's INFO, when known.
    pub nats_server_version: Option<String>,
    pub mode: RunMode,
    /// The full profile; an interactive session records its settings as a profile with its
    /// initial steps.
    pub profile: Profile,
    pub seed: u64,
    /// Wall-clock start, RFC 3339 (UTC).
    pub started_at: String,
    pub run_id: String,
}

impl Header {
    /// A header for a run starting now on this machine; `nats_server_version` is left unknown.
    pub fn new(mode: RunMode, profile: Profile, run_id: impl Into<String>) -> Self {
        Header {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_revision: git_revision(),
            machine: Machine::current(),
            nats_server_version: None,
            mode,
            seed: profile.seed,
            profile,
            started_at: now_rfc3339(),
            run_id: run_id.into(),
        }
    }
}

/// The git revision embedded at build time (`PARTI_TOP_GIT_REV`, set by `build.rs`).
pub fn git_revision() -> Option<String> {
    option_env!("PARTI_TOP_GIT_REV")
        .filter(|rev| !rev.is_empty())
        .map(str::to_owned)
}

/// The current wall-clock time in RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How the run was driven.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunMode {
    /// `--headless --profile …`.
    Headless,
    /// The TUI, with or without a profile.
    Interactive,
    /// `replay <source>`: the timeline of another recording, re-run.
    Replay { source: String },
}

/// One entry of the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimelineEntry {
    Action(ActionRecord),
    Step(StepProgress),
}

impl TimelineEntry {
    pub fn t_ms(&self) -> u64 {
        match self {
            TimelineEntry::Action(action) => action.t_ms,
            TimelineEntry::Step(step) => step.t_ms,
        }
    }
}

impl Recording {
    /// An empty recording of the run `header` describes.
    pub fn new(header: Header) -> Self {
        Recording {
            header,
            timeline: Vec::new(),
            events: Vec::new(),
            samples: Vec::new(),
            measurements: Vec::new(),
            findings: Vec::new(),
            load: None,
            summary: None,
        }
    }

    /// Files one observation under its section. A measurement for an event already measured
    /// replaces the earlier one (the engine may refine an event's figures).
    pub fn push(&mut self, observation: Observation) {
        match observation {
            Observation::Action(action) => self.timeline.push(TimelineEntry::Action(action)),
            Observation::Step(step) => self.timeline.push(TimelineEntry::Step(step)),
            Observation::Sample(sample) => self.samples.push(sample),
            Observation::Cluster(event) => self.events.push(event),
            Observation::Finding(finding) => self.findings.push(finding),
            Observation::Measurement(measurement) => {
                match self
                    .measurements
                    .iter_mut()
                    .find(|known| known.event == measurement.event)
                {
                    Some(known) => *known = measurement,
                    None => self.measurements.push(measurement),
                }
            }
        }
    }

    /// The span the recording covers: the latest `t_ms` of anything in it, including the
    /// moments events stabilized or became quiescent; at least the summary's duration.
    pub fn duration_ms(&self) -> u64 {
        let timeline = self.timeline.iter().map(TimelineEntry::t_ms);
        let events = self.events.iter().map(|event| event.t_ms);
        let samples = self.samples.iter().map(|sample| sample.t_ms);
        let findings = self.findings.iter().map(|finding| finding.t_ms);
        let measurements = self.measurements.iter().map(|m| {
            let end_ms = m.stabilization_ms.max(m.quiescence_ms).unwrap_or(0);
            m.t_start_ms.saturating_add(end_ms)
        });
        let summary = self.summary.iter().map(|summary| summary.duration_ms);
        timeline
            .chain(events)
            .chain(samples)
            .chain(findings)
            .chain(measurements)
            .chain(summary)
            .max()
            .unwrap_or(0)
    }

    /// The actions of the timeline, in order (what a replay re-runs).
    pub fn actions(&self) -> impl Iterator<Item = &ActionRecord> {
        self.timeline.iter().filter_map(|entry| match entry {
            TimelineEntry::Action(action) => Some(action),
            TimelineEntry::Step(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, ActionSource};
    use crate::observation::{Check, StepStatus};

    fn profile() -> Profile {
        let text = "(name: \"t\", cluster: (partitions: Count(4)), steps: [ScaleTo(1)], seed: 9)";
        crate::profile::parse(text, std::path::Path::new("t.ron")).expect("profile")
    }

    #[test]
    fn a_new_header_describes_this_build_and_machine() {
        let header = Header::new(RunMode::Interactive, profile(), "run-9");
        assert_eq!(header.format_version, FORMAT_VERSION);
        assert_eq!(header.tool_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(header.seed, 9);
        assert_eq!(header.run_id, "run-9");
        assert!(header.machine.cores >= 1);
        assert!(
            chrono::DateTime::parse_from_rfc3339(&header.started_at).is_ok(),
            "{}",
            header.started_at
        );
    }

    #[test]
    fn push_files_each_observation_under_its_section() {
        let mut recording = Recording::new(Header::new(RunMode::Headless, profile(), "r"));
        recording.push(Observation::Action(ActionRecord {
            t_ms: 10,
            action: Action::ScaleTo(1),
            source: ActionSource::Operator,
            error: None,
        }));
        recording.push(Observation::Step(StepProgress {
            t_ms: 20,
            index: 0,
            label: "scale→1".into(),
            status: StepStatus::Done,
        }));
        recording.push(Observation::Sample(Sample {
            t_ms: 30,
            load: None,
            processes: Vec::new(),
        }));
        recording.push(Observation::Finding(Finding {
            t_ms: 40,
            check: Check::UniqueIds,
            message: "duplicate".into(),
        }));
        assert_eq!(recording.timeline.len(), 2);
        assert_eq!(recording.actions().count(), 1);
        assert_eq!(recording.samples.len(), 1);
        assert_eq!(recording.findings.len(), 1);
        assert_eq!(recording.duration_ms(), 40);
        assert_eq!(Recording::new(recording.header.clone()).duration_ms(), 0);
    }
}
