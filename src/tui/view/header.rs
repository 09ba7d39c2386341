//! The header: run facts on the first line (NATS, elapsed time, recording), the run's progress
//! on the second (profile step, pending actions, paused hosts, stability — `○ empty` when no
//! worker runs, never stable) with the last notice on its right. A reviewed run draws its own
//! first line and reuses the second ([`progress`]).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::{self, Segment};
use super::theme;
use crate::tui::keymap::{self, Command};
use crate::tui::model::Model;

/// The key that restarts nats-server, as the keymap names it.
fn restart_key() -> String {
    keymap::binding(Command::RestartNats)
        .and_then(|b| b.keys.first())
        .map(|k| k.name())
        .unwrap_or_default()
}

/// The first line: product, run id, NATS status, elapsed time, recording state.
fn facts_line(model: &Model, width: u16) -> Line<'_> {
    let facts = &model.facts;
    let mut segments = vec![Segment::new(
        0,
        vec![Span::styled("parti-top", theme::TITLE)],
    )];
    segments.push(Segment::new(
        4,
        vec![Span::styled("run ", theme::DIM), Span::raw(&facts.run_id)],
    ));
    let mut nats = if facts.nats_up {
        vec![Span::styled("● ", theme::OK), Span::raw("NATS up")]
    } else if facts.managed {
        vec![Span::styled(
            format!("● NATS DOWN — {} to restart", restart_key()),
            theme::BAD,
        )]
    } else {
        vec![Span::styled("● NATS DOWN (external)", theme::BAD)]
    };
    // The version goes with the status: it is short and says which server is measured.
    if let Some(version) = &facts.nats_version {
        nats.push(Span::styled(format!(" v{version}"), theme::DIM));
    }
    segments.push(Segment::new(0, nats));
    if !facts.nats_url.is_empty() {
        let mut spans = vec![Span::styled(&facts.nats_url, theme::DIM)];
        if !facts.managed {
            spans.push(Span::styled(" (external)", theme::DIM));
        }
        segments.push(Segment::new(6, spans));
    }
    segments.push(Segment::new(
        1,
        vec![
            Span::styled("elapsed ", theme::DIM),
            Span::raw(format::clock(model.now_ms)),
        ],
    ));
    let recording = match (&facts.recording_path, facts.recording) {
        (_, true) => Span::styled("● REC", theme::REC),
        (Some(_), false) => Span::styled("rec paused", theme::WARN),
        (None, false) => Span::styled("not recording", theme::DIM),
    };
    segments.push(Segment::new(2, vec![recording]));
    // The file is printed again on quit: on a narrow terminal it goes before the run id.
    if let Some(path) = &facts.recording_path {
        segments.push(Segment::attached(5, vec![Span::styled(path, theme::DIM)]));
    }
    format::fit(segments, Span::styled(" │ ", theme::DIM), width)
}

/// The second line's left part: profile step, stability, pending actions, missed observations.
fn progress_line(model: &Model, width: u16) -> Line<'_> {
    let mut segments = Vec::new();
    if !model.facts.profile.is_empty() {
        segments.push(Segment::new(
            5,
            vec![
                Span::styled("profile ", theme::DIM),
                Span::raw(&model.facts.profile),
            ],
        ));
    }
    match &model.step {
        Some(step) => {
            let text = format!("step {}/{} {}", step.number, step.total, step.label);
            let spans = match &step.failed {
                Some(reason) => vec![
                    Span::styled(text, theme::BAD),
                    Span::styled(format!(" failed: {reason}"), theme::BAD),
                ],
                None => vec![Span::raw(text)],
            };
            segments.push(Segment::new(1, spans));
        }
        None if model.steps_total == 0 => {
            segments.push(Segment::new(
                3,
                vec![Span::styled("interactive", theme::DIM)],
            ));
        }
        None => segments.push(Segment::new(
            3,
            vec![Span::styled(
                format!("{} steps", model.steps_total),
                theme::DIM,
            )],
        )),
    }
    if model.pending_actions > 0 {
        segments.push(Segment::new(
            2,
            vec![Span::styled(
                format!("pending {}", model.pending_actions),
                theme::WARN,
            )],
        ));
    }
    if model.dropped > 0 {
        segments.push(Segment::new(
            2,
            vec![Span::styled(
                format!("missed {} updates", model.dropped),
                theme::WARN,
            )],
        ));
    }
    if model.quitting {
        segments.push(Segment::new(
            0,
            vec![Span::styled("quitting…", theme::WARN)],
        ));
    }
    if let Some(paused) = paused_text(&model.cluster.paused_hosts) {
        segments.push(Segment::new(0, vec![Span::styled(paused, theme::PAUSED)]));
    }
    // Stability comes last: its reason is cut rather than hiding the rest.
    segments.push(Segment::shrinkable(0, stability(model), 24));
    format::fit(segments, Span::styled(" │ ", theme::DIM), width)
}

/// `host 1 paused`, `hosts 0, 2 paused`, or nothing.
fn paused_text(hosts: &[u32]) -> Option<String> {
    match hosts {
        [] => None,
        [host] => Some(format!("host {host} paused")),
        many => Some(format!(
            "hosts {} paused",
            many.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The cluster's stability: an empty cluster is never stable, whatever the state says.
fn stability(model: &Model) -> Vec<Span<'_>> {
    let cluster = &model.cluster;
    if cluster.workers.is_empty() {
        return vec![Span::styled("○ empty (no workers)", theme::WARN)];
    }
    if cluster.stable {
        return vec![Span::styled("✓ stable", theme::OK)];
    }
    let mut spans = vec![Span::styled("✗ unstable", theme::WARN)];
    if let Some(reason) = &cluster.reason {
        spans.push(Span::styled(format!(": {reason}"), theme::WARN));
    }
    spans
}

/// The header's height for a terminal of `height` rows.
pub fn height(height: u16) -> u16 {
    if height >= 12 { 2 } else { 1 }
}

/// Draw the header into `area` (one or two rows).
pub fn render(model: &Model, frame: &mut Frame, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let first = Rect { height: 1, ..area };
    frame.render_widget(Paragraph::new(facts_line(model, area.width)), first);
    if area.height < 2 {
        return;
    }
    let second = Rect {
        y: area.y + 1,
        height: 1,
        ..area
    };
    progress(model, frame, second);
}

/// Draw the second row into `second`: the run's progress and stability, the last notice on
/// its right.
pub fn progress(model: &Model, frame: &mut Frame, second: Rect) {
    let notice = model.notice.as_ref().map(|notice| {
        let style = if notice.error {
            theme::BAD
        } else {
            theme::TEXT
        };
        Span::styled(notice.text.as_str(), style)
    });
    let notice_width = notice.as_ref().map_or(0, |n| {
        u16::try_from(n.width())
            .unwrap_or(u16::MAX)
            .min(second.width / 2)
    });
    let left_width = second.width.saturating_sub(notice_width + 1);
    let left = Rect {
        width: left_width,
        ..second
    };
    frame.render_widget(Paragraph::new(progress_line(model, left_width)), left);
    if let Some(notice) = notice {
        let right = Rect {
            x: second.x + second.width - notice_width,
            width: notice_width,
            ..second
        };
        frame.render_widget(Paragraph::new(Line::from(notice)), right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::sample_model;

    #[test]
    fn an_empty_cluster_is_never_shown_stable() {
        let mut model = sample_model();
        model.cluster.workers.clear();
        model.cluster.stable = true;
        let line = progress_line(&model, 200).to_string();
        assert!(line.contains("○ empty (no workers)"), "{line}");
        assert!(!line.contains("✓ stable"), "{line}");
    }

    #[test]
    fn paused_hosts_are_named() {
        assert_eq!(paused_text(&[]), None);
        assert_eq!(paused_text(&[1]).as_deref(), Some("host 1 paused"));
        assert_eq!(paused_text(&[0, 2]).as_deref(), Some("hosts 0, 2 paused"));
        let mut model = sample_model();
        model.cluster.paused_hosts = vec![1];
        let line = progress_line(&model, 200).to_string();
        assert!(line.contains("host 1 paused"), "{line}");
    }
}
