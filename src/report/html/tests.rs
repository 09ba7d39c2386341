//! Tests of the HTML report: well-formed (parsed as XML), self-contained, every event and every
//! series drawn, all text escaped, incomplete recordings and diffs rendered.

use super::*;
use crate::action::Action;
use crate::observation::Observation;
use crate::profile::Tolerances;
use crate::report::compare;
use crate::report::fixtures::{self, RepeatFigures};

const XHTML: &str = "http://www.w3.org/1999/xhtml";
const SVG: &str = "http://www.w3.org/2000/svg";

/// Parse the page as XML, as an XHTML reader would; panics with the parser's message.
fn parse(page: &str) -> roxmltree::Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    match roxmltree::Document::parse_with_options(page, options) {
        Ok(doc) => doc,
        Err(err) => panic!("not well-formed: {err}\n{page}"),
    }
}

fn elements<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    namespace: &'a str,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    doc.descendants()
        .filter(move |n| n.is_element() && n.has_tag_name((namespace, name)))
}

/// The `<svg>` chart with this class.
fn chart<'a, 'i>(doc: &'a roxmltree::Document<'i>, class: &str) -> roxmltree::Node<'a, 'i> {
    elements(doc, SVG, "svg")
        .find(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|part| part == class))
        })
        .unwrap_or_else(|| panic!("no {class} chart"))
}

fn series_names(chart: roxmltree::Node<'_, '_>) -> Vec<String> {
    chart
        .descendants()
        .filter(|n| n.has_tag_name((SVG, "polyline")))
        .map(|n| n.attribute("data-series").unwrap_or("").to_owned())
        .collect()
}

fn bar_events(chart: roxmltree::Node<'_, '_>) -> Vec<usize> {
    chart
        .descendants()
        .filter_map(|n| n.attribute("data-event"))
        .map(|e| e.parse().expect("event number"))
        .collect()
}

/// The first column of every row of the table with this class.
fn first_cells(doc: &roxmltree::Document<'_>, class: &str) -> Vec<String> {
    elements(doc, XHTML, "table")
        .filter(|t| t.attribute("class") == Some(class))
        .flat_map(|t| t.descendants().filter(|n| n.has_tag_name((XHTML, "tr"))))
        .filter_map(|tr| tr.children().find(|c| c.has_tag_name((XHTML, "td"))))
        .filter_map(|td| td.text().map(str::to_owned))
        .collect()
}

fn assert_self_contained(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>\n"), "{page}");
    for forbidden in ["<script", "src=", "href=", "@import", "url(http", "<link"] {
        assert!(!page.contains(forbidden), "{forbidden} in the page");
    }
}

#[test]
fn a_report_is_well_formed_self_contained_and_draws_every_event_and_series() {
    let mut recording = fixtures::recording(45);
    recording.push(fixtures::finding(700));
    recording.push(Observation::Action(crate::observation::ActionRecord {
        t_ms: 6000,
        action: Action::Mark("after the kill".into()),
        source: crate::action::ActionSource::Operator,
        error: None,
    }));
    let recording = fixtures::complete(recording);
    let page = render(&recording, None);
    assert_self_contained(&page);
    let doc = parse(&page);
    assert_eq!(doc.root_element().tag_name().namespace(), Some(XHTML));
    // Every event in the table and as a bar.
    assert_eq!(first_cells(&doc, "events"), ["1", "2"]);
    assert_eq!(bar_events(chart(&doc, "stabilization")), [1, 2]);
    // One line per process that reports the figure.
    assert_eq!(series_names(chart(&doc, "rss")), ["host 0", "nats-server"]);
    assert_eq!(series_names(chart(&doc, "heap")), ["host 0"]);
    assert_eq!(series_names(chart(&doc, "tasks")), ["host 0"]);
    // The timeline has the actions, the mark and the finding.
    let timeline = chart(&doc, "timeline");
    let ticks: Vec<&str> = timeline
        .descendants()
        .filter_map(|n| n.attribute("class"))
        .filter(|c| c.starts_with("tick-"))
        .collect();
    assert_eq!(
        ticks,
        ["tick-action", "tick-action", "tick-mark", "tick-finding"]
    );
    assert!(page.contains("partition-3 owned by worker-1 and worker-2"));
    assert!(
        page.contains("<span class=\"badge fail\">FAIL</span>"),
        "one finding fails"
    );
}

#[test]
fn every_text_is_escaped() {
    let mut recording = fixtures::recording(45);
    let name = "<script>alert('x')</script> & \"friends\"";
    recording.header.profile.name = name.into();
    recording.header.run_id = "run<1>".into();
    recording.push(Observation::Action(crate::observation::ActionRecord {
        t_ms: 100,
        action: Action::Mark("a < b & c > d\u{7}".into()),
        source: crate::action::ActionSource::Operator,
        error: None,
    }));
    let page = render(&recording, None);
    assert_self_contained(&page);
    let doc = parse(&page);
    let title = elements(&doc, XHTML, "title").next().expect("title");
    assert_eq!(
        title.text(),
        Some(format!("parti-top report: {name} (run run<1>)").as_str())
    );
    assert!(
        page.contains("a &lt; b &amp; c &gt; d"),
        "marks are escaped"
    );
}

#[test]
fn an_incomplete_recording_renders_saying_so() {
    let mut recording = fixtures::recording(45);
    recording.summary = None;
    let page = render(&recording, None);
    let doc = parse(&page);
    assert!(page.contains("INCOMPLETE"), "{page}");
    assert!(page.contains("This recording has no summary"), "{page}");
    assert_eq!(first_cells(&doc, "events"), ["1", "2"]);
}

#[test]
fn a_report_with_a_comparison_and_repeats_shows_both() {
    let figures = |kill: [u64; 3]| -> Vec<RepeatFigures> {
        kill.iter()
            .map(|&k| RepeatFigures::new(40, 1000, k))
            .collect()
    };
    let baseline = fixtures::repeated(&figures([5000, 6000, 7000]));
    let current = fixtures::repeated(&figures([9000, 9500, 9900]));
    let comparison = compare(&current, &baseline, &Tolerances::default(), false).expect("ok");
    let page = render(&current, Some(&comparison));
    let doc = parse(&page);
    // Every event of the run (resets included) in the table and as a bar.
    let numbers: Vec<String> = (1..=8).map(|n| n.to_string()).collect();
    assert_eq!(first_cells(&doc, "events"), numbers);
    assert_eq!(
        bar_events(chart(&doc, "stabilization")),
        (1..=8).collect::<Vec<_>>()
    );
    assert_eq!(first_cells(&doc, "repeats"), ["1", "2"]);
    let metrics = first_cells(&doc, "comparison");
    assert!(
        metrics.contains(&"stabilization of repeat event 2 (kill leader)".to_owned()),
        "{metrics:?}"
    );
    assert!(page.contains("6s (5s–7s)"), "the spread beside the median");
    assert!(page.contains("<td class=\"bad\">regressed</td>"));
}

#[test]
fn a_diff_overlays_both_runs_on_the_same_charts() {
    let a = fixtures::recording(40);
    let mut b = fixtures::recording(80);
    b.header.run_id = "run-2".into();
    b.header.machine.cores = 8;
    let comparison = compare(&b, &a, &Tolerances::default(), false).expect("ok");
    let page = render_diff(&a, &b, &comparison);
    assert_self_contained(&page);
    let doc = parse(&page);
    assert_eq!(
        series_names(chart(&doc, "rss")),
        ["A: host 0", "A: nats-server", "B: host 0", "B: nats-server"]
    );
    let rss = chart(&doc, "rss");
    let colours: Vec<&str> = rss
        .descendants()
        .filter(|n| n.has_tag_name((SVG, "polyline")))
        .filter_map(|n| n.attribute("stroke"))
        .collect();
    assert_eq!(colours, [A_COLOR, A_COLOR, B_COLOR, B_COLOR]);
    assert_eq!(bar_events(chart(&doc, "stabilization")), [1, 1, 2, 2]);
    assert!(page.contains("REGRESSED"), "RSS doubled");
    assert!(page.contains("The machines differ"), "{page}");
    assert_eq!(first_cells(&doc, "events"), ["1", "2", "1", "2"]);
    // The legend names every line.
    let legend: Vec<String> = elements(&doc, XHTML, "li")
        .map(|li| {
            li.children()
                .filter(roxmltree::Node::is_text)
                .filter_map(|t| t.text())
                .collect()
        })
        .collect();
    assert!(legend.contains(&"B: nats-server".to_owned()), "{legend:?}");
}
