//! Fitting panes into a column: each pane has a minimum height, an optional useful maximum, a
//! weight for the spare rows and a priority; panes that do not fit are left out, least important
//! first, so that small terminals show fewer panes rather than garbled ones.

use ratatui::layout::Rect;

/// A pane's wishes.
#[derive(Clone, Copy, Debug)]
pub struct Pane {
    pub min: u16,
    /// Rows beyond which the pane has nothing more to show.
    pub max: Option<u16>,
    pub weight: u16,
    /// Lower is more important.
    pub priority: u8,
}

impl Pane {
    pub fn new(min: u16, max: Option<u16>, weight: u16, priority: u8) -> Self {
        Self {
            min,
            max: max.map(|m| m.max(min)),
            weight,
            priority,
        }
    }
}

/// Stack `panes` (in display order) in `area`; `None` for panes left out.
pub fn stack(area: Rect, panes: &[Pane]) -> Vec<Option<Rect>> {
    let mut order: Vec<usize> = (0..panes.len()).collect();
    order.sort_by_key(|&i| (panes[i].priority, i));
    let mut chosen = vec![false; panes.len()];
    let mut used = 0u16;
    for i in order {
        if used + panes[i].min <= area.height {
            used += panes[i].min;
            chosen[i] = true;
        }
    }
    let mut heights: Vec<u16> = panes
        .iter()
        .zip(&chosen)
        .map(|(p, &c)| if c { p.min } else { 0 })
        .collect();
    let mut spare = area.height - used;
    let open = |heights: &[u16], i: usize| chosen[i] && panes[i].max.is_none_or(|m| heights[i] < m);
    while spare > 0 {
        let total: u32 = (0..panes.len())
            .filter(|&i| open(&heights, i))
            .map(|i| u32::from(panes[i].weight))
            .sum();
        if total == 0 {
            break;
        }
        let mut given = 0u16;
        for i in 0..panes.len() {
            if !open(&heights, i) {
                continue;
            }
            let share = u32::from(spare) * u32::from(panes[i].weight) / total;
            let room = panes[i].max.map_or(u16::MAX, |m| m - heights[i]);
            let share = u16::try_from(share).unwrap_or(u16::MAX).min(room);
            heights[i] += share;
            given += share;
        }
        if given == 0 {
            // Less than one row each: hand the rest out one by one.
            if let Some(i) = (0..panes.len()).find(|&i| open(&heights, i)) {
                heights[i] += 1;
                given = 1;
            }
        }
        spare -= given;
    }
    if spare > 0
        && let Some(i) = (0..panes.len()).find(|&i| chosen[i])
    {
        heights[i] += spare;
    }
    let mut y = area.y;
    heights
        .iter()
        .zip(&chosen)
        .map(|(&h, &c)| {
            c.then(|| {
                let rect = Rect::new(area.x, y, area.width, h);
                y += h;
                rect
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_important_pane_goes_first_and_spare_rows_follow_weights() {
        let panes = [
            Pane::new(7, None, 3, 0),
            Pane::new(7, None, 2, 2),
            Pane::new(4, Some(7), 2, 1),
        ];
        let rects = stack(Rect::new(0, 0, 10, 16), &panes);
        assert!(rects[1].is_none());
        let a = rects[0].expect("memory");
        let c = rects[2].expect("bars");
        assert_eq!(a.height + c.height, 16);
        assert!(c.height <= 7);
        assert_eq!(c.y, a.bottom());
    }

    #[test]
    fn nothing_fits_in_nothing() {
        let rects = stack(Rect::new(0, 0, 10, 0), &[Pane::new(3, None, 1, 0)]);
        assert_eq!(rects, vec![None]);
    }
}
