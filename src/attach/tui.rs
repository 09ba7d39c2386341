//! The read-only dashboard of an attach: the live dashboard's own model, update and panes,
//! fed by the live attach instead of a workbench. Its first header row says `ATTACH read-only`
//! with the server and the verdict; the log pane's place holds the KV pane (every worker the
//! buckets name, live or stale, with its heartbeat age, partitions, version, leadership, then
//! the current checks). Keys that would act on a cluster (add, remove, kill, stop, pause, cut,
//! restart, mark, recording) do nothing and say so. `to_cluster_state`, [`on_key`] and
//! [`render`] are pure; [`run`] is the only part that touches the terminal.

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEvent, KeyEventKind};
use futures::StreamExt;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table};

use super::judge::Liveness;
use super::live::{Live, LiveAttach};
use super::record::AttachRecorder;
use super::text::age;
use crate::error::AppError;
use crate::measure::ClusterState;
use crate::observation::WorkerView;
use crate::signals::Signals;
use crate::tui::keymap::{self, Command};
use crate::tui::model::{Model, Notice, RunFacts, Screen};
use crate::tui::update::{Effect, Msg, update};
use crate::tui::view::format::{self, Segment};
use crate::tui::view::{self as live_view, theme};

/// What the footer and every refused key say.
pub const READ_ONLY: &str = "read-only attach: keys that act on a cluster do nothing";

/// How often the screen is redrawn.
const FRAME: Duration = Duration::from_millis(250);

/// The attach dashboard: the live dashboard's model and the latest state of the attach.
#[derive(Clone, Debug, Default)]
pub struct AttachView {
    pub model: Model,
    pub attach: LiveAttach,
}

impl AttachView {
    pub fn new(url: &str, nats_version: Option<String>, recording: Option<String>) -> Self {
        let facts = RunFacts {
            run_id: "attach".into(),
            profile: "attach (read-only)".into(),
            nats_url: url.to_owned(),
            nats_version,
            nats_up: true,
            managed: false,
            nats_nodes: 1,
            proxied: false,
            recording: recording.is_some(),
            recording_path: recording,
            connect: Vec::new(),
        };
        Self {
            model: Model::new(facts, 0),
            attach: LiveAttach {
                url: url.to_owned(),
                ..LiveAttach::default()
            },
        }
    }

    /// Take in the attach's latest state.
    pub fn set(&mut self, attach: LiveAttach) {
        self.model.facts.nats_up = attach.connected;
        update(
            &mut self.model,
            Msg::Cluster(Box::new(to_cluster_state(&attach))),
        );
        self.attach = attach;
    }
}

/// The cluster as the dashboard's panes show it: the live workers (the KV pane lists the stale
/// ones), each with the state its KV shows.
pub fn to_cluster_state(attach: &LiveAttach) -> ClusterState {
    let state = &attach.state;
    let workers = state
        .workers
        .iter()
        .filter(|w| w.state == Liveness::Live)
        .enumerate()
        .map(|(slot, w)| WorkerView {
            host: super::events::HOST,
            slot: slot as u64,
            worker_id: Some(w.id.clone()),
            state: match w.assignment_version {
                None => crate::parti::state::State::WaitingAssignment,
                Some(v) if v == state.version => crate::parti::state::State::Stable,
                Some(_) => crate::parti::state::State::Rebalancing,
            },
            is_leader: w.is_leader,
            version: w.assignment_version.unwrap_or(0),
            partitions: w.partitions,
        })
        .collect();
    ClusterState {
        t_ms: attach.t_ms,
        stable: state.is_valid() && attach.settling.is_none(),
        quiet: attach
            .last_event
            .as_ref()
            .is_none_or(|m| m.quiescence_ms.is_some()),
        reason: attach
            .settling
            .clone()
            .map(|event| format!("{event} settling"))
            .or_else(|| state.findings.first().cloned()),
        actions: 0,
        workers,
        leader: state.leader.clone(),
        max_version: state.version,
        findings: attach.findings_reported,
        measurements: attach.events,
        paused_hosts: Vec::new(),
        nats_lost: (!attach.connected).then(|| "the connection to NATS is down".to_owned()),
    }
}

/// Whether a command acts on a cluster (an attach refuses it).
fn acts(command: Command) -> bool {
    command.is_destructive()
        || matches!(
            command,
            Command::AddWorkers(_)
                | Command::RemoveWorkers(_)
                | Command::Mark
                | Command::ToggleRecording
        )
}

/// Apply a key: commands that act on a cluster are refused with a notice; the others (screens,
/// help, selection, window, quit) work as on the live dashboard. Returns whether to quit.
pub fn on_key(model: &mut Model, key: KeyEvent) -> bool {
    if key.kind == KeyEventKind::Release {
        return false;
    }
    if let Some(command) = keymap::command(&key).filter(|c| acts(*c)) {
        let (keys, what) = keymap::binding(command)
            .map_or_else(|| (String::new(), "that"), |b| (b.keys_text(), b.what));
        model.notice = Some(Notice {
            t_ms: model.now_ms,
            text: format!("read-only: {keys} ({what}) does nothing"),
            error: true,
        });
        return false;
    }
    update(model, Msg::Key(key))
        .into_iter()
        .any(|effect| effect == Effect::Quit)
}

/// Draw the whole screen.
pub fn render(view: &AttachView, frame: &mut Frame) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    let model = &view.model;
    let header_height = if area.height >= 12 { 2 } else { 1 };
    let footer_height = u16::from(area.height > header_height + 2);
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Fill(1),
        Constraint::Length(footer_height),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(facts_line(view, area.width)),
        Rect { height: 1, ..top },
    );
    if top.height >= 2 {
        let second = Rect {
            y: top.y + 1,
            height: 1,
            ..top
        };
        live_view::header_progress(model, frame, second);
    }
    match model.screen {
        Screen::Findings => live_view::findings_screen(model, frame, body),
        Screen::Logs | Screen::Connect => kv_pane(view, frame, body),
        Screen::Dashboard => {
            live_view::dashboard_with_log(model, frame, body, |frame, pane| {
                kv_pane(view, frame, pane);
            });
        }
    }
    footer(frame, bottom);
    if model.help {
        help(frame, area);
    }
}

/// The first row: ATTACH read-only, the server, the verdict, the time attached, recording.
fn facts_line(view: &AttachView, width: u16) -> Line<'_> {
    let attach = &view.attach;
    let state = &attach.state;
    let mut segments = vec![
        Segment::new(
            0,
            vec![
                Span::styled("parti-top ", theme::TITLE),
                Span::styled("ATTACH", theme::REC),
                Span::styled(" read-only", theme::WARN),
            ],
        ),
        Segment::new(
            3,
            vec![if attach.connected {
                Span::styled("● ", theme::OK)
            } else {
                Span::styled("● NATS DOWN ", theme::BAD)
            }]
            .into_iter()
            .chain([Span::raw(attach.url.as_str())])
            .collect(),
        ),
    ];
    segments.push(Segment::new(
        0,
        vec![if state.is_valid() {
            Span::styled("✓ valid", theme::OK)
        } else {
            Span::styled(
                format!(
                    "✗ {}",
                    crate::text::plural(state.findings.len() as u64, "check")
                ) + " failing",
                theme::BAD,
            )
        }],
    ));
    segments.push(Segment::new(
        1,
        vec![
            Span::styled("attached ", theme::DIM),
            Span::raw(format::clock(attach.t_ms)),
        ],
    ));
    if let Some(path) = &view.model.facts.recording_path {
        segments.push(Segment::new(
            2,
            vec![
                Span::styled("● REC ", theme::REC),
                Span::styled(path.as_str(), theme::DIM),
            ],
        ));
    }
    format::fit(segments, Span::styled(" │ ", theme::DIM), width)
}

/// Every worker the buckets name, then the current checks.
fn kv_pane(view: &AttachView, frame: &mut Frame, area: Rect) {
    if area.width < 10 || area.height < 3 {
        return;
    }
    let state = &view.attach.state;
    let title = format!(
        " KV · {} live · {} stale · v{} · {} · heartbeat TTL {} ",
        state.live().len(),
        state.stale().len(),
        state.version,
        state
            .leader
            .as_deref()
            .map_or_else(|| "no leader".to_owned(), |l| format!("★ {l}")),
        age(Some(state.heartbeat_ttl_ms)),
    );
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Span::styled(title, theme::TITLE));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let checks: Vec<Line> = if state.findings.is_empty() {
        vec![Line::from(Span::styled(
            "✓ every partition owned once by a live worker, one version, one live leader",
            theme::OK,
        ))]
    } else {
        state
            .findings
            .iter()
            .map(|f| Line::from(Span::styled(format!("✗ {f}"), theme::BAD)))
            .collect()
    };
    let checks_height = u16::try_from(checks.len())
        .unwrap_or(u16::MAX)
        .min(inner.height / 2)
        .max(1);
    let [table_area, checks_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(checks_height)]).areas(inner);
    let rows = state.workers.iter().map(|w| {
        let (name, style) = match w.state {
            Liveness::Live => ("live", theme::OK),
            Liveness::Stale => ("STALE", theme::BAD),
        };
        Row::new(vec![
            Span::raw(w.id.as_str()),
            Span::styled(name, style),
            Span::raw(age(w.heartbeat_age_ms)),
            Span::raw(w.partitions.to_string()),
            Span::raw(
                w.assignment_version
                    .map_or_else(|| "—".to_owned(), |v| format!("v{v}")),
            ),
            if w.is_leader {
                Span::styled("★", theme::LEADER)
            } else {
                Span::raw("")
            },
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Length(6),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(2),
        ],
    )
    .header(
        Row::new(vec![
            "worker",
            "state",
            "heartbeat",
            "partitions",
            "version",
            "",
        ])
        .style(theme::HEADER),
    );
    frame.render_widget(table, table_area);
    frame.render_widget(Paragraph::new(checks), checks_area);
}

fn key_name(command: Command) -> String {
    keymap::binding(command)
        .and_then(|b| b.keys.first())
        .map(|k| k.name())
        .unwrap_or_default()
}

/// The key hints: what an attach can do, and that it acts on nothing.
fn footer(frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let hint = |priority: u8, command: Command, what: &'static str| {
        Segment::new(
            priority,
            vec![
                Span::styled(key_name(command), theme::KEY),
                Span::styled(format!(" {what}"), theme::DIM),
            ],
        )
    };
    let segments = vec![
        Segment::new(0, vec![Span::styled(READ_ONLY, theme::WARN)]),
        hint(2, Command::ToggleLogPane, "KV pane"),
        hint(1, Command::Show(Screen::Logs), "KV"),
        hint(2, Command::Show(Screen::Findings), "findings"),
        hint(3, Command::Show(Screen::Dashboard), "dashboard"),
        hint(4, Command::CycleWindow, "window"),
        hint(0, Command::ToggleHelp, "help"),
        hint(0, Command::Quit, "quit"),
    ];
    frame.render_widget(
        Paragraph::new(format::fit(segments, Span::raw("  "), area.width)),
        area,
    );
}

/// The help overlay: the keys an attach answers, and the ones it refuses.
fn help(frame: &mut Frame, area: Rect) {
    if area.width < 4 || area.height < 3 {
        return;
    }
    let mut lines = vec![Line::from(Span::styled("keys", theme::HEADER))];
    for binding in keymap::BINDINGS.iter().filter(|b| !acts(b.command)) {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<12}", binding.keys_text()), theme::KEY),
            Span::raw(binding.what),
        ]));
    }
    lines.push(Line::from(Span::styled("read-only", theme::HEADER)));
    let refused: String = keymap::BINDINGS
        .iter()
        .filter(|b| acts(b.command))
        .map(|b| b.keys_text())
        .collect::<Vec<_>>()
        .join(" ");
    lines.push(Line::from(Span::raw(format!("{refused}: do nothing"))));
    lines.push(Line::from(Span::raw(
        "the KV pane (where the log is) and the panes show the buckets alone",
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
        .title(Span::styled(" attach help ", theme::TITLE));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// Show the attach until the operator quits (q, Esc, Ctrl-C, SIGINT, SIGTERM, SIGHUP); then
/// stop watching and save the recording, if one is made.
pub async fn run(mut live: Live, mut recorder: Option<AttachRecorder>) -> Result<(), AppError> {
    let mut signals = Signals::new().map_err(AppError::could_not_run)?;
    let url = live.state.borrow().url.clone();
    let mut view = AttachView::new(
        &url,
        None,
        recorder.as_ref().map(|r| r.path().display().to_string()),
    );
    let mut terminal = ratatui::init();
    let outcome = event_loop(
        &mut terminal,
        &mut live,
        &mut view,
        &mut recorder,
        &mut signals,
    )
    .await;
    ratatui::restore();
    let partitions = live.state.borrow().state.partitions_known;
    let mut rest = live.stop().await;
    if let Some(recorder) = recorder.as_mut() {
        while let Ok(observation) = rest.try_recv() {
            recorder.push(observation);
        }
    }
    if let Some(recorder) = recorder {
        let path = recorder
            .finish(&url, partitions)
            .map_err(AppError::could_not_run)?;
        println!("parti-top: recording saved to {}", path.display());
    }
    outcome
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    live: &mut Live,
    view: &mut AttachView,
    recorder: &mut Option<AttachRecorder>,
    signals: &mut Signals,
) -> Result<(), AppError> {
    let mut events = EventStream::new();
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if let Ok(size) = terminal.size() {
        update(&mut view.model, Msg::Resized { rows: size.height });
    }
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    if on_key(&mut view.model, key) {
                        return Ok(());
                    }
                    terminal.draw(|f| render(view, f)).map_err(AppError::could_not_run)?;
                }
                Some(Ok(Event::Resize(_, rows))) => {
                    update(&mut view.model, Msg::Resized { rows });
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    return Err(AppError::could_not_run(format!("terminal input failed: {err}")));
                }
                None => return Ok(()),
            },
            changed = live.state.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let attach = live.state.borrow_and_update().clone();
                view.set(attach);
            }
            Some(observation) = live.observations.recv() => {
                if let Some(recorder) = recorder.as_mut() {
                    recorder.push(observation.clone());
                }
                update(&mut view.model, Msg::Observation(Box::new(observation)));
            }
            _ = frame.tick() => {
                update(&mut view.model, Msg::Tick(view.attach.t_ms));
                terminal.draw(|f| render(view, f)).map_err(AppError::could_not_run)?;
            }
            _ = signals.next() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attach::judge::{AttachState, WorkerKv};
    use crossterm::event::{KeyCode, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn attach() -> LiveAttach {
        let worker = |id: &str, state, age, partitions, leader| WorkerKv {
            id: id.into(),
            state,
            heartbeat_age_ms: age,
            partitions,
            assignment_version: Some(4),
            is_leader: leader,
            holds_id: true,
        };
        LiveAttach {
            t_ms: 65_000,
            url: "nats://10.0.0.5:4222".into(),
            state: AttachState {
                workers: vec![
                    worker("worker-0", Liveness::Live, Some(310), 50, true),
                    worker("worker-1", Liveness::Live, Some(120), 50, false),
                    worker("worker-2", Liveness::Stale, Some(2400), 34, false),
                ],
                leader: Some("worker-0".into()),
                version: 4,
                heartbeat_ttl_ms: 1500,
                findings: vec![
                    "worker-2 is stale: its heartbeat is 2.4 s old (TTL 1.5 s) but it holds 34 partitions".into(),
                ],
                ..AttachState::default()
            },
            settling: Some("event #1 worker-2 left".into()),
            events: 1,
            connected: true,
            ..LiveAttach::default()
        }
    }

    fn screen(view: &AttachView) -> String {
        let mut terminal = Terminal::new(TestBackend::new(140, 40)).expect("terminal");
        terminal.draw(|f| render(view, f)).expect("draw");
        let buffer = terminal.backend().buffer().clone();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().to_owned())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_dashboard_shows_the_kv_view_and_says_read_only() {
        let mut view = AttachView::new("nats://10.0.0.5:4222", None, None);
        view.set(attach());
        let text = screen(&view);
        assert!(text.contains("ATTACH read-only"), "{text}");
        assert!(text.contains("✗ 1 check failing"), "{text}");
        assert!(
            text.contains("KV · 2 live · 1 stale · v4 · ★ worker-0"),
            "{text}"
        );
        assert!(text.contains("STALE"), "{text}");
        assert!(text.contains("2.4 s"), "{text}");
        assert!(text.contains("✗ worker-2 is stale"), "{text}");
        assert!(text.contains(READ_ONLY), "{text}");
        // The live dashboard's worker table lists the live workers.
        let state = to_cluster_state(&view.attach);
        assert_eq!(state.workers.len(), 2);
        assert!(!state.stable);
        assert_eq!(
            state.reason.as_deref(),
            Some("event #1 worker-2 left settling")
        );
    }

    #[test]
    fn keys_that_act_do_nothing_and_the_others_work() {
        let mut view = AttachView::new("nats://x:4222", None, None);
        view.set(attach());
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        for c in ['K', 'L', 'H', 'N', '+', '-', 'm', 'r'] {
            view.model.notice = None;
            assert!(!on_key(&mut view.model, key(c)));
            assert!(view.model.prompt.is_none(), "{c} opened a prompt");
            let notice = view.model.notice.clone().expect("notice");
            assert!(
                notice.text.starts_with("read-only: ") && notice.text.ends_with(") does nothing"),
                "{c}: {}",
                notice.text
            );
        }
        assert!(!on_key(&mut view.model, key('f')));
        assert_eq!(view.model.screen, Screen::Findings);
        assert!(on_key(&mut view.model, key('q')));
    }
}
