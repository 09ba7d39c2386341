//! Drawing a review from a shared reference: the live dashboard's panes over the model at the
//! cursor (charts with the cursor line, workers, ownership, findings, stabilization), under a
//! review header (`REVIEW`, the file, cursor / duration, zoom, verdict or `incomplete`) and the
//! live header's progress row, with the log rebuilt from the recording up to the cursor, the
//! review's key hints (or its last message) and its help overlay.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::tui::model::{Model, Screen};
use crate::tui::view::format::{self, Segment};
use crate::tui::view::{self as live, theme};

use super::keys::{self, BINDINGS, Command};
use super::log::Level;
use super::update::ReviewModel;

/// What the header says of a recording without a summary.
pub const INCOMPLETE: &str = "incomplete (autosave, no summary)";

/// `0:01:02.3`: run time with tenths of a second.
pub fn cursor_time(ms: u64) -> String {
    format!("{}.{}", format::clock(ms), ms % 1000 / 100)
}

/// Draw the whole screen for `review`.
pub fn render(review: &ReviewModel, frame: &mut Frame) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let model = review.shown();
    let header_height = if area.height >= 12 { 2 } else { 1 };
    let footer_height = u16::from(area.height > header_height + 2);
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Fill(1),
        Constraint::Length(footer_height),
    ])
    .areas(area);
    let first = Rect { height: 1, ..top };
    frame.render_widget(Paragraph::new(facts_line(review, area.width)), first);
    if top.height >= 2 {
        let second = Rect {
            y: top.y + 1,
            height: 1,
            ..top
        };
        live::header_progress(&model, frame, second);
    }
    match review.screen {
        Screen::Logs => log_pane(review, frame, body, "log · up to the cursor"),
        Screen::Findings => live::findings_screen(&model, frame, body),
        Screen::Dashboard | Screen::Connect => {
            live::dashboard_with_log(&model, frame, body, |frame, log| {
                log_pane(review, frame, log, "log · up to the cursor · l hides");
            });
        }
    }
    footer(review, &model, frame, bottom);
    if review.help {
        help(frame, area);
    }
}

/// The first row: product and REVIEW, the file, cursor / duration, zoom, the verdict or that
/// the recording is incomplete, the run id.
fn facts_line(review: &ReviewModel, width: u16) -> Line<'_> {
    let recording = &review.recording;
    let mut segments = vec![
        Segment::new(
            0,
            vec![
                Span::styled("parti-top ", theme::TITLE),
                Span::styled("REVIEW", theme::REC),
            ],
        ),
        Segment::new(1, vec![Span::raw(recording.name.as_str())]),
        Segment::new(
            0,
            vec![
                Span::styled("at ", theme::DIM),
                Span::styled(cursor_time(review.cursor_ms), theme::CURSOR),
                Span::styled(
                    format!(" / {}", cursor_time(review.duration_ms())),
                    theme::DIM,
                ),
            ],
        ),
        Segment::new(
            3,
            vec![
                Span::styled("zoom ", theme::DIM),
                Span::raw(review.zoom.label()),
            ],
        ),
    ];
    match &recording.recording.summary {
        None => segments.push(Segment::new(1, vec![Span::styled(INCOMPLETE, theme::WARN)])),
        Some(summary) => {
            let style = match summary.verdict {
                crate::report::summary::Verdict::Pass => theme::OK,
                crate::report::summary::Verdict::Fail => theme::BAD,
            };
            segments.push(Segment::new(
                2,
                vec![
                    Span::styled("verdict ", theme::DIM),
                    Span::styled(summary.verdict.name().to_uppercase(), style),
                ],
            ));
        }
    }
    segments.push(Segment::new(
        5,
        vec![
            Span::styled("run ", theme::DIM),
            Span::raw(recording.recording.header.run_id.as_str()),
        ],
    ));
    format::fit(segments, Span::styled(" │ ", theme::DIM), width)
}

/// The rebuilt log up to the cursor in a bordered box, the newest line at the bottom.
fn log_pane(review: &ReviewModel, frame: &mut Frame, area: Rect, title: &str) {
    if area.width < 3 || area.height < 3 {
        return;
    }
    let lines = review.recording.log_until(review.cursor_ms);
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Span::styled(format!(" {title} "), theme::TITLE));
    let rows = usize::from(block.inner(area).height);
    let shown: Vec<Line> = lines[lines.len().saturating_sub(rows)..]
        .iter()
        .map(|line| {
            let style = match line.level {
                Level::Info => theme::TEXT,
                Level::Warn => theme::WARN,
                Level::Error => theme::BAD,
            };
            Line::from(vec![
                Span::styled(format!("{} ", cursor_time(line.t_ms)), theme::DIM),
                Span::styled(line.text.as_str(), style),
            ])
        })
        .collect();
    let text = if shown.is_empty() {
        vec![Line::from(Span::styled(
            "nothing logged before the cursor",
            theme::DIM,
        ))]
    } else {
        shown
    };
    frame.render_widget(Paragraph::new(text).block(block), area);
}

/// The key hints, most useful first, or the last message.
fn footer(review: &ReviewModel, model: &Model, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    if let Some(message) = &review.message {
        let style = if message.error {
            theme::BAD
        } else {
            theme::TEXT
        };
        let text = format::cut(&message.text, usize::from(area.width));
        frame.render_widget(Paragraph::new(Span::styled(text, style)), area);
        return;
    }
    let hint = |priority: u8, commands: &[Command], what: &'static str| {
        let key = commands
            .iter()
            .filter_map(|c| keys::binding(*c).and_then(|b| b.keys.first()))
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join("/");
        Segment::new(
            priority,
            vec![
                Span::styled(key, theme::KEY),
                Span::styled(format!(" {what}"), theme::DIM),
            ],
        )
    };
    let mut segments = vec![
        hint(0, &[Command::Second(-1), Command::Second(1)], "1 s"),
        hint(2, &[Command::Tenth(-1), Command::Tenth(1)], "1/10"),
        hint(1, &[Command::PreviousTarget, Command::NextTarget], "event"),
        hint(2, &[Command::ZoomIn, Command::ZoomOut], "zoom"),
        hint(3, &[Command::Start, Command::End], "start/end"),
    ];
    if review.screen == Screen::Dashboard {
        segments.push(hint(5, &[Command::ToggleLogPane], "log pane"));
    }
    segments.extend([
        hint(4, &[Command::Show(Screen::Findings)], "findings"),
        hint(0, &[Command::ToggleHelp], "help"),
        hint(0, &[Command::Quit], "quit"),
    ]);
    if model.findings.is_empty() {
        segments.retain(|s| s.priority != 4);
    }
    let line = format::fit(segments, Span::raw("  "), area.width);
    frame.render_widget(Paragraph::new(line), area);
}

/// The help overlay: every review key, then what a review cannot do.
fn help(frame: &mut Frame, area: Rect) {
    if area.width < 4 || area.height < 3 {
        return;
    }
    let key_width = BINDINGS
        .iter()
        .map(|b| Span::raw(b.keys_text()).width())
        .max()
        .unwrap_or(0);
    let mut lines = vec![Line::from(Span::styled("keys", theme::HEADER))];
    lines.extend(BINDINGS.iter().map(|b| {
        let keys = b.keys_text();
        let pad = key_width.saturating_sub(Span::raw(keys.as_str()).width());
        Line::from(vec![
            Span::styled(keys, theme::KEY),
            Span::raw(" ".repeat(pad + 1)),
            Span::raw(b.what),
        ])
    }));
    lines.push(Line::from(Span::styled("read-only", theme::HEADER)));
    let live_only: String = crate::tui::keymap::BINDINGS
        .iter()
        .filter(|b| b.command.is_destructive())
        .map(|b| b.keys_text())
        .collect();
    lines.push(Line::from(Span::raw(format!(
        "{live_only} m r act on a live cluster only"
    ))));
    lines.push(Line::from(Span::raw(
        "every pane shows the run at the cursor",
    )));
    let width = lines
        .iter()
        .map(Line::width)
        .max()
        .unwrap_or(0)
        .saturating_add(2);
    let width = u16::try_from(width).unwrap_or(u16::MAX).min(area.width);
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let block = Block::bordered()
        .border_style(theme::TITLE)
        .title(Span::styled(" review help ", theme::TITLE))
        .title_bottom(Line::from(Span::styled(" Esc or ? closes ", theme::DIM)).right_aligned());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
