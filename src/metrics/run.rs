//! Keeping a run's [`Figures`] current: a task folds the observation stream into a
//! [`RunTally`], follows the [`ClusterState`] watch (counting leader changes) and publishes
//! fresh figures every [`REFRESH`] (heartbeat ages move even when nothing else does).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::figures::{Figures, RunTally};
use crate::measure::ClusterState;
use crate::observation::Observation;
use crate::record::format::RunMode;

/// How often a run's figures are rebuilt: a scrape sees heartbeat ages at most this old.
pub const REFRESH: Duration = Duration::from_millis(250);

/// Each worker ID's time since its heartbeat key was last written.
pub type HeartbeatAges = Box<dyn Fn() -> BTreeMap<String, Duration> + Send + Sync>;

/// What a run offers the exporter.
pub struct RunSource {
    pub mode: &'static str,
    pub run_id: String,
    pub state: watch::Receiver<ClusterState>,
    pub observations: broadcast::Receiver<Observation>,
    pub heartbeat_ages: HeartbeatAges,
}

impl RunSource {
    /// A run's source: its mode, id, cluster state, observations and heartbeat ages.
    pub fn new(
        mode: &RunMode,
        run_id: &str,
        state: watch::Receiver<ClusterState>,
        observations: broadcast::Receiver<Observation>,
        heartbeat_ages: impl Fn() -> BTreeMap<String, Duration> + Send + Sync + 'static,
    ) -> RunSource {
        RunSource {
            mode: Self::mode_name(mode),
            run_id: run_id.to_owned(),
            state,
            observations,
            heartbeat_ages: Box::new(heartbeat_ages),
        }
    }

    /// The `mode` label of a run: `headless`, `dashboard` or `replay`.
    pub fn mode_name(mode: &RunMode) -> &'static str {
        match mode {
            RunMode::Headless => "headless",
            RunMode::Interactive => "dashboard",
            RunMode::Replay { .. } => "replay",
        }
    }
}

/// Keep `figures` current from `source` until `cancel` fires.
pub fn spawn(
    figures: watch::Sender<Figures>,
    source: RunSource,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(follow(figures, source, cancel))
}

async fn follow(figures: watch::Sender<Figures>, source: RunSource, cancel: CancellationToken) {
    let RunSource {
        mode,
        run_id,
        mut state,
        mut observations,
        heartbeat_ages,
    } = source;
    let mut tally = RunTally::default();
    tally
        .leaders
        .observe(state.borrow_and_update().leader.as_deref());
    let mut tick = tokio::time::interval(REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut observing = true;
    let mut watching = true;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            received = observations.recv(), if observing => match received {
                Ok(observation) => tally.observe(&observation),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!("metrics: {missed} observations missed (counters may lag)");
                }
                Err(broadcast::error::RecvError::Closed) => observing = false,
            },
            changed = state.changed(), if watching => match changed {
                Ok(()) => tally.leaders.observe(state.borrow_and_update().leader.as_deref()),
                Err(_) => watching = false,
            },
            _ = tick.tick() => {
                let ages = heartbeat_ages();
                let next = tally.figures(mode, &run_id, &state.borrow(), &ages);
                figures.send_replace(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{Check, Finding};

    #[tokio::test(start_paused = true)]
    async fn figures_follow_the_state_and_the_observations() {
        let (state_tx, state) = watch::channel(ClusterState::default());
        let (observations_tx, observations) = broadcast::channel(16);
        let (figures_tx, mut figures) = watch::channel(Figures::default());
        let cancel = CancellationToken::new();
        let task = spawn(
            figures_tx,
            RunSource {
                mode: "headless",
                run_id: "r1".into(),
                state,
                observations,
                heartbeat_ages: Box::new(|| {
                    BTreeMap::from([("w-0".to_owned(), Duration::from_secs(1))])
                }),
            },
            cancel.clone(),
        );
        let mut wait_for = async |done: &dyn Fn(&Figures) -> bool| {
            let seen = async {
                loop {
                    figures.changed().await.expect("figures");
                    let f = figures.borrow_and_update().clone();
                    if done(&f) {
                        return f;
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(5), seen)
                .await
                .expect("figures within 5 s of run time")
        };
        state_tx.send_modify(|s| s.leader = Some("w-0".into()));
        wait_for(&|f| f.cluster.leader.as_deref() == Some("w-0")).await;
        state_tx.send_modify(|s| {
            s.leader = Some("w-1".into());
            s.findings = 1;
        });
        observations_tx
            .send(Observation::Finding(Finding {
                t_ms: 1,
                check: Check::UniqueIds,
                message: String::new(),
            }))
            .expect("send");
        let f = wait_for(&|f| {
            f.cluster.leader_changes == 2 && f.findings.get("unique-ids") == Some(&1)
        })
        .await;
        assert_eq!(f.mode, "headless");
        assert_eq!(f.run_id.as_deref(), Some("r1"));
        assert_eq!(f.cluster.leader.as_deref(), Some("w-1"));
        assert_eq!(f.findings.get("unknown"), None);
        cancel.cancel();
        task.await.expect("task");
    }
}
