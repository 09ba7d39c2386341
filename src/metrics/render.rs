//! [`render`]: [`Figures`] as the Prometheus text exposition format 0.0.4. Pure: the same
//! figures always give the same text. Every family has its `# HELP` and `# TYPE` lines (also
//! when it has no sample), families come in a fixed order, series within a family are sorted
//! by their labels, a worker ID or process named twice gives one series (the first), and a
//! value that is not a finite number is left out rather than written as `NaN`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::figures::{Figures, ProcessFigures, WorkerFigures, check_names, outcome_names};
use crate::parti::state::State;

/// The `Content-Type` of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy)]
enum Kind {
    Gauge,
    Counter,
}

/// The text being written.
struct Out {
    text: String,
}

impl Out {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        if !value.is_finite() {
            return;
        }
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(label);
                self.text.push_str("=\"");
                escape_label_into(&mut self.text, value);
                self.text.push('"');
            }
            self.text.push('}');
        }
        self.text.push(' ');
        write_number(&mut self.text, value);
        self.text.push('\n');
    }
}

/// A finite sample value as text: integers without a fraction.
fn write_number(out: &mut String, value: f64) {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        // Exact: the value is an integer well inside i64's range.
        let _ = write!(out, "{}", value as i64);
    } else {
        let _ = write!(out, "{value}");
    }
}

/// A label value with `\`, `"` and line feeds escaped.
fn escape_label_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A help text with `\` and line feeds escaped.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Workers with an ID, sorted by it; a repeated ID keeps its first worker.
fn workers_by_id(workers: &[WorkerFigures]) -> BTreeMap<&str, &WorkerFigures> {
    let mut by_id = BTreeMap::new();
    for worker in workers {
        if let Some(id) = worker.worker_id.as_deref() {
            by_id.entry(id).or_insert(worker);
        }
    }
    by_id
}

/// Processes sorted by label; a repeated label keeps its first process.
fn processes_by_label(processes: &[ProcessFigures]) -> BTreeMap<&str, &ProcessFigures> {
    let mut by_label = BTreeMap::new();
    for process in processes {
        by_label.entry(process.process.as_str()).or_insert(process);
    }
    by_label
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

/// The figures as Prometheus text (docs/metrics.md lists every family).
pub fn render(figures: &Figures) -> String {
    let cluster = &figures.cluster;
    let workers = workers_by_id(&cluster.workers);
    let mut out = Out {
        text: String::with_capacity(4096 + workers.len() * 400),
    };

    out.family(
        "parti_workers",
        Kind::Gauge,
        "Workers by manager state (state=\"unknown\" when only KV was read).",
    );
    let mut by_state: BTreeMap<Option<State>, u64> =
        State::ALL.iter().map(|s| (Some(*s), 0)).collect();
    for worker in &cluster.workers {
        *by_state.entry(worker.state).or_default() += 1;
    }
    for state in State::ALL {
        let count = by_state.get(&Some(state)).copied().unwrap_or(0);
        out.sample("parti_workers", &[("state", state.name())], count as f64);
    }
    if let Some(unknown) = by_state.get(&None) {
        out.sample("parti_workers", &[("state", "unknown")], *unknown as f64);
    }

    out.family(
        "parti_worker_state",
        Kind::Gauge,
        "1 for each worker's current manager state (one series per worker).",
    );
    for (id, worker) in &workers {
        if let Some(state) = worker.state {
            out.sample(
                "parti_worker_state",
                &[("worker_id", id), ("state", state.name())],
                1.0,
            );
        }
    }

    out.family(
        "parti_degraded_mode",
        Kind::Gauge,
        "Whether the worker is in the Degraded state (1) or not (0).",
    );
    for (id, worker) in &workers {
        if let Some(state) = worker.state {
            out.sample(
                "parti_degraded_mode",
                &[("worker_id", id)],
                flag(state == State::Degraded),
            );
        }
    }

    out.family(
        "parti_assigned_partitions",
        Kind::Gauge,
        "Partitions assigned to the worker.",
    );
    for (id, worker) in &workers {
        out.sample(
            "parti_assigned_partitions",
            &[("worker_id", id)],
            worker.partitions as f64,
        );
    }

    out.family(
        "parti_worker_assignment_version",
        Kind::Gauge,
        "Version of the assignment the worker holds.",
    );
    for (id, worker) in &workers {
        if let Some(version) = worker.assignment_version {
            out.sample(
                "parti_worker_assignment_version",
                &[("worker_id", id)],
                version as f64,
            );
        }
    }

    out.family(
        "parti_heartbeat_age_seconds",
        Kind::Gauge,
        "Time since the worker's heartbeat key was last written.",
    );
    for (id, worker) in &workers {
        if let Some(age) = worker.heartbeat_age {
            out.sample(
                "parti_heartbeat_age_seconds",
                &[("worker_id", id)],
                age.as_secs_f64(),
            );
        }
    }

    out.family(
        "parti_is_leader",
        Kind::Gauge,
        "Whether the election bucket's leader key names the worker (1) or not (0).",
    );
    let leader = cluster.leader.as_deref();
    let mut leaders: BTreeMap<&str, bool> = workers
        .keys()
        .map(|id| (*id, Some(*id) == leader))
        .collect();
    if let Some(leader) = leader {
        leaders.insert(leader, true);
    }
    for (id, is_leader) in leaders {
        out.sample("parti_is_leader", &[("worker_id", id)], flag(is_leader));
    }

    out.family(
        "parti_leader_changes_total",
        Kind::Counter,
        "Times the leader key came to name a different worker (the first election included).",
    );
    out.sample(
        "parti_leader_changes_total",
        &[],
        cluster.leader_changes as f64,
    );

    out.family(
        "parti_assignment_version",
        Kind::Gauge,
        "Newest assignment version in the assignment bucket.",
    );
    if let Some(version) = cluster.assignment_version {
        out.sample("parti_assignment_version", &[], version as f64);
    }

    out.family(
        "parti_top_info",
        Kind::Gauge,
        "Always 1: what serves these figures (mode) and its run id.",
    );
    out.sample(
        "parti_top_info",
        &[
            ("mode", &figures.mode),
            ("run_id", figures.run_id.as_deref().unwrap_or("")),
        ],
        1.0,
    );

    out.family(
        "parti_top_cluster_stable",
        Kind::Gauge,
        "Whether the cluster is stable: every worker Stable, every partition owned once, every worker on the newest version.",
    );
    if let Some(stable) = cluster.stable {
        out.sample("parti_top_cluster_stable", &[], flag(stable));
    }

    out.family(
        "parti_top_findings_total",
        Kind::Counter,
        "Invariant violations (findings) found so far, by check.",
    );
    let mut findings: BTreeMap<&str, u64> = check_names().iter().map(|c| (*c, 0)).collect();
    for (check, count) in &figures.findings {
        findings.insert(check, *count);
    }
    for (check, count) in findings {
        out.sample(
            "parti_top_findings_total",
            &[("check", check)],
            count as f64,
        );
    }

    out.family(
        "parti_top_events_total",
        Kind::Counter,
        "Events measured so far, by how they ended.",
    );
    let mut events: BTreeMap<&str, u64> = outcome_names().iter().map(|o| (*o, 0)).collect();
    for (outcome, count) in &figures.events.by_outcome {
        events.insert(outcome, *count);
    }
    for (outcome, count) in events {
        out.sample(
            "parti_top_events_total",
            &[("outcome", outcome)],
            count as f64,
        );
    }

    out.family(
        "parti_top_last_event_stabilization_seconds",
        Kind::Gauge,
        "Stabilization time of the last measured event (absent when it did not stabilize).",
    );
    if let Some(stabilization) = figures.events.last_stabilization {
        out.sample(
            "parti_top_last_event_stabilization_seconds",
            &[],
            stabilization.as_secs_f64(),
        );
    }

    render_processes(&mut out, &figures.processes);
    out.text
}

fn render_processes(out: &mut Out, processes: &[ProcessFigures]) {
    let processes = processes_by_label(processes);
    type Field = fn(&ProcessFigures) -> Option<f64>;
    let families: [(&str, Kind, &str, Field); 5] = [
        (
            "parti_top_process_resident_memory_bytes",
            Kind::Gauge,
            "Resident set size of the process.",
            |p| Some(p.rss_bytes as f64),
        ),
        (
            "parti_top_process_live_heap_bytes",
            Kind::Gauge,
            "Live heap the process's allocator reports (hosts and the controller).",
            |p| p.live_heap_bytes.map(|b| b as f64),
        ),
        (
            "parti_top_process_tasks",
            Kind::Gauge,
            "tokio tasks alive in the process (hosts).",
            |p| p.tasks.map(|t| t as f64),
        ),
        (
            "parti_top_process_workers",
            Kind::Gauge,
            "parti workers running in the process (hosts).",
            |p| p.workers.map(f64::from),
        ),
        (
            "parti_top_process_cpu_seconds_total",
            Kind::Counter,
            "CPU time the process used since the run began sampling it.",
            |p| p.cpu_seconds,
        ),
    ];
    for (name, kind, help, field) in families {
        out.family(name, kind, help);
        for (label, process) in &processes {
            if let Some(value) = field(process) {
                out.sample(name, &[("process", label)], value);
            }
        }
    }
}
