//! Snapshots of `parti-top review` rendered into a `TestBackend`: a recording built in code
//! (2 → 3 workers, a mark, the leader killed) at the start, after End, after → ×3 and with the
//! cursor inside an event; the same run as an autosave; the checked-in golden recording; and
//! cell checks of what a broken build would get wrong (the worker count following the cursor,
//! the cursor line, the highlighted event, read-only keys).
//! Accept changed snapshots with `INSTA_UPDATE=always cargo test --test review_snapshots`.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use parti_top::tui::review::fixtures::three_workers;
use parti_top::tui::review::view::render;
use parti_top::tui::review::{Msg, ReviewModel, Reviewed, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

fn review(complete: bool) -> ReviewModel {
    let name = if complete {
        "three.ron"
    } else {
        "autosave.ron"
    };
    ReviewModel::new(Reviewed::new(three_workers(complete), name))
}

fn golden() -> ReviewModel {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/golden/small-v2.ron");
    let recording = parti_top::record::load(&path).expect("the golden recording loads");
    ReviewModel::new(Reviewed::new(recording, "small-v2.ron"))
}

fn keys(review: &mut ReviewModel, codes: &[KeyCode]) {
    for code in codes {
        update(review, Msg::Key(KeyEvent::new(*code, KeyModifiers::NONE)));
    }
}

fn draw(review: &mut ReviewModel, width: u16, height: u16) -> Terminal<TestBackend> {
    review.refresh();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| render(review, frame))
        .expect("draw into the test backend");
    terminal
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

fn screen(review: &mut ReviewModel, width: u16, height: u16) -> String {
    text(draw(review, width, height).backend().buffer())
}

macro_rules! snapshot {
    ($name:ident, $width:expr, $height:expr, $review:expr, $keys:expr) => {
        #[test]
        fn $name() {
            let mut review = $review;
            keys(&mut review, &$keys);
            let terminal = draw(&mut review, $width, $height);
            insta::assert_snapshot!(stringify!($name), terminal.backend());
        }
    };
}

snapshot!(review_start_160x48, 160, 48, review(true), []);
snapshot!(review_end_160x48, 160, 48, review(true), [KeyCode::End]);
snapshot!(
    review_right_x3_160x48,
    160,
    48,
    review(true),
    [KeyCode::Right, KeyCode::Right, KeyCode::Right]
);
// ] ] ] reach the kill of the leader at 14 s; → puts the cursor 1 s inside it.
snapshot!(
    review_inside_event_160x48,
    160,
    48,
    review(true),
    [
        KeyCode::Char(']'),
        KeyCode::Char(']'),
        KeyCode::Char(']'),
        KeyCode::Right
    ]
);
snapshot!(
    review_incomplete_120x30,
    120,
    30,
    review(false),
    [KeyCode::End]
);
snapshot!(
    review_inside_event_80x24,
    80,
    24,
    review(true),
    [KeyCode::Char(']'), KeyCode::Char(']'), KeyCode::Char(']')]
);
snapshot!(review_golden_end_120x30, 120, 30, golden(), [KeyCode::End]);
snapshot!(
    review_help_120x40,
    120,
    40,
    review(true),
    [KeyCode::Char('?')]
);

#[test]
fn the_worker_panel_follows_the_cursor() {
    let mut review = review(true);
    keys(&mut review, &[KeyCode::Right; 3]);
    let at_3s = screen(&mut review, 160, 48);
    assert!(at_3s.contains("at 0:00:03.0 / 0:00:20.0"), "{at_3s}");
    assert!(at_3s.contains(" workers 2 "), "{at_3s}");
    assert!(!at_3s.contains("worker-2"), "{at_3s}");
    assert!(at_3s.contains("★ worker-0"), "{at_3s}");
    keys(&mut review, &[KeyCode::Right; 4]);
    let at_7s = screen(&mut review, 160, 48);
    assert!(at_7s.contains(" workers 3 "), "{at_7s}");
    assert!(at_7s.contains("worker-2"), "{at_7s}");
    keys(&mut review, &[KeyCode::Right; 8]);
    let at_15s = screen(&mut review, 160, 48);
    assert!(at_15s.contains(" workers 2 "), "{at_15s}");
    assert!(
        !at_15s.contains("worker-0 Stable"),
        "the killed leader is gone: {at_15s}"
    );
    assert!(
        at_15s.contains("worker-0 ended: killed"),
        "the log says so: {at_15s}"
    );
    assert!(at_15s.contains("event #3 kill leader settling"), "{at_15s}");
    keys(&mut review, &[KeyCode::Home]);
    let at_start = screen(&mut review, 160, 48);
    assert!(at_start.contains("no workers at the cursor"), "{at_start}");
}

#[test]
fn the_golden_recording_shows_its_workers_come_and_go() {
    let mut review = golden();
    let start = screen(&mut review, 120, 30);
    assert!(start.contains("no workers at the cursor"), "{start}");
    keys(&mut review, &[KeyCode::Right]);
    let at_1s = screen(&mut review, 120, 30);
    assert!(at_1s.contains(" workers 2 "), "{at_1s}");
    assert!(at_1s.contains("worker-0 became leader"), "{at_1s}");
    keys(&mut review, &[KeyCode::End]);
    let end = screen(&mut review, 120, 30);
    assert!(end.contains(" workers 1 "), "{end}");
    assert!(!end.contains("worker-0 ClaimingId"), "{end}");
}

#[test]
fn the_charts_draw_the_cursor_where_it_is() {
    let mut review = review(true);
    let column = |review: &mut ReviewModel| {
        let terminal = draw(review, 160, 48);
        let buffer = terminal.backend().buffer().clone();
        let area = buffer.area;
        (area.top()..area.bottom())
            .find_map(|y| {
                (area.left()..area.right())
                    .find(|&x| buffer[(x, y)].symbol() == "┼" && buffer[(x, y)].fg == Color::Yellow)
            })
            .expect("a cursor on the time axis")
    };
    let at_start = column(&mut review);
    keys(&mut review, &[KeyCode::End]);
    let at_end = column(&mut review);
    keys(&mut review, &[KeyCode::PageUp; 5]);
    let at_middle = column(&mut review);
    assert!(
        at_start < at_middle && at_middle < at_end,
        "{at_start} {at_middle} {at_end}"
    );
}

#[test]
fn the_event_under_the_cursor_is_highlighted() {
    let mut review = review(true);
    keys(&mut review, &[KeyCode::Char(']')]);
    let terminal = draw(&mut review, 160, 48);
    let buffer = terminal.backend().buffer();
    let full = text(buffer);
    let row = full
        .lines()
        .position(|line| line.contains("│#2 scale→3"))
        .expect("the event's row");
    let y = u16::try_from(row).expect("row");
    let x = full
        .lines()
        .nth(row)
        .and_then(|l| l.find("│#2 scale→3"))
        .expect("x");
    let x = u16::try_from(l_chars(&full, row, x) + 1).expect("x");
    assert_eq!(
        buffer[(x, y)].bg,
        Color::DarkGray,
        "the event is highlighted at {x},{y}: {:?}",
        buffer[(x, y)]
    );
    let first = full
        .lines()
        .position(|line| line.contains("│#1 scale→2"))
        .expect("the first event's row");
    assert_ne!(first, row);
    let first_y = u16::try_from(first).expect("row");
    assert_ne!(
        buffer[(x, first_y)].bg,
        Color::DarkGray,
        "only the event under the cursor"
    );
}

/// The column of byte offset `x` in line `row` (the rows hold multi-byte symbols).
fn l_chars(full: &str, row: usize, x: usize) -> usize {
    full.lines()
        .nth(row)
        .map(|l| l[..x].chars().count())
        .unwrap_or(0)
}

#[test]
fn action_keys_say_read_only() {
    let mut review = review(true);
    update(
        &mut review,
        Msg::Key(KeyEvent::new(KeyCode::Char('K'), KeyModifiers::SHIFT)),
    );
    let shown = screen(&mut review, 120, 30);
    assert!(
        shown.contains("read-only: a review replays a recording and acts on no cluster"),
        "{shown}"
    );
}

#[test]
fn an_autosave_says_it_is_incomplete() {
    let mut review = review(false);
    let shown = screen(&mut review, 160, 48);
    assert!(shown.contains("REVIEW"), "{shown}");
    assert!(shown.contains("autosave.ron"), "{shown}");
    assert!(
        shown.contains("incomplete (autosave, no summary)"),
        "{shown}"
    );
    let complete = screen(&mut self::review(true), 160, 48);
    assert!(complete.contains("verdict"), "{complete}");
    assert!(!complete.contains("incomplete"), "{complete}");
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut review = review(true);
    keys(&mut review, &[KeyCode::End, KeyCode::Char('?')]);
    for (width, height) in [(1, 1), (10, 3), (30, 8), (59, 11), (80, 12)] {
        draw(&mut review, width, height);
    }
}
