//! The HTML report: one self-contained page per recording ([`render`]) or per comparison of two
//! recordings ([`render_diff`]), as Gatling, Locust and k6 write them: inline CSS, inline SVG
//! charts (RSS, live heap and tokio tasks per process over time, stabilization time per event,
//! the timeline of actions, marks and findings), the tables of events, processes and repeats,
//! the findings, the verdict and the baseline comparison. No script, and nothing fetched from
//! anywhere. The markup is XHTML-compatible (every element closed, all text escaped), so the
//! page parses as XML too. Pure.

mod charts;
mod sections;
pub mod svg;

use charts::{A_COLOR, B_COLOR, Colouring};
use svg::Scale;

use crate::record::format::Recording;
use crate::record::summary::Summary;
use crate::report::baseline::Comparison;
use crate::report::summarize;

/// The page's style sheet, inlined into every page.
const STYLE: &str = include_str!("html/style.css");

/// Text safe inside XML elements and attributes (control characters other than white space
/// are dropped: XML cannot carry them).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// The recording's summary, and whether it is the stored one (`false`: the recording has none,
/// an autosave of a run that did not finish, and the figures come from what it holds).
fn summary_of(recording: &Recording) -> (Summary, bool) {
    match &recording.summary {
        Some(summary) => (summary.clone(), true),
        None => (
            summarize(recording, &recording.header.profile.thresholds, 0),
            false,
        ),
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
         <meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <meta name=\"generator\" content=\"parti-top {}\"/>\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n\
         <body>\n{body}\n<footer>Written by parti-top {} from the recording alone; self-contained: \
         no script, nothing fetched.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title),
        env!("CARGO_PKG_VERSION"),
    )
}

/// The latest moment a chart of these recordings must show.
fn span_ms(recordings: &[&Recording]) -> u64 {
    recordings
        .iter()
        .map(|r| r.duration_ms())
        .max()
        .unwrap_or(0)
        .max(1)
}

/// The report of one recording, with its baseline comparison when there is one. A recording
/// without a summary (an autosave) still renders, saying so.
pub fn render(recording: &Recording, comparison: Option<&Comparison>) -> String {
    let (summary, complete) = summary_of(recording);
    let header = &recording.header;
    let title = format!(
        "parti-top report: {} (run {})",
        header.profile.name, header.run_id
    );
    let x_max = span_ms(&[recording]);
    let markers = charts::event_markers(&summary.events, "#495057", "", 0);
    let colouring = Colouring::PerProcess;
    let mut body = String::new();
    body.push_str(&sections::title_block(
        &title, recording, &summary, complete, comparison,
    ));
    body.push_str(&sections::verdict_block(&summary, complete, comparison));
    body.push_str("<section id=\"charts\"><h2>Charts</h2>");
    body.push_str(&process_figures(
        |figure| charts::process_series(recording, figure, colouring, ""),
        x_max,
        &markers,
    ));
    body.push_str(&charts::stabilization_figure(&summary.events));
    body.push_str(&charts::timeline_figure("Timeline", recording, x_max));
    body.push_str("</section>");
    body.push_str(&sections::events_section("Events", &summary.events));
    if let Some(repeats) = &summary.repeats {
        body.push_str(&sections::repeats_section(repeats));
    }
    body.push_str(&sections::processes_section(&summary));
    body.push_str(&sections::findings_section(recording));
    if let Some(comparison) = comparison {
        body.push_str(&sections::comparison_section(
            "Comparison with the baseline",
            comparison,
            ("baseline", "this run"),
        ));
    }
    body.push_str(&sections::run_section(recording));
    page(&title, &body)
}

/// The report of B compared with A (the baseline): both runs side by side, the comparison, and
/// the charts of both runs overlaid (A and B in two colours).
pub fn render_diff(a: &Recording, b: &Recording, comparison: &Comparison) -> String {
    let (a_summary, a_complete) = summary_of(a);
    let (b_summary, b_complete) = summary_of(b);
    let title = format!(
        "parti-top diff: {} (run {}) against {} (run {})",
        b.header.profile.name, b.header.run_id, a.header.profile.name, a.header.run_id
    );
    let x_max = span_ms(&[a, b]);
    let mut markers = charts::event_markers(&a_summary.events, A_COLOR, "A", 0);
    markers.extend(charts::event_markers(&b_summary.events, B_COLOR, "B", 1));
    let overlay = |figure: charts::Figure| {
        let mut series = charts::process_series(a, figure, Colouring::Run(A_COLOR), "A: ");
        series.extend(charts::process_series(
            b,
            figure,
            Colouring::Run(B_COLOR),
            "B: ",
        ));
        series
    };
    let mut body = String::new();
    body.push_str(&sections::diff_title_block(&title, comparison));
    body.push_str(&sections::runs_side_by_side(
        (a, &a_summary, a_complete),
        (b, &b_summary, b_complete),
    ));
    body.push_str(&sections::comparison_section(
        "Comparison: B against A",
        comparison,
        ("A", "B"),
    ));
    body.push_str("<section id=\"charts\"><h2>Charts (A and B overlaid)</h2>");
    body.push_str(&process_figures(overlay, x_max, &markers));
    body.push_str(&charts::stabilization_overlay(
        &a_summary.events,
        &b_summary.events,
    ));
    body.push_str(&charts::timeline_figure("Timeline of A", a, x_max));
    body.push_str(&charts::timeline_figure("Timeline of B", b, x_max));
    body.push_str("</section>");
    body.push_str(&sections::events_section("Events of A", &a_summary.events));
    body.push_str(&sections::events_section("Events of B", &b_summary.events));
    page(&title, &body)
}

#[cfg(test)]
#[path = "html/tests.rs"]
mod tests;

/// The per-process charts (RSS, live heap, tokio tasks), each drawn from the series `series_of`
/// gives for its figure.
fn process_figures(
    series_of: impl Fn(charts::Figure) -> Vec<svg::Series>,
    x_max_ms: u64,
    markers: &[svg::Marker],
) -> String {
    let figures: [(&str, &str, charts::Figure, Scale); 3] = [
        ("RSS per process", "rss", charts::rss, Scale::Bytes),
        ("Live heap per process", "heap", charts::heap, Scale::Bytes),
        ("tokio tasks per host", "tasks", charts::tasks, Scale::Count),
    ];
    figures
        .into_iter()
        .map(|(heading, class, figure, scale)| {
            charts::process_figure(heading, class, &series_of(figure), scale, x_max_ms, markers)
        })
        .collect()
}
