//! `attach --metrics`: the live attach's view (workers, leader, version, heartbeat ages from
//! the KV buckets; findings and events from its observations) as the Prometheus exporter's
//! [`Figures`]. Workers' states are `unknown`: the buckets do not hold them.

use std::time::Duration;

use tokio::sync::mpsc;

use super::judge::Liveness;
use super::live::{Live, LiveAttach};
use crate::metrics::figures::{ClusterFigures, Figures, RunTally, WorkerFigures};

/// The figures of one moment of a live attach, with the observations counted so far.
pub fn figures(live: &LiveAttach, tally: &RunTally) -> Figures {
    let state = &live.state;
    Figures {
        mode: "attach".to_owned(),
        run_id: None,
        cluster: ClusterFigures {
            workers: state
                .workers
                .iter()
                .filter(|worker| worker.state == Liveness::Live)
                .map(|worker| WorkerFigures {
                    worker_id: Some(worker.id.clone()),
                    state: None,
                    partitions: worker.partitions,
                    assignment_version: worker.assignment_version,
                    heartbeat_age: worker.heartbeat_age_ms.map(Duration::from_millis),
                })
                .collect(),
            leader: state.leader.clone(),
            leader_changes: live.leader_changes,
            assignment_version: (state.version > 0).then_some(state.version),
            stable: Some(state.is_valid() && live.settling.is_none()),
        },
        findings: tally.findings().clone(),
        events: tally.events().clone(),
        processes: Vec::new(),
    }
}

/// Serve `live`'s figures through `exporter` until the attach stops: its observations are
/// counted on their way to whoever reads `live.observations`, and the figures follow every
/// new judgement.
pub fn follow(live: &mut Live, exporter: crate::metrics::Live) {
    let (forward, observations) = mpsc::unbounded_channel();
    let mut upstream = std::mem::replace(&mut live.observations, observations);
    let mut state = live.state.clone();
    tokio::spawn(async move {
        let mut tally = RunTally::default();
        loop {
            tokio::select! {
                observation = upstream.recv() => {
                    let Some(observation) = observation else { break };
                    tally.observe(&observation);
                    let _ = forward.send(observation);
                }
                changed = state.changed() => {
                    if changed.is_err() {
                        // The attach stopped: forward what is left, then end.
                        while let Some(observation) = upstream.recv().await {
                            tally.observe(&observation);
                            let _ = forward.send(observation);
                        }
                        break;
                    }
                }
            }
            let figures = figures(&state.borrow(), &tally);
            exporter.figures().send_replace(figures);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attach::judge::{AttachState, WorkerKv};
    use crate::metrics::render::render;

    fn worker(id: &str, state: Liveness, partitions: usize, leader: bool) -> WorkerKv {
        WorkerKv {
            id: id.into(),
            state,
            heartbeat_age_ms: Some(400),
            partitions,
            assignment_version: Some(3),
            is_leader: leader,
            holds_id: true,
        }
    }

    #[test]
    fn live_workers_leader_and_version_become_figures() {
        let live = LiveAttach {
            t_ms: 1_000,
            url: "nats://127.0.0.1:4222".into(),
            state: AttachState {
                workers: vec![
                    worker("worker-0", Liveness::Live, 60, true),
                    worker("worker-1", Liveness::Live, 40, false),
                    worker("worker-2", Liveness::Stale, 0, false),
                ],
                leader: Some("worker-0".into()),
                version: 3,
                findings: vec!["worker-2 is stale: …".into()],
                ..AttachState::default()
            },
            last_event: None,
            settling: None,
            events: 0,
            findings_reported: 0,
            leader_changes: 2,
            connected: true,
        };
        let figures = figures(&live, &RunTally::default());
        assert_eq!(figures.mode, "attach");
        assert_eq!(
            figures.cluster.workers.len(),
            2,
            "stale workers are not counted"
        );
        assert_eq!(figures.cluster.leader.as_deref(), Some("worker-0"));
        assert_eq!(figures.cluster.leader_changes, 2);
        assert_eq!(figures.cluster.assignment_version, Some(3));
        assert_eq!(
            figures.cluster.stable,
            Some(false),
            "a finding is not stable"
        );
        assert_eq!(
            figures.cluster.workers[0].heartbeat_age,
            Some(Duration::from_millis(400))
        );
        let text = render(&figures);
        assert!(text.contains("mode=\"attach\""), "{text}");
        assert!(text.contains("worker_id=\"worker-1\""), "{text}");
    }
}
