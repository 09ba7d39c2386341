//! The worker table (id, state — `Paused` for workers of a frozen host —, leader, partitions,
//! version, host; the selected row highlighted and kept in view) and the ownership view (partitions per worker as bars, with the balance).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};

use super::format;
use super::theme;
use crate::observation::WorkerView;
use crate::parti::state::State;
use crate::tui::model::Model;

/// A state's name, short enough for the table.
fn state_name(state: State) -> &'static str {
    match state {
        State::ClaimingId => "ClaimingID",
        State::WaitingAssignment => "WaitAssign",
        State::Rebalancing => "Rebalance",
        other => other.name(),
    }
}

/// How a worker is named in the table: its stable ID, or its slot before it has one.
fn worker_name(worker: &WorkerView) -> String {
    worker
        .worker_id
        .clone()
        .unwrap_or_else(|| format!("h{} slot {}", worker.host, worker.slot))
}

/// Whether the worker's host is frozen right now: its last report is stale, not its state.
fn paused(model: &Model, worker: &WorkerView) -> bool {
    model.cluster.paused_hosts.contains(&worker.host)
}

/// Whether a worker is past its first assignment (it counts for the balance).
fn assigned(worker: &WorkerView) -> bool {
    matches!(
        worker.state,
        State::Stable | State::Scaling | State::Rebalancing | State::Emergency | State::Degraded
    )
}

/// The most and fewest partitions held by an assigned worker.
pub fn balance(model: &Model) -> Option<(usize, usize)> {
    let counts = || {
        model
            .cluster
            .workers
            .iter()
            .filter(|w| assigned(w))
            .map(|w| w.partitions)
    };
    Some((counts().max()?, counts().min()?))
}

fn balance_text(model: &Model) -> String {
    balance(model).map_or_else(
        || "max/min —".to_owned(),
        |(max, min)| format!("max/min {}", format::ratio(max, min)),
    )
}

/// The rows the table wants: all workers, its header and border.
pub fn wanted_height(model: &Model) -> u16 {
    u16::try_from(model.cluster.workers.len().max(1) + 3).unwrap_or(u16::MAX)
}

/// The rows the ownership view wants: one per worker and its border.
pub fn ownership_height(model: &Model) -> u16 {
    u16::try_from(model.cluster.workers.len().max(1) + 2).unwrap_or(u16::MAX)
}

/// Draw the worker table.
pub fn table(model: &Model, frame: &mut Frame, area: Rect) {
    let cluster = &model.cluster;
    let mut title = vec![
        Span::styled(format!(" workers {} ", cluster.workers.len()), theme::TITLE),
        Span::styled(
            format!("· {} · v{} ", balance_text(model), cluster.max_version),
            theme::DIM,
        ),
    ];
    if let Some(leader) = &cluster.leader {
        title.push(Span::styled("· ", theme::DIM));
        title.push(Span::styled("★ ", theme::LEADER));
        title.push(Span::raw(format!("{leader} ")));
    }
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Line::from(title));
    if cluster.workers.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                if model.cursor.is_some() {
                    "no workers at the cursor"
                } else {
                    "no workers: + adds one"
                },
                theme::DIM,
            ))
            .block(block),
            area,
        );
        return;
    }
    let inner_width = area.width.saturating_sub(2);
    let show_version = inner_width >= 40;
    let show_host = inner_width >= 34;
    let id_width = cluster
        .workers
        .iter()
        .map(|w| worker_name(w).len())
        .max()
        .unwrap_or(2)
        .clamp(2, 16);
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(u16::try_from(id_width).unwrap_or(16)),
        Constraint::Length(10),
        Constraint::Length(5),
    ];
    let mut header = vec!["", "id", "state", "parts"];
    if show_version {
        widths.push(Constraint::Length(4));
        header.push("ver");
    }
    if show_host {
        widths.push(Constraint::Length(4));
        header.push("host");
    }
    let rows = cluster.workers.iter().map(|w| {
        let mut cells = vec![
            if w.is_leader {
                Cell::from(Span::styled("★", theme::LEADER))
            } else {
                Cell::from("")
            },
            match &w.worker_id {
                Some(id) => Cell::from(id.as_str()),
                None => Cell::from(Span::styled(worker_name(w), theme::DIM)),
            },
            if paused(model, w) {
                Cell::from(Span::styled("Paused", theme::PAUSED))
            } else {
                Cell::from(Span::styled(state_name(w.state), theme::state(w.state)))
            },
            Cell::from(Line::from(w.partitions.to_string()).right_aligned()),
        ];
        if show_version {
            cells.push(Cell::from(format!("v{}", w.version)));
        }
        if show_host {
            cells.push(Cell::from(format!("h{}", w.host)));
        }
        Row::new(cells)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme::HEADER))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme::SELECTED)
        .highlight_symbol("▶")
        .highlight_spacing(HighlightSpacing::Always);
    let selected = model.selected.min(cluster.workers.len() - 1);
    let mut state = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// One worker's ownership row: its name (and ★ for the leader) padded to `label_width`, its
/// partition count right-aligned in `count_width` columns, then its bar.
fn ownership_row(
    worker: &WorkerView,
    label_width: usize,
    count_width: usize,
    bar_width: usize,
    max: usize,
    paused: bool,
) -> Line<'static> {
    let mark_width = if worker.is_leader { 2 } else { 0 };
    let name = format::cut(&worker_name(worker), label_width.saturating_sub(mark_width));
    let used = name.chars().count();
    let mut spans = vec![Span::raw(name)];
    if worker.is_leader {
        spans.push(Span::styled(" ★", theme::LEADER));
    }
    let pad = label_width.saturating_sub(used + mark_width);
    spans.push(Span::raw(" ".repeat(pad + 1)));
    spans.push(Span::raw(format!("{:>count_width$} ", worker.partitions)));
    let style = if paused {
        theme::PAUSED
    } else if assigned(worker) {
        theme::OWNERSHIP
    } else {
        theme::WARN
    };
    let bar = format::bar(
        u64::try_from(worker.partitions).unwrap_or(u64::MAX),
        u64::try_from(max).unwrap_or(u64::MAX),
        bar_width,
    );
    spans.push(Span::styled(bar, style));
    Line::from(spans)
}

/// Draw partitions per worker as horizontal bars, around the selected worker. The counts have
/// one width for all rows (that of the partitions held in all), so bars start in one column.
pub fn ownership(model: &Model, frame: &mut Frame, area: Rect) {
    let workers = &model.cluster.workers;
    let total: usize = workers.iter().map(|w| w.partitions).sum();
    let block = Block::bordered()
        .border_style(theme::BORDER)
        .title(Line::from(vec![
            Span::styled(" ownership ", theme::TITLE),
            Span::styled(
                format!("· {total} partitions held · {} ", balance_text(model)),
                theme::DIM,
            ),
        ]));
    let inner = block.inner(area);
    let rows = usize::from(inner.height);
    if workers.is_empty() || rows == 0 {
        frame.render_widget(block, area);
        return;
    }
    let first = model
        .selected
        .min(workers.len() - 1)
        .saturating_sub(rows - 1)
        .min(workers.len().saturating_sub(rows));
    let max = workers
        .iter()
        .map(|w| w.partitions)
        .max()
        .unwrap_or(1)
        .max(1);
    let count_width = total.max(max).to_string().len();
    let width = usize::from(inner.width);
    let label_width = workers
        .iter()
        .map(|w| worker_name(w).chars().count() + if w.is_leader { 2 } else { 0 })
        .max()
        .unwrap_or(2)
        .min(width / 2);
    let bar_width = width.saturating_sub(label_width + 1 + count_width + 1);
    let lines: Vec<Line> = workers
        .iter()
        .skip(first)
        .take(rows)
        .map(|w| {
            ownership_row(
                w,
                label_width,
                count_width,
                bar_width,
                max,
                paused(model, w),
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, partitions: usize) -> WorkerView {
        WorkerView {
            host: 0,
            slot: 0,
            worker_id: Some(id.into()),
            state: State::Stable,
            is_leader: id == "worker-1",
            version: 1,
            partitions,
        }
    }

    #[test]
    fn bars_start_in_one_column_whatever_the_count() {
        let rows: Vec<String> = [("worker-0", 9), ("worker-1", 10), ("worker-2", 0)]
            .iter()
            .map(|(id, n)| ownership_row(&worker(id, *n), 10, 2, 10, 10, false).to_string())
            .collect();
        assert_eq!(rows[0], "worker-0    9 █████████");
        assert_eq!(rows[1], "worker-1 ★ 10 ██████████");
        assert_eq!(rows[2], "worker-2    0 ");
    }
}
