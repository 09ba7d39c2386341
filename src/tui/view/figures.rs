//! The figures beside the charts: one row per process (each host, nats-server, parti-top) with
//! its current and peak RSS, live heap, tokio tasks and CPU, each number in the colour of its
//! chart line so the table is also the charts' legend. Columns that do not fit are left out
//! whole, least important first; a number is never cut.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::format;
use super::theme;
use crate::observation::ProcessKind;
use crate::tui::model::{MemoryPoint, Model, Peak};

/// A process's colours on the charts: (RSS and tasks, live heap).
pub fn colors(process: ProcessKind) -> (Color, Color) {
    match process {
        ProcessKind::Host(n) => theme::host_colors(n),
        ProcessKind::NatsServer => (theme::NATS, theme::NATS),
        ProcessKind::Controller => (theme::OVERHEAD, theme::OVERHEAD),
    }
}

/// The process's name in the table, `short` for narrow screens.
fn name(process: ProcessKind, short: bool) -> String {
    match (process, short) {
        (ProcessKind::Host(n), true) => format!("h{n}"),
        (ProcessKind::NatsServer, true) => "nats".to_owned(),
        (ProcessKind::Controller, true) => "self".to_owned(),
        (process, false) => process.to_string(),
    }
}

/// One process's figures: the last sample and the peaks.
struct Figures {
    process: ProcessKind,
    now: MemoryPoint,
    peak: Peak,
}

type Cell = Option<(String, Style)>;

/// A column: its header, its importance (0 always stays, higher goes first) and its cell.
struct Column {
    header: &'static str,
    priority: u8,
    cell: fn(&Figures) -> Cell,
}

fn mib(bytes: u64, color: Color) -> Cell {
    Some((
        format::mib_label(format::mib(bytes)),
        Style::new().fg(color),
    ))
}

fn count(value: Option<u64>, color: Color) -> Cell {
    value.map(|v| (v.to_string(), Style::new().fg(color)))
}

fn cpu(percent: Option<f64>) -> Cell {
    percent.map(|p| {
        let text = if p < 100.0 {
            format!("{p:.1}%")
        } else {
            format!("{p:.0}%")
        };
        (text, theme::TEXT)
    })
}

const COLUMNS: &[Column] = &[
    Column {
        header: "",
        priority: 0,
        cell: |f| {
            Some((
                format!("━ {}", name(f.process, false)),
                Style::new().fg(colors(f.process).0),
            ))
        },
    },
    Column {
        header: "RSS",
        priority: 0,
        cell: |f| mib(f.now.rss_bytes, colors(f.process).0),
    },
    Column {
        header: "peak",
        priority: 1,
        cell: |f| mib(f.peak.rss_bytes, colors(f.process).0),
    },
    Column {
        header: "heap",
        priority: 2,
        cell: |f| {
            f.now
                .live_heap_bytes
                .and_then(|b| mib(b, colors(f.process).1))
        },
    },
    Column {
        header: "peak",
        priority: 5,
        cell: |f| {
            f.peak
                .live_heap_bytes
                .and_then(|b| mib(b, colors(f.process).1))
        },
    },
    Column {
        header: "tasks",
        priority: 3,
        cell: |f| count(f.now.tasks, colors(f.process).0),
    },
    Column {
        header: "peak",
        priority: 6,
        cell: |f| count(f.peak.tasks, colors(f.process).0),
    },
    Column {
        header: "cpu",
        priority: 4,
        cell: |f| cpu(f.now.cpu_percent),
    },
];

/// How the table is laid out: long or short names, and the space between columns.
#[derive(Clone, Copy)]
struct Layout {
    short_names: bool,
    gap: usize,
}

/// The layouts to try, roomiest first.
const LAYOUTS: [Layout; 3] = [
    Layout {
        short_names: false,
        gap: 2,
    },
    Layout {
        short_names: true,
        gap: 2,
    },
    Layout {
        short_names: true,
        gap: 1,
    },
];

/// The columns of `layout` that fit in `width`, least important left out first; `None` when
/// not even the names and RSS fit.
fn fit(widths: &[usize], layout: Layout, width: usize) -> Option<Vec<usize>> {
    let mut shown: Vec<usize> = (0..COLUMNS.len()).collect();
    let total = |shown: &[usize]| -> usize {
        shown.iter().map(|&i| widths[i]).sum::<usize>() + layout.gap * shown.len().saturating_sub(1)
    };
    while total(&shown) > width {
        let worst = shown
            .iter()
            .enumerate()
            .filter(|(_, i)| COLUMNS[**i].priority > 0)
            .max_by_key(|(_, i)| COLUMNS[**i].priority)
            .map(|(at, _)| at)?;
        shown.remove(worst);
    }
    Some(shown)
}

/// The rows of the table (header first) for `width` columns; empty when no process has been
/// sampled yet or not even the names and RSS fit. Narrow screens get short names and less
/// space between columns before columns are left out.
pub fn lines(model: &Model, width: u16) -> Vec<Line<'static>> {
    let figures: Vec<Figures> = model
        .memory
        .keys()
        .filter_map(|process| {
            Some(Figures {
                process: *process,
                now: *model.current_point(*process)?,
                peak: model.peaks.get(process).copied().unwrap_or_default(),
            })
        })
        .collect();
    if figures.is_empty() {
        return Vec::new();
    }
    let mut cells: Vec<Vec<Cell>> = COLUMNS
        .iter()
        .map(|c| figures.iter().map(|f| (c.cell)(f)).collect())
        .collect();
    let widths_of = |cells: &[Vec<Cell>]| -> Vec<usize> {
        COLUMNS
            .iter()
            .zip(cells)
            .map(|(c, cells)| {
                cells
                    .iter()
                    .map(|cell| cell.as_ref().map_or(1, |(text, _)| text.chars().count()))
                    .max()
                    .unwrap_or(0)
                    .max(c.header.len())
            })
            .collect()
    };
    let short_cells: Vec<Cell> = figures
        .iter()
        .map(|f| {
            Some((
                format!("━ {}", name(f.process, true)),
                Style::new().fg(colors(f.process).0),
            ))
        })
        .collect();
    let long_widths = widths_of(&cells);
    let mut short = cells.clone();
    short[0] = short_cells;
    let short_widths = widths_of(&short);
    // The layout that shows the most columns; the roomiest of those.
    let mut best: Option<(Layout, Vec<usize>)> = None;
    for layout in LAYOUTS {
        let widths = if layout.short_names {
            &short_widths
        } else {
            &long_widths
        };
        if let Some(shown) = fit(widths, layout, usize::from(width))
            && best.as_ref().is_none_or(|(_, b)| shown.len() > b.len())
        {
            best = Some((layout, shown));
        }
    }
    let Some((layout, shown)) = best else {
        return Vec::new();
    };
    let widths = if layout.short_names {
        cells = short;
        short_widths
    } else {
        long_widths
    };
    let gap = " ".repeat(layout.gap);
    let mut out = Vec::with_capacity(figures.len() + 1);
    let mut header = Vec::new();
    for (n, &i) in shown.iter().enumerate() {
        if n > 0 {
            header.push(Span::raw(gap.clone()));
        }
        header.push(Span::styled(
            format!("{:>w$}", COLUMNS[i].header, w = widths[i]),
            theme::HEADER,
        ));
    }
    out.push(Line::from(header));
    out.extend((0..figures.len()).map(|row| {
        let mut spans = Vec::new();
        for (n, &i) in shown.iter().enumerate() {
            if n > 0 {
                spans.push(Span::raw(gap.clone()));
            }
            let w = widths[i];
            spans.push(match &cells[i][row] {
                // The name is left-aligned, numbers right-aligned.
                Some((text, style)) if n == 0 => Span::styled(format!("{text:<w$}"), *style),
                Some((text, style)) => Span::styled(format!("{text:>w$}"), *style),
                None => Span::styled(format!("{:>w$}", "—"), theme::DIM),
            });
        }
        Line::from(spans)
    }));
    out
}

/// The rows the table takes: a header and one per sampled process.
pub fn height(model: &Model) -> u16 {
    let processes = model.memory.values().filter(|s| !s.is_empty()).count();
    if processes == 0 {
        0
    } else {
        u16::try_from(processes + 1).unwrap_or(u16::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::sample_model;

    fn text(model: &Model, width: u16) -> Vec<String> {
        lines(model, width)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_process_has_its_current_and_peak_figures() {
        let rows = text(&sample_model(), 100);
        assert_eq!(rows.len(), 5, "{rows:#?}");
        assert!(rows[0].contains("RSS"), "{}", rows[0]);
        for header in ["heap", "tasks", "cpu"] {
            assert!(rows[0].contains(header), "{header}: {}", rows[0]);
        }
        assert_eq!(rows[0].matches("peak").count(), 3, "{}", rows[0]);
        for (row, process) in rows[1..]
            .iter()
            .zip(["host 0", "host 1", "nats-server", "parti-top"])
        {
            assert!(row.starts_with(&format!("━ {process}")), "{row}");
        }
        assert!(
            rows[3].contains('—'),
            "nats-server has no heap: {}",
            rows[3]
        );
    }

    #[test]
    fn narrow_tables_drop_whole_columns_and_never_cut_a_number() {
        let wide = text(&sample_model(), 100);
        let full = wide[1].chars().count();
        for width in [20, 30, 40, 50, 60] {
            let rows = text(&sample_model(), width);
            for row in &rows {
                assert!(row.chars().count() <= usize::from(width), "{width}: {row}");
            }
            if full > usize::from(width) && !rows.is_empty() {
                // Every number shown is one of the full table's numbers.
                let numbers = |row: &str| -> Vec<String> {
                    row.split_whitespace()
                        .filter(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                        .map(str::to_owned)
                        .collect()
                };
                let all = numbers(&wide[1]);
                for n in numbers(&rows[1]) {
                    assert!(all.contains(&n), "{width}: {n} cut from {}", wide[1]);
                }
            }
        }
        assert!(
            text(&sample_model(), 5).is_empty(),
            "names and RSS do not fit"
        );
        let narrow = text(&sample_model(), 40);
        assert!(
            narrow[1].starts_with("━ h0"),
            "short names first: {}",
            narrow[1]
        );
        for header in ["RSS", "peak", "heap", "tasks", "cpu"] {
            assert!(narrow[0].contains(header), "{header} at 40: {}", narrow[0]);
        }
    }
}
