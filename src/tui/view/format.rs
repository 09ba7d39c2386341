//! Text formats shared by the panes: run time, durations, sizes, ratios, and fitting a line of
//! optional segments into a width.

use ratatui::text::{Line, Span};

const MIB: f64 = 1024.0 * 1024.0;

/// Run time as `h:mm:ss`.
pub fn clock(ms: u64) -> String {
    let secs = ms / 1000;
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Run time as `m:ss` (or `h:mm:ss` past an hour), for chart axes.
pub fn axis_time(ms: u64) -> String {
    let secs = ms / 1000;
    if secs >= 3600 {
        clock(ms)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// A duration as `850 ms` or `1.23 s`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        #[allow(clippy::cast_precision_loss)]
        let secs = ms as f64 / 1000.0;
        format!("{secs:.2} s")
    }
}

/// An optional duration, `—` when absent.
pub fn duration_or_dash(ms: Option<u64>) -> String {
    ms.map_or_else(|| "—".to_owned(), duration)
}

/// Bytes as MiB (a float, for charts).
pub fn mib(bytes: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let bytes = bytes as f64;
    bytes / MIB
}

/// A MiB value with one decimal below 100 and none above.
pub fn mib_label(value: f64) -> String {
    if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// A max/min ratio, `∞` when the minimum is zero.
pub fn ratio(max: usize, min: usize) -> String {
    if min == 0 {
        if max == 0 {
            "—".to_owned()
        } else {
            "∞".to_owned()
        }
    } else {
        #[allow(clippy::cast_precision_loss)]
        let value = max as f64 / min as f64;
        format!("{value:.2}")
    }
}

/// `text` cut to `width` characters, ending in `…` when it was cut.
pub fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `text` broken into lines at spaces: the first line at most `first` columns wide, the others
/// at most `rest` (a word longer than a line is split).
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let limit = if lines.is_empty() { first } else { rest }.max(1);
            let used = line.chars().count();
            let room = limit.saturating_sub(used + usize::from(used > 0));
            if word.len() <= room {
                if used > 0 {
                    line.push(' ');
                }
                line.extend(word);
                break;
            }
            if used == 0 {
                // A word longer than the line: split it.
                let tail = word.split_off(limit.min(word.len()));
                line.extend(word);
                word = tail;
            }
            lines.push(std::mem::take(&mut line));
        }
    }
    lines.push(line);
    lines
}

/// A horizontal bar of `value` against `max` in `width` columns, in eighths of a column.
pub fn bar(value: u64, max: u64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths_total = u128::try_from(width).unwrap_or(u128::MAX) * 8;
    let eighths = u128::from(value.min(max)) * eighths_total / u128::from(max.max(1));
    let eighths = usize::try_from(eighths).unwrap_or(usize::MAX);
    let mut out = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        out.push(PARTS[eighths % 8]);
    }
    out
}

/// A segment of a status line: its spans and its priority (lower survives longer).
pub struct Segment<'a> {
    pub priority: u8,
    pub spans: Vec<Span<'a>>,
    /// The width the segment may be cut to (it must then come last).
    shrink_to: Option<usize>,
    /// Joined to the previous segment by a space instead of the separator (a detail of it that
    /// can be dropped alone).
    attached: bool,
}

impl<'a> Segment<'a> {
    pub fn new(priority: u8, spans: Vec<Span<'a>>) -> Self {
        Self {
            priority,
            spans,
            shrink_to: None,
            attached: false,
        }
    }

    /// A detail of the previous segment: joined to it by a space, dropped on its own.
    pub fn attached(priority: u8, spans: Vec<Span<'a>>) -> Self {
        Self {
            priority,
            spans,
            shrink_to: None,
            attached: true,
        }
    }

    /// A segment that the line may cut down to `width` columns instead of dropping others.
    pub fn shrinkable(priority: u8, spans: Vec<Span<'a>>, width: usize) -> Self {
        Self {
            priority,
            spans,
            shrink_to: Some(width),
            attached: false,
        }
    }

    fn width(&self) -> usize {
        let full = self.spans.iter().map(Span::width).sum();
        self.shrink_to.map_or(full, |w| full.min(w))
    }
}

/// Join segments with `separator`, dropping the least important ones until the line fits
/// `width`; what still overflows (a shrinkable segment's tail) is cut and ends in `…`.
pub fn fit<'a>(mut segments: Vec<Segment<'a>>, separator: Span<'a>, width: u16) -> Line<'a> {
    let width = usize::from(width);
    let joint = |segment: &Segment<'_>| {
        if segment.attached {
            1
        } else {
            separator.width()
        }
    };
    loop {
        let total: usize = segments.iter().map(Segment::width).sum::<usize>()
            + segments.iter().skip(1).map(joint).sum::<usize>();
        if total <= width || segments.len() <= 1 {
            break;
        }
        let Some(worst) = segments
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| (s.priority, *i))
            .map(|(i, _)| i)
        else {
            break;
        };
        if segments[worst].priority == 0 {
            break;
        }
        segments.remove(worst);
    }
    let mut spans = Vec::new();
    for (i, segment) in segments.into_iter().enumerate() {
        if i > 0 {
            spans.push(if segment.attached {
                Span::raw(" ")
            } else {
                separator.clone()
            });
        }
        spans.extend(segment.spans);
    }
    cut_spans(spans, width)
}

/// `spans` cut to `width` columns, the last kept character replaced by `…` when anything was
/// cut (so that a cut line says so instead of ending mid-word).
fn cut_spans(spans: Vec<Span<'_>>, width: usize) -> Line<'_> {
    let total: usize = spans.iter().map(Span::width).sum();
    if total <= width {
        return Line::from(spans);
    }
    let mut room = width.saturating_sub(1);
    let mut kept = Vec::new();
    for span in spans {
        if room == 0 {
            break;
        }
        let span_width = span.width();
        if span_width <= room {
            room -= span_width;
            kept.push(span);
        } else {
            let text: String = span.content.chars().take(room).collect();
            room = 0;
            kept.push(Span::styled(text, span.style));
        }
    }
    let style = kept.last().map(|s| s.style).unwrap_or_default();
    if width > 0 {
        kept.push(Span::styled("…", style));
    }
    Line::from(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_have_units() {
        assert_eq!(clock(3_725_000), "1:02:05");
        assert_eq!(axis_time(65_000), "1:05");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(1234), "1.23 s");
        assert_eq!(duration_or_dash(None), "—");
        assert_eq!(ratio(13, 12), "1.08");
        assert_eq!(ratio(3, 0), "∞");
        assert_eq!(mib_label(mib(3 * 1024 * 1024 / 2)), "1.5");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_numbers_whole() {
        assert_eq!(
            wrap("owned by worker-2 and worker-4 for 1.20 s", 20, 10),
            vec!["owned by worker-2", "and", "worker-4", "for 1.20 s"]
        );
        assert_eq!(wrap("abcdefgh", 3, 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 5, 5), vec![""]);
    }

    #[test]
    fn cut_marks_what_it_removed_and_bars_use_eighths() {
        assert_eq!(cut("kill leader", 20), "kill leader");
        assert_eq!(cut("kill leader", 6), "kill …");
        assert_eq!(bar(10, 10, 3), "███");
        assert_eq!(bar(5, 10, 3), "█▌");
        assert_eq!(bar(0, 10, 3), "");
        assert_eq!(bar(1, 0, 3), "");
    }

    #[test]
    fn fit_drops_the_least_important_segments() {
        let segments = vec![
            Segment::new(0, vec![Span::raw("aaaa")]),
            Segment::new(5, vec![Span::raw("bbbb")]),
            Segment::new(1, vec![Span::raw("cccc")]),
        ];
        let line = fit(segments, Span::raw(" "), 9);
        assert_eq!(line.to_string(), "aaaa cccc");
        let segments = vec![
            Segment::new(3, vec![Span::raw("bbbb")]),
            Segment::shrinkable(0, vec![Span::raw("a long reason")], 4),
        ];
        assert_eq!(fit(segments, Span::raw(" "), 9).to_string(), "bbbb a l…");
    }

    #[test]
    fn an_attached_detail_joins_with_a_space_and_goes_first() {
        let segments = || {
            vec![
                Segment::new(1, vec![Span::raw("run 7")]),
                Segment::new(0, vec![Span::raw("REC")]),
                Segment::attached(2, vec![Span::raw("a.ron")]),
            ]
        };
        assert_eq!(
            fit(segments(), Span::raw(" | "), 17).to_string(),
            "run 7 | REC a.ron"
        );
        assert_eq!(
            fit(segments(), Span::raw(" | "), 16).to_string(),
            "run 7 | REC"
        );
    }
}
