//! Inline SVG charts for the HTML report, as XML-well-formed strings: line charts over run time
//! (one `<polyline>` per series, event markers behind them), bar charts (one `<rect>` per bar)
//! and the timeline strip of actions, marks and findings. Coordinates are in a fixed view box
//! that the page scales to its width. Pure.

use std::fmt::Write;

use super::esc;

/// View box width and height of a chart.
pub const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 230.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 34.0;
/// More points than this in one series are reduced to the lowest and highest value per slot
/// (the peaks survive).
const MAX_POINTS: usize = 1600;

/// How a series is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Style {
    pub color: &'static str,
    /// `stroke-dasharray`, empty for a solid line.
    pub dash: &'static str,
}

/// One line of a chart: `(t_ms, value)` points in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Shown in the legend and the line's `<title>`; `data-series` of the line.
    pub name: String,
    pub style: Style,
    pub points: Vec<(u64, f64)>,
}

/// How the values of a chart read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Bytes,
    Count,
    Millis,
}

impl Scale {
    fn label(self, value: f64) -> String {
        match self {
            Scale::Bytes => {
                let mib = value / (1024.0 * 1024.0);
                if mib >= 1024.0 {
                    format!("{:.1} GiB", mib / 1024.0)
                } else if mib >= 10.0 || mib.fract() == 0.0 {
                    format!("{mib:.0} MiB")
                } else {
                    format!("{mib:.1} MiB")
                }
            }
            Scale::Count => format!("{value:.0}"),
            Scale::Millis => seconds_label(value),
        }
    }
}

/// `0`, `500ms`, `2s`, `1.5s`, `2m`.
pub fn seconds_label(ms: f64) -> String {
    if ms == 0.0 {
        "0".to_owned()
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 120_000.0 {
        let s = ms / 1000.0;
        if (s - s.round()).abs() < 1e-9 {
            format!("{s:.0}s")
        } else {
            format!("{s:.1}s")
        }
    } else {
        format!("{:.1}m", ms / 60_000.0)
    }
}

/// A vertical marker at a moment of the run (an event's start).
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub t_ms: u64,
    /// Short text at the top (the event's number).
    pub label: String,
    /// The marker's `<title>`.
    pub title: String,
    pub color: &'static str,
    /// The label's row above the chart (0 the top one): two runs' markers at the same moment
    /// keep their labels apart.
    pub row: u8,
}

/// A step of 1, 2 or 5 × 10^k giving about `count` ticks up to `max`.
fn nice_step(max: f64, count: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / count;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A step for a byte axis: powers of two of MiB below a GiB, so ticks read 16 MiB, 32 MiB.
fn byte_step(max: f64) -> f64 {
    let mib = 1024.0 * 1024.0;
    if max < mib {
        return nice_step(max, 4.0);
    }
    let mut step = mib;
    while max / step > 6.0 {
        step *= 2.0;
    }
    step
}

/// Keep at most [`MAX_POINTS`]: per slot of time, the first point, the lowest and the highest.
fn reduce(points: &[(u64, f64)]) -> Vec<(u64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let slots = MAX_POINTS / 2;
    let per_slot = points.len().div_ceil(slots);
    let mut out = Vec::with_capacity(MAX_POINTS);
    for chunk in points.chunks(per_slot) {
        let low = chunk.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let high = chunk.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(&low), Some(&high)) = (low, high) {
            if low.0 <= high.0 {
                out.extend([low, high]);
            } else {
                out.extend([high, low]);
            }
        }
    }
    out.dedup();
    out
}

/// The frame of a chart: `<svg>` open tag, grid, axes and their labels for `0..=x_max_ms` ×
/// `0..=y_max`. Returns the text and the y axis' top value.
fn frame(
    out: &mut String,
    class: &str,
    title: &str,
    x_max_ms: u64,
    y_max: f64,
    scale: Scale,
) -> f64 {
    let step = match scale {
        Scale::Bytes => byte_step(y_max),
        Scale::Count | Scale::Millis => nice_step(y_max, 4.0),
    };
    let top = ((y_max / step).ceil() * step).max(step);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {class}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    let _ = write!(out, "<title>{}</title>", esc(title));
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let mut value = 0.0;
    while value <= top + step * 1e-9 {
        let y = y0 - (y0 - y1) * value / top;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            y + 4.0,
            esc(&scale.label(value))
        );
        value += step;
    }
    let x_step = nice_step(x_max_ms as f64, 8.0).max(1.0);
    let mut t = 0.0;
    while t <= x_max_ms as f64 + x_step * 1e-9 {
        let x = x0 + (x1 - x0) * t / (x_max_ms.max(1) as f64);
        let _ = write!(
            out,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y0 + 5.0,
            y0 + 18.0,
            esc(&seconds_label(t))
        );
        t += x_step;
    }
    let _ = write!(
        out,
        "<line class=\"axis-line\" x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\"/>\
         <line class=\"axis-line\" x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\"/>"
    );
    top
}

fn x_of(t_ms: u64, x_max_ms: u64) -> f64 {
    LEFT + (WIDTH - RIGHT - LEFT) * t_ms as f64 / (x_max_ms.max(1) as f64)
}

/// A line chart of `series` over `0..=x_max_ms`, with `markers` behind the lines. Each series
/// is one `<polyline>` (a series with a single point is a dot as well).
pub fn line_chart(
    class: &str,
    title: &str,
    series: &[Series],
    scale: Scale,
    x_max_ms: u64,
    markers: &[Marker],
) -> String {
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let mut out = String::new();
    let top = frame(&mut out, class, title, x_max_ms, y_max, scale);
    let (y0, y1) = (HEIGHT - BOTTOM, TOP);
    for marker in markers {
        let x = x_of(marker.t_ms, x_max_ms);
        let _ = write!(
            out,
            "<g class=\"marker\"><title>{}</title><line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1}\" stroke=\"{}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{}\">{}</text></g>",
            esc(&marker.title),
            marker.color,
            y1 - 14.0 + 10.0 * f64::from(marker.row),
            marker.color,
            esc(&marker.label)
        );
    }
    for line in series {
        let points = reduce(&line.points);
        let coords: Vec<String> = points
            .iter()
            .map(|&(t, v)| {
                let y = y0 - (y0 - y1) * v / top;
                format!("{:.1},{y:.1}", x_of(t, x_max_ms))
            })
            .collect();
        let dash = if line.style.dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{}\"", line.style.dash)
        };
        let _ = write!(
            out,
            "<polyline class=\"series\" data-series=\"{}\" fill=\"none\" stroke=\"{}\"{dash} points=\"{}\"><title>{}</title></polyline>",
            esc(&line.name),
            line.style.color,
            coords.join(" "),
            esc(&line.name)
        );
        if let [only] = coords.as_slice()
            && let Some((x, y)) = only.split_once(',')
        {
            let _ = write!(
                out,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{}\"/>",
                line.style.color
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One bar of a bar chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// The group it belongs to (an event's number), shown under the axis.
    pub group: String,
    /// `data-event` of the bar.
    pub event: usize,
    /// `None`: the bar runs to the top and reads `never`.
    pub value_ms: Option<u64>,
    /// The text above the bar.
    pub text: String,
    /// `<title>` of the bar.
    pub title: String,
    /// CSS class (the outcome: `stabilized`, `superseded`, `never`, …) and the run (`a`, `b`).
    pub class: String,
    pub color: &'static str,
}

/// A bar chart: `bars` in groups (consecutive bars with the same `group` stand together).
pub fn bar_chart(class: &str, title: &str, bars: &[Bar]) -> String {
    let y_max = bars
        .iter()
        .filter_map(|b| b.value_ms)
        .map(|v| v as f64)
        .fold(0.0, f64::max);
    let mut groups: Vec<(&str, Vec<&Bar>)> = Vec::new();
    for bar in bars {
        match groups.last_mut() {
            Some((group, list)) if *group == bar.group => list.push(bar),
            _ => groups.push((&bar.group, vec![bar])),
        }
    }
    let mut out = String::new();
    let step = nice_step(y_max, 4.0);
    let top = ((y_max / step).ceil() * step).max(step);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {class}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    let _ = write!(
        out,
        "<title>{}</title><defs><pattern id=\"{class}-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8a8f98\" stroke-width=\"3\"/></pattern></defs>",
        esc(title)
    );
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let mut value = 0.0;
    while value <= top + step * 1e-9 {
        let y = y0 - (y0 - y1) * value / top;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            y + 4.0,
            esc(&seconds_label(value))
        );
        value += step;
    }
    let band = (x1 - x0) / groups.len().max(1) as f64;
    for (index, (group, list)) in groups.iter().enumerate() {
        let left = x0 + band * index as f64;
        let inner = band * 0.7;
        let width = (inner / list.len() as f64).min(60.0);
        let start = left + (band - width * list.len() as f64) / 2.0;
        for (i, bar) in list.iter().enumerate() {
            let x = start + width * i as f64;
            let height = bar.value_ms.map_or(y0 - y1, |v| (y0 - y1) * v as f64 / top);
            let fill = if bar.class.contains("superseded") {
                format!("url(#{class}-hatch)")
            } else {
                bar.color.to_owned()
            };
            let _ = write!(
                out,
                "<g class=\"bar {}\" data-event=\"{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" stroke=\"{}\"/>\
                 <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
                esc(&bar.class),
                bar.event,
                esc(&bar.title),
                x + 1.0,
                y0 - height,
                (width - 2.0).max(1.0),
                height.max(0.5),
                bar.color,
                x + width / 2.0,
                (y0 - height - 4.0).max(10.0),
                esc(&bar.text)
            );
        }
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            left + band / 2.0,
            y0 + 16.0,
            esc(group)
        );
    }
    let _ = write!(
        out,
        "<line class=\"axis-line\" x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\"/>\
         <line class=\"axis-line\" x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\"/></svg>"
    );
    out
}

/// What a tick of the timeline stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickKind {
    Action,
    Mark,
    Finding,
    Failed,
}

impl TickKind {
    fn class(self) -> &'static str {
        match self {
            TickKind::Action => "action",
            TickKind::Mark => "mark",
            TickKind::Finding => "finding",
            TickKind::Failed => "failed",
        }
    }
}

/// One tick of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub t_ms: u64,
    pub kind: TickKind,
    /// Short text beside the tick.
    pub label: String,
    /// The tick's `<title>`.
    pub title: String,
}

/// The timeline strip: a time axis with a tick per action, mark, finding and failed step, the
/// labels of actions and marks slanted above it, findings below.
pub fn timeline(title: &str, ticks: &[Tick], x_max_ms: u64) -> String {
    const STRIP: f64 = 130.0;
    let axis_y = 90.0;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart timeline\" viewBox=\"0 0 {WIDTH} {STRIP}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let _ = write!(
        out,
        "<line class=\"axis-line\" x1=\"{x0}\" y1=\"{axis_y}\" x2=\"{x1}\" y2=\"{axis_y}\"/>"
    );
    let x_step = nice_step(x_max_ms as f64, 8.0).max(1.0);
    let mut t = 0.0;
    while t <= x_max_ms as f64 + x_step * 1e-9 {
        let x = x0 + (x1 - x0) * t / (x_max_ms.max(1) as f64);
        let _ = write!(
            out,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{axis_y}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis_y + 5.0,
            axis_y + 32.0,
            esc(&seconds_label(t))
        );
        t += x_step;
    }
    for tick in ticks {
        let x = x_of(tick.t_ms, x_max_ms);
        let class = tick.kind.class();
        let (from, to) = match tick.kind {
            TickKind::Finding | TickKind::Failed => (axis_y, axis_y + 14.0),
            TickKind::Action | TickKind::Mark => (axis_y - 14.0, axis_y),
        };
        let _ = write!(
            out,
            "<g class=\"tick-{class}\"><title>{}</title><line x1=\"{x:.1}\" y1=\"{from}\" x2=\"{x:.1}\" y2=\"{to}\"/>",
            esc(&tick.title)
        );
        if matches!(tick.kind, TickKind::Action | TickKind::Mark) {
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.1}\" transform=\"rotate(-35 {x:.1} {:.1})\">{}</text>",
                axis_y - 18.0,
                axis_y - 18.0,
                esc(&tick.label)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_numbers() {
        assert_eq!(nice_step(100.0, 4.0), 50.0);
        assert_eq!(nice_step(9000.0, 4.0), 5000.0);
        assert_eq!(nice_step(0.0, 4.0), 1.0);
        assert_eq!(byte_step(45.0 * 1024.0 * 1024.0), 8.0 * 1024.0 * 1024.0);
    }

    #[test]
    fn long_series_keep_their_peaks() {
        let points: Vec<(u64, f64)> = (0..10_000u64)
            .map(|t| (t, if t == 7777 { 99.0 } else { (t % 10) as f64 }))
            .collect();
        let reduced = reduce(&points);
        assert!(reduced.len() <= MAX_POINTS, "{}", reduced.len());
        assert!(reduced.contains(&(7777, 99.0)));
        assert!(reduced.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn labels_read_as_people_write_them() {
        assert_eq!(seconds_label(0.0), "0");
        assert_eq!(seconds_label(500.0), "500ms");
        assert_eq!(seconds_label(2000.0), "2s");
        assert_eq!(seconds_label(2500.0), "2.5s");
        assert_eq!(seconds_label(300_000.0), "5.0m");
        assert_eq!(Scale::Bytes.label(32.0 * 1024.0 * 1024.0), "32 MiB");
    }
}
