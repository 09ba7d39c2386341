//! Snapshots of every dashboard screen rendered from the fixed sample model at 80×24 and
//! 160×48, cell-style checks of the colours that carry meaning, and rendering at tiny sizes.
//! Accept changed snapshots with `INSTA_UPDATE=always cargo test --test tui_snapshots`.

use std::sync::Once;

use parti_top::action::{Action, WorkerTarget};
use parti_top::observation::{ProcessKind, WorkerView};
use parti_top::parti::state::State;
use parti_top::tui::fixtures::sample_model;
use parti_top::tui::model::{MemoryPoint, Model, Notice, Prompt, Screen, StepView, Window};
use parti_top::tui::view::render;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use tracing_subscriber::layer::SubscriberExt;

static LOGGER: Once = Once::new();

/// Start tui-logger once for this binary and give it a few fixed lines.
fn init_logs() {
    LOGGER.call_once(|| {
        tui_logger::init_logger(tui_logger::LevelFilter::Trace).expect("tui-logger starts");
        tui_logger::set_default_level(tui_logger::LevelFilter::Trace);
        let subscriber = tracing_subscriber::registry().with(tui_logger::TuiTracingSubscriberLayer);
        tracing::subscriber::with_default(subscriber, || {
            for n in 1..=40 {
                tracing::info!("earlier line {n}");
            }
            tracing::info!("nats-server 2.15.1 listening on 127.0.0.1:42817");
            tracing::info!("host 0 and host 1 connected");
            tracing::warn!("worker-4 applied v9 2.1 s after it was published");
            tracing::error!("partition 17 owned by worker-2 and worker-4");
        });
    });
}

fn draw(model: &Model, width: u16, height: u16) -> Terminal<TestBackend> {
    init_logs();
    tui_logger::move_events();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| render(model, frame))
        .expect("draw into the test backend");
    terminal
}

fn with(change: impl FnOnce(&mut Model)) -> Model {
    let mut model = sample_model();
    change(&mut model);
    model
}

/// The first cell where `needle` starts (one character per cell).
fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let chars: Vec<String> = needle.chars().map(String::from).collect();
    let area = buffer.area;
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let fits = chars.iter().enumerate().all(|(i, c)| {
                let cx = x as usize + i;
                cx < area.right() as usize && buffer[(cx as u16, y)].symbol() == c
            });
            if fits {
                return Some((x, y));
            }
        }
    }
    None
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    (area.top()..area.bottom())
        .map(|y| {
            (area.left()..area.right())
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A run with message load: 250 msg/s, a lag that grows during a pause and drains after it.
fn with_load(model: &mut Model) {
    let (mut sent, mut acked) = (0u64, 0u64);
    for i in 0..=180u64 {
        let t_ms = i * 500;
        sent += 125;
        // Acks stall from 60 s to 66 s (a paused host), then catch up.
        acked = if (120..132).contains(&i) {
            acked + 80
        } else {
            (acked + 170).min(sent)
        };
        model.push_load(
            t_ms,
            parti_top::observation::LoadPoint {
                sent,
                acked,
                lag: sent - acked,
                fenced: if i >= 132 { 41 } else { 0 },
                redelivered: if i >= 132 { 43 } else { 0 },
                duplicated: 0,
            },
        );
    }
}

/// A run with message load shows its messages chart, with the rates and lag in the title.
#[test]
fn the_messages_chart_names_its_rates_and_lag() {
    let terminal = draw(&with(with_load), 160, 48);
    let screen = text(terminal.backend().buffer());
    for needle in [
        "messages/s",
        "250 acked 250 sent",
        "lag 0",
        "fenced 41",
        "acked/s",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    let plain = draw(&with(|_| {}), 160, 48);
    assert!(!text(plain.backend().buffer()).contains("messages/s"));
}

macro_rules! snapshot {
    ($name:ident, $width:expr, $height:expr, $change:expr) => {
        #[test]
        fn $name() {
            let model = with($change);
            let terminal = draw(&model, $width, $height);
            insta::assert_snapshot!(stringify!($name), terminal.backend());
        }
    };
}

snapshot!(dashboard_80x24, 80, 24, |_| {});
snapshot!(dashboard_80x24_no_log, 80, 24, |m| m.log_pane = false);
snapshot!(dashboard_160x48, 160, 48, |_| {});
snapshot!(dashboard_160x48_no_log, 160, 48, |m| m.log_pane = false);
snapshot!(dashboard_with_load_160x48, 160, 48, with_load);
snapshot!(help_80x24, 80, 24, |m| m.help = true);
snapshot!(help_160x48, 160, 48, |m| m.help = true);
snapshot!(logs_80x24, 80, 24, |m| m.screen = Screen::Logs);
snapshot!(logs_160x48, 160, 48, |m| m.screen = Screen::Logs);
snapshot!(findings_80x24, 80, 24, |m| m.screen = Screen::Findings);
snapshot!(connect_80x24, 80, 24, |m| m.screen = Screen::Connect);
snapshot!(connect_160x48, 160, 48, |m| m.screen = Screen::Connect);
snapshot!(findings_160x48, 160, 48, |m| m.screen = Screen::Findings);
snapshot!(dashboard_one_minute_nats_down_120x30, 120, 30, |m| {
    m.window = Window::OneMinute;
    m.facts.nats_up = false;
    m.facts.recording = false;
    m.log_pane = false;
});

#[test]
fn nats_down_is_red_with_the_restart_key() {
    let model = with(|m| m.facts.nats_up = false);
    let terminal = draw(&model, 160, 48);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "DOWN — N to restart").expect("DOWN shown");
    assert_eq!(y, 0, "in the header");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
}

#[test]
fn findings_count_and_lines_are_red() {
    let terminal = draw(&sample_model(), 160, 48);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "findings 1").expect("findings panel title");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let (x, y) = find(buffer, "single-owner").expect("the finding's check");
    assert_eq!(buffer[(x, y)].fg, Color::Red);

    let clean = with(|m| m.findings.clear());
    let terminal = draw(&clean, 160, 48);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "findings 0").expect("findings panel title");
    assert_eq!(buffer[(x, y)].fg, Color::Green);
}

#[test]
fn the_selected_row_is_highlighted_and_the_leader_marked() {
    for (width, height) in [(80, 24), (160, 48)] {
        let terminal = draw(&sample_model(), width, height);
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "worker-2 ").expect("selected worker in the table");
        assert_eq!(buffer[(x, y)].bg, Color::DarkGray, "{width}x{height}");
        assert!(buffer[(x, y)].modifier.contains(Modifier::BOLD));
        assert_eq!(buffer[(x - 3, y)].symbol(), "▶");
        let (x, y) = find(buffer, "worker-1 ").expect("leader in the table");
        assert_eq!(buffer[(x - 2, y)].symbol(), "★");
        assert_eq!(buffer[(x - 2, y)].fg, Color::Yellow);
        assert_ne!(buffer[(x, y)].bg, Color::DarkGray);
    }
}

#[test]
fn worker_states_are_coloured() {
    let terminal = draw(&sample_model(), 160, 48);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "Stable").expect("a Stable worker");
    assert_eq!(buffer[(x, y)].fg, Color::Green);
    let (x, y) = find(buffer, "Rebalance").expect("a rebalancing worker");
    assert_eq!(buffer[(x, y)].fg, Color::Yellow);

    let degraded = with(|m| m.cluster.workers[4].state = State::Degraded);
    let terminal = draw(&degraded, 160, 48);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "Degraded").expect("a degraded worker");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
}

#[test]
fn the_selection_scrolls_into_view() {
    let model = with(|m| {
        m.cluster.workers = (0..60)
            .map(|i| WorkerView {
                host: 0,
                slot: i,
                worker_id: Some(format!("worker-{i}")),
                state: State::Stable,
                is_leader: i == 0,
                version: 3,
                partitions: 1,
            })
            .collect();
        m.selected = 47;
    });
    let terminal = draw(&model, 80, 24);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "worker-47").expect("selected row visible");
    assert_eq!(buffer[(x, y)].bg, Color::DarkGray);
}

#[test]
fn failed_steps_and_error_notices_are_red() {
    let model = with(|m| {
        m.step = Some(StepView {
            number: 3,
            total: 8,
            label: "wait stable 30s".into(),
            failed: Some("timed out".into()),
        });
        m.notice = Some(Notice {
            t_ms: 180_000,
            text: "kill worker-9 failed: no such worker".into(),
            error: true,
        });
    });
    let terminal = draw(&model, 160, 48);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "step 3/8").expect("the step");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let (x, y) = find(buffer, "kill worker-9 failed").expect("the notice");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
}

#[test]
fn header_shows_the_run_facts() {
    let terminal = draw(&sample_model(), 160, 48);
    let screen = text(terminal.backend().buffer());
    let header: Vec<&str> = screen.lines().take(2).collect();
    for needle in [
        "parti-top",
        "r20261127-0930",
        "NATS up",
        "v2.15.1",
        "nats://127.0.0.1:42817",
        "0:03:05",
        "● REC recordings/scale-and-kill.ron",
    ] {
        assert!(
            header[0].contains(needle),
            "{needle} missing: {}",
            header[0]
        );
    }
    for needle in [
        "step 6/8 wait stable 30s",
        "✗ unstable",
        "pending 1",
        "pause host 1 5s…",
    ] {
        assert!(
            header[1].contains(needle),
            "{needle} missing: {}",
            header[1]
        );
    }
}

#[test]
fn charts_label_the_action_markers() {
    let terminal = draw(&sample_model(), 160, 48);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "┴kill leader").expect("marker label on the time axis");
    assert_eq!(buffer[(x, y)].fg, Color::LightMagenta);
    // The one-minute window shows only the recent actions.
    let model = with(|m| m.window = Window::OneMinute);
    let terminal = draw(&model, 160, 48);
    let screen = text(terminal.backend().buffer());
    assert!(!screen.contains("┴kill leader"));
    assert!(screen.contains("┴+2"));
    assert!(screen.contains("memory MiB · 1 min"));
}

#[test]
fn the_help_lists_every_binding() {
    let terminal = draw(&with(|m| m.help = true), 160, 48);
    let screen = text(terminal.backend().buffer());
    for binding in parti_top::tui::keymap::BINDINGS {
        let keys = binding.keys_text();
        assert!(screen.contains(&keys), "{keys} missing");
        assert!(screen.contains(binding.what), "{} missing", binding.what);
    }
    for needle in ["★→", "superseded", "max/min", "KSLPHCWNX", "Paused"] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
}

#[test]
fn the_help_fits_80x24_without_cutting_an_entry() {
    let terminal = draw(&with(|m| m.help = true), 80, 24);
    let screen = text(terminal.backend().buffer());
    for binding in parti_top::tui::keymap::BINDINGS {
        let keys = binding.keys_text();
        assert!(screen.contains(&keys), "{keys} missing:\n{screen}");
        assert!(
            screen.contains(binding.what),
            "{} missing:\n{screen}",
            binding.what
        );
    }
    for needle in ["KSLPHCWNX", "ask y/Enter first", "peak"] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
}

snapshot!(confirm_kill_80x24, 80, 24, |m| {
    m.prompt = Some(Prompt::Confirm {
        action: Action::KillWorker(WorkerTarget::Id("worker-2".into())),
        question: "kill worker-2 (a crash: no cleanup)?".into(),
    });
});
snapshot!(mark_prompt_160x48, 160, 48, |m| {
    m.prompt = Some(Prompt::Mark {
        label: "before the soak".into(),
    });
});
snapshot!(logs_scrolled_80x24, 80, 24, |m| {
    m.screen = Screen::Logs;
    m.log.back_lines = 20;
});
snapshot!(logs_scrolled_to_the_top_160x48, 160, 48, |m| {
    m.screen = Screen::Logs;
    m.log.back_lines = 1000;
});

#[test]
fn a_scrolled_log_shows_older_lines_and_says_so() {
    let model = with(|m| {
        m.screen = Screen::Logs;
        m.log.back_lines = 20;
    });
    let screen = text(draw(&model, 80, 24).backend().buffer());
    assert!(screen.contains("↑ 20 lines back · End follows"), "{screen}");
    assert!(screen.contains("earlier line 24"), "{screen}");
    assert!(!screen.contains("partition 17 owned"), "{screen}");
    let top = with(|m| {
        m.screen = Screen::Logs;
        m.log.back_lines = 1000;
    });
    let screen = text(draw(&top, 80, 24).backend().buffer());
    assert!(
        screen.contains("earlier line 1 "),
        "the oldest line: {screen}"
    );
    let following = text(
        draw(&with(|m| m.screen = Screen::Logs), 80, 24)
            .backend()
            .buffer(),
    );
    assert!(!following.contains("lines back"), "{following}");
    assert!(following.contains("partition 17 owned"), "{following}");
}

#[test]
fn prompts_replace_the_key_hints() {
    let model = with(|m| {
        m.prompt = Some(Prompt::Mark { label: "3".into() });
    });
    for (width, height) in [(80, 24), (160, 48)] {
        let screen = text(draw(&model, width, height).backend().buffer());
        let footer = screen.lines().last().unwrap_or_default().to_owned();
        assert!(footer.starts_with("mark 3"), "{footer}");
        assert!(footer.contains("Enter marks · Esc cancels"), "{footer}");
    }
}

#[test]
fn tiny_and_empty_models_do_not_panic() {
    let mut empty = Model::default();
    empty.memory.insert(
        ProcessKind::Host(0),
        [MemoryPoint {
            t_ms: 0,
            rss_bytes: 0,
            live_heap_bytes: None,
            tasks: Some(0),
            cpu_percent: None,
        }]
        .into_iter()
        .collect(),
    );
    let models = [sample_model(), Model::default(), empty];
    let sizes = [
        (1, 1),
        (2, 2),
        (20, 5),
        (40, 10),
        (10, 3),
        (59, 14),
        (60, 12),
        (80, 6),
        (200, 8),
        (30, 60),
    ];
    for model in &models {
        for screen in [Screen::Dashboard, Screen::Logs, Screen::Findings] {
            for (help, log_pane, back_lines) in [
                (false, true, 0),
                (true, false, 0),
                (false, false, 0),
                (false, true, 7),
            ] {
                let mut model = model.clone();
                model.screen = screen;
                model.help = help;
                model.log_pane = log_pane;
                model.log.back_lines = back_lines;
                if back_lines > 0 {
                    model.prompt = Some(Prompt::Mark {
                        label: "a long label that does not fit a tiny terminal".into(),
                    });
                }
                for (width, height) in sizes {
                    draw(&model, width, height);
                }
            }
        }
    }
}

#[test]
fn superseded_events_are_dim_and_only_unsettled_ones_red() {
    for (width, height) in [(80, 24), (160, 48)] {
        let terminal = draw(&with(|m| m.log_pane = false), width, height);
        let buffer = terminal.backend().buffer();
        let (x, y) = find(buffer, "superseded by #6").expect("the superseded event");
        assert_eq!(buffer[(x, y)].fg, Color::DarkGray, "{width}x{height}");
        let (x, y) = find(buffer, "#5 +3").expect("its label");
        assert_eq!(buffer[(x, y)].fg, Color::DarkGray);
        let (x, y) = find(buffer, "empty after 450 ms").expect("the emptied event");
        assert_eq!(buffer[(x, y)].fg, Color::DarkGray);
        let (x, y) = find(buffer, "#7 +2 ").expect("the unsettled event");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let (x, y) = find(buffer, "1 not stabilized").expect("one counted");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let (x, y) = find(buffer, "★→").expect("the leader changed");
        assert_eq!(buffer[(x, y)].fg, Color::Yellow);
        let screen = text(buffer);
        assert!(!screen.contains("#0 "), "events count from 1:\n{screen}");
    }
    let model = with(|m| m.screen = Screen::Findings);
    let screen = text(draw(&model, 80, 24).backend().buffer());
    for needle in [
        "#1 ",
        "superseded #6",
        "empty 450 ms",
        "not stabilized",
        "kill leader ★→",
    ] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
}

#[test]
fn workers_of_a_paused_host_say_so() {
    for (width, height) in [(80, 24), (160, 48)] {
        let terminal = draw(&sample_model(), width, height);
        let buffer = terminal.backend().buffer();
        let screen = text(buffer);
        let header: Vec<&str> = screen.lines().take(2).collect();
        assert!(header[1].contains("host 1 paused"), "{}", header[1]);
        let (x, y) = find(buffer, "worker-3 ").expect("a worker of host 1");
        let row: String = (x..buffer.area.right())
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        assert!(row.contains("Paused"), "{row}");
        assert!(!row.contains("Stable"), "{row}");
        let (px, py) = find(buffer, "Paused").expect("Paused shown");
        assert_eq!(buffer[(px, py)].fg, Color::LightBlue);
        let (x, y) = find(buffer, "worker-0 ").expect("a worker of host 0");
        let row: String = (x..buffer.area.right())
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        assert!(row.contains("Stable"), "{row}");
    }
}

#[test]
fn an_empty_cluster_reads_empty_not_stable() {
    let model = with(|m| {
        m.cluster.workers.clear();
        m.cluster.stable = true;
        m.cluster.reason = None;
        m.cluster.paused_hosts.clear();
    });
    for (width, height) in [(80, 24), (160, 48)] {
        let screen = text(draw(&model, width, height).backend().buffer());
        let header: Vec<&str> = screen.lines().take(2).collect();
        assert!(header[1].contains("○ empty (no workers)"), "{}", header[1]);
        assert!(!header[1].contains("✓ stable"), "{}", header[1]);
    }
}

/// The rows of a chart's time axis (the rows holding `┴`).
fn axis_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter(|l| l.contains('└') && l.contains('┴'))
        .map(|l| {
            // Only the left column (the charts), up to its right border.
            let start = l.find('└').unwrap_or(0);
            let rest = &l[start..];
            rest.split('│').next().unwrap_or(rest).to_owned()
        })
        .collect()
}

#[test]
fn marker_labels_are_whole_or_numbered_and_listed() {
    let labels: Vec<String> = sample_model()
        .markers
        .iter()
        .map(|m| m.label.clone())
        .collect();
    let model = with(|m| {
        // Actions a few seconds apart, with long labels: the case that used to read
        // "┴kill worke".
        for (i, id) in ["worker-3", "worker-4", "worker-5"].iter().enumerate() {
            m.markers.push(parti_top::tui::model::Marker {
                t_ms: 160_000 + i as u64 * 4_000,
                label: format!("kill {id}"),
            });
        }
        m.markers.sort_by_key(|m| m.t_ms);
    });
    for (width, height) in [(80, 24), (120, 30), (160, 48)] {
        let screen = text(draw(&model, width, height).backend().buffer());
        let rows = axis_rows(&screen);
        assert!(!rows.is_empty(), "{width}x{height}: no axis:\n{screen}");
        for row in rows {
            for piece in row.split(['┴', '─', '└', '│']) {
                let piece = piece.trim();
                if piece.is_empty() {
                    continue;
                }
                let whole = piece.split(", ").all(|part| {
                    labels.iter().any(|l| l == part) || part.starts_with("kill worker-")
                });
                let numbered = piece.chars().count() == 1
                    && ('①'..='⑳').contains(&piece.chars().next().unwrap_or(' '));
                assert!(
                    whole || numbered,
                    "{width}x{height}: cut or overlapping label {piece:?} in {row}"
                );
            }
        }
        // Every number on an axis is explained on the chart's bottom border.
        for n in ['①', '②', '③'] {
            let on_axis = screen.lines().any(|l| l.contains('┴') && l.contains(n));
            let listed = screen.lines().any(|l| l.starts_with('└') && l.contains(n))
                || screen
                    .lines()
                    .any(|l| l.starts_with('└') && l.contains('…'));
            assert!(
                !on_axis || listed,
                "{width}x{height}: {n} unexplained:\n{screen}"
            );
        }
    }
    let screen = text(draw(&model, 160, 48).backend().buffer());
    assert!(screen.contains("┴kill leader"), "{screen}");
    assert!(!screen.contains("┴kill worke─"), "{screen}");
}

#[test]
fn markers_are_dotted_behind_the_lines() {
    let terminal = draw(&with(|m| m.log_pane = false), 160, 48);
    let buffer = terminal.backend().buffer();
    let (x, axis_y) = find(buffer, "┴kill leader").expect("the kill marker");
    // Up the marker's column, marker cells hold one dot each (a dotted line), and the lines
    // crossing it keep their own colour.
    let mut line_cells = 0;
    for y in (3..axis_y).rev() {
        let cell = &buffer[(x, y)];
        if cell.symbol() == "│" || cell.symbol() == "─" {
            break;
        }
        let Some(c) = cell.symbol().chars().next() else {
            continue;
        };
        if !('\u{2801}'..='\u{28FF}').contains(&c) {
            continue;
        }
        if cell.fg == Color::LightMagenta {
            assert_eq!((c as u32 - 0x2800).count_ones(), 1, "{c} at {x},{y}");
        } else {
            line_cells += 1;
        }
    }
    assert!(line_cells > 0, "the lines cross the marker's column on top");
}

#[test]
fn every_process_has_its_figures_beside_the_charts() {
    for (width, height, names) in [
        (80, 24, ["━ h0", "━ h1", "━ nats", "━ self"]),
        (
            160,
            48,
            ["━ host 0", "━ host 1", "━ nats-server", "━ parti-top"],
        ),
    ] {
        let screen = text(draw(&sample_model(), width, height).backend().buffer());
        let header = screen
            .lines()
            .find(|l| l.contains("RSS"))
            .unwrap_or_else(|| panic!("{width}x{height}: no figures:\n{screen}"));
        for column in ["RSS", "peak", "heap", "tasks", "cpu"] {
            assert!(
                header.contains(column),
                "{width}x{height}: {column}: {header}"
            );
        }
        for name in names {
            let row = screen
                .lines()
                .find(|l| l.contains(name))
                .unwrap_or_else(|| panic!("{width}x{height}: {name} missing:\n{screen}"));
            assert!(row.contains('%'), "{width}x{height}: CPU of {name}: {row}");
        }
    }
    let screen = text(draw(&sample_model(), 160, 48).backend().buffer());
    assert!(
        screen.contains("host 0 54 (peak 54)"),
        "tasks legend:\n{screen}"
    );
}
