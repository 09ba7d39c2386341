//! The log of a reviewed run, rebuilt from the recording (recordings store no log text): one
//! line per action, profile step, notable cluster event, event outcome and finding, worded like
//! the live log, in time order.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::action::ActionSource;
use crate::observation::{ClusterEvent, ClusterEventKind, EventOutcome, StepStatus};
use crate::record::{Recording, TimelineEntry};
use crate::text::plural;

/// How a line is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// One rebuilt log line at a run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub t_ms: u64,
    pub level: Level,
    pub text: String,
}

fn line(t_ms: u64, level: Level, text: impl Into<String>) -> LogLine {
    LogLine {
        t_ms,
        level,
        text: text.into(),
    }
}

/// Who a cluster event is about: the worker, else its host (and slot), else the cluster.
fn who(event: &ClusterEvent) -> String {
    event
        .worker_id
        .clone()
        .unwrap_or_else(|| match (event.host, event.slot) {
            (Some(host), Some(slot)) => format!("host {host} slot {slot}"),
            (Some(host), None) => format!("host {host}"),
            _ => "cluster".to_owned(),
        })
}

/// The line of a cluster event, for those the log shows (routine transitions stay out, as in
/// the live log).
fn event_line(event: &ClusterEvent) -> Option<LogLine> {
    use ClusterEventKind as K;
    let who = who(event);
    let (level, text) = match &event.kind {
        K::WorkerStarted => {
            let host = event
                .host
                .map(|h| format!(" on host {h}"))
                .unwrap_or_default();
            (Level::Info, format!("{who} started{host}"))
        }
        K::Leadership { is_leader: true } => (Level::Info, format!("{who} became leader")),
        K::Leadership { is_leader: false } => (Level::Info, format!("{who} lost leadership")),
        K::Published {
            version,
            lifecycle,
            workers,
            partitions,
        } => (
            Level::Info,
            format!(
                "{who} published v{version} ({lifecycle}): {} over {}",
                plural(*partitions as u64, "partition"),
                plural(*workers as u64, "worker")
            ),
        ),
        K::WorkerEnded { how } => (Level::Info, format!("{who} ended: {how}")),
        K::IdLost { reclaimed } => (
            Level::Warn,
            format!("{who} lost its stable ID (reclaimed: {reclaimed})"),
        ),
        K::Nats { up: true, detail } => (Level::Info, detail.clone()),
        K::Nats { up: false, detail } => (Level::Warn, detail.clone()),
        K::Warning { message } => (Level::Warn, format!("{who}: {message}")),
        K::HostLost { how } => (Level::Warn, format!("{who} exited: {how}")),
        K::StateChanged { .. } | K::IdClaimed | K::AssignmentApplied { .. } => return None,
    };
    Some(line(event.t_ms, level, text))
}

/// Every line of the run, in time order (ties keep the order they are built in).
pub fn lines(recording: &Recording) -> Vec<LogLine> {
    let mut out = Vec::new();
    for entry in &recording.timeline {
        out.push(match entry {
            TimelineEntry::Action(record) => {
                let source = match record.source {
                    ActionSource::Operator => "operator".to_owned(),
                    ActionSource::Profile { step } => format!("step {}", step + 1),
                    ActionSource::Replay => "replayed".to_owned(),
                };
                match &record.error {
                    Some(error) => line(
                        record.t_ms,
                        Level::Error,
                        format!("{} ({source}) failed: {error}", record.action),
                    ),
                    None => line(
                        record.t_ms,
                        Level::Info,
                        format!("{} ({source})", record.action),
                    ),
                }
            }
            TimelineEntry::Step(step) => {
                let what = format!("step {} {}", step.number(), step.label);
                match &step.status {
                    StepStatus::Started => line(step.t_ms, Level::Info, format!("{what} started")),
                    StepStatus::Done => line(step.t_ms, Level::Info, format!("{what} done")),
                    StepStatus::Failed(reason) => {
                        line(step.t_ms, Level::Error, format!("{what} failed: {reason}"))
                    }
                }
            }
        });
    }
    // A worker's later events (its end, say) may name only its host and slot: name it by the
    // stable ID its earlier events gave.
    let mut names: BTreeMap<(u32, u64), String> = BTreeMap::new();
    for event in &recording.events {
        let key = event.host.zip(event.slot);
        let mut event = Cow::Borrowed(event);
        if let Some(key) = key {
            match &event.worker_id {
                Some(id) => {
                    names.insert(key, id.clone());
                }
                None => {
                    if let Some(id) = names.get(&key) {
                        event.to_mut().worker_id = Some(id.clone());
                    }
                }
            }
        }
        out.extend(event_line(&event));
    }
    let end_ms = recording.duration_ms();
    for m in &recording.measurements {
        let what = format!("event {} ({})", m.number(), m.action);
        let next_start = |by: usize| {
            recording
                .measurements
                .iter()
                .find(|n| n.event == by)
                .map_or(end_ms, |n| n.t_start_ms)
        };
        let (t_ms, level, text) = match (m.outcome(), m.stabilization_ms, m.superseded_by) {
            (EventOutcome::Stabilized, Some(ms), _) => (
                m.t_start_ms + ms,
                Level::Info,
                format!(
                    "{what}: stable after {ms} ms, {}",
                    plural(m.workers_after as u64, "worker")
                ),
            ),
            (EventOutcome::Emptied, Some(ms), _) => (
                m.t_start_ms + ms,
                Level::Info,
                format!("{what}: no worker left after {ms} ms"),
            ),
            (_, _, Some(by)) => (
                next_start(by),
                Level::Info,
                format!(
                    "{what}: superseded by event {} before it stabilized",
                    by + 1
                ),
            ),
            _ => (
                end_ms,
                Level::Warn,
                format!("{what}: the run ended before it stabilized"),
            ),
        };
        out.push(line(t_ms, level, text));
    }
    for f in &recording.findings {
        out.push(line(
            f.t_ms,
            Level::Warn,
            format!(
                "finding at {} ms: {} — {}",
                f.t_ms,
                f.check.name(),
                f.message
            ),
        ));
    }
    out.sort_by_key(|l| l.t_ms);
    out
}
