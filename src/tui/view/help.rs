//! The help overlay, generated from the keymap's table (so it lists every key and alias) and
//! followed by what the dashboard's symbols mean. It is laid out in as few columns as the
//! screen's height allows, in a bordered box over the current screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::theme;
use crate::tui::keymap::BINDINGS;

/// One line of a section: a key (or symbol) and what it means.
struct Entry {
    key: String,
    what: String,
}

struct Section {
    title: &'static str,
    entries: Vec<Entry>,
}

/// The symbols the dashboard shows, and their meaning.
const SYMBOLS: &[(&str, &str)] = &[
    ("★", "the leader"),
    ("▶", "the selected worker"),
    ("v7", "assignment version applied"),
    ("max/min", "most / fewest partitions"),
    ("#3", "event number (from 1)"),
    ("★→", "the leader changed in it"),
    ("superseded", "next action came first"),
    ("empty", "no worker left running"),
    ("①", "chart marker, named below"),
    ("Paused", "host frozen (SIGSTOP)"),
    ("peak", "highest since the start"),
];

fn sections() -> [Section; 2] {
    let keys = BINDINGS
        .iter()
        .map(|b| Entry {
            key: b.keys_text(),
            what: b.what.to_owned(),
        })
        .collect();
    let destructive: Vec<String> = BINDINGS
        .iter()
        .filter(|b| b.command.is_destructive())
        .map(|b| b.keys_text())
        .collect();
    let mut symbols: Vec<Entry> = SYMBOLS
        .iter()
        .map(|(key, what)| Entry {
            key: (*key).to_owned(),
            what: (*what).to_owned(),
        })
        .collect();
    symbols.push(Entry {
        key: destructive.concat(),
        what: "ask y/Enter first".to_owned(),
    });
    [
        Section {
            title: "keys",
            entries: keys,
        },
        Section {
            title: "symbols",
            entries: symbols,
        },
    ]
}

fn width_of(text: &str) -> usize {
    Span::raw(text).width()
}

/// Space between columns.
const GAP: usize = 3;

/// The columns per section and the rows they need, for an inner area of `width`×`height`:
/// the fewest columns whose rows fit the height, as many as the width allows otherwise.
fn arrange(sections: &[Section], column_width: usize, width: usize, height: usize) -> usize {
    let fits_width = |columns: usize| columns * column_width + (columns - 1) * GAP <= width;
    let rows = |columns: usize| -> usize {
        sections
            .iter()
            .map(|s| 1 + s.entries.len().div_ceil(columns))
            .sum()
    };
    let mut columns = 1;
    while rows(columns) > height && fits_width(columns + 1) && columns < 4 {
        columns += 1;
    }
    columns
}

/// The overlay's lines for `columns` columns of `column_width`, within `height` rows when
/// possible: the titles after the first are left out when they alone would not fit.
fn lines(
    sections: &[Section],
    key_width: usize,
    column_width: usize,
    columns: usize,
    height: usize,
) -> Vec<Line<'static>> {
    let rows: usize = sections
        .iter()
        .map(|s| 1 + s.entries.len().div_ceil(columns))
        .sum();
    let titles_fit = rows <= height || rows - height >= sections.len();
    let mut out = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        if index == 0 || titles_fit {
            out.push(Line::from(Span::styled(section.title, theme::HEADER)));
        }
        let rows = section.entries.len().div_ceil(columns);
        for row in 0..rows {
            let mut spans = Vec::new();
            for column in 0..columns {
                let Some(entry) = section.entries.get(column * rows + row) else {
                    continue;
                };
                if column > 0 {
                    spans.push(Span::raw(" ".repeat(GAP)));
                }
                let key_pad = key_width.saturating_sub(width_of(&entry.key));
                spans.push(Span::styled(entry.key.clone(), theme::KEY));
                spans.push(Span::raw(" ".repeat(key_pad + 1)));
                let what_pad = column_width.saturating_sub(key_width + 1 + width_of(&entry.what));
                spans.push(Span::raw(entry.what.clone()));
                if column + 1 < columns {
                    spans.push(Span::raw(" ".repeat(what_pad)));
                }
            }
            out.push(Line::from(spans));
        }
    }
    out
}

/// Draw the overlay on top of whatever `area` shows.
pub fn render(frame: &mut Frame, area: Rect) {
    if area.width < 4 || area.height < 3 {
        return;
    }
    let sections = sections();
    let entries = || sections.iter().flat_map(|s| s.entries.iter());
    let key_width = entries().map(|e| width_of(&e.key)).max().unwrap_or(0);
    let what_width = entries().map(|e| width_of(&e.what)).max().unwrap_or(0);
    let column_width = key_width + 1 + what_width;
    let inner_width = usize::from(area.width - 2);
    let inner_height = usize::from(area.height - 2);
    let columns = arrange(&sections, column_width, inner_width, inner_height);
    let lines = lines(&sections, key_width, column_width, columns, inner_height);
    let wanted_width = columns * column_width + (columns - 1) * GAP + 2;
    let width = u16::try_from(wanted_width)
        .unwrap_or(u16::MAX)
        .min(area.width);
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
        .title(Span::styled(" help ", theme::TITLE))
        .title_bottom(Line::from(Span::styled(" Esc or ? closes ", theme::DIM)).right_aligned());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_and_symbol_is_in_the_overlay() {
        let sections = sections();
        let text: String = lines(&sections, 10, 40, 2, 100)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        for b in BINDINGS {
            assert!(text.contains(&b.keys_text()), "{} missing", b.keys_text());
            assert!(text.contains(b.what), "{} missing", b.what);
        }
        for (symbol, what) in SYMBOLS {
            assert!(text.contains(symbol) && text.contains(what), "{symbol}");
            assert!(
                what.chars().count() <= crate::tui::keymap::WHAT_MAX,
                "{what}"
            );
        }
        assert!(text.contains("KSLPHCWNX"), "the keys that ask first");
    }

    #[test]
    fn columns_are_added_only_when_the_rows_do_not_fit() {
        let sections = sections();
        assert_eq!(arrange(&sections, 37, 158, 46), 1);
        assert_eq!(arrange(&sections, 37, 78, 22), 2);
        assert_eq!(arrange(&sections, 37, 30, 10), 1, "no room for a second");
    }
}
