//! The text sections of the HTML report: title and verdict, the tables of events, repeats,
//! processes and findings, the comparison, what ran where, and for a diff both runs side by
//! side. Every text is escaped here. Pure.

use std::fmt::Write;

use super::esc;
use crate::observation::ProcessKind;
use crate::profile::ByteSize;
use crate::record::format::{Recording, RunMode};
use crate::record::summary::{EventSummary, RepeatSummary, Spread, Summary, Verdict};
use crate::report::baseline::{Comparison, MetricComparison, MetricVerdict, Range};
use crate::report::overall_verdict;
use crate::report::render::machine_rows;
use crate::report::summary::human_ms;

/// One cell: its text and whether it is a figure (right-aligned).
struct Cell {
    text: String,
    class: &'static str,
}

fn text(value: impl Into<String>) -> Cell {
    Cell {
        text: value.into(),
        class: "",
    }
}

fn num(value: impl Into<String>) -> Cell {
    Cell {
        text: value.into(),
        class: "num",
    }
}

fn styled(value: impl Into<String>, class: &'static str) -> Cell {
    Cell {
        text: value.into(),
        class,
    }
}

/// A table; a header cell ending in `#` or a figure column is right-aligned like its cells.
fn table(class: &str, headers: &[(&str, bool)], rows: &[Vec<Cell>]) -> String {
    let mut out = format!("<table class=\"{class}\"><thead><tr>");
    for (header, figure) in headers {
        let class = if *figure { " class=\"num\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", esc(header));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            if cell.class.is_empty() {
                let _ = write!(out, "<td>{}</td>", esc(&cell.text));
            } else {
                let _ = write!(out, "<td class=\"{}\">{}</td>", cell.class, esc(&cell.text));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn badge(verdict: Verdict) -> String {
    match verdict {
        Verdict::Pass => "<span class=\"badge pass\">PASS</span>".to_owned(),
        Verdict::Fail => "<span class=\"badge fail\">FAIL</span>".to_owned(),
    }
}

fn mode_text(mode: &RunMode) -> String {
    match mode {
        RunMode::Headless => "headless".to_owned(),
        RunMode::Interactive => "interactive".to_owned(),
        RunMode::Replay { source } => format!("replay of {source}"),
    }
}

/// The page's title, the verdict badge and one line of what ran.
pub fn title_block(
    title: &str,
    recording: &Recording,
    summary: &Summary,
    complete: bool,
    comparison: Option<&Comparison>,
) -> String {
    let header = &recording.header;
    let verdict = overall_verdict(summary, comparison);
    let badge = if complete {
        badge(verdict)
    } else {
        "<span class=\"badge incomplete\">INCOMPLETE</span>".to_owned()
    };
    format!(
        "<header><h1>{badge} {}</h1><p class=\"sub\">{} run, started {}, {} recorded, on {} \
         ({} cores)</p></header>",
        esc(title),
        esc(&mode_text(&header.mode)),
        esc(&header.started_at),
        esc(&human_ms(summary.duration_ms)),
        esc(&header.machine.hostname),
        header.machine.cores
    )
}

/// The verdict, the failures, and what an incomplete recording means.
pub fn verdict_block(summary: &Summary, complete: bool, comparison: Option<&Comparison>) -> String {
    let mut out = String::from("<section id=\"verdict\"><h2>Verdict</h2>");
    if !complete {
        out.push_str(
            "<p class=\"warning\">This recording has no summary: it is an autosave of a run that \
             was killed or had not finished. The figures below come from what it holds and may \
             miss events and peaks; the verdict is that of those figures.</p>",
        );
    }
    let verdict = overall_verdict(summary, comparison);
    let mut reasons = Vec::new();
    if !summary.failures.is_empty() {
        reasons.push(crate::text::plural(
            summary.failures.len() as u64,
            "failure",
        ));
    }
    if let Some(n) = comparison.map(Comparison::regressions).filter(|n| *n > 0) {
        reasons.push(crate::text::plural(n as u64, "regression"));
    }
    let _ = write!(
        out,
        "<p class=\"verdict {}\">{}{}; {}.</p>",
        verdict.name(),
        badge(verdict),
        esc(&if reasons.is_empty() {
            " every threshold held".to_owned()
        } else {
            format!(" {}", reasons.join(", "))
        }),
        esc(&crate::text::plural(summary.findings as u64, "finding"))
    );
    if !summary.failures.is_empty() {
        out.push_str("<ul class=\"failures\">");
        for failure in &summary.failures {
            let _ = write!(out, "<li>{}</li>", esc(&failure.to_string()));
        }
        out.push_str("</ul>");
    }
    if summary.dropped_observations > 0 {
        let _ = write!(
            out,
            "<p class=\"warning\">The recorder missed {} observations (it fell behind); figures \
             may be incomplete.</p>",
            summary.dropped_observations
        );
    }
    out.push_str("</section>");
    out
}

fn ms(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), human_ms)
}

/// The events table (every event, by number).
pub fn events_section(heading: &str, events: &[EventSummary]) -> String {
    let id = heading.to_lowercase().replace(' ', "-");
    let mut out = format!("<section id=\"{}\"><h2>{}</h2>", esc(&id), esc(heading));
    if events.is_empty() {
        out.push_str("<p class=\"note\">No event was measured.</p></section>");
        return out;
    }
    let rows: Vec<Vec<Cell>> = events
        .iter()
        .map(|event| {
            vec![
                num(event.event.to_string()),
                text(event.label.clone()),
                num(human_ms(event.t_start_ms)),
                styled(event.stabilization_text(), outcome_class(event)),
                num(ms(event.quiescence_ms)),
                num(format!("{:.1}%", event.moved_percent)),
                num(event
                    .balance
                    .map_or_else(|| "-".to_owned(), |b| format!("{b:.2}"))),
                num(ms(event.first_assignment_max_ms)),
                num(event.workers_after.to_string()),
                text(match event.leader_changed {
                    Some(true) => "changed",
                    Some(false) => "kept",
                    None => "-",
                }),
                text(event.outcome().name()),
            ]
        })
        .collect();
    out.push_str(&table(
        "events",
        &[
            ("#", true),
            ("action", false),
            ("at", true),
            ("stabilization", true),
            ("quiescence", true),
            ("moved", true),
            ("balance", true),
            ("first assignment", true),
            ("workers", true),
            ("leader", false),
            ("outcome", false),
        ],
        &rows,
    ));
    out.push_str("</section>");
    out
}

fn outcome_class(event: &EventSummary) -> &'static str {
    use crate::record::summary::EventOutcome;
    match event.outcome() {
        EventOutcome::Stabilized | EventOutcome::Emptied => "num",
        EventOutcome::Superseded => "num muted",
        EventOutcome::NeverStabilized => "num bad",
    }
}

fn spread<T: Copy>(spread: &Spread<T>, format: impl Fn(T) -> String) -> String {
    format!(
        "{} / {} / {}",
        format(spread.min),
        format(spread.median),
        format(spread.max)
    )
}

fn time(value: Option<u64>) -> String {
    value.map_or_else(|| "never".to_owned(), human_ms)
}

fn bytes(value: u64) -> String {
    ByteSize(value).to_string()
}

/// Min / median / max across repeats, per event place and per process.
pub fn repeats_section(repeats: &RepeatSummary) -> String {
    let mut out = format!(
        "<section id=\"repeats\"><h2>Repeats</h2><p>{} of {} repeats ran; each cell is min / \
         median / max across them. # is the event's place within a repeat; events there that \
         ended differently have a row each.</p>",
        repeats.started, repeats.planned
    );
    let rows: Vec<Vec<Cell>> = repeats
        .events
        .iter()
        .map(|event| {
            vec![
                num(event.position.to_string()),
                num(event.step.to_string()),
                text(event.label.clone()),
                text(event.outcome.name()),
                num(format!("{}/{}", event.occurrences.len(), repeats.started)),
                num(spread(&event.stabilization_ms, time)),
                num(spread(&event.quiescence_ms, time)),
                num(spread(&event.moved_percent, |p| format!("{p:.1}%"))),
                text(match event.leader_changed {
                    Some(true) => "changed",
                    Some(false) => "kept",
                    None => "-",
                }),
            ]
        })
        .collect();
    out.push_str(&table(
        "repeats",
        &[
            ("#", true),
            ("step", true),
            ("action", false),
            ("ended", false),
            ("repeats", true),
            ("stabilization", true),
            ("quiescence", true),
            ("moved", true),
            ("leader", false),
        ],
        &rows,
    ));
    let rows: Vec<Vec<Cell>> = repeats
        .processes
        .iter()
        .map(|p| {
            vec![
                text(p.process.to_string()),
                num(p.repeats.len().to_string()),
                num(spread(&p.peak_rss_bytes, bytes)),
                num(p
                    .peak_live_heap_bytes
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |s| spread(s, bytes))),
                num(p
                    .peak_tasks
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |s| spread(s, |t| t.to_string()))),
            ]
        })
        .collect();
    out.push_str(&table(
        "repeat-processes",
        &[
            ("process", false),
            ("repeats", true),
            ("peak RSS", true),
            ("peak heap", true),
            ("peak tasks", true),
        ],
        &rows,
    ));
    out.push_str("</section>");
    out
}

/// Peaks per process.
pub fn processes_section(summary: &Summary) -> String {
    let mut out = String::from("<section id=\"processes\"><h2>Processes</h2>");
    if summary.processes.is_empty() {
        out.push_str("<p class=\"note\">No samples.</p></section>");
        return out;
    }
    let dash = || "-".to_owned();
    let rows: Vec<Vec<Cell>> = summary
        .processes
        .iter()
        .map(|p| {
            let note = match p.process {
                ProcessKind::Host(_) => "under test",
                ProcessKind::NatsServer => "infrastructure",
                ProcessKind::Controller => "parti-top's own overhead",
            };
            vec![
                text(p.process.to_string()),
                num(bytes(p.peak_rss_bytes)),
                num(p.peak_live_heap_bytes.map_or_else(dash, bytes)),
                num(p.peak_tasks.map_or_else(dash, |t| t.to_string())),
                num(p.mean_cpu_percent.map_or_else(dash, |c| format!("{c:.1}%"))),
                num(p.final_workers.map_or_else(dash, |w| w.to_string())),
                text(note),
            ]
        })
        .collect();
    out.push_str(&table(
        "processes",
        &[
            ("process", false),
            ("peak RSS", true),
            ("peak heap", true),
            ("peak tasks", true),
            ("mean CPU", true),
            ("workers", true),
            ("", false),
        ],
        &rows,
    ));
    out.push_str("</section>");
    out
}

/// Every finding, in time order.
pub fn findings_section(recording: &Recording) -> String {
    let mut out = format!(
        "<section id=\"findings\"><h2>Findings ({})</h2>",
        recording.findings.len()
    );
    if recording.findings.is_empty() {
        out.push_str("<p class=\"note\">No invariant was violated.</p></section>");
        return out;
    }
    let rows: Vec<Vec<Cell>> = recording
        .findings
        .iter()
        .map(|f| {
            vec![
                num(human_ms(f.t_ms)),
                text(f.check.name()),
                text(f.message.clone()),
            ]
        })
        .collect();
    out.push_str(&table(
        "findings",
        &[("at", true), ("check", false), ("message", false)],
        &rows,
    ));
    out.push_str("</section>");
    out
}

fn with_range(metric: &MetricComparison, value: Option<u64>, range: Option<Range>) -> String {
    let shown = metric.unit.format(value);
    match range {
        Some(Range { min, max }) if min != max => format!(
            "{shown} ({}–{})",
            metric.unit.format(min),
            metric.unit.format(max)
        ),
        _ => shown,
    }
}

/// The comparison table; `names` are what the baseline and the current run are called.
pub fn comparison_section(heading: &str, comparison: &Comparison, names: (&str, &str)) -> String {
    let mut out = format!(
        "<section id=\"comparison\"><h2>{}</h2><p>Baseline: run {} started {}. {} regressed, \
         {} improved of {} metrics compared.</p>",
        esc(heading),
        esc(&comparison.baseline_run_id),
        esc(&comparison.baseline_started_at),
        comparison.regressions(),
        comparison.improvements(),
        comparison.metrics.len()
    );
    if comparison.forced {
        let _ = write!(
            out,
            "<p class=\"warning\">Compared although the setups differ (forced): {}</p>",
            esc(&comparison.setup_differences.join("; "))
        );
    }
    if let Some(counts) = comparison.repeats {
        let _ = write!(
            out,
            "<p>Medians across repeats ({} {}, {} {}), min–max beside them.</p>",
            esc(names.0),
            counts.baseline,
            esc(names.1),
            counts.current
        );
    }
    let rows: Vec<Vec<Cell>> = comparison
        .metrics
        .iter()
        .map(|m| {
            let verdict_class = match m.verdict {
                MetricVerdict::Regressed => "bad",
                MetricVerdict::Improved => "good",
                MetricVerdict::WithinNoise => "muted",
            };
            vec![
                text(m.metric.clone()),
                num(with_range(m, m.baseline, m.baseline_range)),
                num(with_range(m, m.current, m.current_range)),
                num(m
                    .change_percent
                    .map_or_else(|| "-".to_owned(), |c| format!("{c:+.1}%"))),
                styled(m.verdict.name(), verdict_class),
            ]
        })
        .collect();
    out.push_str(&table(
        "comparison",
        &[
            ("metric", false),
            (names.0, true),
            (names.1, true),
            ("change", true),
            ("verdict", false),
        ],
        &rows,
    ));
    if !comparison.unmatched.is_empty() {
        out.push_str("<h3>Not compared</h3><ul class=\"unmatched\">");
        for note in &comparison.unmatched {
            let _ = write!(out, "<li>{}</li>", esc(note));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}

/// What ran, where, when: `(field, value)` pairs.
fn run_facts(recording: &Recording) -> Vec<(&'static str, String)> {
    let header = &recording.header;
    let profile = &header.profile;
    let cluster = &profile.cluster;
    vec![
        ("profile", profile.name.clone()),
        ("description", profile.description.clone()),
        ("run", header.run_id.clone()),
        ("mode", mode_text(&header.mode)),
        ("started", header.started_at.clone()),
        ("seed", header.seed.to_string()),
        ("repeats", profile.repeats.to_string()),
        ("partitions", cluster.partitions.len().to_string()),
        ("strategy", format!("{:?}", cluster.strategy.kind)),
        ("timing", format!("{:?}", cluster.timing)),
        ("hosts", cluster.hosts.to_string()),
        ("start mode", format!("{:?}", cluster.start_mode)),
        (
            "parti-top",
            format!(
                "{}{}",
                header.tool_version,
                header
                    .git_revision
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        ),
        (
            "nats-server",
            header
                .nats_server_version
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
        ("format version", header.format_version.to_string()),
    ]
}

/// What ran where, for one recording.
pub fn run_section(recording: &Recording) -> String {
    let machine = &recording.header.machine;
    let mut rows: Vec<Vec<Cell>> = run_facts(recording)
        .into_iter()
        .map(|(field, value)| vec![text(field), text(value)])
        .collect();
    rows.extend(
        machine_rows(machine, machine)
            .into_iter()
            .map(|(field, value, _)| vec![text(format!("machine {field}")), text(value)]),
    );
    format!(
        "<section id=\"run\"><h2>Run</h2>{}</section>",
        table("facts", &[("", false), ("", false)], &rows)
    )
}

/// The diff page's title and verdict.
pub fn diff_title_block(title: &str, comparison: &Comparison) -> String {
    let (badge, line) = if comparison.regressed() {
        (
            "<span class=\"badge fail\">REGRESSED</span>",
            format!(
                "B regressed against A: {}.",
                crate::text::plural(comparison.regressions() as u64, "regression")
            ),
        )
    } else {
        (
            "<span class=\"badge pass\">NO REGRESSION</span>",
            format!(
                "B is within noise of A or better ({} improved).",
                comparison.improvements()
            ),
        )
    };
    format!(
        "<header><h1>{badge} {}</h1><p class=\"sub\">{}</p></header>",
        esc(title),
        esc(&line)
    )
}

/// Both runs' facts and machines side by side, differences marked.
pub fn runs_side_by_side(
    (a, a_summary, a_complete): (&Recording, &Summary, bool),
    (b, b_summary, b_complete): (&Recording, &Summary, bool),
) -> String {
    let verdict = |summary: &Summary, complete: bool| {
        if complete {
            summary.verdict.name().to_owned()
        } else {
            "incomplete (no summary)".to_owned()
        }
    };
    let mut pairs: Vec<(String, String, String)> = run_facts(a)
        .into_iter()
        .zip(run_facts(b))
        .map(|((field, x), (_, y))| (field.to_owned(), x, y))
        .collect();
    pairs.push((
        "duration".into(),
        human_ms(a_summary.duration_ms),
        human_ms(b_summary.duration_ms),
    ));
    pairs.push((
        "verdict".into(),
        verdict(a_summary, a_complete),
        verdict(b_summary, b_complete),
    ));
    pairs.extend(
        machine_rows(&a.header.machine, &b.header.machine)
            .into_iter()
            .map(|(field, x, y)| (format!("machine {field}"), x, y)),
    );
    let rows: Vec<Vec<Cell>> = pairs
        .into_iter()
        .map(|(field, x, y)| {
            let differs = x != y;
            let class = if differs { "differs" } else { "" };
            vec![text(field), styled(x, class), styled(y, class)]
        })
        .collect();
    let machines = if a.header.machine == b.header.machine {
        "Both ran on the same machine."
    } else {
        "The machines differ (marked): compare figures with care."
    };
    format!(
        "<section id=\"runs\"><h2>A and B</h2><p>{machines}</p>{}</section>",
        table(
            "facts side-by-side",
            &[("", false), ("A", false), ("B", false)],
            &rows
        )
    )
}
