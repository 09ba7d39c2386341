//! The time charts: memory per process (MiB) and tokio tasks per host, over the selected
//! window. The operator's and the profile's actions are dotted vertical marks drawn behind the
//! lines and labelled on the time axis ([`markers`] keeps labels whole and apart, numbering
//! those that do not fit and listing them on the bottom border). The figures stand beside the
//! charts: a table of every process's current and peak figures under the memory chart
//! ([`figures`]), each host's current and peak task count in the tasks chart's legend.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker as Dots;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition, Paragraph};

use super::format;
use super::markers::{self, LegendEntry};
use super::{figures, theme};
use crate::observation::ProcessKind;
use crate::tui::model::{Marker, MemoryPoint, Model};

/// One line on a chart.
struct Series {
    color: Color,
    points: Vec<(f64, f64)>,
}

/// The time span a chart shows, in milliseconds of run time.
#[derive(Clone, Copy)]
struct TimeSpan {
    start_ms: u64,
    end_ms: u64,
}

impl TimeSpan {
    fn of(model: &Model) -> Self {
        let start_ms = model.window_start_ms();
        let end_ms = model.cursor.as_ref().map_or(model.now_ms, |c| c.end_ms);
        Self {
            start_ms,
            end_ms: end_ms.max(start_ms + 1000),
        }
    }

    /// The column of `t_ms` on a time axis `width` columns wide (two braille dots a column).
    fn column(self, t_ms: u64, width: u16) -> u16 {
        let dots = f64::from(width) * 2.0;
        let range = seconds(self.end_ms) - seconds(self.start_ms);
        let dot = ((seconds(t_ms) - seconds(self.start_ms)) * (dots - 1.0) / range).round();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let column = (dot.max(0.0) as u16) / 2;
        column.min(width.saturating_sub(1))
    }

    fn bounds(self) -> [f64; 2] {
        [seconds(self.start_ms), seconds(self.end_ms)]
    }
}

fn seconds(ms: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let ms = ms as f64;
    ms / 1000.0
}

/// The points of `series` inside `span`, at most `max_points` of them: when there are more, each
/// run of neighbours is reduced to its first time and its largest value (peaks stay visible).
fn points(
    series: &VecDeque<MemoryPoint>,
    span: TimeSpan,
    max_points: usize,
    value: impl Fn(&MemoryPoint) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let first = series.partition_point(|p| p.t_ms < span.start_ms);
    let last = series.partition_point(|p| p.t_ms <= span.end_ms);
    let count = last.saturating_sub(first);
    let stride = count.div_ceil(max_points.max(1)).max(1);
    let mut out = Vec::with_capacity(count / stride + 1);
    let mut bucket: Option<(f64, f64)> = None;
    for (i, point) in series.range(first..last).enumerate() {
        if let Some(y) = value(point) {
            bucket = Some(match bucket {
                Some((x, top)) => (x, top.max(y)),
                None => (seconds(point.t_ms), y),
            });
        }
        if (i + 1) % stride == 0
            && let Some(done) = bucket.take()
        {
            out.push(done);
        }
    }
    out.extend(bucket);
    out
}

/// A rounded top for the y axis, a little above `max`.
fn top(max: f64, floor: f64) -> f64 {
    let max = (max * 1.1).max(floor);
    let magnitude = 10f64.powf(max.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|f| f * magnitude / 10.0)
        .find(|step| (max / step).ceil() <= 10.0)
        .unwrap_or(magnitude);
    (max / step).ceil() * step
}

/// The width every chart's y-axis labels are padded to, so that charts stacked in a column
/// share their time axis (and so their marker layout) column for column.
const Y_LABEL_WIDTH: usize = 5;

/// What goes under a chart: its figures table (memory) or its legend with figures (tasks).
enum Under {
    Table(Vec<Line<'static>>),
    Legend(Vec<Span<'static>>),
}

/// The markers inside the chart's time span, as (time, label).
fn shown_markers(model: &Model, span: TimeSpan) -> Vec<&Marker> {
    model
        .markers
        .iter()
        .filter(|m| (span.start_ms..=span.end_ms).contains(&m.t_ms))
        .collect()
}

/// Draw one time chart: the plot with the action markers behind the lines, their labels on the
/// time axis, and under it the figures table or the legend; numbered markers are listed on the
/// bottom border.
#[allow(clippy::too_many_arguments)]
fn time_chart(
    model: &Model,
    frame: &mut Frame,
    area: Rect,
    title: String,
    series: &[Series],
    under: Under,
    y_floor: f64,
    y_label: fn(f64) -> String,
) {
    let span = TimeSpan::of(model);
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Span::styled(title, theme::TITLE));
    let inner = block.inner(area);
    let (under_height, legend_spans) = match &under {
        Under::Table(lines) => (u16::try_from(lines.len()).unwrap_or(u16::MAX), None),
        Under::Legend(spans) => (0, Some(spans.clone())),
    };
    // The plot needs four rows (a line, the axis, its labels); the table gives way first.
    let under_height = if inner.height >= under_height + 4 {
        under_height
    } else {
        0
    };
    let plot = Rect {
        height: inner.height - under_height,
        ..inner
    };
    if plot.height < 3 || plot.width < 16 {
        frame.render_widget(block, area);
        return;
    }
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let y_top = top(y_max, y_floor);
    let shown = shown_markers(model, span);
    // Markers are dotted (one dot per row) and drawn first, so every line is drawn over them.
    let rows = usize::from(plot.height.saturating_sub(2)).max(1);
    let marks: Vec<(f64, f64)> = shown
        .iter()
        .flat_map(|m| {
            (0..rows).map(move |row| {
                #[allow(clippy::cast_precision_loss)]
                let y = y_top * (row as f64 + 0.5) / rows as f64;
                (seconds(m.t_ms), y)
            })
        })
        .collect();
    let mut datasets = vec![
        Dataset::default()
            .marker(Dots::Braille)
            .graph_type(GraphType::Scatter)
            .style(theme::MARKER)
            .data(&marks),
    ];
    datasets.extend(series.iter().map(|s| {
        Dataset::default()
            .marker(Dots::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(s.color))
            .data(&s.points)
    }));
    let mid_ms = span.start_ms + (span.end_ms - span.start_ms) / 2;
    let pad = |label: String| format!("{label:>Y_LABEL_WIDTH$}");
    let x_labels = [
        format::axis_time(span.start_ms),
        format::axis_time(mid_ms),
        format::axis_time(span.end_ms),
    ];
    let chart = Chart::new(datasets)
        .legend_position(None::<LegendPosition>)
        .x_axis(
            Axis::default()
                .bounds(span.bounds())
                .style(theme::DIM)
                .labels(x_labels),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_top])
                .style(theme::DIM)
                .labels([
                    pad(y_label(0.0)),
                    pad(y_label(y_top / 2.0)),
                    pad(y_label(y_top)),
                ]),
        );
    frame.render_widget(chart, plot);
    let numbered = label_markers(&shown, frame.buffer_mut(), plot, span);
    if model.cursor.is_some() {
        draw_cursor(frame.buffer_mut(), plot, span, model.now_ms);
    }
    let width = usize::from(area.width.saturating_sub(4));
    let bottom = bottom_line(legend_spans.unwrap_or_default(), &numbered, width);
    frame.render_widget(block.title_bottom(bottom), area);
    if let Under::Table(lines) = under
        && under_height > 0
    {
        let table = Rect {
            y: plot.bottom(),
            height: under_height,
            ..inner
        };
        frame.render_widget(Paragraph::new(lines), table);
    }
}

/// The bottom border's line: the series legend (when given), then the numbered markers, the
/// newest first to stay; what does not fit is left out whole and `…` says so.
fn bottom_line(
    legend: Vec<Span<'static>>,
    numbered: &[LegendEntry],
    width: usize,
) -> Line<'static> {
    let mut spans = legend;
    let used: usize = spans.iter().map(Span::width).sum();
    let entries: Vec<Vec<Span<'static>>> = numbered
        .iter()
        .map(|e| {
            vec![
                Span::styled(e.number.clone(), theme::MARKER),
                Span::raw(format!("{} ", e.labels)),
            ]
        })
        .collect();
    let mut room = width.saturating_sub(used + 1);
    let mut kept = Vec::new();
    for entry in entries.iter().rev() {
        let w: usize = entry.iter().map(Span::width).sum();
        if w > room {
            break;
        }
        room -= w;
        kept.push(entry.clone());
    }
    if kept.len() < entries.len() {
        spans.push(Span::styled("… ", theme::DIM));
    }
    for entry in kept.into_iter().rev() {
        spans.extend(entry);
    }
    if spans.is_empty() {
        return Line::default();
    }
    spans.insert(0, Span::raw(" "));
    Line::from(spans)
}

/// Write each marker's label (or number) on the chart's time axis, under its dotted mark, and
/// return the numbered ones for the legend.
fn label_markers(
    shown: &[&Marker],
    buf: &mut Buffer,
    plot: Rect,
    span: TimeSpan,
) -> Vec<LegendEntry> {
    let Some((axis_x, axis_y)) = axis_corner(buf, plot) else {
        return Vec::new();
    };
    let left = axis_x + 1;
    let width = plot.right().saturating_sub(left);
    if width < 2 {
        return Vec::new();
    }
    let columns: Vec<(u16, &str)> = shown
        .iter()
        .map(|m| (span.column(m.t_ms, width), m.label.as_str()))
        .collect();
    let (ticks, legend) = markers::layout(&columns, width - 1);
    for tick in &ticks {
        buf.set_string(left + tick.text_column, axis_y, &tick.text, theme::MARKER);
    }
    for tick in &ticks {
        buf[(left + tick.column, axis_y)]
            .set_symbol("┴")
            .set_style(theme::MARKER);
    }
    legend
}

/// The time cursor of a reviewed run: a vertical line at `t_ms` over the plot (the data it
/// crosses keeps its symbol on the cursor's background) and a cross on the time axis.
fn draw_cursor(buf: &mut Buffer, plot: Rect, span: TimeSpan, t_ms: u64) {
    let Some((axis_x, axis_y)) = axis_corner(buf, plot) else {
        return;
    };
    let left = axis_x + 1;
    let width = plot.right().saturating_sub(left);
    if width < 2 || !(span.start_ms..=span.end_ms).contains(&t_ms) {
        return;
    }
    let x = left + span.column(t_ms, width);
    for y in plot.top()..axis_y {
        let cell = &mut buf[(x, y)];
        if cell.symbol() == " " {
            cell.set_symbol("│").set_style(theme::CURSOR);
        } else {
            cell.set_style(theme::CURSOR_OVER);
        }
    }
    // On the axis: a cross, unless a marker's label is written there.
    let axis = &mut buf[(x, axis_y)];
    if matches!(axis.symbol(), "─" | "┴" | "└") {
        axis.set_symbol("┼").set_style(theme::CURSOR);
    } else {
        axis.set_style(theme::CURSOR_OVER);
    }
}

/// The corner where the chart's axes meet, searched from the bottom of the plot.
fn axis_corner(buf: &Buffer, inner: Rect) -> Option<(u16, u16)> {
    (inner.top()..inner.bottom()).rev().find_map(|y| {
        (inner.left()..inner.right())
            .find(|&x| buf[(x, y)].symbol() == "└")
            .map(|x| (x, y))
    })
}

fn count_label(value: f64) -> String {
    format!("{value:.0}")
}

/// The chart's resolution limit: two braille dots per column.
fn max_points(area: Rect) -> usize {
    usize::from(area.width) * 2
}

/// Memory per process: RSS and live heap per host, nats-server RSS, parti-top's own RSS; the
/// figures table under it.
pub fn memory(model: &Model, frame: &mut Frame, area: Rect) {
    let span = TimeSpan::of(model);
    let max = max_points(area);
    let mut series = Vec::new();
    for (process, points_of) in &model.memory {
        let rss = |p: &MemoryPoint| Some(format::mib(p.rss_bytes));
        let (rss_color, heap_color) = figures::colors(*process);
        series.push(Series {
            color: rss_color,
            points: points(points_of, span, max, rss),
        });
        if let ProcessKind::Host(_) = process {
            let heap = points(points_of, span, max, |p| p.live_heap_bytes.map(format::mib));
            if !heap.is_empty() {
                series.push(Series {
                    color: heap_color,
                    points: heap,
                });
            }
        }
    }
    let title = format!(" memory MiB · {} ", model.window_label());
    let table = figures::lines(model, area.width.saturating_sub(2));
    time_chart(
        model,
        frame,
        area,
        title,
        &series,
        Under::Table(table),
        1.0,
        format::mib_label,
    );
}

/// The tasks chart's legend: each host's colour, name, current and peak task count; short
/// names when the long ones do not fit.
fn tasks_legend(model: &Model, width: usize) -> Vec<Span<'static>> {
    let entry = |short: bool, process: ProcessKind| {
        let ProcessKind::Host(n) = process else {
            return Vec::new();
        };
        let now = model.current_point(process).and_then(|p| p.tasks);
        let peak = model.peaks.get(&process).and_then(|p| p.tasks);
        let figures = match (now, peak) {
            (Some(now), Some(peak)) if short => format!(" {now}/{peak}"),
            (Some(now), Some(peak)) => format!(" {now} (peak {peak})"),
            _ => String::new(),
        };
        let name = if short {
            format!("h{n}")
        } else {
            format!("host {n}")
        };
        vec![
            Span::styled("━", Style::new().fg(figures::colors(process).0)),
            Span::raw(format!("{name}{figures} ")),
        ]
    };
    let build = |short: bool| -> Vec<Span<'static>> {
        model.memory.keys().flat_map(|p| entry(short, *p)).collect()
    };
    let long = build(false);
    if long.iter().map(Span::width).sum::<usize>() <= width {
        return long;
    }
    let short = build(true);
    if short.iter().map(Span::width).sum::<usize>() <= width {
        return short;
    }
    Vec::new()
}

/// tokio alive tasks per host, with each host's current and peak count in the legend.
pub fn tasks(model: &Model, frame: &mut Frame, area: Rect) {
    let span = TimeSpan::of(model);
    let max = max_points(area);
    let series: Vec<Series> = model
        .memory
        .iter()
        .filter_map(|(process, points_of)| match process {
            ProcessKind::Host(n) => Some(Series {
                color: theme::host_colors(*n).0,
                points: points(points_of, span, max, |p| {
                    #[allow(clippy::cast_precision_loss)]
                    p.tasks.map(|t| t as f64)
                }),
            }),
            ProcessKind::NatsServer | ProcessKind::Controller => None,
        })
        .collect();
    let title = format!(" tokio tasks · {} ", model.window_label());
    let legend = tasks_legend(model, usize::from(area.width.saturating_sub(4)));
    time_chart(
        model,
        frame,
        area,
        title,
        &series,
        Under::Legend(legend),
        10.0,
        count_label,
    );
}

/// The message load: messages acked per second and the lag (sent, not yet acked), with the
/// current rates and the ledger's exceptions in the title.
pub fn messages(model: &Model, frame: &mut Frame, area: Rect) {
    let span = TimeSpan::of(model);
    let first = model.load.partition_point(|(t, _)| *t < span.start_ms);
    let last = model.load.partition_point(|(t, _)| *t <= span.end_ms);
    let window: Vec<&(u64, crate::observation::LoadPoint)> =
        model.load.range(first..last).collect();
    let stride = window.len().div_ceil(max_points(area).max(1)).max(1);
    let mut rate = Vec::new();
    let mut lag = Vec::new();
    for pair in window.windows(2).step_by(stride) {
        let ((t0, a), (t1, b)) = (pair[0], pair[1]);
        if t1 > t0 {
            #[allow(clippy::cast_precision_loss)]
            let per_s = b.acked.saturating_sub(a.acked) as f64 * 1000.0 / (t1 - t0) as f64;
            rate.push((seconds(*t1), per_s));
        }
        #[allow(clippy::cast_precision_loss)]
        lag.push((seconds(*t1), b.lag as f64));
    }
    let series = [
        Series {
            color: theme::host_colors(0).0,
            points: rate,
        },
        Series {
            color: theme::host_colors(1).0,
            points: lag,
        },
    ];
    let title = match model.load_now() {
        Some((acked, sent, now)) => format!(
            " messages/s · {acked:.0} acked {sent:.0} sent · lag {} · dup {} · fenced {} ",
            now.lag, now.duplicated, now.fenced
        ),
        None => " messages/s ".to_owned(),
    };
    let legend = vec![
        Span::styled("━", Style::new().fg(theme::host_colors(0).0)),
        Span::raw(" acked/s  "),
        Span::styled("━", Style::new().fg(theme::host_colors(1).0)),
        Span::raw(" lag (sent − acked)"),
    ];
    time_chart(
        model,
        frame,
        area,
        title,
        &series,
        Under::Legend(legend),
        10.0,
        count_label,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: u64) -> VecDeque<MemoryPoint> {
        (0..n)
            .map(|i| MemoryPoint {
                t_ms: i * 1000,
                rss_bytes: i,
                live_heap_bytes: None,
                tasks: None,
                cpu_percent: None,
            })
            .collect()
    }

    #[test]
    fn points_are_cut_to_the_window_and_thinned_keeping_peaks() {
        let s = series(100);
        let span = TimeSpan {
            start_ms: 10_000,
            end_ms: 19_000,
        };
        #[allow(clippy::cast_precision_loss)]
        let all = points(&s, span, 100, |p| Some(p.rss_bytes as f64));
        assert_eq!(all.len(), 10);
        assert_eq!(all[0], (10.0, 10.0));
        #[allow(clippy::cast_precision_loss)]
        let thin = points(&s, span, 5, |p| Some(p.rss_bytes as f64));
        assert_eq!(
            thin,
            vec![
                (10.0, 11.0),
                (12.0, 13.0),
                (14.0, 15.0),
                (16.0, 17.0),
                (18.0, 19.0)
            ]
        );
    }

    #[test]
    fn the_axis_top_is_round_and_above_the_data() {
        assert!((top(0.0, 1.0) - 1.0).abs() < 1e-9, "{}", top(0.0, 1.0));
        assert!((top(93.0, 1.0) - 120.0).abs() < 1e-9, "{}", top(93.0, 1.0));
        assert!((top(7.0, 10.0) - 10.0).abs() < 1e-9, "{}", top(7.0, 10.0));
        assert!((top(52.5, 1.0) - 60.0).abs() < 1e-9, "{}", top(52.5, 1.0));
    }
}
