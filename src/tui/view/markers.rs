//! Where the action markers' labels go on a chart's time axis, so that they never overlap or
//! get cut: markers too close to tell apart share one tick; a tick's full label is written when
//! it fits before the next tick, else a circled number (`①`) that the chart's legend explains.

/// A tick on the time axis and what is written beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tick {
    /// The tick's column.
    pub column: u16,
    /// Where the text starts (right of the tick, or left of it at the right edge).
    pub text_column: u16,
    /// The full label, or the tick's number when the label does not fit.
    pub text: String,
}

/// A numbered tick's entry in the legend: `② scale→5, kill leader`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegendEntry {
    pub number: String,
    pub labels: String,
}

/// The number written for tick `n` (1-based): `①`…`⑳`, then `21`, `22`…
pub fn number(n: usize) -> String {
    match u32::try_from(n) {
        Ok(n @ 1..=20) => char::from_u32(0x245F + n).map_or_else(|| n.to_string(), String::from),
        _ => n.to_string(),
    }
}

fn width(text: &str) -> u16 {
    u16::try_from(text.chars().count()).unwrap_or(u16::MAX)
}

/// Lay out the labels of markers at `columns` (their columns and labels, in time order) on an
/// axis whose last usable column is `last`. Returns the ticks and the legend of numbered ones.
pub fn layout(markers: &[(u16, &str)], last: u16) -> (Vec<Tick>, Vec<LegendEntry>) {
    // Markers within two columns of the previous tick join it: a tick, a number and a gap need
    // three columns.
    let mut groups: Vec<(u16, Vec<&str>)> = Vec::new();
    for &(column, label) in markers {
        match groups.last_mut() {
            Some((at, labels)) if column <= *at + 2 => labels.push(label),
            _ => groups.push((column, vec![label])),
        }
    }
    let mut ticks = Vec::with_capacity(groups.len());
    let mut legend = Vec::new();
    // The column after the previous tick's text.
    let mut free_from = 0;
    for (i, (column, labels)) in groups.iter().enumerate() {
        let column = *column;
        let label = labels.join(", ");
        // The text must end one column before the next tick (or at the axis's end).
        let limit = groups
            .get(i + 1)
            .map_or(last, |(next, _)| next.saturating_sub(2));
        let (text_column, text) = if column + width(&label) <= limit {
            (column + 1, label)
        } else {
            let numbered = number(legend.len() + 1);
            let wide = width(&numbered);
            legend.push(LegendEntry {
                number: numbered.clone(),
                labels: label,
            });
            if column + wide <= limit {
                (column + 1, numbered)
            } else if column > free_from + wide {
                // No room on the right (the axis's last columns): the number goes left of it.
                (column - wide, numbered)
            } else {
                (column, String::new())
            }
        };
        free_from = (text_column + width(&text)).max(column + 1);
        ticks.push(Tick {
            column,
            text_column,
            text,
        });
    }
    (ticks, legend)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Write the ticks on an axis of `width` columns, as the chart would.
    fn draw(ticks: &[Tick], width: u16) -> String {
        let mut axis: Vec<char> = "─".repeat(usize::from(width)).chars().collect();
        for tick in ticks {
            for (i, c) in tick.text.chars().enumerate() {
                axis[usize::from(tick.text_column) + i] = c;
            }
        }
        for tick in ticks {
            axis[usize::from(tick.column)] = '┴';
        }
        axis.into_iter().collect()
    }

    #[test]
    fn labels_that_fit_are_written_whole() {
        let (ticks, legend) = layout(&[(0, "scale→3"), (12, "kill leader")], 39);
        assert_eq!(draw(&ticks, 40), "┴scale→3────┴kill leader────────────────");
        assert!(legend.is_empty());
    }

    #[test]
    fn labels_that_do_not_fit_are_numbered_and_listed() {
        let (ticks, legend) = layout(
            &[
                (0, "scale→3"),
                (5, "scale→5"),
                (20, "kill leader"),
                (36, "+2"),
            ],
            39,
        );
        assert_eq!(draw(&ticks, 40), "┴①───┴scale→5───────┴kill leader────┴+2─");
        assert_eq!(
            legend,
            vec![LegendEntry {
                number: "①".into(),
                labels: "scale→3".into()
            }]
        );
    }

    #[test]
    fn markers_too_close_share_a_tick_and_the_last_column_numbers_leftwards() {
        let (ticks, legend) = layout(
            &[(10, "scale→0"), (11, "+3"), (12, "+2"), (39, "pause")],
            39,
        );
        assert_eq!(ticks.len(), 2);
        assert_eq!(draw(&ticks, 40), "──────────┴scale→0, +3, +2────────────①┴");
        assert_eq!(legend.len(), 1);
        assert_eq!(legend[0].labels, "pause");
    }

    #[test]
    fn numbers_are_circled_up_to_twenty() {
        assert_eq!(number(1), "①");
        assert_eq!(number(20), "⑳");
        assert_eq!(number(21), "21");
    }
}
