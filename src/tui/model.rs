//! The dashboard's state as plain data: what the run looks like (header facts, workers, series,
//! measurements, findings) and what the operator is looking at (screen, selection, window, log
//! scroll, an open prompt).
//! The view reads it; only [`super::update`] changes it.

use std::collections::{BTreeMap, VecDeque};

use crate::action::Action;
use crate::measure::ClusterState;
use crate::observation::{Finding, Measurement, ProcessKind};

/// Points kept per series (at 2 samples a second, more than two hours).
pub const SERIES_CAPACITY: usize = 16_384;

/// The chart's time window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Window {
    #[default]
    OneMinute,
    FiveMinutes,
    Whole,
}

impl Window {
    pub fn next(self) -> Window {
        match self {
            Window::OneMinute => Window::FiveMinutes,
            Window::FiveMinutes => Window::Whole,
            Window::Whole => Window::OneMinute,
        }
    }

    /// The span in milliseconds, `None` for the whole run.
    pub fn span_ms(self) -> Option<u64> {
        match self {
            Window::OneMinute => Some(60_000),
            Window::FiveMinutes => Some(300_000),
            Window::Whole => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::OneMinute => "1 min",
            Window::FiveMinutes => "5 min",
            Window::Whole => "whole run",
        }
    }
}

/// Full-screen views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Screen {
    #[default]
    Dashboard,
    Logs,
    Findings,
    /// How to point other NATS tools (nats CLI, nats-top, the checker) at the server.
    Connect,
}

/// Facts for the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFacts {
    pub run_id: String,
    pub profile: String,
    pub nats_url: String,
    pub nats_version: Option<String>,
    pub nats_up: bool,
    pub managed: bool,
    /// Nodes of the managed NATS cluster (1 for a single server).
    pub nats_nodes: usize,
    /// Whether each host reaches NATS through a fault proxy (the link keys work).
    pub proxied: bool,
    pub recording_path: Option<String>,
    pub recording: bool,
    /// How other NATS tools reach a managed server (no password: it is in the 0600 files the
    /// lines name); empty for an external server.
    pub connect: Vec<String>,
}

/// One point of a process's memory series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryPoint {
    pub t_ms: u64,
    pub rss_bytes: u64,
    pub live_heap_bytes: Option<u64>,
    pub tasks: Option<u64>,
    pub cpu_percent: Option<f64>,
}

/// A process's highest figures since the run started (the series keep only the recent past).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Peak {
    pub rss_bytes: u64,
    pub live_heap_bytes: Option<u64>,
    pub tasks: Option<u64>,
    pub cpu_percent: Option<f64>,
}

impl Peak {
    fn include(&mut self, point: &MemoryPoint) {
        fn higher<T: PartialOrd + Copy>(peak: Option<T>, value: Option<T>) -> Option<T> {
            match (peak, value) {
                (Some(p), Some(v)) => Some(if v > p { v } else { p }),
                (p, v) => p.or(v),
            }
        }
        self.rss_bytes = self.rss_bytes.max(point.rss_bytes);
        self.live_heap_bytes = higher(self.live_heap_bytes, point.live_heap_bytes);
        self.tasks = higher(self.tasks, point.tasks);
        self.cpu_percent = higher(self.cpu_percent, point.cpu_percent);
    }
}

/// An action shown as a marker on the charts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub t_ms: u64,
    pub label: String,
}

/// A one-line message under the header (the last action's outcome, a warning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub t_ms: u64,
    pub text: String,
    pub error: bool,
}

/// The profile step running now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepView {
    pub number: usize,
    pub total: usize,
    pub label: String,
    pub failed: Option<String>,
}

/// A one-line question in the footer; while it is open, keys answer it and trigger no command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// A destructive action waiting for y or Enter (any other key cancels).
    Confirm { action: Action, question: String },
    /// The label of a mark being typed (prefilled; Enter keeps it, Esc cancels).
    Mark { label: String },
}

/// Where the log is scrolled to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogScroll {
    /// Lines back from the newest; 0 follows new lines.
    pub back_lines: usize,
    /// Log lines written so far, when the shell counts them (scrolling stops at the oldest,
    /// and a scrolled-back view stays on the same lines as new ones arrive).
    pub written_lines: Option<u64>,
}

/// A time cursor over a recorded run (`parti-top review`): the cursor is at [`Model::now_ms`];
/// the charts show `start_ms..=end_ms` (which may reach past the cursor) with a vertical line
/// at the cursor, and the figures beside them are the values at the cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimeCursor {
    pub start_ms: u64,
    pub end_ms: u64,
    /// The charts' window as their titles name it (`30 s`, `whole run`).
    pub label: String,
    /// The event (index) under the cursor, highlighted in the stabilization pane.
    pub event: Option<usize>,
}

/// Everything the dashboard shows.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Milliseconds since the run started.
    pub now_ms: u64,
    pub facts: RunFacts,
    pub step: Option<StepView>,
    pub steps_total: usize,
    pub cluster: ClusterState,
    pub memory: BTreeMap<ProcessKind, VecDeque<MemoryPoint>>,
    /// The message load's counters at each sample (empty without load).
    pub load: VecDeque<(u64, crate::observation::LoadPoint)>,
    /// Each process's peaks over the whole run.
    pub peaks: BTreeMap<ProcessKind, Peak>,
    pub measurements: Vec<Measurement>,
    pub markers: Vec<Marker>,
    pub findings: Vec<Finding>,
    /// Index into `cluster.workers` of the selected row.
    pub selected: usize,
    pub window: Window,
    pub screen: Screen,
    pub help: bool,
    pub log_pane: bool,
    pub notice: Option<Notice>,
    pub prompt: Option<Prompt>,
    pub log: LogScroll,
    /// The terminal's height (a log page is about this tall).
    pub screen_rows: u16,
    /// Actions sent and not answered yet.
    pub pending_actions: usize,
    /// Observations the dashboard missed (it fell behind the stream).
    pub dropped: u64,
    pub quitting: bool,
    /// Set when the model shows a recorded run at a time cursor (review), not a live one.
    pub cursor: Option<TimeCursor>,
}

impl Model {
    pub fn new(facts: RunFacts, steps_total: usize) -> Self {
        Self {
            facts,
            steps_total,
            log_pane: true,
            screen_rows: 24,
            ..Self::default()
        }
    }

    /// The selected worker's stable ID, if the row has one.
    pub fn selected_worker(&self) -> Option<&crate::observation::WorkerView> {
        self.cluster.workers.get(self.selected)
    }

    /// A process's latest figures: its last point, or under a time cursor the last point not
    /// after the cursor (a reviewed run's series reach past it).
    pub fn current_point(&self, process: ProcessKind) -> Option<&MemoryPoint> {
        let series = self.memory.get(&process)?;
        if self.cursor.is_none() {
            return series.back();
        }
        let at = series.partition_point(|p| p.t_ms <= self.now_ms);
        series.get(at.checked_sub(1)?)
    }

    /// The charts' window as their titles name it.
    pub fn window_label(&self) -> &str {
        self.cursor
            .as_ref()
            .map_or(self.window.label(), |cursor| cursor.label.as_str())
    }

    /// The first time shown on the charts.
    pub fn window_start_ms(&self) -> u64 {
        if let Some(cursor) = &self.cursor {
            return cursor.start_ms;
        }
        self.window
            .span_ms()
            .map_or(0, |span| self.now_ms.saturating_sub(span))
    }

    /// Record one memory point, dropping the oldest past the capacity (the peaks keep it).
    /// Keep the load counters of a sample at `t_ms`.
    pub fn push_load(&mut self, t_ms: u64, point: crate::observation::LoadPoint) {
        if self.load.len() == SERIES_CAPACITY {
            self.load.pop_front();
        }
        self.load.push_back((t_ms, point));
    }

    /// Messages per second acked and sent over the last two samples, and the current point.
    pub fn load_now(&self) -> Option<(f64, f64, crate::observation::LoadPoint)> {
        let (t1, last) = *self.load.back()?;
        let (acked, sent) = match self.load.len().checked_sub(2).map(|i| self.load[i]) {
            Some((t0, before)) if t1 > t0 => {
                #[allow(clippy::cast_precision_loss)]
                let per_s =
                    |a: u64, b: u64| (a.saturating_sub(b)) as f64 * 1000.0 / (t1 - t0) as f64;
                (
                    per_s(last.acked, before.acked),
                    per_s(last.sent, before.sent),
                )
            }
            _ => (0.0, 0.0),
        };
        Some((acked, sent, last))
    }

    pub fn push_memory(&mut self, process: ProcessKind, point: MemoryPoint) {
        self.peaks.entry(process).or_default().include(&point);
        let series = self.memory.entry(process).or_default();
        if series.len() == SERIES_CAPACITY {
            series.pop_front();
        }
        series.push_back(point);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_outlive_the_series() {
        let mut model = Model::default();
        let point = |t_ms, rss_bytes, tasks| MemoryPoint {
            t_ms,
            rss_bytes,
            live_heap_bytes: None,
            tasks,
            cpu_percent: Some(1.0),
        };
        model.push_memory(ProcessKind::Host(0), point(0, 900, Some(7)));
        for t_ms in 1..=SERIES_CAPACITY as u64 {
            model.push_memory(ProcessKind::Host(0), point(t_ms, 100, None));
        }
        assert_eq!(model.memory[&ProcessKind::Host(0)].len(), SERIES_CAPACITY);
        let peak = model.peaks[&ProcessKind::Host(0)];
        assert_eq!((peak.rss_bytes, peak.tasks), (900, Some(7)));
        assert_eq!(peak.live_heap_bytes, None);
    }
}
