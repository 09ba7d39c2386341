//! Headless progress on stderr: plain lines for steps, measurements and findings, and on a
//! terminal one live status line redrawn in place below them.

use std::io::Write;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::measure::ClusterState;
use crate::observation::{EventOutcome, Measurement, Observation, StepStatus};
use crate::parti::state::State;

/// The running printer.
pub struct Printer {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Printer {
    /// Print what is still queued, clear the live line, and stop.
    pub async fn finish(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

fn seconds(t_ms: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let seconds = t_ms as f64 / 1000.0;
    format!("[{seconds:7.1}s]")
}

fn ms_text(ms: Option<u64>) -> String {
    #[allow(clippy::cast_precision_loss)]
    ms.map_or_else(
        || "—".to_owned(),
        |ms| format!("{:.2} s", ms as f64 / 1000.0),
    )
}

/// One plain line for an observation worth a line.
pub fn line(observation: &Observation, total_steps: usize) -> Option<String> {
    match observation {
        Observation::Step(step) => {
            let number = format!("step {}/{total_steps}", step.index % total_steps.max(1) + 1);
            Some(match &step.status {
                StepStatus::Started => format!("{} {number}: {}", seconds(step.t_ms), step.label),
                StepStatus::Done => return None,
                StepStatus::Failed(reason) => format!(
                    "{} {number} FAILED: {}: {reason}",
                    seconds(step.t_ms),
                    step.label
                ),
            })
        }
        Observation::Measurement(m) => Some(measurement_line(m)),
        Observation::Finding(f) => Some(format!(
            "{} FINDING {}: {}",
            seconds(f.t_ms),
            f.check.name(),
            f.message
        )),
        Observation::Action(a) => a
            .error
            .as_ref()
            .map(|error| format!("{} action {} failed: {error}", seconds(a.t_ms), a.action)),
        Observation::Cluster(_) | Observation::Sample(_) => None,
    }
}

fn measurement_line(m: &Measurement) -> String {
    let head = format!(
        "{} event {} ({})",
        seconds(m.t_start_ms),
        m.number(),
        m.action
    );
    let workers = format!("workers {} → {}", m.workers_before, m.workers_after);
    match m.outcome() {
        EventOutcome::Superseded => {
            let by = m.superseded_by.map_or(0, |index| index + 1);
            return format!("{head}: superseded by event {by} before it stabilized, {workers}");
        }
        EventOutcome::Emptied => {
            return format!(
                "{head}: empty after {} (no worker left), {workers}",
                ms_text(m.stabilization_ms)
            );
        }
        EventOutcome::Stabilized | EventOutcome::NeverStabilized => {}
    }
    let balance = m
        .balance
        .map_or_else(|| "—".to_owned(), |b| format!("{b:.2}"));
    format!(
        "{head}: stable after {}, quiescent after {}, moved {:.1} %, balance {balance}, {workers}",
        ms_text(m.stabilization_ms),
        ms_text(m.quiescence_ms),
        m.moved_percent,
    )
}

/// The live status line.
pub fn status_line(state: &ClusterState, step: &str) -> String {
    let stable = state
        .workers
        .iter()
        .filter(|w| w.state == State::Stable)
        .count();
    let leader = state.leader.as_deref().unwrap_or("none");
    let condition = if state.stable {
        "stable".to_owned()
    } else {
        state.reason.clone().unwrap_or_default()
    };
    format!(
        "{} {step} · {}, {stable} Stable · leader {leader} · v{} · findings {} · {condition}",
        seconds(state.t_ms),
        crate::text::plural(state.workers.len() as u64, "worker"),
        state.max_version,
        state.findings
    )
}

/// Print one progress line; on a terminal, first clear the live status line it replaces.
fn print_line(stderr: &mut std::io::Stderr, live: bool, text: &str) {
    if live {
        let _ = write!(stderr, "\r\x1b[2K");
    }
    let _ = writeln!(stderr, "{text}");
}

/// Start printing.
pub fn spawn(
    mut observations: broadcast::Receiver<Observation>,
    mut state: watch::Receiver<ClusterState>,
    total_steps: usize,
    live: bool,
) -> Printer {
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move {
        let mut stderr = std::io::stderr();
        let mut step = String::new();
        let mut redraw = tokio::time::interval(Duration::from_millis(200));
        let mut dropped = 0u64;
        loop {
            tokio::select! {
                received = observations.recv() => match received {
                    Ok(observation) => {
                        if let Observation::Step(progress) = &observation
                            && progress.status == StepStatus::Started
                        {
                            step = progress.label.clone();
                        }
                        if let Some(text) = line(&observation, total_steps) {
                            print_line(&mut stderr, live, &text);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => dropped += n,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = redraw.tick(), if live => {
                    let text = status_line(&state.borrow_and_update(), &step);
                    let width = crossterm::terminal::size().map_or(120, |(w, _)| usize::from(w)).saturating_sub(1);
                    let text: String = text.chars().take(width).collect();
                    let _ = write!(stderr, "\r\x1b[2K{text}");
                    let _ = stderr.flush();
                }
                () = token.cancelled() => {
                    // Print whatever is already queued.
                    while let Ok(observation) = observations.try_recv() {
                        if let Some(text) = line(&observation, total_steps) {
                            print_line(&mut stderr, live, &text);
                        }
                    }
                    break;
                }
            }
        }
        if live {
            let _ = write!(stderr, "\r\x1b[2K");
        }
        if dropped > 0 {
            let _ = writeln!(stderr, "progress display skipped {dropped} observations");
        }
        let _ = stderr.flush();
    });
    Printer { stop, task }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use crate::observation::{Check, Finding, StepProgress};

    #[test]
    fn lines_name_the_step_the_figures_and_the_finding() {
        let step = Observation::Step(StepProgress {
            t_ms: 1_200,
            index: 1,
            label: "scale→5".into(),
            status: StepStatus::Started,
        });
        assert_eq!(
            line(&step, 9).as_deref(),
            Some("[    1.2s] step 2/9: scale→5")
        );
        let finding = Observation::Finding(Finding {
            t_ms: 5_000,
            check: Check::SingleOwner,
            message: "partition-3 has 2 owners".into(),
        });
        assert_eq!(
            line(&finding, 9).as_deref(),
            Some("[    5.0s] FINDING single-owner: partition-3 has 2 owners")
        );
        let measured = Observation::Measurement(Measurement {
            event: 0,
            action: Action::ScaleTo(5),
            t_start_ms: 1_000,
            stabilization_ms: Some(1_830),
            first_assignments: vec![],
            quiescence_ms: None,
            versions_published: 2,
            versions_to_stable: None,
            moved_partitions: 12,
            moved_percent: 12.0,
            balance: Some(1.25),
            workers_before: 1,
            workers_after: 5,
            superseded_by: None,
            leader_changed: None,
        });
        assert_eq!(
            line(&measured, 9).as_deref(),
            Some(
                "[    1.0s] event 1 (scale→5): stable after 1.83 s, quiescent after —, moved 12.0 %, balance 1.25, workers 1 → 5"
            )
        );
    }
}
