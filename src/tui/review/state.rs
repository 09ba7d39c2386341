//! The dashboard's model at a time cursor, pure: the recording's observations up to the cursor
//! go through the live dashboard's own [`update`] (samples, markers, measurements, findings,
//! steps, notices), its cluster events are folded into the cluster state at the cursor, and the
//! samples and actions after the cursor, up to the end of the charts' window, are added to the
//! series and markers so that the charts show both sides of the cursor. The figures beside the
//! charts read the values at the cursor ([`Model::current_point`]).

use crate::measure::ClusterState;
use crate::observation::{Observation, ProcessKind};
use crate::record::TimelineEntry;
use crate::tui::model::{Marker, MemoryPoint, Model, RunFacts, TimeCursor};
use crate::tui::update::{Msg, update};

use super::cluster::ClusterFold;
use super::prepared::{Item, Reviewed};
use super::zoom::Zoom;

/// The header facts of a reviewed run.
fn facts(reviewed: &Reviewed) -> RunFacts {
    let header = &reviewed.recording.header;
    RunFacts {
        run_id: header.run_id.clone(),
        profile: header.profile.name.clone(),
        nats_url: String::new(),
        nats_version: header.nats_server_version.clone(),
        nats_up: true,
        managed: true,
        nats_nodes: 1,
        proxied: true,
        recording_path: Some(reviewed.name.clone()),
        recording: false,
        connect: Vec::new(),
    }
}

/// The observation an indexed item is.
fn observation(reviewed: &Reviewed, item: Item) -> Observation {
    let r = &reviewed.recording;
    match item {
        Item::Timeline(i) => match &r.timeline[i] {
            TimelineEntry::Action(action) => Observation::Action(action.clone()),
            TimelineEntry::Step(step) => Observation::Step(step.clone()),
        },
        Item::Event(i) => Observation::Cluster(r.events[i].clone()),
        Item::Sample(i) => Observation::Sample(r.samples[i].clone()),
        Item::Measurement(i) => Observation::Measurement(r.measurements[i].clone()),
        Item::Finding(i) => Observation::Finding(r.findings[i].clone()),
    }
}

/// The cluster at `cursor_ms` alone (what the worker table and the header's stability show).
pub fn cluster_at(reviewed: &Reviewed, cursor_ms: u64) -> ClusterState {
    let mut fold = ClusterFold::default();
    for (_, item) in &reviewed.order[..reviewed.observed_until(cursor_ms)] {
        if let Item::Event(i) = item {
            fold.apply(&reviewed.recording.events[*i]);
        }
    }
    fold.finish(reviewed, cursor_ms)
}

/// The dashboard's model with the cursor at `cursor_ms` (clamped to the run) and the charts
/// showing `zoom` around it.
pub fn state_at(reviewed: &Reviewed, cursor_ms: u64, zoom: Zoom) -> Model {
    let cursor_ms = cursor_ms.min(reviewed.duration_ms);
    let (start_ms, end_ms) = zoom.window(reviewed.duration_ms, cursor_ms);
    let mut model = Model::new(
        facts(reviewed),
        reviewed.recording.header.profile.steps.len(),
    );
    let mut fold = ClusterFold::default();
    let until = reviewed.observed_until(cursor_ms);
    for (_, item) in &reviewed.order[..until] {
        if let Item::Event(i) = item {
            fold.apply(&reviewed.recording.events[*i]);
        }
        update(
            &mut model,
            Msg::Observation(Box::new(observation(reviewed, *item))),
        );
    }
    update(
        &mut model,
        Msg::Cluster(Box::new(fold.finish(reviewed, cursor_ms))),
    );
    // After the cursor, up to the window's end: the charts' data and markers only.
    for (t_ms, item) in &reviewed.order[until..] {
        if *t_ms > end_ms {
            break;
        }
        match item {
            Item::Sample(i) => {
                let sample = &reviewed.recording.samples[*i];
                for process in &sample.processes {
                    push_later(&mut model, process.process, sample.t_ms, process);
                }
            }
            Item::Timeline(i) => {
                if let TimelineEntry::Action(record) = &reviewed.recording.timeline[*i]
                    && record.error.is_none()
                {
                    model.markers.push(Marker {
                        t_ms: record.t_ms,
                        label: record.action.label(),
                    });
                }
            }
            Item::Event(_) | Item::Measurement(_) | Item::Finding(_) => {}
        }
    }
    model.now_ms = cursor_ms;
    model.cursor = Some(TimeCursor {
        start_ms,
        end_ms,
        label: zoom.label(),
        event: reviewed.event_at(cursor_ms).map(|m| m.event),
    });
    model
}

/// A point after the cursor: on the charts, not in the peaks (they are the peaks so far).
fn push_later(
    model: &mut Model,
    process: ProcessKind,
    t_ms: u64,
    sample: &crate::observation::ProcessSample,
) {
    model
        .memory
        .entry(process)
        .or_default()
        .push_back(MemoryPoint {
            t_ms,
            rss_bytes: sample.rss_bytes,
            live_heap_bytes: sample.live_heap_bytes,
            tasks: sample.tasks,
            cpu_percent: sample.cpu_percent,
        });
}
