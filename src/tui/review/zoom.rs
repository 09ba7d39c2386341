//! The charts' zoom in a review: a span of time around the cursor (5 s … 1 h) or the whole
//! run, and the window it gives at a cursor.

/// The spans `+` and `-` step through, shortest first, in milliseconds.
const SPANS_MS: [u64; 9] = [
    5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000,
];

/// The charts' time window: a span around the cursor, or the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Zoom {
    /// `None`: the whole run.
    span_ms: Option<u64>,
}

impl Zoom {
    /// The whole run.
    pub const WHOLE: Zoom = Zoom { span_ms: None };

    /// A span of `span_ms` around the cursor.
    pub fn span(span_ms: u64) -> Zoom {
        Zoom {
            span_ms: Some(span_ms.max(1000)),
        }
    }

    /// The span, `None` for the whole run.
    pub fn span_ms(self) -> Option<u64> {
        self.span_ms
    }

    /// A shorter span (of those shorter than the run); `None` when already the shortest.
    pub fn zoom_in(self, duration_ms: u64) -> Option<Zoom> {
        let shorter_than = self.span_ms.unwrap_or(duration_ms);
        SPANS_MS
            .iter()
            .rev()
            .find(|&&span| span < shorter_than && span < duration_ms)
            .map(|&span| Zoom::span(span))
    }

    /// A longer span, or the whole run once a span would cover it; `None` when already whole.
    pub fn zoom_out(self, duration_ms: u64) -> Option<Zoom> {
        let current = self.span_ms?;
        Some(
            SPANS_MS
                .iter()
                .find(|&&span| span > current && span < duration_ms)
                .map_or(Zoom::WHOLE, |&span| Zoom::span(span)),
        )
    }

    /// The window `(start_ms, end_ms)` the charts show for a run of `duration_ms` with the
    /// cursor at `cursor_ms`: the span centred on the cursor, kept inside the run.
    pub fn window(self, duration_ms: u64, cursor_ms: u64) -> (u64, u64) {
        let whole = (0, duration_ms.max(1000));
        let Some(span) = self.span_ms.filter(|&span| span < duration_ms) else {
            return whole;
        };
        let start = cursor_ms
            .saturating_sub(span / 2)
            .min(duration_ms.saturating_sub(span));
        (start, start + span)
    }

    /// The window as the charts' titles name it: `30 s`, `2 min`, `1 h`, `whole run`.
    pub fn label(self) -> String {
        match self.span_ms {
            None => "whole run".to_owned(),
            Some(ms) if ms >= 3_600_000 && ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
            Some(ms) if ms >= 60_000 && ms % 60_000 == 0 => format!("{} min", ms / 60_000),
            Some(ms) => format!("{} s", ms / 1000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zooming_steps_through_spans_shorter_than_the_run() {
        let run_ms = 25_000;
        let z = Zoom::WHOLE.zoom_in(run_ms).expect("a span");
        assert_eq!(z.span_ms(), Some(10_000));
        let z = z.zoom_in(run_ms).expect("a shorter span");
        assert_eq!(z.span_ms(), Some(5_000));
        assert_eq!(z.zoom_in(run_ms), None);
        let z = z.zoom_out(run_ms).expect("longer");
        assert_eq!(z.span_ms(), Some(10_000));
        assert_eq!(z.zoom_out(run_ms), Some(Zoom::WHOLE));
        assert_eq!(Zoom::WHOLE.zoom_out(run_ms), None);
    }

    #[test]
    fn the_window_is_centred_on_the_cursor_and_stays_inside_the_run() {
        let z = Zoom::span(10_000);
        assert_eq!(z.window(60_000, 30_000), (25_000, 35_000));
        assert_eq!(z.window(60_000, 1_000), (0, 10_000));
        assert_eq!(z.window(60_000, 59_000), (50_000, 60_000));
        assert_eq!(Zoom::WHOLE.window(60_000, 5_000), (0, 60_000));
        assert_eq!(Zoom::WHOLE.window(0, 0), (0, 1000));
        assert_eq!(z.window(8_000, 4_000), (0, 8_000));
    }

    #[test]
    fn labels_name_the_span() {
        assert_eq!(Zoom::WHOLE.label(), "whole run");
        assert_eq!(Zoom::span(30_000).label(), "30 s");
        assert_eq!(Zoom::span(120_000).label(), "2 min");
        assert_eq!(Zoom::span(3_600_000).label(), "1 h");
    }
}
