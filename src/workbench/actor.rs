//! The workbench's actor: one task owns the parts of a run that actions change (the managed
//! server, the host processes, the plan of workers per host, the seeded generator) and carries
//! out commands one at a time, answering each on its oneshot. Ending the run cancels the action
//! in flight at its next await; stopping the workers and shutting down run here too, so they
//! never race an action.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::act::Acting;
use super::engine::EngineInput;
use super::{Mutable, Shared, live_hosts};
use crate::action::{Action, ActionSource};
use crate::control::HostCommand;
use crate::observation::{ActionRecord, Observation};

/// Why an action was not carried out once the run is ending.
pub const ENDED: &str = "cancelled: the run is ending";

/// What the actor is asked to do.
pub enum Command {
    Act {
        action: Action,
        source: ActionSource,
        reply: oneshot::Sender<Result<usize, String>>,
    },
    StopWorkers(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Serve commands until every handle is gone. `end_actions` cancels the action in flight and
/// refuses the next ones.
pub async fn run(
    shared: Arc<Shared>,
    mut mutable: Mutable,
    mut commands: mpsc::UnboundedReceiver<Command>,
    end_actions: CancellationToken,
) {
    while let Some(command) = commands.recv().await {
        match command {
            Command::Act {
                action,
                source,
                reply,
            } => {
                let result = act(&shared, &mut mutable, &end_actions, &action, &source).await;
                if let Err(error) = &result {
                    info!("action {action} failed: {error}");
                    let record = ActionRecord {
                        t_ms: shared.now_ms(),
                        action,
                        source,
                        error: Some(error.clone()),
                    };
                    let _ = shared.observations.send(Observation::Action(record));
                }
                let _ = reply.send(result);
            }
            Command::StopWorkers(reply) => {
                stop_workers(&shared, &mut mutable).await;
                let _ = reply.send(());
            }
            Command::Shutdown(reply) => {
                shutdown(&shared, &mut mutable).await;
                let _ = reply.send(());
            }
        }
    }
}

async fn act(
    shared: &Shared,
    mutable: &mut Mutable,
    end_actions: &CancellationToken,
    action: &Action,
    source: &ActionSource,
) -> Result<usize, String> {
    if end_actions.is_cancelled() {
        return Err(ENDED.to_owned());
    }
    let mut acting = Acting {
        wb: shared,
        s: mutable,
    };
    // A restart of nats-server runs to its end: a half-restarted server would be left to the
    // shutdown with its state unknown.
    if matches!(action, Action::RestartNats) {
        return acting.carry_out(action.clone(), source.clone()).await;
    }
    tokio::select! {
        biased;
        () = end_actions.cancelled() => Err(ENDED.to_owned()),
        result = acting.carry_out(action.clone(), source.clone()) => result,
    }
}

/// Close the open event and stop every worker gracefully. A second call does nothing.
pub async fn stop_workers(shared: &Shared, mutable: &mut Mutable) {
    if std::mem::replace(&mut mutable.workers_stopped, true) {
        return;
    }
    // Close the open event first: stopping the workers is not part of the measured run.
    let (done_tx, done_rx) = oneshot::channel();
    if shared.engine.send(EngineInput::Finish(done_tx)).is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
    }
    // A frozen host can neither stop its workers nor leave: let every paused host go on.
    for host in &mutable.hosts {
        host.resume();
    }
    if let Some(lost) = shared.nats_lost() {
        warn!("{lost}: not waiting for a graceful stop of the workers");
        return;
    }
    for host in live_hosts(&mutable.hosts) {
        let count = shared
            .state
            .borrow()
            .workers
            .iter()
            .filter(|w| w.host == host)
            .count();
        if count > 0
            && let Err(err) = shared
                .command(host, &HostCommand::StopNewest { count })
                .await
        {
            warn!("stopping the workers of host {host}: {err}");
        }
    }
    let mut state = shared.state.clone();
    if tokio::time::timeout(
        Duration::from_secs(15),
        state.wait_for(|s| s.workers.is_empty()),
    )
    .await
    .is_err()
    {
        warn!("workers still running after 15 s; stopping the hosts anyway");
    }
}

/// Stop in order: the open event, the workers (gracefully), the hosts, the background tasks,
/// nats-server. A second call does nothing.
pub async fn shutdown(shared: &Shared, mutable: &mut Mutable) {
    stop_workers(shared, mutable).await;
    if std::mem::replace(&mut mutable.shut_down, true) {
        return;
    }
    {
        let mut expected = shared
            .expected_exits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        expected.extend(0..u32::try_from(mutable.hosts.len()).unwrap_or(0));
    }
    if shared.nats_lost().is_none() {
        for host in live_hosts(&mutable.hosts) {
            let _ = shared.command(host, &HostCommand::Shutdown).await;
        }
    }
    for host in &mut mutable.hosts {
        host.stop(Duration::from_secs(10)).await;
    }
    shared.cancel.cancel();
    if let Some(proxies) = mutable.proxies.take() {
        proxies.shutdown().await;
    }
    if let Some(server) = mutable.managed.take()
        && let Err(err) = server.shutdown().await
    {
        warn!("nats-server shutdown: {err}");
    }
    if let Some(cluster) = &shared.cluster {
        let mut cluster = cluster.lock().await;
        for node in 0..cluster.node_count() {
            if let Err(err) = cluster.stop_node(node).await {
                warn!("nats node {node} shutdown: {err}");
            }
        }
    }
}
