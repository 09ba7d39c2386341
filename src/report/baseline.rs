//! Comparing a run with a baseline recording, the criterion way: each metric has a direction
//! (lower is better), and a change counts only when it exceeds the relative tolerance **and**
//! the absolute floor, so tiny numbers do not flap. Verdicts per metric: improved, regressed,
//! within noise. Runs of different setups, and baselines without a summary (a run that did not
//! finish), are refused unless forced. Pure.
//!
//! Events are compared like with like: matched by number and action, and only when they ended
//! the same way (both stabilized, both emptied) and, where both recordings know it, both kept
//! or both changed the leader. A leader change decides much of an event's time (a scale-down
//! that stops the leader waits for a new election, one that keeps it does not), so two healthy
//! runs that differ in it are not a regression; such events are listed as not compared. What
//! is never set aside: an event that finished in the baseline and never stabilized here
//! regresses, and one that finished in the baseline and was superseded here is judged by the
//! time until the next action (its stabilization took at least that long).
//!
//! When either run repeated its steps (`repeats` > 1), each figure is the **median** across
//! the repeats, compared by the same rules, with the spread (min–max) kept beside it; events
//! are then matched by their position within a repeat ([`repeated`]).

mod repeated;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::summary::{human_ms, summarize};
use crate::observation::ProcessKind;
use crate::profile::{ByteSize, Profile, Thresholds, Tolerances};
use crate::record::format::Recording;
use crate::record::summary::{EventOutcome, EventSummary, ProcessSummary, Verdict};

/// Which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

/// The unit of a compared value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    Bytes,
    Millis,
    Count,
}

impl Unit {
    /// `bytes`, `ms`, `count`.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Millis => "ms",
            Unit::Count => "count",
        }
    }

    /// A value in this unit for people (`12MiB`, `1.5s`, `150`); `None` is `never` for
    /// durations and `-` otherwise.
    pub fn format(self, value: Option<u64>) -> String {
        match (self, value) {
            (Unit::Bytes, Some(v)) => ByteSize(v).to_string(),
            (Unit::Millis, Some(v)) => human_ms(v),
            (Unit::Count, Some(v)) => v.to_string(),
            (Unit::Millis, None) => "never".to_owned(),
            (_, None) => "-".to_owned(),
        }
    }
}

/// The verdict on one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricVerdict {
    Improved,
    Regressed,
    WithinNoise,
}

impl MetricVerdict {
    /// `improved`, `regressed`, `within-noise`.
    pub fn name(self) -> &'static str {
        match self {
            MetricVerdict::Improved => "improved",
            MetricVerdict::Regressed => "regressed",
            MetricVerdict::WithinNoise => "within-noise",
        }
    }
}

impl fmt::Display for MetricVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One metric, in both runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// e.g. `peak RSS of host 0`, `stabilization of event 1 (kill leader)`.
    pub metric: String,
    pub unit: Unit,
    pub direction: Direction,
    /// `None` for a duration that never ended (an event that never stabilized).
    pub baseline: Option<u64>,
    pub current: Option<u64>,
    /// `(current - baseline) / baseline` in percent, when both are known and the baseline is
    /// not zero.
    pub change_percent: Option<f64>,
    pub verdict: MetricVerdict,
    /// With repeats: the lowest and highest value behind the baseline's median.
    #[serde(default)]
    pub baseline_range: Option<Range>,
    /// With repeats: the lowest and highest value behind the current median.
    #[serde(default)]
    pub current_range: Option<Range>,
}

/// The lowest and highest value across repeats behind a compared median (`None` inside: a
/// duration that never ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

/// How many repeats each run started, when medians across repeats were compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatCounts {
    pub baseline: u32,
    pub current: u32,
}

/// A run against its baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline_run_id: String,
    pub baseline_started_at: String,
    /// Compared although the setups differ (listed in `setup_differences`).
    pub forced: bool,
    pub setup_differences: Vec<String>,
    /// Events and hosts found in only one of the runs (not compared).
    pub unmatched: Vec<String>,
    pub metrics: Vec<MetricComparison>,
    /// Set when either run repeated its steps: the figures are medians across repeats.
    #[serde(default)]
    pub repeats: Option<RepeatCounts>,
}

impl Comparison {
    /// How many metrics regressed.
    pub fn regressions(&self) -> usize {
        self.count(MetricVerdict::Regressed)
    }

    /// Whether any metric regressed.
    pub fn regressed(&self) -> bool {
        self.regressions() > 0
    }

    /// How many metrics improved.
    pub fn improvements(&self) -> usize {
        self.count(MetricVerdict::Improved)
    }

    fn count(&self, verdict: MetricVerdict) -> usize {
        self.metrics.iter().filter(|m| m.verdict == verdict).count()
    }

    /// `Fail` iff a metric regressed.
    pub fn verdict(&self) -> Verdict {
        if self.regressions() > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
    }
}

/// The differences between two runs' setups that make their figures incomparable: partition
/// count (or list), strategy, timing, hosts, start mode. Empty when comparable.
pub fn setup_differences(current: &Profile, baseline: &Profile) -> Vec<String> {
    let (now, then) = (&current.cluster, &baseline.cluster);
    let mut differences = Vec::new();
    let mut differ = |what: &str, here: String, there: String| {
        differences.push(format!("{what}: {here} here, {there} in the baseline"));
    };
    if now.partitions.len() != then.partitions.len() {
        differ(
            "partitions",
            now.partitions.len().to_string(),
            then.partitions.len().to_string(),
        );
    } else if now.partitions.partitions() != then.partitions.partitions() {
        differ(
            "partitions",
            "one list".into(),
            "another (same count)".into(),
        );
    }
    if now.strategy != then.strategy {
        differ(
            "strategy",
            format!("{:?}", now.strategy),
            format!("{:?}", then.strategy),
        );
    }
    if now.timing.timing() != then.timing.timing() {
        differ(
            "timing",
            format!("{:?}", now.timing),
            format!("{:?}", then.timing),
        );
    }
    if now.hosts != then.hosts {
        differ("hosts", now.hosts.to_string(), then.hosts.to_string());
    }
    if now.start_mode != then.start_mode {
        differ(
            "start mode",
            format!("{:?}", now.start_mode),
            format!("{:?}", then.start_mode),
        );
    }
    // A shared connection changes every host's memory and tasks per worker.
    if now.connection != then.connection {
        differ(
            "connection",
            format!("{:?}", now.connection),
            format!("{:?}", then.connection),
        );
    }
    differences
}

/// Why `baseline` cannot serve as the baseline of a run of `current` (the profile about to
/// run, or the run's own recorded profile), unless forced: setups that differ, or a baseline
/// that has no summary (an autosave of a run that was killed or is still going). Checked before
/// a run starts and again when it is compared.
pub fn refusal(current: &Profile, baseline: &Recording, force: bool) -> Option<String> {
    if force {
        return None;
    }
    let run = &baseline.header.run_id;
    if baseline.summary.is_none() {
        return Some(format!(
            "refusing baseline run {run}: it is incomplete (no summary: an autosave of a run \
             that was killed or had not finished), so most of its events and peaks may be \
             missing; record a complete run, or pass --force to compare with what it holds"
        ));
    }
    let differences = setup_differences(current, &baseline.header.profile);
    (!differences.is_empty()).then(|| {
        format!(
            "refusing to compare with baseline run {run}: the setups differ ({}); pass --force \
             to compare anyway",
            differences.join("; ")
        )
    })
}

/// Compare a run with a baseline recording, per metric: peak RSS, live heap and tasks per
/// host; stabilization and quiescence per event (events matched by number and action, like
/// with like: see the module notes); medians across repeats when either run repeated its
/// steps. Refuses (`Err`) what [`refusal`] refuses unless `force`.
pub fn compare(
    current: &Recording,
    baseline: &Recording,
    tolerances: &Tolerances,
    force: bool,
) -> Result<Comparison, String> {
    if let Some(refused) = refusal(&current.header.profile, baseline, force) {
        return Err(refused);
    }
    let setup_differences = setup_differences(&current.header.profile, &baseline.header.profile);
    // Figures only; the thresholds play no part in a comparison.
    let now = summarize(current, &Thresholds::default(), 0);
    let then = summarize(baseline, &Thresholds::default(), 0);
    let mut metrics = Vec::new();
    let mut unmatched = Vec::new();
    let repeated = current.header.profile.repeats > 1 || baseline.header.profile.repeats > 1;
    let repeats = if repeated {
        let now = super::repeats::statistics(current, &now.events);
        let then = super::repeats::statistics(baseline, &then.events);
        repeated::compare_hosts(&now, &then, tolerances, &mut metrics, &mut unmatched);
        repeated::compare_events(&now, &then, tolerances, &mut metrics, &mut unmatched);
        Some(RepeatCounts {
            baseline: then.started,
            current: now.started,
        })
    } else {
        compare_hosts(
            &now.processes,
            &then.processes,
            tolerances,
            &mut metrics,
            &mut unmatched,
        );
        if now.load.is_some() && then.load.is_some() {
            // With message load a host runs a pull loop per partition its workers own, so its
            // task count follows where the partitions landed (which worker a seeded kill hit,
            // which host the restore filled), not the build.
            let before = metrics.len();
            metrics.retain(|m| !m.metric.starts_with(TASKS_PREFIX));
            if metrics.len() < before {
                unmatched.push(LOAD_TASKS_NOTE.to_owned());
            }
        }
        compare_events(
            &now.events,
            &then.events,
            tolerances,
            &mut metrics,
            &mut unmatched,
        );
        None
    };
    compare_load(&now, &then, tolerances, &mut metrics, &mut unmatched);
    Ok(Comparison {
        baseline_run_id: baseline.header.run_id.clone(),
        baseline_started_at: baseline.header.started_at.clone(),
        forced: !setup_differences.is_empty(),
        setup_differences,
        unmatched,
        metrics,
        repeats,
    })
}

/// A relative tolerance (fraction, `0.1` = 10 %) and an absolute floor in the metric's unit.
#[derive(Clone, Copy, Debug)]
struct Tolerance {
    relative: f64,
    floor: u64,
}

fn tolerance_of(unit: Unit, tolerances: &Tolerances) -> Tolerance {
    match unit {
        Unit::Bytes => Tolerance {
            relative: tolerances.memory_relative,
            floor: tolerances.memory_floor.0,
        },
        Unit::Millis => Tolerance {
            relative: tolerances.duration_relative,
            floor: u64::try_from(tolerances.duration_floor.as_millis()).unwrap_or(u64::MAX),
        },
        Unit::Count => Tolerance {
            relative: tolerances.tasks_relative,
            floor: tolerances.tasks_floor,
        },
    }
}

/// The verdict on a change: worse (or better) by more than the relative tolerance **and** the
/// floor. A missing value is a duration that never ended: worse than any known one.
fn judge(
    direction: Direction,
    baseline: Option<u64>,
    current: Option<u64>,
    tolerance: Tolerance,
) -> MetricVerdict {
    let (baseline, current) = match (baseline, current) {
        (Some(baseline), Some(current)) => (baseline, current),
        (None, None) => return MetricVerdict::WithinNoise,
        (Some(_), None) => return MetricVerdict::Regressed,
        (None, Some(_)) => return MetricVerdict::Improved,
    };
    #[allow(clippy::cast_precision_loss)]
    let (baseline_f, current_f, floor) = (baseline as f64, current as f64, tolerance.floor as f64);
    let worse_by = match direction {
        Direction::LowerIsBetter => current_f - baseline_f,
        Direction::HigherIsBetter => baseline_f - current_f,
    };
    let beyond = |change: f64| change > baseline_f * tolerance.relative && change > floor;
    if beyond(worse_by) {
        MetricVerdict::Regressed
    } else if beyond(-worse_by) {
        MetricVerdict::Improved
    } else {
        MetricVerdict::WithinNoise
    }
}

fn metric(
    name: String,
    unit: Unit,
    baseline: Option<u64>,
    current: Option<u64>,
    tolerances: &Tolerances,
) -> MetricComparison {
    let direction = Direction::LowerIsBetter;
    #[allow(clippy::cast_precision_loss)]
    let change_percent = match (baseline, current) {
        (Some(b), Some(c)) if b > 0 => Some((c as f64 - b as f64) / b as f64 * 100.0),
        _ => None,
    };
    MetricComparison {
        verdict: judge(direction, baseline, current, tolerance_of(unit, tolerances)),
        metric: name,
        unit,
        direction,
        baseline,
        current,
        change_percent,
        baseline_range: None,
        current_range: None,
    }
}

/// The message load's end-to-end latency (p99, in milliseconds, judged as a duration); loss,
/// duplicates and zombie acks are the thresholds' to judge, each run on its own.
fn compare_load(
    now: &crate::record::summary::Summary,
    then: &crate::record::summary::Summary,
    tolerances: &Tolerances,
    metrics: &mut Vec<MetricComparison>,
    unmatched: &mut Vec<String>,
) {
    match (&now.load, &then.load) {
        (Some(now), Some(then)) => {
            let ms = |us: Option<u64>| us.map(|us| us.div_ceil(1_000));
            metrics.push(metric(
                LOAD_P99_METRIC.to_owned(),
                Unit::Millis,
                ms(then.ledger.latency_p99_us),
                ms(now.ledger.latency_p99_us),
                tolerances,
            ));
        }
        (None, None) => {}
        (Some(_), None) => unmatched.push("message load: only in this run".to_owned()),
        (None, Some(_)) => unmatched.push("message load: only in the baseline".to_owned()),
    }
}

/// The compared task counts are named `peak tasks of host N`.
const TASKS_PREFIX: &str = "peak tasks of host ";
/// Why task counts are not compared between runs with message load.
pub const LOAD_TASKS_NOTE: &str = "peak tasks of the hosts: not compared with message load (a \
                                   pull loop per owned partition: the count follows where the \
                                   partitions landed)";

/// The name of the compared message latency.
pub const LOAD_P99_METRIC: &str = "p99 latency of the messages";

fn compare_hosts(
    now: &[ProcessSummary],
    then: &[ProcessSummary],
    tolerances: &Tolerances,
    metrics: &mut Vec<MetricComparison>,
    unmatched: &mut Vec<String>,
) {
    let hosts = |list: &[ProcessSummary]| -> Vec<u32> {
        list.iter()
            .filter_map(|p| match p.process {
                ProcessKind::Host(n) => Some(n),
                _ => None,
            })
            .collect()
    };
    let (now_hosts, then_hosts) = (hosts(now), hosts(then));
    for process in now {
        let ProcessKind::Host(host) = process.process else {
            continue;
        };
        let Some(old) = then.iter().find(|p| p.process == process.process) else {
            unmatched.push(format!("host {host}: not in the baseline"));
            continue;
        };
        metrics.push(metric(
            format!("peak RSS of host {host}"),
            Unit::Bytes,
            Some(old.peak_rss_bytes),
            Some(process.peak_rss_bytes),
            tolerances,
        ));
        if process.peak_live_heap_bytes.is_some() && old.peak_live_heap_bytes.is_some() {
            metrics.push(metric(
                format!("peak live heap of host {host}"),
                Unit::Bytes,
                old.peak_live_heap_bytes,
                process.peak_live_heap_bytes,
                tolerances,
            ));
        }
        if process.peak_tasks.is_some() && old.peak_tasks.is_some() {
            metrics.push(metric(
                format!("{TASKS_PREFIX}{host}"),
                Unit::Count,
                old.peak_tasks,
                process.peak_tasks,
                tolerances,
            ));
        }
    }
    for host in then_hosts.iter().filter(|h| !now_hosts.contains(h)) {
        unmatched.push(format!("host {host}: only in the baseline"));
    }
}

fn compare_events(
    now: &[EventSummary],
    then: &[EventSummary],
    tolerances: &Tolerances,
    metrics: &mut Vec<MetricComparison>,
    unmatched: &mut Vec<String>,
) {
    for event in now {
        let Some(old) = then.iter().find(|e| e.event == event.event) else {
            unmatched.push(format!(
                "event {} ({}): not in the baseline",
                event.event, event.label
            ));
            continue;
        };
        if old.label != event.label {
            unmatched.push(format!(
                "event {}: {} here, {} in the baseline",
                event.event, event.label, old.label
            ));
            continue;
        }
        let name = |what: &str| format!("{what} of event {} ({})", event.event, event.label);
        match pair(&Shape::of(event, now), &Shape::of(old, then)) {
            Pair::Unlike(why) => {
                unmatched.push(format!("event {} ({}): {why}", event.event, event.label));
            }
            Pair::Compare => {
                metrics.push(metric(
                    name("stabilization"),
                    Unit::Millis,
                    old.stabilization_ms,
                    event.stabilization_ms,
                    tolerances,
                ));
                let both_stable =
                    event.stabilization_ms.is_some() && old.stabilization_ms.is_some();
                if both_stable && event.quiescence_ms.is_some() != old.quiescence_ms.is_some() {
                    // Stable in both, but quiet before the next action in one run only: a late
                    // version (an expiring key) fell on one side of the next step.
                    unmatched.push(format!(
                        "{}: quiet before the next action in one run only",
                        name("quiescence")
                    ));
                } else {
                    metrics.push(metric(
                        name("quiescence"),
                        Unit::Millis,
                        old.quiescence_ms,
                        event.quiescence_ms,
                        tolerances,
                    ));
                }
            }
            Pair::AtLeast(bound_ms) => {
                let mut judged = metric(
                    format!("{}, superseded: at least", name("stabilization")),
                    Unit::Millis,
                    old.stabilization_ms,
                    Some(bound_ms),
                    tolerances,
                );
                // The true time is longer than the bound: it cannot have improved.
                if judged.verdict == MetricVerdict::Improved {
                    judged.verdict = MetricVerdict::WithinNoise;
                }
                metrics.push(judged);
            }
        }
    }
    for old in then
        .iter()
        .filter(|old| !now.iter().any(|e| e.event == old.event))
    {
        unmatched.push(format!(
            "event {} ({}): only in the baseline",
            old.event, old.label
        ));
    }
}

/// How an event of this run is set beside the baseline's event of the same number and action.
enum Pair {
    /// Both figures are judged.
    Compare,
    /// This run's event was superseded after `bound_ms` where the baseline's finished: its
    /// stabilization took at least that long, and is judged as such.
    AtLeast(u64),
    /// Not comparable, and why.
    Unlike(String),
}

/// What decides whether two events are alike: how each ended, whether it changed the leader,
/// and for a superseded event the time until the action that overtook it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    outcome: EventOutcome,
    leader_changed: Option<bool>,
    versions_to_stable: Option<u32>,
    /// Superseded: the time until the overtaking action, when that event is known.
    superseded_after_ms: Option<u64>,
}

impl Shape {
    /// The shape of `event` of the run whose events are `run`.
    fn of(event: &EventSummary, run: &[EventSummary]) -> Shape {
        Shape {
            outcome: event.outcome(),
            leader_changed: event.leader_changed,
            versions_to_stable: event.versions_to_stable,
            superseded_after_ms: event
                .superseded_by
                .and_then(|by| run.iter().find(|e| e.event == by))
                .map(|next| next.t_start_ms.saturating_sub(event.t_start_ms)),
        }
    }
}

/// Like with like (see the module notes). An event that finished in the baseline and did not
/// here is judged, never set aside: never stabilizing is a regression, and being superseded
/// means taking at least until the next action.
fn pair(now: &Shape, then: &Shape) -> Pair {
    use EventOutcome::{Emptied, NeverStabilized, Stabilized, Superseded};
    let (here, there) = (now.outcome, then.outcome);
    let finished = |outcome: EventOutcome| matches!(outcome, Stabilized | Emptied);
    match (here, there) {
        (NeverStabilized, o) | (o, NeverStabilized) if finished(o) || o == NeverStabilized => {
            return Pair::Compare;
        }
        _ => {}
    }
    if let (Some(a), Some(b)) = (now.leader_changed, then.leader_changed)
        && a != b
    {
        let said = |changed: bool| if changed { "changed" } else { "kept" };
        return Pair::Unlike(format!(
            "the leader {} here, {} in the baseline (different causes)",
            said(a),
            said(b)
        ));
    }
    if let (Some(a), Some(b)) = (now.versions_to_stable, then.versions_to_stable)
        && a != b
        && finished(here)
        && finished(there)
    {
        let versions = |n: u32| crate::text::plural(u64::from(n), "version");
        return Pair::Unlike(format!(
            "stable after {} here, after {} in the baseline (different paths)",
            versions(a),
            versions(b)
        ));
    }
    let said = |outcome: EventOutcome| match outcome {
        Stabilized => "stabilized",
        Emptied => "emptied",
        Superseded => "was superseded",
        NeverStabilized => "never stabilized",
    };
    match (here, there) {
        (Superseded, Superseded) => {
            Pair::Unlike("superseded in both runs (nothing to compare)".into())
        }
        (Superseded, o) if finished(o) => match now.superseded_after_ms {
            Some(bound_ms) => Pair::AtLeast(bound_ms),
            None => Pair::Unlike("was superseded here by an event not in the summary".into()),
        },
        (a, b) if a == b => Pair::Compare,
        (a, b) => Pair::Unlike(format!("{} here, {} in the baseline", said(a), said(b))),
    }
}

#[cfg(test)]
#[path = "baseline_tests.rs"]
mod tests;
