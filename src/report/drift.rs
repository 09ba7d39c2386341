//! Figures of the idle holds (parti-stress-harness.md §9 A4, A5, A8): for every `Hold` step of
//! a run and every host, the settled level of RSS, live heap and tokio tasks, and their drift,
//! parti's `TestScale_ResourceStability` check: the mean of the last quarter of the hold's
//! samples minus the mean of the first quarter. A positive drift is growth. Pure: a recording
//! in, rows out; the summary stores the rows, and the drift limits of the thresholds judge them.

use std::fmt::Write as _;

use super::summary::Failure;
use crate::observation::{ProcessKind, ProcessSample, StepStatus};
use crate::profile::{ByteSize, Step, Thresholds};
use crate::record::format::{Recording, TimelineEntry};

/// Holds with fewer samples of a host than this have no figures for it: each quarter needs at
/// least two samples to mean anything.
pub const MIN_SAMPLES: usize = 8;

pub use crate::record::summary::HoldFigures;

/// The `(level, drift)` of a series: the mean of its last quarter, and that minus the mean of
/// its first quarter. `None` for fewer than [`MIN_SAMPLES`] values.
pub fn level_and_drift(values: &[f64]) -> Option<(f64, f64)> {
    if values.len() < MIN_SAMPLES {
        return None;
    }
    let quarter = values.len() / 4;
    let mean = |part: &[f64]| part.iter().sum::<f64>() / part.len() as f64;
    let first = mean(&values[..quarter]);
    let last = mean(&values[values.len() - quarter..]);
    Some((last, last - first))
}

/// The start and end of every `Hold` step that finished, with its number and label.
fn holds(recording: &Recording) -> Vec<(usize, String, u64, u64)> {
    let profile = &recording.header.profile;
    let mut started: Vec<(usize, u64)> = Vec::new();
    let mut out = Vec::new();
    for entry in &recording.timeline {
        let TimelineEntry::Step(step) = entry else {
            continue;
        };
        if !matches!(profile.step_at(step.index), Some(Step::Hold(_))) {
            continue;
        }
        match step.status {
            StepStatus::Started => started.push((step.index, step.t_ms)),
            StepStatus::Done => {
                if let Some(&(_, t_start)) = started.iter().find(|(i, _)| *i == step.index) {
                    out.push((step.number(), step.label.clone(), t_start, step.t_ms));
                }
            }
            StepStatus::Failed(_) => {}
        }
    }
    out
}

#[allow(clippy::cast_precision_loss)]
fn as_f64(value: u64) -> f64 {
    value as f64
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn to_u64(value: f64) -> u64 {
    value.round().max(0.0) as u64
}

#[allow(clippy::cast_possible_truncation)]
fn to_i64(value: f64) -> i64 {
    value.round() as i64
}

/// The figures of every host over every finished `Hold` step with at least [`MIN_SAMPLES`] of
/// its samples, in step order, hosts in order.
pub fn hold_figures(recording: &Recording) -> Vec<HoldFigures> {
    let mut rows = Vec::new();
    for (step, label, t_start_ms, t_end_ms) in holds(recording) {
        let mut by_host: std::collections::BTreeMap<u32, Vec<&ProcessSample>> =
            std::collections::BTreeMap::new();
        for sample in recording
            .samples
            .iter()
            .filter(|s| (t_start_ms..=t_end_ms).contains(&s.t_ms))
        {
            for process in &sample.processes {
                if let ProcessKind::Host(host) = process.process {
                    by_host.entry(host).or_default().push(process);
                }
            }
        }
        for (host, samples) in by_host {
            let rss: Vec<f64> = samples.iter().map(|s| as_f64(s.rss_bytes)).collect();
            let Some((rss_level, rss_drift)) = level_and_drift(&rss) else {
                continue;
            };
            let series = |pick: fn(&ProcessSample) -> Option<u64>| -> Option<(f64, f64)> {
                let values: Option<Vec<f64>> =
                    samples.iter().map(|s| pick(s).map(as_f64)).collect();
                level_and_drift(&values?)
            };
            let heap = series(|s| s.live_heap_bytes);
            let tasks = series(|s| s.tasks);
            rows.push(HoldFigures {
                step,
                label: label.clone(),
                host,
                t_start_ms,
                t_end_ms,
                samples: samples.len(),
                workers: samples.last().and_then(|s| s.workers),
                rss_bytes: to_u64(rss_level),
                live_heap_bytes: heap.map(|(level, _)| to_u64(level)),
                tasks: tasks.map(|(level, _)| level),
                rss_drift_bytes: to_i64(rss_drift),
                live_heap_drift_bytes: heap.map(|(_, drift)| to_i64(drift)),
                tasks_drift: tasks.map(|(_, drift)| drift),
            });
        }
    }
    rows
}

/// `+1.5MiB`, `-12KiB`, `+0B`.
fn signed_bytes(bytes: i64) -> String {
    let sign = if bytes < 0 { '-' } else { '+' };
    format!("{sign}{}", ByteSize(bytes.unsigned_abs()))
}

/// The drift limits of `thresholds` that the rows exceed (growth only: shrinking never fails).
pub fn failures(rows: &[HoldFigures], thresholds: &Thresholds) -> Vec<Failure> {
    let mut out = Vec::new();
    for row in rows {
        let what = |metric: &str| {
            format!(
                "{metric} drift in step {} ({}) of host {}",
                row.step, row.label, row.host
            )
        };
        if let Some(limit) = thresholds.drift_rss_per_host
            && row.rss_drift_bytes > 0
            && row.rss_drift_bytes.unsigned_abs() > limit.0
        {
            out.push(Failure {
                what: what("RSS"),
                limit: limit.to_string(),
                actual: signed_bytes(row.rss_drift_bytes),
            });
        }
        if let (Some(limit), Some(drift)) = (
            thresholds.drift_live_heap_per_host,
            row.live_heap_drift_bytes,
        ) && drift > 0
            && drift.unsigned_abs() > limit.0
        {
            out.push(Failure {
                what: what("live heap"),
                limit: limit.to_string(),
                actual: signed_bytes(drift),
            });
        }
        if let (Some(limit), Some(drift)) = (thresholds.drift_tasks_per_host, row.tasks_drift)
            && drift > as_f64(limit)
        {
            out.push(Failure {
                what: what("tasks"),
                limit: limit.to_string(),
                actual: format!("{drift:+.1}"),
            });
        }
    }
    out
}

/// The summary table's section: empty without rows, else a blank line, a title and one line
/// per row.
pub fn table(rows: &[HoldFigures]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut lines = vec![
        [
            "step", "hold", "process", "samples", "workers", "RSS", "drift", "heap", "drift",
            "tasks", "drift",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for row in rows {
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
        lines.push(vec![
            row.step.to_string(),
            row.label.clone(),
            format!("host {}", row.host),
            row.samples.to_string(),
            or_dash(row.workers.map(|w| w.to_string())),
            ByteSize(row.rss_bytes).to_string(),
            signed_bytes(row.rss_drift_bytes),
            or_dash(row.live_heap_bytes.map(|b| ByteSize(b).to_string())),
            or_dash(row.live_heap_drift_bytes.map(signed_bytes)),
            or_dash(row.tasks.map(|t| format!("{t:.1}"))),
            or_dash(row.tasks_drift.map(|d| format!("{d:+.1}"))),
        ]);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|column| {
            lines
                .iter()
                .map(|line| line[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Text columns (hold, process) are left-aligned, figures right-aligned.
    let left = [
        false, true, true, false, false, false, false, false, false, false, false,
    ];
    let mut out = String::from(
        "\nholds (level: mean of the last quarter; drift: last quarter − first quarter)\n",
    );
    for line in &lines {
        for (column, cell) in line.iter().enumerate() {
            let width = widths[column];
            let _ = if left[column] {
                write!(out, "  {cell:<width$}")
            } else {
                write!(out, "  {cell:>width$}")
            };
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{Sample, StepProgress};
    use crate::report::fixtures::{MIB, header, host, nats};
    use crate::report::summary::Subject;
    use std::path::Path;

    fn profile() -> crate::profile::Profile {
        crate::profile::parse(
            "(name: \"soak\", cluster: (partitions: Count(20)), \
             steps: [ScaleTo(2), WaitStable(timeout: \"10s\"), Hold(\"10s\"), Hold(\"1s\")])",
            Path::new("soak.ron"),
        )
        .expect("profile")
    }

    fn step(index: usize, label: &str, status: StepStatus, t_ms: u64) -> TimelineEntry {
        TimelineEntry::Step(StepProgress {
            t_ms,
            index,
            label: label.into(),
            status,
        })
    }

    /// A hold of 12 samples (step 3) whose RSS grows by 1 MiB a sample and whose heap and
    /// tasks stay flat; a short hold (step 4) of 2 samples.
    fn recording() -> Recording {
        let mut samples = vec![Sample {
            t_ms: 500,
            load: None,
            processes: vec![host(0, 99, 99, 99, 2)],
        }];
        for i in 0..12u64 {
            samples.push(Sample {
                t_ms: 1000 + i * 1000,
                load: None,
                processes: vec![host(0, 10 + i, 2, 30, 2), nats(20 + i)],
            });
        }
        samples.push(Sample {
            t_ms: 13_500,
            load: None,
            processes: vec![host(0, 50, 2, 30, 2)],
        });
        Recording {
            header: header(profile()),
            timeline: vec![
                step(0, "scale→2", StepStatus::Started, 0),
                step(0, "scale→2", StepStatus::Done, 0),
                step(2, "hold 10s", StepStatus::Started, 1000),
                step(2, "hold 10s", StepStatus::Done, 12_000),
                step(3, "hold 1s", StepStatus::Started, 12_000),
                step(3, "hold 1s", StepStatus::Done, 13_000),
            ],
            events: Vec::new(),
            samples,
            measurements: Vec::new(),
            findings: Vec::new(),
            load: None,
            summary: None,
        }
    }

    #[test]
    fn level_and_drift_compare_the_first_and_last_quarters() {
        assert_eq!(level_and_drift(&[1.0; 7]), None);
        let rising: Vec<f64> = (0..8).map(f64::from).collect();
        // Quarters of two: (0 + 1) / 2 and (6 + 7) / 2.
        assert_eq!(level_and_drift(&rising), Some((6.5, 6.0)));
        // 10 values: quarters of two, the middle six are not used.
        let mut values = vec![5.0; 10];
        values[0] = 1.0;
        values[9] = 9.0;
        assert_eq!(level_and_drift(&values), Some((7.0, 4.0)));
        let falling: Vec<f64> = (0..8).rev().map(f64::from).collect();
        assert_eq!(level_and_drift(&falling), Some((0.5, -6.0)));
    }

    #[test]
    fn each_long_enough_hold_gets_the_figures_of_each_host() {
        let rows = hold_figures(&recording());
        assert_eq!(rows.len(), 1, "the 1s hold has too few samples: {rows:?}");
        let row = &rows[0];
        assert_eq!((row.step, row.label.as_str()), (3, "hold 10s"));
        assert_eq!(row.host, 0);
        // Samples at 1 s … 12 s: twelve, quarters of three. RSS 10 … 21 MiB.
        assert_eq!(row.samples, 12);
        assert_eq!(row.workers, Some(2));
        assert_eq!(row.rss_bytes, 20 * MIB);
        assert_eq!(row.rss_drift_bytes, 9 * MIB as i64);
        assert_eq!(row.live_heap_bytes, Some(2 * MIB));
        assert_eq!(row.live_heap_drift_bytes, Some(0));
        assert_eq!(row.tasks, Some(30.0));
        assert_eq!(row.tasks_drift, Some(0.0));
    }

    #[test]
    fn drift_limits_fail_growth_only_and_name_the_host() {
        let rows = hold_figures(&recording());
        let limits = Thresholds {
            drift_rss_per_host: Some(ByteSize(8 * MIB)),
            drift_live_heap_per_host: Some(ByteSize(0)),
            drift_tasks_per_host: Some(0),
            ..Thresholds::default()
        };
        let failed = failures(&rows, &limits);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(
            failed[0].to_string(),
            "RSS drift in step 3 (hold 10s) of host 0 is +9MiB, limit 8MiB"
        );
        assert_eq!(failed[0].subject(), Subject::Host(0));
        let looser = Thresholds {
            drift_rss_per_host: Some(ByteSize(9 * MIB)),
            ..Thresholds::default()
        };
        assert!(failures(&rows, &looser).is_empty());
        let mut shrinking = rows.clone();
        shrinking[0].rss_drift_bytes = -(100 * MIB as i64);
        assert!(failures(&shrinking, &limits).is_empty());
    }

    #[test]
    fn the_table_section_lines_up_and_is_empty_without_holds() {
        assert_eq!(table(&[]), "");
        let text = table(&hold_figures(&recording()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "");
        assert!(lines[1].starts_with("holds (level"), "{text}");
        assert_eq!(
            lines[2],
            "  step  hold      process  samples  workers    RSS  drift  heap  drift  tasks  drift"
        );
        assert_eq!(
            lines[3],
            "     3  hold 10s  host 0        12        2  20MiB  +9MiB  2MiB    +0B   30.0   +0.0"
        );
    }
}
