//! The time charts: memory per process (MiB) and tokio tasks per host, over the selected
//! window, with the operator's and the profile's actions drawn as vertical marks and labelled
//! on the time axis.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker as Dots;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition};

use super::format;
use super::theme;
use crate::observation::ProcessKind;
use crate::tui::model::{Marker, MemoryPoint, Model};

/// One line on a chart.
struct Series {
    name: String,
    short: String,
    color: Color,
    /// A host's series (kept under the chart when the legend is split).
    host: bool,
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
        Self {
            start_ms,
            end_ms: model.now_ms.max(start_ms + 1000),
        }
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

/// The legend: long names when they fit under the chart, else short ones; when even those do
/// not fit, the hosts' series stay under the chart and the others go to its top right corner.
fn legend(series: &[Series], width: u16) -> (Option<Line<'static>>, Line<'static>) {
    let line = |short: bool, pick: &dyn Fn(&Series) -> bool| {
        let mut spans = Vec::new();
        for s in series.iter().filter(|s| pick(s)) {
            spans.push(Span::styled("━", Style::new().fg(s.color)));
            let name = if short { &s.short } else { &s.name };
            spans.push(Span::raw(format!("{name} ")));
        }
        Line::from(spans)
    };
    let fits = |line: &Line| line.width() <= usize::from(width);
    let long = line(false, &|_| true);
    if fits(&long) {
        return (None, long);
    }
    let short = line(true, &|_| true);
    if fits(&short) {
        return (None, short);
    }
    (
        Some(line(true, &|s| !s.host).right_aligned()),
        line(true, &|s| s.host),
    )
}

/// Draw one time chart with the action markers.
fn time_chart(
    model: &Model,
    frame: &mut Frame,
    area: Rect,
    title: String,
    series: &[Series],
    y_floor: f64,
    y_label: fn(f64) -> String,
) {
    let span = TimeSpan::of(model);
    let (legend_top, legend_bottom) = legend(series, area.width.saturating_sub(2));
    let mut block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Span::styled(title, theme::TITLE))
        .title_bottom(legend_bottom);
    if let Some(line) = legend_top {
        block = block.title_top(line);
    }
    if area.height < 5 || area.width < 16 {
        frame.render_widget(block, area);
        return;
    }
    let inner = block.inner(area);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let y_top = top(y_max, y_floor);
    let shown: Vec<&Marker> = model
        .markers
        .iter()
        .filter(|m| (span.start_ms..=span.end_ms).contains(&m.t_ms))
        .collect();
    let marks: Vec<(f64, f64)> = shown.iter().map(|m| (seconds(m.t_ms), y_top)).collect();
    let mut datasets = vec![
        Dataset::default()
            .marker(Dots::Braille)
            .graph_type(GraphType::Bar)
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
    let chart = Chart::new(datasets)
        .block(block)
        .legend_position(None::<LegendPosition>)
        .x_axis(
            Axis::default()
                .bounds(span.bounds())
                .style(theme::DIM)
                .labels([
                    format::axis_time(span.start_ms),
                    format::axis_time(mid_ms),
                    format::axis_time(span.end_ms),
                ]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_top])
                .style(theme::DIM)
                .labels([y_label(0.0), y_label(y_top / 2.0), y_label(y_top)]),
        );
    frame.render_widget(chart, area);
    label_markers(&shown, frame.buffer_mut(), inner, span);
}

/// Write each marker's label on the chart's time axis, under its vertical mark.
fn label_markers(shown: &[&Marker], buf: &mut Buffer, inner: Rect, span: TimeSpan) {
    let Some((axis_x, axis_y)) = axis_corner(buf, inner) else {
        return;
    };
    let left = axis_x + 1;
    let width = inner.right().saturating_sub(left);
    if width < 2 {
        return;
    }
    let dots = f64::from(width) * 2.0;
    let range = seconds(span.end_ms) - seconds(span.start_ms);
    let mut columns: Vec<(u16, &str)> = shown
        .iter()
        .map(|m| {
            let dot = ((seconds(m.t_ms) - seconds(span.start_ms)) * (dots - 1.0) / range).round();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let column = (dot as u16) / 2;
            (left + column.min(width - 1), m.label.as_str())
        })
        .collect();
    columns.sort_by_key(|c| c.0);
    for (i, (x, label)) in columns.iter().enumerate() {
        let next = columns.get(i + 1).map_or(inner.right() + 1, |c| c.0);
        buf[(*x, axis_y)].set_symbol("┴").set_style(theme::MARKER);
        let room = usize::from(next.saturating_sub(*x).saturating_sub(2));
        let room = room.min(usize::from(inner.right().saturating_sub(*x + 1)));
        if room > 0 {
            buf.set_stringn(*x + 1, axis_y, label, room, theme::MARKER);
        }
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

/// Memory per process: RSS and live heap per host, nats-server RSS, parti-top's own RSS.
pub fn memory(model: &Model, frame: &mut Frame, area: Rect) {
    let span = TimeSpan::of(model);
    let max = max_points(area);
    let mut series = Vec::new();
    for (process, points_of) in &model.memory {
        let rss = |p: &MemoryPoint| Some(format::mib(p.rss_bytes));
        match process {
            ProcessKind::Host(n) => {
                let (rss_color, heap_color) = theme::host_colors(*n);
                series.push(Series {
                    name: format!("host {n} RSS"),
                    short: format!("h{n} rss"),
                    color: rss_color,
                    host: true,
                    points: points(points_of, span, max, rss),
                });
                let heap = points(points_of, span, max, |p| p.live_heap_bytes.map(format::mib));
                if !heap.is_empty() {
                    series.push(Series {
                        name: format!("host {n} heap"),
                        short: format!("h{n} heap"),
                        color: heap_color,
                        host: true,
                        points: heap,
                    });
                }
            }
            ProcessKind::NatsServer => series.push(Series {
                name: "nats-server RSS".into(),
                short: "nats".into(),
                color: theme::NATS,
                host: false,
                points: points(points_of, span, max, rss),
            }),
            ProcessKind::Controller => series.push(Series {
                name: "parti-top RSS (overhead)".into(),
                short: "overhead".into(),
                color: theme::OVERHEAD,
                host: false,
                points: points(points_of, span, max, rss),
            }),
        }
    }
    let title = format!(" memory MiB · {} ", model.window.label());
    time_chart(model, frame, area, title, &series, 1.0, format::mib_label);
}

/// tokio alive tasks per host.
pub fn tasks(model: &Model, frame: &mut Frame, area: Rect) {
    let span = TimeSpan::of(model);
    let max = max_points(area);
    let series: Vec<Series> = model
        .memory
        .iter()
        .filter_map(|(process, points_of)| match process {
            ProcessKind::Host(n) => Some(Series {
                name: format!("host {n} tasks"),
                short: format!("h{n}"),
                color: theme::host_colors(*n).0,
                host: true,
                points: points(points_of, span, max, |p| {
                    #[allow(clippy::cast_precision_loss)]
                    p.tasks.map(|t| t as f64)
                }),
            }),
            ProcessKind::NatsServer | ProcessKind::Controller => None,
        })
        .collect();
    let title = format!(" tokio tasks · {} ", model.window.label());
    time_chart(model, frame, area, title, &series, 10.0, count_label);
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
